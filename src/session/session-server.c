/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <pwd.h>
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "auth-pam.h"
#include "copy.h"
#include "fd-util.h"
#include "frame.h"
#include "macro.h"
#include "session-server.h"
#include "time-util.h"

/* Room kept in the output queue for control frames (WINDOW, ERROR, EXIT),
 * so output data can never crowd them out. */
#define OUT_RESERVE (SESSION_HEADER_SIZE + 4 + SESSION_ERROR_MESSAGE_MAX + 64)
#define OUT_CAP (2 * SESSION_FRAME_MAX + OUT_RESERVE)
/* Credit a client may grant in total; more is a flow-control violation. */
#define CREDIT_MAX (64u * 1024u * 1024u)
/* Connections beyond the session limit that are answered BUSY at once. */
#define REJECTING_MAX 16u
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

enum watch_kind { W_LISTENER, W_SIGNAL, W_SOCK, W_PIPE };

struct watch {
        enum watch_kind kind;
        int fd;
        uint32_t events; /* registered with epoll; 0: not in the set */
};

enum phase {
        PHASE_HELLO,   /* waiting for the client's HELLO */
        PHASE_AUTH,    /* waiting for AUTH (--auth pam) */
        PHASE_EXEC,    /* waiting for EXEC */
        PHASE_RUNNING, /* the command runs; streams are relayed */
        PHASE_CLOSING, /* EXIT or ERROR queued: flush, shut down, drain, free */
        PHASE_HANDED_OFF, /* a copy helper owns the connection: wait for it to exit */
};

struct session {
        struct session *next;
        struct session_server *srv;
        unsigned id;
        bool rejecting; /* refused as BUSY: counts against REJECTING_MAX only */
        enum phase phase;
        unsigned version; /* negotiated from the HELLOs */
        char *auth_user; /* who AUTH authenticated (--auth pam), else NULL */
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

        pid_t pid; /* 0 before the command starts */
        bool reaped;
        int wstatus;
        uint64_t deadline; /* the request's timeout, 0: none */
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
        struct session *sessions;
        unsigned n_sessions, max_sessions, next_id;
        unsigned n_rejecting; /* sessions refused as BUSY, still closing */
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
        /* A command whose client is gone has no one to report to. The
         * SIGCHLD handler reaps it. */
        session_kill(s, SIGKILL);
        watch_close(srv, &s->sock);
        for (int i = 0; i < 3; i++)
                watch_close(srv, &s->pipe[i]);
        session_out_done(&s->out);
        free(s->stdin_q);
        free(s->in);
        free(s->auth_user);
        free(s);
}

/* Queues ERROR and closes the session after it is sent; the command, if
 * any, is killed. */
static void session_fail(struct session *s, uint32_t code, const char *fmt, ...) _printf_(3, 4);
static void session_fail(struct session *s, uint32_t code, const char *fmt, ...) {
        char msg[SESSION_ERROR_MESSAGE_MAX + 1];
        va_list ap;

        if (s->phase == PHASE_CLOSING)
                return;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        log_session(s, "%s: %s", session_error_name(code), msg);
        /* The reserve keeps room for one ERROR whatever was queued. */
        session_out_error(&s->out, code, msg);
        s->phase = PHASE_CLOSING;
        session_kill(s, SIGKILL);
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
        session_out_hello_caps(&s->out, SESSION_VERSION_MIN, SESSION_VERSION_MAX,
                               srv->auth == SESSION_SERVER_AUTH_PAM ? SESSION_CAP_AUTH_PASSWORD : 0);
        s->next = srv->sessions;
        srv->sessions = s;
        srv->n_sessions++;
        return 0;
}

static void accept_sessions(struct session_server *srv) {
        bool busy;

        for (;;) {
                int fd = hvsock_accept(srv->l, 0, NULL);

                if (fd == -EAGAIN || fd == -EINTR)
                        return;
                if (fd < 0) {
                        /* Out of fds or memory: the client is refused, the daemon goes on. */
                        fprintf(stderr, "hvsock-sessiond: accepting: %s\n", hvsock_strerror(fd));
                        return;
                }
                if (fd_set_nonblock(fd, true) < 0) {
                        close(fd);
                        continue;
                }
                /* Beyond the limit a few more are told why (through the
                 * normal closing path, which lets them read it); past
                 * those, they are closed at once. */
                busy = srv->n_sessions - srv->n_rejecting >= srv->max_sessions;
                if ((busy && srv->n_rejecting >= REJECTING_MAX) || new_session(srv, fd) < 0) {
                        close(fd);
                        continue;
                }
                if (busy) {
                        srv->sessions->rejecting = true;
                        srv->n_rejecting++;
                        session_fail(srv->sessions, SESSION_E_BUSY, "the daemon already serves its maximum of %u sessions",
                                     srv->max_sessions);
                }
        }
}

/* ---- starting the command ---- */

struct spawn_failure {
        int step; /* 0 setup, 1 user, 2 cwd, 3 exec */
        int err;
};

static char **build_env(const struct session_exec *e, const struct passwd *pw) {
        size_t n = 0, cap = e->envc + 8;
        char **env = calloc(cap, sizeof(char *));

        if (!env)
                return NULL;
        /* A login-like base, then the request's entries replace same-named ones. */
        if (asprintf(&env[n++], "PATH=%s", DEFAULT_PATH) < 0)
                goto oom;
        if (pw) {
                if (asprintf(&env[n++], "HOME=%s", pw->pw_dir) < 0 ||
                    asprintf(&env[n++], "USER=%s", pw->pw_name) < 0 ||
                    asprintf(&env[n++], "LOGNAME=%s", pw->pw_name) < 0 ||
                    asprintf(&env[n++], "SHELL=%s", pw->pw_shell && *pw->pw_shell ? pw->pw_shell : "/bin/sh") < 0)
                        goto oom;
        }
        if (e->term && asprintf(&env[n++], "TERM=%s", e->term) < 0)
                goto oom;
        for (size_t i = 0; i < e->envc; i++) {
                size_t klen = (size_t) (strchr(e->env[i], '=') - e->env[i]) + 1;
                size_t j;

                for (j = 0; j < n; j++)
                        if (strncmp(env[j], e->env[i], klen) == 0)
                                break;
                free(j < n ? env[j] : NULL);
                env[j] = strdup(e->env[i]);
                if (!env[j])
                        goto oom;
                if (j == n)
                        n++;
        }
        return env;
oom:
        for (size_t i = 0; i < cap; i++)
                free(env[i]);
        free(env);
        return NULL;
}

static void free_env(char **env) {
        if (!env)
                return;
        for (char **p = env; *p; p++)
                free(*p);
        free(env);
}

_Noreturn static void child_fail(int fd, int step) {
        struct spawn_failure f = { step, errno };

        (void) !write(fd, &f, sizeof(f));
        _exit(127);
}

/* What the child runs: path with argv, and its standard streams (the
 * child ends of the pipes, or the terminal's slave three times). */
struct spawn_plan {
        const char *path;
        char **argv;
        int in, out, err;
        bool pty;
};

/* In the child: never returns. errfd is the close-on-exec error pipe.
 * Everything else the daemon has is close-on-exec. */
_Noreturn static void child_run(const struct session_exec *e, const struct spawn_plan *sp, const struct passwd *pw,
                                bool switch_user, char **env, int errfd) {
        sigset_t all;

        /* A terminal session gets its own session with the slave as its
         * controlling terminal, so the line discipline's ^C, ^Z and hangup
         * reach its foreground job; a plain command leads its own group. */
        if (sp->pty) {
                if (setsid() < 0 || ioctl(sp->in, TIOCSCTTY, 0) < 0)
                        child_fail(errfd, 0);
        } else
                setpgid(0, 0);
        for (int sig = 1; sig < NSIG; sig++)
                signal(sig, SIG_DFL);
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        if (dup2(sp->in, 0) < 0 || dup2(sp->out, 1) < 0 || dup2(sp->err, 2) < 0)
                child_fail(errfd, 0);
        /* The command gets exactly 0, 1 and 2, also when whoever started the
         * daemon left other descriptors open without close-on-exec. */
        if (close_range(3, ~0u, CLOSE_RANGE_CLOEXEC) < 0) {
                long max = sysconf(_SC_OPEN_MAX);

                for (int fd = 3; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
                        fcntl(fd, F_SETFD, FD_CLOEXEC);
        }
        if (switch_user && (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
                            setuid(pw->pw_uid) < 0))
                child_fail(errfd, 1);
        if (e->cwd) {
                if (chdir(e->cwd) < 0)
                        child_fail(errfd, 2);
        } else if (!pw || chdir(pw->pw_dir) < 0)
                (void) !chdir("/");
        environ = env;
        execvp(sp->path, sp->argv);
        child_fail(errfd, 3);
}

static int pipe_pair(int p[2]) {
        return pipe2(p, O_CLOEXEC) < 0 ? negative_errno() : 0;
}

static void close_pair(int p[2]) {
        p[0] = safe_close(p[0]);
        p[1] = safe_close(p[1]);
}

/*
 * Opens a pseudo-terminal for a session: *ret_master (non-blocking) and
 * *ret_slave (not our controlling terminal), both close-on-exec, the window
 * size set when the request gives one, the slave owned by the user it is
 * for when the daemon switches users. Returns 0 or -errno.
 */
static int open_pty(const struct session_exec *e, const struct passwd *pw, bool switch_user, int *ret_master,
                    int *ret_slave) {
        _cleanup_close_ int master = -1, slave = -1;
        struct winsize ws = { .ws_row = e->winsize.rows, .ws_col = e->winsize.cols };
        char name[64];
        int r;

        master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
        if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0)
                return negative_errno();
        r = ptsname_r(master, name, sizeof(name));
        if (r != 0)
                return -r;
        slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0)
                return negative_errno();
        if (ws.ws_row > 0 && ws.ws_col > 0 && ioctl(master, TIOCSWINSZ, &ws) < 0)
                return negative_errno();
        if (switch_user) {
                /* Like login(1): the user owns the terminal, the tty group may write to it. */
                struct group *tty = getgrnam("tty");

                if (fchown(slave, pw->pw_uid, tty ? tty->gr_gid : pw->pw_gid) < 0 ||
                    fchmod(slave, tty ? 0620 : 0600) < 0)
                        return negative_errno();
        }
        *ret_master = TAKE_FD(master);
        *ret_slave = TAKE_FD(slave);
        return 0;
}

/* The login shell of pw as a login shell: "-" and its name as argv[0]. */
static char *login_argv0(const char *shell) {
        const char *slash = strrchr(shell, '/');
        char *a;

        if (asprintf(&a, "-%s", slash ? slash + 1 : shell) < 0)
                return NULL;
        return a;
}

/* Starts the request's command. On failure queues an ERROR saying why.
 * sock >= 0: the command is a copy helper and gets the session's socket as
 * stdin and stdout (and the daemon's stderr): the session is its from now. */
static void session_spawn(struct session *s, const struct session_exec *e, int sock) {
        int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 }, ep[2] = { -1, -1 };
        _cleanup_close_ int master = -1, slave = -1;
        _cleanup_free_ char *argv0 = NULL;
        char *login_argv[2] = {};
        struct spawn_plan sp = { .pty = e->flags & SESSION_EXEC_PTY };
        const char *name;
        struct passwd *pw;
        struct spawn_failure f;
        bool switch_user = false;
        char **env = NULL;
        ssize_t n;
        pid_t pid;
        int r;

        if (e->user) {
                pw = getpwnam(e->user);
                if (!pw) {
                        session_fail(s, SESSION_E_BAD_REQUEST, "unknown user '%s'", e->user);
                        return;
                }
                if (pw->pw_uid != geteuid()) {
                        if (geteuid() != 0) {
                                session_fail(s, SESSION_E_PERMISSION,
                                             "cannot run as user '%s': the daemon does not run as root", e->user);
                                return;
                        }
                        switch_user = true;
                }
        } else
                pw = getpwuid(geteuid());
        if (e->flags & SESSION_EXEC_LOGIN) {
                sp.path = pw && pw->pw_shell && *pw->pw_shell ? pw->pw_shell : "/bin/sh";
                argv0 = login_argv0(sp.path);
                if (!argv0) {
                        session_fail(s, SESSION_E_INTERNAL, "out of memory");
                        return;
                }
                login_argv[0] = argv0;
                sp.argv = login_argv;
        } else {
                sp.path = e->argv[0];
                sp.argv = e->argv;
        }
        name = sp.path;
        env = build_env(e, pw);
        if (!env || pipe_pair(ep) < 0) {
                session_fail(s, SESSION_E_INTERNAL, "cannot set up the command: %s", strerror(errno));
                goto out;
        }
        if (sp.pty) {
                r = open_pty(e, pw, switch_user, &master, &slave);
                if (r < 0) {
                        session_fail(s, SESSION_E_INTERNAL, "cannot open a pseudo-terminal: %s", strerror(-r));
                        goto out;
                }
                sp.in = sp.out = sp.err = slave;
        } else if (sock >= 0) {
                sp.in = sp.out = sock;
                sp.err = STDERR_FILENO;
        } else {
                if (pipe_pair(in) < 0 || pipe_pair(out) < 0 || pipe_pair(err) < 0) {
                        session_fail(s, SESSION_E_INTERNAL, "cannot set up the command: %s", strerror(errno));
                        goto out;
                }
                sp.in = in[0];
                sp.out = out[1];
                sp.err = err[1];
        }
        pid = fork();
        if (pid < 0) {
                session_fail(s, SESSION_E_INTERNAL, "cannot start the command: %s", strerror(errno));
                goto out;
        }
        if (pid == 0)
                child_run(e, &sp, pw, switch_user, env, ep[1]);
        /* The master reads EIO once every slave descriptor is closed, which
         * is how the end of a terminal session's output shows: hold none. */
        slave = safe_close(slave);
        ep[1] = safe_close(ep[1]);
        /* The error pipe closes at exec (success) or carries why it failed.
         * The wait is the child's own setup: bounded, and the loop keeps no
         * other session waiting longer than a fork+exec. */
        do
                n = read(ep[0], &f, sizeof(f));
        while (n < 0 && errno == EINTR);
        if (n == (ssize_t) sizeof(f)) {
                while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                        ;
                if (f.step == 3 && f.err == ENOENT)
                        session_fail(s, SESSION_E_NOT_FOUND, "command '%s' not found", name);
                else if (f.step == 3)
                        session_fail(s, SESSION_E_SPAWN, "cannot execute '%s': %s", name, strerror(f.err));
                else if (f.step == 2)
                        session_fail(s, SESSION_E_SPAWN, "cannot change to directory '%s': %s", e->cwd, strerror(f.err));
                else if (f.step == 1)
                        session_fail(s, SESSION_E_PERMISSION, "cannot switch to user '%s': %s", e->user, strerror(f.err));
                else
                        session_fail(s, SESSION_E_SPAWN, "cannot set up the command: %s", strerror(f.err));
                goto out;
        }
        s->pid = pid;
        if (sock >= 0) {
                /* The helper sends STARTED and everything after it. */
                watch_close(s->srv, &s->sock);
                s->phase = PHASE_HANDED_OFF;
                goto out;
        }
        if (sp.pty) {
                s->pty = true;
                s->pipe[SESSION_STDIN].fd = fcntl(master, F_DUPFD_CLOEXEC, 3);
                if (s->pipe[SESSION_STDIN].fd < 0) {
                        session_fail(s, SESSION_E_INTERNAL, "cannot set up the terminal: %s", strerror(errno));
                        goto out;
                }
                s->pipe[SESSION_STDOUT].fd = TAKE_FD(master);
        } else {
                s->pipe[SESSION_STDIN].fd = TAKE_FD(in[1]);
                s->pipe[SESSION_STDOUT].fd = TAKE_FD(out[0]);
                s->pipe[SESSION_STDERR].fd = TAKE_FD(err[0]);
        }
        for (int i = 0; i < 3; i++)
                if (s->pipe[i].fd >= 0)
                        fd_set_nonblock(s->pipe[i].fd, true);
        if (e->timeout_s)
                s->deadline = now_ms() + (uint64_t) e->timeout_s * 1000;
        s->phase = PHASE_RUNNING;
        session_out_u32(&s->out, SESSION_STARTED, SESSION_CONTROL, (uint32_t) pid);
        if (s->pty) {
                /* A terminal has one output stream: stderr ends at once. */
                session_out_frame(&s->out, SESSION_EOF, SESSION_STDERR, NULL, 0);
                s->eof_sent[SESSION_STDERR] = true;
        }
out:
        close_pair(in);
        close_pair(out);
        close_pair(err);
        close_pair(ep);
        free_env(env);
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

#define CREDENTIAL_INVALID "The credential is invalid."

/* --auth pam: the first frame after HELLO must be AUTH, and nothing runs
 * unless PAM accepts it. Every refusal gives the same message, so a client
 * cannot tell an unknown user from a wrong password. */
static void session_authenticate(struct session *s, const struct session_frame *f) {
        struct session_auth a;
        struct passwd *pw;
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
        r = session_auth_decode(f, &a);
        if (r < 0) {
                session_fail(s, r == -ENOMEM ? SESSION_E_INTERNAL : SESSION_E_PROTOCOL, "malformed AUTH request");
                return;
        }
        /* PAM runs in the loop: pam_unix's delay after a failure holds the
         * other sessions too (docs/session-protocol.md, Authentication). */
        r = session_pam_check(s->srv->pam_service, a.user, a.password);
        pw = r == 0 ? getpwnam(a.user) : NULL;
        if (r == -ENOMEM)
                session_fail(s, SESSION_E_INTERNAL, "out of memory");
        else if (r < 0 || !pw) {
                log_session(s, "authentication of user '%s' failed: %s", a.user,
                            r == -EACCES ? "refused by PAM" : r < 0 ? "PAM error" : "not in the password database");
                session_fail(s, SESSION_E_AUTH, CREDENTIAL_INVALID);
        } else if (pw->pw_uid != geteuid() && geteuid() != 0)
                session_fail(s, SESSION_E_PERMISSION, "cannot run as user '%s': the daemon does not run as root",
                             a.user);
        else {
                log_session(s, "authenticated as user '%s'", a.user);
                s->auth_user = TAKE_PTR(a.user);
                s->phase = PHASE_EXEC;
        }
        session_auth_done(&a);
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
                session_authenticate(s, f);
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
                /* An authenticated session runs as the user it proved to be. */
                if (s->auth_user && e.user && strcmp(e.user, s->auth_user) != 0) {
                        session_fail(s, SESSION_E_PERMISSION, "the session is authenticated as '%s', not '%s'",
                                     s->auth_user, e.user);
                        session_exec_done(&e);
                        return;
                }
                if (s->auth_user && !e.user) {
                        e.user = strdup(s->auth_user);
                        if (!e.user) {
                                session_fail(s, SESSION_E_INTERNAL, "out of memory");
                                session_exec_done(&e);
                                return;
                        }
                }
                session_spawn(s, &e, -1);
                session_exec_done(&e);
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
 * HELLO): the helper starts on a clean frame boundary both ways. */
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
        e.user = s->auth_user;
        session_spawn(s, &e, s->sock.fd);
}

static const char *parse_error_text(int r) {
        return r == -SESSION_E_TOO_BIG ? "frame larger than the maximum of 65536 payload bytes"
                                       : "malformed frame header (type, channel, flags or length)";
}

static void session_read(struct session *s) {
        struct session_frame f;

        while (!s->peer_eof && s->phase != PHASE_HANDED_OFF) {
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

/* Does what can be done now, then sets the epoll interests. Returns false
 * when the session is over and was freed. */
static bool session_progress(struct session *s) {
        struct session_server *srv = s->srv;
        uint32_t ev;
        int r;

        if (s->phase == PHASE_HANDED_OFF) {
                if (!s->reaped)
                        return true;
                if (!WIFEXITED(s->wstatus) || WEXITSTATUS(s->wstatus) > 1)
                        log_session(s, "the copy helper failed (status 0x%x)", (unsigned) s->wstatus);
                session_free(s);
                return false;
        }
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
        if (session_out_len(&s->out) > 0)
                ev |= EPOLLOUT;
        watch_set(srv, &s->sock, ev);
        watch_set(srv, &s->pipe[SESSION_STDIN], s->q_len > 0 ? EPOLLOUT : 0);
        for (int ch = SESSION_STDOUT; ch <= SESSION_STDERR; ch++)
                watch_set(srv, &s->pipe[ch],
                          s->credit[ch] > 0 && session_out_free(&s->out) > OUT_RESERVE + SESSION_HEADER_SIZE ? EPOLLIN : 0);
        return true;
}

/* ---- signals ---- */

static void reap_children(struct session_server *srv) {
        for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, WNOHANG);

                if (pid <= 0)
                        return;
                for (struct session *s = srv->sessions; s; s = s->next)
                        if (s->pid == pid) {
                                s->reaped = true;
                                s->wstatus = status;
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
        uint64_t next = 0;

        for (const struct session *s = srv->sessions; s; s = s->next) {
                uint64_t d = s->phase == PHASE_CLOSING && s->shut_wr ? s->linger_deadline
                             : s->phase == PHASE_RUNNING && !s->timed_out ? s->deadline
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
        srv->max_sessions = cfg && cfg->max_sessions ? cfg->max_sessions : SESSION_SERVER_MAX_SESSIONS_DEFAULT;
        srv->auth = cfg ? cfg->auth : SESSION_SERVER_AUTH_HOST;
        srv->pam_service = cfg && cfg->pam_service ? cfg->pam_service : SESSION_PAM_SERVICE;
        srv->listener = (struct watch) { W_LISTENER, hvsock_listener_fd(l), 0 };
        /* Resolved now: a child that switched users may not read /proc/self/exe. */
        srv->self_exe = realpath("/proc/self/exe", NULL);
        srv->signal = (struct watch) { W_SIGNAL, -1, 0 };
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
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
