/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "copy-link.h"
#include "fd-util.h"
#include "macro.h"
#include "session-server.h"
#include "string-util.h"
#include "time-util.h"

/* Up to four DATA frames wait in the queue while the socket is full. */
#define OUT_FRAMES 4u
/* What a receiver grants beyond the initial window as soon as the copy
 * starts, so the sender never waits for a grant's round trip. */
#define GRANT_AHEAD (4u * 1024u * 1024u - SESSION_WINDOW_INITIAL)
/* Archive credit goes back in batches while more data is at hand: a
 * WINDOW per frame would cost each side a syscall and a wakeup per frame. */
#define GRANT_BATCH (1024u * 1024u)
/* Room kept behind the data for WINDOW, EOF, EXIT and ERROR frames. */
#define CONTROL_ROOM (2u * SESSION_HEADER_SIZE + SESSION_ERROR_MESSAGE_MAX + 256u)
#define OUT_CAP (OUT_FRAMES * SESSION_FRAME_MAX + CONTROL_ROOM)
/* The socket send buffer a sender asks for (widen_send_buffer). */
#define SEND_BUFFER (4 * 1024 * 1024)
/* What a peer may grant in total, as hvsock-sessiond enforces. */
#define CREDIT_MAX (64u * 1024u * 1024u)
/* The helper's messages wait here for stderr credit; past that they are counted. */
#define MSG_MAX (64u * 1024u)
#define MSG_SUMMARY_MAX 128u

#define MIN(a, b) ((a) < (b) ? (a) : (b))

struct copy_link {
        int sock;
        bool server, sending;
        uint8_t data_ch; /* the archive's channel */
        bool closed;     /* the peer closed (or broke) the connection */
        bool lost;       /* ...before everything queued was sent */
        bool ended;      /* client: EXIT or ERROR arrived */
        int error;       /* sticky -errno of the connection, or -EBADMSG */
        struct session_parser *in;
        struct session_out out;
        struct session_client_result *res;

        /* sender: the DATA frame being filled, reserved in out */
        bool open;
        uint8_t *frame;
        size_t frame_len, frame_cap;
        uint32_t credit;

        /* receiver: the DATA frame being read */
        bool have_cur, data_eof;
        struct session_frame cur;
        size_t cur_off;
        uint32_t window; /* helper: what the client may still send on stdin */

        uint32_t grant[3]; /* consumed or dropped, to be granted back */

        /* helper: messages for the client's stderr */
        uint32_t err_credit;
        char msg[MSG_MAX + MSG_SUMMARY_MAX];
        size_t msg_len;
        unsigned msg_dropped;
        uint32_t fail_code;
        char fail_msg[256];
};

/* The client broke the protocol: the helper ends the session with ERROR. */
static int link_fail(struct copy_link *l, uint32_t code, const char *what) {
        if (!l->error) {
                l->fail_code = code;
                snprintf(l->fail_msg, sizeof(l->fail_msg), "%s", what);
                fprintf(stderr, "hvsock-sessiond: copy helper: %s: %s\n", session_error_name(code), what);
        }
        l->error = -EBADMSG;
        return l->error;
}

static int client_fail(struct copy_link *l, const char *what) {
        l->res->failed = what;
        l->error = -EBADMSG;
        return l->error;
}

static int bad_frame(struct copy_link *l, const struct session_frame *f) {
        char what[128];

        if (!l->server)
                return client_fail(l, "reading the daemon's frames (an unexpected frame)");
        snprintf(what, sizeof(what), "unexpected %s frame on channel %u during a copy", session_type_name(f->type),
                 f->channel);
        return link_fail(l, SESSION_E_PROTOCOL, what);
}

static int add_credit(struct copy_link *l, uint32_t *credit, const struct session_frame *f) {
        uint32_t v;

        if (session_u32_decode(f, &v) < 0)
                return bad_frame(l, f);
        if (v > CREDIT_MAX - *credit) {
                if (l->server)
                        return link_fail(l, SESSION_E_FLOW, "window grown beyond 64 MiB");
                *credit = CREDIT_MAX;
                return 0;
        }
        *credit += v;
        return 0;
}

/* DATA on the archive's channel: held for the reader when it wants data,
 * else dropped and granted back (after the receiver stopped). */
static int take_data(struct copy_link *l, const struct session_frame *f, bool want_data) {
        if (want_data && !l->sending) {
                l->cur = *f;
                l->cur_off = 0;
                l->have_cur = true;
                return 1;
        }
        l->grant[f->channel] += f->len;
        return 0;
}

static int handle_server(struct copy_link *l, const struct session_frame *f, bool want_data) {
        uint32_t v;
        int sig;

        switch (f->type) {
        case SESSION_DATA:
                if (f->channel != SESSION_STDIN)
                        break;
                if (l->data_eof)
                        return link_fail(l, SESSION_E_PROTOCOL, "DATA on stdin after its EOF");
                if (f->len > l->window)
                        return link_fail(l, SESSION_E_FLOW, "stdin DATA beyond the window");
                l->window -= f->len;
                return take_data(l, f, want_data);
        case SESSION_EOF:
                if (f->channel != SESSION_STDIN || l->data_eof)
                        break;
                l->data_eof = true;
                return 0;
        case SESSION_WINDOW:
                if (f->channel == SESSION_STDOUT)
                        return add_credit(l, &l->credit, f);
                if (f->channel == SESSION_STDERR)
                        return add_credit(l, &l->err_credit, f);
                break;
        case SESSION_SIGNAL:
                /* As for a command: the helper leads its own process group. */
                if (session_u32_decode(f, &v) < 0 || (sig = session_signal_to_native(v)) < 0)
                        return link_fail(l, SESSION_E_PROTOCOL, "a SIGNAL a client may not send");
                kill(0, sig);
                return 0;
        case SESSION_WINSIZE:
                return 0; /* no terminal to resize */
        default:
                break;
        }
        return bad_frame(l, f);
}

/* The helper's messages, on our stderr: lines the VM wrote, so nothing in
 * them may act on the user's terminal. */
static void write_messages(const uint8_t *p, size_t n) {
        char buf[4096];

        while (n > 0) {
                size_t k = MIN(n, sizeof(buf));

                memcpy(buf, p, k);
                str_make_printable(buf, k);
                (void) write_all(STDERR_FILENO, buf, k);
                p += k;
                n -= k;
        }
}

static int handle_client(struct copy_link *l, const struct session_frame *f, bool want_data) {
        const char *msg;
        uint32_t code;
        size_t len;

        switch (f->type) {
        case SESSION_DATA:
                if (f->channel == l->data_ch && !l->sending)
                        return take_data(l, f, want_data);
                if (f->channel == SESSION_STDERR)
                        write_messages(f->payload, f->len);
                if (f->channel == SESSION_STDIN)
                        break;
                l->grant[f->channel] += f->len;
                return 0;
        case SESSION_EOF:
                if (f->channel == l->data_ch && !l->sending)
                        l->data_eof = true;
                return 0;
        case SESSION_WINDOW:
                if (f->channel == SESSION_STDIN && l->sending)
                        return add_credit(l, &l->credit, f);
                break;
        case SESSION_EXIT:
                if (session_exit_decode(f, &l->res->exit) < 0)
                        break;
                l->res->exited = true;
                l->ended = true;
                return 0;
        case SESSION_ERROR:
                if (session_error_decode(f, &code, &msg, &len) < 0)
                        break;
                session_result_set_error(l->res, code, msg, len);
                l->ended = true;
                return 0;
        default:
                break;
        }
        return bad_frame(l, f);
}

/* Handles the frames already read. Returns 1 when an archive frame is held
 * for the reader, 0 when more bytes are needed, or -errno. */
static int process_buffered(struct copy_link *l, bool want_data) {
        struct session_frame f;
        int r;

        if (l->have_cur)
                return 1;
        while (!l->error && !l->ended) {
                r = session_parser_next(l->in, &f);
                if (r == 0)
                        return 0;
                if (r < 0)
                        return l->server ? link_fail(l, (uint32_t) -r, "malformed frame")
                                         : client_fail(l, "reading the daemon's frames (a malformed frame)");
                r = l->server ? handle_server(l, &f, want_data) : handle_client(l, &f, want_data);
                if (r != 0)
                        return r;
        }
        return l->error;
}

/* Encodes grants and (helper) messages. Only between frames being filled.
 * Archive credit waits for a batch unless this side is about to wait. */
static void queue_control(struct copy_link *l, bool waiting) {
        for (int ch = 0; ch < 3; ch++) {
                if (l->grant[ch] == 0 || (ch == l->data_ch && !waiting && l->grant[ch] < GRANT_BATCH))
                        continue;
                if (session_out_u32(&l->out, SESSION_WINDOW, (uint8_t) ch, l->grant[ch]) == 0) {
                        if (ch == SESSION_STDIN)
                                l->window += l->grant[ch];
                        l->grant[ch] = 0;
                }
        }
        if (l->server && l->msg_len > 0 && l->err_credit > 0 && session_out_free(&l->out) > SESSION_HEADER_SIZE) {
                size_t k = l->msg_len;

                k = MIN(k, l->err_credit);
                k = MIN(k, SESSION_PAYLOAD_MAX);
                k = MIN(k, session_out_free(&l->out) - SESSION_HEADER_SIZE);
                if (session_out_frame(&l->out, SESSION_DATA, SESSION_STDERR, l->msg, k) == 0) {
                        l->err_credit -= (uint32_t) k;
                        memmove(l->msg, l->msg + k, l->msg_len - k);
                        l->msg_len -= k;
                }
        }
}

static int receive_some(struct copy_link *l) {
        size_t space;
        uint8_t *p = session_parser_space(l->in, &space);
        ssize_t n = recv(l->sock, p, space, MSG_DONTWAIT);

        if (n < 0) {
                if (errno == EAGAIN || errno == EINTR)
                        return 0;
                l->closed = true;
                return 0;
        }
        if (n == 0) {
                l->closed = true;
                return 0;
        }
        session_parser_fill(l->in, (size_t) n);
        return 1;
}

/* Sends what the socket takes. Returns whether anything went. */
static bool send_queued(struct copy_link *l) {
        size_t before = session_out_len(&l->out);

        if (l->closed || before == 0)
                return false;
        if (session_out_flush(&l->out, l->sock) < 0) {
                /* EPIPE and the like: the peer is gone; what it said is still read. */
                l->closed = l->lost = true;
                l->out.start = l->out.end = 0;
                return false;
        }
        return session_out_len(&l->out) < before;
}

/*
 * One round of the session: handles what was read, sends what it can, reads
 * what came, and waits (for the socket, or wait_fd readable) only when none
 * of that did anything. Returns 1 when an archive frame is held (want_data),
 * 2 when wait_fd is readable, 0 to check again, or -errno.
 */
static int io_round(struct copy_link *l, bool want_data, int wait_fd) {
        struct pollfd p[2];
        bool sent;
        int r;

        r = process_buffered(l, want_data);
        /* After EXIT there is nothing to wait for: a daemon that keeps the
         * connection open must not keep the client too. */
        if (r != 0 || l->ended)
                return r;
        if (!l->open)
                queue_control(l, false);
        sent = send_queued(l);
        if (!l->closed && receive_some(l) > 0)
                return process_buffered(l, want_data);
        /* A sender whose full queue just went out has room for the next
         * frame now: waiting for the peer here would leave the socket to
         * run dry until the peer's next grant. */
        if (sent)
                return 0;
        /* Nothing more to read now: no grant may be held back while waiting. */
        if (!l->open) {
                queue_control(l, true);
                send_queued(l);
        }
        p[0] = (struct pollfd) { .fd = l->sock, .events = 0 };
        if (!l->closed)
                p[0].events = POLLIN | (session_out_len(&l->out) > 0 ? POLLOUT : 0);
        p[1] = (struct pollfd) { .fd = wait_fd, .events = POLLIN };
        if (p[0].events == 0 && wait_fd < 0)
                return 0;
        if (poll(p, wait_fd >= 0 ? 2 : 1, -1) < 0)
                return errno == EINTR ? 0 : negative_errno();
        if (wait_fd >= 0 && p[1].revents)
                return 2;
        return 0;
}

/* Why a sender or reader cannot go on, or 0. */
static int stopped(const struct copy_link *l) {
        if (l->error)
                return l->error;
        return l->closed || l->ended ? -EPIPE : 0;
}

/* The sender of a bulk copy sleeps whenever the socket's send buffer is
 * full and is woken once a quarter of it is left: with the default ~200
 * KiB that is a wake-up (often across CPUs) every few frames on each side.
 * A larger buffer lets each side run longer between sleeps. The kernel
 * caps it (net.core.wmem_max); it is only a hint, so failure is fine. */
static void widen_send_buffer(int sock) {
        int size = SEND_BUFFER;

        (void) setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

int copy_link_new(int sock, struct session_parser *in, bool server, bool sending, struct session_client_result *res,
                  struct copy_link **ret) {
        struct copy_link *l = calloc(1, sizeof(*l));
        int r;

        if (!l || session_out_init(&l->out, OUT_CAP) < 0) {
                free(l);
                free(in);
                return -ENOMEM;
        }
        r = fd_set_nonblock(sock, true);
        if (r < 0) {
                session_out_done(&l->out);
                free(l);
                free(in);
                return r;
        }
        if (sending)
                widen_send_buffer(sock);
        l->sock = sock;
        l->in = in;
        l->server = server;
        l->sending = sending;
        l->res = res;
        /* PUT carries the archive on stdin, GET on stdout. */
        l->data_ch = server == sending ? SESSION_STDOUT : SESSION_STDIN;
        l->credit = sending ? SESSION_WINDOW_INITIAL : 0;
        l->window = SESSION_WINDOW_INITIAL;
        l->err_credit = SESSION_WINDOW_INITIAL;
        if (server)
                /* The daemon handed the session over before STARTED, so
                 * the helper announces itself. */
                session_out_u32(&l->out, SESSION_STARTED, SESSION_CONTROL, (uint32_t) getpid());
        else if (!sending)
                session_out_frame(&l->out, SESSION_EOF, SESSION_STDIN, NULL, 0);
        if (!sending)
                l->grant[l->data_ch] = GRANT_AHEAD;
        *ret = l;
        return 0;
}

struct copy_link *copy_link_free(struct copy_link *l) {
        if (!l)
                return NULL;
        session_out_done(&l->out);
        free(l->in);
        free(l);
        return NULL;
}

/* ---- the sender ---- */

static void close_frame(struct copy_link *l) {
        if (!l->open)
                return;
        if (l->frame_len > 0) {
                session_out_commit(&l->out, SESSION_DATA, l->data_ch, l->frame_len);
                l->credit -= (uint32_t) l->frame_len;
        }
        l->open = false;
}

uint8_t *copy_link_space(struct copy_link *l, size_t min, size_t *ret_room, int *ret_err) {
        int r;

        if (l->open && l->frame_cap - l->frame_len >= min) {
                *ret_room = l->frame_cap - l->frame_len;
                return l->frame + l->frame_len;
        }
        close_frame(l);
        for (;;) {
                size_t max = MIN((size_t) l->credit, SESSION_PAYLOAD_MAX);

                r = stopped(l);
                if (r < 0) {
                        *ret_err = r;
                        return NULL;
                }
                /* A new frame goes behind the queued ones only when it fits
                 * without moving them: else the queue is sent first. */
                if (l->credit >= min && l->out.end + SESSION_HEADER_SIZE + max <= OUT_CAP - CONTROL_ROOM) {
                        l->frame = session_out_reserve(&l->out, max);
                        if (l->frame) {
                                l->open = true;
                                l->frame_len = 0;
                                l->frame_cap = max;
                                *ret_room = max;
                                return l->frame;
                        }
                }
                r = io_round(l, false, -1);
                if (r < 0) {
                        *ret_err = r;
                        return NULL;
                }
        }
}

void copy_link_fill(struct copy_link *l, size_t n) {
        l->frame_len += n;
        if (l->frame_len < l->frame_cap)
                return;
        close_frame(l);
        /* Sent at once when the socket takes it, so the receiver works
         * on this frame while the next one is read. */
        send_queued(l);
}

int copy_link_write(struct copy_link *l, const void *data, size_t n) {
        const uint8_t *d = data;
        int r = 0;

        while (n > 0) {
                size_t room, k;
                uint8_t *p = copy_link_space(l, 1, &room, &r);

                if (!p)
                        return r;
                k = MIN(room, n);
                memcpy(p, d, k);
                copy_link_fill(l, k);
                d += k;
                n -= k;
        }
        return 0;
}

int copy_link_flush(struct copy_link *l) {
        int r;

        close_frame(l);
        while (session_out_len(&l->out) > 0) {
                r = stopped(l);
                if (r < 0)
                        return r;
                r = io_round(l, false, -1);
                if (r < 0)
                        return r;
        }
        /* A peer that closed after taking everything is no failure here. */
        return l->error ? l->error : l->lost ? -EPIPE : 0;
}

int copy_link_wait_readable(struct copy_link *l, int fd) {
        int r;

        close_frame(l);
        for (;;) {
                r = stopped(l);
                if (r < 0)
                        return r;
                r = io_round(l, false, fd);
                if (r < 0)
                        return r;
                if (r == 2)
                        return 0;
        }
}

/* ---- the receiver ---- */

static void release_cur(struct copy_link *l) {
        if (!l->have_cur)
                return;
        l->grant[l->data_ch] += l->cur.len;
        l->have_cur = false;
}

int copy_link_peek(struct copy_link *l, const uint8_t **ret, size_t max) {
        int r;

        while (!l->have_cur || l->cur_off == l->cur.len) {
                release_cur(l);
                /* Frames already read come first, even from a closed peer. */
                r = process_buffered(l, true);
                if (r < 0)
                        return r;
                if (r == 1)
                        continue;
                if (l->data_eof)
                        return -EPIPE;
                r = stopped(l);
                if (r < 0)
                        return r;
                r = io_round(l, true, -1);
                if (r < 0)
                        return r;
        }
        *ret = l->cur.payload + l->cur_off;
        return (int) MIN(max, l->cur.len - l->cur_off);
}

bool copy_link_ended(const struct copy_link *l) {
        return stopped(l) != 0;
}

void copy_link_consume(struct copy_link *l, size_t n) {
        l->cur_off += n;
}

int copy_link_read(struct copy_link *l, void *data, size_t n) {
        uint8_t *d = data;

        while (n > 0) {
                const uint8_t *p;
                int k = copy_link_peek(l, &p, n);

                if (k < 0)
                        return k;
                memcpy(d, p, (size_t) k);
                copy_link_consume(l, (size_t) k);
                d += k;
                n -= (size_t) k;
        }
        return 0;
}

/* ---- messages and the end ---- */

void copy_link_message(struct copy_link *l, const char *line) {
        size_t n = strlen(line);

        if (n + 1 > MSG_MAX - l->msg_len) {
                l->msg_dropped++;
                return;
        }
        memcpy(l->msg + l->msg_len, line, n);
        l->msg[l->msg_len + n] = '\n';
        l->msg_len += n + 1;
}

/* Queues a control frame, serving the session until it fits. */
static int queue_frame(struct copy_link *l, uint8_t type, uint8_t ch, const void *payload, size_t len) {
        int r;

        while (session_out_frame(&l->out, type, ch, payload, len) < 0) {
                r = stopped(l);
                if (r < 0)
                        return r;
                r = io_round(l, false, -1);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void linger(struct copy_link *l) {
        uint64_t deadline = now_ms() + SESSION_LINGER_MS;
        uint8_t scratch[4096];

        shutdown(l->sock, SHUT_WR);
        while (now_ms() < deadline) {
                struct pollfd p = { .fd = l->sock, .events = POLLIN };
                ssize_t n;

                if (poll(&p, 1, ms_left(deadline)) <= 0)
                        continue;
                n = recv(l->sock, scratch, sizeof(scratch), MSG_DONTWAIT);
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                        return;
        }
}

int copy_link_finish_server(struct copy_link *l, int code) {
        struct session_exit e = { .kind = SESSION_EXIT_CODE, .value = (uint32_t) code };
        int r = 0;

        release_cur(l);
        close_frame(l);
        if (l->error == -EBADMSG) {
                /* Whatever data is queued, the ERROR goes behind it. */
                session_out_error(&l->out, l->fail_code, l->fail_msg);
                l->error = 0;
                r = copy_link_flush(l);
                if (r == 0 || r == -EPIPE)
                        linger(l);
                return -EBADMSG;
        }
        if (l->msg_dropped > 0) {
                int n = snprintf(l->msg + l->msg_len, MSG_SUMMARY_MAX, "hvsock: in the VM: %u more messages not shown\n",
                                 l->msg_dropped);

                l->msg_len += (size_t) MIN(n, (int) MSG_SUMMARY_MAX - 1);
                l->msg_dropped = 0;
        }
        while (l->msg_len > 0 && (r = stopped(l)) == 0)
                r = io_round(l, false, -1);
        if (r == 0)
                r = queue_frame(l, SESSION_EOF, SESSION_STDOUT, NULL, 0);
        if (r == 0)
                r = queue_frame(l, SESSION_EOF, SESSION_STDERR, NULL, 0);
        while (r == 0 && session_out_exit(&l->out, &e) < 0) {
                r = stopped(l);
                if (r == 0)
                        r = io_round(l, false, -1);
        }
        if (r == 0)
                r = copy_link_flush(l);
        if (r < 0)
                return r;
        linger(l);
        return 0;
}

int copy_link_finish_client(struct copy_link *l) {
        int r;

        release_cur(l);
        if (l->sending && !l->closed) {
                r = copy_link_flush(l);
                if (r == 0)
                        r = queue_frame(l, SESSION_EOF, SESSION_STDIN, NULL, 0);
                if (r < 0 && r != -EPIPE)
                        return r;
        }
        while (!l->ended) {
                if (l->error)
                        return l->error;
                if (l->closed) {
                        l->res->failed = "the connection closed before the copy ended";
                        return -ECONNRESET;
                }
                r = io_round(l, false, -1);
                if (r < 0)
                        return r;
        }
        return 0;
}
