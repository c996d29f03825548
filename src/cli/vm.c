/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli-util.h"
#include "commands.h"

/* ---- add ---- */

struct vm_add {
        const char *name;
        struct hvsock_guid id;
        uint32_t cid;
        char *uds; /* absolute */
};

static int vm_add_apply(struct hvsock_registry *r, struct cli_update *u) {
        struct vm_add *a = u->data;
        const struct hvsock_vm *other;
        char buf[HVSOCK_GUID_STRING_MAX];
        int k;

        if ((other = hvsock__registry_find_vm_by_name(r, a->name)))
                return cli_update_fail(u, -EEXIST, "a VM with that name is already registered (%s)",
                                       hvsock_guid_format(&other->id, buf));
        if ((other = hvsock__registry_find_vm(r, &a->id)))
                return cli_update_fail(u, -EEXIST, "VM ID %s is already registered as '%s'",
                                       hvsock_guid_format(&a->id, buf), other->name);
        if (a->cid != 0 && (other = hvsock__registry_find_vm_by_cid(r, a->cid)))
                return cli_update_fail(u, -EEXIST, "CID %" PRIu32 " is already used by VM '%s'", a->cid,
                                       other->name);
        if (a->uds && (other = hvsock__registry_find_vm_by_uds(r, a->uds)))
                return cli_update_fail(u, -EEXIST, "UDS path %s is already used by VM '%s'", a->uds,
                                       other->name);
        k = hvsock__registry_add_vm(r, a->name, &a->id, a->cid, a->uds);
        if (k < 0)
                return cli_update_fail(u, k, "%s", hvsock_strerror(k));
        return 0;
}

/* The registry is read by daemons with other working directories. */
static int absolute_path(const char *path, char **ret) {
        _cleanup_free_ char *cwd = NULL;

        if (path[0] == '/')
                *ret = strdup(path);
        else {
                cwd = getcwd(NULL, 0);
                if (!cwd)
                        return negative_errno();
                if (asprintf(ret, "%s/%s", cwd, path) < 0)
                        *ret = NULL;
        }
        return *ret ? 0 : -ENOMEM;
}

static int vm_add_check_name(const struct cli_command *cmd, const char *name) {
        struct hvsock_guid g;

        if (!hvsock__vm_name_valid(name))
                return cli_usage(cmd, "invalid VM name '%s': expected 1..%d characters of A-Z a-z 0-9 . _ -",
                                 name, HVSOCK_VM_NAME_MAX);
        if (hvsock_guid_parse(name, &g) == 0)
                return cli_usage(cmd, "invalid VM name '%s': a name cannot be a GUID", name);
        if (hvsock_guid_from_wellknown_name(name, &g) == 0)
                return cli_usage(cmd, "invalid VM name '%s': reserved for a well-known VM ID", name);
        return 0;
}

static int vm_add_check_uds(const struct cli_command *cmd, const char *arg, char **ret) {
        int r = absolute_path(arg, ret);

        if (r < 0)
                return cli_error(r, "resolving UDS path", arg);
        if (!hvsock__uds_valid(*ret))
                return cli_usage(cmd, "invalid UDS path '%s': expected at most %d bytes without control "
                                 "characters", arg, HVSOCK_UDS_MAX);
        return 0;
}

static int vm_add(const struct cli_command *cmd, int argc, char **argv) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "cid", required_argument, NULL, 'c' },
                { "uds", required_argument, NULL, 'u' },
                { "id", required_argument, NULL, 'i' },
                {},
        };
        _cleanup_ctx_ struct hvsock_ctx *ctx = NULL;
        _cleanup_free_ char *uds = NULL;
        const char *cid_arg = NULL, *uds_arg = NULL;
        struct vm_add a = {};
        struct cli_update u = { .fn = vm_add_apply, .data = &a };
        char buf[HVSOCK_GUID_STRING_MAX];
        bool have_id = false;
        int c, r;

        while ((c = cli_getopt(cmd, argc, argv, "hc:u:i:", options)) != -1) {
                switch (c) {
                case 'c':
                        cid_arg = optarg;
                        break;
                case 'u':
                        uds_arg = optarg;
                        break;
                case 'i':
                        r = arg_guid(cmd, "VM ID", optarg, &a.id);
                        if (r)
                                return r;
                        if (!hvsock__vm_id_valid(&a.id))
                                return cli_usage(cmd, "invalid VM ID '%s': reserved for a well-known VM", optarg);
                        have_id = true;
                        break;
                default:
                        return cli_opt_exit(c);
                }
        }
        r = cli_positional(cmd, argc, argv, 1, 1, "NAME");
        if (r)
                return r;
        if (!cid_arg == !uds_arg)
                return cli_usage(cmd, "give exactly one of --cid and --uds");
        a.name = argv[optind];
        r = vm_add_check_name(cmd, a.name);
        if (r)
                return r;
        if (cid_arg) {
                r = arg_u32(cmd, "CID", cid_arg, 0, UINT32_MAX, &a.cid);
                if (r)
                        return r;
                if (!hvsock__cid_valid(a.cid))
                        return cli_usage(cmd, "invalid CID '%s': 0, 1, 2 (the host) and 0xffffffff are reserved",
                                         cid_arg);
        } else {
                r = vm_add_check_uds(cmd, uds_arg, &uds);
                if (r)
                        return r;
                a.uds = uds;
        }
        if (!have_id)
                hvsock_guid_generate(&a.id);

        r = cli_ctx(&ctx);
        if (r)
                return r;
        r = cli_registry_update(ctx, &u, "adding VM", a.name);
        if (r)
                return r;
        puts(hvsock_guid_format(&a.id, buf));
        return EXIT_SUCCESS;
}

/* ---- list, show, id ---- */

static void vm_json(const struct hvsock_vm *vm) {
        char buf[HVSOCK_GUID_STRING_MAX];

        fputs("{\"name\": ", stdout);
        json_string(stdout, vm->name);
        printf(", \"id\": \"%s\", \"cid\": ", hvsock_guid_format(&vm->id, buf));
        if (vm->cid != 0)
                printf("%" PRIu32, vm->cid);
        else
                fputs("null", stdout);
        fputs(", \"uds\": ", stdout);
        json_string(stdout, vm->uds);
        fputs(", \"policies\": [", stdout);
        for (size_t i = 0; i < vm->n_policies; i++)
                printf("%s{\"service\": \"%s\", \"policy\": \"%s\"}", i == 0 ? "" : ", ",
                       hvsock_guid_format(&vm->policies[i].service, buf),
                       hvsock__policy_to_string(vm->policies[i].policy));
        fputs("]}", stdout);
}

static void vm_list_table(const struct hvsock_registry *r) {
        char buf[HVSOCK_GUID_STRING_MAX];

        printf("%-20s  %-36s  %-10s  %s\n", "NAME", "ID", "CID", "UDS");
        for (size_t i = 0; i < r->n_vms; i++) {
                const struct hvsock_vm *vm = &r->vms[i];
                char cid[16] = "-";

                if (vm->cid != 0)
                        snprintf(cid, sizeof(cid), "%" PRIu32, vm->cid);
                printf("%-20s  %-36s  %-10s  %s\n", vm->name, hvsock_guid_format(&vm->id, buf), cid,
                       vm->uds ? vm->uds : "-");
        }
}

static void vm_list_json(const struct hvsock_registry *r) {
        fputc('[', stdout);
        for (size_t i = 0; i < r->n_vms; i++) {
                fputs(i == 0 ? "\n  " : ",\n  ", stdout);
                vm_json(&r->vms[i]);
        }
        fputs(r->n_vms > 0 ? "\n]\n" : "]\n", stdout);
}

static const struct option json_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "json", no_argument, NULL, 'j' },
        {},
};

/* Parses [--json] and the positional arguments. Returns -1 to go on or an exit status. */
static int parse_json_args(const struct cli_command *cmd, int argc, char **argv, int n_args,
                           const char *names, bool *json) {
        int c, r;

        while ((c = cli_getopt(cmd, argc, argv, "hj", json_options)) != -1) {
                if (c != 'j')
                        return cli_opt_exit(c);
                *json = true;
        }
        r = cli_positional(cmd, argc, argv, n_args, n_args, names);
        return r ? r : -1;
}

static int vm_list(const struct cli_command *cmd, int argc, char **argv) {
        _cleanup_ctx_ struct hvsock_ctx *ctx = NULL;
        _cleanup_registry_free_ struct hvsock_registry *reg = NULL;
        bool json = false;
        int r = parse_json_args(cmd, argc, argv, 0, "", &json);

        if (r >= 0)
                return r;
        r = cli_ctx_registry(&ctx, &reg);
        if (r)
                return r;
        if (json)
                vm_list_json(reg);
        else
                vm_list_table(reg);
        return EXIT_SUCCESS;
}

static void vm_show_text(const struct hvsock_registry *r, const struct hvsock_vm *vm) {
        char buf[HVSOCK_GUID_STRING_MAX];

        printf("Name:     %s\n", vm->name);
        printf("ID:       %s\n", hvsock_guid_format(&vm->id, buf));
        if (vm->cid != 0)
                printf("CID:      %" PRIu32 "\n", vm->cid);
        else
                printf("UDS:      %s\n", vm->uds);
        printf("Service policies:%s\n", vm->n_policies == 0 ? " none" : "");
        for (size_t i = 0; i < vm->n_policies; i++) {
                const struct hvsock_service *s = hvsock__registry_find_service(r, &vm->policies[i].service);

                printf("  %s %-8s %s\n", hvsock_guid_format(&vm->policies[i].service, buf),
                       hvsock__policy_to_string(vm->policies[i].policy), s ? s->name : "(unregistered)");
        }
}

static int vm_show(const struct cli_command *cmd, int argc, char **argv) {
        _cleanup_ctx_ struct hvsock_ctx *ctx = NULL;
        _cleanup_registry_free_ struct hvsock_registry *reg = NULL;
        const struct hvsock_vm *vm;
        bool json = false;
        int r = parse_json_args(cmd, argc, argv, 1, "NAME or ID", &json);

        if (r >= 0)
                return r;
        r = cli_ctx_registry(&ctx, &reg);
        if (r)
                return r;
        vm = cli_find_vm(reg, argv[optind]);
        if (!vm)
                return cli_fail("showing VM '%s': no such VM in the registry", argv[optind]);
        if (json) {
                vm_json(vm);
                fputc('\n', stdout);
        } else
                vm_show_text(reg, vm);
        return EXIT_SUCCESS;
}

static int vm_id(const struct cli_command *cmd, int argc, char **argv) {
        _cleanup_ctx_ struct hvsock_ctx *ctx = NULL;
        _cleanup_registry_free_ struct hvsock_registry *reg = NULL;
        const struct hvsock_vm *vm;
        char buf[HVSOCK_GUID_STRING_MAX];
        int r = cli_no_options(cmd, argc, argv);

        if (r >= 0)
                return r;
        r = cli_positional(cmd, argc, argv, 1, 1, "NAME");
        if (r)
                return r;
        r = cli_ctx_registry(&ctx, &reg);
        if (r)
                return r;
        vm = cli_find_vm(reg, argv[optind]);
        if (!vm)
                return cli_fail("looking up VM '%s': no such VM in the registry", argv[optind]);
        puts(hvsock_guid_format(&vm->id, buf));
        return EXIT_SUCCESS;
}

/* ---- remove ---- */

static int vm_remove_apply(struct hvsock_registry *r, struct cli_update *u) {
        const struct hvsock_vm *vm = cli_find_vm(r, u->data);
        struct hvsock_guid id;
        int k;

        if (!vm)
                return cli_update_fail(u, -ENOENT, "no such VM in the registry");
        id = vm->id;
        k = hvsock__registry_remove_vm(r, &id);
        if (k < 0)
                return cli_update_fail(u, k, "%s", hvsock_strerror(k));
        return 0;
}

static int vm_remove(const struct cli_command *cmd, int argc, char **argv) {
        return cli_update_command(cmd, argc, argv, "NAME or ID", vm_remove_apply, "removing VM");
}

static const struct cli_command vm_commands[] = {
        { "add", "vm add", vm_add, "NAME (--cid N | --uds PATH) [--id GUID]",
          "Register a VM and print its ID",
          "  -c, --cid N             its vsock CID (3..0xfffffffe), for kernel vhost-vsock\n"
          "  -u, --uds PATH          its hybrid vsock UNIX socket (Firecracker, Cloud Hypervisor,\n"
          "                          hvsock-vhost)\n"
          "  -i, --id GUID           its VM ID (default: a new random one)\n" },
        { "list", "vm list", vm_list, "[--json]", "List the VMs", "  -j, --json              print a JSON array\n" },
        { "show", "vm show", vm_show, "NAME|ID [--json]", "Show a VM and its service policies",
          "  -j, --json              print a JSON object\n" },
        { "id", "vm id", vm_id, "NAME", "Print the VM ID of a VM", NULL },
        { "remove", "vm remove", vm_remove, "NAME|ID", "Unregister a VM and its service policies", NULL },
};

int cmd_vm(const struct cli_command *cmd, int argc, char **argv) {
        return cli_dispatch(cmd, vm_commands, ELEMENTSOF(vm_commands), argc, argv);
}
