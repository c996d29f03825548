/* SPDX-License-Identifier: MIT */
/*
 * hvsock shell: an interactive session in a VM through its VM Session
 * Service, on a pseudo-terminal there when standard input is a terminal here
 * (like ssh, which allocates one only then).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "cli-util.h"
#include "commands.h"
#include "session-open.h"

/* The session failed (not the shell): like ssh, a status no shell gives. */

/*
 * The terminal's settings before raw mode, put back on every way out: the
 * normal path, atexit() for an exit() anywhere, and the handlers of the
 * signals that end this process. Only async-signal-safe calls touch them
 * from a handler (tcsetattr is one).
 */
static struct termios saved_termios;
static volatile sig_atomic_t raw_fd = -1;

static void restore_terminal_now(int when) {
        int fd = raw_fd;

        if (fd < 0)
                return;
        raw_fd = -1;
        (void) tcsetattr(fd, when, &saved_termios);
}

static void restore_terminal(void) {
        /* Lets what the remote shell printed in raw mode reach the screen first. */
        restore_terminal_now(TCSADRAIN);
}

static void on_fatal_signal(int sig) {
        int saved_errno = errno;

        /* TCSANOW: a terminal stopped with ^S must not keep us from dying. */
        restore_terminal_now(TCSANOW);
        signal(sig, SIG_DFL);
        /* Blocked while this handler runs: delivered, and fatal, once it returns. */
        raise(sig);
        errno = saved_errno;
}

static int enter_raw_mode(int fd) {
        static bool atexit_done;
        struct termios raw;

        if (tcgetattr(fd, &saved_termios) < 0)
                return negative_errno();
        if (!atexit_done) {
                if (atexit(restore_terminal) != 0)
                        return -ENOMEM;
                atexit_done = true;
        }
        raw = saved_termios;
        cfmakeraw(&raw);
        /* Set before the change: a signal right after it finds what to restore. */
        raw_fd = fd;
        if (tcsetattr(fd, TCSADRAIN, &raw) < 0) {
                raw_fd = -1;
                return negative_errno();
        }
        return 0;
}

/* SIGTERM and SIGHUP end this process (the daemon then ends the remote
 * shell, whose connection closed); they restore the terminal first. */
static int catch_fatal_signals(void) {
        struct sigaction sa = { .sa_handler = on_fatal_signal };

        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGHUP, &sa, NULL) < 0)
                return negative_errno();
        return 0;
}

/* SIGWINCH (a new window size), SIGINT and SIGQUIT (forwarded to the remote
 * shell) are read from a signalfd. On a terminal in raw mode ^C is a byte
 * like any other, which the remote terminal turns into SIGINT. */
static int session_signals(void) {
        sigset_t mask;
        int fd;

        sigemptyset(&mask);
        sigaddset(&mask, SIGWINCH);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGQUIT);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return negative_errno();
        fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        return fd < 0 ? negative_errno() : fd;
}

/* Options that take only a long name. */
#define OPT_CREDENTIAL_FILE 0x100

struct shell_args {
        const char *vm_arg;
        const char *credential_file;
        struct session_exec req;
};

static int shell_parse(const struct cli_command *cmd, int argc, char **argv, struct shell_args *a) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "user", required_argument, NULL, 'u' },
                { "credential-file", required_argument, NULL, OPT_CREDENTIAL_FILE },
                {},
        };
        static char *no_argv[] = { NULL };
        int c;

        while ((c = cli_getopt(cmd, argc, argv, "hu:", options)) != -1) {
                switch (c) {
                case 'u':
                        if (!*optarg)
                                return cli_usage(cmd, "invalid --user '': expected a user name");
                        a->req.user = optarg;
                        break;
                case OPT_CREDENTIAL_FILE:
                        a->credential_file = optarg;
                        break;
                default:
                        return cli_opt_exit(c);
                }
        }
        if (argc - optind < 1)
                return cli_usage(cmd, "missing argument (expected VM)");
        a->vm_arg = argv[optind];
        if (argc - optind == 1) {
                /* No command: the user's login shell, chosen by the daemon. */
                a->req.flags |= SESSION_EXEC_LOGIN;
                a->req.argv = no_argv;
                a->req.argc = 0;
                return -1;
        }
        a->req.argv = argv + optind + 1;
        a->req.argc = (size_t) (argc - optind - 1);
        if (!a->req.argv[0][0])
                return cli_usage(cmd, "invalid command '': expected a program name");
        return -1;
}

static int shell_status(const struct shell_args *a, const struct session_client_result *res) {
        if (res->exited)
                return res->exit.kind == SESSION_EXIT_SIGNAL ? 128 + (int) res->exit.value : (int) res->exit.value;
        cli_fail("starting a shell on VM '%s': %s", a->vm_arg,
                 res->error_message[0] ? res->error_message : session_error_name(res->error_code));
        if (res->error_code == SESSION_E_NOT_FOUND)
                return 127;
        if (res->error_code == SESSION_E_SPAWN)
                return 126;
        return EXIT_SESSION;
}

int cmd_shell(const struct cli_command *cmd, int argc, char **argv) {
        _cleanup_close_ int sock = -1, sig_fd = -1;
        _cleanup_(cli_credential_done) struct cli_credential cred = {};
        struct session_client_result res;
        struct shell_args a = {};
        struct session_client_io io = { STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO, -1, -1 };
        const char *term;
        bool tty;
        int r;

        r = shell_parse(cmd, argc, argv, &a);
        if (r >= 0)
                return r;
        cred.user = a.req.user;
        io.credential = cli_credential_get;
        io.credential_data = &cred;

        signal(SIGPIPE, SIG_IGN);
        r = catch_fatal_signals();
        if (r < 0)
                return cli_fail("setting up signal handlers: %s", hvsock_strerror(r));
        /* Blocked before the first size is read, so no change is missed. */
        sig_fd = session_signals();
        if (sig_fd < 0)
                return cli_fail("setting up signal forwarding: %s", hvsock_strerror(sig_fd));

        tty = isatty(STDIN_FILENO);
        if (tty) {
                a.req.flags |= SESSION_EXEC_PTY;
                term = getenv("TERM");
                a.req.term = term && *term ? (char *) term : NULL;
                /* A terminal that cannot tell its size gets the daemon's default. */
                (void) session_client_winsize(STDIN_FILENO, &a.req.winsize);
                io.tty_fd = STDIN_FILENO;
        }
        io.sig_fd = sig_fd;

        r = cli_session_connect(cmd, a.vm_arg, a.credential_file, &cred, EXIT_SESSION, &sock);
        if (r)
                return r;
        if (tty) {
                r = enter_raw_mode(STDIN_FILENO);
                if (r < 0)
                        return cli_fail("setting the terminal to raw mode: %s", hvsock_strerror(r));
        }
        r = session_client_run(sock, &a.req, &io, &res);
        restore_terminal();
        if (r < 0) {
                cli_session_run_failed("session with", a.vm_arg, r, &res, &cred);
                return EXIT_SESSION;
        }
        return shell_status(&a, &res);
}
