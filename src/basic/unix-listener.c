/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "error-util.h"
#include "fs-safe.h"
#include "macro.h"
#include "socket-util.h"
#include "unix-listener.h"

static const struct unix_access default_access = { .mode = 0600, .uid = (uid_t) -1, .gid = (gid_t) -1 };

/* Whether the sock_diag answer m names a socket bound to the file st. The
 * kernel reports the device in its internal encoding (major << 20 | minor),
 * not stat's. */
static bool diag_msg_is_file(const struct nlmsghdr *h, const struct stat *st) {
        const struct unix_diag_msg *m = NLMSG_DATA(h);
        int len = (int) h->nlmsg_len - (int) NLMSG_LENGTH(sizeof(*m));

        if (len < 0)
                return false;
        for (const struct rtattr *a = (const struct rtattr *) (m + 1); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
                struct unix_diag_vfs v;

                if (a->rta_type != UNIX_DIAG_VFS || RTA_PAYLOAD(a) < sizeof(v))
                        continue;
                memcpy(&v, RTA_DATA(a), sizeof(v));
                if (v.udiag_vfs_ino == st->st_ino && v.udiag_vfs_dev >> 20 == major(st->st_dev) &&
                    (v.udiag_vfs_dev & 0xfffff) == minor(st->st_dev))
                        return true;
        }
        return false;
}

/* Reads the dump to its end. Returns 1 when a listening socket is bound to
 * st, 0 when none is, or -errno. */
static int diag_read(int fd, const struct stat *st) {
        int found = 0;

        for (;;) {
                char buf[16384] __attribute__((aligned(NLMSG_ALIGNTO)));
                ssize_t n = recv(fd, buf, sizeof(buf), 0);
                int len = (int) n;

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        return -EPROTO;
                for (const struct nlmsghdr *h = (const struct nlmsghdr *) buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
                        if (h->nlmsg_type == NLMSG_DONE)
                                return found;
                        if (h->nlmsg_type == NLMSG_ERROR)
                                return -EPROTO;
                        if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY && diag_msg_is_file(h, st))
                                found = 1;
                }
        }
}

/* Whether some socket of this network namespace listens on the socket file
 * st, whoever made it: asks the kernel's socket table, which has no side
 * effects (a probe connection would). Returns 1 or 0; 0 also when the table
 * cannot be read (no unix_diag), where only our lock can tell. */
static int unix_file_listening(const struct stat *st) {
        struct {
                struct nlmsghdr h;
                struct unix_diag_req req;
        } msg = {
                .h = { .nlmsg_len = sizeof(msg), .nlmsg_type = SOCK_DIAG_BY_FAMILY, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
                .req = { .sdiag_family = AF_UNIX, .udiag_states = 1u << TCP_LISTEN, .udiag_show = UDIAG_SHOW_VFS },
        };
        _cleanup_close_ int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
        int r;

        if (fd < 0)
                return 0;
        if (send(fd, &msg, sizeof(msg), 0) < 0)
                return 0;
        r = diag_read(fd, st);
        return r > 0;
}

/* Makes room at path for our bind. We hold the lock, so an hvsock listener
 * that made the socket file there is gone; a file that is not a socket is
 * never deleted (a mistyped path must not cost a file), nor a socket that
 * another program still listens on. */
static int remove_stale(const char *path) {
        struct stat st;

        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        if (!S_ISSOCK(st.st_mode) || unix_file_listening(&st))
                return -EADDRINUSE;
        if (unlink(path) < 0 && errno != ENOENT)
                return negative_errno();
        return 0;
}

/* chmod that never follows a symlink at path. glibc does it through
 * /proc/self/fd; without /proc, an lstat first stands in. */
static int chmod_nofollow(const char *path, mode_t mode) {
        struct stat st;

        if (fchmodat(AT_FDCWD, path, mode, AT_SYMLINK_NOFOLLOW) == 0)
                return 0;
        if (errno != EOPNOTSUPP && errno != ENOSYS)
                return negative_errno();
        if (lstat(path, &st) < 0)
                return negative_errno();
        if (S_ISLNK(st.st_mode))
                return -ELOOP;
        return chmod(path, mode) < 0 ? negative_errno() : 0;
}

/* Gives the bound socket file its owner, group and mode (in that order: a
 * chown may clear mode bits). Messages name path, what the caller asked for. */
static int set_access(const char *file, const char *path, const struct unix_access *a, char **ret_error) {
        int r;

        if ((a->uid != (uid_t) -1 || a->gid != (gid_t) -1) && lchown(file, a->uid, a->gid) < 0) {
                r = negative_errno();
                return error_set(ret_error, r, "cannot give '%s' to uid %d, gid %d: %s", path, (int) a->uid,
                                 (int) a->gid, strerror(-r));
        }
        r = chmod_nofollow(file, a->mode);
        if (r < 0)
                return error_set(ret_error, r, "cannot set the mode of '%s' to %04o: %s", path, (unsigned) a->mode,
                                 strerror(-r));
        return 0;
}

/* The name a socket is bound to until it is ready: beside path (so rename()
 * stays in the directory) and this process's own. *ret_sa gets its address,
 * or path's where it does not fit sun_path. */
static int bind_address(const char *path, char *tmp, size_t size, struct sockaddr_un *ret_sa, socklen_t *ret_len) {
        int n = snprintf(tmp, size, "%s.%x", path, (unsigned) getpid());

        if (n > 0 && (size_t) n < size && sockaddr_un_set(ret_sa, ret_len, tmp) == 0)
                return 0;
        tmp[0] = 0;
        return sockaddr_un_set(ret_sa, ret_len, path);
}

/* Renames the ready socket from tmp to path, never replacing a file that
 * appeared there since we made room (somebody else's). */
static int move_into_place(const char *tmp, const char *path) {
        if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
                return 0;
        if (errno == EEXIST)
                return -EADDRINUSE;
        if (errno != EINVAL && errno != ENOSYS)
                return negative_errno();
        /* A filesystem without RENAME_NOREPLACE: link() never replaces either. */
        if (link(tmp, path) < 0)
                return errno == EEXIST ? -EADDRINUSE : negative_errno();
        (void) unlink(tmp);
        return 0;
}

/* Everything after the lock. The socket is bound under a temporary name,
 * given its owner and mode, made to listen, and only then renamed to path:
 * so a client never finds path with the umask's mode, nor refusing
 * connections because it does not listen yet (a script that waits for the
 * file and then starts QEMU would fail). Where the temporary name does not
 * fit sun_path, path itself is bound; the mode still comes before listen(),
 * and a bound socket that does not listen lets nobody in. Returns the
 * listening socket. */
static int listen_locked(const char *path, int backlog, const struct unix_access *access, char **ret_error) {
        _cleanup_close_ int fd = -1;
        char tmp[PATH_MAX];
        struct sockaddr_un sa;
        const char *file;
        socklen_t len;
        int r;

        r = bind_address(path, tmp, sizeof(tmp), &sa, &len);
        if (r < 0)
                return r;
        file = tmp[0] ? tmp : path;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return negative_errno();
        /* A temporary socket with our pid is one that a listener that died
         * left (we hold the lock, as it did). */
        r = remove_stale(path);
        if (r == 0 && file == tmp)
                r = remove_stale(tmp);
        if (r < 0)
                return r;
        /* EADDRINUSE here is a file somebody made since: theirs, not ours to
         * remove. */
        if (bind(fd, (const struct sockaddr *) &sa, len) < 0)
                return negative_errno();
        r = set_access(file, path, access, ret_error);
        if (r == 0 && listen(fd, backlog) < 0)
                r = negative_errno();
        if (r == 0 && file == tmp)
                r = move_into_place(tmp, path);
        if (r < 0) {
                (void) unlink(file);
                return r;
        }
        return TAKE_FD(fd);
}

int unix_listen(const char *path, int backlog, const struct unix_access *access, struct unix_listener *ret,
                char **ret_error) {
        _cleanup_free_ char *lock_path = NULL, *copy = NULL;
        _cleanup_close_ int lock = -1;
        struct sockaddr_un sa;
        socklen_t len;
        int fd, r;

        /* A path that cannot be bound gets no lock file either. */
        r = sockaddr_un_set(&sa, &len, path);
        if (r < 0)
                return r;
        copy = strdup(path);
        if (!copy || asprintf(&lock_path, "%s.lock", path) < 0)
                return -ENOMEM;
        lock = lock_file_take(lock_path, ret_error);
        if (lock == -EWOULDBLOCK)
                return -EADDRINUSE;
        if (lock < 0)
                return lock;
        fd = listen_locked(path, backlog, access ? access : &default_access, ret_error);
        if (fd < 0) {
                /* Ours while we hold it; a successor makes a new one. */
                (void) unlink(lock_path);
                return fd;
        }
        *ret = (struct unix_listener) { .fd = fd, .lock_fd = TAKE_FD(lock), .path = TAKE_PTR(copy) };
        return 0;
}

void unix_listener_close(struct unix_listener *l) {
        if (l->path) {
                _cleanup_free_ char *lock_path = NULL;

                (void) unlink(l->path);
                if (asprintf(&lock_path, "%s.lock", l->path) >= 0)
                        (void) unlink(lock_path);
        }
        safe_close(l->fd);
        safe_close(l->lock_fd);
        free(l->path);
        *l = (struct unix_listener) UNIX_LISTENER_NULL;
}
