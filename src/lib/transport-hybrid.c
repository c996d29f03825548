/* SPDX-License-Identifier: MIT */
/*
 * Hybrid vsock over a UNIX socket (Firecracker, Cloud Hypervisor,
 * vhost-device-vsock, hvsock-vhost), PROTOCOLS.md section 4. To reach guest
 * port P the host connects to the VM's socket, sends "CONNECT P\n" and gets
 * "OK <host port>\n"; after that the stream is raw. Guests reach host port P
 * through a listener at "<uds>_P".
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <hvsock/hvsock.h>

#include "fd-util.h"
#include "macro.h"
#include "socket-util.h"
#include "time-util.h"
#include "transport.h"

/* Whether c may stand at position pos of the line (before the newline). */
static bool okline_char_valid(size_t pos, char c) {
        switch (pos) {
        case 0:
                return c == 'O' || c == 'o';
        case 1:
                return c == 'K' || c == 'k';
        case 2:
                return c == ' ';
        default:
                return c >= '0' && c <= '9';
        }
}

static int okline_finish(struct hvsock_okline *s, uint32_t *ret_port) {
        uint32_t v = 0;

        /* "OK " and at least one digit. */
        if (s->len < 4)
                return -HVSOCK_E_PROTOCOL;
        for (size_t i = 3; i < s->len; i++) {
                uint32_t d = (uint32_t) (s->buf[i] - '0');
                if (v > (UINT32_MAX - d) / 10)
                        return -HVSOCK_E_PROTOCOL;
                v = v * 10 + d;
        }
        *ret_port = v;
        return 1;
}

int hvsock__okline_feed(struct hvsock_okline *s, char c, uint32_t *ret_port) {
        int r;

        /* A full buffer means too long, or a line that already gave its result. */
        if (s->len >= HVSOCK_OKLINE_MAX)
                return -HVSOCK_E_PROTOCOL;
        if (c == '\n') {
                r = okline_finish(s, ret_port);
                s->len = HVSOCK_OKLINE_MAX;
                return r;
        }
        /* Room must stay for the newline within HVSOCK_OKLINE_MAX. */
        if (s->len == HVSOCK_OKLINE_MAX - 1 || !okline_char_valid(s->len, c)) {
                s->len = HVSOCK_OKLINE_MAX;
                return -HVSOCK_E_PROTOCOL;
        }
        s->buf[s->len++] = c;
        return 0;
}

/* The muxer closes without a word for every failure (no listener in the
 * guest, too many connections, ...): a refusal, as vsock would report it. */
static int hybrid_map_closed(int r) {
        return r == -EPIPE || r == -ECONNRESET ? -ECONNREFUSED : r;
}

static int hybrid_send_connect(int fd, uint32_t port) {
        char line[32];
        int n = snprintf(line, sizeof(line), "CONNECT %" PRIu32 "\n", port);

        return hybrid_map_closed(send_all(fd, line, (size_t) n));
}

/* Reads the reply one byte at a time: whatever follows the newline is the
 * application's and must stay in the socket. */
static int hybrid_read_reply(int fd, uint64_t deadline, uint32_t *ret_host_port) {
        struct hvsock_okline line = { .len = 0 };

        for (;;) {
                ssize_t n;
                char c;
                int r;

                r = fd_wait(fd, POLLIN, ms_left(deadline));
                if (r < 0)
                        return r;
                if (r == 0)
                        return -ETIMEDOUT;
                n = recv(fd, &c, 1, MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return hybrid_map_closed(negative_errno());
                }
                if (n == 0)
                        return -ECONNREFUSED;
                r = hvsock__okline_feed(&line, c, ret_host_port);
                if (r != 0)
                        return r < 0 ? r : 0;
        }
}

int hvsock__hybrid_connect(const char *uds, uint32_t port, int timeout_ms, uint32_t *ret_host_port) {
        uint64_t deadline = now_ms() + (uint64_t) (timeout_ms > 0 ? timeout_ms : 0);
        _cleanup_close_ int fd = -1;
        struct sockaddr_un sa;
        uint32_t host_port;
        socklen_t len;
        int r;

        r = sockaddr_un_set(&sa, &len, uds);
        if (r < 0)
                return r;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        r = unix_connect_timeout(fd, &sa, len, timeout_ms);
        /* No socket file: the VM is not running, so nothing can answer. */
        if (r == -ENOENT)
                return -ECONNREFUSED;
        if (r < 0)
                return r;
        r = hybrid_send_connect(fd, port);
        if (r < 0)
                return r;
        r = hybrid_read_reply(fd, deadline, &host_port);
        if (r < 0)
                return r;
        if (ret_host_port)
                *ret_host_port = host_port;
        return TAKE_FD(fd);
}

int hvsock__hybrid_listen_path(const char *uds, uint32_t port, char *buf, size_t size) {
        int n = snprintf(buf, size, "%s_%" PRIu32, uds, port);

        if (n < 0)
                return -EINVAL;
        if ((size_t) n >= size)
                return -ENAMETOOLONG;
        return 0;
}

int hvsock__hybrid_listen(const char *uds, uint32_t port, int backlog, const struct unix_access *access,
                          struct unix_listener *ret, char **ret_error) {
        char path[PATH_MAX];
        int r;

        r = hvsock__hybrid_listen_path(uds, port, path, sizeof(path));
        if (r < 0)
                return r;
        return unix_listen(path, backlog, access, ret, ret_error);
}

int hvsock__unix_accept(int listen_fd) {
        int fd;

        do
                fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        while (fd < 0 && errno == EINTR);
        if (fd < 0)
                return errno == EWOULDBLOCK ? -EAGAIN : negative_errno();
        return fd;
}
