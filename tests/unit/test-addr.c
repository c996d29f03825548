/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <hvsock/hvsock.h>

#include "test-util.h"

static void test_layout(void **state) {
        /* SOCKADDR_HV { USHORT Family; USHORT Reserved; GUID VmId; GUID ServiceId; } */
        assert_int_equal(sizeof(struct hvsock_addr), 36);
        assert_int_equal(offsetof(struct hvsock_addr, family), 0);
        assert_int_equal(offsetof(struct hvsock_addr, reserved), 2);
        assert_int_equal(offsetof(struct hvsock_addr, vm_id), 4);
        assert_int_equal(offsetof(struct hvsock_addr, service_id), 20);
}

static void test_bytes(void **state) {
        /* The bytes a Windows program would put in SOCKADDR_HV for
         * (LOOPBACK, port 2761) on a little-endian machine. */
        static const uint8_t expect[36] = {
                34, 0, 0, 0,
                0x97, 0x61, 0xe1, 0xe0, 0x56, 0xdd, 0x10, 0x4a, 0x91, 0x95, 0x5e, 0xe7, 0xa1, 0x55, 0xa8, 0x38,
                0xc9, 0x0a, 0x00, 0x00, 0xcb, 0xfa, 0xe6, 0x11, 0xbd, 0x58, 0x64, 0x00, 0x6a, 0x79, 0x86, 0xd3,
        };
        struct hvsock_addr a;
        struct hvsock_guid svc;

        assert_int_equal(hvsock_guid_from_port(2761, &svc), 0);
        memset(&a, 0xee, sizeof(a));
        hvsock_addr_init(&a, &HVSOCK_GUID_LOOPBACK, &svc);
        assert_memory_equal(&a, expect, sizeof(expect));
}

static void test_strerror(void **state) {
        assert_string_equal(hvsock_strerror(-ECONNREFUSED), "Connection refused");
        assert_non_null(strstr(hvsock_strerror(-HVSOCK_E_NO_PORT), "port"));
        assert_non_null(strstr(hvsock_strerror(-HVSOCK_E_BROADCAST), "broadcast"));
        assert_non_null(hvsock_strerror(-99999));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_layout),
                cmocka_unit_test(test_bytes),
                cmocka_unit_test(test_strerror),
        };

        test_setup_env(60);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
