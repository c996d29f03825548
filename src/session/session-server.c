/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth-pam.h"
#include "copy.h"
#include "fd-util.h"
#include "frame.h"
#include "macro.h"
#include "session-admit.h"
#include "session-server.h"
#include "session-spawn.h"
#include "signal-util.h"
#include "strv.h"
#include "time-util.h"

/* Room kept in the output queue for control frames (WINDOW, ERROR, EXIT),
 * so output data can never crowd them out. */
#define OUT_RESERVE (SESSION_HEADER_SIZE + 4 + SESSION_ERROR_MESSAGE_MAX + 64)
#define OUT_CAP (2 * SESSION_FRAME_MAX + OUT_RESERVE)
/* Credit a client may grant in total; more is a flow-control violation. */
#define CREDIT_MAX (64u * 1024u * 1024u)
/* How long a copy helper whose client went away has to end on its own
 * (it is then lingering after its EXIT) before it is killed. */
#define HELPER_GRACE_MS 1000
/* Out of descriptors, the listener rests this long unless a session ends;
 * failures closer than the quiet time are one burst, logged once. */
#define STARVED_RETRY_MS 1000
#define STARVED_QUIET_MS 5000

enum watch_kind { W_LISTENER, W_SIGNAL, W_SOCK, W_PIPE, W_PAM };

struct watch {
        enum watch_kind kind;
        int fd;
        uint32_t events; /* registered with epoll; 0: not in the set */
};

enum phase {
        PHASE_HELLO,   /* waiting for the client's HELLO */
        PHASE_AUTH,    /* waiting for AUTH (--auth pam) */
        PHASE_EXEC,    /* waiting for EXEC */
        PHASE_PAM,     /* the session's PAM process checks the credentials and starts the command */
        PHASE_RUNNING, /* the command runs; streams are relayed */
        PHASE_CLOSING, /* EXIT or ERROR queued: flush, shut down, drain, free */
        PHASE_HANDED_OFF, /* a copy helper owns the connection: wait for it to exit */
};

struct session {
        struct session *next;
        struct session_server *srv;
        unsigned id;
        bool rejecting; /* refused (session-admit.c): counts against SESSION_ADMIT_ANSWERING only */
        enum phase phase;
        unsigned version; /* negotiated from the HELLOs */
        bool copy;        /* a PUT or GET: the connection goes to the copy helper */
        bool client_talks; /* a copy's client answers its helper before the PAM process reports it */
        /* --auth pam: the credentials AUTH gave (the password only until the
         * PAM process has its copy), the PAM process and its report pipe. */
        struct session_auth auth;
        pid_t pam_pid; /* 0: none, or reaped, or no longer ours to kill */
        struct watch pam;
        struct watch sock;
        /* Indexed by channel: our ends of stdin, stdout, stderr. With a
         * pseudo-terminal, stdout is its master and stdin a dup of it (epoll
         * watches each descriptor on its own); stderr is unused. */
        struct watch pipe[3];
        bool pty;
        struct session_parser *in;
        struct session_out out;
        bool peer_eof, shut_wr;
        uint64_t linger_deadline;
        /* Until the request came: when the client's time is up. */
        uint64_t request_deadline;
        /* Handed off: when the helper is killed, its client being gone. */
        uint64_t orphan_deadline;
        bool orphan_killed;

        pid_t pid; /* 0 before the command starts */
        bool reaped;
        int wstatus;
        uint32_t timeout_s; /* the request's, until the command starts */
        uint64_t deadline;  /* the request's timeout, 0: none */
        bool timed_out;

        /* stdin: bytes received and not yet written to the command. */
        uint8_t *stdin_q;
        size_t q_start, q_len;
        uint32_t stdin_window; /* what the client may still send */
        uint32_t stdin_grant;  /* written to the command, not yet granted back */
        bool stdin_eof;        /* the client sent EOF on stdin */
        /* stdout, stderr: what the client lets us send. */
        uint32_t credit[3];
        bool eof_sent[3];
};

struct session_server {
        int epfd;
        struct watch listener, signal;
        struct hvsock_listener *l;
        struct session_admit admit;
        struct session *sessions;
        unsigned n_sessions, next_id;
        uint32_t request_timeout_s;
        /* Out of descriptors: the listener rests until then (now_ms()) or
         * until a session ends, and clients wait in its backlog. */
        uint64_t starved_until, starved_logged;
        unsigned n_rejecting; /* refused connections, still being answered */
        sigset_t old_mask;
        bool quit;
        enum session_server_auth auth;
        const char *pam_service;
        char *self_exe; /* this daemon's binary, which serves file copies (NULL: unknown) */
};

static void log_session(const struct session *s, const char *fmt, ...) _printf_(2, 3);
static void log_session(const struct session *s, const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "hvsock-sessiond: session %u: ", s->id);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

/* Registers, changes or removes (events 0) fd's interest. A watch that wants
 * nothing is taken out of the set, so a hung-up pipe cannot spin the loop. */
static int watch_set(struct session_server *srv, struct watch *w, uint32_t events) {
        struct epoll_event ev = { .events = events, .data.ptr = w };
        int op;

        if (w->fd < 0 || events == w->events)
                return 0;
        op = events == 0 ? EPOLL_CTL_DEL : w->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
        if (epoll_ctl(srv->epfd, op, w->fd, &ev) < 0)
                return negative_errno();
        w->events = events;
        return 0;
}

static void watch_close(struct session_server *srv, struct watch *w) {
        watch_set(srv, w, 0);
        w->fd = safe_close(w->fd);
}

static void session_kill(struct session *s, int sig) {
        /* The command leads its own process group: signal all of it. */
        if (s->pid > 0 && !s->reaped)
                kill(-s->pid, sig);
}

/* A PAM process that has not started the command yet is killed with its
 * process group (the helpers its modules run, such as unix_chkpwd); once the
 * command runs, killing the command is enough: the PAM process then closes
 * the PAM session and exits. */
static void pam_abort(struct session *s) {
        if (s->pam_pid > 0 && s->pid == 0)
                kill(-s->pam_pid, SIGKILL);
}

static void session_free(struct session *s) {
        struct session_server *srv = s->srv;

        for (struct session **p = &srv->sessions; *p; p = &(*p)->next)
                if (*p == s) {
                        *p = s->next;
                        break;
                }
        srv->n_sessions--;
        if (s->rejecting)
                srv->n_rejecting--;
        srv->starved_until = 0; /* descriptors are free again */
        /* A command whose client is gone has no one to report to. The
         * SIGCHLD handler reaps it. */
        session_kill(s, SIGKILL);
        pam_abort(s);
        watch_close(srv, &s->sock);
        watch_close(srv, &s->pam);
        for (int i = 0; i < 3; i++)
                watch_close(srv, &s->pipe[i]);
        session_out_done(&s->out);
        free(s->stdin_q);
        free(s->in);
        session_auth_done(&s->auth);
        free(s);
}

/* Queues ERROR and closes the session after it is sent; the command, if
 * any, is killed. */
static void session_fail(struct session *s, uint32_t code, const char *fmt, ...) _printf_(3, 4);
static void session_fail(struct session *s, uint32_t code, const char *fmt, ...) {
        char msg[SESSION_ERROR_MESSAGE_MAX + 1];
        va_list ap;

        /* A session handed to its copy helper has nothing more to say. */
        if (s->phase == PHASE_CLOSING || s->phase == PHASE_HANDED_OFF)
                return;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        log_session(s, "%s: %s", session_error_name(code), msg);
        /* The reserve keeps room for one ERROR whatever was queued. */
        session_out_error(&s->out, code, msg);
        s->phase = PHASE_CLOSING;
        session_kill(s, SIGKILL);
        pam_abort(s);
        for (int i = 0; i < 3; i++)
                watch_close(s->srv, &s->pipe[i]);
}

static int new_session(struct session_server *srv, int fd) {
        struct session *s = calloc(1, sizeof(*s));

        if (!s)
                return -ENOMEM;
        s->srv = srv;
        s->id = ++srv->next_id;
        s->sock = (struct watch) { W_SOCK, fd, 0 };
        s->pam = (struct watch) { W_PAM, -1, 0 };
        for (int i = 0; i < 3; i++)
                s->pipe[i] = (struct watch) { W_PIPE, -1, 0 };
        s->in = malloc(sizeof(*s->in));
        s->stdin_q = malloc(SESSION_WINDOW_INITIAL);
        if (!s->in || !s->stdin_q || session_out_init(&s->out, OUT_CAP) < 0) {
                session_out_done(&s->out);
                free(s->in);
                free(s->stdin_q);
                free(s);
                return -ENOMEM;
        }
        session_parser_init(s->in);
        s->stdin_window = SESSION_WINDOW_INITIAL;
        s->credit[SESSION_STDOUT] = s->credit[SESSION_STDERR] = SESSION_WINDOW_INITIAL;
        s->request_deadline = now_ms() + (uint64_t) srv->request_timeout_s * 1000;
        session_out_hello_caps(&s->out, SESSION_VERSION_MIN, SESSION_VERSION_MAX,
                               srv->auth == SESSION_SERVER_AUTH_PAM ? SESSION_CAP_AUTH_PASSWORD : 0);
        s->next = srv->sessions;
        srv->sessions = s;
        srv->n_sessions++;
        return 0;
}

static void accept_sessions(struct session_server *srv) {
        struct session_admission ad;
        int r;

        while ((r = session_admit_next(&srv->admit, srv->l, srv->n_sessions - srv->n_rejecting, srv->n_rejecting,
                                       &ad)) > 0) {
                if (new_session(srv, ad.fd) < 0) {
                        close(ad.fd);
                        continue;
                }
                if (ad.refuse) {
                        /* Told why through the normal closing path, which
                         * lets the client read it. */
                        srv->sessions->rejecting = true;
                        srv->n_rejecting++;
                        session_fail(srv->sessions, ad.refuse, "%s", ad.why);
                }
        }
        if (r == -EMFILE || r == -ENFILE || r == -ENOMEM || r == -ENOBUFS) {
                /* Watched, the listener would report the same client again
                 * at once and spin the loop. Logged once per burst. */
                uint64_t now = now_ms();

                if (!srv->starved_logged || now - srv->starved_logged >= STARVED_QUIET_MS)
                        fprintf(stderr, "hvsock-sessiond: accepting: %s; clients wait in the backlog until a "
                                "session ends\n", hvsock_strerror(r));
                srv->starved_logged = now;
                srv->starved_until = now + STARVED_RETRY_MS;
        } else if (r < 0)
                fprintf(stderr, "hvsock-sessiond: accepting: %s\n", hvsock_strerror(r));
}

/* The listener is watched only while another connection may be taken;
 * otherwise clients wait in its backlog (session-admit.h). */
static void watch_listener(struct session_server *srv) {
        bool room = session_admit_room(&srv->admit, srv->n_sessions - srv->n_rejecting, srv->n_rejecting);

        if (srv->starved_until && now_ms() >= srv->starved_until)
                srv->starved_until = 0;
        room = room && !srv->starved_until;

        (void) watch_set(srv, &srv->listener, room ? EPOLLIN : 0);
}

/* ---- starting the command (session-spawn.c prepares and forks it) ---- */

/* The copy helper runs and owns the connection: it sends STARTED and
 * everything after it. This daemon waits for it to end, and keeps its own
 * descriptor of the connection only to see the client hang up (it reads
 * nothing): a helper may be where it cannot notice that itself (opening a
 * pipe that has no writer, walking a large tree), and must not keep its
 * session slot and its CPU for a client that is gone. */
static void session_handed_off(struct session *s, pid_t pid) {
        s->pid = pid;
        s->phase = PHASE_HANDED_OFF;
}

/* Whether the client of a handed-off session hung up; then the helper has
 * HELPER_GRACE_MS to end before it is killed. */
static void check_orphaned(struct session *s) {
        struct pollfd p = { .fd = s->sock.fd, .events = POLLRDHUP };

        if (s->peer_eof || s->reaped)
                return;
        if (poll(&p, 1, 0) <= 0 || !(p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
                return;
        s->peer_eof = true;
        s->orphan_deadline = now_ms() + HELPER_GRACE_MS;
}

/* The command runs: its streams are relayed from now on. */
static void session_started(struct session *s, pid_t pid) {
        if (s->copy) {
                session_handed_off(s, pid);
                return;
        }
        s->pid = pid;
        if (s->timeout_s)
                s->deadline = now_ms() + (uint64_t) s->timeout_s * 1000;
        s->phase = PHASE_RUNNING;
        session_out_u32(&s->out, SESSION_STARTED, SESSION_CONTROL, (uint32_t) pid);
        if (s->pty) {
                /* A terminal has one output stream: stderr ends at once. */
                session_out_frame(&s->out, SESSION_EOF, SESSION_STDERR, NULL, 0);
                s->eof_sent[SESSION_STDERR] = true;
        }
}

static void take_streams(struct session *s, int ours[3], bool pty) {
        for (int i = 0; i < 3; i++) {
                s->pipe[i].fd = ours[i];
                ours[i] = -1;
                if (s->pipe[i].fd >= 0)
                        fd_set_nonblock(s->pipe[i].fd, true);
        }
        s->pty = pty;
}

/* --auth host: the daemon forks the command itself. */
static void start_direct(struct session *s, struct spawn_ctx *c, int ours[3]) {
        char msg[SESSION_ERROR_MESSAGE_MAX + 1];
        uint32_t code;
        pid_t pid;

        pid = spawn_fork_command(c, NULL, &code, msg, sizeof(msg));
        if (pid < 0) {
                session_fail(s, code, "%s", msg);
                return;
        }
        take_streams(s, ours, c->sp.pty);
        session_started(s, pid);
}

/* Called in the PAM process once the PAM session is open. */
static pid_t pam_spawn(void *data, char **pam_env, uint32_t *ret_code, char *msg, size_t size) {
        struct spawn_ctx *c = data;
        pid_t pid = spawn_fork_command(c, pam_env, ret_code, msg, size);

        /* Held here, the child's ends would hide the command's EOF (and a
         * terminal's hangup) from the daemon for as long as this process lives. */
        spawn_close_child_ends(&c->sp);
        return pid;
}

/* In the child forked for a session's PAM transaction: never returns. */
_Noreturn static void pam_process_run(struct session *s, struct spawn_ctx *c, int report_fd) {
        int keep[] = { report_fd, c->sp.in, c->sp.out, c->sp.err };
        struct session_pam_request req = {
                .service = s->srv->pam_service,
                .user = s->auth.user,
                .password = s->auth.password,
                .user_known = c->pw != NULL,
                .init_groups = c->switch_user,
                .gid = c->pw ? c->pw->pw_gid : 0,
                .spawn = pam_spawn,
                .spawn_data = c,
        };

        /* Its own process group, so the daemon can kill it together with
         * the helpers its modules start (unix_chkpwd, pam_exec). */
        setpgid(0, 0);
        /* Other sessions' sockets and pipes, and this session's daemon
         * ends, would keep their peers from seeing EOF for as long as this
         * process lives. */
        if (close_all_fds_but(keep, ELEMENTSOF(keep)) < 0)
                _exit(1);
        /* PAM modules get the signal state of an ordinary process. */
        sigprocmask(SIG_SETMASK, &s->srv->old_mask, NULL);
        c->sp.under_pam = true;
        c->sp.pam_process = getpid();
        session_pam_process(&req, report_fd);
}

/* --auth pam: a child process runs the PAM transaction and, when PAM
 * accepts, the command; the loop reads its reports (read_pam_reports) and
 * serves the other sessions meanwhile. */
static void start_pam(struct session *s, struct spawn_ctx *c, int ours[3]) {
        int rp[2] = { -1, -1 };
        pid_t pid;

        if (spawn_pipe_pair(rp) < 0) {
                session_fail(s, SESSION_E_INTERNAL, "cannot set up the PAM process: %s", strerror(errno));
                return;
        }
        pid = fork();
        if (pid == 0)
                pam_process_run(s, c, rp[1]);
        if (pid < 0) {
                session_fail(s, SESSION_E_INTERNAL, "cannot start the PAM process: %s", strerror(errno));
                spawn_close_pair(rp);
                return;
        }
        /* Both sides set the group, so it exists whichever runs first. */
        setpgid(pid, pid);
        rp[1] = safe_close(rp[1]);
        s->pam_pid = pid;
        s->pam.fd = rp[0];
        fd_set_nonblock(s->pam.fd, true);
        /* The PAM process has its own copy; ours is of no more use. */
        if (s->auth.password)
                explicit_bzero(s->auth.password, strlen(s->auth.password));
        take_streams(s, ours, c->sp.pty);
        s->phase = PHASE_PAM;
}

/* Starts the request's command (with --auth pam, its PAM process). On
 * failure queues an ERROR saying why. */
static void session_spawn(struct session *s, const struct session_exec *e) {
        bool pam = s->srv->auth == SESSION_SERVER_AUTH_PAM;
        struct spawn_ctx c = { .e = e, .sp = { .in = -1, .out = -1, .err = -1, .pty = e->flags & SESSION_EXEC_PTY } };
        int ours[3] = { -1, -1, -1 };
        _cleanup_free_ char *pwbuf = NULL, *argv0 = NULL;
        char *login_argv[2] = {};
        struct passwd pwd;
        int r;

        if (spawn_lookup_user(e->user, &pwd, &pwbuf, &c.pw) < 0) {
                session_fail(s, SESSION_E_INTERNAL, "out of memory");
                return;
        }
        /* With PAM an unknown user is refused after the PAM transaction,
         * with the message of any invalid credential. */
        if (!c.pw && e->user && !pam) {
                session_fail(s, SESSION_E_BAD_REQUEST, "unknown user '%s'", e->user);
                return;
        }
        if (c.pw && c.pw->pw_uid != geteuid()) {
                if (geteuid() != 0) {
                        session_fail(s, SESSION_E_PERMISSION,
                                     "cannot run as user '%s': the daemon does not run as root", c.pw->pw_name);
                        return;
                }
                c.switch_user = true;
        }
        if (e->flags & SESSION_EXEC_LOGIN) {
                c.sp.path = c.pw && c.pw->pw_shell && *c.pw->pw_shell ? c.pw->pw_shell : "/bin/sh";
                argv0 = spawn_login_argv0(c.sp.path);
                if (!argv0) {
                        session_fail(s, SESSION_E_INTERNAL, "out of memory");
                        return;
                }
                login_argv[0] = argv0;
                c.sp.argv = login_argv;
        } else {
                c.sp.path = e->argv[0];
                c.sp.argv = e->argv;
        }
        if (c.pw || !pam) {
                r = s->copy ? spawn_open_handoff(&c, s->sock.fd) : spawn_open_streams(&c, ours);
                if (r < 0) {
                        session_fail(s, SESSION_E_INTERNAL, "cannot set up the command's %s: %s",
                                     s->copy ? "connection" : c.sp.pty ? "terminal" : "pipes", strerror(-r));
                        return;
                }
        }
        s->timeout_s = e->timeout_s;
        if (pam)
                start_pam(s, &c, ours);
        else
                start_direct(s, &c, ours);
        spawn_close_child_ends(&c.sp);
        for (int i = 0; i < 3; i++)
                safe_close(ours[i]);
}

/* ---- frames from the client ---- */

static void handle_data(struct session *s, const struct session_frame *f) {
        if (f->channel != SESSION_STDIN) {
                session_fail(s, SESSION_E_PROTOCOL, "DATA on channel %u (a client sends only stdin)", f->channel);
                return;
        }
        if (s->stdin_eof) {
                session_fail(s, SESSION_E_PROTOCOL, "DATA on stdin after its EOF");
                return;
        }
        if (f->len > s->stdin_window) {
                session_fail(s, SESSION_E_FLOW, "%u bytes of stdin with a window of %u", f->len, s->stdin_window);
                return;
        }
        s->stdin_window -= f->len;
        if (s->pipe[SESSION_STDIN].fd < 0) {
                /* The command closed its stdin: what still comes is dropped. */
                s->stdin_grant += f->len;
                return;
        }
        /* The window bounds what is queued, so it always fits. */
        if (s->q_start + s->q_len > SESSION_WINDOW_INITIAL - f->len) {
                memmove(s->stdin_q, s->stdin_q + s->q_start, s->q_len);
                s->q_start = 0;
        }
        memcpy(s->stdin_q + s->q_start + s->q_len, f->payload, f->len);
        s->q_len += f->len;
}

static void handle_running(struct session *s, const struct session_frame *f) {
        struct session_winsize ws;
        uint32_t v;
        int sig;

        switch (f->type) {
        case SESSION_DATA:
                handle_data(s, f);
                return;
        case SESSION_EOF:
                if (f->channel != SESSION_STDIN || s->stdin_eof)
                        break;
                s->stdin_eof = true;
                return;
        case SESSION_WINDOW:
                session_u32_decode(f, &v);
                if (f->channel == SESSION_STDIN)
                        break;
                if (v > CREDIT_MAX - s->credit[f->channel]) {
                        session_fail(s, SESSION_E_FLOW, "window of channel %u grown beyond %u bytes", f->channel,
                                     CREDIT_MAX);
                        return;
                }
                s->credit[f->channel] += v;
                return;
        case SESSION_SIGNAL:
                session_u32_decode(f, &v);
                sig = session_signal_to_native(v);
                if (sig < 0) {
                        session_fail(s, SESSION_E_PROTOCOL, "SIGNAL %u is not one a client may send", v);
                        return;
                }
                session_kill(s, sig);
                return;
        case SESSION_WINSIZE:
                /* Without a terminal there is nothing to resize. Setting the
                 * size makes the kernel send SIGWINCH to the foreground job. */
                if (s->pty && s->pipe[SESSION_STDOUT].fd >= 0 && session_winsize_decode(f, &ws) == 0) {
                        struct winsize w = { .ws_row = ws.rows, .ws_col = ws.cols };

                        (void) ioctl(s->pipe[SESSION_STDOUT].fd, TIOCSWINSZ, &w);
                }
                return;
        default:
                break;
        }
        session_fail(s, SESSION_E_PROTOCOL, "unexpected %s frame on channel %u while the command runs",
                     session_type_name(f->type), f->channel);
}

static void session_start_copy(struct session *s, const struct session_copy *c);

/* --auth pam: the first frame after HELLO must be AUTH. It is kept until the
 * request comes (the client sends both at once): the session's PAM process
 * checks it then, and nothing runs unless PAM accepts it. */
static void session_take_auth(struct session *s, const struct session_frame *f) {
        int r;

        if (f->type == SESSION_EXEC || f->type == SESSION_PUT || f->type == SESSION_GET) {
                session_fail(s, SESSION_E_AUTH, "this daemon requires credentials (AUTH) before %s",
                             session_type_name(f->type));
                return;
        }
        if (f->type != SESSION_AUTH) {
                session_fail(s, SESSION_E_PROTOCOL, "expected AUTH, got %s", session_type_name(f->type));
                return;
        }
        r = session_auth_decode(f, &s->auth);
        if (r < 0) {
                session_fail(s, r == -ENOMEM ? SESSION_E_INTERNAL : SESSION_E_PROTOCOL, "malformed AUTH request");
                return;
        }
        s->phase = PHASE_EXEC;
}

static void handle_frame(struct session *s, const struct session_frame *f) {
        struct session_hello ours = { SESSION_VERSION_MIN, SESSION_VERSION_MAX }, theirs;
        struct session_exec e;
        int r;

        switch (s->phase) {
        case PHASE_HELLO:
                if (f->type != SESSION_HELLO || session_hello_decode(f, &theirs) < 0) {
                        session_fail(s, SESSION_E_PROTOCOL, "expected HELLO, got a malformed or %s frame",
                                     session_type_name(f->type));
                        return;
                }
                r = session_version_choose(&ours, &theirs);
                if (r < 0) {
                        session_fail(s, SESSION_E_VERSION, "client speaks versions %u..%u, this daemon %u..%u",
                                     theirs.min_version, theirs.max_version, ours.min_version, ours.max_version);
                        return;
                }
                s->version = (unsigned) r;
                s->phase = s->srv->auth == SESSION_SERVER_AUTH_PAM ? PHASE_AUTH : PHASE_EXEC;
                return;
        case PHASE_AUTH:
                session_take_auth(s, f);
                return;
        case PHASE_EXEC:
                if (f->type == SESSION_PUT || f->type == SESSION_GET) {
                        struct session_copy c;

                        r = session_copy_decode(f, &c);
                        if (r < 0) {
                                session_fail(s, r == -ENOMEM ? SESSION_E_INTERNAL : SESSION_E_PROTOCOL,
                                             "malformed %s request", session_type_name(f->type));
                                return;
                        }
                        session_start_copy(s, &c);
                        session_copy_done(&c);
                        return;
                }
                if (f->type != SESSION_EXEC) {
                        session_fail(s, SESSION_E_PROTOCOL, "expected EXEC, got %s", session_type_name(f->type));
                        return;
                }
                r = session_exec_decode(f, &e);
                if (r == -ENOMEM) {
                        session_fail(s, SESSION_E_INTERNAL, "out of memory");
                        return;
                }
                if (r < 0) {
                        session_fail(s, SESSION_E_PROTOCOL, "malformed EXEC request");
                        return;
                }
                /* An authenticated session runs as the user its credentials name. */
                if (s->auth.user && e.user && strcmp(e.user, s->auth.user) != 0) {
                        session_fail(s, SESSION_E_PERMISSION, "the session's credentials are for user '%s', not '%s'",
                                     s->auth.user, e.user);
                        session_exec_done(&e);
                        return;
                }
                if (s->auth.user && !e.user) {
                        e.user = strdup(s->auth.user);
                        if (!e.user) {
                                session_fail(s, SESSION_E_INTERNAL, "out of memory");
                                session_exec_done(&e);
                                return;
                        }
                }
                session_spawn(s, &e);
                session_exec_done(&e);
                return;
        case PHASE_PAM:
                /* A client sends nothing more before STARTED. */
                session_fail(s, SESSION_E_PROTOCOL, "unexpected %s frame before the command started",
                             session_type_name(f->type));
                return;
        case PHASE_RUNNING:
                handle_running(s, f);
                return;
        case PHASE_CLOSING:
        case PHASE_HANDED_OFF:
                return;
        }
}

/* A PUT or GET runs this daemon's own binary as the copy helper (copy.c)
 * and hands it the connection, so the archive goes between the socket and
 * the files without passing through this process and a pipe. The client
 * sends nothing between its request and STARTED, and this daemon has
 * nothing queued once it read a request (the client waited for its
 * HELLO): the helper starts on a clean frame boundary both ways. With
 * --auth pam the session's PAM process starts the helper, as it starts a
 * command, and the connection is handed over once it reports it running. */
static void session_start_copy(struct session *s, const struct session_copy *c) {
        _cleanup_free_ char **argv = NULL;
        char flags[16], version[16];
        struct session_exec e = {};

        if (session_parser_pending(s->in) > 0) {
                session_fail(s, SESSION_E_PROTOCOL, "frames after the %s request before STARTED",
                             session_type_name(c->type));
                return;
        }
        if (session_out_len(&s->out) > 0) {
                session_fail(s, SESSION_E_INTERNAL, "file copy: the session is not idle");
                return;
        }
        if ((c->flags & SESSION_COPY_SYNC) && s->version < 2) {
                session_fail(s, SESSION_E_PROTOCOL, "the SYNC flag of %s needs protocol version 2",
                             session_type_name(c->type));
                return;
        }
        if (!s->srv->self_exe) {
                session_fail(s, SESSION_E_UNSUPPORTED, "file copy: the daemon cannot find its own binary");
                return;
        }
        argv = calloc(c->count + 6, sizeof(char *));
        if (!argv) {
                session_fail(s, SESSION_E_INTERNAL, "out of memory");
                return;
        }
        snprintf(flags, sizeof(flags), "%u", c->flags);
        snprintf(version, sizeof(version), "%u", s->version);
        argv[0] = s->srv->self_exe;
        argv[1] = (char *) COPY_HELPER_OPTION;
        argv[2] = (char *) (c->type == SESSION_PUT ? "receive" : "send");
        argv[3] = version;
        argv[4] = flags;
        for (size_t i = 0; i < c->count; i++)
                argv[5 + i] = c->paths[i];
        e.argv = argv;
        e.argc = c->count + 5;
        e.user = s->auth.user;
        s->copy = true;
        session_spawn(s, &e);
}

static const char *parse_error_text(int r) {
        return r == -SESSION_E_TOO_BIG ? "frame larger than the maximum of 65536 payload bytes"
                                       : "malformed frame header (type, channel, flags or length)";
}

/* A copy whose PAM process is starting the helper: what the client sends
 * now is for the helper, which may already run, so nothing is read here; a
 * peek only tells whether the client went away (the PAM process is then
 * killed). Once the client talks, the helper runs: its report follows. */
static void peek_hangup(struct session *s) {
        uint8_t b;
        ssize_t n;

        if (s->peer_eof || s->client_talks)
                return;
        n = recv(s->sock.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n > 0)
                s->client_talks = true;
        else if (n == 0 || (errno != EAGAIN && errno != EINTR))
                s->peer_eof = true;
}

static void session_read(struct session *s) {
        struct session_frame f;

        if (s->phase == PHASE_HANDED_OFF) {
                check_orphaned(s);
                return;
        }
        if (s->phase == PHASE_PAM && s->copy) {
                peek_hangup(s);
                return;
        }
        while (!s->peer_eof) {
                uint8_t scratch[4096];
                size_t space = sizeof(scratch);
                /* A session being closed only drains what its peer still sends. */
                bool discard = s->phase == PHASE_CLOSING;
                uint8_t *p = discard ? scratch : session_parser_space(s->in, &space);
                ssize_t n = recv(s->sock.fd, p, space, MSG_DONTWAIT);
                int r;

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                s->peer_eof = true;
                        return;
                }
                if (n == 0) {
                        s->peer_eof = true;
                        if (!discard && session_parser_pending(s->in) > 0)
                                session_fail(s, SESSION_E_PROTOCOL, "connection closed inside a frame");
                        return;
                }
                if (discard)
                        continue;
                session_parser_fill(s->in, (size_t) n);
                while ((r = session_parser_next(s->in, &f)) > 0)
                        handle_frame(s, &f);
                if (r < 0)
                        session_fail(s, (uint32_t) -r, "%s", parse_error_text(r));
        }
}

/* ---- relaying the command's streams ---- */

static void pump_stdin(struct session *s) {
        struct watch *w = &s->pipe[SESSION_STDIN];

        while (w->fd >= 0 && s->q_len > 0) {
                ssize_t n = write(w->fd, s->stdin_q + s->q_start, s->q_len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return;
                        /* EPIPE: the command closed its stdin; the rest is dropped. */
                        s->stdin_grant += (uint32_t) s->q_len;
                        s->q_len = 0;
                        watch_close(s->srv, w);
                        break;
                }
                s->q_start += (size_t) n;
                s->q_len -= (size_t) n;
                s->stdin_grant += (uint32_t) n;
        }
        if (s->q_len == 0)
                s->q_start = 0;
        if (w->fd >= 0 && s->q_len == 0 && s->stdin_eof)
                watch_close(s->srv, w);
}

static void pump_output(struct session *s, int ch) {
        struct watch *w = &s->pipe[ch];

        while (w->fd >= 0 && s->credit[ch] > 0 && session_out_free(&s->out) > OUT_RESERVE + SESSION_HEADER_SIZE) {
                size_t max = session_out_free(&s->out) - OUT_RESERVE - SESSION_HEADER_SIZE;
                uint8_t *p;
                ssize_t n;

                if (max > SESSION_PAYLOAD_MAX)
                        max = SESSION_PAYLOAD_MAX;
                if (max > s->credit[ch])
                        max = s->credit[ch];
                p = session_out_reserve(&s->out, max);
                if (!p)
                        return;
                n = read(w->fd, p, max);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return;
                        n = 0; /* a read error ends the stream like EOF */
                }
                if (n == 0) {
                        watch_close(s->srv, w);
                        session_out_frame(&s->out, SESSION_EOF, (uint8_t) ch, NULL, 0);
                        s->eof_sent[ch] = true;
                        return;
                }
                session_out_commit(&s->out, SESSION_DATA, (uint8_t) ch, (size_t) n);
                s->credit[ch] -= (uint32_t) n;
        }
}

static void send_exit(struct session *s) {
        struct session_exit e = {};

        if (WIFSIGNALED(s->wstatus)) {
                e.kind = SESSION_EXIT_SIGNAL;
                e.value = session_signal_from_native(WTERMSIG(s->wstatus));
                if (WCOREDUMP(s->wstatus))
                        e.flags |= SESSION_EXIT_CORE;
        } else
                e.value = (uint32_t) WEXITSTATUS(s->wstatus);
        if (s->timed_out)
                e.flags |= SESSION_EXIT_TIMED_OUT;
        session_out_exit(&s->out, &e);
        s->phase = PHASE_CLOSING;
        watch_close(s->srv, &s->pipe[SESSION_STDIN]);
}

/* A report of the session's PAM process (auth-pam.h). */
static void handle_pam_report(struct session *s, const struct session_pam_report *rep) {
        switch (rep->kind) {
        case SESSION_PAM_AUTHENTICATED:
                log_session(s, "authenticated as user '%s'", s->auth.user);
                return;
        case SESSION_PAM_FAILED:
                /* It exits by itself now: not ours to kill any more. */
                s->pam_pid = 0;
                if (rep->detail[0])
                        log_session(s, "%.*s", (int) sizeof(rep->detail), rep->detail);
                session_fail(s, rep->code, "%.*s", (int) sizeof(rep->message), rep->message);
                return;
        case SESSION_PAM_STARTED:
                if (s->phase == PHASE_PAM && rep->value > 0)
                        session_started(s, rep->value);
                return;
        case SESSION_PAM_EXITED:
                s->reaped = true;
                s->wstatus = rep->value;
                return;
        }
}

static void read_pam_reports(struct session *s) {
        struct session_pam_report rep;

        while (s->pam.fd >= 0) {
                ssize_t n = read(s->pam.fd, &rep, sizeof(rep));

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return;
                if (n == (ssize_t) sizeof(rep)) {
                        handle_pam_report(s, &rep);
                        continue;
                }
                /* EOF (records are never split): the process is gone. One
                 * that dies before it reports the command's end leaves the
                 * session without a status to give. */
                watch_close(s->srv, &s->pam);
                if (s->phase == PHASE_HANDED_OFF && !s->reaped) {
                        /* The helper dies with it (PR_SET_PDEATHSIG). */
                        log_session(s, "the session's PAM process ended before the copy helper");
                        s->reaped = true;
                        s->wstatus = W_EXITCODE(1, 0);
                }
                if (s->phase == PHASE_PAM || (s->phase == PHASE_RUNNING && !s->reaped))
                        session_fail(s, SESSION_E_INTERNAL, "the session's PAM process ended unexpectedly");
        }
}

/* A session handed to its copy helper ends when the helper does: reaped
 * through the signalfd, or (--auth pam) reported by the PAM process. */
static bool handed_off_progress(struct session *s) {
        if (!s->reaped) {
                if (s->peer_eof && !s->orphan_killed && now_ms() >= s->orphan_deadline) {
                        log_session(s, "the client went away: ending its copy helper");
                        session_kill(s, SIGKILL);
                        s->orphan_killed = true;
                }
                watch_set(s->srv, &s->sock, s->peer_eof ? 0 : EPOLLRDHUP);
                watch_set(s->srv, &s->pam, EPOLLIN);
                return true;
        }
        if (!s->orphan_killed && (!WIFEXITED(s->wstatus) || WEXITSTATUS(s->wstatus) > 1))
                log_session(s, "the copy helper failed (status 0x%x)", (unsigned) s->wstatus);
        session_free(s);
        return false;
}

/* Does what can be done now, then sets the epoll interests. Returns false
 * when the session is over and was freed. */
/* Before its request a session holds a slot on the client's word alone:
 * that wait is bounded (--request-timeout). */
static bool awaiting_request(const struct session *s) {
        return s->phase == PHASE_HELLO || s->phase == PHASE_AUTH || s->phase == PHASE_EXEC;
}

static bool session_progress(struct session *s) {
        struct session_server *srv = s->srv;
        uint32_t ev;
        int r;

        read_pam_reports(s);
        if (awaiting_request(s) && now_ms() >= s->request_deadline)
                session_fail(s, SESSION_E_TIMEOUT, "no request within %u s of connecting", srv->request_timeout_s);
        if (s->phase == PHASE_HANDED_OFF)
                return handed_off_progress(s);
        if (s->phase == PHASE_RUNNING) {
                if (s->deadline && !s->reaped && now_ms() >= s->deadline && !s->timed_out) {
                        s->timed_out = true;
                        session_kill(s, SIGKILL);
                }
                pump_stdin(s);
                /* Grants leave the room an ERROR frame needs. */
                if (s->stdin_grant > 0 && session_out_free(&s->out) > OUT_RESERVE / 2 &&
                    session_out_u32(&s->out, SESSION_WINDOW, SESSION_STDIN, s->stdin_grant) == 0) {
                        s->stdin_window += s->stdin_grant;
                        s->stdin_grant = 0;
                }
                pump_output(s, SESSION_STDOUT);
                pump_output(s, SESSION_STDERR);
                /* All output is sent before EXIT, so the client has every byte when it exits. */
                if (s->reaped && s->eof_sent[SESSION_STDOUT] && s->eof_sent[SESSION_STDERR])
                        send_exit(s);
        }
        r = session_out_flush(&s->out, s->sock.fd);
        if (r < 0) {
                if (s->phase != PHASE_CLOSING)
                        log_session(s, "client went away: %s", strerror(-r));
                session_free(s);
                return false;
        }
        if (s->peer_eof && s->phase != PHASE_CLOSING) {
                log_session(s, "client closed the connection before the command ended");
                session_free(s);
                return false;
        }
        if (s->phase == PHASE_CLOSING && session_out_len(&s->out) == 0) {
                if (!s->shut_wr) {
                        shutdown(s->sock.fd, SHUT_WR);
                        s->shut_wr = true;
                        s->linger_deadline = now_ms() + SESSION_LINGER_MS;
                }
                if (s->peer_eof || now_ms() >= s->linger_deadline) {
                        session_free(s);
                        return false;
                }
        }

        ev = s->peer_eof ? 0 : EPOLLIN;
        /* Only the client's hang-up: its bytes are for the copy helper. */
        if (s->phase == PHASE_PAM && s->copy)
                ev = s->peer_eof || s->client_talks ? 0 : EPOLLRDHUP;
        if (session_out_len(&s->out) > 0)
                ev |= EPOLLOUT;
        watch_set(srv, &s->sock, ev);
        watch_set(srv, &s->pam, EPOLLIN);
        /* Before the command starts (PAM), its pipes have nothing to say. */
        watch_set(srv, &s->pipe[SESSION_STDIN], s->q_len > 0 ? EPOLLOUT : 0);
        for (int ch = SESSION_STDOUT; ch <= SESSION_STDERR; ch++)
                watch_set(srv, &s->pipe[ch],
                          s->phase == PHASE_RUNNING && s->credit[ch] > 0 &&
                                          session_out_free(&s->out) > OUT_RESERVE + SESSION_HEADER_SIZE
                                  ? EPOLLIN
                                  : 0);
        return true;
}

/* ---- signals ---- */

static void reap_children(struct session_server *srv) {
        for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, WNOHANG);

                if (pid <= 0)
                        return;
                for (struct session *s = srv->sessions; s; s = s->next) {
                        if (s->pid == pid) {
                                s->reaped = true;
                                s->wstatus = status;
                        }
                        /* Never signal a pid that may be reused. */
                        if (s->pam_pid == pid)
                                s->pam_pid = 0;
                }
        }
}

static void read_signals(struct session_server *srv) {
        struct signalfd_siginfo si;

        while (read(srv->signal.fd, &si, sizeof(si)) == (ssize_t) sizeof(si)) {
                if (si.ssi_signo == SIGCHLD)
                        reap_children(srv);
                else
                        srv->quit = true;
        }
}

static int next_timeout(const struct session_server *srv) {
        uint64_t next = srv->starved_until;

        for (const struct session *s = srv->sessions; s; s = s->next) {
                uint64_t d = s->phase == PHASE_CLOSING && s->shut_wr ? s->linger_deadline
                             : s->phase == PHASE_RUNNING && !s->timed_out ? s->deadline
                             : awaiting_request(s)                        ? s->request_deadline
                             : s->phase == PHASE_HANDED_OFF && s->peer_eof && !s->orphan_killed && !s->reaped
                                     ? s->orphan_deadline
                                     : 0;
                if (d && (!next || d < next))
                        next = d;
        }
        return next ? ms_left(next) : -1;
}

int session_server_new(struct hvsock_listener *l, const struct session_server_config *cfg,
                       struct session_server **ret) {
        struct session_server *srv = calloc(1, sizeof(*srv));
        sigset_t mask;
        int r;

        if (!srv)
                return -ENOMEM;
        srv->l = l;
        srv->auth = cfg ? cfg->auth : SESSION_SERVER_AUTH_HOST;
        srv->admit = (struct session_admit) {
                .auth = srv->auth,
                .max_sessions = cfg && cfg->max_sessions ? cfg->max_sessions : SESSION_SERVER_MAX_SESSIONS_DEFAULT,
                .self = geteuid(),
        };
        srv->pam_service = cfg && cfg->pam_service ? cfg->pam_service : SESSION_PAM_SERVICE;
        srv->request_timeout_s = cfg && cfg->request_timeout_s ? cfg->request_timeout_s : SESSION_REQUEST_TIMEOUT_DEFAULT;
        srv->listener = (struct watch) { W_LISTENER, hvsock_listener_fd(l), 0 };
        /* Resolved now: a child that switched users may not read /proc/self/exe. */
        srv->self_exe = realpath("/proc/self/exe", NULL);
        srv->signal = (struct watch) { W_SIGNAL, -1, 0 };
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigset_add_stop_signals(&mask);
        sigprocmask(SIG_BLOCK, &mask, &srv->old_mask);
        signal(SIGPIPE, SIG_IGN);
        srv->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (srv->epfd < 0) {
                r = negative_errno();
                goto fail;
        }
        srv->signal.fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (srv->signal.fd < 0) {
                r = negative_errno();
                goto fail;
        }
        r = watch_set(srv, &srv->listener, EPOLLIN);
        if (r >= 0)
                r = watch_set(srv, &srv->signal, EPOLLIN);
        if (r < 0)
                goto fail;
        *ret = srv;
        return 0;
fail:
        session_server_free(srv);
        return r;
}

int session_server_run(struct session_server *srv) {
        struct epoll_event events[64];

        while (!srv->quit) {
                int n = epoll_wait(srv->epfd, events, (int) ELEMENTSOF(events), next_timeout(srv));

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                /* Sessions are only freed in the pass below, so every
                 * pointer in this batch stays valid while it is handled. */
                for (int i = 0; i < n; i++) {
                        struct watch *w = events[i].data.ptr;

                        if (w->kind == W_LISTENER)
                                accept_sessions(srv);
                        else if (w->kind == W_SIGNAL)
                                read_signals(srv);
                }
                for (struct session *s = srv->sessions, *next; s; s = next) {
                        next = s->next;
                        session_read(s);
                }
                for (struct session *s = srv->sessions, *next; s; s = next) {
                        next = s->next;
                        session_progress(s);
                }
                watch_listener(srv);
        }
        return 0;
}

struct session_server *session_server_free(struct session_server *srv) {
        if (!srv)
                return NULL;
        while (srv->sessions)
                session_free(srv->sessions);
        /* Every command was killed above: wait for them so none is left a zombie. */
        while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
                ;
        safe_close(srv->signal.fd);
        safe_close(srv->epfd);
        free(srv->self_exe);
        sigprocmask(SIG_SETMASK, &srv->old_mask, NULL);
        free(srv);
        return NULL;
}
