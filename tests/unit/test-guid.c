/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <hvsock/guid.h>

#include "test-util.h"

static void test_vector_layout(void **state) {
        /* PROTOCOLS.md section 1: the Windows memory layout. */
        static const uint8_t expect[16] = { 0xc9, 0x0a, 0x00, 0x00, 0xcb, 0xfa, 0xe6, 0x11,
                                            0xbd, 0x58, 0x64, 0x00, 0x6a, 0x79, 0x86, 0xd3 };
        struct hvsock_guid g;
        char buf[HVSOCK_GUID_STRING_MAX];

        assert_int_equal(hvsock_guid_parse("00000ac9-facb-11e6-bd58-64006a7986d3", &g), 0);
        assert_memory_equal(g.b, expect, 16);
        assert_int_equal(hvsock_guid_data1(&g), 0xac9);
        assert_int_equal(hvsock_guid_data2(&g), 0xfacb);
        assert_int_equal(hvsock_guid_data3(&g), 0x11e6);
        assert_string_equal(hvsock_guid_format(&g, buf), "00000ac9-facb-11e6-bd58-64006a7986d3");
}

static void test_braces_and_case(void **state) {
        struct hvsock_guid a, b;
        char buf[HVSOCK_GUID_STRING_MAX];

        assert_int_equal(hvsock_guid_parse("{E0E16197-DD56-4A10-9195-5EE7A155A838}", &a), 0);
        assert_int_equal(hvsock_guid_parse("e0e16197-dd56-4a10-9195-5ee7a155a838", &b), 0);
        assert_true(hvsock_guid_equal(&a, &b));
        assert_true(hvsock_guid_equal(&a, &HVSOCK_GUID_LOOPBACK));
        assert_string_equal(hvsock_guid_format(&a, buf), "e0e16197-dd56-4a10-9195-5ee7a155a838");
}

static void test_wellknown(void **state) {
        static const struct {
                const char *text;
                const struct hvsock_guid *g;
                const char *name;
        } v[] = {
                { "00000000-0000-0000-0000-000000000000", &HVSOCK_GUID_ZERO, "zero" },
                { "ffffffff-ffff-ffff-ffff-ffffffffffff", &HVSOCK_GUID_BROADCAST, "broadcast" },
                { "90db8b89-0d35-4f79-8ce9-49ea0ac8b7cd", &HVSOCK_GUID_CHILDREN, "children" },
                { "e0e16197-dd56-4a10-9195-5ee7a155a838", &HVSOCK_GUID_LOOPBACK, "loopback" },
                { "a42e7cda-d03f-480c-9cc2-a4de20abb878", &HVSOCK_GUID_PARENT, "parent" },
                { "36bd0c5c-7276-4223-88ba-7d03b654c568", &HVSOCK_GUID_SILOHOST, "silohost" },
        };

        for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
                struct hvsock_guid g, n;
                char buf[HVSOCK_GUID_STRING_MAX];

                assert_int_equal(hvsock_guid_parse(v[i].text, &g), 0);
                assert_true(hvsock_guid_equal(&g, v[i].g));
                assert_string_equal(hvsock_guid_format(v[i].g, buf), v[i].text);
                assert_string_equal(hvsock_guid_wellknown_name(&g), v[i].name);
                assert_int_equal(hvsock_guid_from_wellknown_name(v[i].name, &n), 0);
                assert_true(hvsock_guid_equal(&n, &g));
        }
        struct hvsock_guid g;
        assert_int_equal(hvsock_guid_from_wellknown_name("ANY", &g), 0);
        assert_true(hvsock_guid_is_zero(&g));
        assert_int_equal(hvsock_guid_from_wellknown_name("nonsense", &g), -EINVAL);
}

static void test_malformed(void **state) {
        static const char *bad[] = {
                "",
                "0",
                "00000ac9-facb-11e6-bd58-64006a7986d",    /* short */
                "00000ac9-facb-11e6-bd58-64006a7986d33",  /* long */
                "00000ac9xfacb-11e6-bd58-64006a7986d3",   /* separator */
                "00000ac9-facb-11e6-bd5864006a7986d3-",   /* misplaced dash */
                "0000gac9-facb-11e6-bd58-64006a7986d3",   /* not hex */
                "{00000ac9-facb-11e6-bd58-64006a7986d3",  /* one brace */
                "00000ac9-facb-11e6-bd58-64006a7986d3}",
                "(00000ac9-facb-11e6-bd58-64006a7986d3)",
                " 00000ac9-facb-11e6-bd58-64006a7986d3",
                "00000ac9-facb-11e6-bd58-64006a7986d ",
                "+0000ac9-facb-11e6-bd58-64006a7986d3",
        };
        struct hvsock_guid g, sentinel;

        memset(&sentinel, 0x5a, sizeof(sentinel));
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                g = sentinel;
                assert_int_equal(hvsock_guid_parse(bad[i], &g), -EINVAL);
                /* ret_* parameters are untouched on failure. */
                assert_memory_equal(&g, &sentinel, sizeof(g));
        }
        assert_int_equal(hvsock_guid_parse(NULL, &g), -EINVAL);
}

static void test_template(void **state) {
        struct hvsock_guid g, sentinel;
        uint32_t port = 77;
        char buf[HVSOCK_GUID_STRING_MAX];

        assert_int_equal(hvsock_guid_from_port(2761, &g), 0);
        assert_string_equal(hvsock_guid_format(&g, buf), "00000ac9-facb-11e6-bd58-64006a7986d3");
        assert_true(hvsock_guid_is_vsock_template(&g));
        assert_int_equal(hvsock_guid_to_port(&g, &port), 0);
        assert_int_equal(port, 2761);

        assert_int_equal(hvsock_guid_from_port(0, &g), 0);
        assert_int_equal(hvsock_guid_to_port(&g, &port), 0);
        assert_int_equal(port, 0);

        assert_int_equal(hvsock_guid_from_port(0x7fffffff, &g), 0);
        assert_string_equal(hvsock_guid_format(&g, buf), "7fffffff-facb-11e6-bd58-64006a7986d3");
        assert_int_equal(hvsock_guid_to_port(&g, &port), 0);
        assert_int_equal(port, 0x7fffffff);

        memset(&sentinel, 0x5a, sizeof(sentinel));
        g = sentinel;
        assert_int_equal(hvsock_guid_from_port(0x80000000u, &g), -ERANGE);
        assert_memory_equal(&g, &sentinel, sizeof(g));

        /* The top bit of Data1 is not a valid port. */
        assert_int_equal(hvsock_guid_parse("80000000-facb-11e6-bd58-64006a7986d3", &g), 0);
        assert_false(hvsock_guid_is_vsock_template(&g));
        port = 77;
        assert_int_equal(hvsock_guid_to_port(&g, &port), -EINVAL);
        assert_int_equal(port, 77);

        /* The VM Session Service GUID is not a template one. */
        assert_int_equal(hvsock_guid_parse("999e53d4-3d5c-4c3e-8779-bed06ec056e1", &g), 0);
        assert_int_equal(hvsock_guid_to_port(&g, &port), -EINVAL);
        assert_int_equal(hvsock_guid_to_port(&HVSOCK_GUID_LOOPBACK, &port), -EINVAL);
}

static void test_generate(void **state) {
        struct hvsock_guid a, b, c;
        char buf[HVSOCK_GUID_STRING_MAX];

        assert_int_equal(hvsock_guid_generate(&a), 0);
        assert_int_equal(hvsock_guid_generate(&b), 0);
        assert_false(hvsock_guid_equal(&a, &b));
        /* A version 4 GUID: the version nibble is the top of Data3, the variant in Data4[0]. */
        assert_int_equal(hvsock_guid_data3(&a) >> 12, 4);
        assert_int_equal(a.b[8] & 0xc0, 0x80);
        hvsock_guid_format(&a, buf);
        assert_int_equal(buf[14], '4');
        assert_int_equal(hvsock_guid_parse(buf, &c), 0);
        assert_true(hvsock_guid_equal(&a, &c));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_vector_layout),
                cmocka_unit_test(test_braces_and_case),
                cmocka_unit_test(test_wellknown),
                cmocka_unit_test(test_malformed),
                cmocka_unit_test(test_template),
                cmocka_unit_test(test_generate),
        };

        test_setup_env(60);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
