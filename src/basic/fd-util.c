/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/openat2.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fd-util.h"
#include "macro.h"

int fd_set_nonblock(int fd, bool nonblock) {
        int flags = fcntl(fd, F_GETFL);

        if (flags < 0)
                return negative_errno();
        flags = nonblock ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
        if (fcntl(fd, F_SETFL, flags) < 0)
                return negative_errno();
        return 0;
}

int fd_wait(int fd, short events, int timeout_ms) {
        struct pollfd p = { .fd = fd, .events = events };

        for (;;) {
                int r = poll(&p, 1, timeout_ms);
                if (r >= 0)
                        return r == 0 ? 0 : p.revents;
                if (errno != EINTR)
                        return negative_errno();
        }
}

int write_all(int fd, const void *buf, size_t len) {
        const char *p = buf;

        while (len > 0) {
                ssize_t n = write(fd, p, len);
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

int read_exact(int fd, void *buf, size_t len) {
        char *p = buf;

        while (len > 0) {
                ssize_t n = read(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        return -EPIPE;
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

static int cmp_int(const void *a, const void *b) {
        int x = *(const int *) a, y = *(const int *) b;

        return (x > y) - (x < y);
}

/* Closes [from, to]; without close_range (kernels before 5.9) one by one up
 * to the descriptor limit. */
static int close_span(unsigned from, unsigned to) {
        long max;

        if (from > to)
                return 0;
        if (close_range(from, to, 0) == 0)
                return 0;
        if (errno != ENOSYS)
                return negative_errno();
        max = sysconf(_SC_OPEN_MAX);
        if (max < 0 || max > 65536)
                max = 65536;
        for (unsigned fd = from; fd <= to && fd < (unsigned) max; fd++)
                close((int) fd);
        return 0;
}

int close_all_fds_but(const int *keep, size_t n) {
        int sorted[16];
        unsigned from = 3;
        int r;

        if (n > ELEMENTSOF(sorted))
                return -E2BIG;
        memcpy(sorted, keep, n * sizeof(int));
        qsort(sorted, n, sizeof(int), cmp_int);
        for (size_t i = 0; i < n; i++) {
                if (sorted[i] < (int) from)
                        continue;
                r = close_span(from, (unsigned) sorted[i] - 1);
                if (r < 0)
                        return r;
                from = (unsigned) sorted[i] + 1;
        }
        return close_span(from, ~0u);
}

int mkdir_p(const char *path, mode_t mode) {
        _cleanup_free_ char *p = NULL;

        if (!path || !*path)
                return -EINVAL;
        p = strdup(path);
        if (!p)
                return -ENOMEM;
        /* Create each prefix in turn; existing ones are fine, and a non-directory
         * in the way surfaces when the caller uses the path. */
        for (char *s = p + 1;; s++) {
                char saved = *s;

                if (saved != '/' && saved != '\0')
                        continue;
                *s = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return negative_errno();
                *s = saved;
                if (saved == '\0')
                        return 0;
        }
}

void open_std_fds(void) {
        for (int fd = 0; fd <= 2; fd++) {
                int null;

                if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
                        continue;
                null = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
                if (null >= 0 && null != fd) {
                        dup2(null, fd);
                        close(null);
                }
        }
}

int openat_nofollow(int dirfd, const char *name, int flags, mode_t mode) {
        struct open_how how = {
                .flags = (uint64_t) (flags | O_NOFOLLOW),
                .mode = (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? mode : 0,
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        long fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));

        if (fd >= 0)
                return (int) fd;
        /* Before Linux 5.6: the same for one name, as O_NOFOLLOW covers
         * its only component. */
        if (errno != ENOSYS)
                return negative_errno();
        fd = openat(dirfd, name, flags | O_NOFOLLOW, mode);
        return fd < 0 ? negative_errno() : (int) fd;
}

int rlimit_nofile_raise(void) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return negative_errno();
        if (rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                        return negative_errno();
        }
        return rl.rlim_cur > INT_MAX ? INT_MAX : (int) rl.rlim_cur;
}
