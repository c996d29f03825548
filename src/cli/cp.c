/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli-util.h"
#include "commands.h"
#include "copy.h"
#include "fd-util.h"
#include "session-open.h"

/* Exit statuses of the local child that runs the archive's other end. */
#define CHILD_BROKEN 3

/* Options that take only a long name. */
#define OPT_CREDENTIAL_FILE 0x100

struct cp_args {
        const char *credential_file;
        uint32_t flags;
        char **srcs;
        size_t n;
        char *dst;
};

/* "VM:PATH" names a path in a VM: something before the first ':' that has
 * no '/' in it (so ./a:b is a local file). Returns the PATH part or NULL. */
static char *remote_path(char *arg) {
        char *colon = strchr(arg, ':');

        if (!colon || colon == arg || memchr(arg, '/', (size_t) (colon - arg)))
                return NULL;
        return colon + 1;
}

static int cp_parse(const struct cli_command *cmd, int argc, char **argv, struct cp_args *a) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "recursive", no_argument, NULL, 'r' },
                { "preserve", no_argument, NULL, 'p' },
                { "credential-file", required_argument, NULL, OPT_CREDENTIAL_FILE },
                {},
        };
        int c;

        while ((c = cli_getopt(cmd, argc, argv, "hrp", options)) != -1) {
                switch (c) {
                case 'r':
                        a->flags |= SESSION_COPY_RECURSIVE;
                        break;
                case 'p':
                        a->flags |= SESSION_COPY_PRESERVE;
                        break;
                case OPT_CREDENTIAL_FILE:
                        a->credential_file = optarg;
                        break;
                default:
                        return cli_opt_exit(c);
                }
        }
        if (argc - optind < 2)
                return cli_usage(cmd, "missing argument (expected SRC... DST, one side VM:PATH)");
        a->srcs = argv + optind;
        a->n = (size_t) (argc - optind - 1);
        a->dst = argv[argc - 1];
        if (a->n > SESSION_COPY_PATHS_MAX)
                return cli_usage(cmd, "too many sources (at most %u)", SESSION_COPY_PATHS_MAX);
        if (a->n > 1)
                a->flags |= SESSION_COPY_MULTIPLE;
        return -1;
}

static int run_child(int fd, const struct cp_args *a, bool put, const char *local_dst) {
        struct copy_options o = { .flags = a->flags, .label = "hvsock", .prefix = "", .progress = isatty(STDERR_FILENO) };
        int r;

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (put)
                r = copy_send(fd, a->srcs, a->n, &o);
        else
                r = copy_receive(fd, local_dst, &o);
        if (r < 0 && r != -EPIPE && r != -EPROTO)
                fprintf(stderr, "hvsock: copying: %s\n", strerror(-r));
        return r == 0 ? 0 : r == 1 ? 1 : CHILD_BROKEN;
}

int cmd_cp(const struct cli_command *cmd, int argc, char **argv) {
        _cleanup_close_ int sock = -1;
        _cleanup_free_ char **paths = NULL;
        _cleanup_(cli_credential_done) struct cli_credential cred = {};
        struct session_client_result res;
        struct session_copy req = {};
        struct cp_args a = {};
        char *vm_name = NULL, *rp;
        int p[2], r, status, rc = 0;
        bool put;
        pid_t pid;

        r = cp_parse(cmd, argc, argv, &a);
        if (r >= 0)
                return r;
        paths = calloc(a.n + 1, sizeof(char *));
        if (!paths)
                return cli_fail("parsing arguments: %s", hvsock_strerror(-ENOMEM));
        put = remote_path(a.dst) != NULL;
        for (size_t i = 0; i < a.n; i++) {
                rp = remote_path(a.srcs[i]);
                if (put && rp)
                        return cli_usage(cmd, "invalid source '%s': only one side may be in a VM", a.srcs[i]);
                if (!put && !rp)
                        return cli_usage(cmd, "invalid arguments: one side must be VM:PATH (source '%s' and target '%s' are local)",
                                         a.srcs[i], a.dst);
                if (!put) {
                        rp[-1] = '\0';
                        if (vm_name && strcmp(vm_name, a.srcs[i]) != 0)
                                return cli_usage(cmd, "invalid source '%s:%s': all sources must be in one VM", a.srcs[i], rp);
                        vm_name = a.srcs[i];
                        if (!*rp)
                                return cli_usage(cmd, "invalid source '%s:': expected a path after the ':'", vm_name);
                        paths[i] = rp;
                }
        }
        if (put) {
                rp = remote_path(a.dst);
                rp[-1] = '\0';
                vm_name = a.dst;
                paths[0] = *rp ? rp : (char *) ".";
                req = (struct session_copy) { SESSION_PUT, a.flags, paths, 1 };
        } else
                req = (struct session_copy) { SESSION_GET, a.flags & ~SESSION_COPY_MULTIPLE, paths, a.n };

        signal(SIGPIPE, SIG_IGN);
        r = cli_session_connect(cmd, vm_name, a.credential_file, &cred, EXIT_FAILURE, &sock);
        if (r)
                return r;

        /* The archive's local end runs in a child on a pipe, with blocking
         * file I/O, while this process relays the session. */
        if (pipe2(p, O_CLOEXEC) < 0)
                return cli_fail("copying: %s", hvsock_strerror(negative_errno()));
        pid = fork();
        if (pid < 0)
                return cli_fail("copying: %s", hvsock_strerror(negative_errno()));
        if (pid == 0) {
                sock = safe_close(sock); /* the session must end when this process does */
                close(put ? p[0] : p[1]);
                _exit(run_child(put ? p[1] : p[0], &a, put, a.dst));
        }
        close(put ? p[1] : p[0]);
        {
                struct session_client_io io = {
                        .in_fd = put ? p[0] : -1,
                        .out_fd = put ? STDOUT_FILENO : p[1],
                        .err_fd = STDERR_FILENO,
                        .sig_fd = -1,
                        .tty_fd = -1,
                        .copy = &req,
                        .credential = cli_credential_get,
                        .credential_data = &cred,
                };

                r = session_client_run(sock, NULL, &io, &res);
        }
        close(put ? p[0] : p[1]);
        sock = safe_close(sock);
        /* A receiver that stopped early leaves the sender with no reader, but
         * it may be blocked on a slow source (a pipe): end it. The receiver
         * side (GET) instead sees the pipe's end and cleans up. */
        if (put && (r < 0 || !res.exited || res.exit.kind != SESSION_EXIT_CODE || res.exit.value != 0))
                kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (r < 0) {
                cli_session_run_failed(put ? "copying to" : "copying from", vm_name, r, &res);
                return EXIT_FAILURE;
        }
        if (!res.exited) {
                cli_fail("copying %s VM '%s': %s", put ? "to" : "from", vm_name,
                         res.error_message[0] ? res.error_message : session_error_name(res.error_code));
                return EXIT_FAILURE;
        }
        if (res.exit.kind != SESSION_EXIT_CODE || res.exit.value != 0)
                rc = EXIT_FAILURE;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                if (WIFEXITED(status) && WEXITSTATUS(status) == CHILD_BROKEN && rc == 0)
                        cli_fail("copying %s VM '%s': the copy was interrupted", put ? "to" : "from", vm_name);
                rc = EXIT_FAILURE;
        }
        return rc;
}
