/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <hvsock/hvsock.h>

#include "macro.h"
#include "registry.h"
#include "test-util.h"

#define S1 "00000ac9-facb-11e6-bd58-64006a7986d3" /* VSOCK template, port 2761 */
#define S2 "999e53d4-3d5c-4c3e-8779-bed06ec056e1" /* not a template */
#define V1 "5c6a0f3e-1111-4a2b-9c3d-0123456789ab"
#define V2 "6d7b1a4f-2222-4b3c-8d4e-123456789abc"

#define EXAMPLE                                                  \
        "# hvsock registry\n"                                    \
        "[service " S1 "]\n"                                     \
        "ElementName = My Echo Service\n"                        \
        "Port = 2761\n"                                          \
        "Enabled = yes\n"                                        \
        "Start = /usr/bin/my-echo --verbose\n"                   \
        "\n"                                                     \
        "[service " S2 "]\n"                                     \
        "ElementName = VM Session Service\n"                     \
        "Port = 5000\n"                                          \
        "Enabled = no\n"                                         \
        "\n"                                                     \
        "[vm web1]\n"                                            \
        "Id = " V1 "\n"                                          \
        "Cid = 5\n"                                              \
        "Service " S1 " = disabled\n"                            \
        "Service " S2 " = enabled\n"                             \
        "\n"                                                     \
        "[vm fc1]\n"                                             \
        "Id = " V2 "\n"                                          \
        "Uds = /run/firecracker/fc1.vsock\n"

static struct hvsock_guid guid(const char *s) {
        struct hvsock_guid g;

        assert_int_equal(hvsock_guid_parse(s, &g), 0);
        return g;
}

static struct hvsock_registry *parse_ok(const char *text) {
        struct hvsock_registry *r = NULL;
        char *error = NULL;
        int ret = hvsock__registry_parse(text, strlen(text), "t.conf", &r, &error);

        if (ret < 0)
                fail_msg("parse failed (%d): %s\n--- input ---\n%s", ret, error ? error : "(no message)", text);
        assert_null(error);
        assert_non_null(r);
        return r;
}

/* Parses, formats, parses again: the two registries and two texts agree. */
static void assert_round_trip(const struct hvsock_registry *r) {
        struct hvsock_registry *again = NULL;
        char *text = hvsock__registry_format(r), *text2, *error = NULL;

        assert_non_null(text);
        assert_int_equal(hvsock__registry_parse(text, strlen(text), "f.conf", &again, &error), 0);
        assert_null(error);
        assert_true(hvsock__registry_equal(r, again));
        text2 = hvsock__registry_format(again);
        assert_string_equal(text, text2);
        free(text);
        free(text2);
        hvsock__registry_free(again);
}

static void expect_error_n(const char *text, size_t len, const char *message) {
        struct hvsock_registry *sentinel = (struct hvsock_registry *) 0x1, *r = sentinel;
        char *error = NULL;
        int ret = hvsock__registry_parse(text, len, "t.conf", &r, &error);

        if (ret != -HVSOCK_E_REGISTRY)
                fail_msg("expected a parse error '%s', got %d\n--- input ---\n%.*s", message, ret, (int) len, text);
        assert_ptr_equal(r, sentinel); /* ret untouched on failure */
        assert_non_null(error);
        assert_string_equal(error, message);
        free(error);
        /* A NULL ret_error is fine too. */
        assert_int_equal(hvsock__registry_parse(text, len, "t.conf", &r, NULL), -HVSOCK_E_REGISTRY);
        assert_ptr_equal(r, sentinel);
}

static void expect_error(const char *text, const char *message) {
        expect_error_n(text, strlen(text), message);
}

static void test_parse_example(void **state) {
        struct hvsock_registry *r = parse_ok(EXAMPLE);
        struct hvsock_guid s1 = guid(S1), v1 = guid(V1);
        char *text;

        assert_int_equal(r->n_services, 2);
        assert_true(hvsock_guid_equal(&r->services[0].id, &s1));
        assert_string_equal(r->services[0].name, "My Echo Service");
        assert_int_equal(r->services[0].port, 2761);
        assert_true(r->services[0].enabled);
        assert_string_equal(r->services[0].start, "/usr/bin/my-echo --verbose");
        assert_string_equal(r->services[1].name, "VM Session Service");
        assert_int_equal(r->services[1].port, 5000);
        assert_false(r->services[1].enabled);
        assert_null(r->services[1].start);

        assert_int_equal(r->n_vms, 2);
        assert_string_equal(r->vms[0].name, "web1");
        assert_true(hvsock_guid_equal(&r->vms[0].id, &v1));
        assert_int_equal(r->vms[0].cid, 5);
        assert_null(r->vms[0].uds);
        assert_int_equal(r->vms[0].n_policies, 2);
        assert_int_equal(r->vms[0].policies[0].policy, HVSOCK_POLICY_DISABLED);
        assert_int_equal(r->vms[0].policies[1].policy, HVSOCK_POLICY_ENABLED);
        assert_string_equal(r->vms[1].name, "fc1");
        assert_int_equal(r->vms[1].cid, 0);
        assert_string_equal(r->vms[1].uds, "/run/firecracker/fc1.vsock");
        assert_int_equal(r->vms[1].n_policies, 0);

        /* The exact, deterministic output. */
        text = hvsock__registry_format(r);
        assert_string_equal(text,
                            "# hvsock registry (format: docs/registry.md)\n"
                            "\n[service " S1 "]\nElementName = My Echo Service\nPort = 2761\nEnabled = yes\n"
                            "Start = /usr/bin/my-echo --verbose\n"
                            "\n[service " S2 "]\nElementName = VM Session Service\nPort = 5000\nEnabled = no\n"
                            "\n[vm web1]\nId = " V1 "\nCid = 5\nService " S1 " = disabled\nService " S2 " = enabled\n"
                            "\n[vm fc1]\nId = " V2 "\nUds = /run/firecracker/fc1.vsock\n");
        free(text);
        assert_round_trip(r);
        hvsock__registry_free(r);
}

static void test_parse_variants(void **state) {
        struct hvsock_registry *r;
        struct hvsock_guid s2 = guid(S2);

        /* Braces, any case, case-insensitive keys and section kinds, tabs,
         * CRLF, indented comments; '#' and '=' inside values are data. */
        r = parse_ok("  # comment\r\n"
                     "\t\n"
                     "[SERVICE {00000AC9-FACB-11E6-BD58-64006A7986D3}]\r\n"
                     "  elementname\t=\tEcho = x # not a comment  \r\n"
                     "ENABLED=FALSE\r\n"
                     "start=a=b\r\n"
                     "[ Vm   A.b_c-9 ]\n"
                     "ID = {" V1 "}\n"
                     "uds = /tmp/x.sock\n"
                     "service\t" S1 " = DEFAULT\n"
                     "SERVICE   " S2 " = Disabled\n");
        assert_int_equal(r->n_services, 1);
        assert_string_equal(r->services[0].name, "Echo = x # not a comment");
        /* A template GUID implies its port. */
        assert_int_equal(r->services[0].port, 2761);
        assert_false(r->services[0].enabled);
        assert_string_equal(r->services[0].start, "a=b");
        assert_string_equal(r->vms[0].name, "A.b_c-9");
        /* "default" is no override and is not stored. */
        assert_int_equal(r->vms[0].n_policies, 1);
        assert_true(hvsock_guid_equal(&r->vms[0].policies[0].service, &s2));
        assert_int_equal(r->vms[0].policies[0].policy, HVSOCK_POLICY_DISABLED);
        assert_round_trip(r);
        hvsock__registry_free(r);

        /* Every spelling of Enabled. */
        static const struct {
                const char *text;
                bool value;
        } bools[] = { { "yes", true }, { "YES", true }, { "true", true }, { "1", true },
                      { "no", false }, { "False", false }, { "0", false } };
        for (size_t i = 0; i < ELEMENTSOF(bools); i++) {
                char buf[256];
                snprintf(buf, sizeof(buf), "[service " S2 "]\nElementName = x\nPort = 1\nEnabled = %s\n", bools[i].text);
                r = parse_ok(buf);
                assert_int_equal(r->services[0].enabled, bools[i].value);
                hvsock__registry_free(r);
        }

        /* Ports at the edges; a template may state its implied port; leading zeros are digits. */
        r = parse_ok("[service 00000000-facb-11e6-bd58-64006a7986d3]\nElementName = zero\nPort = 0\n"
                     "[service " S2 "]\nElementName = max\nPort = 2147483647\n"
                     "[service " S1 "]\nElementName = t\nPort = 0002761\n");
        assert_int_equal(r->services[0].port, 0);
        assert_int_equal(r->services[1].port, 2147483647);
        assert_int_equal(r->services[2].port, 2761);
        assert_round_trip(r);
        hvsock__registry_free(r);

        /* CIDs at the edges, a UDS path of 107 bytes, a name of 64 bytes. */
        char uds[108], name[65], buf[1024];
        uds[0] = '/';
        memset(uds + 1, 'u', 106);
        uds[107] = 0;
        memset(name, 'n', 64);
        name[64] = 0;
        snprintf(buf, sizeof(buf),
                 "[vm a]\nId = " V1 "\nCid = 3\n[vm b]\nId = " V2 "\nCid = 4294967294\n"
                 "[vm %s]\nId = 11111111-2222-3333-4444-555555555555\nUds = %s\n", name, uds);
        r = parse_ok(buf);
        assert_int_equal(r->vms[0].cid, 3);
        assert_int_equal(r->vms[1].cid, 4294967294u);
        assert_string_equal(r->vms[2].name, name);
        assert_string_equal(r->vms[2].uds, uds);
        assert_round_trip(r);
        hvsock__registry_free(r);

        /* Nothing at all, comments only, no final newline. */
        r = parse_ok("");
        assert_int_equal(r->n_services + r->n_vms, 0);
        assert_round_trip(r);
        hvsock__registry_free(r);
        assert_int_equal(hvsock__registry_parse(NULL, 0, "t.conf", &r, NULL), 0);
        assert_int_equal(r->n_services + r->n_vms, 0);
        hvsock__registry_free(r);
        r = parse_ok("# a\n#b");
        hvsock__registry_free(r);
        r = parse_ok("[vm a]\nId = " V1 "\nCid = 9");
        assert_int_equal(r->vms[0].cid, 9);
        hvsock__registry_free(r);

        /* UTF-8 names. */
        r = parse_ok("[service " S2 "]\nElementName = \xc3\x89\x63ho \xe2\x82\xac \xf0\x9f\x98\x80\nPort = 1\n");
        assert_string_equal(r->services[0].name, "\xc3\x89\x63ho \xe2\x82\xac \xf0\x9f\x98\x80");
        assert_round_trip(r);
        hvsock__registry_free(r);
}

static void test_parse_limits(void **state) {
        char *big;
        size_t max = HVSOCK_REGISTRY_SIZE_MAX;
        struct hvsock_registry *r;

        /* A line of exactly 4096 bytes is fine, one more byte is not. */
        big = malloc(max + 2);
        assert_non_null(big);
        if (!big) /* tells the compiler what assert_non_null() means */
                return;
        memcpy(big, "[vm a]\n# ", 9);
        memset(big + 9, 'a', 4094);
        strcpy(big + 9 + 4094, "\nId = " V1 "\nCid = 3\n");
        r = parse_ok(big);
        hvsock__registry_free(r);
        memcpy(big, "[vm a]\n# ", 9);
        memset(big + 9, 'a', 4095);
        strcpy(big + 9 + 4095, "\n");
        expect_error(big, "t.conf:2: line is longer than 4096 bytes");
        /* CR counts: it is part of the line's bytes. */
        memset(big + 7, 'a', 4096);
        strcpy(big + 7 + 4096, "\r\n");
        expect_error(big, "t.conf:2: line is longer than 4096 bytes");

        /* NUL bytes, even inside comments. */
        expect_error_n("[vm a]\nId\0 = x\n", 15, "t.conf:2: NUL byte in line");
        expect_error_n("# \0\n", 4, "t.conf:1: NUL byte in line");

        /* Exactly 1 MiB of 1024-byte comment lines parses; one more byte is
         * reported at the line where the limit is crossed. */
        for (size_t i = 0; i < max; i += 1024) {
                memset(big + i, '#', 1023);
                big[i + 1023] = '\n';
        }
        assert_int_equal(hvsock__registry_parse(big, max, "t.conf", &r, NULL), 0);
        hvsock__registry_free(r);
        big[max] = 'x';
        expect_error_n(big, max + 1, "t.conf:1025: file is larger than 1048576 bytes");
        free(big);
}

static void test_parse_errors(void **state) {
        static const struct {
                const char *text;
                const char *message;
        } cases[] = {
                /* Structure. */
                { "Port = 1\n", "t.conf:1: key 'Port' before any section" },
                { "\n\nfoo\n", "t.conf:3: missing '=' in 'foo'" },
                { "[foo bar]\n", "t.conf:1: unknown section '[foo bar]' (expected [service GUID] or [vm NAME])" },
                { "[]\n", "t.conf:1: unknown section '[]' (expected [service GUID] or [vm NAME])" },
                { "[vm web1\n", "t.conf:1: malformed section header '[vm web1' (no closing ']')" },
                { "[vm web1] x\n", "t.conf:1: malformed section header '[vm web1] x' (no closing ']')" },
                { "[service]\n", "t.conf:1: section [service] needs a service GUID" },
                { "[service nope]\n", "t.conf:1: bad service GUID 'nope'" },
                { "[service " S1 " x]\n", "t.conf:1: bad service GUID '" S1 " x'" },
                { "[vm]\n", "t.conf:1: section [vm] needs a VM name" },
                { "[vm -x]\n", "t.conf:1: bad VM name '-x' (1 to 64 bytes of A-Z a-z 0-9 . _ -, not starting with '.' or '-')" },
                { "[vm .x]\n", "t.conf:1: bad VM name '.x' (1 to 64 bytes of A-Z a-z 0-9 . _ -, not starting with '.' or '-')" },
                { "[vm a b]\n", "t.conf:1: bad VM name 'a b' (1 to 64 bytes of A-Z a-z 0-9 . _ -, not starting with '.' or '-')" },
                { "[vm a/b]\n", "t.conf:1: bad VM name 'a/b' (1 to 64 bytes of A-Z a-z 0-9 . _ -, not starting with '.' or '-')" },

                /* Service keys. */
                { "[service " S1 "]\nElementName = a\nFoo = 1\n", "t.conf:3: unknown key 'Foo' in [service " S1 "]" },
                { "[service " S1 "]\nElementName = a\nelementname = c\n", "t.conf:3: duplicate key 'elementname'" },
                { "[service " S1 "]\nEnabled = no\nEnabled = no\n", "t.conf:3: duplicate key 'Enabled'" },
                { "[service " S1 "]\nElementName = a\nEnabled\n", "t.conf:3: missing '=' in 'Enabled'" },
                { "[service " S1 "]\nElementName = a\n  = yes\n", "t.conf:3: missing key before '=' in '= yes'" },
                { "[service " S2 "]\nPort = 5000\n", "t.conf:1: service " S2 " has no ElementName" },
                { "[service " S2 "]\nElementName = b\n",
                  "t.conf:1: service " S2 " has no Port (required unless the GUID is a VSOCK template)" },
                /* Missing keys are reported at the header, also when a later section ends it. */
                { "# c\n\n[service " S2 "]\nElementName = b\n\n[vm web1]\n",
                  "t.conf:3: service " S2 " has no Port (required unless the GUID is a VSOCK template)" },
                { "[service " S1 "]\nElementName = a\nPort = 2762\n",
                  "t.conf:3: Port 2762 does not match service " S1 " (its VSOCK-template GUID implies port 2761)" },
                { "[service " S2 "]\nElementName = b\nPort = 2147483648\n",
                  "t.conf:3: bad Port '2147483648' (a decimal number 0 to 2147483647)" },
                { "[service " S2 "]\nPort = 99999999999999999999\n",
                  "t.conf:2: bad Port '99999999999999999999' (a decimal number 0 to 2147483647)" },
                { "[service " S2 "]\nPort = -1\n", "t.conf:2: bad Port '-1' (a decimal number 0 to 2147483647)" },
                { "[service " S2 "]\nPort = +1\n", "t.conf:2: bad Port '+1' (a decimal number 0 to 2147483647)" },
                { "[service " S2 "]\nPort = 0x10\n", "t.conf:2: bad Port '0x10' (a decimal number 0 to 2147483647)" },
                { "[service " S2 "]\nPort = 1 2\n", "t.conf:2: bad Port '1 2' (a decimal number 0 to 2147483647)" },
                { "[service " S2 "]\nPort =\n", "t.conf:2: bad Port '' (a decimal number 0 to 2147483647)" },
                { "[service " S2 "]\nEnabled = maybe\n", "t.conf:2: bad Enabled 'maybe' (yes, no, true, false, 1 or 0)" },
                { "[service " S2 "]\nStart =   \n",
                  "t.conf:2: bad Start '' (a command of 1 to 4000 bytes of UTF-8 text without control characters)" },
                { "[service " S2 "]\nElementName =\n",
                  "t.conf:2: bad ElementName '' (1 to 256 bytes of UTF-8 text without control characters)" },
                { "[service " S2 "]\nElementName = a\x01\x62\n",
                  "t.conf:2: bad ElementName 'a\\x01b' (1 to 256 bytes of UTF-8 text without control characters)" },
                { "[service " S2 "]\nElementName = a\tb\n",
                  "t.conf:2: bad ElementName 'a\\x09b' (1 to 256 bytes of UTF-8 text without control characters)" },
                { "[service " S2 "]\nElementName = a\xc0\x80\n",
                  "t.conf:2: bad ElementName 'a\xc0\x80' (1 to 256 bytes of UTF-8 text without control characters)" },

                /* Duplicates across services, at the second occurrence. */
                { "[service " S1 "]\nElementName = a\n[service {00000AC9-FACB-11E6-BD58-64006A7986D3}]\n",
                  "t.conf:3: duplicate service " S1 },
                { "[service " S1 "]\nElementName = a\n[service " S2 "]\nElementName = A\n",
                  "t.conf:4: duplicate ElementName 'A' (already used by service " S1 ")" },
                { "[service " S1 "]\nElementName = a\n[service " S2 "]\nElementName = b\nPort = 2761\n",
                  "t.conf:5: duplicate Port 2761 (already used by service " S1 ")" },
                { "[service " S2 "]\nElementName = b\nPort = 2761\n[service " S1 "]\nElementName = a\n",
                  "t.conf:4: duplicate Port 2761 implied by service " S1 " (already used by service " S2 ")" },

                /* VM keys. */
                { "[vm web1]\nCid = 5\n", "t.conf:1: VM 'web1' has no Id" },
                { "[vm web1]\nId = " V1 "\n", "t.conf:1: VM 'web1' has neither Cid nor Uds" },
                { "[vm web1]\nId = " V1 "\nCid = 5\nUds = /x\n", "t.conf:4: Cid and Uds exclude each other (VM 'web1' has both)" },
                { "[vm web1]\nId = " V1 "\nUds = /x\nCid = 5\n", "t.conf:4: Cid and Uds exclude each other (VM 'web1' has both)" },
                { "[vm web1]\nId = " V1 "\nCid = 5\nCid = 6\n", "t.conf:4: duplicate key 'Cid'" },
                { "[vm web1]\nId = zz\n", "t.conf:2: bad Id 'zz' (a GUID)" },
                { "[vm web1]\nId = a42e7cda-d03f-480c-9cc2-a4de20abb878\n",
                  "t.conf:2: bad Id a42e7cda-d03f-480c-9cc2-a4de20abb878 (the well-known VM ID 'parent' cannot name a VM)" },
                { "[vm web1]\nId = 00000000-0000-0000-0000-000000000000\n",
                  "t.conf:2: bad Id 00000000-0000-0000-0000-000000000000 (the well-known VM ID 'zero' cannot name a VM)" },
                { "[vm web1]\nId = {E0E16197-DD56-4A10-9195-5EE7A155A838}\n",
                  "t.conf:2: bad Id e0e16197-dd56-4a10-9195-5ee7a155a838 (the well-known VM ID 'loopback' cannot name a VM)" },
                { "[vm web1]\nCid = 2\n", "t.conf:2: bad Cid '2' (a decimal number 3 to 4294967294)" },
                { "[vm web1]\nCid = 0\n", "t.conf:2: bad Cid '0' (a decimal number 3 to 4294967294)" },
                { "[vm web1]\nCid = 4294967295\n", "t.conf:2: bad Cid '4294967295' (a decimal number 3 to 4294967294)" },
                { "[vm web1]\nCid = 4294967296\n", "t.conf:2: bad Cid '4294967296' (a decimal number 3 to 4294967294)" },
                { "[vm web1]\nCid = 0x5\n", "t.conf:2: bad Cid '0x5' (a decimal number 3 to 4294967294)" },
                { "[vm web1]\nUds = run/x.sock\n", "t.conf:2: bad Uds 'run/x.sock' (an absolute path of at most 107 bytes)" },
                { "[vm web1]\nId = " V1 "\nCid = 5\nFoo = 1\n", "t.conf:4: unknown key 'Foo' in [vm web1]" },
                { "[vm web1]\nId = " V1 "\nCid = 5\nService = enabled\n",
                  "t.conf:4: key 'Service' needs a service GUID ('Service GUID = enabled|disabled|default')" },
                { "[vm web1]\nId = " V1 "\nCid = 5\nService xyz = enabled\n",
                  "t.conf:4: bad service GUID 'xyz' in key 'Service xyz'" },
                { "[vm web1]\nId = " V1 "\nCid = 5\nService " S1 " = on\n",
                  "t.conf:4: bad policy 'on' for service " S1 " (enabled, disabled or default)" },
                { "[vm web1]\nId = " V1 "\nCid = 5\nService " S1 " = default\nService {00000AC9-FACB-11E6-BD58-64006A7986D3} = disabled\n",
                  "t.conf:5: duplicate key 'Service {00000AC9-FACB-11E6-BD58-64006A7986D3}'" },

                /* Duplicates across VMs, at the second occurrence. */
                { "[vm web1]\nId = " V1 "\nCid = 5\n[vm WEB1]\n", "t.conf:4: duplicate VM name 'WEB1' (already used by VM 'web1')" },
                { "[vm web1]\nId = " V1 "\nCid = 5\n[vm web2]\nId = {" V1 "}\n",
                  "t.conf:5: duplicate Id " V1 " (already used by VM 'web1')" },
                { "[vm web1]\nId = " V1 "\nCid = 5\n[vm web2]\nId = " V2 "\nCid = 5\n",
                  "t.conf:6: duplicate Cid 5 (already used by VM 'web1')" },
                { "[vm web1]\nId = " V1 "\nUds = /x\n[vm web2]\nId = " V2 "\nUds = /x\n",
                  "t.conf:6: duplicate Uds '/x' (already used by VM 'web1')" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                expect_error(cases[i].text, cases[i].message);

        /* Long values are cut in messages; a 108-byte UDS path is too long. */
        char buf[1024], expect[1024], name[300];
        memset(name, 'n', 257);
        name[257] = 0;
        snprintf(buf, sizeof(buf), "[service " S2 "]\nElementName = %s\n", name);
        snprintf(expect, sizeof(expect),
                 "t.conf:2: bad ElementName '%.80s...' (1 to 256 bytes of UTF-8 text without control characters)", name);
        expect_error(buf, expect);
        memset(name, 'u', 108);
        name[0] = '/';
        name[108] = 0;
        snprintf(buf, sizeof(buf), "[vm a]\nUds = %s\n", name);
        snprintf(expect, sizeof(expect), "t.conf:2: bad Uds '%.80s...' (an absolute path of at most 107 bytes)", name);
        expect_error(buf, expect);
        /* No file name given. */
        char *error = NULL;
        struct hvsock_registry *r;
        assert_int_equal(hvsock__registry_parse("x", 1, NULL, &r, &error), -HVSOCK_E_REGISTRY);
        assert_string_equal(error, "<registry>:1: missing '=' in 'x'");
        free(error);
}

static void test_lookups(void **state) {
        struct hvsock_registry *r = parse_ok(EXAMPLE);
        struct hvsock_guid s1 = guid(S1), v2 = guid(V2);

        assert_ptr_equal(hvsock__registry_find_service(r, &s1), &r->services[0]);
        assert_null(hvsock__registry_find_service(r, &v2));
        assert_ptr_equal(hvsock__registry_find_service_by_name(r, "vm session SERVICE"), &r->services[1]);
        assert_null(hvsock__registry_find_service_by_name(r, "VM Session"));
        assert_ptr_equal(hvsock__registry_find_service_by_port(r, 5000), &r->services[1]);
        assert_null(hvsock__registry_find_service_by_port(r, 5001));
        assert_ptr_equal(hvsock__registry_find_vm(r, &v2), &r->vms[1]);
        assert_null(hvsock__registry_find_vm(r, &s1));
        assert_ptr_equal(hvsock__registry_find_vm_by_name(r, "WEB1"), &r->vms[0]);
        assert_null(hvsock__registry_find_vm_by_name(r, "web"));
        assert_ptr_equal(hvsock__registry_find_vm_by_cid(r, 5), &r->vms[0]);
        /* CID 0 marks the UDS VM; it is not a CID to look up. */
        assert_null(hvsock__registry_find_vm_by_cid(r, 0));
        assert_ptr_equal(hvsock__registry_find_vm_by_uds(r, "/run/firecracker/fc1.vsock"), &r->vms[1]);
        assert_null(hvsock__registry_find_vm_by_uds(r, "/run/firecracker/FC1.vsock"));
        assert_null(hvsock__registry_find_vm_by_uds(r, NULL));
        assert_null(hvsock__registry_find_service(NULL, &s1));
        assert_null(hvsock__registry_find_vm_by_name(NULL, "web1"));
        hvsock__registry_free(r);
        assert_null(hvsock__registry_free(NULL));
}

static void test_mutators(void **state) {
        struct hvsock_registry *r = hvsock__registry_new();
        struct hvsock_guid s1 = guid(S1), s2 = guid(S2), v1 = guid(V1), v2 = guid(V2),
                           other = guid("11111111-2222-3333-4444-555555555555");
        struct hvsock_vm *vm;

        assert_non_null(r);
        /* Services. */
        assert_int_equal(hvsock__registry_add_service(r, &s1, "Echo", 2761, NULL), 0);
        assert_true(r->services[0].enabled);
        assert_null(r->services[0].start);
        assert_int_equal(hvsock__registry_add_service(r, &s1, "Other", 2761, NULL), -EEXIST);
        assert_int_equal(hvsock__registry_add_service(r, &s2, "ECHO", 1, NULL), -EEXIST);
        assert_int_equal(hvsock__registry_add_service(r, &s2, "Session", 2761, NULL), -EEXIST);
        assert_int_equal(hvsock__registry_add_service(r, &other, "Other", 2762, NULL), 0);
        assert_int_equal(hvsock__registry_remove_service(r, &other), 0);
        /* A template GUID carries its port; another one is refused. */
        struct hvsock_guid t = guid("00000005-facb-11e6-bd58-64006a7986d3");
        assert_int_equal(hvsock__registry_add_service(r, &t, "T", 6, NULL), -EINVAL);
        assert_int_equal(hvsock__registry_add_service(r, &s2, "Session", 0x80000000u, NULL), -EINVAL);
        assert_int_equal(hvsock__registry_add_service(r, &s2, "", 1, NULL), -EINVAL);
        assert_int_equal(hvsock__registry_add_service(r, &s2, NULL, 1, NULL), -EINVAL);
        assert_int_equal(hvsock__registry_add_service(r, &s2, " Session", 1, NULL), -EINVAL);
        assert_int_equal(hvsock__registry_add_service(r, &s2, "Session", 1, ""), -EINVAL);
        assert_int_equal(hvsock__registry_add_service(r, &s2, "Session", 1, "a\nb"), -EINVAL);
        assert_int_equal(hvsock__registry_add_service(r, &s2, "Session", 5000, "/usr/bin/sessiond -x"), 0);
        assert_string_equal(r->services[1].start, "/usr/bin/sessiond -x");
        assert_int_equal(r->n_services, 2);

        /* VMs. */
        assert_int_equal(hvsock__registry_add_vm(r, "web1", &v1, 5, NULL), 0);
        assert_int_equal(hvsock__registry_add_vm(r, "fc1", &v2, 0, "/run/fc1.vsock"), 0);
        assert_int_equal(hvsock__registry_add_vm(r, "WEB1", &other, 6, NULL), -EEXIST);
        assert_int_equal(hvsock__registry_add_vm(r, "web2", &v1, 6, NULL), -EEXIST);
        assert_int_equal(hvsock__registry_add_vm(r, "web2", &other, 5, NULL), -EEXIST);
        assert_int_equal(hvsock__registry_add_vm(r, "web2", &other, 0, "/run/fc1.vsock"), -EEXIST);
        assert_int_equal(hvsock__registry_add_vm(r, "web2", &other, 6, "/run/x"), -EINVAL);
        assert_int_equal(hvsock__registry_add_vm(r, "web2", &other, 0, NULL), -EINVAL);
        assert_int_equal(hvsock__registry_add_vm(r, "web2", &other, 2, NULL), -EINVAL);
        assert_int_equal(hvsock__registry_add_vm(r, "web2", &other, 0, "run/x"), -EINVAL);
        assert_int_equal(hvsock__registry_add_vm(r, "-web2", &other, 6, NULL), -EINVAL);
        assert_int_equal(hvsock__registry_add_vm(r, "web2", &HVSOCK_GUID_LOOPBACK, 6, NULL), -EINVAL);
        assert_int_equal(hvsock__registry_add_vm(r, "web2", &HVSOCK_GUID_ZERO, 6, NULL), -EINVAL);
        assert_int_equal(r->n_vms, 2);

        /* Policies: set, change, back to default (removed). */
        vm = hvsock__registry_find_vm_by_name(r, "web1");
        assert_int_equal(hvsock__registry_set_policy(r, vm, &s1, HVSOCK_POLICY_DISABLED), 0);
        assert_int_equal(hvsock__registry_set_policy(r, vm, &s2, HVSOCK_POLICY_ENABLED), 0);
        assert_int_equal(vm->n_policies, 2);
        assert_int_equal(hvsock__registry_set_policy(r, vm, &s1, HVSOCK_POLICY_ENABLED), 0);
        assert_int_equal(vm->n_policies, 2);
        assert_int_equal(hvsock__vm_policy(vm, &s1), HVSOCK_POLICY_ENABLED);
        assert_int_equal(hvsock__registry_set_policy(r, vm, &s1, HVSOCK_POLICY_DEFAULT), 0);
        assert_int_equal(vm->n_policies, 1);
        assert_int_equal(hvsock__vm_policy(vm, &s1), HVSOCK_POLICY_DEFAULT);
        assert_int_equal(hvsock__registry_set_policy(r, vm, &s1, HVSOCK_POLICY_DEFAULT), 0);
        assert_int_equal(hvsock__registry_set_policy(r, vm, &s1, (enum hvsock_policy) 7), -EINVAL);
        struct hvsock_vm stranger = { 0 };
        assert_int_equal(hvsock__registry_set_policy(r, &stranger, &s1, HVSOCK_POLICY_ENABLED), -EINVAL);
        assert_int_equal(hvsock__registry_set_policy(r, vm, &s1, HVSOCK_POLICY_DISABLED), 0);
        assert_round_trip(r);

        /* Removing a service forgets its overrides on every VM. */
        assert_int_equal(hvsock__registry_remove_service(r, &s1), 0);
        assert_int_equal(hvsock__registry_remove_service(r, &s1), -ENOENT);
        vm = hvsock__registry_find_vm_by_name(r, "web1");
        assert_int_equal(vm->n_policies, 1);
        assert_int_equal(hvsock__vm_policy(vm, &s1), HVSOCK_POLICY_DEFAULT);
        assert_int_equal(hvsock__vm_policy(vm, &s2), HVSOCK_POLICY_ENABLED);
        assert_int_equal(hvsock__registry_remove_vm(r, &v1), 0);
        assert_int_equal(hvsock__registry_remove_vm(r, &v1), -ENOENT);
        assert_int_equal(r->n_vms, 1);
        assert_string_equal(r->vms[0].name, "fc1");
        /* The freed name, CID and UDS are usable again. */
        assert_int_equal(hvsock__registry_add_vm(r, "web1", &v1, 5, NULL), 0);
        assert_int_equal(hvsock__registry_add_service(r, &s1, "Echo", 2761, NULL), 0);
        assert_int_equal(hvsock__registry_validate(r, NULL), 0);
        assert_round_trip(r);
        hvsock__registry_free(r);
}

static void test_policy_semantics(void **state) {
        struct hvsock_registry *r = hvsock__registry_new();
        struct hvsock_guid s1 = guid(S1), v1 = guid(V1);
        struct hvsock_service *s;
        struct hvsock_vm *vm;
        static const struct {
                bool global;
                enum hvsock_policy policy;
                bool allowed;
        } table[] = {
                { true, HVSOCK_POLICY_DEFAULT, true },   { true, HVSOCK_POLICY_ENABLED, true },
                { true, HVSOCK_POLICY_DISABLED, false }, { false, HVSOCK_POLICY_DEFAULT, false },
                { false, HVSOCK_POLICY_ENABLED, false }, /* the global switch is a kill switch */
                { false, HVSOCK_POLICY_DISABLED, false },
        };

        assert_int_equal(hvsock__registry_add_service(r, &s1, "Echo", 2761, NULL), 0);
        assert_int_equal(hvsock__registry_add_vm(r, "web1", &v1, 5, NULL), 0);
        s = &r->services[0];
        vm = &r->vms[0];
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                s->enabled = table[i].global;
                assert_int_equal(hvsock__registry_set_policy(r, vm, &s1, table[i].policy), 0);
                assert_int_equal(hvsock__vm_policy(vm, &s1), table[i].policy);
                assert_int_equal(hvsock__service_allowed(s, vm), table[i].allowed);
                assert_int_equal(hvsock__service_allowed(s, NULL), table[i].global);
        }
        assert_false(hvsock__service_allowed(NULL, vm));
        assert_int_equal(hvsock__vm_policy(NULL, &s1), HVSOCK_POLICY_DEFAULT);
        hvsock__registry_free(r);
}

static void test_validity(void **state) {
        char buf[300];

        assert_true(hvsock__vm_name_valid("a"));
        assert_true(hvsock__vm_name_valid("A.b_c-9"));
        assert_true(hvsock__vm_name_valid("9"));
        memset(buf, 'v', 64);
        buf[64] = 0;
        assert_true(hvsock__vm_name_valid(buf));
        buf[64] = 'v', buf[65] = 0;
        assert_false(hvsock__vm_name_valid(buf));
        assert_false(hvsock__vm_name_valid(""));
        assert_false(hvsock__vm_name_valid(NULL));
        assert_false(hvsock__vm_name_valid("-a"));
        assert_false(hvsock__vm_name_valid(".a"));
        assert_false(hvsock__vm_name_valid("a b"));
        assert_false(hvsock__vm_name_valid("a/b"));
        assert_false(hvsock__vm_name_valid("a]"));
        assert_false(hvsock__vm_name_valid("\xc3\xa9"));

        assert_true(hvsock__element_name_valid("My Echo Service"));
        assert_true(hvsock__element_name_valid("x"));
        assert_true(hvsock__element_name_valid("caf\xc3\xa9 \xf0\x9f\x98\x80 #1 = [x]"));
        memset(buf, 'e', 256);
        buf[256] = 0;
        assert_true(hvsock__element_name_valid(buf));
        buf[256] = 'e', buf[257] = 0;
        assert_false(hvsock__element_name_valid(buf));
        assert_false(hvsock__element_name_valid(""));
        assert_false(hvsock__element_name_valid(NULL));
        assert_false(hvsock__element_name_valid(" a"));
        assert_false(hvsock__element_name_valid("a "));
        assert_false(hvsock__element_name_valid("a\tb"));
        assert_false(hvsock__element_name_valid("a\nb"));
        assert_false(hvsock__element_name_valid("a\rb"));
        assert_false(hvsock__element_name_valid("a\x7f"));
        assert_false(hvsock__element_name_valid("a\xff"));
        assert_false(hvsock__element_name_valid("\xc3"));             /* truncated */
        assert_false(hvsock__element_name_valid("\xc0\x80"));         /* overlong */
        assert_false(hvsock__element_name_valid("\xe0\x80\xaf"));     /* overlong */
        assert_false(hvsock__element_name_valid("\xed\xa0\x80"));     /* surrogate */
        assert_false(hvsock__element_name_valid("\xf4\x90\x80\x80")); /* above U+10FFFF */

        assert_true(hvsock__start_valid("/usr/bin/x --y"));
        assert_false(hvsock__start_valid(""));
        assert_false(hvsock__start_valid("x\n"));

        assert_true(hvsock__uds_valid("/x"));
        assert_false(hvsock__uds_valid("x"));
        assert_false(hvsock__uds_valid(""));
        assert_false(hvsock__uds_valid(NULL));
        assert_false(hvsock__uds_valid("/a b "));
        assert_false(hvsock__uds_valid("/a\nb"));

        assert_false(hvsock__cid_valid(0));
        assert_false(hvsock__cid_valid(1));
        assert_false(hvsock__cid_valid(2));
        assert_true(hvsock__cid_valid(3));
        assert_true(hvsock__cid_valid(0xfffffffeu));
        assert_false(hvsock__cid_valid(0xffffffffu));

        const struct hvsock_guid *wellknown[] = { &HVSOCK_GUID_ZERO, &HVSOCK_GUID_BROADCAST, &HVSOCK_GUID_CHILDREN,
                                                  &HVSOCK_GUID_LOOPBACK, &HVSOCK_GUID_PARENT, &HVSOCK_GUID_SILOHOST };
        for (size_t i = 0; i < ELEMENTSOF(wellknown); i++)
                assert_false(hvsock__vm_id_valid(wellknown[i]));
        struct hvsock_guid v1 = guid(V1), s1 = guid(S1), s2 = guid(S2);
        assert_true(hvsock__vm_id_valid(&v1));

        assert_true(hvsock__service_port_valid(&s1, 2761));
        assert_false(hvsock__service_port_valid(&s1, 2762));
        assert_true(hvsock__service_port_valid(&s2, 0));
        assert_true(hvsock__service_port_valid(&s2, 0x7fffffff));
        assert_false(hvsock__service_port_valid(&s2, 0x80000000u));

        enum hvsock_policy p = HVSOCK_POLICY_ENABLED;
        assert_int_equal(hvsock__policy_from_string("DISABLED", &p), 0);
        assert_int_equal(p, HVSOCK_POLICY_DISABLED);
        assert_int_equal(hvsock__policy_from_string("Default", &p), 0);
        assert_int_equal(p, HVSOCK_POLICY_DEFAULT);
        p = HVSOCK_POLICY_ENABLED;
        assert_int_equal(hvsock__policy_from_string("on", &p), -EINVAL);
        assert_int_equal(p, HVSOCK_POLICY_ENABLED);
        assert_string_equal(hvsock__policy_to_string(HVSOCK_POLICY_ENABLED), "enabled");
        assert_null(hvsock__policy_to_string((enum hvsock_policy) 9));
}

static void test_validate(void **state) {
        struct hvsock_registry *r = parse_ok(EXAMPLE);
        char *error = (char *) 0x1;
        char *saved;

        /* ret_error is untouched on success. */
        assert_int_equal(hvsock__registry_validate(r, &error), 0);
        assert_ptr_equal(error, (char *) 0x1);

        /* Direct edits of the structs are caught before anything is written. */
        saved = r->services[1].name;
        r->services[1].name = "my echo service";
        error = NULL;
        assert_int_equal(hvsock__registry_validate(r, &error), -HVSOCK_E_REGISTRY);
        assert_string_equal(error, "service " S2 ": duplicate ElementName 'my echo service' (already used by service " S1 ")");
        free(error);
        r->services[1].name = saved;

        r->services[1].port = 2761;
        error = NULL;
        assert_int_equal(hvsock__registry_validate(r, &error), -HVSOCK_E_REGISTRY);
        assert_string_equal(error, "service " S2 ": duplicate Port 2761 (already used by service " S1 ")");
        free(error);
        r->services[0].port = 1;
        assert_int_equal(hvsock__registry_validate(r, NULL), -HVSOCK_E_REGISTRY);
        r->services[0].port = 2761;
        r->services[1].port = 5000;

        r->vms[1].cid = 5;
        error = NULL;
        assert_int_equal(hvsock__registry_validate(r, &error), -HVSOCK_E_REGISTRY);
        assert_string_equal(error, "VM 'fc1': needs exactly one valid Cid or Uds");
        free(error);
        r->vms[1].cid = 0;

        r->vms[1].id = r->vms[0].id;
        error = NULL;
        assert_int_equal(hvsock__registry_validate(r, &error), -HVSOCK_E_REGISTRY);
        assert_string_equal(error, "VM 'fc1': duplicate Id " V1 " (already used by VM 'web1')");
        free(error);
        r->vms[1].id = guid(V2);

        r->vms[0].policies[1].service = r->vms[0].policies[0].service;
        error = NULL;
        assert_int_equal(hvsock__registry_validate(r, &error), -HVSOCK_E_REGISTRY);
        assert_string_equal(error, "VM 'web1': two policies for service " S1);
        free(error);
        r->vms[0].policies[1].service = guid(S2);

        assert_int_equal(hvsock__registry_validate(r, NULL), 0);
        hvsock__registry_free(r);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_example),
                cmocka_unit_test(test_parse_variants),
                cmocka_unit_test(test_parse_limits),
                cmocka_unit_test(test_parse_errors),
                cmocka_unit_test(test_lookups),
                cmocka_unit_test(test_mutators),
                cmocka_unit_test(test_policy_semantics),
                cmocka_unit_test(test_validity),
                cmocka_unit_test(test_validate),
        };

        test_setup_env(60);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
