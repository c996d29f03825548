/* SPDX-License-Identifier: MIT */
/*
 * Where a received entry of `hvsock cp` lands (copy-place.c) and the
 * no-follow open under it (openat_nofollow in fd-util.c): links at the
 * name are replaced or refused, never followed or written through.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "copy-place.h"
#include "fd-util.h"
#include "test-util.h"

static int dirfd_of(const char *name) {
        int fd;

        mkdir(test_path(name), 0755);
        fd = open(test_path(name), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        return fd;
}

static void write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "w");

        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static char *read_file(const char *path) {
        static char buf[256];
        FILE *f = fopen(path, "r");
        size_t n;

        assert_non_null(f);
        n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = '\0';
        fclose(f);
        return buf;
}

static int count_entries(const char *path) {
        DIR *dir = opendir(path);
        struct dirent *de;
        int n = 0;

        assert_non_null(dir);
        while ((de = readdir(dir)))
                n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
        closedir(dir);
        return n;
}

static void test_openat_nofollow(void **state) {
        int d = dirfd_of("nf"), fd;
        char link[512];

        write_file(test_path("nf/file"), "x");
        snprintf(link, sizeof(link), "%s", test_path("nf/file"));
        assert_int_equal(symlink(link, test_path("nf/link")), 0);
        fd = openat_nofollow(d, "file", O_RDONLY | O_CLOEXEC, 0);
        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(openat_nofollow(d, "link", O_RDONLY | O_CLOEXEC, 0), -ELOOP);
        /* Nothing outside the directory: a path that leaves it is refused
         * where openat2 exists (-EXDEV), and ".." never names an entry of
         * a copy anyway. */
        fd = openat_nofollow(d, "../nf/file", O_RDONLY | O_CLOEXEC, 0);
        if (fd >= 0)
                close(fd);
        assert_true(fd == -EXDEV || fd >= 0);
        close(d);
}

static void test_place_dir_refuses_links(void **state) {
        int d = dirfd_of("pd"), fd;
        bool created = true;

        mkdir(test_path("elsewhere"), 0755);
        assert_int_equal(symlink(test_path("elsewhere"), test_path("pd/conf")), 0);
        assert_int_equal(place_dir(d, "conf", &created), -ENOTDIR);
        write_file(test_path("pd/file"), "x");
        assert_int_equal(place_dir(d, "file", &created), -ENOTDIR);
        fd = place_dir(d, "new", &created);
        assert_true(fd >= 0);
        assert_true(created);
        close(fd);
        fd = place_dir(d, "new", &created);
        assert_true(fd >= 0);
        assert_false(created);
        close(fd);
        close(d);
}

static void publish(int d, const char *name, const char *text) {
        struct place_temp t;

        assert_int_equal(place_temp_open(d, name, &t), 0);
        assert_int_equal(write(t.fd, text, strlen(text)), (ssize_t) strlen(text));
        assert_int_equal(place_temp_publish(&t, name), 0);
        place_temp_discard(&t);
}

static void test_publish_replaces_links(void **state) {
        int d = dirfd_of("pp");
        struct place_temp t;
        struct stat st;

        write_file(test_path("victim"), "original");
        assert_int_equal(symlink(test_path("victim"), test_path("pp/notes")), 0);
        publish(d, "notes", "new");
        assert_string_equal(read_file(test_path("victim")), "original");
        assert_int_equal(lstat(test_path("pp/notes"), &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_string_equal(read_file(test_path("pp/notes")), "new");
        /* A new name, and replacing a file. */
        publish(d, "fresh", "1");
        publish(d, "fresh", "2");
        assert_string_equal(read_file(test_path("pp/fresh")), "2");
        /* Never over a directory; the temporary file then goes away. */
        mkdir(test_path("pp/dir"), 0755);
        assert_int_equal(place_temp_open(d, "dir", &t), 0);
        assert_int_equal(place_temp_publish(&t, "dir"), -EISDIR);
        place_temp_discard(&t);
        assert_int_equal(t.fd, -1);
        /* No hidden name left behind by any of it. */
        assert_int_equal(count_entries(test_path("pp")), 3);
        close(d);
}

static void test_symlink_replaces_but_not_dirs(void **state) {
        int d = dirfd_of("ps");
        char target[64];
        ssize_t n;

        assert_int_equal(place_symlink(d, "l", "a"), 0);
        assert_int_equal(place_symlink(d, "l", "b"), 0);
        n = readlink(test_path("ps/l"), target, sizeof(target) - 1);
        assert_int_equal(n, 1);
        assert_int_equal(target[0], 'b');
        write_file(test_path("ps/f"), "x");
        assert_int_equal(place_symlink(d, "f", "c"), 0);
        mkdir(test_path("ps/dir"), 0755);
        assert_int_equal(place_symlink(d, "dir", "d"), -EISDIR);
        close(d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_openat_nofollow),
                cmocka_unit_test(test_place_dir_refuses_links),
                cmocka_unit_test(test_publish_replaces_links),
                cmocka_unit_test(test_symlink_replaces_but_not_dirs),
        };

        test_setup_env(30);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
