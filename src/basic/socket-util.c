/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "fd-util.h"
#include "macro.h"
#include "socket-util.h"
#include "time-util.h"

int sockaddr_un_set(struct sockaddr_un *ret, socklen_t *ret_len, const char *path) {
        size_t len = strlen(path);

        if (len == 0)
                return -EINVAL;
        if (len >= sizeof(ret->sun_path))
                return -ENAMETOOLONG;
        memset(ret, 0, sizeof(*ret));
        ret->sun_family = AF_UNIX;
        memcpy(ret->sun_path, path, len);
        *ret_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + len + 1);
        return 0;
}

int connect_wait(int fd, const struct sockaddr *sa, socklen_t len, int timeout_ms) {
        int r, err = 0;
        socklen_t errlen = sizeof(err);

        if (connect(fd, sa, len) == 0)
                return 0;
        if (errno != EINPROGRESS && errno != EAGAIN && errno != EINTR)
                return negative_errno();
        r = fd_wait(fd, POLLOUT, timeout_ms);
        if (r < 0)
                return r;
        if (r == 0)
                return -ETIMEDOUT;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) < 0)
                return negative_errno();
        return err > 0 ? -err : 0;
}

/* Looks path up among this network namespace's listening UNIX sockets in
 * /proc/net/unix (flag __SO_ACCEPTCON). Returns 1 listening, 0 not, or
 * -ENOENT when the table cannot be read or the path is relative (the table
 * shows paths as they were bound, so only absolute ones compare). */
static int unix_listed_as_listening(const char *path) {
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        FILE *f;
        int found = 0;

        if (path[0] != '/')
                return -ENOENT;
        f = fopen("/proc/net/unix", "re");
        if (!f)
                return -ENOENT;
        while (!found && getline(&line, &cap, f) > 0) {
                unsigned long flags;
                int off = -1;

                if (sscanf(line, "%*s %*x %*x %lx %*x %*x %*u %n", &flags, &off) < 1 || off < 0)
                        continue;
                line[strcspn(line, "\n")] = 0;
                if ((flags & 0x10000) && strcmp(line + off, path) == 0)
                        found = 1;
        }
        fclose(f);
        return found;
}

/* True when something accepts connections at sa. The socket table answers
 * without side effects; a probe connection would be accepted by a live
 * listener as a client, so it is only the fallback. The probe is
 * non-blocking so a full backlog (EAGAIN) counts as live instead of stalling;
 * only ECONNREFUSED proves a socket file dead, any other failure (EACCES...)
 * is not ours to judge and counts as live too. */
static int unix_is_live(const struct sockaddr_un *sa, socklen_t len) {
        _cleanup_close_ int fd = -1;
        int r;

        r = unix_listed_as_listening(sa->sun_path);
        if (r >= 0)
                return r;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return negative_errno();
        if (connect(fd, (const struct sockaddr *) sa, len) == 0)
                return 1;
        return errno != ECONNREFUSED;
}

/* Locks the directory that holds path, so that two processes taking over the
 * same stale socket file cannot both unlink and bind (the first one's socket
 * would be unlinked by the second and be unreachable). Returns the locked fd,
 * or -1 when the directory cannot be opened (then there is no lock to take). */
static int lock_parent_dir(const char *path) {
        _cleanup_free_ char *dir = NULL;
        const char *slash = strrchr(path, '/');
        int fd;

        if (!slash)
                dir = strdup(".");
        else if (slash == path)
                dir = strdup("/");
        else
                dir = strndup(path, (size_t) (slash - path));
        if (!dir)
                return -1;
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        while (flock(fd, LOCK_EX) < 0)
                if (errno != EINTR)
                        return safe_close(fd);
        return fd;
}

/* Binds fd at path, replacing a dead socket file there; a live one, or a
 * file that is not a socket, is -EADDRINUSE. Called under the directory lock,
 * with listen() to follow before the lock goes: a socket that is bound but
 * not yet listening refuses connections just like a dead one. */
static int unix_bind_or_take_over(int fd, const struct sockaddr_un *sa, socklen_t len, const char *path) {
        struct stat st;
        int r;

        if (bind(fd, (const struct sockaddr *) sa, len) == 0)
                return 0;
        if (errno != EADDRINUSE)
                return negative_errno();
        if (lstat(path, &st) < 0)
                return negative_errno();
        /* Never delete what is not a socket: a mistyped path must not cost a file. */
        if (!S_ISSOCK(st.st_mode))
                return -EADDRINUSE;
        r = unix_is_live(sa, len);
        if (r < 0)
                return r;
        if (r > 0)
                return -EADDRINUSE;
        /* A socket file left by a process that died: take it over. */
        if (unlink(path) < 0 && errno != ENOENT)
                return negative_errno();
        if (bind(fd, (const struct sockaddr *) sa, len) < 0)
                return negative_errno();
        return 0;
}

static int set_sndtimeo(int fd, int timeout_ms) {
        struct timeval tv = {
                .tv_sec = timeout_ms / 1000,
                .tv_usec = (timeout_ms % 1000) * 1000,
        };

        if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
                return negative_errno();
        return 0;
}

int unix_connect_timeout(int fd, const struct sockaddr_un *sa, socklen_t len, int timeout_ms) {
        uint64_t deadline = now_ms() + (uint64_t) timeout_ms;
        int r, k;

        if (timeout_ms <= 0)
                return -EINVAL;
        for (;;) {
                int left = ms_left(deadline);

                if (left == 0) {
                        r = -ETIMEDOUT;
                        break;
                }
                r = set_sndtimeo(fd, left);
                if (r < 0)
                        return r;
                if (connect(fd, (const struct sockaddr *) sa, len) == 0) {
                        r = 0;
                        break;
                }
                /* The kernel gives EAGAIN when the send timeout ran out while the
                 * listener's backlog stayed full. */
                if (errno == EAGAIN) {
                        r = -ETIMEDOUT;
                        break;
                }
                if (errno != EINTR) {
                        r = negative_errno();
                        break;
                }
        }
        /* The caller gets a plain socket: no send timeout left behind. */
        k = set_sndtimeo(fd, 0);
        return r < 0 ? r : k;
}

int send_all(int fd, const void *buf, size_t len) {
        const char *p = buf;

        while (len > 0) {
                ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

int unix_listen(const char *path, int backlog) {
        struct sockaddr_un sa;
        socklen_t len;
        _cleanup_close_ int fd = -1, lock = -1;
        int r;

        r = sockaddr_un_set(&sa, &len, path);
        if (r < 0)
                return r;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return negative_errno();
        lock = lock_parent_dir(path);
        r = unix_bind_or_take_over(fd, &sa, len, path);
        if (r < 0)
                return r;
        if (listen(fd, backlog) < 0)
                return negative_errno();
        return TAKE_FD(fd);
}
