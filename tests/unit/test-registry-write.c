/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <hvsock/hvsock.h>

#include "macro.h"
#include "registry.h"
#include "test-util.h"

struct add_args {
        uint32_t port;
        const char *name;
};

static int add_fn(struct hvsock_registry *r, void *userdata, char **ret_error) {
        const struct add_args *a = userdata;
        struct hvsock_guid id;
        int ret = hvsock_guid_from_port(a->port, &id);

        if (ret < 0)
                return ret;
        return hvsock__registry_add_service(r, &id, a->name, a->port, NULL);
}

static int noop_fn(struct hvsock_registry *r, void *userdata, char **ret_error) {
        return 0;
}

static int fail_fn(struct hvsock_registry *r, void *userdata, char **ret_error) {
        /* Changes made before the failure must not reach the file. */
        struct hvsock_guid id;
        assert_int_equal(hvsock_guid_from_port(7, &id), 0);
        assert_int_equal(hvsock__registry_add_service(r, &id, "never written", 7, NULL), 0);
        *ret_error = strdup("fn says no");
        return -EIO;
}

static int break_fn(struct hvsock_registry *r, void *userdata, char **ret_error) {
        /* A direct edit the mutators would refuse: two services, one name. */
        free(r->services[r->n_services - 2].name);
        r->services[r->n_services - 2].name = strdup(r->services[r->n_services - 1].name);
        return 0;
}

static char *read_text(const char *path) {
        FILE *f = fopen(path, "re");
        char *buf = NULL;
        size_t size = 0;
        FILE *m;
        int c;

        if (!f)
                return NULL;
        m = open_memstream(&buf, &size);
        while ((c = fgetc(f)) != EOF)
                fputc(c, m);
        fclose(m);
        fclose(f);
        return buf;
}

static ino_t inode_of(const char *path) {
        struct stat st;

        assert_int_equal(stat(path, &st), 0);
        return st.st_ino;
}

/* The config dir holds the registry and the lock file, nothing else. */
static void assert_no_temp_files(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
                    strcmp(de->d_name, HVSOCK_REGISTRY_FILE) != 0 && strcmp(de->d_name, HVSOCK_REGISTRY_LOCK) != 0)
                        fail_msg("unexpected file left in %s: %s", dir, de->d_name);
        closedir(d);
}

static void assert_lock_free(const char *dir) {
        char path[512];
        int fd;

        snprintf(path, sizeof(path), "%s/%s", dir, HVSOCK_REGISTRY_LOCK);
        fd = open(path, O_RDWR | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
        close(fd);
}

static void assert_builtin_only(const struct hvsock_registry *r) {
        char id[HVSOCK_GUID_STRING_MAX];

        assert_int_equal(r->n_vms, 0);
        assert_int_equal(r->n_services, 1);
        assert_string_equal(hvsock_guid_format(&r->services[0].id, id), "00005e55-facb-11e6-bd58-64006a7986d3");
        assert_string_equal(r->services[0].name, "VM Session Service");
        assert_int_equal(r->services[0].port, 24149);
        assert_true(r->services[0].enabled);
        assert_null(r->services[0].start);
}

static void test_load_missing(void **state) {
        struct hvsock_registry *r = NULL, *sentinel = (struct hvsock_registry *) 0x1;
        const char *dir = test_path("load");
        char path[512], *error = NULL;
        FILE *f;

        /* Neither the config dir nor the file exist: only the built-in VM
         * Session Service. */
        assert_int_equal(hvsock__registry_load(dir, &r, &error), 0);
        assert_non_null(r);
        assert_builtin_only(r);
        hvsock__registry_free(r);
        assert_int_equal(mkdir(dir, 0755), 0);
        assert_int_equal(hvsock__registry_load(dir, &r, &error), 0);
        assert_builtin_only(r);
        hvsock__registry_free(r);
        assert_null(error);

        /* A file that names its own session service (by ID, name or port) gets no second one. */
        snprintf(path, sizeof(path), "%s/%s", dir, HVSOCK_REGISTRY_FILE);
        for (int i = 0; i < 3; i++) {
                static const char *const files[] = {
                        "[service 00005e55-facb-11e6-bd58-64006a7986d3]\nElementName = Sessions\nEnabled = no\n",
                        "[service 999e53d4-3d5c-4c3e-8779-bed06ec056e1]\nElementName = VM Session Service\nPort = 5000\n",
                        "[service 999e53d4-3d5c-4c3e-8779-bed06ec056e1]\nElementName = Other\nPort = 24149\n",
                };
                f = fopen(path, "we");
                assert_non_null(f);
                fputs(files[i], f);
                fclose(f);
                assert_int_equal(hvsock__registry_load(dir, &r, &error), 0);
                assert_int_equal(r->n_services, 1);
                assert_int_equal(r->services[0].enabled, i != 0);
                hvsock__registry_free(r);
        }
        /* An empty file: the built-in is added. */
        f = fopen(path, "we");
        assert_non_null(f);
        fclose(f);
        assert_int_equal(hvsock__registry_load(dir, &r, &error), 0);
        assert_builtin_only(r);
        hvsock__registry_free(r);

        /* A malformed file: the message names the full path and the line. */
        snprintf(path, sizeof(path), "%s/%s", dir, HVSOCK_REGISTRY_FILE);
        f = fopen(path, "we");
        assert_non_null(f);
        fputs("# x\n[vm web1]\nCid = 1\n", f);
        fclose(f);
        r = sentinel;
        assert_int_equal(hvsock__registry_load(dir, &r, &error), -HVSOCK_E_REGISTRY);
        assert_ptr_equal(r, sentinel);
        char expect[600];
        snprintf(expect, sizeof(expect), "%s:3: bad Cid '1' (a decimal number 3 to 4294967294)", path);
        assert_string_equal(error, expect);
        free(error);

        /* I/O errors are -errno. */
        assert_int_equal(unlink(path), 0);
        assert_int_equal(mkdir(path, 0755), 0);
        assert_int_equal(hvsock__registry_load(dir, &r, NULL), -EISDIR);
        assert_ptr_equal(r, sentinel);
        assert_int_equal(rmdir(path), 0);
}

static void test_update_writes(void **state) {
        const char *dir = test_path("write/nested/config");
        char path[512], *text, *error = NULL;
        struct hvsock_registry *r;
        struct add_args a = { .port = 2761, .name = "Echo" }, b = { .port = 80, .name = "Web" };
        struct stat st;
        ino_t first;

        /* The config dir is created (mkdir -p), the file written 0644. */
        assert_int_equal(hvsock__registry_update(dir, add_fn, &a, &error), 0);
        assert_null(error);
        snprintf(path, sizeof(path), "%s/%s", dir, HVSOCK_REGISTRY_FILE);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0644);
        assert_int_equal(stat(dir, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0755);
        text = read_text(path);
        assert_non_null(strstr(text, "[service 00000ac9-facb-11e6-bd58-64006a7986d3]\nElementName = Echo\n"));
        free(text);
        assert_no_temp_files(dir);

        /* A second update replaces the file (a new inode), keeping the first entry. */
        first = inode_of(path);
        assert_int_equal(hvsock__registry_update(dir, add_fn, &b, &error), 0);
        assert_true(inode_of(path) != first);
        assert_int_equal(hvsock__registry_load(dir, &r, &error), 0);
        /* The built-in service, loaded with the first update, is written too. */
        assert_int_equal(r->n_services, 3);
        assert_string_equal(r->services[0].name, "VM Session Service");
        assert_string_equal(r->services[1].name, "Echo");
        assert_string_equal(r->services[2].name, "Web");
        hvsock__registry_free(r);
        assert_no_temp_files(dir);
        assert_lock_free(dir);

        /* A mutator's error comes back unchanged, and nothing is written. */
        first = inode_of(path);
        assert_int_equal(hvsock__registry_update(dir, add_fn, &b, &error), -EEXIST);
        assert_int_equal(inode_of(path), first);

        /* Bad arguments. */
        assert_int_equal(hvsock__registry_update(NULL, noop_fn, NULL, NULL), -EINVAL);
        assert_int_equal(hvsock__registry_update("", noop_fn, NULL, NULL), -EINVAL);
        assert_int_equal(hvsock__registry_update(dir, NULL, NULL, NULL), -EINVAL);
}

static void test_update_fn_error(void **state) {
        const char *dir = test_path("fnerror");
        struct add_args a = { .port = 1, .name = "One" }, b = { .port = 2, .name = "Two" };
        char path[512], *before, *after, *error = NULL;
        ino_t ino;

        assert_int_equal(hvsock__registry_update(dir, add_fn, &a, NULL), 0);
        assert_int_equal(hvsock__registry_update(dir, add_fn, &b, NULL), 0);
        snprintf(path, sizeof(path), "%s/%s", dir, HVSOCK_REGISTRY_FILE);
        before = read_text(path);
        ino = inode_of(path);

        /* fn fails: its value and message come back, the file is untouched. */
        assert_int_equal(hvsock__registry_update(dir, fail_fn, NULL, &error), -EIO);
        assert_string_equal(error, "fn says no");
        free(error);
        assert_int_equal(inode_of(path), ino);
        after = read_text(path);
        assert_string_equal(before, after);
        free(after);

        /* fn leaves an invalid registry: validation refuses to write it. */
        error = NULL;
        assert_int_equal(hvsock__registry_update(dir, break_fn, NULL, &error), -HVSOCK_E_REGISTRY);
        assert_non_null(strstr(error, "duplicate ElementName 'Two'"));
        free(error);
        assert_int_equal(inode_of(path), ino);
        after = read_text(path);
        assert_string_equal(before, after);
        free(after);
        free(before);
        assert_no_temp_files(dir);
        assert_lock_free(dir);
}

/* The lock is the writers' alone: no other user can open it, so none can
 * hold it; a lock that another process holds is waited for a bounded time. */
static void test_lock_file(void **state) {
        const char *dir = test_path("lockfile");
        char lock[512], *error = NULL;
        struct stat st;
        int fd;

        snprintf(lock, sizeof(lock), "%s/%s", dir, HVSOCK_REGISTRY_LOCK);
        umask(0);
        assert_int_equal(hvsock__registry_update(dir, noop_fn, NULL, NULL), 0);
        umask(022);
        assert_int_equal(stat(lock, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);

        /* Left readable by an older version: repaired by the next writer. */
        assert_int_equal(chmod(lock, 0644), 0);
        assert_int_equal(hvsock__registry_update(dir, noop_fn, NULL, NULL), 0);
        assert_int_equal(stat(lock, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);

        /* Held by someone else beyond the bound: a clear error, no wait forever. */
        fd = open(lock, O_RDWR | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(flock(fd, LOCK_EX), 0);
        setenv("HVSOCK_REGISTRY_LOCK_TIMEOUT_MS", "200", 1);
        assert_int_equal(hvsock__registry_update(dir, noop_fn, NULL, &error), -HVSOCK_E_LOCKED);
        unsetenv("HVSOCK_REGISTRY_LOCK_TIMEOUT_MS");
        assert_non_null(error);
        assert_non_null(strstr(error, "locked by another process"));
        assert_non_null(strstr(error, lock));
        free(error);
        error = NULL;
        close(fd);
        assert_int_equal(hvsock__registry_update(dir, noop_fn, NULL, NULL), 0);

        /* Another user's lock file is refused, naming it and its owner. */
        if (geteuid() != 0)
                skip();
        assert_int_equal(chown(lock, 65534, 65534), 0);
        assert_int_equal(hvsock__registry_update(dir, noop_fn, NULL, &error), -EPERM);
        assert_non_null(error);
        assert_non_null(strstr(error, lock));
        assert_non_null(strstr(error, "uid 65534"));
        free(error);
}

#define WRITERS 20
#define UPDATES_PER_WRITER 5

static void test_concurrent_writers(void **state) {
        const char *dir = test_path("concurrent");
        struct hvsock_registry *r;
        pid_t pids[WRITERS];
        char *error = NULL;

        for (int i = 0; i < WRITERS; i++) {
                pids[i] = fork();
                assert_true(pids[i] >= 0);
                if (pids[i] == 0) {
                        for (int k = 0; k < UPDATES_PER_WRITER; k++) {
                                char name[64];
                                struct add_args a = { .port = 10000 + (uint32_t) (i * UPDATES_PER_WRITER + k), .name = name };
                                snprintf(name, sizeof(name), "writer %d update %d", i, k);
                                if (hvsock__registry_update(dir, add_fn, &a, NULL) < 0)
                                        _exit(1);
                        }
                        _exit(0);
                }
        }
        for (int i = 0; i < WRITERS; i++) {
                int status;
                assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
                assert_true(WIFEXITED(status));
                assert_int_equal(WEXITSTATUS(status), 0);
        }

        /* Nothing lost: every writer's every service is there. */
        assert_int_equal(hvsock__registry_load(dir, &r, &error), 0);
        assert_int_equal(r->n_services, WRITERS * UPDATES_PER_WRITER + 1); /* + the built-in */
        for (int i = 0; i < WRITERS; i++)
                for (int k = 0; k < UPDATES_PER_WRITER; k++) {
                        char name[64];
                        const struct hvsock_service *s;
                        snprintf(name, sizeof(name), "writer %d update %d", i, k);
                        s = hvsock__registry_find_service_by_name(r, name);
                        assert_non_null(s);
                        assert_int_equal(s->port, 10000 + i * UPDATES_PER_WRITER + k);
                }
        hvsock__registry_free(r);
        assert_no_temp_files(dir);
        assert_lock_free(dir);
}

#define BIG_SERVICES 1000
#define EXTRA_PORT 99999

/* Adds the extra service when it is absent, removes it when present: the
 * file alternates between two known contents. */
static int toggle_fn(struct hvsock_registry *r, void *userdata, char **ret_error) {
        struct hvsock_guid id;
        int ret = hvsock_guid_from_port(EXTRA_PORT, &id);

        if (ret < 0)
                return ret;
        if (hvsock__registry_find_service(r, &id))
                return hvsock__registry_remove_service(r, &id);
        return hvsock__registry_add_service(r, &id, "the extra service", EXTRA_PORT, "/usr/bin/extra");
}

static int fill_fn(struct hvsock_registry *r, void *userdata, char **ret_error) {
        for (uint32_t i = 0; i < BIG_SERVICES; i++) {
                struct hvsock_guid id;
                char name[128], start[128];
                int ret;

                snprintf(name, sizeof(name), "A rather long friendly name for service number %u", i);
                snprintf(start, sizeof(start), "/usr/libexec/hvsock/service-%u --listen --verbose --config /etc/x", i);
                ret = hvsock_guid_from_port(20000 + i, &id);
                if (ret < 0)
                        return ret;
                ret = hvsock__registry_add_service(r, &id, name, 20000 + i, start);
                if (ret < 0)
                        return ret;
        }
        return 0;
}

/* Loads the registry and checks it is exactly one of the two states. */
static int check_state(const char *dir, const char *state_a, const char *state_b) {
        struct hvsock_registry *r = NULL;
        char *error = NULL, *text;
        int which;

        if (hvsock__registry_load(dir, &r, &error) < 0)
                fail_msg("registry does not parse: %s", error ? error : "(no message)");
        text = hvsock__registry_format(r);
        assert_non_null(text);
        which = strcmp(text, state_a) == 0 ? 0 : strcmp(text, state_b) == 0 ? 1 : -1;
        if (which < 0)
                fail_msg("registry is neither the old nor the new content (%zu services)", r->n_services);
        free(text);
        hvsock__registry_free(r);
        return which;
}

static void test_sigkill_writer(void **state) {
        const char *dir = test_path("sigkill");
        struct hvsock_registry *r;
        char *state_a, *state_b;
        unsigned seen[2] = { 0, 0 };
        struct timespec t0, t1;
        long update_us;

        srand((unsigned) time(NULL) ^ (unsigned) getpid());
        assert_int_equal(hvsock__registry_update(dir, fill_fn, NULL, NULL), 0);
        assert_int_equal(hvsock__registry_load(dir, &r, NULL), 0);
        state_a = hvsock__registry_format(r);
        assert_int_equal(toggle_fn(r, NULL, NULL), 0);
        state_b = hvsock__registry_format(r);
        hvsock__registry_free(r);

        /* Kill moments must spread over whole updates, whose length is
         * mostly fsync and differs a lot between disks: measure one (two
         * toggles, back to the first state). */
        clock_gettime(CLOCK_MONOTONIC, &t0);
        assert_int_equal(hvsock__registry_update(dir, toggle_fn, NULL, NULL), 0);
        assert_int_equal(hvsock__registry_update(dir, toggle_fn, NULL, NULL), 0);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        update_us = ((t1.tv_sec - t0.tv_sec) * 1000000L + (t1.tv_nsec - t0.tv_nsec) / 1000) / 2;
        if (update_us < 1000)
                update_us = 1000;
        if (update_us > 2000000)
                update_us = 2000000;

        for (int round = 0; round < 10; round++) {
                pid_t pid = fork();
                int status;

                assert_true(pid >= 0);
                if (pid == 0) {
                        for (;;)
                                if (hvsock__registry_update(dir, toggle_fn, NULL, NULL) < 0)
                                        _exit(1);
                }
                /* Readers take no lock: whatever they see is whole. */
                int reads = rand() % 4;
                for (int i = 0; i < reads; i++)
                        seen[check_state(dir, state_a, state_b)]++;
                usleep((useconds_t) (rand() % (3 * update_us)));
                assert_int_equal(kill(pid, SIGKILL), 0);
                assert_int_equal(waitpid(pid, &status, 0), pid);
                assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

                seen[check_state(dir, state_a, state_b)]++;
                /* The dead writer's lock went with it: the next update goes
                 * through and clears any temporary file it left. */
                assert_lock_free(dir);
                assert_int_equal(hvsock__registry_update(dir, noop_fn, NULL, NULL), 0);
                assert_no_temp_files(dir);
                seen[check_state(dir, state_a, state_b)]++;
        }
        print_message("states seen: old/even %u, new/odd %u\n", seen[0], seen[1]);
        free(state_a);
        free(state_b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_load_missing),
                cmocka_unit_test(test_update_writes),
                cmocka_unit_test(test_update_fn_error),
                cmocka_unit_test(test_lock_file),
                cmocka_unit_test(test_concurrent_writers),
                cmocka_unit_test(test_sigkill_writer),
        };

        test_setup_env(110);
        umask(022);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
