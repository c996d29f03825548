/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "string-util.h"
#include "test-util.h"

static void check(const char *in, const char *want) {
        char buf[128];

        strcpy(buf, in);
        str_make_printable(buf, strlen(buf));
        assert_string_equal(buf, want);
}

static void test_make_printable(void **state) {
        check("plain text\twith tab\n", "plain text\twith tab\n");
        check("\033[2Jclear", "?[2Jclear");
        check("bell\a del\177 cr\r", "bell? del? cr?");
        /* C1 controls: as UTF-8 and as lone bytes. */
        check("csi\xc2\x9b" "31m", "csi??31m");
        check("lone\x9b" "31m", "lone?31m");
        /* Real UTF-8 stays, continuation bytes in the C1 range included. */
        check("\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xe2\x80\x9c", "\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xe2\x80\x9c");
        check("\xc2\xa0nbsp", "\xc2\xa0nbsp");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_make_printable),
        };

        test_setup_env(30);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
