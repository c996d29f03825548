/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "fd-util.h"
#include "macro.h"
#include "session-client.h"
#include "string-util.h"

/* Room kept for WINDOW and SIGNAL frames ahead of stdin data. */
#define OUT_RESERVE 256u
#define OUT_CAP (SESSION_FRAME_MAX + OUT_RESERVE)

enum client_phase { WAIT_HELLO, WAIT_STARTED, RUNNING };

struct client {
        int sock, in_fd, fds[3]; /* fds[1], fds[2]: where stdout and stderr go */
        enum client_phase phase;
        struct session_parser *in;
        struct session_out out;
        const struct session_exec *req;
        const struct session_copy *copy;
        int (*credential)(void *data, struct session_auth *ret);
        void *credential_data;
        uint32_t stdin_credit;
        bool in_eof;
        bool broken[3];   /* that output's reader went away: its data is dropped */
        uint32_t grant[3]; /* written out, not yet granted back */
        int pending_signal; /* received before the command started */
        int tty_fd;         /* whose window size SIGWINCH sends, or -1 */
        bool pending_winsize; /* SIGWINCH before the command started */
        bool stop_at_started; /* a copy: the session is handed over at STARTED */
        unsigned version;     /* negotiated from the HELLOs */
        struct session_client_result *res;
};

static int fail(struct client *c, int err, const char *what) {
        c->res->failed = what;
        return err;
}

static void queue_signal(struct client *c, int sig) {
        if (c->phase != RUNNING) {
                /* Nothing runs yet to receive it. SIGTERM and SIGHUP, or a
                 * second signal, end the wait: a daemon that never answers
                 * must not leave an unkillable client. A first SIGINT or
                 * SIGQUIT is kept for the command about to start. */
                if (sig == SIGTERM || sig == SIGHUP || c->pending_signal)
                        c->res->interrupted = sig;
                c->pending_signal = sig;
                return;
        }
        session_out_u32(&c->out, SESSION_SIGNAL, SESSION_CONTROL, session_signal_from_native(sig));
}

static void queue_winsize(struct client *c) {
        struct session_winsize w;

        if (c->phase != RUNNING) {
                c->pending_winsize = true;
                return;
        }
        c->pending_winsize = false;
        if (session_client_winsize(c->tty_fd, &w) == 0)
                session_out_winsize(&c->out, &w);
}

static int write_output(struct client *c, int ch, const uint8_t *data, size_t len) {
        int r;

        c->grant[ch] += (uint32_t) len;
        if (c->broken[ch])
                return 0;
        r = write_all(c->fds[ch], data, len);
        if (r == -EPIPE) {
                /* Like a local command whose reader left: the rest is dropped. */
                c->broken[ch] = true;
                return 0;
        }
        if (r < 0)
                return fail(c, r, ch == SESSION_STDOUT ? "writing standard output" : "writing standard error");
        return 0;
}

/* AUTH goes right before the request, which the daemon reads only once it
 * accepted the credentials. */
static int send_auth(struct client *c) {
        struct session_auth a = {};
        int r;

        if (!c->credential)
                return fail(c, -EACCES, "the daemon requires credentials");
        r = c->credential(c->credential_data, &a);
        if (r < 0)
                return fail(c, r, "getting the credentials");
        r = session_out_auth(&c->out, a.user, a.password);
        session_auth_done(&a);
        if (r < 0)
                return fail(c, r, "sending the credentials");
        return 0;
}

/* A version-1 daemon knows no SYNC flag (and always syncs): it is not sent there. */
static int send_copy(struct client *c) {
        struct session_copy req = *c->copy;

        if (c->version < 2)
                req.flags &= ~SESSION_COPY_SYNC;
        return session_out_copy(&c->out, &req);
}

void session_result_set_error(struct session_client_result *res, uint32_t code, const char *msg, size_t len) {
        if (len > SESSION_ERROR_MESSAGE_MAX)
                len = SESSION_ERROR_MESSAGE_MAX;
        res->error_code = code;
        memcpy(res->error_message, msg, len);
        res->error_message[len] = '\0';
        str_make_printable(res->error_message, len);
        for (size_t i = 0; i < len; i++)
                if (res->error_message[i] == '\n' || res->error_message[i] == '\t')
                        res->error_message[i] = ' ';
}

/* Returns 1 when the session is over, 2 when it is handed over (a copy's
 * STARTED), 0 to go on, or -errno. */
static int handle_frame(struct client *c, const struct session_frame *f) {
        struct session_hello ours = { SESSION_VERSION_MIN, SESSION_VERSION_MAX }, theirs;
        const char *msg;
        size_t len;
        uint32_t v;
        int version;

        if (f->type == SESSION_ERROR) {
                if (session_error_decode(f, &v, &msg, &len) < 0)
                        return fail(c, -EPROTO, "reading the daemon's error");
                session_result_set_error(c->res, v, msg, len);
                return 1;
        }
        switch (c->phase) {
        case WAIT_HELLO:
                if (f->type != SESSION_HELLO || session_hello_decode(f, &theirs) < 0)
                        return fail(c, -EPROTO, "expecting the daemon's HELLO");
                version = session_version_choose(&ours, &theirs);
                if (version < 0) {
                        c->res->error_code = SESSION_E_VERSION;
                        snprintf(c->res->error_message, sizeof(c->res->error_message),
                                 "the daemon speaks protocol versions %u..%u, this client %u..%u",
                                 theirs.min_version, theirs.max_version, ours.min_version, ours.max_version);
                        return 1;
                }
                c->version = (unsigned) version;
                c->phase = WAIT_STARTED;
                if (theirs.capabilities & SESSION_CAP_AUTH_PASSWORD) {
                        int r = send_auth(c);

                        if (r < 0)
                                return r;
                }
                v = (uint32_t) (c->copy ? send_copy(c) : session_out_exec(&c->out, c->req));
                if ((int) v < 0)
                        return fail(c, (int) v, "sending the request");
                return 0;
        case WAIT_STARTED:
                if (f->type != SESSION_STARTED)
                        return fail(c, -EPROTO, "expecting STARTED");
                c->phase = RUNNING;
                if (c->stop_at_started)
                        return 2;
                if (c->in_fd < 0 && session_out_frame(&c->out, SESSION_EOF, SESSION_STDIN, NULL, 0) < 0)
                        return fail(c, -ENOBUFS, "sending the end of standard input");
                if (c->pending_signal)
                        queue_signal(c, c->pending_signal);
                if (c->pending_winsize)
                        queue_winsize(c);
                return 0;
        case RUNNING:
                break;
        }
        switch (f->type) {
        case SESSION_DATA:
                if (f->channel == SESSION_STDIN)
                        break;
                return write_output(c, f->channel, f->payload, f->len);
        case SESSION_EOF:
                if (f->channel == SESSION_STDIN)
                        break;
                return 0;
        case SESSION_WINDOW:
                if (f->channel != SESSION_STDIN || session_u32_decode(f, &v) < 0 ||
                    v > UINT32_MAX - c->stdin_credit)
                        break;
                c->stdin_credit += v;
                return 0;
        case SESSION_EXIT:
                if (session_exit_decode(f, &c->res->exit) < 0)
                        break;
                c->res->exited = true;
                return 1;
        default:
                break;
        }
        return fail(c, -EPROTO, "reading the daemon's frames (an unexpected frame)");
}

static int read_sock(struct client *c) {
        struct session_frame f;
        size_t space;
        uint8_t *p = session_parser_space(c->in, &space);
        ssize_t n = recv(c->sock, p, space, MSG_DONTWAIT);
        int r;

        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : fail(c, negative_errno(), "receiving");
        if (n == 0)
                return fail(c, -ECONNRESET, "the connection closed before the command ended");
        session_parser_fill(c->in, (size_t) n);
        while ((r = session_parser_next(c->in, &f)) > 0) {
                r = handle_frame(c, &f);
                if (r != 0)
                        return r;
        }
        return r < 0 ? fail(c, -EPROTO, "reading the daemon's frames (a malformed frame)") : 0;
}

static int read_stdin(struct client *c) {
        size_t max = session_out_free(&c->out) - OUT_RESERVE - SESSION_HEADER_SIZE;
        uint8_t *p;
        ssize_t n;

        if (max > SESSION_PAYLOAD_MAX)
                max = SESSION_PAYLOAD_MAX;
        if (max > c->stdin_credit)
                max = c->stdin_credit;
        p = session_out_reserve(&c->out, max);
        if (!p)
                return 0;
        n = read(c->in_fd, p, max);
        if (n < 0) {
                if (errno == EAGAIN || errno == EINTR)
                        return 0;
                return fail(c, negative_errno(), "reading standard input");
        }
        if (n == 0) {
                c->in_eof = true;
                return session_out_frame(&c->out, SESSION_EOF, SESSION_STDIN, NULL, 0);
        }
        session_out_commit(&c->out, SESSION_DATA, SESSION_STDIN, (size_t) n);
        c->stdin_credit -= (uint32_t) n;
        return 0;
}

static void read_signals(struct client *c, int sig_fd) {
        struct signalfd_siginfo si;

        while (read(sig_fd, &si, sizeof(si)) == (ssize_t) sizeof(si)) {
                if (si.ssi_signo == SIGWINCH && c->tty_fd >= 0)
                        queue_winsize(c);
                else
                        queue_signal(c, (int) si.ssi_signo);
        }
}

static bool want_stdin(const struct client *c) {
        return c->phase == RUNNING && !c->in_eof && c->stdin_credit > 0 &&
               session_out_free(&c->out) > OUT_RESERVE + SESSION_HEADER_SIZE;
}

static int client_loop(struct client *c, int sig_fd) {
        for (;;) {
                struct pollfd p[3] = {
                        { .fd = c->sock, .events = POLLIN },
                        { .fd = want_stdin(c) ? c->in_fd : -1, .events = POLLIN },
                        { .fd = sig_fd, .events = POLLIN },
                };
                int r;

                for (int ch = SESSION_STDOUT; ch <= SESSION_STDERR; ch++)
                        if (c->grant[ch] > 0 && session_out_u32(&c->out, SESSION_WINDOW, (uint8_t) ch, c->grant[ch]) == 0)
                                c->grant[ch] = 0;
                r = session_out_flush(&c->out, c->sock);
                if (r < 0) {
                        /* A daemon that ended the session may have said why first. */
                        for (int i = 0, rr; i < 64 && (rr = read_sock(c)) >= 0; i++)
                                if (rr > 0)
                                        return 0;
                        return fail(c, r, "sending");
                }
                if (session_out_len(&c->out) > 0)
                        p[0].events |= POLLOUT;
                if (poll(p, ELEMENTSOF(p), -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return fail(c, negative_errno(), "waiting for events");
                }
                if (p[2].revents) {
                        read_signals(c, sig_fd);
                        if (c->res->interrupted)
                                return fail(c, -EINTR, "waiting for the command to start");
                }
                if (p[1].revents) {
                        r = read_stdin(c);
                        if (r < 0)
                                return r;
                }
                if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
                        r = read_sock(c);
                        if (r != 0)
                                return r < 0 ? r : r - 1;
                }
        }
}

int session_client_winsize(int tty_fd, struct session_winsize *ret) {
        struct winsize ws;

        if (ioctl(tty_fd, TIOCGWINSZ, &ws) < 0)
                return negative_errno();
        *ret = (struct session_winsize) { ws.ws_row, ws.ws_col };
        return 0;
}

int session_client_exec(int sock, const struct session_exec *e, int in_fd, int out_fd, int err_fd, int sig_fd,
                        struct session_client_result *ret) {
        struct session_client_io io = { in_fd, out_fd, err_fd, sig_fd, -1 };

        return session_client_run(sock, e, &io, ret);
}

/* Runs the session; with stop_at_started, up to a copy's STARTED: then
 * returns 1 with the parser in *ret_in and the version in *ret_version. */
static int client_run(int sock, const struct session_exec *e, const struct session_client_io *io,
                      struct session_client_result *ret, struct session_parser **ret_in, unsigned *ret_version) {
        struct client c = {
                .sock = sock,
                .in_fd = io->in_fd,
                .fds = { -1, io->out_fd, io->err_fd },
                .req = e,
                .copy = io->copy,
                .credential = io->credential,
                .credential_data = io->credential_data,
                .stdin_credit = SESSION_WINDOW_INITIAL,
                .in_eof = io->in_fd < 0,
                .tty_fd = io->tty_fd,
                .stop_at_started = ret_in != NULL,
                .res = ret,
        };
        int sig_fd = io->sig_fd;
        int r;

        memset(ret, 0, sizeof(*ret));
        r = fd_set_nonblock(sock, true);
        if (r < 0)
                return fail(&c, r, "setting up the connection");
        c.in = malloc(sizeof(*c.in));
        if (!c.in || session_out_init(&c.out, OUT_CAP) < 0) {
                free(c.in);
                return fail(&c, -ENOMEM, "setting up the session");
        }
        session_parser_init(c.in);
        session_out_hello(&c.out, SESSION_VERSION_MIN, SESSION_VERSION_MAX);
        r = client_loop(&c, sig_fd);
        session_out_done(&c.out);
        if (r == 1) {
                *ret_in = c.in;
                *ret_version = c.version;
                return 1;
        }
        free(c.in);
        return r;
}

int session_client_run(int sock, const struct session_exec *e, const struct session_client_io *io,
                       struct session_client_result *ret) {
        return client_run(sock, e, io, ret, NULL, NULL);
}

int session_client_start_copy(int sock, const struct session_client_io *io, struct session_client_result *ret,
                              struct session_parser **ret_in, unsigned *ret_version) {
        int r = client_run(sock, NULL, io, ret, ret_in, ret_version);

        return r == 1 ? 0 : r == 0 ? 1 : r;
}
