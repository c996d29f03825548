/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli-util.h"
#include "commands.h"

static void print_guid(const struct hvsock_guid *g) {
        char buf[HVSOCK_GUID_STRING_MAX];

        puts(hvsock_guid_format(g, buf));
}

static int guid_new(const struct cli_command *cmd, int argc, char **argv) {
        struct hvsock_guid g;
        int r = cli_no_options(cmd, argc, argv);

        if (r >= 0)
                return r;
        r = cli_positional(cmd, argc, argv, 0, 0, "");
        if (r)
                return r;
        hvsock_guid_generate(&g);
        print_guid(&g);
        return EXIT_SUCCESS;
}

static int guid_from_port(const struct cli_command *cmd, int argc, char **argv) {
        struct hvsock_guid g;
        uint32_t port;
        int r = cli_no_options(cmd, argc, argv);

        if (r >= 0)
                return r;
        r = cli_positional(cmd, argc, argv, 1, 1, "PORT");
        if (r)
                return r;
        r = arg_port(cmd, argv[optind], &port);
        if (r)
                return r;
        hvsock_guid_from_port(port, &g);
        print_guid(&g);
        return EXIT_SUCCESS;
}

static int guid_to_port(const struct cli_command *cmd, int argc, char **argv) {
        struct hvsock_guid g;
        uint32_t port;
        int r = cli_no_options(cmd, argc, argv);

        if (r >= 0)
                return r;
        r = cli_positional(cmd, argc, argv, 1, 1, "GUID");
        if (r)
                return r;
        r = arg_guid(cmd, "GUID", argv[optind], &g);
        if (r)
                return r;
        if (hvsock_guid_to_port(&g, &port) < 0)
                return cli_fail("converting GUID '%s' to a port: not a VSOCK-template GUID "
                                "(XXXXXXXX-facb-11e6-bd58-64006a7986d3 with XXXXXXXX <= 7fffffff)",
                                argv[optind]);
        printf("%" PRIu32 "\n", port);
        return EXIT_SUCCESS;
}

static int guid_wellknown(const struct cli_command *cmd, int argc, char **argv) {
        static const char *const names[] = { "zero", "broadcast", "children", "loopback", "parent", "silohost" };
        char buf[HVSOCK_GUID_STRING_MAX];
        int r = cli_no_options(cmd, argc, argv);

        if (r >= 0)
                return r;
        r = cli_positional(cmd, argc, argv, 0, 0, "");
        if (r)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                struct hvsock_guid g;

                if (hvsock_guid_from_wellknown_name(names[i], &g) == 0)
                        printf("%-10s %s\n", names[i], hvsock_guid_format(&g, buf));
        }
        printf("%-10s %s\n", "template", hvsock_guid_format(&HVSOCK_GUID_VSOCK_TEMPLATE, buf));
        return EXIT_SUCCESS;
}

static const struct cli_command guid_commands[] = {
        { "new", "guid new", guid_new, "", "Print a new random GUID", NULL },
        { "from-port", "guid from-port", guid_from_port, "PORT",
          "Print the VSOCK-template service ID of a port (0..0x7fffffff, decimal or 0x hex)", NULL },
        { "to-port", "guid to-port", guid_to_port, "GUID",
          "Print the port a VSOCK-template service ID carries", NULL },
        { "wellknown", "guid wellknown", guid_wellknown, "",
          "List the well-known VM IDs and the VSOCK template", NULL },
};

int cmd_guid(const struct cli_command *cmd, int argc, char **argv) {
        return cli_dispatch(cmd, guid_commands, ELEMENTSOF(guid_commands), argc, argv);
}
