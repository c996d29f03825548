/* SPDX-License-Identifier: MIT */
/*
 * hvsock-sessiond: the VM session service. Runs in a guest, listens on the
 * VM Session Service ID and runs the commands hosts ask for
 * (docs/session-protocol.md).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hvsock/hvsock.h>

#include "fd-util.h"
#include "frame.h"
#include "user-util.h"
#include "macro.h"
#include "registry.h"
#include "copy.h"
#include "auth-pam.h"
#include "session-server.h"

#ifndef HVSOCK_VERSION
#define HVSOCK_VERSION "unknown"
#endif

static void help(void) {
        printf("Usage: hvsock-sessiond [--listen VM] [--auth host|pam] [--max-sessions N]\n"
               "                       [--request-timeout SECONDS] [--socket-owner USER] [--group GROUP]\n\n"
               "Serve the VM Session Service (service ID 0000%04x-facb-11e6-bd58-64006a7986d3, port %u):\n"
               "run the commands and shells that `hvsock exec` and `hvsock shell` ask for.\n\n"
               "Options:\n"
               "  -l, --listen VM         where to accept sessions: any (default), loopback, parent,\n"
               "                          children, a VM ID, or a VM name from the registry\n"
               "  -a, --auth MODE         host (default): trust the hypervisor-authenticated peer\n"
               "                          (a local one only when it is root or this daemon's user);\n"
               "                          pam: require a user and password, checked through PAM\n"
               "                          (service hvsock-sessiond), and run as that user in a PAM session\n"
               "  -m, --max-sessions N    sessions served at once, 1..4096 (default %u)\n"
               "      --request-timeout S seconds a client has from connecting to sending its\n"
               "                          request, password included, 1..3600 (default %u)\n"
               "      --socket-owner USER owner of the socket files this daemon listens on\n"
               "                          (local and hybrid transports; mode 0660), a name or uid\n"
               "      --group GROUP       their group, whose members may connect; a name or gid\n"
               "  -h, --help              show this help\n"
               "  -V, --version           show the version\n",
               (unsigned) SESSION_PORT, (unsigned) SESSION_PORT, SESSION_SERVER_MAX_SESSIONS_DEFAULT,
               SESSION_REQUEST_TIMEOUT_DEFAULT);
}

/* A decimal option value in 1..max into *ret; false when it is not one. */
static bool parse_range(const char *s, long max, uint32_t *ret) {
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < 1 || v > max)
                return false;
        *ret = (uint32_t) v;
        return true;
}

static int usage(const char *fmt, const char *arg) {
        fputs("hvsock-sessiond: ", stderr);
        fprintf(stderr, fmt, arg);
        fputs("\nTry 'hvsock-sessiond --help'.\n", stderr);
        return 2;
}

/* A bad --socket-owner or --group value. */
static int usage_id(const char *opt, const char *arg, int err, bool group) {
        fprintf(stderr, "hvsock-sessiond: invalid %s '%s': %s\nTry 'hvsock-sessiond --help'.\n", opt, arg,
                parse_id_strerror(err, group));
        return 2;
}

/* VM: a GUID, a well-known name or a VM registered on this side. */
static int resolve_vm(const struct hvsock_ctx *ctx, const char *arg, struct hvsock_guid *ret) {
        _cleanup_free_ char *error = NULL;
        _cleanup_registry_free_ struct hvsock_registry *reg = NULL;
        const struct hvsock_vm *vm;
        int r;

        if (hvsock_guid_parse(arg, ret) == 0 || hvsock_guid_from_wellknown_name(arg, ret) == 0)
                return 0;
        if (!hvsock__vm_name_valid(arg))
                return usage("invalid VM '%s': expected a VM name, a GUID, or any, loopback, parent, children", arg);
        r = hvsock__registry_load(hvsock_ctx_config_dir(ctx), &reg, &error);
        if (r < 0) {
                fprintf(stderr, "hvsock-sessiond: loading the registry: %s\n", error ? error : hvsock_strerror(r));
                return 1;
        }
        vm = hvsock__registry_find_vm_by_name(reg, arg);
        if (!vm) {
                fprintf(stderr, "hvsock-sessiond: resolving VM '%s': not a GUID, a well-known VM or a registered VM\n", arg);
                return 1;
        }
        *ret = vm->id;
        return 0;
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                { "listen", required_argument, NULL, 'l' },
                { "auth", required_argument, NULL, 'a' },
                { "max-sessions", required_argument, NULL, 'm' },
                { "request-timeout", required_argument, NULL, 'T' },
                { "socket-owner", required_argument, NULL, 'O' },
                { "group", required_argument, NULL, 'G' },
                {},
        };
        struct session_server_config cfg = {};
        struct session_server *srv = NULL;
        struct hvsock_listener *l = NULL;
        struct hvsock_ctx *ctx = NULL;
        const char *listen_arg = "any";
        char vm_text[HVSOCK_GUID_STRING_MAX], svc_text[HVSOCK_GUID_STRING_MAX];
        struct hvsock_guid vm, service;
        struct hvsock_addr addr;
        uid_t owner = (uid_t) -1;
        gid_t group = (gid_t) -1;
        int c, r;

        /* A command's pipes must never land on descriptors 0-2. */
        open_std_fds();
        /* The daemon runs itself as the helper of a file copy (copy.c). */
        if (argc >= 2 && strcmp(argv[1], COPY_HELPER_OPTION) == 0)
                return copy_helper_main(argc - 2, argv + 2);
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":hVl:a:m:", options, NULL)) != -1) {
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case 'V':
                        printf("hvsock-sessiond %s\n", HVSOCK_VERSION);
                        return 0;
                case 'l':
                        listen_arg = optarg;
                        break;
                case 'a':
                        if (strcmp(optarg, "host") == 0)
                                cfg.auth = SESSION_SERVER_AUTH_HOST;
                        else if (strcmp(optarg, "pam") == 0 && !session_pam_available())
                                return usage("invalid --auth '%s': this hvsock-sessiond was built without PAM", optarg);
                        else if (strcmp(optarg, "pam") == 0)
                                cfg.auth = SESSION_SERVER_AUTH_PAM;
                        else
                                return usage("invalid --auth '%s': expected host or pam", optarg);
                        break;
                case 'm':
                        if (!parse_range(optarg, 4096, &cfg.max_sessions))
                                return usage("invalid --max-sessions '%s': expected 1..4096", optarg);
                        break;
                case 'T':
                        if (!parse_range(optarg, 3600, &cfg.request_timeout_s))
                                return usage("invalid --request-timeout '%s': expected 1..3600 seconds", optarg);
                        break;
                case 'O':
                        r = parse_user(optarg, &owner);
                        if (r < 0)
                                return usage_id("--socket-owner", optarg, r, false);
                        break;
                case 'G':
                        r = parse_group(optarg, &group);
                        if (r < 0)
                                return usage_id("--group", optarg, r, true);
                        break;
                case ':':
                        return usage("option '%s' needs an argument", argv[optind - 1]);
                default:
                        return usage("unknown option '%s'", argv[optind - 1]);
                }
        }
        if (optind < argc)
                return usage("unexpected argument '%s'", argv[optind]);

        r = hvsock_ctx_new(&ctx);
        if (r < 0) {
                fprintf(stderr, "hvsock-sessiond: reading the environment: %s\n", hvsock_strerror(r));
                return 1;
        }
        hvsock_ctx_set_socket_owner(ctx, owner, group);
        r = resolve_vm(ctx, listen_arg, &vm);
        if (r)
                goto out;
        hvsock_guid_from_port(SESSION_PORT, &service);
        hvsock_addr_init(&addr, &vm, &service);
        /* A full backlog makes clients' connects time out: let clients over the
         * limit queue there for their BUSY answer (session-admit.h). */
        r = hvsock_listen(ctx, &addr, SOMAXCONN, &l);
        if (r < 0) {
                fprintf(stderr, "hvsock-sessiond: listening on VM '%s', service '%s': %s\n", listen_arg,
                        SESSION_SERVICE_NAME, hvsock_ctx_last_error(ctx) ? hvsock_ctx_last_error(ctx) : hvsock_strerror(r));
                r = 1;
                goto out;
        }
        r = session_server_new(l, &cfg, &srv);
        if (r < 0) {
                fprintf(stderr, "hvsock-sessiond: starting: %s\n", hvsock_strerror(r));
                r = 1;
                goto out;
        }
        fprintf(stderr, "hvsock-sessiond: listening on VM %s (%s), service %s (port %u), auth %s\n",
                hvsock_guid_format(&vm, vm_text), listen_arg, hvsock_guid_format(&service, svc_text),
                (unsigned) SESSION_PORT, cfg.auth == SESSION_SERVER_AUTH_PAM ? "pam" : "host");
        r = session_server_run(srv);
        if (r < 0) {
                fprintf(stderr, "hvsock-sessiond: event loop: %s\n", hvsock_strerror(r));
                r = 1;
        }
out:
        session_server_free(srv);
        hvsock_listener_free(l);
        hvsock_ctx_free(ctx);
        return r;
}
