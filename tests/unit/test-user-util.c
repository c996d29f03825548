/* SPDX-License-Identifier: MIT */
/* Users and groups given by name or number (--socket-owner, --group). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "test-util.h"
#include "user-util.h"

static void test_parse_user(void **state) {
        uid_t uid = 77;

        assert_int_equal(parse_user("root", &uid), 0);
        assert_int_equal(uid, 0);
        /* A number needs no passwd entry, as for chown(1). */
        assert_int_equal(parse_user("4242", &uid), 0);
        assert_int_equal(uid, 4242);
        assert_int_equal(parse_user("4294967294", &uid), 0);
        assert_int_equal(uid, 4294967294u);

        /* Errors leave *ret alone. */
        uid = 77;
        assert_int_equal(parse_user("no-such-user-hvsock", &uid), -ESRCH);
        /* (uid_t) -1 means "unchanged" to chown: not an id. */
        assert_int_equal(parse_user("4294967295", &uid), -ERANGE);
        assert_int_equal(parse_user("99999999999999999999", &uid), -ERANGE);
        assert_int_equal(parse_user("", &uid), -EINVAL);
        assert_int_equal(parse_user(NULL, &uid), -EINVAL);
        /* Not a number, so a name; no such user. */
        assert_int_equal(parse_user("12ab", &uid), -ESRCH);
        assert_int_equal(uid, 77);
}

static void test_parse_group(void **state) {
        gid_t gid = 77;

        assert_int_equal(parse_group("root", &gid), 0);
        assert_int_equal(gid, 0);
        assert_int_equal(parse_group("4242", &gid), 0);
        assert_int_equal(gid, 4242);
        gid = 77;
        assert_int_equal(parse_group("no-such-group-hvsock", &gid), -ESRCH);
        assert_int_equal(parse_group("4294967295", &gid), -ERANGE);
        assert_int_equal(gid, 77);
}

static void test_strerror(void **state) {
        assert_string_equal(parse_id_strerror(-ESRCH, false), "no such user");
        assert_string_equal(parse_id_strerror(-ESRCH, true), "no such group");
        assert_non_null(strstr(parse_id_strerror(-ERANGE, true), "gid"));
        assert_non_null(strstr(parse_id_strerror(-EINVAL, false), "uid"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_user),
                cmocka_unit_test(test_parse_group),
                cmocka_unit_test(test_strerror),
        };

        test_setup_env(30);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
