/* SPDX-License-Identifier: MIT */
/*
 * The local transport: loopback partition emulation with UNIX sockets. A
 * listener for port P is <runtime_dir>/local/P. Clients autobind, which gives
 * them a kernel-chosen abstract name of five hex digits; the listener reads
 * that name back as the peer's port, so accept can report a full address.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <hvsock/guid.h>

#include "fd-util.h"
#include "fs-safe.h"
#include "macro.h"
#include "socket-util.h"
#include "transport.h"

/* Length of the kernel's autobind names ("%05x" after the leading NUL). */
#define AUTOBIND_DIGITS 5

/* snprintf that refuses to truncate. */
_printf_(3, 4) static int path_printf(char *buf, size_t size, const char *fmt, ...) {
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(buf, size, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -EINVAL;
        if ((size_t) n >= size)
                return -ENAMETOOLONG;
        return 0;
}

int hvsock__local_path(const char *runtime_dir, uint32_t port, char *buf, size_t size) {
        return path_printf(buf, size, "%s/local/%" PRIu32, runtime_dir, port);
}

/* The runtime dir and its local/: 0755 when we make them, and never
 * another user's (or a symlink to one), who could otherwise put their own
 * socket files where clients look for ours. */
static int local_dir_check(const char *runtime_dir, const char *dir, char **ret_error) {
        const char *const dirs[] = { runtime_dir, dir };

        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                int fd = dir_open_safe(dirs[i], 0755, ret_error);

                if (fd < 0)
                        return fd;
                safe_close(fd);
        }
        return 0;
}

int hvsock__local_listen(const char *runtime_dir, uint32_t port, int backlog, const struct unix_access *access,
                         struct unix_listener *ret, char **ret_error) {
        char dir[PATH_MAX], path[PATH_MAX];
        int r;

        r = path_printf(dir, sizeof(dir), "%s/local", runtime_dir);
        if (r < 0)
                return r;
        r = hvsock__local_path(runtime_dir, port, path, sizeof(path));
        if (r < 0)
                return r;
        r = local_dir_check(runtime_dir, dir, ret_error);
        if (r < 0)
                return r;
        return unix_listen(path, backlog, access, ret, ret_error);
}

int hvsock__local_connect(const char *runtime_dir, uint32_t port, int timeout_ms) {
        /* Only the family: bind() with nothing else asks the kernel to autobind. */
        static const struct sockaddr_un autobind = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -1;
        char path[PATH_MAX];
        struct sockaddr_un sa;
        socklen_t len;
        int r;

        r = hvsock__local_path(runtime_dir, port, path, sizeof(path));
        if (r < 0)
                return r;
        r = sockaddr_un_set(&sa, &len, path);
        if (r < 0)
                return r;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        if (bind(fd, (const struct sockaddr *) &autobind, sizeof(sa_family_t)) < 0)
                return negative_errno();
        r = unix_connect_timeout(fd, &sa, len, timeout_ms);
        /* No socket file means nobody listens on that port: the same answer a
         * vsock peer gives. */
        if (r == -ENOENT)
                return -ECONNREFUSED;
        if (r < 0)
                return r;
        return TAKE_FD(fd);
}

static int hexdigit(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

/* The port in an autobind name "\0xxxxx", or HVSOCK_PEER_PORT_UNKNOWN. */
static uint32_t autobind_port(const struct sockaddr_un *sa, socklen_t len) {
        const size_t base = offsetof(struct sockaddr_un, sun_path);
        uint32_t port = 0;

        if (len != base + 1 + AUTOBIND_DIGITS || sa->sun_path[0] != '\0')
                return HVSOCK_PEER_PORT_UNKNOWN;
        for (size_t i = 1; i <= AUTOBIND_DIGITS; i++) {
                int d = hexdigit(sa->sun_path[i]);
                if (d < 0)
                        return HVSOCK_PEER_PORT_UNKNOWN;
                port = port << 4 | (uint32_t) d;
        }
        return port;
}

int hvsock__local_accept(int listen_fd, uint32_t *ret_port) {
        struct sockaddr_un sa;
        socklen_t len;
        int fd;

        do {
                len = sizeof(sa);
                fd = accept4(listen_fd, (struct sockaddr *) &sa, &len, SOCK_CLOEXEC);
        } while (fd < 0 && errno == EINTR);
        if (fd < 0)
                return errno == EWOULDBLOCK ? -EAGAIN : negative_errno();
        *ret_port = autobind_port(&sa, len);
        return fd;
}
