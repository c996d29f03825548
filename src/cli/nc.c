/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli-util.h"
#include "commands.h"
#include "relay.h"
#include "signal-util.h"
#include "time-util.h"

/* What nc_relay() and nc_accept_one() return, besides an exit status, when
 * a stop signal arrived. */
#define NC_STOPPED (-1)

struct nc_args {
        bool listen, keep_open, verbose;
        uint32_t timeout_ms;
        const char *vm_arg, *service_arg;
        struct hvsock_addr addr;
};

/* SERVICE: a GUID, a port (its VSOCK-template GUID) or a registered ElementName. */
static int nc_resolve_service(const struct cli_command *cmd, const struct hvsock_ctx *ctx,
                              struct hvsock_registry **reg, const char *arg, struct hvsock_guid *ret) {
        const struct hvsock_service *s;
        uint32_t port;
        int r;

        if (hvsock_guid_parse(arg, ret) == 0)
                return 0;
        r = parse_u32(arg, &port);
        if (r != -EINVAL) {
                r = arg_port(cmd, arg, &port);
                if (r)
                        return r;
                hvsock_guid_from_port(port, ret);
                return 0;
        }
        if (!hvsock__element_name_valid(arg))
                return cli_usage(cmd, "invalid service '%s': expected a service ID, a port or a service name", arg);
        r = cli_registry_lazy(ctx, reg);
        if (r)
                return r;
        s = hvsock__registry_find_service_by_name(*reg, arg);
        if (!s)
                return cli_fail("resolving service '%s': not a GUID, a port or a registered service", arg);
        *ret = s->id;
        return 0;
}

static void print_peer(const char *what, const struct hvsock_addr *a) {
        char vm[HVSOCK_GUID_STRING_MAX], svc[HVSOCK_GUID_STRING_MAX];
        const char *name = hvsock_guid_wellknown_name(&a->vm_id);

        fprintf(stderr, "hvsock: %s VM %s%s%s%s, service %s\n", what, hvsock_guid_format(&a->vm_id, vm),
                name ? " (" : "", name ? name : "", name ? ")" : "", hvsock_guid_format(&a->service_id, svc));
}

/* Relays over fd; returns an exit status. keep_going: a socket error is
 * reported but not fatal (with -k the next client is served); a failure of
 * standard input or output always is. */
static int nc_relay(struct relay *relay, int fd, const struct nc_args *a, bool keep_going) {
        int r = relay_run(relay, fd);

        if (r == RELAY_STOPPED)
                return NC_STOPPED;
        if (r >= 0)
                return EXIT_SUCCESS;
        cli_fail("relaying with VM '%s', service '%s': %s: %s", a->vm_arg, a->service_arg,
                 relay->failed ? relay->failed : "relay", hvsock_strerror(r));
        return keep_going && !relay->failed_stdio ? EXIT_SUCCESS : EXIT_FAILURE;
}

static int nc_connect(struct hvsock_ctx *ctx, const struct nc_args *a, struct relay *relay) {
        _cleanup_close_ int fd = -1;

        fd = hvsock_connect(ctx, &a->addr, a->timeout_ms);
        if (fd < 0)
                return cli_fail("connecting to VM '%s', service '%s': %s", a->vm_arg, a->service_arg,
                                hvsock_strerror(fd));
        if (a->verbose)
                print_peer("connected to", &a->addr);
        return nc_relay(relay, fd, a, false);
}

/* Waits for a client (at most -w) or a stop signal on sig_fd. Returns 0 with
 * the client in *ret_fd, NC_STOPPED, or an exit status after printing why. */
static int nc_accept_one(struct hvsock_listener *l, const struct nc_args *a, int sig_fd, int *ret_fd) {
        uint64_t deadline = a->timeout_ms ? now_ms() + a->timeout_ms : 0;
        struct hvsock_addr peer;
        int fd = -EAGAIN;

        while (fd == -EAGAIN) {
                struct pollfd p[] = { { hvsock_listener_fd(l), POLLIN, 0 }, { sig_fd, POLLIN, 0 } };
                int n = poll(p, ELEMENTSOF(p), deadline ? ms_left(deadline) : -1);

                if (n < 0 && errno != EINTR)
                        fd = negative_errno();
                else if (p[1].revents)
                        return NC_STOPPED;
                else if (n == 0)
                        fd = -ETIMEDOUT;
                else if (n > 0)
                        /* -EAGAIN: the client went away before we took it. */
                        fd = hvsock_accept(l, 0, &peer);
        }
        if (fd < 0)
                return cli_fail("accepting on VM '%s', service '%s': %s", a->vm_arg, a->service_arg,
                                hvsock_strerror(fd));
        if (a->verbose)
                print_peer("connection from", &peer);
        *ret_fd = fd;
        return 0;
}

static int nc_listen(struct hvsock_ctx *ctx, const struct nc_args *a, struct relay *relay) {
        _cleanup_close_ int sig_fd = -1;
        struct hvsock_listener *l = NULL;
        int fd = -1, r;

        /* -l: SIGTERM, SIGHUP and SIGINT interrupt every wait (a write to a
         * stalled standard output too), so that the listener is freed (its
         * socket files removed) before the process ends by the signal. */
        sig_fd = stop_signals_pipe();
        if (sig_fd < 0)
                return cli_fail("setting up signals: %s", hvsock_strerror(sig_fd));
        relay->stop_fd = sig_fd;
        r = hvsock_listen(ctx, &a->addr, a->keep_open ? 16 : 1, &l);
        if (r < 0)
                return cli_fail("listening on VM '%s', service '%s': %s", a->vm_arg, a->service_arg,
                                hvsock_ctx_last_error(ctx) ? hvsock_ctx_last_error(ctx) : hvsock_strerror(r));
        if (a->verbose)
                print_peer("listening on", &a->addr);
        do {
                r = nc_accept_one(l, a, sig_fd, &fd);
                if (r)
                        break;
                /* Serving one connection only: later clients get refused at once. */
                if (!a->keep_open)
                        l = hvsock_listener_free(l);
                r = nc_relay(relay, fd, a, a->keep_open);
                fd = safe_close(fd);
        } while (a->keep_open && r == EXIT_SUCCESS);
        hvsock_listener_free(l);
        if (r == NC_STOPPED)
                raise_default(stop_signal_read(sig_fd));
        return r;
}

static int nc_parse(const struct cli_command *cmd, int argc, char **argv, struct nc_args *a) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "listen", no_argument, NULL, 'l' },
                { "keep-open", no_argument, NULL, 'k' },
                { "verbose", no_argument, NULL, 'v' },
                { "wait", required_argument, NULL, 'w' },
                {},
        };
        bool have_wait = false;
        int c, r;

        a->timeout_ms = HVSOCK_CONNECT_TIMEOUT_DEFAULT;
        while ((c = cli_getopt(cmd, argc, argv, "hlkvw:", options)) != -1) {
                switch (c) {
                case 'l':
                        a->listen = true;
                        break;
                case 'k':
                        a->keep_open = true;
                        break;
                case 'v':
                        a->verbose = true;
                        break;
                case 'w':
                        r = arg_u32(cmd, "timeout", optarg, 1, HVSOCK_CONNECT_TIMEOUT_MAX, &a->timeout_ms);
                        if (r)
                                return r;
                        have_wait = true;
                        break;
                default:
                        return cli_opt_exit(c);
                }
        }
        if (a->keep_open && !a->listen)
                return cli_usage(cmd, "option '-k' needs '-l'");
        /* Listening waits for a client forever unless -w says otherwise. */
        if (a->listen && !have_wait)
                a->timeout_ms = 0;
        r = cli_positional(cmd, argc, argv, 2, 2, "VM SERVICE");
        if (r)
                return r;
        a->vm_arg = argv[optind];
        a->service_arg = argv[optind + 1];
        return -1;
}

int cmd_nc(const struct cli_command *cmd, int argc, char **argv) {
        _cleanup_ctx_ struct hvsock_ctx *ctx = NULL;
        _cleanup_registry_free_ struct hvsock_registry *reg = NULL;
        struct hvsock_guid vm, service;
        struct nc_args a = {};
        struct relay *relay;
        int r;

        r = nc_parse(cmd, argc, argv, &a);
        if (r >= 0)
                return r;
        r = cli_ctx(&ctx);
        if (r)
                return r;
        r = nc_resolve_service(cmd, ctx, &reg, a.service_arg, &service);
        if (r)
                return r;
        r = cli_resolve_vm(cmd, ctx, &reg, a.vm_arg, &vm);
        if (r)
                return r;
        /* CHILDREN names VMs to accept from, not one to reach (DESIGN.md). */
        if (!a.listen && hvsock_guid_equal(&vm, &HVSOCK_GUID_CHILDREN))
                return cli_usage(cmd, "invalid VM '%s': 'children' is only meaningful with -l", a.vm_arg);
        hvsock_addr_init(&a.addr, &vm, &service);

        /* A reader that went away shows up as EPIPE from write(), not a signal. */
        signal(SIGPIPE, SIG_IGN);
        relay = relay_new(STDIN_FILENO, STDOUT_FILENO, a.keep_open);
        if (!relay)
                return cli_fail("relaying: %s", hvsock_strerror(-ENOMEM));
        r = a.listen ? nc_listen(ctx, &a, relay) : nc_connect(ctx, &a, relay);
        relay_free(relay);
        return r;
}
