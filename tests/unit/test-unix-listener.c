/* SPDX-License-Identifier: MIT */
/* unix_listen(): liveness by lock file, whatever the spelling; explicit access. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "test-net.h"
#include "test-util.h"
#include "unix-listener.h"

#define OTHER_ID 65534

static const char *lock_of(const char *path) {
        static char buf[600];

        snprintf(buf, sizeof(buf), "%s.lock", path);
        return buf;
}

static bool exists(const char *path) {
        struct stat st;

        return lstat(path, &st) == 0;
}

static struct stat stat_of(const char *path) {
        struct stat st;

        assert_int_equal(lstat(path, &st), 0);
        return st;
}

/* A new UNIX stream socket, and the address of path in *sa. */
static int socket_for(const char *path, struct sockaddr_un *sa, socklen_t *len) {
        int fd;

        assert_int_equal(sockaddr_un_set(sa, len, path), 0);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        return fd;
}

/* A client reaches the listener: connect, and the listener accepts it. */
static void assert_serves(const struct unix_listener *l, const char *path) {
        _cleanup_close_ int c = -1, s = -1;
        struct sockaddr_un sa;
        socklen_t len;

        c = socket_for(path, &sa, &len);
        assert_int_equal(connect(c, (struct sockaddr *) &sa, len), 0);
        assert_true(fd_wait(l->fd, POLLIN, 5000) > 0);
        s = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
        assert_true(s >= 0);
}

static void test_modes(void **state) {
        const char *path = test_path("modes.sock");
        const struct unix_access group = { .mode = 0660, .uid = (uid_t) -1, .gid = (gid_t) -1 };
        struct unix_listener l = UNIX_LISTENER_NULL;

        /* Nothing comes from the umask: 0600 by default, what is asked else. */
        umask(0);
        assert_int_equal(unix_listen(path, 4, NULL, &l, NULL), 0);
        assert_true(S_ISSOCK(stat_of(path).st_mode));
        assert_int_equal(stat_of(path).st_mode & 07777, 0600);
        assert_true(S_ISREG(stat_of(lock_of(path)).st_mode));
        assert_int_equal(stat_of(lock_of(path)).st_mode & 07777, 0600);
        assert_fd_blocking_cloexec(l.lock_fd);
        unix_listener_close(&l);
        assert_int_equal(l.fd, -1);
        assert_false(exists(path));
        assert_false(exists(lock_of(path)));
        /* Twice is fine. */
        unix_listener_close(&l);

        assert_int_equal(unix_listen(path, 4, &group, &l, NULL), 0);
        umask(022);
        assert_int_equal(stat_of(path).st_mode & 07777, 0660);
        assert_serves(&l, path);
        unix_listener_close(&l);
}

static void test_owner(void **state) {
        const char *path = test_path("owner.sock");
        const struct unix_access other = { .mode = 0660, .uid = OTHER_ID, .gid = OTHER_ID };
        const struct unix_access group = { .mode = 0660, .uid = (uid_t) -1, .gid = OTHER_ID };
        struct unix_listener l = UNIX_LISTENER_NULL;

        if (geteuid() != 0)
                skip();
        assert_int_equal(unix_listen(path, 4, &other, &l, NULL), 0);
        assert_int_equal(stat_of(path).st_uid, OTHER_ID);
        assert_int_equal(stat_of(path).st_gid, OTHER_ID);
        assert_int_equal(stat_of(path).st_mode & 07777, 0660);
        /* The lock file stays ours: nobody else can hold it. */
        assert_int_equal(stat_of(lock_of(path)).st_uid, 0);
        unix_listener_close(&l);
        assert_int_equal(unix_listen(path, 4, &group, &l, NULL), 0);
        assert_int_equal(stat_of(path).st_uid, 0);
        assert_int_equal(stat_of(path).st_gid, OTHER_ID);
        unix_listener_close(&l);
}

/* A second listener at the same file, spelled any way, is refused at once
 * and takes nothing from the first. */
static void test_live_any_spelling(void **state) {
        char path[512], spelling[6][512];
        struct unix_listener l = UNIX_LISTENER_NULL, l2 = UNIX_LISTENER_NULL;
        struct stat before;

        assert_int_equal(mkdir(test_path("dir"), 0755), 0);
        assert_int_equal(mkdir(test_path("dir/sub"), 0755), 0);
        assert_int_equal(symlink(test_path("dir"), test_path("alias")), 0);
        snprintf(path, sizeof(path), "%s", test_path("dir/live.sock"));
        snprintf(spelling[0], sizeof(spelling[0]), "%s", test_path("dir//live.sock"));
        snprintf(spelling[1], sizeof(spelling[1]), "%s", test_path("dir/./live.sock"));
        snprintf(spelling[2], sizeof(spelling[2]), "%s", test_path("dir/sub/../live.sock"));
        snprintf(spelling[3], sizeof(spelling[3]), "%s", test_path("dir/../dir/live.sock"));
        snprintf(spelling[4], sizeof(spelling[4]), "%s", test_path("alias/live.sock"));
        snprintf(spelling[5], sizeof(spelling[5]), "%s", test_path("./dir/live.sock"));

        assert_int_equal(unix_listen(path, 4, NULL, &l, NULL), 0);
        before = stat_of(path);
        for (size_t i = 0; i < ELEMENTSOF(spelling); i++) {
                l2.fd = 12345;
                assert_int_equal(unix_listen(spelling[i], 4, NULL, &l2, NULL), -EADDRINUSE);
                assert_int_equal(l2.fd, 12345);
                /* The same socket file, still served. */
                assert_int_equal(stat_of(path).st_ino, before.st_ino);
                assert_true(exists(lock_of(path)));
                assert_serves(&l, path);
        }
        unix_listener_close(&l);
}

/* What a listener that died leaves (its socket file and its lock file, no
 * longer locked) is taken over; so is a socket file without a lock file. */
static void test_stale(void **state) {
        const char *path = test_path("stale.sock");
        struct unix_listener l = UNIX_LISTENER_NULL;
        int status;
        pid_t pid;

        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
                _exit(unix_listen(path, 4, NULL, &l, NULL) == 0 ? 0 : 1);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        assert_true(exists(path) && exists(lock_of(path)));
        assert_int_equal(unix_listen(path, 4, NULL, &l, NULL), 0);
        assert_serves(&l, path);
        unix_listener_close(&l);

        make_stale_socket(path);
        assert_int_equal(unix_listen(path, 4, NULL, &l, NULL), 0);
        assert_serves(&l, path);
        unix_listener_close(&l);
}

/* A listener of another program holds no lock of ours; the kernel's socket
 * table still shows it listening on that file, and it is left alone. */
static void test_foreign_listener(void **state) {
        const char *path = test_path("foreign.sock");
        struct unix_listener l = UNIX_LISTENER_NULL;
        _cleanup_close_ int fd = -1;
        struct sockaddr_un sa;
        socklen_t len;

        fd = socket_for(path, &sa, &len);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, len), 0);
        assert_int_equal(listen(fd, 4), 0);
        assert_int_equal(unix_listen(path, 4, NULL, &l, NULL), -EADDRINUSE);
        assert_true(exists(path));
        /* Our lock file went with the failure. */
        assert_false(exists(lock_of(path)));
        /* No probe connection was made to find out. */
        assert_int_equal(fd_set_nonblock(fd, true), 0);
        assert_int_equal(accept4(fd, NULL, NULL, SOCK_CLOEXEC), -1);
        assert_int_equal(errno, EAGAIN);
        assert_int_equal(unlink(path), 0);
}

static void test_not_a_socket(void **state) {
        const char *path = test_path("precious");
        struct unix_listener l = UNIX_LISTENER_NULL;

        assert_int_equal(close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644)), 0);
        assert_int_equal(unix_listen(path, 4, NULL, &l, NULL), -EADDRINUSE);
        assert_true(S_ISREG(stat_of(path).st_mode));
        assert_false(exists(lock_of(path)));
}

static void test_lock_file_refused(void **state) {
        const char *path = test_path("refused.sock");
        struct unix_listener l = UNIX_LISTENER_NULL;
        char *error = NULL;

        /* A symlink where the lock file goes. */
        assert_int_equal(symlink(test_path("elsewhere"), lock_of(path)), 0);
        assert_int_equal(unix_listen(path, 4, NULL, &l, &error), -ELOOP);
        assert_non_null(strstr(error, lock_of(path)));
        free(error);
        error = NULL;
        assert_false(exists(test_path("elsewhere")));
        assert_false(exists(path));
        assert_int_equal(unlink(lock_of(path)), 0);

        /* Another user's lock file: they could hold it and keep us out. */
        if (geteuid() != 0)
                skip();
        assert_int_equal(close(open(lock_of(path), O_CREAT | O_WRONLY | O_CLOEXEC, 0600)), 0);
        assert_int_equal(chown(lock_of(path), OTHER_ID, OTHER_ID), 0);
        assert_int_equal(unix_listen(path, 4, NULL, &l, &error), -EPERM);
        assert_non_null(strstr(error, lock_of(path)));
        assert_non_null(strstr(error, "uid 65534"));
        free(error);
        assert_false(exists(path));
        /* Not ours to remove. */
        assert_true(exists(lock_of(path)));
        assert_int_equal(unlink(lock_of(path)), 0);
}

static void test_path_too_long(void **state) {
        struct unix_listener l = UNIX_LISTENER_NULL;
        struct sockaddr_un sa;
        char path[200];
        size_t dir;

        memset(path, 'a', sizeof(path) - 1);
        path[0] = '/';
        path[sizeof(path) - 1] = 0;
        assert_int_equal(unix_listen(path, 4, NULL, &l, NULL), -ENAMETOOLONG);
        assert_int_equal(unix_listen("", 4, NULL, &l, NULL), -EINVAL);

        /* The longest path that fits sun_path leaves no room for a
         * temporary name: it is bound directly, mode still set. */
        snprintf(path, sizeof(path), "%s", test_path(""));
        dir = strlen(path);
        assert_true(dir < sizeof(sa.sun_path) - 2);
        memset(path + dir, 'b', sizeof(sa.sun_path) - 1 - dir);
        path[sizeof(sa.sun_path) - 1] = 0;
        umask(0);
        assert_int_equal(unix_listen(path, 4, NULL, &l, NULL), 0);
        umask(022);
        assert_int_equal(stat_of(path).st_mode & 07777, 0600);
        assert_serves(&l, path);
        unix_listener_close(&l);
}

#define APPEARANCES 200

/* Waits for path to appear, then connects at once. Exits 0 when the
 * connection was accepted by the kernel, 1 when it was refused. */
static void connect_on_sight(const char *path) {
        struct sockaddr_un sa;
        socklen_t len;
        int fd = socket_for(path, &sa, &len);

        for (;;) {
                if (connect(fd, (struct sockaddr *) &sa, len) == 0)
                        _exit(0);
                if (errno != ENOENT)
                        _exit(errno == ECONNREFUSED ? 1 : 2);
        }
}

/* The socket file appears only once it listens: a client that connects as
 * soon as it sees it (QEMU after a script's wait) is never refused. */
static void test_ready_when_visible(void **state) {
        const char *path = test_path("ready.sock");
        char tmp[600];

        for (int i = 0; i < APPEARANCES; i++) {
                struct unix_listener l = UNIX_LISTENER_NULL;
                int status;
                pid_t pid = fork();

                assert_true(pid >= 0);
                if (pid == 0)
                        connect_on_sight(path);
                assert_int_equal(unix_listen(path, 4, NULL, &l, NULL), 0);
                assert_int_equal(waitpid(pid, &status, 0), pid);
                assert_true(WIFEXITED(status));
                if (WEXITSTATUS(status) != 0)
                        fail_msg("round %d: the client that saw the socket file was %s", i,
                                 WEXITSTATUS(status) == 1 ? "refused" : "failed");
                unix_listener_close(&l);
        }
        /* No temporary name is left behind. */
        snprintf(tmp, sizeof(tmp), "%s.%x", path, (unsigned) getpid());
        assert_false(exists(tmp));
}

#define CHURNERS 6
#define CHURN_ROUNDS 1000

/* One churner: listens whenever it can, and while it does, owns a marker
 * file made with O_EXCL; two listeners at once would collide on it. */
static int churn(const char *path, const char *marker) {
        for (int i = 0; i < CHURN_ROUNDS; i++) {
                struct unix_listener l = UNIX_LISTENER_NULL;
                int r = unix_listen(path, 4, NULL, &l, NULL), fd;

                if (r == -EADDRINUSE)
                        continue;
                if (r < 0)
                        return 2;
                fd = open(marker, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
                if (fd < 0)
                        return 1;
                close(fd);
                usleep(100);
                unlink(marker);
                unix_listener_close(&l);
        }
        return 0;
}

/* Listeners coming and going: the one that closes unlinks its lock file
 * while others may have it open; never are two listening at once. */
static void test_churn(void **state) {
        const char *path = test_path("churn.sock");
        char marker[512];
        pid_t pids[CHURNERS];

        snprintf(marker, sizeof(marker), "%s", test_path("churn.marker"));
        for (int i = 0; i < CHURNERS; i++) {
                pids[i] = fork();
                assert_true(pids[i] >= 0);
                if (pids[i] == 0)
                        _exit(churn(path, marker));
        }
        for (int i = 0; i < CHURNERS; i++) {
                int status;

                assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
                assert_true(WIFEXITED(status));
                if (WEXITSTATUS(status) != 0)
                        fail_msg("churner %d: %s", i, WEXITSTATUS(status) == 1 ? "two listeners at once" : "listen failed");
        }
        assert_false(exists(path));
        assert_false(exists(lock_of(path)));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_modes),
                cmocka_unit_test(test_owner),
                cmocka_unit_test(test_live_any_spelling),
                cmocka_unit_test(test_stale),
                cmocka_unit_test(test_foreign_listener),
                cmocka_unit_test(test_not_a_socket),
                cmocka_unit_test(test_lock_file_refused),
                cmocka_unit_test(test_path_too_long),
                cmocka_unit_test(test_ready_when_visible),
                cmocka_unit_test(test_churn),
        };

        test_setup_env(120);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
