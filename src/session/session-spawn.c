/* SPDX-License-Identifier: MIT */
/*
 * Starting a session's command (or copy helper): its environment, its
 * standard streams (pipes, a pseudo-terminal, or the session's connection
 * for a copy helper), the user switch, and the fork and exec, with a pipe
 * that tells the parent why the child could not exec. session-server.c
 * calls it directly (--auth host) or from the session's PAM process.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "fd-util.h"
#include "macro.h"
#include "session-spawn.h"
#include "strv.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct spawn_failure {
        int step; /* 0 setup, 1 user, 2 cwd, 3 exec */
        int err;
};

/* Sets entry ("NAME=VALUE") in env, which holds *n entries and room for
 * one more: it replaces the entry of the same name or is appended. */
static int env_put(char **env, size_t *n, const char *entry) {
        const char *eq = strchr(entry, '=');
        size_t klen, j;

        if (!eq || eq == entry)
                return 0; /* not an assignment: PAM modules are not trusted to be tidy */
        klen = (size_t) (eq - entry) + 1;
        for (j = 0; j < *n; j++)
                if (strncmp(env[j], entry, klen) == 0)
                        break;
        free(j < *n ? env[j] : NULL);
        env[j] = strdup(entry);
        if (!env[j])
                return -ENOMEM;
        if (j == *n)
                (*n)++;
        return 0;
}

static size_t list_len(char **list) {
        size_t n = 0;

        while (list && list[n])
                n++;
        return n;
}

/* The command's environment: a login-like base, then what PAM's session
 * modules set (pam_env, pam_systemd), then the request's entries, each
 * replacing same-named ones. */
static char **build_env(const struct session_exec *e, const struct passwd *pw, char **pam_env) {
        size_t n = 0, cap = e->envc + list_len(pam_env) + 8;
        char **env = calloc(cap, sizeof(char *));

        if (!env)
                return NULL;
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
        for (char **p = pam_env; p && *p; p++)
                if (env_put(env, &n, *p) < 0)
                        goto oom;
        for (size_t i = 0; i < e->envc; i++)
                if (env_put(env, &n, e->env[i]) < 0)
                        goto oom;
        return env;
oom:
        for (size_t i = 0; i < cap; i++)
                free(env[i]);
        free(env);
        return NULL;
}

_Noreturn static void child_fail(int fd, int step) {
        struct spawn_failure f = { step, errno };

        (void) !write(fd, &f, sizeof(f));
        _exit(127);
}


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
        if (switch_user && ((!sp->under_pam && initgroups(pw->pw_name, pw->pw_gid) < 0) ||
                            setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0))
                child_fail(errfd, 1);
        /* A PAM process killed before it reported the command (its session
         * closed meanwhile) leaves no command behind. Set after setuid,
         * which clears it. */
        if (sp->under_pam && (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != sp->pam_process))
                child_fail(errfd, 0);
        if (e->cwd) {
                if (chdir(e->cwd) < 0)
                        child_fail(errfd, 2);
        } else if (!pw || chdir(pw->pw_dir) < 0)
                (void) !chdir("/");
        environ = env;
        execvp(sp->path, sp->argv);
        child_fail(errfd, 3);
}

int spawn_pipe_pair(int p[2]) {
        return pipe2(p, O_CLOEXEC) < 0 ? negative_errno() : 0;
}

void spawn_close_pair(int p[2]) {
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
char *spawn_login_argv0(const char *shell) {
        const char *slash = strrchr(shell, '/');
        char *a;

        if (asprintf(&a, "-%s", slash ? slash + 1 : shell) < 0)
                return NULL;
        return a;
}


/* The password database entry of name (NULL: the daemon's own user) in
 * storage of our own, which a PAM module calling getpwnam() cannot
 * overwrite. *ret is NULL when there is no such entry (or the database
 * cannot be read). Returns 0 or -ENOMEM. */
int spawn_lookup_user(const char *name, struct passwd *pwd, char **buf, struct passwd **ret) {
        for (size_t size = 4096; size <= 1024 * 1024; size *= 2) {
                char *b = realloc(*buf, size);
                int r;

                if (!b)
                        return -ENOMEM;
                *buf = b;
                r = name ? getpwnam_r(name, pwd, b, size, ret) : getpwuid_r(geteuid(), pwd, b, size, ret);
                if (r != ERANGE) {
                        if (r != 0)
                                *ret = NULL;
                        return 0;
                }
        }
        *ret = NULL;
        return 0;
}

void spawn_close_child_ends(struct spawn_plan *sp) {
        /* With a terminal all three are the slave. */
        if (sp->err != sp->in)
                safe_close(sp->err);
        if (sp->out != sp->in)
                safe_close(sp->out);
        safe_close(sp->in);
        sp->in = sp->out = sp->err = -1;
}

/* Opens the command's standard streams: three pipes, or a pseudo-terminal
 * whose slave is all three. The child's ends go to c->sp, ours to
 * ret_ours[channel] (-1 where there is none). Returns 0 or -errno, with
 * nothing left open. */
int spawn_open_streams(struct spawn_ctx *c, int ret_ours[3]) {
        int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
        int master = -1, slave = -1, input, r;

        if (c->sp.pty) {
                r = open_pty(c->e, c->pw, c->switch_user, &master, &slave);
                if (r < 0)
                        return r;
                /* epoll watches each descriptor on its own: stdin gets a dup. */
                input = fcntl(master, F_DUPFD_CLOEXEC, 3);
                if (input < 0) {
                        r = negative_errno();
                        safe_close(master);
                        safe_close(slave);
                        return r;
                }
                ret_ours[SESSION_STDIN] = input;
                ret_ours[SESSION_STDOUT] = master;
                ret_ours[SESSION_STDERR] = -1;
                c->sp.in = c->sp.out = c->sp.err = slave;
                return 0;
        }
        if (spawn_pipe_pair(in) < 0 || spawn_pipe_pair(out) < 0 || spawn_pipe_pair(err) < 0) {
                r = negative_errno();
                spawn_close_pair(in);
                spawn_close_pair(out);
                spawn_close_pair(err);
                return r;
        }
        ret_ours[SESSION_STDIN] = in[1];
        ret_ours[SESSION_STDOUT] = out[0];
        ret_ours[SESSION_STDERR] = err[0];
        c->sp.in = in[0];
        c->sp.out = out[1];
        c->sp.err = err[1];
        return 0;
}

/* A copy helper's streams: the session's socket as stdin and stdout, and
 * the daemon's stderr (its log) as stderr, each a copy of our own so the
 * plan owns what it closes. The daemon keeps its socket until the helper
 * runs: it still has to send ERROR when the helper cannot start. */
int spawn_open_handoff(struct spawn_ctx *c, int sock) {
        int in, err;

        in = fcntl(sock, F_DUPFD_CLOEXEC, 3);
        if (in < 0)
                return negative_errno();
        err = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
        if (err < 0) {
                int r = negative_errno();

                safe_close(in);
                return r;
        }
        c->sp.in = c->sp.out = in;
        c->sp.err = err;
        return 0;
}

/* Why the child could not run the command: an ERROR code and its text. */
static uint32_t describe_failure(const struct spawn_ctx *c, const struct spawn_failure *f, char *msg, size_t size) {
        switch (f->step) {
        case 3:
                if (f->err == ENOENT) {
                        snprintf(msg, size, "command '%s' not found", c->sp.path);
                        return SESSION_E_NOT_FOUND;
                }
                snprintf(msg, size, "cannot execute '%s': %s", c->sp.path, strerror(f->err));
                return SESSION_E_SPAWN;
        case 2:
                snprintf(msg, size, "cannot change to directory '%s': %s", c->e->cwd, strerror(f->err));
                return SESSION_E_SPAWN;
        case 1:
                snprintf(msg, size, "cannot switch to user '%s': %s", c->pw->pw_name, strerror(f->err));
                return SESSION_E_PERMISSION;
        default:
                snprintf(msg, size, "cannot set up the command: %s", strerror(f->err));
                return SESSION_E_SPAWN;
        }
}

/*
 * Forks the command with pam_env added to its environment and waits for its
 * exec: the error pipe closes then, or carries why it failed. The wait is
 * the child's own setup, so it is bounded. Returns the pid, or -1 with
 * *ret_code and msg saying why.
 */
pid_t spawn_fork_command(const struct spawn_ctx *c, char **pam_env, uint32_t *ret_code, char *msg, size_t size) {
        int ep[2] = { -1, -1 };
        struct spawn_failure f;
        char **env;
        ssize_t n;
        pid_t pid;

        env = build_env(c->e, c->pw, pam_env);
        if (!env || spawn_pipe_pair(ep) < 0) {
                *ret_code = SESSION_E_INTERNAL;
                snprintf(msg, size, "cannot set up the command: %s", strerror(env ? errno : ENOMEM));
                strv_free(env);
                return -1;
        }
        pid = fork();
        if (pid == 0)
                child_run(c->e, &c->sp, c->pw, c->switch_user, env, ep[1]);
        if (pid < 0) {
                *ret_code = SESSION_E_INTERNAL;
                snprintf(msg, size, "cannot start the command: %s", strerror(errno));
        }
        ep[1] = safe_close(ep[1]);
        strv_free(env);
        if (pid < 0) {
                spawn_close_pair(ep);
                return -1;
        }
        do
                n = read(ep[0], &f, sizeof(f));
        while (n < 0 && errno == EINTR);
        spawn_close_pair(ep);
        if (n != (ssize_t) sizeof(f))
                return pid;
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        *ret_code = describe_failure(c, &f, msg, size);
        return -1;
}
