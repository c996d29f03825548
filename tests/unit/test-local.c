/* SPDX-License-Identifier: MIT */
/* The local transport through the public API: LOOPBACK addresses. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <hvsock/hvsock.h>

#include "transport.h"
#include "test-net.h"
#include "test-util.h"

#define ECHO_BYTES (64u << 20)
#define CHUNK (64u << 10)

static struct hvsock_addr loopback(uint32_t port) {
        struct hvsock_addr a;
        struct hvsock_guid service;

        assert_int_equal(hvsock_guid_from_port(port, &service), 0);
        hvsock_addr_init(&a, &HVSOCK_GUID_LOOPBACK, &service);
        return a;
}

static uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++) {
                h ^= p[i];
                h *= UINT64_C(0x100000001b3);
        }
        return h;
}
#define FNV_INIT UINT64_C(0xcbf29ce484222325)

static uint64_t mono_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

/* Server side of the echo: copies everything back, then half-closes. */
static void *echo_server(void *arg) {
        struct hvsock_listener *l = arg;
        _cleanup_close_ int fd = -1;
        uint8_t *buf = malloc(CHUNK);
        ssize_t n;

        fd = hvsock_accept(l, -1, NULL);
        if (fd < 0 || !buf)
                abort();
        while ((n = read(fd, buf, CHUNK)) > 0)
                if (write_all(fd, buf, (size_t) n) < 0)
                        abort();
        if (n < 0)
                abort();
        shutdown(fd, SHUT_WR);
        free(buf);
        return NULL;
}

struct writer {
        int fd;
        uint64_t hash;
};

/* Sends ECHO_BYTES of pseudo-random data and half-closes. */
static void *echo_writer(void *arg) {
        struct writer *w = arg;
        uint8_t *buf = malloc(CHUNK);
        uint64_t x = 88172645463325252u;

        if (!buf)
                abort();
        w->hash = FNV_INIT;
        for (size_t sent = 0; sent < ECHO_BYTES; sent += CHUNK) {
                for (size_t i = 0; i < CHUNK; i++) {
                        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                        buf[i] = (uint8_t) x;
                }
                w->hash = fnv1a(w->hash, buf, CHUNK);
                if (write_all(w->fd, buf, CHUNK) < 0)
                        abort();
        }
        shutdown(w->fd, SHUT_WR);
        free(buf);
        return NULL;
}

static void test_echo_64mib(void **state) {
        struct hvsock_addr a = loopback(5001);
        struct hvsock_listener *l = NULL;
        struct writer w;
        pthread_t server, writer;
        uint8_t *buf = malloc(CHUNK);
        uint64_t hash = FNV_INIT, total = 0;
        ssize_t n;

        assert_non_null(buf);
        assert_int_equal(hvsock_listen(NULL, &a, 16, &l), 0);
        assert_int_equal(pthread_create(&server, NULL, echo_server, l), 0);
        w.fd = hvsock_connect(NULL, &a, 0);
        assert_true(w.fd >= 0);
        assert_int_equal(pthread_create(&writer, NULL, echo_writer, &w), 0);
        while ((n = read(w.fd, buf, CHUNK)) > 0) {
                hash = fnv1a(hash, buf, (size_t) n);
                total += (uint64_t) n;
        }
        assert_int_equal(n, 0);
        pthread_join(writer, NULL);
        pthread_join(server, NULL);
        assert_int_equal(total, ECHO_BYTES);
        assert_int_equal(hash, w.hash);
        close(w.fd);
        free(buf);
        hvsock_listener_free(l);
}

#define REPLY_BYTES (1u << 20)

static void *halfclose_server(void *arg) {
        struct hvsock_listener *l = arg;
        _cleanup_close_ int fd = -1;
        char buf[64], *reply;
        size_t got = 0;
        ssize_t n;

        fd = hvsock_accept(l, -1, NULL);
        if (fd < 0)
                abort();
        /* Reads the request up to EOF: the client's shutdown(SHUT_WR). */
        while ((n = read(fd, buf + got, sizeof(buf) - got)) > 0)
                got += (size_t) n;
        if (n < 0 || got != 5 || memcmp(buf, "hello", 5) != 0)
                abort();
        /* The other direction is still open. */
        reply = malloc(REPLY_BYTES);
        if (!reply)
                abort();
        memset(reply, 'r', REPLY_BYTES);
        if (write_all(fd, reply, REPLY_BYTES) < 0)
                abort();
        free(reply);
        return NULL;
}

static void test_half_close(void **state) {
        struct hvsock_addr a = loopback(5002);
        struct hvsock_listener *l = NULL;
        _cleanup_close_ int fd = -1;
        pthread_t server;
        char buf[4096];
        size_t total = 0;
        ssize_t n;

        assert_int_equal(hvsock_listen(NULL, &a, 16, &l), 0);
        assert_int_equal(pthread_create(&server, NULL, halfclose_server, l), 0);
        fd = hvsock_connect(NULL, &a, 2000);
        assert_true(fd >= 0);
        assert_int_equal(write_all(fd, "hello", 5), 0);
        assert_int_equal(shutdown(fd, SHUT_WR), 0);
        while ((n = read(fd, buf, sizeof(buf))) > 0) {
                for (ssize_t i = 0; i < n; i++)
                        assert_int_equal(buf[i], 'r');
                total += (size_t) n;
        }
        assert_int_equal(n, 0);
        assert_int_equal(total, REPLY_BYTES);
        pthread_join(server, NULL);
        hvsock_listener_free(l);
}

static void test_refused(void **state) {
        struct hvsock_addr a = loopback(5003);
        char path[512];

        /* The longest timeout: a refusal must not wait for it (the test alarm
         * would fire long before). */
        assert_int_equal(hvsock_connect(NULL, &a, HVSOCK_CONNECT_TIMEOUT_MAX), -ECONNREFUSED);

        /* A stale socket file, nobody behind it: refused as well. */
        assert_int_equal(hvsock__local_path(getenv("HVSOCK_RUNTIME_DIR"), 5003, path, sizeof(path)), 0);
        make_stale_socket(path);
        assert_int_equal(hvsock_connect(NULL, &a, HVSOCK_CONNECT_TIMEOUT_MAX), -ECONNREFUSED);
        unlink(path);
}

static void test_bad_timeout(void **state) {
        struct hvsock_addr a = loopback(5004);

        assert_int_equal(hvsock_connect(NULL, &a, HVSOCK_CONNECT_TIMEOUT_MAX + 1), -EINVAL);
        assert_int_equal(hvsock_connect(NULL, NULL, 0), -EINVAL);
}

static void test_connect_timeout(void **state) {
        struct hvsock_addr a = loopback(5005);
        struct hvsock_listener *l = NULL;
        _cleanup_close_ int first = -1;
        uint64_t start, elapsed;

        /* Backlog 0 holds one pending connection; nobody accepts, so a second
         * connect has to wait for room that never comes. */
        assert_int_equal(hvsock_listen(NULL, &a, 0, &l), 0);
        first = hvsock_connect(NULL, &a, 1000);
        assert_true(first >= 0);
        start = mono_ms();
        assert_int_equal(hvsock_connect(NULL, &a, 300), -ETIMEDOUT);
        elapsed = mono_ms() - start;
        /* It waited for the timeout, and not for much longer. */
        assert_true(elapsed >= 250);
        assert_true(elapsed < 5000);
        hvsock_listener_free(l);
}

/* The port in a socket's autobind name "\0xxxxx". */
static uint32_t autobind_port_of(int fd) {
        struct sockaddr_un sa;
        socklen_t len = sizeof(sa);
        char hex[8] = { 0 };

        assert_int_equal(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
        assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) + 6);
        assert_int_equal(sa.sun_path[0], '\0');
        memcpy(hex, sa.sun_path + 1, 5);
        return (uint32_t) strtoul(hex, NULL, 16);
}

static void test_peer_address(void **state) {
        struct hvsock_addr a = loopback(5006), peer, sentinel;
        struct hvsock_listener *l = NULL;
        _cleanup_close_ int c = -1, s = -1;
        struct hvsock_guid expect;

        assert_int_equal(hvsock_listen(NULL, &a, 16, &l), 0);
        assert_memory_equal(hvsock_listener_addr(l), &a, sizeof(a));
        c = hvsock_connect(NULL, &a, 1000);
        assert_true(c >= 0);
        memset(&peer, 0x5a, sizeof(peer));
        sentinel = peer;
        s = hvsock_accept(l, 1000, &peer);
        assert_true(s >= 0);
        assert_int_equal(peer.family, HVSOCK_AF_HYPERV);
        assert_true(hvsock_guid_equal(&peer.vm_id, &HVSOCK_GUID_LOOPBACK));
        assert_int_equal(hvsock_guid_from_port(autobind_port_of(c), &expect), 0);
        assert_true(hvsock_guid_equal(&peer.service_id, &expect));
        /* Nothing else pending: -EAGAIN and the peer is left alone. */
        peer = sentinel;
        assert_int_equal(hvsock_accept(l, 0, &peer), -EAGAIN);
        assert_memory_equal(&peer, &sentinel, sizeof(peer));
        hvsock_listener_free(l);
}

static void test_stale_and_inuse(void **state) {
        struct hvsock_addr a = loopback(5007);
        struct hvsock_listener *l = NULL, *l2 = NULL;
        _cleanup_close_ int c = -1, s = -1;
        char path[512];
        struct stat st;

        assert_int_equal(hvsock__local_path(getenv("HVSOCK_RUNTIME_DIR"), 5007, path, sizeof(path)), 0);
        make_stale_socket(path);
        /* A file left by a dead listener is taken over. */
        assert_int_equal(hvsock_listen(NULL, &a, 16, &l), 0);
        c = hvsock_connect(NULL, &a, 1000);
        assert_true(c >= 0);
        s = hvsock_accept(l, 1000, NULL);
        assert_true(s >= 0);
        /* A live one is not. */
        l2 = (struct hvsock_listener *) 0x1;
        assert_int_equal(hvsock_listen(NULL, &a, 16, &l2), -EADDRINUSE);
        assert_ptr_equal(l2, (struct hvsock_listener *) 0x1);
        assert_int_equal(stat(path, &st), 0);
        /* Finding it live cost the first listener nothing: no probe
         * connection is waiting to be accepted as a client. */
        assert_int_equal(hvsock_accept(l, 0, NULL), -EAGAIN);
        /* Freeing the listener removes its file. */
        assert_null(hvsock_listener_free(l));
        assert_int_equal(stat(path, &st), -1);
        assert_int_equal(errno, ENOENT);
        assert_null(hvsock_listener_free(NULL));
}

static void test_blocking_cloexec(void **state) {
        struct hvsock_addr a = loopback(5008);
        struct hvsock_listener *l = NULL;
        _cleanup_close_ int c = -1, s = -1;

        assert_int_equal(hvsock_listen(NULL, &a, 16, &l), 0);
        c = hvsock_connect(NULL, &a, 1000);
        assert_true(c >= 0);
        s = hvsock_accept(l, 1000, NULL);
        assert_true(s >= 0);
        assert_fd_blocking_cloexec(c);
        assert_fd_blocking_cloexec(s);
        hvsock_listener_free(l);
}

static void test_no_timeout_left_behind(void **state) {
        struct hvsock_addr a = loopback(5009);
        struct hvsock_listener *l = NULL;
        _cleanup_close_ int c = -1;
        struct timeval tv;
        socklen_t len = sizeof(tv);

        /* The connect timeout is a send timeout while connecting; the
         * application's blocking writes must not inherit it. */
        assert_int_equal(hvsock_listen(NULL, &a, 16, &l), 0);
        c = hvsock_connect(NULL, &a, 1000);
        assert_true(c >= 0);
        assert_int_equal(getsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, &len), 0);
        assert_int_equal(tv.tv_sec, 0);
        assert_int_equal(tv.tv_usec, 0);
        hvsock_listener_free(l);
}

static void test_unnamed_client(void **state) {
        struct hvsock_addr a = loopback(5010), peer;
        struct hvsock_listener *l = NULL;
        _cleanup_close_ int c = -1, s = -1;
        struct sockaddr_un sa;
        socklen_t len;
        char path[512];

        /* A client that does not autobind (socat, nc -U) still gets in; its
         * port is unknown, so the service ID is ZERO. */
        assert_int_equal(hvsock_listen(NULL, &a, 16, &l), 0);
        assert_int_equal(hvsock__local_path(getenv("HVSOCK_RUNTIME_DIR"), 5010, path, sizeof(path)), 0);
        assert_int_equal(sockaddr_un_set(&sa, &len, path), 0);
        c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(c >= 0);
        assert_int_equal(connect(c, (struct sockaddr *) &sa, len), 0);
        s = hvsock_accept(l, 1000, &peer);
        assert_true(s >= 0);
        assert_true(hvsock_guid_equal(&peer.vm_id, &HVSOCK_GUID_LOOPBACK));
        assert_true(hvsock_guid_is_zero(&peer.service_id));
        hvsock_listener_free(l);
}


/* A file at the socket path that is not a socket is somebody else's: the
 * listener refuses to start instead of deleting it. */
static void test_not_a_socket(void **state) {
        struct hvsock_addr a = loopback(5011);
        struct hvsock_listener *l = NULL;
        char path[512];
        struct stat st;
        FILE *f;

        assert_int_equal(hvsock__local_path(getenv("HVSOCK_RUNTIME_DIR"), 5011, path, sizeof(path)), 0);
        f = fopen(path, "we");
        assert_non_null(f);
        fputs("precious\n", f);
        fclose(f);
        assert_int_equal(hvsock_listen(NULL, &a, 16, &l), -EADDRINUSE);
        assert_null(l);
        assert_int_equal(stat(path, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        unlink(path);
}

/* A client to a reaches l, and l accepts it. */
static void assert_serves(struct hvsock_listener *l, const struct hvsock_addr *a) {
        _cleanup_close_ int c = hvsock_connect(NULL, a, 1000), s = -1;

        assert_true(c >= 0);
        s = hvsock_accept(l, 1000, NULL);
        assert_true(s >= 0);
}

/* A context on its own runtime dir (under the test dir). */
static struct hvsock_ctx *ctx_at(const char *runtime_dir) {
        struct hvsock_ctx *ctx = NULL;

        assert_int_equal(hvsock_ctx_new(&ctx), 0);
        assert_int_equal(hvsock_ctx_set_runtime_dir(ctx, runtime_dir), 0);
        return ctx;
}

static mode_t mode_of(const char *path) {
        struct stat st;

        assert_int_equal(lstat(path, &st), 0);
        return st.st_mode & 07777;
}

/* Whatever the umask: the runtime dirs 0755, the socket 0660, its lock 0600. */
static void test_modes(void **state) {
        struct hvsock_ctx *ctx = ctx_at(test_path("modes/run"));
        struct hvsock_addr a = loopback(5013);
        struct hvsock_listener *l = NULL;

        umask(0);
        assert_int_equal(hvsock_listen(ctx, &a, 4, &l), 0);
        umask(022);
        assert_null(hvsock_ctx_last_error(ctx));
        assert_int_equal(mode_of(test_path("modes/run")), 0755);
        assert_int_equal(mode_of(test_path("modes/run/local")), 0755);
        assert_int_equal(mode_of(test_path("modes/run/local/5013")), 0660);
        assert_int_equal(mode_of(test_path("modes/run/local/5013.lock")), 0600);
        hvsock_listener_free(l);
        assert_int_equal(access(test_path("modes/run/local/5013"), F_OK), -1);
        assert_int_equal(access(test_path("modes/run/local/5013.lock"), F_OK), -1);
        hvsock_ctx_free(ctx);
}

static void test_socket_owner(void **state) {
        struct hvsock_ctx *ctx = ctx_at(test_path("owner/run"));
        struct hvsock_addr a = loopback(5014);
        struct hvsock_listener *l = NULL;
        struct stat st;

        assert_int_equal(hvsock_ctx_set_socket_owner(NULL, 1, 1), -EINVAL);
        if (geteuid() != 0) {
                /* Handing a file to somebody else takes root. */
                assert_int_equal(hvsock_ctx_set_socket_owner(ctx, 0, HVSOCK_ID_KEEP), 0);
                assert_int_equal(hvsock_listen(ctx, &a, 4, &l), -EPERM);
                hvsock_ctx_free(ctx);
                skip();
        }
        assert_int_equal(hvsock_ctx_set_socket_owner(ctx, 65534, 65534), 0);
        assert_int_equal(hvsock_listen(ctx, &a, 4, &l), 0);
        assert_int_equal(lstat(test_path("owner/run/local/5014"), &st), 0);
        assert_int_equal(st.st_uid, 65534);
        assert_int_equal(st.st_gid, 65534);
        l = hvsock_listener_free(l);
        assert_int_equal(hvsock_ctx_set_socket_owner(ctx, HVSOCK_ID_KEEP, 65534), 0);
        assert_int_equal(hvsock_listen(ctx, &a, 4, &l), 0);
        assert_int_equal(lstat(test_path("owner/run/local/5014"), &st), 0);
        assert_int_equal(st.st_uid, 0);
        assert_int_equal(st.st_gid, 65534);
        hvsock_listener_free(l);
        hvsock_ctx_free(ctx);
}

/* hvsock_listen() on ctx fails with err, and hvsock_ctx_last_error() names
 * path and also. */
static void assert_refused(struct hvsock_ctx *ctx, uint32_t port, int err, const char *path, const char *also) {
        struct hvsock_addr a = loopback(port);
        struct hvsock_listener *l = NULL;
        const char *msg;

        assert_int_equal(hvsock_listen(ctx, &a, 4, &l), err);
        assert_null(l);
        msg = hvsock_ctx_last_error(ctx);
        assert_non_null(msg);
        if (!strstr(msg, path) || !strstr(msg, also))
                fail_msg("'%s' does not name '%s' and '%s'", msg, path, also);
}

/* Runtime directories that others could fill with their own files are not
 * used, and the reason names them. */
static void test_unsafe_runtime_dir(void **state) {
        struct hvsock_ctx *ctx = ctx_at(test_path("unsafe/run"));
        struct hvsock_addr a = loopback(5015);
        struct hvsock_listener *l = NULL;

        /* A symlink planted where local/ goes: never followed. */
        assert_int_equal(mkdir(test_path("unsafe"), 0755), 0);
        assert_int_equal(mkdir(test_path("unsafe/run"), 0755), 0);
        assert_int_equal(mkdir(test_path("unsafe/elsewhere"), 0755), 0);
        assert_int_equal(symlink(test_path("unsafe/elsewhere"), test_path("unsafe/run/local")), 0);
        assert_refused(ctx, 5015, -ELOOP, test_path("unsafe/run/local"), "symbolic link");
        assert_int_equal(access(test_path("unsafe/elsewhere/5015"), F_OK), -1);
        assert_int_equal(unlink(test_path("unsafe/run/local")), 0);

        /* Writable by others, not sticky. */
        assert_int_equal(chmod(test_path("unsafe/run"), 0777), 0);
        assert_refused(ctx, 5015, -EPERM, test_path("unsafe/run"), "0777");
        assert_int_equal(chmod(test_path("unsafe/run"), 0755), 0);

        /* Fine again; a success leaves no message. */
        assert_int_equal(hvsock_listen(ctx, &a, 4, &l), 0);
        assert_null(hvsock_ctx_last_error(ctx));
        l = hvsock_listener_free(l);

        /* Another user's runtime dir. */
        if (geteuid() != 0) {
                hvsock_ctx_free(ctx);
                skip();
        }
        assert_int_equal(chown(test_path("unsafe/run"), 65534, 65534), 0);
        assert_refused(ctx, 5015, -EPERM, test_path("unsafe/run"), "uid 65534");
        hvsock_ctx_free(ctx);
}

/* A second listener whose runtime dir is spelled another way (trailing
 * slash, "x/../x", a symlinked parent) reaches the same socket file: it is
 * refused at once, and the first keeps its clients. */
static void test_inuse_any_spelling(void **state) {
        const char *run = getenv("HVSOCK_RUNTIME_DIR");
        struct hvsock_addr a = loopback(5016);
        struct hvsock_listener *l = NULL, *l2 = NULL;
        char spelling[3][512];

        snprintf(spelling[0], sizeof(spelling[0]), "%s/", run);
        snprintf(spelling[1], sizeof(spelling[1]), "%s/../run", run);
        snprintf(spelling[2], sizeof(spelling[2]), "%s/run", test_path("alias"));
        assert_int_equal(symlink(test_path(""), test_path("alias")), 0);
        assert_int_equal(hvsock_listen(NULL, &a, 16, &l), 0);
        for (size_t i = 0; i < ELEMENTSOF(spelling); i++) {
                struct hvsock_ctx *ctx = ctx_at(spelling[i]);

                assert_int_equal(hvsock_listen(ctx, &a, 16, &l2), -EADDRINUSE);
                assert_null(l2);
                hvsock_ctx_free(ctx);
                assert_serves(l, &a);
        }
        hvsock_listener_free(l);
}

#define TAKERS 8

/* Several listeners racing to take over one stale socket file: exactly one
 * wins. The winners keep listening until the parent has counted. */
static void test_stale_takeover_race(void **state) {
        struct hvsock_addr a = loopback(5012);
        char path[512];

        assert_int_equal(hvsock__local_path(getenv("HVSOCK_RUNTIME_DIR"), 5012, path, sizeof(path)), 0);
        for (int round = 0; round < 20; round++) {
                int results[2], go[2], wins = 0;
                pid_t pids[TAKERS];
                _cleanup_close_ int fd = -1;

                make_stale_socket(path);
                assert_int_equal(pipe(results), 0);
                assert_int_equal(pipe(go), 0);
                for (int i = 0; i < TAKERS; i++) {
                        pids[i] = fork();
                        assert_true(pids[i] >= 0);
                        if (pids[i] == 0) {
                                struct hvsock_listener *l = NULL;
                                char c = hvsock_listen(NULL, &a, 16, &l) == 0 ? 'y' : 'n';

                                close(go[1]);
                                if (write(results[1], &c, 1) != 1)
                                        _exit(1);
                                /* Until the parent closes its end. */
                                if (read(go[0], &c, 1) != 0)
                                        _exit(1);
                                hvsock_listener_free(l);
                                _exit(0);
                        }
                }
                close(results[1]);
                close(go[0]);
                for (int i = 0; i < TAKERS; i++) {
                        char c = 0;
                        assert_int_equal(read(results[0], &c, 1), 1);
                        wins += c == 'y';
                }
                close(results[0]);
                assert_int_equal(wins, 1);
                fd = hvsock_connect(NULL, &a, 2000);
                assert_true(fd >= 0);
                close(go[1]);
                for (int i = 0; i < TAKERS; i++) {
                        int status;
                        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
                        assert_true(WIFEXITED(status));
                        assert_int_equal(WEXITSTATUS(status), 0);
                }
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_echo_64mib),
                cmocka_unit_test(test_half_close),
                cmocka_unit_test(test_refused),
                cmocka_unit_test(test_bad_timeout),
                cmocka_unit_test(test_connect_timeout),
                cmocka_unit_test(test_peer_address),
                cmocka_unit_test(test_stale_and_inuse),
                cmocka_unit_test(test_blocking_cloexec),
                cmocka_unit_test(test_no_timeout_left_behind),
                cmocka_unit_test(test_unnamed_client),
                cmocka_unit_test(test_not_a_socket),
                cmocka_unit_test(test_stale_takeover_race),
                cmocka_unit_test(test_modes),
                cmocka_unit_test(test_socket_owner),
                cmocka_unit_test(test_unsafe_runtime_dir),
                cmocka_unit_test(test_inuse_any_spelling),
        };

        test_setup_env(120);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
