/* SPDX-License-Identifier: MIT */
/* Listeners that span several sockets, behind one pollable fd. */
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
#include <unistd.h>

#include <cmocka.h>

#include <hvsock/hvsock.h>

#include "transport.h"
#include "test-net.h"
#include "test-util.h"

static const struct test_vm vm1 = { .name = "fc1", .id = "0f0f0f0f-1111-4222-8333-444444444444" };
static const struct test_vm vm2 = { .name = "fc2", .id = "0e0e0e0e-1111-4222-8333-444444444444" };

static char vm1_uds[256], vm2_uds[256];

static int group_setup(void **state) {
        struct test_vm a = vm1, b = vm2;

        snprintf(vm1_uds, sizeof(vm1_uds), "%s", test_path("fc1.sock"));
        snprintf(vm2_uds, sizeof(vm2_uds), "%s", test_path("fc2.sock"));
        a.uds = vm1_uds;
        b.uds = vm2_uds;
        register_vm(&a);
        register_vm(&b);
        return 0;
}

static struct hvsock_addr bind_addr(const struct hvsock_guid *vm, uint32_t port) {
        struct hvsock_addr a;
        struct hvsock_guid s;

        assert_int_equal(hvsock_guid_from_port(port, &s), 0);
        hvsock_addr_init(&a, vm, &s);
        return a;
}

static struct hvsock_guid guid(const char *s) {
        struct hvsock_guid g;

        assert_int_equal(hvsock_guid_parse(s, &g), 0);
        return g;
}

/* What the hybrid muxer does for a guest connecting to host port: connect
 * to "<uds>_<port>". */
static int muxer_forward(const char *uds, uint32_t port) {
        char path[512];
        struct sockaddr_un sa;
        socklen_t len;
        int fd;

        snprintf(path, sizeof(path), "%s_%u", uds, port);
        assert_int_equal(sockaddr_un_set(&sa, &len, path), 0);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(connect(fd, (struct sockaddr *) &sa, len), 0);
        return fd;
}

static bool path_exists(const char *fmt, const char *dir, uint32_t port) {
        char path[512];

        snprintf(path, sizeof(path), fmt, dir, port);
        return access(path, F_OK) == 0;
}

static void test_zero_spans_everything(void **state) {
        struct hvsock_addr a = bind_addr(&HVSOCK_GUID_ZERO, 8000), la = bind_addr(&HVSOCK_GUID_LOOPBACK, 8000);
        struct hvsock_guid id1 = guid(vm1.id), id2 = guid(vm2.id);
        struct hvsock_listener *l = NULL;
        const char *run = getenv("HVSOCK_RUNTIME_DIR");
        int clients[3], servers[3];
        bool seen_local = false, seen1 = false, seen2 = false;
        struct pollfd p;

        assert_int_equal(hvsock_listen(NULL, &a, 8, &l), 0);
        assert_true(path_exists("%s/local/%u", run, 8000));
        assert_true(path_exists("%s_%u", vm1_uds, 8000));
        assert_true(path_exists("%s_%u", vm2_uds, 8000));

        p = (struct pollfd) { .fd = hvsock_listener_fd(l), .events = POLLIN };
        assert_int_equal(poll(&p, 1, 0), 0);

        clients[0] = hvsock_connect(NULL, &la, 1000);
        assert_true(clients[0] >= 0);
        clients[1] = muxer_forward(vm1_uds, 8000);
        clients[2] = muxer_forward(vm2_uds, 8000);

        for (int i = 0; i < 3; i++) {
                struct hvsock_addr peer;
                int fd, who = -1;

                /* The one fd says when there is something to accept. */
                assert_int_equal(poll(&p, 1, 2000), 1);
                assert_true(p.revents & POLLIN);
                fd = hvsock_accept(l, 0, &peer);
                assert_true(fd >= 0);
                assert_fd_blocking_cloexec(fd);
                if (hvsock_guid_equal(&peer.vm_id, &HVSOCK_GUID_LOOPBACK)) {
                        assert_true(hvsock_guid_is_vsock_template(&peer.service_id));
                        assert_false(seen_local);
                        seen_local = true;
                        who = 0;
                } else if (hvsock_guid_equal(&peer.vm_id, &id1)) {
                        assert_true(hvsock_guid_is_zero(&peer.service_id));
                        assert_false(seen1);
                        seen1 = true;
                        who = 1;
                } else if (hvsock_guid_equal(&peer.vm_id, &id2)) {
                        assert_true(hvsock_guid_is_zero(&peer.service_id));
                        assert_false(seen2);
                        seen2 = true;
                        who = 2;
                } else
                        fail_msg("unexpected peer VM ID");
                assert_true(who >= 0);
                servers[who] = fd;
        }
        assert_true(seen_local && seen1 && seen2);
        assert_int_equal(hvsock_accept(l, 0, NULL), -EAGAIN);
        assert_int_equal(poll(&p, 1, 0), 0);

        /* Data goes straight through: each accepted fd is its client's peer,
         * as the reported address says. */
        for (int i = 0; i < 3; i++) {
                char c = (char) ('a' + i), got = 0;

                assert_int_equal(write_all(clients[i], &c, 1), 0);
                assert_int_equal(read_exact(servers[i], &got, 1), 0);
                assert_int_equal(got, c);
                close(servers[i]);
                close(clients[i]);
        }

        hvsock_listener_free(l);
        assert_false(path_exists("%s/local/%u", run, 8000));
        assert_false(path_exists("%s_%u", vm1_uds, 8000));
        assert_false(path_exists("%s_%u", vm2_uds, 8000));
}

static void test_accept_timeouts(void **state) {
        struct hvsock_addr a = bind_addr(&HVSOCK_GUID_ZERO, 8001), peer, sentinel;
        struct hvsock_listener *l = NULL;

        assert_int_equal(hvsock_listen(NULL, &a, 8, &l), 0);
        memset(&peer, 0x5a, sizeof(peer));
        sentinel = peer;
        assert_int_equal(hvsock_accept(l, 0, &peer), -EAGAIN);
        assert_int_equal(hvsock_accept(l, 200, &peer), -ETIMEDOUT);
        assert_int_equal(hvsock_accept(l, -2, &peer), -EINVAL);
        assert_memory_equal(&peer, &sentinel, sizeof(peer));
        hvsock_listener_free(l);
}

static void *late_connect(void *arg) {
        struct hvsock_addr *a = arg;
        int fd;

        usleep(100 * 1000);
        fd = hvsock_connect(NULL, a, 1000);
        if (fd < 0)
                abort();
        /* Handed to the main thread through the return value. */
        return (void *) (intptr_t) fd;
}

static void test_accept_waits(void **state) {
        struct hvsock_addr a = bind_addr(&HVSOCK_GUID_LOOPBACK, 8002);
        struct hvsock_listener *l = NULL;
        pthread_t t;
        void *res;
        int s;

        assert_int_equal(hvsock_listen(NULL, &a, 8, &l), 0);
        assert_int_equal(pthread_create(&t, NULL, late_connect, &a), 0);
        /* -1: waits as long as it takes (the test alarm bounds it). */
        s = hvsock_accept(l, -1, NULL);
        assert_true(s >= 0);
        pthread_join(t, &res);
        close((int) (intptr_t) res);
        close(s);
        hvsock_listener_free(l);
}

static void test_bind_scopes(void **state) {
        const char *run = getenv("HVSOCK_RUNTIME_DIR");
        struct hvsock_guid id1 = guid(vm1.id);
        struct hvsock_listener *l = NULL;
        struct hvsock_addr a, peer;
        struct hvsock_ctx *ctx = NULL;
        int c, s;

        /* CHILDREN: the VMs, not the local transport. */
        a = bind_addr(&HVSOCK_GUID_CHILDREN, 8003);
        assert_int_equal(hvsock_listen(NULL, &a, 8, &l), 0);
        assert_false(path_exists("%s/local/%u", run, 8003));
        assert_true(path_exists("%s_%u", vm1_uds, 8003));
        assert_true(path_exists("%s_%u", vm2_uds, 8003));
        l = hvsock_listener_free(l);

        /* LOOPBACK: only the local transport (no kernel vsock in tests). */
        a = bind_addr(&HVSOCK_GUID_LOOPBACK, 8004);
        assert_int_equal(hvsock_listen(NULL, &a, 8, &l), 0);
        assert_true(path_exists("%s/local/%u", run, 8004));
        assert_false(path_exists("%s_%u", vm1_uds, 8004));
        l = hvsock_listener_free(l);

        /* One VM: only its "<uds>_<port>", and peers carry its ID. */
        a = bind_addr(&id1, 8005);
        assert_int_equal(hvsock_listen(NULL, &a, 8, &l), 0);
        assert_true(path_exists("%s_%u", vm1_uds, 8005));
        assert_false(path_exists("%s_%u", vm2_uds, 8005));
        assert_false(path_exists("%s/local/%u", run, 8005));
        c = muxer_forward(vm1_uds, 8005);
        s = hvsock_accept(l, 2000, &peer);
        assert_true(s >= 0);
        assert_true(hvsock_guid_equal(&peer.vm_id, &id1));
        close(s);
        close(c);
        l = hvsock_listener_free(l);

        /* CHILDREN with only the local transport enabled: nothing to listen on. */
        assert_int_equal(hvsock_ctx_new(&ctx), 0);
        assert_int_equal(hvsock_ctx_set_transports(ctx, HVSOCK_TRANSPORT_LOCAL), 0);
        a = bind_addr(&HVSOCK_GUID_CHILDREN, 8006);
        assert_int_equal(hvsock_listen(ctx, &a, 8, &l), -HVSOCK_E_NO_TRANSPORT);
        assert_false(path_exists("%s/local/%u", run, 8006));
        hvsock_ctx_free(ctx);
}

static void test_partial_failure_cleans_up(void **state) {
        struct hvsock_addr a = bind_addr(&HVSOCK_GUID_ZERO, 8007);
        struct hvsock_listener *l = NULL, *l2 = NULL;
        const char *run = getenv("HVSOCK_RUNTIME_DIR");
        struct hvsock_guid id2 = guid(vm2.id);
        struct hvsock_addr b = bind_addr(&id2, 8007);

        /* Somebody already listens for VM 2 on that port: the ZERO bind fails
         * as a whole and leaves none of its own socket files behind. */
        assert_int_equal(hvsock_listen(NULL, &b, 8, &l2), 0);
        assert_int_equal(hvsock_listen(NULL, &a, 8, &l), -EADDRINUSE);
        assert_null(l);
        assert_false(path_exists("%s/local/%u", run, 8007));
        assert_false(path_exists("%s_%u", vm1_uds, 8007));
        assert_true(path_exists("%s_%u", vm2_uds, 8007));
        hvsock_listener_free(l2);
}

/* A VM that is not started yet (its socket directory does not exist) does
 * not keep a ZERO bind from serving everything else; binding that VM alone
 * still reports the error. */
static void test_zero_skips_absent_vm(void **state) {
        struct test_vm ghost = { .name = "ghost", .id = "0d0d0d0d-1111-4222-8333-444444444444" };
        struct hvsock_guid gid = guid(ghost.id);
        struct hvsock_addr a = bind_addr(&HVSOCK_GUID_ZERO, 8009), g = bind_addr(&gid, 8009);
        struct hvsock_listener *l = NULL;
        char uds[256];

        snprintf(uds, sizeof(uds), "%s", test_path("not-started/ghost.sock"));
        ghost.uds = uds;
        register_vm(&ghost);
        assert_int_equal(hvsock_listen(NULL, &a, 8, &l), 0);
        assert_true(path_exists("%s_%u", vm1_uds, 8009));
        assert_false(path_exists("%s_%u", uds, 8009));
        hvsock_listener_free(l);
        l = NULL;
        assert_int_equal(hvsock_listen(NULL, &g, 8, &l), -ENOENT);
        assert_null(l);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_zero_spans_everything),
                cmocka_unit_test(test_accept_timeouts),
                cmocka_unit_test(test_accept_waits),
                cmocka_unit_test(test_bind_scopes),
                cmocka_unit_test(test_partial_failure_cleans_up),
                cmocka_unit_test(test_zero_skips_absent_vm),
        };

        test_setup_env(60);
        return cmocka_run_group_tests(tests, group_setup, NULL);
}
