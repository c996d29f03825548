/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <hvsock/hvsock.h>

#include "transport.h"
#include "test-util.h"

/* Feeds s until a result; returns it and in *ret_used how many bytes went in. */
static int feed(const char *s, size_t len, uint32_t *ret_port, size_t *ret_used) {
        struct hvsock_okline line = { .len = 0 };
        int r = 0;
        size_t i;

        for (i = 0; i < len && r == 0; i++)
                r = hvsock__okline_feed(&line, s[i], ret_port);
        *ret_used = i;
        return r;
}

static void test_valid(void **state) {
        static const struct {
                const char *line;
                uint32_t port;
        } v[] = {
                { "OK 1073741824\n", 1073741824u },
                { "ok 5\n", 5 },
                { "Ok 0\n", 0 },
                { "oK 2147483647\n", 2147483647u },
                { "OK 2147483648\n", 2147483648u },      /* any u32 */
                { "OK 4294967295\n", UINT32_MAX },
                { "OK 000000000000000000000000042\n", 42 }, /* 30 bytes + newline: the limit */
        };

        for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
                uint32_t port = 77;
                size_t used;

                assert_int_equal(feed(v[i].line, strlen(v[i].line), &port, &used), 1);
                assert_int_equal(port, v[i].port);
                assert_int_equal(used, strlen(v[i].line));
        }
}

static void test_malformed(void **state) {
        static const char *bad[] = {
                "\n",
                "OK\n",                               /* no space, no number */
                "OK \n",                              /* no number */
                "OK5\n",                              /* no space */
                "OK  5\n",                            /* two spaces */
                " OK 5\n",                            /* leading space */
                "OK\t5\n",                            /* tab */
                "OK +5\n",                            /* sign */
                "OK -5\n",
                "OK 5a\n",                            /* letters */
                "OK 0x10\n",
                "OK 5 \n",                            /* trailing space */
                "OK 5\r\n",                           /* CRLF */
                "NO 5\n",
                "OKAY 5\n",
                "ERR\n",
                "OK 4294967296\n",                    /* u32 overflow by one */
                "OK 99999999999\n",                   /* overflow */
                "OK 0000000000000000000000000042\n",  /* 31 bytes before the newline */
                "OK 5\0\n",                           /* embedded NUL */
        };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                /* The NUL case needs its real length. */
                size_t len = i == sizeof(bad) / sizeof(bad[0]) - 1 ? 6 : strlen(bad[i]);
                uint32_t port = 77;
                size_t used;

                assert_int_equal(feed(bad[i], len, &port, &used), -HVSOCK_E_PROTOCOL);
                /* ret_port is untouched on failure. */
                assert_int_equal(port, 77);
        }
}

static void test_incomplete(void **state) {
        uint32_t port = 77;
        size_t used;

        /* A valid prefix without the newline is not a result yet. */
        assert_int_equal(feed("OK 123", 6, &port, &used), 0);
        assert_int_equal(used, 6);
        assert_int_equal(feed("", 0, &port, &used), 0);
        assert_int_equal(port, 77);
}

static void test_fails_early(void **state) {
        uint32_t port = 77;
        size_t used;

        /* Garbage is reported at the first byte that cannot fit, not at a newline
         * that may never come. */
        assert_int_equal(feed("HTTP/1.1 400", 12, &port, &used), -HVSOCK_E_PROTOCOL);
        assert_int_equal(used, 1);
        assert_int_equal(feed("OK 12x", 6, &port, &used), -HVSOCK_E_PROTOCOL);
        assert_int_equal(used, 6);
}

static void test_stops_at_newline(void **state) {
        static const char input[] = "OK 1073741824\nSSH-2.0-app-data\n";
        uint32_t port = 0;
        size_t used;

        assert_int_equal(feed(input, sizeof(input) - 1, &port, &used), 1);
        assert_int_equal(used, strlen("OK 1073741824\n"));
        assert_int_equal(port, 1073741824u);
}

static void test_after_result(void **state) {
        struct hvsock_okline line = { .len = 0 };
        uint32_t port = 77;
        const char *s = "OK 7\n";

        for (const char *p = s; *p; p++)
                assert_int_equal(hvsock__okline_feed(&line, *p, &port), *p == '\n' ? 1 : 0);
        assert_int_equal(port, 7);
        /* A finished reader does not turn into a new line by itself. */
        assert_int_equal(hvsock__okline_feed(&line, '8', &port), -HVSOCK_E_PROTOCOL);
        assert_int_equal(hvsock__okline_feed(&line, '\n', &port), -HVSOCK_E_PROTOCOL);
        assert_int_equal(port, 7);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_valid),
                cmocka_unit_test(test_malformed),
                cmocka_unit_test(test_incomplete),
                cmocka_unit_test(test_fails_early),
                cmocka_unit_test(test_stops_at_newline),
                cmocka_unit_test(test_after_result),
        };

        test_setup_env(60);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
