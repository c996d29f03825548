/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

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
