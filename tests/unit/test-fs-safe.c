/* SPDX-License-Identifier: MIT */
/* Lock files and runtime directories that other users cannot take. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fs-safe.h"
#include "macro.h"
#include "test-util.h"

/* Not root's, not ours when we are root: "another user". */
#define OTHER_UID 65534

static mode_t mode_of(const char *path) {
        struct stat st;

        assert_int_equal(lstat(path, &st), 0);
        return st.st_mode & 07777;
}

/* The message names what it refused (and the owner, when given). */
static void assert_message(char **error, const char *path, const char *also) {
        assert_non_null(*error);
        if (!strstr(*error, path) || (also && !strstr(*error, also)))
                fail_msg("message '%s' does not name '%s' and '%s'", *error, path, also ? also : "");
        free(*error);
        *error = NULL;
}

static void test_lock_file_mode(void **state) {
        const char *path = test_path("mode.lock");
        _cleanup_close_ int fd = -1, fd2 = -1;

        /* 0600 whatever the umask. */
        umask(0);
        fd = lock_file_open(path, NULL);
        umask(022);
        assert_true(fd >= 0);
        assert_int_equal(mode_of(path), 0600);
        assert_int_not_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);

        /* One an older version left readable by all is made private. */
        assert_int_equal(chmod(path, 0644), 0);
        fd2 = lock_file_open(path, NULL);
        assert_true(fd2 >= 0);
        assert_int_equal(mode_of(path), 0600);
}

static void test_lock_file_refused(void **state) {
        const char *path = test_path("refused.lock"), *target = test_path("target");
        char *error = NULL;
        char uid[32];

        /* A symlink is never followed, even to a file of ours. */
        assert_int_equal(close(open(target, O_CREAT | O_WRONLY | O_CLOEXEC, 0600)), 0);
        assert_int_equal(symlink(target, path), 0);
        assert_int_equal(lock_file_open(path, &error), -ELOOP);
        assert_message(&error, path, "symbolic link");
        assert_int_equal(unlink(path), 0);

        /* Neither a FIFO nor a directory. */
        assert_int_equal(mkfifo(path, 0600), 0);
        assert_int_equal(lock_file_open(path, &error), -EEXIST);
        assert_message(&error, path, "regular file");
        assert_int_equal(unlink(path), 0);
        assert_int_equal(mkdir(path, 0700), 0);
        assert_true(lock_file_open(path, NULL) < 0);
        assert_int_equal(rmdir(path), 0);

        /* Another user's lock file: they could hold it whenever they like. */
        if (geteuid() != 0)
                skip();
        assert_int_equal(close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600)), 0);
        assert_int_equal(chown(path, OTHER_UID, OTHER_UID), 0);
        assert_int_equal(lock_file_open(path, &error), -EPERM);
        snprintf(uid, sizeof(uid), "uid %d", OTHER_UID);
        assert_message(&error, path, uid);
        /* Refused, not repaired or taken. */
        assert_int_equal(mode_of(path), 0600);
        assert_int_equal(unlink(path), 0);
}

static void test_lock_file_wait(void **state) {
        const char *path = test_path("wait.lock");
        _cleanup_close_ int holder = -1, waiter = -1;

        holder = lock_file_open(path, NULL);
        waiter = lock_file_open(path, NULL);
        assert_true(holder >= 0 && waiter >= 0);
        assert_int_equal(flock(holder, LOCK_EX), 0);
        /* Held by another open file: the wait ends, with an error. */
        assert_int_equal(lock_file_wait(waiter, 0), -EWOULDBLOCK);
        assert_int_equal(lock_file_wait(waiter, 50), -EWOULDBLOCK);
        assert_int_equal(flock(holder, LOCK_UN), 0);
        assert_int_equal(lock_file_wait(waiter, 50), 0);
        /* Ours now: the other cannot have it. */
        assert_int_equal(flock(holder, LOCK_EX | LOCK_NB), -1);
}

static void test_lock_file_take(void **state) {
        const char *path = test_path("take.lock");
        _cleanup_close_ int first = -1;
        int second;
        struct stat a, b;

        first = lock_file_take(path, NULL);
        assert_true(first >= 0);
        assert_int_equal(lock_file_take(path, NULL), -EWOULDBLOCK);

        /* The holder removes its file before it lets go: the next taker
         * locks a new file, not the old one. */
        assert_int_equal(fstat(first, &a), 0);
        assert_int_equal(unlink(path), 0);
        second = lock_file_take(path, NULL);
        assert_true(second >= 0);
        assert_int_equal(fstat(second, &b), 0);
        assert_true(a.st_ino != b.st_ino);
        assert_int_equal(lock_file_take(path, NULL), -EWOULDBLOCK);
        close(second);
}

static void test_dir_open_safe(void **state) {
        const char *dir = test_path("made/run");
        char *error = NULL;
        int fd;

        /* Made with parents, exactly 0755 whatever the umask. */
        umask(0);
        fd = dir_open_safe(dir, 0755, &error);
        umask(022);
        assert_true(fd >= 0);
        assert_null(error);
        close(fd);
        assert_int_equal(mode_of(dir), 0755);

        /* An existing one of ours, named with trailing slashes or a "..". */
        fd = dir_open_safe(test_path("made/run//"), 0755, NULL);
        assert_true(fd >= 0);
        close(fd);
        fd = dir_open_safe(test_path("made/run/../run"), 0755, NULL);
        assert_true(fd >= 0);
        close(fd);

        /* Open to other writers: refused, unless sticky like /tmp. */
        assert_int_equal(chmod(dir, 0777), 0);
        assert_int_equal(dir_open_safe(dir, 0755, &error), -EPERM);
        assert_message(&error, dir, "0777");
        assert_int_equal(chmod(dir, 01777), 0);
        fd = dir_open_safe(dir, 0755, NULL);
        assert_true(fd >= 0);
        close(fd);
        /* An existing directory keeps its mode: only what we make gets ours. */
        assert_int_equal(mode_of(dir), 01777);
        assert_int_equal(chmod(dir, 0755), 0);
}

static void test_dir_open_safe_refused(void **state) {
        const char *link = test_path("link"), *file = test_path("file"), *other = test_path("other");
        char *error = NULL;
        char uid[32];

        /* A symlink in the last place is not followed, even to our own. */
        assert_int_equal(mkdir(test_path("real"), 0755), 0);
        assert_int_equal(symlink(test_path("real"), link), 0);
        assert_int_equal(dir_open_safe(link, 0755, &error), -ELOOP);
        assert_message(&error, link, "symbolic link");
        /* Nor a dangling one: no directory is made at its target. */
        assert_int_equal(symlink(test_path("nowhere"), test_path("dangling")), 0);
        assert_int_equal(dir_open_safe(test_path("dangling"), 0755, NULL), -ELOOP);
        assert_int_equal(access(test_path("nowhere"), F_OK), -1);

        assert_int_equal(close(open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600)), 0);
        assert_int_equal(dir_open_safe(file, 0755, &error), -ENOTDIR);
        assert_message(&error, file, "not a directory");

        /* Another user's: they could put their own files where ours go. */
        if (geteuid() != 0)
                skip();
        assert_int_equal(mkdir(other, 0755), 0);
        assert_int_equal(chown(other, OTHER_UID, OTHER_UID), 0);
        assert_int_equal(dir_open_safe(other, 0755, &error), -EPERM);
        snprintf(uid, sizeof(uid), "uid %d", OTHER_UID);
        assert_message(&error, other, uid);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_lock_file_mode),
                cmocka_unit_test(test_lock_file_refused),
                cmocka_unit_test(test_lock_file_wait),
                cmocka_unit_test(test_lock_file_take),
                cmocka_unit_test(test_dir_open_safe),
                cmocka_unit_test(test_dir_open_safe_refused),
        };

        test_setup_env(60);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
