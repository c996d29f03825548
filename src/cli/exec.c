/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cli-util.h"
#include "commands.h"
#include "session-open.h"

/* The session failed (not the command): like ssh, a status no shell gives. */
/* The daemon stopped the command at --timeout, like timeout(1). */
#define EXIT_TIMEOUT 124
#define TIMEOUT_MAX (7u * 24u * 3600u)

/* Options that take only a long name. */
#define OPT_CREDENTIAL_FILE 0x100

struct exec_args {
        const char *vm_arg;
        const char *credential_file;
        struct session_exec req;
        size_t env_cap;
};

static int add_env(const struct cli_command *cmd, struct exec_args *a, const char *kv) {
        const char *eq = strchr(kv, '=');
        char **n;

        if (!eq || eq == kv)
                return cli_usage(cmd, "invalid --env '%s': expected NAME=VALUE", kv);
        if (a->req.envc + 1 >= a->env_cap) {
                a->env_cap = a->env_cap ? a->env_cap * 2 : 8;
                n = realloc(a->req.env, a->env_cap * sizeof(char *));
                if (!n)
                        return cli_fail("parsing arguments: %s", hvsock_strerror(-ENOMEM));
                a->req.env = n;
        }
        a->req.env[a->req.envc++] = (char *) kv;
        a->req.env[a->req.envc] = NULL;
        return 0;
}

static int exec_parse(const struct cli_command *cmd, int argc, char **argv, struct exec_args *a) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "user", required_argument, NULL, 'u' },
                { "env", required_argument, NULL, 'e' },
                { "cwd", required_argument, NULL, 'C' },
                { "timeout", required_argument, NULL, 't' },
                { "credential-file", required_argument, NULL, OPT_CREDENTIAL_FILE },
                {},
        };
        int c, r;

        while ((c = cli_getopt(cmd, argc, argv, "hu:e:C:t:", options)) != -1) {
                switch (c) {
                case 'u':
                        if (!*optarg)
                                return cli_usage(cmd, "invalid --user '': expected a user name");
                        a->req.user = optarg;
                        break;
                case 'e':
                        r = add_env(cmd, a, optarg);
                        if (r)
                                return r;
                        break;
                case 'C':
                        if (!*optarg)
                                return cli_usage(cmd, "invalid --cwd '': expected a directory");
                        a->req.cwd = optarg;
                        break;
                case 't':
                        r = arg_u32(cmd, "timeout", optarg, 1, TIMEOUT_MAX, &a->req.timeout_s);
                        if (r)
                                return r;
                        break;
                case OPT_CREDENTIAL_FILE:
                        a->credential_file = optarg;
                        break;
                default:
                        return cli_opt_exit(c);
                }
        }
        if (argc - optind < 2)
                return cli_usage(cmd, "missing argument (expected VM -- COMMAND [ARG...])");
        a->vm_arg = argv[optind];
        a->req.argv = argv + optind + 1;
        a->req.argc = (size_t) (argc - optind - 1);
        if (!a->req.argv[0][0])
                return cli_usage(cmd, "invalid command '': expected a program name");
        return -1;
}

/* Signals to forward are read from a signalfd, so a Ctrl-C reaches the
 * remote command instead of ending this process. */
static int forward_signals(void) {
        sigset_t mask;

        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGQUIT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        return signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
}

static int exec_status(const struct exec_args *a, const struct session_client_result *res) {
        if (res->exited) {
                if (res->exit.flags & SESSION_EXIT_TIMED_OUT) {
                        cli_fail("running '%s' on VM '%s': timed out after %u s", a->req.argv[0], a->vm_arg,
                                 a->req.timeout_s);
                        return EXIT_TIMEOUT;
                }
                if (res->exit.kind == SESSION_EXIT_SIGNAL)
                        return 128 + (int) res->exit.value;
                return (int) res->exit.value;
        }
        cli_fail("running '%s' on VM '%s': %s", a->req.argv[0], a->vm_arg,
                 res->error_message[0] ? res->error_message : session_error_name(res->error_code));
        /* The shell's codes for a command that is missing or cannot run. */
        if (res->error_code == SESSION_E_NOT_FOUND)
                return 127;
        if (res->error_code == SESSION_E_SPAWN)
                return 126;
        return EXIT_SESSION;
}

int cmd_exec(const struct cli_command *cmd, int argc, char **argv) {
        _cleanup_close_ int sock = -1, sig_fd = -1;
        _cleanup_free_ char **env = NULL;
        _cleanup_(cli_credential_done) struct cli_credential cred = {};
        struct session_client_result res = {};
        struct exec_args a = {};
        struct session_client_io io = { STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO, -1, -1 };
        int r;

        r = exec_parse(cmd, argc, argv, &a);
        env = a.req.env;
        if (r >= 0)
                return r;
        cred.user = a.req.user;
        io.credential = cli_credential_get;
        io.credential_data = &cred;

        signal(SIGPIPE, SIG_IGN);
        sig_fd = forward_signals();
        if (sig_fd < 0)
                return cli_fail("setting up signal forwarding: %s", hvsock_strerror(negative_errno()));
        io.sig_fd = sig_fd;
        r = cli_session_connect(cmd, a.vm_arg, a.credential_file, &cred, EXIT_SESSION, &sock);
        if (r)
                return r;
        r = session_client_run(sock, &a.req, &io, &res);
        if (r < 0 && res.interrupted) {
                cli_fail("session with VM '%s': %s before the command started", a.vm_arg,
                         strsignal(res.interrupted));
                return 128 + res.interrupted;
        }
        if (r < 0) {
                cli_session_run_failed("session with", a.vm_arg, r, &res, &cred);
                return EXIT_SESSION;
        }
        return exec_status(&a, &res);
}
