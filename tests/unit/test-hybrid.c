/* SPDX-License-Identifier: MIT */
/*
 * The hybrid transport against an in-test muxer that behaves like
 * Firecracker's: a UNIX listener at the VM's socket path that reads
 * "CONNECT <port>\n" and answers "OK <host port>\n" or closes silently.
 */
#include <errno.h>
#include <poll.h>
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
#include <unistd.h>

#include <cmocka.h>

#include <hvsock/hvsock.h>

#include "transport.h"
#include "test-net.h"
#include "test-util.h"

#define VM_ID "6a1f3c52-7d0e-4b8a-9f11-2c3d4e5f6a7b"
#define APP_DATA "SSH-2.0-guest-banner\r\n"

enum muxer_mode {
        MUXER_OK_WITH_DATA, /* "OK 1073741824\n" and app bytes in one write, then echo */
        MUXER_CLOSE,        /* silent close: nothing listens in the guest */
        MUXER_SILENT,       /* never answers, holds the connection until the client leaves */
        MUXER_GARBAGE,      /* answers something that is not an OK line */
};

struct muxer {
        struct unix_listener listen;
        enum muxer_mode mode;
        char line[64]; /* the CONNECT line received */
};

/* Reads one line byte by byte, like a muxer that leaves the payload alone. */
static int read_line(int fd, char *buf, size_t size) {
        size_t n = 0;

        while (n + 1 < size) {
                char c;
                ssize_t k = read(fd, &c, 1);
                if (k <= 0)
                        return -1;
                buf[n++] = c;
                if (c == '\n')
                        break;
        }
        buf[n] = '\0';
        return 0;
}

static void drain_to_eof(int fd) {
        char buf[256];

        while (read(fd, buf, sizeof(buf)) > 0)
                ;
}

static void echo_to_eof(int fd) {
        char buf[4096];
        ssize_t n;

        while ((n = read(fd, buf, sizeof(buf))) > 0)
                if (write_all(fd, buf, (size_t) n) < 0)
                        return;
}

static void *muxer_main(void *arg) {
        static const char ok_and_data[] = "OK 1073741824\n" APP_DATA;
        struct muxer *m = arg;
        _cleanup_close_ int fd = -1;

        if (fd_wait(m->listen.fd, POLLIN, 10000) <= 0)
                abort();
        fd = accept4(m->listen.fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0 || read_line(fd, m->line, sizeof(m->line)) < 0)
                abort();
        switch (m->mode) {
        case MUXER_OK_WITH_DATA:
                /* One write: the reply and the guest's first bytes arrive together,
                 * which is what a byte-by-byte reader has to cope with. */
                if (write_all(fd, ok_and_data, sizeof(ok_and_data) - 1) < 0)
                        abort();
                echo_to_eof(fd);
                break;
        case MUXER_CLOSE:
                break;
        case MUXER_SILENT:
                drain_to_eof(fd);
                break;
        case MUXER_GARBAGE:
                if (write_all(fd, "ERROR 5\n", 8) < 0)
                        abort();
                drain_to_eof(fd);
                break;
        }
        return NULL;
}

static const char *vm_uds(void) {
        return test_path("vm1.sock");
}

static int group_setup(void **state) {
        const struct test_vm vm = { .name = "vm1", .id = VM_ID, .uds = vm_uds() };

        register_vm(&vm);
        return 0;
}

static struct hvsock_addr vm_addr(uint32_t port) {
        struct hvsock_guid vm, service;
        struct hvsock_addr a;

        assert_int_equal(hvsock_guid_parse(VM_ID, &vm), 0);
        assert_int_equal(hvsock_guid_from_port(port, &service), 0);
        hvsock_addr_init(&a, &vm, &service);
        return a;
}

/* Starts a muxer in mode at the VM's socket. */
static void muxer_start(struct muxer *m, enum muxer_mode mode, pthread_t *ret) {
        memset(m, 0, sizeof(*m));
        m->mode = mode;
        assert_int_equal(unix_listen(vm_uds(), 8, NULL, &m->listen, NULL), 0);
        assert_int_equal(pthread_create(ret, NULL, muxer_main, m), 0);
}

static void muxer_stop(struct muxer *m, pthread_t t) {
        pthread_join(t, NULL);
        unix_listener_close(&m->listen);
}

static void test_connect_ok_with_data(void **state) {
        struct hvsock_addr a = vm_addr(5000);
        _cleanup_close_ int fd = -1;
        struct muxer m;
        pthread_t t;
        char buf[64];

        muxer_start(&m, MUXER_OK_WITH_DATA, &t);
        fd = hvsock_connect(NULL, &a, 2000);
        assert_true(fd >= 0);
        assert_fd_blocking_cloexec(fd);
        /* The bytes that came in the same segment as the OK line are the
         * application's, intact and first. */
        memset(buf, 0, sizeof(buf));
        assert_int_equal(read_exact(fd, buf, strlen(APP_DATA)), 0);
        assert_string_equal(buf, APP_DATA);
        /* And the stream is raw both ways from then on. */
        assert_int_equal(write_all(fd, "ping", 4), 0);
        memset(buf, 0, sizeof(buf));
        assert_int_equal(read_exact(fd, buf, 4), 0);
        assert_string_equal(buf, "ping");
        assert_int_equal(shutdown(fd, SHUT_WR), 0);
        assert_int_equal(read(fd, buf, sizeof(buf)), 0);
        muxer_stop(&m, t);
        assert_string_equal(m.line, "CONNECT 5000\n");
}

static void test_host_port_reported(void **state) {
        struct muxer m;
        pthread_t t;
        uint32_t host_port = 0;
        int fd;

        muxer_start(&m, MUXER_OK_WITH_DATA, &t);
        fd = hvsock__hybrid_connect(vm_uds(), 4294967295u, 2000, &host_port);
        assert_true(fd >= 0);
        assert_int_equal(host_port, 1073741824u);
        close(fd);
        muxer_stop(&m, t);
        assert_string_equal(m.line, "CONNECT 4294967295\n");
}

static void test_connect_refused(void **state) {
        struct hvsock_addr a = vm_addr(5001);
        struct muxer m;
        pthread_t t;

        muxer_start(&m, MUXER_CLOSE, &t);
        assert_int_equal(hvsock_connect(NULL, &a, HVSOCK_CONNECT_TIMEOUT_MAX), -ECONNREFUSED);
        muxer_stop(&m, t);
        assert_string_equal(m.line, "CONNECT 5001\n");
        /* No muxer at all (the VM is not running): refused too. */
        assert_int_equal(hvsock_connect(NULL, &a, HVSOCK_CONNECT_TIMEOUT_MAX), -ECONNREFUSED);
}

static void test_connect_timeout(void **state) {
        struct hvsock_addr a = vm_addr(5002);
        struct muxer m;
        pthread_t t;

        muxer_start(&m, MUXER_SILENT, &t);
        assert_int_equal(hvsock_connect(NULL, &a, 300), -ETIMEDOUT);
        muxer_stop(&m, t);
}

static void test_connect_garbage(void **state) {
        struct hvsock_addr a = vm_addr(5003);
        struct muxer m;
        pthread_t t;

        muxer_start(&m, MUXER_GARBAGE, &t);
        assert_int_equal(hvsock_connect(NULL, &a, 2000), -HVSOCK_E_PROTOCOL);
        muxer_stop(&m, t);
}

static void test_listen(void **state) {
        struct hvsock_addr a = vm_addr(7000), peer, sentinel;
        struct hvsock_listener *l = NULL;
        _cleanup_close_ int guest = -1, s = -1;
        struct sockaddr_un sa;
        socklen_t len;
        char path[512], buf[8] = { 0 };
        struct stat st;

        assert_int_equal(hvsock_listen(NULL, &a, 8, &l), 0);
        snprintf(path, sizeof(path), "%s_7000", vm_uds());
        assert_int_equal(stat(path, &st), 0);
        assert_true(S_ISSOCK(st.st_mode));

        memset(&peer, 0x5a, sizeof(peer));
        sentinel = peer;
        assert_int_equal(hvsock_accept(l, 0, &peer), -EAGAIN);
        assert_memory_equal(&peer, &sentinel, sizeof(peer));

        /* The muxer forwarding a guest's connect to host port 7000. */
        guest = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(guest >= 0);
        assert_int_equal(sockaddr_un_set(&sa, &len, path), 0);
        assert_int_equal(connect(guest, (struct sockaddr *) &sa, len), 0);
        assert_int_equal(write_all(guest, "hi", 2), 0);

        s = hvsock_accept(l, 2000, &peer);
        assert_true(s >= 0);
        assert_fd_blocking_cloexec(s);
        assert_true(hvsock_guid_equal(&peer.vm_id, &a.vm_id));
        assert_true(hvsock_guid_is_zero(&peer.service_id));
        assert_int_equal(read_exact(s, buf, 2), 0);
        assert_string_equal(buf, "hi");

        hvsock_listener_free(l);
        assert_int_equal(stat(path, &st), -1);
}

static void test_path_too_long(void **state) {
        struct unix_listener ul;
        char uds[200];
        char buf[256];

        /* 107 bytes fit sun_path; "_<port>" pushes it over, and that is an
         * error, never a truncated path. */
        memset(uds, 'a', 107);
        uds[0] = '/';
        uds[107] = '\0';
        assert_int_equal(hvsock__hybrid_listen(uds, 7000, 8, NULL, &ul, NULL), -ENAMETOOLONG);
        assert_int_equal(hvsock__hybrid_connect("/nonexistent/x", 1, 100, NULL), -ECONNREFUSED);
        memset(uds, 'a', sizeof(uds) - 1);
        uds[0] = '/';
        uds[sizeof(uds) - 1] = '\0';
        assert_int_equal(hvsock__hybrid_connect(uds, 1, 100, NULL), -ENAMETOOLONG);
        assert_int_equal(hvsock__hybrid_listen_path(uds, 7000, buf, 100), -ENAMETOOLONG);
        assert_int_equal(hvsock__hybrid_listen_path("/run/vm.sock", 7000, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "/run/vm.sock_7000");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_connect_ok_with_data),
                cmocka_unit_test(test_host_port_reported),
                cmocka_unit_test(test_connect_refused),
                cmocka_unit_test(test_connect_timeout),
                cmocka_unit_test(test_connect_garbage),
                cmocka_unit_test(test_listen),
                cmocka_unit_test(test_path_too_long),
        };

        test_setup_env(60);
        return cmocka_run_group_tests(tests, group_setup, NULL);
}
