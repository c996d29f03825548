/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cli-util.h"
#include "commands.h"

/* Random ports are drawn from the unprivileged part of the vsock port space. */
#define RANDOM_PORT_MIN 1024u
#define RANDOM_PORT_TRIES 1000

/* ---- add ---- */

struct service_add {
        const char *name;
        struct hvsock_guid id;
        bool have_id;
        uint32_t port;
        bool have_port;
        const char *start;
        bool disabled;
};

static int random_u32(uint32_t *ret) {
        uint32_t v;
        ssize_t n = getrandom(&v, sizeof(v), 0);

        if (n != (ssize_t) sizeof(v))
                return n < 0 ? negative_errno() : -EIO;
        *ret = v;
        return 0;
}

/* A port no service uses, whose template GUID is no service's ID either. */
static int pick_free_port(const struct hvsock_registry *r, uint32_t *ret) {
        for (int i = 0; i < RANDOM_PORT_TRIES; i++) {
                struct hvsock_guid g;
                uint32_t v, port;
                int k = random_u32(&v);

                if (k < 0)
                        return k;
                port = RANDOM_PORT_MIN + v % (HVSOCK_PORT_MAX - RANDOM_PORT_MIN + 1);
                hvsock_guid_from_port(port, &g);
                if (!hvsock__registry_find_service_by_port(r, port) && !hvsock__registry_find_service(r, &g)) {
                        *ret = port;
                        return 0;
                }
        }
        return -EADDRINUSE;
}

static int service_add_apply(struct hvsock_registry *r, struct cli_update *u) {
        struct service_add *a = u->data;
        const struct hvsock_service *other;
        char buf[HVSOCK_GUID_STRING_MAX];
        struct hvsock_service *s;
        int k;

        other = hvsock__registry_find_service_by_name(r, a->name);
        if (other)
                return cli_update_fail(u, -EEXIST, "a service with that name is already registered (%s)",
                                       hvsock_guid_format(&other->id, buf));
        if (a->have_id && (other = hvsock__registry_find_service(r, &a->id)))
                return cli_update_fail(u, -EEXIST, "service ID %s is already registered as '%s'",
                                       hvsock_guid_format(&a->id, buf), other->name);
        if (a->have_port && (other = hvsock__registry_find_service_by_port(r, a->port)))
                return cli_update_fail(u, -EEXIST, "port %" PRIu32 " is already used by service '%s' (%s)",
                                       a->port, other->name, hvsock_guid_format(&other->id, buf));
        if (!a->have_port) {
                k = pick_free_port(r, &a->port);
                if (k < 0)
                        return cli_update_fail(u, k, "picking a free port: %s", hvsock_strerror(k));
        }
        if (!a->have_id)
                hvsock_guid_from_port(a->port, &a->id);

        k = hvsock__registry_add_service(r, &a->id, a->name, a->port, a->start);
        if (k < 0)
                return cli_update_fail(u, k, "%s", hvsock_strerror(k));
        s = hvsock__registry_find_service(r, &a->id);
        if (!s)
                return cli_update_fail(u, -EIO, "the new service vanished from the registry");
        s->enabled = !a->disabled;
        return 0;
}

/* Checks --id, --port and the name before the registry is touched. */
static int service_add_check(const struct cli_command *cmd, struct service_add *a) {
        char buf[HVSOCK_GUID_STRING_MAX];
        struct hvsock_guid g;
        uint32_t implied;

        if (!hvsock__element_name_valid(a->name))
                return cli_usage(cmd, "invalid service name '%s': expected 1..%d bytes of UTF-8 "
                                 "without control characters", a->name, HVSOCK_ELEMENT_NAME_MAX);
        /* nc takes a GUID or a number as an ID or a port, never as a name. */
        if (hvsock_guid_parse(a->name, &g) == 0)
                return cli_usage(cmd, "invalid service name '%s': a name cannot be a GUID", a->name);
        if (parse_u32(a->name, &implied) != -EINVAL)
                return cli_usage(cmd, "invalid service name '%s': a name cannot be a number", a->name);
        if (a->start && !hvsock__start_valid(a->start))
                return cli_usage(cmd, "invalid start command '%s': expected 1..%d bytes without control "
                                 "characters or leading/trailing blanks", a->start, HVSOCK_START_MAX);
        if (!a->have_id)
                return 0;
        if (hvsock_guid_is_zero(&a->id))
                return cli_usage(cmd, "invalid service ID '%s': the zero GUID is not a service ID",
                                 hvsock_guid_format(&a->id, buf));
        if (hvsock_guid_to_port(&a->id, &implied) == 0) {
                if (a->have_port && a->port != implied)
                        return cli_usage(cmd, "invalid port '%" PRIu32 "': service ID %s is the VSOCK "
                                         "template for port %" PRIu32, a->port,
                                         hvsock_guid_format(&a->id, buf), implied);
                a->port = implied;
                a->have_port = true;
        }
        return 0;
}

static int service_add(const struct cli_command *cmd, int argc, char **argv) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "id", required_argument, NULL, 'i' },
                { "port", required_argument, NULL, 'p' },
                { "start", required_argument, NULL, 's' },
                { "disabled", no_argument, NULL, 'd' },
                {},
        };
        _cleanup_ctx_ struct hvsock_ctx *ctx = NULL;
        struct service_add a = {};
        struct cli_update u = { .fn = service_add_apply, .data = &a };
        char buf[HVSOCK_GUID_STRING_MAX];
        int c, r;

        while ((c = cli_getopt(cmd, argc, argv, "hi:p:s:d", options)) != -1) {
                switch (c) {
                case 'i':
                        r = arg_guid(cmd, "service ID", optarg, &a.id);
                        if (r)
                                return r;
                        a.have_id = true;
                        break;
                case 'p':
                        r = arg_port(cmd, optarg, &a.port);
                        if (r)
                                return r;
                        a.have_port = true;
                        break;
                case 's':
                        a.start = optarg;
                        break;
                case 'd':
                        a.disabled = true;
                        break;
                default:
                        return cli_opt_exit(c);
                }
        }
        r = cli_positional(cmd, argc, argv, 1, 1, "NAME");
        if (r)
                return r;
        a.name = argv[optind];
        r = service_add_check(cmd, &a);
        if (r)
                return r;
        r = cli_ctx(&ctx);
        if (r)
                return r;
        r = cli_registry_update(ctx, &u, "adding service", a.name);
        if (r)
                return r;
        puts(hvsock_guid_format(&a.id, buf));
        return EXIT_SUCCESS;
}

/* ---- list and show ---- */

/* Prints one service as a JSON object; vm (may be NULL) adds its policy. */
static void service_json(const struct hvsock_registry *r, const struct hvsock_service *s,
                         const struct hvsock_vm *vm) {
        char buf[HVSOCK_GUID_STRING_MAX];
        bool first = true;

        printf("{\"id\": \"%s\", \"name\": ", hvsock_guid_format(&s->id, buf));
        json_string(stdout, s->name);
        printf(", \"port\": %" PRIu32 ", \"enabled\": %s, \"start\": ", s->port, s->enabled ? "true" : "false");
        json_string(stdout, s->start);
        fputs(", \"vms\": [", stdout);
        for (size_t i = 0; i < r->n_vms; i++) {
                enum hvsock_policy p = hvsock__vm_policy(&r->vms[i], &s->id);

                if (p == HVSOCK_POLICY_DEFAULT)
                        continue;
                printf("%s{\"vm\": ", first ? "" : ", ");
                json_string(stdout, r->vms[i].name);
                printf(", \"policy\": \"%s\"}", hvsock__policy_to_string(p));
                first = false;
        }
        fputc(']', stdout);
        if (vm)
                printf(", \"policy\": \"%s\", \"allowed\": %s",
                       hvsock__policy_to_string(hvsock__vm_policy(vm, &s->id)),
                       hvsock__service_allowed(s, vm) ? "true" : "false");
        fputc('}', stdout);
}

static void service_list_json(const struct hvsock_registry *r, const struct hvsock_vm *vm) {
        fputc('[', stdout);
        for (size_t i = 0; i < r->n_services; i++) {
                fputs(i == 0 ? "\n  " : ",\n  ", stdout);
                service_json(r, &r->services[i], vm);
        }
        fputs(r->n_services > 0 ? "\n]\n" : "]\n", stdout);
}

static void service_list_table(const struct hvsock_registry *r, const struct hvsock_vm *vm) {
        char buf[HVSOCK_GUID_STRING_MAX];

        if (vm)
                printf("%-36s  %-10s  %-7s  %-8s  %s\n", "ID", "PORT", "ENABLED", "POLICY", "NAME");
        else
                printf("%-36s  %-10s  %-7s  %s\n", "ID", "PORT", "ENABLED", "NAME");
        for (size_t i = 0; i < r->n_services; i++) {
                const struct hvsock_service *s = &r->services[i];

                printf("%-36s  %-10" PRIu32 "  %-7s  ", hvsock_guid_format(&s->id, buf), s->port,
                       yes_no(hvsock__service_allowed(s, vm)));
                if (vm)
                        printf("%-8s  ", hvsock__policy_to_string(hvsock__vm_policy(vm, &s->id)));
                printf("%s\n", s->name);
        }
}


static int service_list(const struct cli_command *cmd, int argc, char **argv) {
        _cleanup_ctx_ struct hvsock_ctx *ctx = NULL;
        _cleanup_registry_free_ struct hvsock_registry *reg = NULL;
        const struct hvsock_vm *vm = NULL;
        const char *vm_arg = NULL;
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "json", no_argument, NULL, 'j' },
                { "vm", required_argument, NULL, 'm' },
                {},
        };
        bool json = false;
        int c, r;

        while ((c = cli_getopt(cmd, argc, argv, "hj", options)) != -1) {
                if (c == 'j')
                        json = true;
                else if (c == 'm')
                        vm_arg = optarg;
                else
                        return cli_opt_exit(c);
        }
        r = cli_positional(cmd, argc, argv, 0, 0, "");
        if (r)
                return r;
        r = cli_ctx_registry(&ctx, &reg);
        if (r)
                return r;
        if (vm_arg) {
                vm = cli_find_vm(reg, vm_arg);
                if (!vm)
                        return cli_fail("listing services for VM '%s': no such VM in the registry", vm_arg);
        }
        if (json)
                service_list_json(reg, vm);
        else
                service_list_table(reg, vm);
        return EXIT_SUCCESS;
}

static void service_show_text(const struct hvsock_registry *r, const struct hvsock_service *s) {
        char buf[HVSOCK_GUID_STRING_MAX];
        bool any = false;

        printf("ID:       %s\n", hvsock_guid_format(&s->id, buf));
        printf("Name:     %s\n", s->name);
        printf("Port:     %" PRIu32 "\n", s->port);
        printf("Enabled:  %s\n", yes_no(s->enabled));
        printf("Start:    %s\n", s->start ? s->start : "-");
        printf("VM policies:");
        for (size_t i = 0; i < r->n_vms; i++) {
                const struct hvsock_vm *vm = &r->vms[i];
                enum hvsock_policy p = hvsock__vm_policy(vm, &s->id);

                if (p == HVSOCK_POLICY_DEFAULT)
                        continue;
                printf("\n  %-20s %-8s (allowed: %s)", vm->name, hvsock__policy_to_string(p),
                       yes_no(hvsock__service_allowed(s, vm)));
                any = true;
        }
        puts(any ? "" : " none");
}

static int service_show(const struct cli_command *cmd, int argc, char **argv) {
        _cleanup_ctx_ struct hvsock_ctx *ctx = NULL;
        _cleanup_registry_free_ struct hvsock_registry *reg = NULL;
        const struct hvsock_service *s;
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "json", no_argument, NULL, 'j' },
                {},
        };
        bool json = false;
        int c, r;

        while ((c = cli_getopt(cmd, argc, argv, "hj", options)) != -1) {
                if (c == 'j')
                        json = true;
                else
                        return cli_opt_exit(c);
        }
        r = cli_positional(cmd, argc, argv, 1, 1, "ID or NAME");
        if (r)
                return r;
        r = cli_ctx_registry(&ctx, &reg);
        if (r)
                return r;
        s = cli_find_service(reg, argv[optind]);
        if (!s)
                return cli_fail("showing service '%s': no such service in the registry", argv[optind]);
        if (json) {
                service_json(reg, s, NULL);
                fputc('\n', stdout);
        } else
                service_show_text(reg, s);
        return EXIT_SUCCESS;
}

/* ---- enable, disable, default, remove ---- */

struct service_change {
        const char *service;
        const char *vm; /* NULL: the global switch */
        enum hvsock_policy policy;
};

static int service_change_apply(struct hvsock_registry *r, struct cli_update *u) {
        const struct service_change *ch = u->data;
        struct hvsock_service *s = cli_find_service(r, ch->service);
        struct hvsock_vm *vm;
        int k;

        if (!s)
                return cli_update_fail(u, -ENOENT, "no such service in the registry");
        if (!ch->vm) {
                s->enabled = ch->policy == HVSOCK_POLICY_ENABLED;
                return 0;
        }
        vm = cli_find_vm(r, ch->vm);
        if (!vm)
                return cli_update_fail(u, -ENOENT, "no VM '%s' in the registry", ch->vm);
        k = hvsock__registry_set_policy(r, vm, &s->id, ch->policy);
        if (k < 0)
                return cli_update_fail(u, k, "setting the policy of VM '%s': %s", ch->vm, hvsock_strerror(k));
        return 0;
}

static int service_change(const struct cli_command *cmd, int argc, char **argv, enum hvsock_policy policy) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "vm", required_argument, NULL, 'm' },
                {},
        };
        static const char *const verbs[] = {
                [HVSOCK_POLICY_DEFAULT] = "resetting the policy of service",
                [HVSOCK_POLICY_ENABLED] = "enabling service",
                [HVSOCK_POLICY_DISABLED] = "disabling service",
        };
        _cleanup_ctx_ struct hvsock_ctx *ctx = NULL;
        struct service_change ch = { .policy = policy };
        struct cli_update u = { .fn = service_change_apply, .data = &ch };
        int c, r;

        while ((c = cli_getopt(cmd, argc, argv, "h", options)) != -1) {
                if (c == 'm')
                        ch.vm = optarg;
                else
                        return cli_opt_exit(c);
        }
        r = cli_positional(cmd, argc, argv, 1, 1, "ID or NAME");
        if (r)
                return r;
        if (policy == HVSOCK_POLICY_DEFAULT && !ch.vm)
                return cli_usage(cmd, "missing option '--vm VM' (the default applies to one VM)");
        ch.service = argv[optind];
        r = cli_ctx(&ctx);
        if (r)
                return r;
        return cli_registry_update(ctx, &u, verbs[policy], ch.service);
}

static int service_enable(const struct cli_command *cmd, int argc, char **argv) {
        return service_change(cmd, argc, argv, HVSOCK_POLICY_ENABLED);
}

static int service_disable(const struct cli_command *cmd, int argc, char **argv) {
        return service_change(cmd, argc, argv, HVSOCK_POLICY_DISABLED);
}

static int service_default(const struct cli_command *cmd, int argc, char **argv) {
        return service_change(cmd, argc, argv, HVSOCK_POLICY_DEFAULT);
}

static int service_remove_apply(struct hvsock_registry *r, struct cli_update *u) {
        const struct hvsock_service *s = cli_find_service(r, u->data);
        struct hvsock_guid id;
        int k;

        if (!s)
                return cli_update_fail(u, -ENOENT, "no such service in the registry");
        /* The registry drops every VM's override for the service with it. */
        id = s->id;
        k = hvsock__registry_remove_service(r, &id);
        if (k < 0)
                return cli_update_fail(u, k, "%s", hvsock_strerror(k));
        return 0;
}

static int service_remove(const struct cli_command *cmd, int argc, char **argv) {
        return cli_update_command(cmd, argc, argv, "ID or NAME", service_remove_apply, "removing service");
}

static const struct cli_command service_commands[] = {
        { "add", "service add", service_add, "NAME [--id GUID] [--port N] [--start CMD] [--disabled]",
          "Register a service and print its ID",
          "  -i, --id GUID           the service ID (default: the VSOCK template of the port)\n"
          "  -p, --port N            its vsock port, 0..0x7fffffff (default: implied by a template\n"
          "                          ID, otherwise a free one at random from 1024 up)\n"
          "  -s, --start CMD         command that starts the service on demand\n"
          "  -d, --disabled          register it switched off\n" },
        { "list", "service list", service_list, "[--json] [--vm VM]",
          "List the services; with --vm, ENABLED is the effective state for that VM",
          "  -j, --json              print a JSON array\n"
          "      --vm VM             show the policy of VM (name or ID) and the effective state\n" },
        { "show", "service show", service_show, "ID|NAME [--json]",
          "Show a service and its per-VM policies",
          "  -j, --json              print a JSON object\n" },
        { "enable", "service enable", service_enable, "ID|NAME [--vm VM]",
          "Switch a service on, globally or for one VM",
          "      --vm VM             set the policy of this VM (name or ID) to enabled\n" },
        { "disable", "service disable", service_disable, "ID|NAME [--vm VM]",
          "Switch a service off, globally or for one VM",
          "      --vm VM             set the policy of this VM (name or ID) to disabled\n" },
        { "default", "service default", service_default, "ID|NAME --vm VM",
          "Drop a VM's policy for a service so it follows the global switch",
          "      --vm VM             the VM (name or ID)\n" },
        { "remove", "service remove", service_remove, "ID|NAME",
          "Unregister a service and drop every VM's policy for it", NULL },
};

int cmd_service(const struct cli_command *cmd, int argc, char **argv) {
        return cli_dispatch(cmd, service_commands, ELEMENTSOF(service_commands), argc, argv);
}
