/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli-util.h"
#include "copy-archive.h"
#include "commands.h"
#include "copy-link.h"
#include "copy.h"
#include "fd-util.h"
#include "session-open.h"
#include "strv.h"

/* Options that take only a long name. */
#define OPT_CREDENTIAL_FILE 0x100
#define OPT_SYNC 0x101

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
                { "sync", no_argument, NULL, OPT_SYNC },
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
                case OPT_SYNC:
                        a->flags |= SESSION_COPY_SYNC;
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

/* The names a copy out of the VM may bring: the last component of each
 * source, in order (for "/" or "..", which the daemon refuses to send,
 * one that no entry can have). Returns NULL when out of memory. */
static char **expected_names(char **paths, size_t n) {
        char **names = calloc(n + 1, sizeof(char *));

        if (!names)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                names[i] = archive_source_name(paths[i]);
                if (!names[i]) {
                        strv_free(names);
                        return NULL;
                }
        }
        return names;
}

/* Runs the archive's local end on the session in this process, then waits
 * for the daemon's EXIT. Returns what copy_send()/copy_receive() returned
 * (0, 1, or -errno of the stream) in *ret_copy, and 0 or -errno of the
 * session. paths: what a GET asked for. */
static int run_copy(int sock, struct session_parser *in, unsigned version, const struct cp_args *a, bool put,
                    char **paths, struct session_client_result *res, int *ret_copy) {
        _cleanup_(strv_freep) char **expected = put ? NULL : expected_names(paths, a->n);
        struct copy_options o = {
                .flags = a->flags,
                .label = "hvsock",
                .prefix = "",
                .peer = "the VM",
                .progress = isatty(STDERR_FILENO),
                .version = version,
                .untrusted_sender = !put,
                .expected = expected,
                .n_expected = a->n,
        };
        struct copy_link *l = NULL;
        int r;

        if (!put && !expected) {
                res->failed = "setting up the copy";
                return -ENOMEM;
        }
        r = copy_link_new(sock, in, false, put, res, &l);
        if (r < 0) {
                res->failed = "setting up the copy";
                return r;
        }
        if (put)
                r = copy_send(l, a->srcs, a->n, &o);
        else
                r = copy_receive(l, a->dst, &o);
        if (r < 0 && r != -EPIPE && r != -EPROTO && r != -EBADMSG && r != -ECANCELED)
                fprintf(stderr, "hvsock: copying: %s\n", strerror(-r));
        *ret_copy = r;
        /* A sender that broke the rules gets no more of our time: the
         * session ends here, and hvsock-sessiond ends its helper. */
        if (r == -EPROTO || r == -ECANCELED) {
                copy_link_free(l);
                return 0;
        }
        r = copy_link_finish_client(l);
        copy_link_free(l);
        return r;
}

int cmd_cp(const struct cli_command *cmd, int argc, char **argv) {
        _cleanup_close_ int sock = -1;
        _cleanup_free_ char **paths = NULL;
        _cleanup_(cli_credential_done) struct cli_credential cred = {};
        struct session_client_result res;
        struct session_copy req = {};
        struct session_parser *in = NULL;
        struct cp_args a = {};
        char *vm_name = NULL, *rp;
        int r, rc = 0, copied = 0;
        unsigned version = 0;
        bool put;

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

        {
                struct session_client_io io = {
                        .in_fd = -1,
                        .out_fd = -1,
                        .err_fd = STDERR_FILENO,
                        .sig_fd = -1,
                        .tty_fd = -1,
                        .copy = &req,
                        .credential = cli_credential_get,
                        .credential_data = &cred,
                };

                r = session_client_start_copy(sock, &io, &res, &in, &version);
        }
        if (r == 1)
                r = 0; /* the daemon said why (ERROR) */
        else if (r == 0) {
                r = run_copy(sock, in, version, &a, put, paths, &res, &copied);
                if (r == 0 && (copied == -EPROTO || copied == -ECANCELED))
                        return EXIT_FAILURE; /* reported */
        }
        if (r < 0) {
                cli_session_run_failed(put ? "copying to" : "copying from", vm_name, r == -EBADMSG ? -EPROTO : r, &res,
                                       &cred);
                return EXIT_FAILURE;
        }
        if (!res.exited) {
                cli_fail("copying %s VM '%s': %s", put ? "to" : "from", vm_name,
                         res.error_message[0] ? res.error_message : session_error_name(res.error_code));
                return EXIT_FAILURE;
        }
        if (res.exit.kind != SESSION_EXIT_CODE || res.exit.value != 0)
                rc = EXIT_FAILURE;
        if (copied != 0) {
                /* Entries that failed were reported; a stream that broke was not. */
                if (copied < 0 && rc == 0)
                        cli_fail("copying %s VM '%s': the copy was interrupted", put ? "to" : "from", vm_name);
                rc = EXIT_FAILURE;
        }
        return rc;
}
