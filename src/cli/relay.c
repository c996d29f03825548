/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fd-util.h"
#include "macro.h"
#include "relay.h"

enum { P_IN, P_SOCK, P_OUT, P_STOP, P_MAX };

struct relay *relay_new(int in_fd, int out_fd, bool keep_open) {
        struct relay *r = calloc(1, sizeof(*r));

        if (!r)
                return NULL;
        r->in_fd = in_fd;
        r->out_fd = out_fd;
        r->keep_open = keep_open;
        r->sock = -1;
        r->stop_fd = -1;
        return r;
}

struct relay *relay_free(struct relay *r) {
        free(r);
        return NULL;
}

static bool buf_empty(const struct relay_buf *b) {
        return b->start == b->end;
}

static int fail(struct relay *r, const char *what, bool stdio, int err) {
        r->failed = what;
        r->failed_stdio = stdio;
        return err;
}

/* Reads into an empty buffer. Returns 1 for data, 0 at EOF, -EAGAIN or -errno. */
static int buf_fill(struct relay_buf *b, int fd) {
        ssize_t n = read(fd, b->data, sizeof(b->data));

        if (n < 0)
                return errno == EINTR ? -EAGAIN : negative_errno();
        b->start = 0;
        b->end = (size_t) n;
        return n > 0;
}

/* Writes what the buffer holds, as much as fd takes. Returns 0 or -errno. */
static int buf_drain(struct relay_buf *b, int fd, bool is_sock) {
        size_t len = b->end - b->start;
        ssize_t n;

        if (is_sock)
                n = send(fd, b->data + b->start, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        else
                n = write(fd, b->data + b->start, len);
        if (n < 0)
                return errno == EINTR || errno == EAGAIN ? 0 : negative_errno();
        b->start += (size_t) n;
        if (b->start == b->end)
                b->start = b->end = 0;
        return 0;
}

/*
 * The peer's EOF closes our output so whoever reads it sees EOF too. When
 * the output is a socket it may be shared with the input (inetd style), so
 * shut its sending side first; /dev/null then takes over the descriptor so
 * the number is not reused.
 */
static void close_output(int fd) {
        int null;

        if (shutdown(fd, SHUT_WR) < 0 && errno != ENOTSOCK && errno != ENOTCONN)
                return;
        null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (null < 0) {
                close(fd);
                return;
        }
        if (null != fd) {
                dup2(null, fd);
                close(null);
        }
}

/* Moves the half-close states forward once buffers are flushed. */
static void relay_advance(struct relay *r) {
        if (!r->up_done && r->in_eof && buf_empty(&r->up)) {
                /* ENOTCONN: the peer is gone already; the other side will tell. */
                (void) shutdown(r->sock, SHUT_WR);
                r->up_done = true;
        }
        if (!r->down_done && r->sock_eof && buf_empty(&r->down)) {
                if (!r->keep_open)
                        close_output(r->out_fd);
                r->down_done = true;
        }
}

static bool relay_finished(const struct relay *r) {
        if (r->keep_open)
                return r->down_done;
        return r->up_done && r->down_done;
}

static void relay_poll_setup(const struct relay *r, struct pollfd p[P_MAX]) {
        short sock_events = 0;

        p[P_IN] = (struct pollfd){ .fd = -1 };
        p[P_SOCK] = (struct pollfd){ .fd = -1 };
        p[P_OUT] = (struct pollfd){ .fd = -1 };
        if (!r->in_eof && buf_empty(&r->up))
                p[P_IN] = (struct pollfd){ .fd = r->in_fd, .events = POLLIN };
        if (!r->sock_eof && buf_empty(&r->down))
                sock_events |= POLLIN;
        if (!buf_empty(&r->up))
                sock_events |= POLLOUT;
        /* After the peer's EOF, still watch for its full close (POLLHUP, which
         * poll reports even with no events asked) while input is pending. */
        if (sock_events || (r->sock_eof && !r->up_done))
                p[P_SOCK] = (struct pollfd){ .fd = r->sock, .events = sock_events };
        if (!buf_empty(&r->down))
                p[P_OUT] = (struct pollfd){ .fd = r->out_fd, .events = POLLOUT };
        p[P_STOP] = (struct pollfd){ .fd = r->stop_fd, .events = POLLIN };
}

static int relay_handle(struct relay *r, const struct pollfd p[P_MAX]) {
        int k;

        if (p[P_IN].revents) {
                k = buf_fill(&r->up, r->in_fd);
                if (k == 0)
                        r->in_eof = true;
                else if (k < 0 && k != -EAGAIN)
                        return fail(r, "reading standard input", true, k);
        }
        if (p[P_SOCK].revents && (p[P_SOCK].events & POLLIN)) {
                k = buf_fill(&r->down, r->sock);
                if (k == 0)
                        r->sock_eof = true;
                else if (k < 0 && k != -EAGAIN)
                        return fail(r, "receiving", false, k);
        }
        if (p[P_SOCK].revents && !buf_empty(&r->up)) {
                k = buf_drain(&r->up, r->sock, true);
                if (k < 0)
                        return fail(r, "sending", false, k);
        } else if (p[P_SOCK].events == 0 && (p[P_SOCK].revents & (POLLHUP | POLLERR))) {
                /* The peer closed both ways and nothing is waiting to be sent:
                 * whatever input comes later has nowhere to go. */
                r->up_done = true;
        }
        if (p[P_OUT].revents) {
                k = buf_drain(&r->down, r->out_fd, false);
                if (k < 0)
                        return fail(r, "writing standard output", true, k);
        }
        return 0;
}

int relay_run(struct relay *r, int sock) {
        struct pollfd p[P_MAX];
        int k;

        r->sock = sock;
        r->up_done = r->sock_eof = r->down_done = false;
        r->failed = NULL;
        r->failed_stdio = false;
        k = fd_set_nonblock(sock, true);
        if (k < 0)
                return fail(r, "setting up the socket", false, k);
        /*
         * Standard output stays blocking (it is not ours to change): a write
         * may wait for its reader, which only delays reading the socket.
         */
        for (;;) {
                relay_advance(r);
                if (relay_finished(r))
                        return 0;
                relay_poll_setup(r, p);
                if (poll(p, P_MAX, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return fail(r, "waiting for data", true, negative_errno());
                }
                if (p[P_STOP].revents)
                        return RELAY_STOPPED;
                k = relay_handle(r, p);
                if (k < 0)
                        return k;
        }
}
