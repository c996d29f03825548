/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli-util.h"

static void print_path(FILE *f, const char *path) {
        fputs("hvsock", f);
        if (path && *path)
                fprintf(f, " %s", path);
}

void cli_help(FILE *f, const struct cli_command *cmd) {
        fputs("Usage: ", f);
        print_path(f, cmd->path);
        fprintf(f, "%s%s\n\n%s.\n\nOptions:\n", *cmd->args ? " " : "", cmd->args, cmd->summary);
        if (cmd->options)
                fputs(cmd->options, f);
        fputs("  -h, --help              show this help\n", f);
}

void cli_group_help(FILE *f, const struct cli_command *cmd, const struct cli_command *cmds, size_t n) {
        fputs("Usage: ", f);
        print_path(f, cmd->path);
        fprintf(f, " COMMAND [ARGS...]\n\n%s.\n\nCommands:\n", cmd->summary);
        for (size_t i = 0; i < n; i++) {
                fputs("  ", f);
                print_path(f, cmds[i].path);
                fprintf(f, "%s%s\n      %s\n", *cmds[i].args ? " " : "", cmds[i].args, cmds[i].summary);
        }
        if (cmd->options)
                fprintf(f, "\nOptions:\n%s", cmd->options);
        fputs("\nRun '", f);
        print_path(f, cmd->path);
        fputs(" COMMAND --help' for the options of a command.\n", f);
}

static bool is_help(const char *s) {
        return strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0 || strcmp(s, "help") == 0;
}

int cli_dispatch(const struct cli_command *cmd, const struct cli_command *cmds, size_t n,
                 int argc, char **argv) {
        if (argc < 2) {
                cli_group_help(stderr, cmd, cmds, n);
                return EXIT_USAGE;
        }
        if (is_help(argv[1])) {
                cli_group_help(stdout, cmd, cmds, n);
                return EXIT_SUCCESS;
        }
        for (size_t i = 0; i < n; i++)
                if (strcmp(argv[1], cmds[i].name) == 0) {
                        /* Each command parses its options from a fresh getopt state. */
                        optind = 0;
                        return cmds[i].run(&cmds[i], argc - 1, argv + 1);
                }
        if (argv[1][0] == '-')
                return cli_usage(cmd, "unknown option '%s'", argv[1]);
        return cli_usage(cmd, "unknown command '%s%s%s'", cmd->path, *cmd->path ? " " : "", argv[1]);
}

int cli_getopt(const struct cli_command *cmd, int argc, char **argv, const char *shortopts,
               const struct option *longopts) {
        char opts[64];
        int c;

        /* A leading ':' makes getopt report a missing argument as ':'. */
        snprintf(opts, sizeof(opts), ":%s", shortopts);
        opterr = 0;
        c = getopt_long(argc, argv, opts, longopts, NULL);
        switch (c) {
        case 'h':
                cli_help(stdout, cmd);
                return CLI_OPT_HELP;
        case '?':
                if (optopt > 0 && optopt < 256)
                        cli_usage(cmd, "unknown option '-%c'", optopt);
                else
                        cli_usage(cmd, "unknown option '%s'", argv[optind - 1]);
                return CLI_OPT_USAGE;
        case ':':
                cli_usage(cmd, "option '%s' needs an argument", argv[optind - 1]);
                return CLI_OPT_USAGE;
        default:
                return c;
        }
}

int cli_opt_exit(int c) {
        return c == CLI_OPT_HELP ? EXIT_SUCCESS : EXIT_USAGE;
}

int cli_no_options(const struct cli_command *cmd, int argc, char **argv) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int c = cli_getopt(cmd, argc, argv, "h", options);

        return c == -1 ? -1 : cli_opt_exit(c);
}

int cli_positional(const struct cli_command *cmd, int argc, char **argv, int n_min, int n_max,
                   const char *names) {
        int n = argc - optind;

        if (n < n_min)
                return cli_usage(cmd, "missing argument (expected %s)", names);
        if (n > n_max)
                return cli_usage(cmd, "unexpected argument '%s'", argv[optind + n_max]);
        return 0;
}

static void vprint_error(const char *fmt, va_list ap) {
        fputs("hvsock: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
}

int cli_fail(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vprint_error(fmt, ap);
        va_end(ap);
        return EXIT_FAILURE;
}

int cli_usage(const struct cli_command *cmd, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vprint_error(fmt, ap);
        va_end(ap);
        fputs("Try '", stderr);
        print_path(stderr, cmd->path);
        fputs(" --help'.\n", stderr);
        return EXIT_USAGE;
}

int cli_error(int err, const char *what, const char *input) {
        return cli_fail("%s '%s': %s", what, input, hvsock_strerror(err));
}

static int digit_value(char c, int base) {
        int v;

        if (c >= '0' && c <= '9')
                v = c - '0';
        else if (c >= 'a' && c <= 'f')
                v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
                v = c - 'A' + 10;
        else
                return -1;
        return v < base ? v : -1;
}

int parse_u32(const char *s, uint32_t *ret) {
        const char *p = s;
        uint64_t v = 0;
        bool overflow = false;
        int base = 10;

        if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
                base = 16;
                p += 2;
        }
        if (!*p)
                return -EINVAL;
        for (; *p; p++) {
                int d = digit_value(*p, base);
                if (d < 0)
                        return -EINVAL;
                if (!overflow)
                        v = v * (uint64_t) base + (uint64_t) d;
                if (v > UINT32_MAX)
                        overflow = true;
        }
        if (overflow)
                return -ERANGE;
        *ret = (uint32_t) v;
        return 0;
}

int arg_guid(const struct cli_command *cmd, const char *what, const char *s, struct hvsock_guid *ret) {
        if (hvsock_guid_parse(s, ret) < 0)
                return cli_usage(cmd, "invalid %s '%s': expected a GUID like "
                                 "00000ac9-facb-11e6-bd58-64006a7986d3", what, s);
        return 0;
}

int arg_u32(const struct cli_command *cmd, const char *what, const char *s, uint32_t min,
            uint32_t max, uint32_t *ret) {
        uint32_t v;
        int r = parse_u32(s, &v);

        if (r == -EINVAL)
                return cli_usage(cmd, "invalid %s '%s': expected a number (decimal or 0x hex)", what, s);
        if (r < 0 || v < min || v > max)
                return cli_usage(cmd, "invalid %s '%s': out of range %" PRIu32 "..%" PRIu32, what, s, min, max);
        *ret = v;
        return 0;
}

int arg_port(const struct cli_command *cmd, const char *s, uint32_t *ret) {
        return arg_u32(cmd, "port", s, 0, HVSOCK_PORT_MAX, ret);
}

int cli_ctx(struct hvsock_ctx **ret) {
        int r = hvsock_ctx_new(ret);

        if (r == -EINVAL)
                return cli_fail("invalid HVSOCK_TRANSPORTS '%s': expected a comma-separated list of "
                                "vsock, hybrid, local", getenv("HVSOCK_TRANSPORTS"));
        if (r < 0)
                return cli_fail("reading the environment: %s", hvsock_strerror(r));
        return 0;
}

int cli_registry_load(const struct hvsock_ctx *ctx, struct hvsock_registry **ret) {
        _cleanup_free_ char *error = NULL;
        const char *dir = hvsock_ctx_config_dir(ctx);
        int r = hvsock__registry_load(dir, ret, &error);

        if (r < 0)
                return cli_fail("loading registry '%s/%s': %s", dir, HVSOCK_REGISTRY_FILE,
                                error ? error : hvsock_strerror(r));
        return 0;
}

int cli_ctx_registry(struct hvsock_ctx **ctx, struct hvsock_registry **reg) {
        int r = cli_ctx(ctx);

        return r ? r : cli_registry_load(*ctx, reg);
}

struct hvsock_service *cli_find_service(const struct hvsock_registry *r, const char *arg) {
        struct hvsock_guid id;

        if (hvsock_guid_parse(arg, &id) == 0)
                return hvsock__registry_find_service(r, &id);
        return hvsock__registry_find_service_by_name(r, arg);
}

struct hvsock_vm *cli_find_vm(const struct hvsock_registry *r, const char *arg) {
        struct hvsock_guid id;

        if (hvsock_guid_parse(arg, &id) == 0)
                return hvsock__registry_find_vm(r, &id);
        return hvsock__registry_find_vm_by_name(r, arg);
}

int cli_update_fail(struct cli_update *u, int err, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(u->message, sizeof(u->message), fmt, ap);
        va_end(ap);
        return err;
}

static int update_trampoline(struct hvsock_registry *r, void *userdata, char **ret_error) {
        struct cli_update *u = userdata;

        return u->fn(r, u);
}

int cli_registry_update(const struct hvsock_ctx *ctx, struct cli_update *u, const char *what,
                        const char *input) {
        _cleanup_free_ char *error = NULL;
        int r;

        u->message[0] = '\0';
        r = hvsock__registry_update(hvsock_ctx_config_dir(ctx), update_trampoline, u, &error);
        if (r >= 0)
                return 0;
        /* Our own words first: they name the conflicting entry. */
        if (u->message[0])
                return cli_fail("%s '%s': %s", what, input, u->message);
        return cli_fail("%s '%s': %s", what, input, error ? error : hvsock_strerror(r));
}

int cli_update_command(const struct cli_command *cmd, int argc, char **argv, const char *argname,
                       int (*fn)(struct hvsock_registry *r, struct cli_update *u), const char *what) {
        _cleanup_ctx_ struct hvsock_ctx *ctx = NULL;
        struct cli_update u = { .fn = fn };
        int r = cli_no_options(cmd, argc, argv);

        if (r >= 0)
                return r;
        r = cli_positional(cmd, argc, argv, 1, 1, argname);
        if (r)
                return r;
        u.data = argv[optind];
        r = cli_ctx(&ctx);
        if (r)
                return r;
        return cli_registry_update(ctx, &u, what, argv[optind]);
}

/* The registry is read only when an argument is a name, so GUIDs, ports
 * and well-known VMs work even without one. */
int cli_registry_lazy(const struct hvsock_ctx *ctx, struct hvsock_registry **reg) {
        return *reg ? 0 : cli_registry_load(ctx, reg);
}

/* VM: a GUID, a well-known name (parent, loopback, children, any...) or a registered VM. */
int cli_resolve_vm(const struct cli_command *cmd, const struct hvsock_ctx *ctx,
                   struct hvsock_registry **reg, const char *arg, struct hvsock_guid *ret) {
        const struct hvsock_vm *vm;
        int r;

        if (hvsock_guid_parse(arg, ret) == 0 || hvsock_guid_from_wellknown_name(arg, ret) == 0)
                return 0;
        /* Neither a GUID nor something a VM could be named: a malformed argument. */
        if (!hvsock__vm_name_valid(arg))
                return cli_usage(cmd, "invalid VM '%s': expected a VM name, a GUID, or parent, loopback, "
                                 "children, any", arg);
        r = cli_registry_lazy(ctx, reg);
        if (r)
                return r;
        vm = hvsock__registry_find_vm_by_name(*reg, arg);
        if (!vm)
                return cli_fail("resolving VM '%s': not a GUID, a well-known VM (parent, loopback, "
                                "children, any) or a registered VM", arg);
        *ret = vm->id;
        return 0;
}

/* Length of the valid UTF-8 sequence (2 to 4 bytes) at p, or 0. */
static size_t utf8_sequence(const unsigned char *p) {
        unsigned char c = p[0], lo = 0x80, hi = 0xbf;
        size_t n;

        if (c >= 0xc2 && c <= 0xdf)
                n = 2;
        else if (c >= 0xe0 && c <= 0xef)
                n = 3;
        else if (c >= 0xf0 && c <= 0xf4)
                n = 4;
        else
                return 0;
        /* Overlong forms, surrogates and code points above U+10FFFF. */
        if (c == 0xe0)
                lo = 0xa0;
        else if (c == 0xed)
                hi = 0x9f;
        else if (c == 0xf0)
                lo = 0x90;
        else if (c == 0xf4)
                hi = 0x8f;
        if (p[1] < lo || p[1] > hi)
                return 0;
        for (size_t i = 2; i < n; i++)
                if (p[i] < 0x80 || p[i] > 0xbf)
                        return 0;
        return n;
}

void json_string(FILE *f, const char *s) {
        const unsigned char *p = (const unsigned char *) s;

        if (!s) {
                fputs("null", f);
                return;
        }
        fputc('"', f);
        while (*p) {
                size_t n;

                if (*p == '"' || *p == '\\')
                        fprintf(f, "\\%c", *p);
                else if (*p == '\n')
                        fputs("\\n", f);
                else if (*p == '\t')
                        fputs("\\t", f);
                else if (*p < 0x20 || *p == 0x7f)
                        fprintf(f, "\\u%04x", *p);
                else if (*p < 0x80)
                        fputc(*p, f);
                else if ((n = utf8_sequence(p)) > 0) {
                        fwrite(p, 1, n, f);
                        p += n;
                        continue;
                } else
                        fputs("\\ufffd", f);
                p++;
        }
        fputc('"', f);
}

const char *yes_no(bool b) {
        return b ? "yes" : "no";
}

void hvsock_ctx_freep(struct hvsock_ctx **p) {
        hvsock_ctx_free(*p);
}
