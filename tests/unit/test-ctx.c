/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <hvsock/hvsock.h>

#include "test-util.h"

static void test_transports_parse(void **state) {
        uint32_t m = 0x55;

        assert_int_equal(hvsock_transports_parse("local", &m), 0);
        assert_int_equal(m, HVSOCK_TRANSPORT_LOCAL);
        assert_int_equal(hvsock_transports_parse("local,hybrid", &m), 0);
        assert_int_equal(m, HVSOCK_TRANSPORT_LOCAL | HVSOCK_TRANSPORT_HYBRID);
        assert_int_equal(hvsock_transports_parse("vsock,hybrid,local", &m), 0);
        assert_int_equal(m, HVSOCK_TRANSPORT_ALL);
        assert_int_equal(hvsock_transports_parse("all", &m), 0);
        assert_int_equal(m, HVSOCK_TRANSPORT_ALL);

        static const char *bad[] = { "", ",", "loc", "local,", "local,,hybrid", "LOCAL", "local hybrid", "tcp" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                m = 0x55;
                assert_int_not_equal(hvsock_transports_parse(bad[i], &m), 0);
                assert_int_equal(m, 0x55);
        }
}

static void test_env(void **state) {
        struct hvsock_ctx *ctx = NULL;

        setenv("HVSOCK_CONFIG_DIR", "/x/config", 1);
        setenv("HVSOCK_RUNTIME_DIR", "/x/run", 1);
        setenv("HVSOCK_TRANSPORTS", "hybrid", 1);
        assert_int_equal(hvsock_ctx_new(&ctx), 0);
        assert_string_equal(hvsock_ctx_config_dir(ctx), "/x/config");
        assert_string_equal(hvsock_ctx_runtime_dir(ctx), "/x/run");
        assert_int_equal(hvsock_ctx_transports(ctx), HVSOCK_TRANSPORT_HYBRID);

        assert_int_equal(hvsock_ctx_set_transports(ctx, 0), -EINVAL);
        assert_int_equal(hvsock_ctx_set_transports(ctx, 8), -EINVAL);
        assert_int_equal(hvsock_ctx_set_transports(ctx, HVSOCK_TRANSPORT_LOCAL), 0);
        assert_int_equal(hvsock_ctx_transports(ctx), HVSOCK_TRANSPORT_LOCAL);
        assert_int_equal(hvsock_ctx_set_config_dir(ctx, ""), -EINVAL);
        assert_int_equal(hvsock_ctx_set_config_dir(ctx, "/y"), 0);
        assert_string_equal(hvsock_ctx_config_dir(ctx), "/y");
        /* Nothing failed yet; the socket owner takes any pair of IDs. */
        assert_null(hvsock_ctx_last_error(ctx));
        assert_int_equal(hvsock_ctx_set_socket_owner(ctx, 0, HVSOCK_ID_KEEP), 0);
        assert_int_equal(hvsock_ctx_set_socket_owner(NULL, 0, 0), -EINVAL);
        ctx = hvsock_ctx_free(ctx);
        assert_null(ctx);

        /* Defaults when unset or empty. */
        unsetenv("HVSOCK_CONFIG_DIR");
        setenv("HVSOCK_RUNTIME_DIR", "", 1);
        unsetenv("HVSOCK_TRANSPORTS");
        assert_int_equal(hvsock_ctx_new(&ctx), 0);
        assert_string_equal(hvsock_ctx_config_dir(ctx), "/etc/hvsock");
        assert_string_equal(hvsock_ctx_runtime_dir(ctx), "/run/hvsock");
        assert_int_equal(hvsock_ctx_transports(ctx), HVSOCK_TRANSPORT_ALL);
        hvsock_ctx_free(ctx);

        /* A bad transport list is an error, never a silent "all". */
        setenv("HVSOCK_TRANSPORTS", "local,carrier-pigeon", 1);
        ctx = (struct hvsock_ctx *) 0x1;
        assert_int_equal(hvsock_ctx_new(&ctx), -EINVAL);
        assert_ptr_equal(ctx, (struct hvsock_ctx *) 0x1);
        setenv("HVSOCK_TRANSPORTS", "local,hybrid", 1);

        assert_null(hvsock_ctx_free(NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_transports_parse),
                cmocka_unit_test(test_env),
        };

        test_setup_env(60);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
