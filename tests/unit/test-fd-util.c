/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fd-util.h"
#include "test-util.h"

static bool fd_open(int fd) {
        return fcntl(fd, F_GETFD) >= 0;
}

/* Runs in a child, which may close what it likes: returns the exit code
 * (0 when every descriptor is as expected, else the first wrong one). */
static int close_all_in_child(const int *fds, size_t n_fds, const int *keep, size_t n_keep) {
        if (close_all_fds_but(keep, n_keep) < 0)
                return 100;
        for (size_t i = 0; i < n_fds; i++) {
                bool kept = false;

                for (size_t j = 0; j < n_keep; j++)
                        kept |= keep[j] == fds[i];
                if (fd_open(fds[i]) != kept)
                        return fds[i];
        }
        /* 0, 1 and 2 are never touched. */
        return fd_open(0) && fd_open(1) && fd_open(2) ? 0 : 101;
}

static void test_close_all_fds_but(void **state) {
        int fds[8], status;
        pid_t pid;

        for (size_t i = 0; i < 8; i += 2)
                assert_int_equal(pipe2(fds + i, O_CLOEXEC), 0);
        /* Unsorted, repeated and negative entries are all fine. */
        int keep[] = { fds[5], -1, fds[1], fds[5], fds[7] };
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
                _exit(close_all_in_child(fds, 8, keep, sizeof(keep) / sizeof(keep[0])));
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        /* The parent's descriptors are its own. */
        for (size_t i = 0; i < 8; i++) {
                assert_true(fd_open(fds[i]));
                close(fds[i]);
        }
}

static void test_close_all_fds_but_too_many(void **state) {
        int keep[17] = {};

        assert_int_equal(close_all_fds_but(keep, 17), -E2BIG);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_close_all_fds_but),
                cmocka_unit_test(test_close_all_fds_but_too_many),
        };

        test_setup_env(30);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
