/* SPDX-License-Identifier: MIT */
/* The vsock device driven by a fake guest in memfd memory: packets, chain
 * layouts, refusals, hostile rings and credit. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <hvsock/hvsock.h>

#include "ev.h"
#include "fake-guest.h"
#include "fd-util.h"
#include "macro.h"
#include "registry.h"
#include "socket-util.h"
#include "test-util.h"
#include "time-util.h"
#include "transport.h"
#include "vsock.h"

#define CID 42
#define PORT_OK 5000
#define PORT_DISABLED 5001
#define PORT_UNREGISTERED 6000

static const char *tmpdir;

struct fixture {
        struct fake_guest g;
        struct ev_loop loop;
        struct vsock_dev *dev;
        struct unix_listener listen; /* the host service at <uds>_PORT_OK */
};

static int add_services(struct hvsock_registry *r, void *userdata, char **ret_error) {
        struct hvsock_guid id;
        int k;

        hvsock_guid_from_port(PORT_OK, &id);
        k = hvsock__registry_add_service(r, &id, "echo", PORT_OK, NULL);
        if (k < 0)
                return k;
        hvsock_guid_from_port(PORT_DISABLED, &id);
        k = hvsock__registry_add_service(r, &id, "off", PORT_DISABLED, NULL);
        if (k < 0)
                return k;
        hvsock__registry_find_service(r, &id)->enabled = false;
        return 0;
}

/* The line, connect and shutdown timeout (--timeout): short, so the tests
 * that wait for it are quick, and well below the 2 s default, so that they
 * fail if the device ignored it. */
#define TIMEOUT_MS 300

static int setup_limit(void **state, unsigned max_connections) {
        static struct fixture f;
        struct vsock_dev_config cfg = {
                .guest_cid = CID,
                .uds_path = test_path("vsock.sock"),
                .config_dir = getenv("HVSOCK_CONFIG_DIR"),
                .max_connections = max_connections,
                .tx_buffer_size = 4096,
                .max_pending_clients = 2,
                .timeout_ms = TIMEOUT_MS,
        };

        memset(&f, 0, sizeof(f));
        fg_init(&f.g, CID, true);
        assert_int_equal(ev_loop_init(&f.loop), 0);
        assert_int_equal(vsock_dev_new(&cfg, &f.loop, &f.g.rx, &f.g.tx, &f.dev), 0);
        assert_int_equal(hvsock__hybrid_listen(cfg.uds_path, PORT_OK, 8, NULL, &f.listen, NULL), 0);
        *state = &f;
        return 0;
}

static int setup(void **state) {
        return setup_limit(state, 4);
}

/* Room for many connections, still only 2 host clients reading their line. */
static int setup_many(void **state) {
        return setup_limit(state, 64);
}

static int teardown(void **state) {
        struct fixture *f = *state;

        f->dev = vsock_dev_free(f->dev);
        unix_listener_close(&f->listen);
        ev_loop_done(&f->loop);
        fg_done(&f->g);
        return 0;
}

static void run(struct fixture *f) {
        vsock_dev_process_tx(f->dev);
        while (ev_run_once(&f->loop, 0) > 0)
                vsock_dev_notify(f->dev);
        vsock_dev_notify(f->dev);
        vsock_dev_gc(f->dev);
}

static void expect_op(struct fixture *f, uint16_t op, uint32_t guest_port, uint32_t host_port,
                      struct vsock_hdr *ret) {
        struct vsock_hdr h;

        assert_int_equal(fg_recv(&f->g, &h, NULL, 0), 1);
        assert_int_equal(h.op, op);
        assert_int_equal(h.src_cid, VSOCK_CID_HOST);
        assert_int_equal(h.dst_cid, CID);
        assert_int_equal(h.dst_port, guest_port);
        assert_int_equal(h.src_port, host_port);
        assert_int_equal(h.type, VSOCK_TYPE_STREAM);
        if (ret)
                *ret = h;
}

/* Connects guest port gp to PORT_OK and returns the host's accepted fd. */
static int connect_ok(struct fixture *f, uint32_t gp) {
        struct vsock_hdr h = fg_hdr(&f->g, gp, PORT_OK, VSOCK_OP_REQUEST, 0);
        int fd;

        fg_send(&f->g, &h, NULL, FG_ONE_DESC);
        run(f);
        expect_op(f, VSOCK_OP_RESPONSE, gp, PORT_OK, &h);
        assert_int_equal(h.buf_alloc, 4096);
        fd = hvsock__unix_accept(f->listen.fd);
        assert_true(fd >= 0);
        return fd;
}

static void test_layouts(void **state) {
        struct fixture *f = *state;
        static const char msg[] = "hello from the guest, in pieces";
        enum fg_layout layouts[] = { FG_HDR_THEN_PAYLOAD, FG_ONE_DESC, FG_SCATTERED };
        _cleanup_close_ int fd = -1;

        fg_post_rx(&f->g, 16, 4096);
        fd = connect_ok(f, 1024);
        assert_int_equal(vsock_dev_connections(f->dev), 1);
        for (size_t i = 0; i < ELEMENTSOF(layouts); i++) {
                struct vsock_hdr h = fg_hdr(&f->g, 1024, PORT_OK, VSOCK_OP_RW, sizeof(msg));
                char buf[sizeof(msg)];

                fg_send(&f->g, &h, msg, layouts[i]);
                run(f);
                assert_int_equal(read_exact(fd, buf, sizeof(buf)), 0);
                assert_memory_equal(buf, msg, sizeof(msg));
        }
        /* Every tx chain came back, with length 0 (the device wrote nothing). */
        assert_int_equal(fg_tx_used(&f->g), 4);
        assert_int_equal(fg_tx_used_len(&f->g, 3), 0);
}

static void test_host_to_guest_and_credit(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int fd = -1;
        static char big[10000];
        char got[4096];
        struct vsock_hdr h;
        uint32_t total = 0;

        memset(big, 'x', sizeof(big));
        fg_post_rx(&f->g, 32, 1024);
        {
                struct vsock_hdr req = fg_hdr(&f->g, 7, PORT_OK, VSOCK_OP_REQUEST, 0);
                req.buf_alloc = 3000; /* the guest can take 3000 bytes for now */
                fg_send(&f->g, &req, NULL, FG_ONE_DESC);
                run(f);
                expect_op(f, VSOCK_OP_RESPONSE, 7, PORT_OK, NULL);
                fd = hvsock__unix_accept(f->listen.fd);
                assert_true(fd >= 0);
        }
        assert_int_equal(write(fd, big, sizeof(big)), (ssize_t) sizeof(big));
        run(f);
        while (fg_recv(&f->g, &h, got, sizeof(got)) == 1) {
                assert_int_equal(h.op, VSOCK_OP_RW);
                assert_true(h.len <= 1024 - VSOCK_HDR_SIZE);
                total += h.len;
        }
        /* Never more than the guest's credit. */
        assert_int_equal(total, 3000);

        /* The guest consumed everything: 3000 more. */
        h = fg_hdr(&f->g, 7, PORT_OK, VSOCK_OP_CREDIT_UPDATE, 0);
        h.buf_alloc = 3000;
        h.fwd_cnt = 3000;
        fg_send(&f->g, &h, NULL, FG_ONE_DESC);
        run(f);
        while (fg_recv(&f->g, &h, got, sizeof(got)) == 1)
                total += h.len;
        assert_int_equal(total, 6000);

        /* CREDIT_REQUEST is answered with our buffer and what we forwarded. */
        h = fg_hdr(&f->g, 7, PORT_OK, VSOCK_OP_CREDIT_REQUEST, 0);
        h.buf_alloc = 3000;
        h.fwd_cnt = 3000; /* no new credit */
        fg_send(&f->g, &h, NULL, FG_ONE_DESC);
        run(f);
        expect_op(f, VSOCK_OP_CREDIT_UPDATE, 7, PORT_OK, &h);
        assert_int_equal(h.buf_alloc, 4096);
        assert_int_equal(h.fwd_cnt, 0);
}

static void test_guest_exceeds_credit(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int fd = -1;
        static char big[60000];
        int small = 4096;
        struct vsock_hdr h;

        fg_post_rx(&f->g, 16, 4096);
        fd = connect_ok(f, 9);
        /* Fill the host socket so the device has to buffer, then send more
         * than the 4096 bytes of credit we gave. */
        assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
        for (int i = 0; i < 40 && vsock_dev_connections(f->dev) == 1; i++) {
                h = fg_hdr(&f->g, 9, PORT_OK, VSOCK_OP_RW, sizeof(big));
                fg_send(&f->g, &h, big, FG_HDR_THEN_PAYLOAD);
                run(f);
        }
        assert_int_equal(vsock_dev_connections(f->dev), 0);
        while (fg_recv(&f->g, &h, NULL, 0) == 1 && h.op != VSOCK_OP_RST)
                ;
        assert_int_equal(h.op, VSOCK_OP_RST);
        assert_int_equal(h.dst_port, 9);
}

static void test_refusals(void **state) {
        struct fixture *f = *state;
        struct vsock_hdr h;

        fg_post_rx(&f->g, 16, 4096);
        h = fg_hdr(&f->g, 100, PORT_UNREGISTERED, VSOCK_OP_REQUEST, 0);
        fg_send(&f->g, &h, NULL, FG_ONE_DESC);
        h = fg_hdr(&f->g, 101, PORT_DISABLED, VSOCK_OP_REQUEST, 0);
        fg_send(&f->g, &h, NULL, FG_ONE_DESC);
        run(f);
        expect_op(f, VSOCK_OP_RST, 100, PORT_UNREGISTERED, NULL);
        expect_op(f, VSOCK_OP_RST, 101, PORT_DISABLED, NULL);
        assert_int_equal(vsock_dev_stats(f->dev)->refused, 2);
        assert_int_equal(vsock_dev_connections(f->dev), 0);
        /* Nothing may have reached the host service. */
        assert_int_equal(hvsock__unix_accept(f->listen.fd), -EAGAIN);
}

static void test_wrong_cid_dropped(void **state) {
        struct fixture *f = *state;
        struct vsock_hdr h;

        fg_post_rx(&f->g, 4, 4096);
        h = fg_hdr(&f->g, 100, PORT_OK, VSOCK_OP_REQUEST, 0);
        h.src_cid = CID + 1;
        fg_send(&f->g, &h, NULL, FG_ONE_DESC);
        h.src_cid = CID | (1ull << 32);
        fg_send(&f->g, &h, NULL, FG_ONE_DESC);
        run(f);
        assert_int_equal(fg_recv(&f->g, &h, NULL, 0), 0);
        assert_int_equal(vsock_dev_stats(f->dev)->dropped_cid, 2);
        assert_int_equal(hvsock__unix_accept(f->listen.fd), -EAGAIN);
}

static void test_unknown_op_and_type(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int fd = -1;
        struct vsock_hdr h;
        char c;

        fg_post_rx(&f->g, 16, 4096);
        h = fg_hdr(&f->g, 200, PORT_OK, VSOCK_OP_REQUEST, 0);
        h.type = 2; /* SEQPACKET: not offered */
        fg_send(&f->g, &h, NULL, FG_ONE_DESC);
        run(f);
        expect_op(f, VSOCK_OP_RST, 200, PORT_OK, NULL);

        fd = connect_ok(f, 201);
        h = fg_hdr(&f->g, 201, PORT_OK, 42, 0);
        fg_send(&f->g, &h, NULL, FG_ONE_DESC);
        run(f);
        expect_op(f, VSOCK_OP_RST, 201, PORT_OK, NULL);
        assert_int_equal(vsock_dev_connections(f->dev), 0);
        assert_int_equal(read(fd, &c, 1), 0); /* the host side was closed */

        /* A packet for no connection gets RST; an RST for none gets nothing. */
        h = fg_hdr(&f->g, 300, PORT_OK, VSOCK_OP_RW, 0);
        fg_send(&f->g, &h, NULL, FG_ONE_DESC);
        h = fg_hdr(&f->g, 301, PORT_OK, VSOCK_OP_RST, 0);
        fg_send(&f->g, &h, NULL, FG_ONE_DESC);
        run(f);
        expect_op(f, VSOCK_OP_RST, 300, PORT_OK, NULL);
        assert_int_equal(fg_recv(&f->g, &h, NULL, 0), 0);
}

static void test_bad_length_ends_connection(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int fd = -1;
        struct vsock_hdr h;

        fg_post_rx(&f->g, 16, 4096);
        fd = connect_ok(f, 400);
        /* Claims 1000 payload bytes, carries 10. */
        h = fg_hdr(&f->g, 400, PORT_OK, VSOCK_OP_RW, 10);
        fg_send(&f->g, &h, "0123456789", FG_ONE_DESC);
        h.len = 1000;
        {
                /* Rewrite the header in place with the lie. */
                uint16_t head = (uint16_t) ((f->g.ftx.next_desc - 1) % FG_NUM);
                uint64_t addr;
                uint8_t raw[VSOCK_HDR_SIZE];
                memcpy(&addr, f->g.mem + f->g.ftx.desc + 16u * head, 8);
                vsock_hdr_build(&h, raw);
                memcpy(fg_ptr(&f->g, addr), raw, sizeof(raw));
        }
        run(f);
        expect_op(f, VSOCK_OP_RST, 400, PORT_OK, NULL);
        assert_int_equal(vsock_dev_connections(f->dev), 0);
        assert_int_equal(vsock_dev_stats(f->dev)->dropped_malformed, 1);
}

static void test_hostile_chains(void **state) {
        struct fixture *f = *state;
        struct vsock_hdr h = fg_hdr(&f->g, 500, PORT_OK, VSOCK_OP_REQUEST, 0);
        uint64_t buf = fg_alloc(&f->g, VSOCK_HDR_SIZE);
        uint8_t raw[VSOCK_HDR_SIZE];

        fg_post_rx(&f->g, 8, 4096);
        vsock_hdr_build(&h, raw);
        memcpy(fg_ptr(&f->g, buf), raw, sizeof(raw));
        /* 1: outside guest memory. 2: crossing its end. 3: a loop 3 -> 4 -> 3.
         * 4: indirect (not negotiated). 5: head index out of range. */
        fg_set_desc(&f->g, &f->g.ftx, 10, 0x1000, 44, 0, 0);
        fg_publish(&f->g, &f->g.ftx, 10);
        fg_set_desc(&f->g, &f->g.ftx, 11, FG_GPA + FG_SIZE - 20, 44, 0, 0);
        fg_publish(&f->g, &f->g.ftx, 11);
        fg_set_desc(&f->g, &f->g.ftx, 12, buf, 44, VRING_DESC_F_NEXT, 13);
        fg_set_desc(&f->g, &f->g.ftx, 13, buf, 44, VRING_DESC_F_NEXT, 12);
        fg_publish(&f->g, &f->g.ftx, 12);
        fg_set_desc(&f->g, &f->g.ftx, 14, buf, 44, VRING_DESC_F_INDIRECT, 0);
        fg_publish(&f->g, &f->g.ftx, 14);
        fg_publish(&f->g, &f->g.ftx, FG_NUM + 5);
        /* 6: writable descriptor before a readable one. */
        fg_set_desc(&f->g, &f->g.ftx, 15, buf, 44, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 16);
        fg_set_desc(&f->g, &f->g.ftx, 16, buf, 44, 0, 0);
        fg_publish(&f->g, &f->g.ftx, 15);
        run(f);
        assert_int_equal(vsock_dev_stats(f->dev)->dropped_malformed, 6);
        assert_int_equal(hvsock__unix_accept(f->listen.fd), -EAGAIN);
        /* Five had a valid head and went back used; the device still works. */
        assert_int_equal(fg_tx_used(&f->g), 5);
        {
                _cleanup_close_ int fd = connect_ok(f, 501);
        }
}

static void test_avail_idx_runaway(void **state) {
        struct fixture *f = *state;
        uint8_t *avail = f->g.mem + f->g.ftx.avail;

        /* An avail index more than a queue ahead: the ring is broken. */
        avail[2] = 0x00;
        avail[3] = 0x10;
        run(f);
        assert_true(f->g.tx.broken);
}

static void test_host_connect(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int c = -1;
        struct vsock_hdr h;
        char line[64];
        ssize_t k;

        assert_int_equal(vsock_dev_listen(f->dev, NULL), 0);
        fg_post_rx(&f->g, 8, 4096);
        c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        {
                struct sockaddr_un sa;
                socklen_t len;
                assert_int_equal(sockaddr_un_set(&sa, &len, test_path("vsock.sock")), 0);
                assert_int_equal(connect(c, (struct sockaddr *) &sa, len), 0);
        }
        assert_int_equal(write(c, "connect 1234\nearly", 18), 18);
        run(f);
        expect_op(f, VSOCK_OP_REQUEST, 1234, 1u << 30, &h);
        h = fg_hdr(&f->g, 1234, 1u << 30, VSOCK_OP_RESPONSE, 0);
        fg_send(&f->g, &h, NULL, FG_ONE_DESC);
        run(f);
        k = read(c, line, 14);
        assert_int_equal(k, 14);
        assert_memory_equal(line, "OK 1073741824\n", 14);
        /* The bytes after the line were held back and arrive as data. */
        assert_int_equal(fg_recv(&f->g, &h, line, sizeof(line)), 1);
        assert_int_equal(h.op, VSOCK_OP_RW);
        assert_int_equal(h.len, 5);
        assert_memory_equal(line, "early", 5);

        /* A refused connect closes the client without a word. */
        {
                _cleanup_close_ int c2 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                struct sockaddr_un sa;
                socklen_t len;
                char ch;
                assert_int_equal(sockaddr_un_set(&sa, &len, test_path("vsock.sock")), 0);
                assert_int_equal(connect(c2, (struct sockaddr *) &sa, len), 0);
                assert_int_equal(write(c2, "CONNECT 99\n", 11), 11);
                run(f);
                expect_op(f, VSOCK_OP_REQUEST, 99, (1u << 30) + 1, NULL);
                h = fg_hdr(&f->g, 99, (1u << 30) + 1, VSOCK_OP_RST, 0);
                fg_send(&f->g, &h, NULL, FG_ONE_DESC);
                run(f);
                assert_int_equal(read(c2, &ch, 1), 0);
        }
        /* A malformed line: closed, nothing sent to the guest. */
        {
                _cleanup_close_ int c3 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                struct sockaddr_un sa;
                socklen_t len;
                char ch;
                assert_int_equal(sockaddr_un_set(&sa, &len, test_path("vsock.sock")), 0);
                assert_int_equal(connect(c3, (struct sockaddr *) &sa, len), 0);
                assert_int_equal(write(c3, "CONNECT x\n", 10), 10);
                run(f);
                /* EOF, or ECONNRESET: the '\n' was left unread at close. */
                k = read(c3, &ch, 1);
                assert_true(k == 0 || (k < 0 && errno == ECONNRESET));
                assert_int_equal(fg_recv(&f->g, &h, NULL, 0), 0);
        }
}

static void test_half_close(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int fd = -1;
        struct vsock_hdr h;
        char c;

        fg_post_rx(&f->g, 16, 4096);
        fd = connect_ok(f, 600);
        /* Guest will send no more: the host reads EOF but can still write. */
        h = fg_hdr(&f->g, 600, PORT_OK, VSOCK_OP_SHUTDOWN, 0);
        h.flags = VSOCK_SHUTDOWN_SEND;
        fg_send(&f->g, &h, NULL, FG_ONE_DESC);
        run(f);
        assert_int_equal(read(fd, &c, 1), 0);
        assert_int_equal(write(fd, "z", 1), 1);
        run(f);
        expect_op(f, VSOCK_OP_RW, 600, PORT_OK, &h);
        /* Host closes (both ways): SHUTDOWN(RCV|SEND) to the guest, then RST
         * ends it. */
        fd = safe_close(fd);
        run(f);
        expect_op(f, VSOCK_OP_SHUTDOWN, 600, PORT_OK, &h);
        assert_int_equal(h.flags, VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND);
        expect_op(f, VSOCK_OP_RST, 600, PORT_OK, NULL);
        assert_int_equal(vsock_dev_connections(f->dev), 0);
}

/* Runs the loop until cond holds or max_ms passed; returns cond. */
#define RUN_UNTIL(f, cond, max_ms)                                    \
        ({                                                            \
                uint64_t end_ = now_ms() + (max_ms);                  \
                while (!(cond) && now_ms() < end_) {                  \
                        (void) ev_run_once(&(f)->loop, 50);           \
                        vsock_dev_notify((f)->dev);                   \
                        vsock_dev_gc((f)->dev);                       \
                }                                                     \
                (cond);                                               \
        })

/* Connects a host client to the device's UDS; it says nothing yet. */
static int host_dial(void) {
        struct sockaddr_un sa;
        socklen_t len;
        int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(c >= 0);
        assert_int_equal(sockaddr_un_set(&sa, &len, test_path("vsock.sock")), 0);
        assert_int_equal(connect(c, (struct sockaddr *) &sa, len), 0);
        return c;
}

/* Connects a host client to the device's UDS and sends "CONNECT port". */
static int host_client(struct fixture *f, uint32_t port) {
        char line[32];
        int c = host_dial();
        int n = snprintf(line, sizeof(line), "CONNECT %u\n", port);

        assert_int_equal(write(c, line, (size_t) n), n);
        return c;
}

/* Whether the device closed host client c (EOF now, without waiting). */
static bool closed_by_device(int c) {
        char ch;

        return fd_wait(c, POLLIN, 0) > 0 && read(c, &ch, 1) == 0;
}

static void test_connect_timeout(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int answered = -1, ignored = -1;
        struct vsock_hdr h, req;
        char buf[32];

        assert_int_equal(vsock_dev_listen(f->dev, NULL), 0);
        fg_post_rx(&f->g, 16, 4096);
        answered = host_client(f, 1111);
        run(f);
        expect_op(f, VSOCK_OP_REQUEST, 1111, 1u << 30, &req);
        h = fg_hdr(&f->g, 1111, req.src_port, VSOCK_OP_RESPONSE, 0);
        fg_send(&f->g, &h, NULL, FG_ONE_DESC);
        run(f);
        assert_int_equal(read(answered, buf, 14), 14);
        assert_memory_equal(buf, "OK 1073741824\n", 14);

        /* The guest never answers this one: after the connect timeout the
         * client is closed without a word and the guest gets RST. */
        ignored = host_client(f, 2222);
        run(f);
        expect_op(f, VSOCK_OP_REQUEST, 2222, (1u << 30) + 1, &req);
        assert_int_equal(vsock_dev_connections(f->dev), 2);
        assert_true(RUN_UNTIL(f, vsock_dev_stats(f->dev)->timeouts == 1, 5000));
        assert_int_equal(read(ignored, buf, sizeof(buf)), 0);
        expect_op(f, VSOCK_OP_RST, 2222, (1u << 30) + 1, NULL);
        assert_int_equal(vsock_dev_connections(f->dev), 1);

        /* The answered one outlived the timeout and still carries data. */
        assert_int_equal(write(answered, "ping", 4), 4);
        run(f);
        assert_int_equal(fg_recv(&f->g, &h, buf, sizeof(buf)), 1);
        assert_int_equal(h.op, VSOCK_OP_RW);
        assert_int_equal(h.len, 4);
        assert_memory_equal(buf, "ping", 4);
        h = fg_hdr(&f->g, 1111, 1u << 30, VSOCK_OP_RW, 4);
        fg_send(&f->g, &h, "pong", FG_ONE_DESC);
        run(f);
        assert_int_equal(read_exact(answered, buf, 4), 0);
        assert_memory_equal(buf, "pong", 4);
        assert_int_equal(vsock_dev_stats(f->dev)->timeouts, 1);
}

static void test_line_timeout(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int silent = -1, partial = -1, quick = -1;
        struct vsock_hdr h;

        assert_int_equal(vsock_dev_listen(f->dev, NULL), 0);
        fg_post_rx(&f->g, 16, 4096);
        /* One client says nothing, one stops in the middle of its line. */
        silent = host_dial();
        partial = host_dial();
        assert_int_equal(write(partial, "CONN", 4), 4);
        run(f);
        assert_int_equal(vsock_dev_connections(f->dev), 2);
        assert_false(closed_by_device(silent));

        /* After the line timeout (the configured one: the 2 s default would
         * not have passed) both are closed without a word, and the guest
         * never heard of them. */
        assert_true(RUN_UNTIL(f, vsock_dev_stats(f->dev)->timeouts == 2, 1500));
        assert_true(closed_by_device(silent));
        assert_true(closed_by_device(partial));
        assert_int_equal(vsock_dev_connections(f->dev), 0);
        assert_int_equal(fg_recv(&f->g, &h, NULL, 0), 0);

        /* A client that sends its line in time goes on to the guest. */
        quick = host_client(f, 3333);
        run(f);
        expect_op(f, VSOCK_OP_REQUEST, 3333, 1u << 30, NULL);
}

static void test_pending_clients_capped(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int a = -1, b = -1, over = -1, guest = -1;

        assert_int_equal(vsock_dev_listen(f->dev, NULL), 0);
        fg_post_rx(&f->g, 16, 4096);
        /* max_pending_clients is 2 here: a third silent client is not
         * taken (nor closed): it waits in the listen backlog. */
        a = host_dial();
        b = host_dial();
        run(f);
        over = host_dial();
        run(f);
        assert_false(closed_by_device(over));
        assert_false(closed_by_device(a));
        assert_false(closed_by_device(b));
        assert_int_equal(vsock_dev_connections(f->dev), 2);
        assert_int_equal(vsock_dev_stats(f->dev)->host_accept_paused, 1);

        /* They leave room for working connections (max_connections is 4). */
        guest = connect_ok(f, 900);
        assert_int_equal(vsock_dev_connections(f->dev), 3);

        /* A client whose line came in no longer counts as pending: the one
         * that waited is taken now, and its line goes through. */
        assert_int_equal(write(a, "CONNECT 77\n", 11), 11);
        run(f);
        expect_op(f, VSOCK_OP_REQUEST, 77, 1u << 30, NULL);
        assert_int_equal(vsock_dev_connections(f->dev), 4);
        assert_int_equal(write(over, "CONNECT 78\n", 11), 11);
        run(f);
        expect_op(f, VSOCK_OP_REQUEST, 78, (1u << 30) + 1, NULL);
        assert_false(closed_by_device(over));
        assert_int_equal(vsock_dev_stats(f->dev)->host_refused_max_connections, 0);
}

/* More host clients than max_pending_clients connect and send their
 * CONNECT line at once: every one of them reaches the guest and gets its OK,
 * none is closed unheard (the ones over the limit wait in the backlog). */
static void test_many_clients_all_served(void **state) {
        enum { N = 40 };
        struct fixture *f = *state;
        int c[N];
        bool ok[N] = { false };
        unsigned served = 0;
        uint64_t end = now_ms() + 5000;

        assert_int_equal(vsock_dev_listen(f->dev, NULL), 0);
        fg_post_rx(&f->g, 60, 256);
        for (int i = 0; i < N; i++)
                c[i] = host_client(f, 2000 + (uint32_t) i);
        while (served < N && now_ms() < end) {
                struct vsock_hdr h;

                run(f);
                /* The guest accepts every REQUEST. */
                while (fg_recv(&f->g, &h, NULL, 0) == 1) {
                        assert_int_equal(h.op, VSOCK_OP_REQUEST);
                        h = fg_hdr(&f->g, h.dst_port, h.src_port, VSOCK_OP_RESPONSE, 0);
                        fg_send(&f->g, &h, NULL, FG_ONE_DESC);
                }
                run(f);
                for (int i = 0; i < N; i++) {
                        char line[32];

                        if (ok[i] || fd_wait(c[i], POLLIN, 0) <= 0)
                                continue;
                        /* "OK <port>\n", never an end of stream. */
                        assert_true(read(c[i], line, sizeof(line)) > 3);
                        assert_memory_equal(line, "OK ", 3);
                        ok[i] = true;
                        served++;
                }
        }
        assert_int_equal(served, N);
        assert_int_equal(vsock_dev_connections(f->dev), N);
        assert_true(vsock_dev_stats(f->dev)->host_accept_paused >= 1);
        assert_int_equal(vsock_dev_stats(f->dev)->host_refused_max_connections, 0);
        for (int i = 0; i < N; i++)
                safe_close(c[i]);
}

static void test_shutdown_timeout(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int half = -1, gone = -1, polite = -1;
        struct vsock_hdr h;
        char buf[8];

        fg_post_rx(&f->g, 32, 4096);
        half = connect_ok(f, 800);
        gone = connect_ok(f, 801);
        polite = connect_ok(f, 802);

        /* A half-close (the host still reads) has no deadline. */
        assert_int_equal(shutdown(half, SHUT_WR), 0);
        run(f);
        expect_op(f, VSOCK_OP_SHUTDOWN, 800, PORT_OK, &h);
        assert_int_equal(h.flags, VSOCK_SHUTDOWN_SEND);

        /* Closed both ways: SHUTDOWN(RCV|SEND). One guest answers with RST at
         * once, the other never: after the shutdown timeout we send the RST
         * and free it. */
        polite = safe_close(polite);
        gone = safe_close(gone);
        run(f);
        expect_op(f, VSOCK_OP_SHUTDOWN, 802, PORT_OK, &h);
        assert_int_equal(h.flags, VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND);
        expect_op(f, VSOCK_OP_SHUTDOWN, 801, PORT_OK, &h);
        assert_int_equal(h.flags, VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND);
        h = fg_hdr(&f->g, 802, PORT_OK, VSOCK_OP_RST, 0);
        fg_send(&f->g, &h, NULL, FG_ONE_DESC);
        run(f);
        assert_int_equal(vsock_dev_connections(f->dev), 2);
        assert_true(RUN_UNTIL(f, vsock_dev_connections(f->dev) == 1, 5000));
        expect_op(f, VSOCK_OP_RST, 801, PORT_OK, NULL);
        assert_int_equal(fg_recv(&f->g, &h, NULL, 0), 0);
        assert_int_equal(vsock_dev_stats(f->dev)->timeouts, 1);

        /* The half-closed one outlived the timeout: the guest still sends. */
        h = fg_hdr(&f->g, 800, PORT_OK, VSOCK_OP_RW, 4);
        fg_send(&f->g, &h, "late", FG_ONE_DESC);
        run(f);
        assert_int_equal(read_exact(half, buf, 4), 0);
        assert_memory_equal(buf, "late", 4);

        /* When the host then closes its read side too, the guest hears it
         * (RCV|SEND) and the deadline starts. */
        half = safe_close(half);
        run(f);
        while (fg_recv(&f->g, &h, NULL, 0) == 1 && h.op == VSOCK_OP_CREDIT_UPDATE)
                ;
        assert_int_equal(h.op, VSOCK_OP_SHUTDOWN);
        assert_int_equal(h.flags, VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND);
        assert_true(RUN_UNTIL(f, vsock_dev_connections(f->dev) == 0, 5000));
        expect_op(f, VSOCK_OP_RST, 800, PORT_OK, NULL);
        assert_int_equal(vsock_dev_stats(f->dev)->timeouts, 2);
}

static void test_connection_limit(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int late = -1, later = -1;
        struct vsock_hdr h;
        int fds[4];
        char ch;

        assert_int_equal(vsock_dev_listen(f->dev, NULL), 0);
        fg_post_rx(&f->g, 16, 4096);
        for (int i = 0; i < 4; i++)
                fds[i] = connect_ok(f, 700 + (uint32_t) i);
        h = fg_hdr(&f->g, 799, PORT_OK, VSOCK_OP_REQUEST, 0);
        fg_send(&f->g, &h, NULL, FG_ONE_DESC);
        run(f);
        expect_op(f, VSOCK_OP_RST, 799, PORT_OK, NULL);
        assert_int_equal(vsock_dev_stats(f->dev)->refused, 1);
        assert_int_equal(vsock_dev_stats(f->dev)->refused_max_connections, 1);

        /* Host clients at the limit are refused and counted: their line is
         * read first, so they see a plain end of stream, not a reset. */
        late = host_client(f, 1234);
        later = host_client(f, 1235);
        run(f);
        assert_int_equal(read(late, &ch, 1), 0);
        assert_int_equal(read(later, &ch, 1), 0);
        assert_int_equal(vsock_dev_stats(f->dev)->host_refused_max_connections, 2);
        assert_int_equal(fg_recv(&f->g, &h, NULL, 0), 0);
        for (int i = 0; i < 4; i++)
                safe_close(fds[i]);
}

/* Connects guest port gp to PORT_OK with buf_alloc credit; returns the
 * host's end. */
static int connect_credit(struct fixture *f, uint32_t gp, uint32_t buf_alloc) {
        struct vsock_hdr h = fg_hdr(&f->g, gp, PORT_OK, VSOCK_OP_REQUEST, 0);
        int fd;

        h.buf_alloc = buf_alloc;
        fg_send(&f->g, &h, NULL, FG_ONE_DESC);
        run(f);
        expect_op(f, VSOCK_OP_RESPONSE, gp, PORT_OK, NULL);
        fd = hvsock__unix_accept(f->listen.fd);
        assert_true(fd >= 0);
        return fd;
}

static void pattern(uint8_t *p, size_t n, size_t from) {
        for (size_t i = 0; i < n; i++)
                p[i] = (uint8_t) ((from + i) % 251);
}

static void test_rx_batch_across_chains(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int fd = -1;
        static uint8_t data[5000], got[5000], pkt[4096];
        /* Header split over 7-byte pieces, payload over two descriptors. */
        static const uint32_t scattered[] = { 7, 7, 7, 7, 7, 7, 2, 50, 50 };
        static const uint32_t hdr_only[] = { VSOCK_HDR_SIZE };
        static const uint32_t big[] = { VSOCK_HDR_SIZE + 3000 };
        static const uint32_t split[] = { 20, 24, 1000 };
        static const uint16_t want_ops[] = { VSOCK_OP_RW, VSOCK_OP_RW, VSOCK_OP_CREDIT_UPDATE, VSOCK_OP_RW,
                                             VSOCK_OP_RW, VSOCK_OP_RW };
        static const uint32_t want_len[] = { 100, 100, 0, 3000, 1000, 800 };
        struct vsock_hdr h;
        uint32_t total = 0;
        unsigned n = 0;

        fg_post_rx(&f->g, 4, 4096);
        fd = connect_credit(f, 20, 65536);
        fg_post_rx_chain(&f->g, (const uint32_t[]) { VSOCK_HDR_SIZE + 100 }, 1);
        pattern(data, sizeof(data), 0);
        {
                /* The three 4 KiB buffers left come first: fill them exactly.
                 * The read spans the 100-byte chain too, which gets nothing
                 * and goes back on the ring for the next read. */
                static uint8_t fill[3 * (4096 - VSOCK_HDR_SIZE)];
                assert_int_equal(write(fd, fill, sizeof(fill)), (ssize_t) sizeof(fill));
                run(f);
                while (fg_recv(&f->g, &h, NULL, 0) == 1)
                        total += h.len;
                assert_int_equal(total, sizeof(fill));
                total = 0;
        }
        fg_post_rx_chain(&f->g, scattered, ELEMENTSOF(scattered));
        fg_post_rx_chain(&f->g, hdr_only, ELEMENTSOF(hdr_only));
        fg_post_rx_chain(&f->g, big, ELEMENTSOF(big));
        fg_post_rx_chain(&f->g, split, ELEMENTSOF(split));
        assert_int_equal(write(fd, data, sizeof(data)), (ssize_t) sizeof(data));
        run(f);
        /* 4200 bytes fit the posted chains; the header-only one carries a
         * credit update instead of stalling the stream; 800 wait for more. */
        while (fg_recv(&f->g, &h, pkt, sizeof(pkt)) == 1) {
                assert_true(n < ELEMENTSOF(want_ops));
                assert_int_equal(h.op, want_ops[n]);
                assert_int_equal(h.len, want_len[n]);
                memcpy(got + total, pkt, h.len);
                total += h.len;
                n++;
        }
        assert_int_equal(n, 5);
        assert_int_equal(total, 4200);
        fg_post_rx(&f->g, 2, 1024);
        run(f);
        assert_int_equal(fg_recv(&f->g, &h, pkt, sizeof(pkt)), 1);
        assert_int_equal(h.op, want_ops[n]);
        assert_int_equal(h.len, want_len[n]);
        memcpy(got + total, pkt, h.len);
        total += h.len;
        assert_int_equal(total, sizeof(data));
        assert_memory_equal(got, data, sizeof(data));
        assert_int_equal(fg_recv(&f->g, &h, NULL, 0), 0);
}

static void test_rx_batch_respects_credit(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int fd = -1;
        static uint8_t data[6000], got[6000], pkt[1024];
        static const uint32_t lens[] = { 1000, 1000, 500, 1000, 1000, 500, 1000 };
        struct vsock_hdr h;
        uint32_t total = 0, fwd = 0;
        unsigned n = 0;

        fg_post_rx(&f->g, 1, 4096);
        fd = connect_credit(f, 21, 2500);
        fg_post_rx(&f->g, 8, VSOCK_HDR_SIZE + 1000);
        pattern(data, sizeof(data), 7);
        assert_int_equal(write(fd, data, sizeof(data)), (ssize_t) sizeof(data));
        /* Three windows of 2500 bytes of credit: one read fills several
         * chains up to the credit, the chains it did not need are used for
         * the next window, none is returned empty. */
        for (int window = 0; window < 3; window++) {
                run(f);
                while (fg_recv(&f->g, &h, pkt, sizeof(pkt)) == 1) {
                        assert_true(n < ELEMENTSOF(lens));
                        assert_int_equal(h.op, VSOCK_OP_RW);
                        assert_int_equal(h.len, lens[n]);
                        memcpy(got + total, pkt, h.len);
                        total += h.len;
                        n++;
                }
                assert_true(total - fwd <= 2500);
                fwd = total;
                h = fg_hdr(&f->g, 21, PORT_OK, VSOCK_OP_CREDIT_UPDATE, 0);
                h.buf_alloc = 2500;
                h.fwd_cnt = fwd;
                fg_send(&f->g, &h, NULL, FG_ONE_DESC);
        }
        assert_int_equal(n, ELEMENTSOF(lens));
        assert_int_equal(total, sizeof(data));
        assert_memory_equal(got, data, sizeof(data));
        /* Seven of the eight chains carried data; one is left. */
        assert_int_equal(f->g.rx.last_avail, 1 + 7);
}

/* While the host's data waits for the guest's credit, more writes of the
 * host do not wake the device; once the guest makes room the data flows,
 * and after the host socket is read empty, a write wakes it again. */
static void test_blocked_host_does_not_wake(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int fd = -1;
        static char big[5000], got[4096];
        struct vsock_hdr h;
        uint32_t total = 0;

        fg_post_rx(&f->g, 32, 1024);
        fd = connect_credit(f, 33, 3000);
        assert_int_equal(write(fd, big, sizeof(big)), (ssize_t) sizeof(big));
        run(f);
        while (fg_recv(&f->g, &h, got, sizeof(got)) == 1)
                total += h.len;
        assert_int_equal(total, 3000);
        assert_int_equal(write(fd, big, 100), 100);
        assert_int_equal(ev_run_once(&f->loop, 0), 0);

        /* The guest consumed all: the rest (2100 bytes) comes without a
         * host event, then the socket is empty and watched again. */
        h = fg_hdr(&f->g, 33, PORT_OK, VSOCK_OP_CREDIT_UPDATE, 0);
        h.buf_alloc = 3000;
        h.fwd_cnt = 3000;
        fg_send(&f->g, &h, NULL, FG_ONE_DESC);
        run(f);
        while (fg_recv(&f->g, &h, got, sizeof(got)) == 1)
                total += h.len;
        assert_int_equal(total, 5100);
        assert_int_equal(write(fd, big, 10), 10);
        assert_int_equal(ev_run_once(&f->loop, 0), 1);
        run(f);
        while (fg_recv(&f->g, &h, got, sizeof(got)) == 1)
                total += h.len;
        assert_int_equal(total, 5110);
}

static void test_credit_update_threshold(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int fd = -1;
        static char payload[1000], sink[4096];
        struct vsock_hdr h;

        fg_post_rx(&f->g, 16, 4096);
        fd = connect_ok(f, 22);
        /* buf_alloc is 4096: nothing to announce until more than a quarter
         * of it was forwarded. */
        h = fg_hdr(&f->g, 22, PORT_OK, VSOCK_OP_RW, 500);
        fg_send(&f->g, &h, payload, FG_ONE_DESC);
        run(f);
        assert_int_equal(fg_recv(&f->g, &h, NULL, 0), 0);
        h = fg_hdr(&f->g, 22, PORT_OK, VSOCK_OP_RW, 524);
        fg_send(&f->g, &h, payload, FG_ONE_DESC);
        run(f);
        assert_int_equal(fg_recv(&f->g, &h, NULL, 0), 0);
        h = fg_hdr(&f->g, 22, PORT_OK, VSOCK_OP_RW, 1);
        fg_send(&f->g, &h, payload, FG_ONE_DESC);
        run(f);
        expect_op(f, VSOCK_OP_CREDIT_UPDATE, 22, PORT_OK, &h);
        assert_int_equal(h.fwd_cnt, 1025);
        assert_int_equal(read_exact(fd, sink, 1025), 0);

        /* Below the threshold again, but the guest asks: it hears at once. */
        h = fg_hdr(&f->g, 22, PORT_OK, VSOCK_OP_RW, 100);
        fg_send(&f->g, &h, payload, FG_ONE_DESC);
        run(f);
        assert_int_equal(fg_recv(&f->g, &h, NULL, 0), 0);
        h = fg_hdr(&f->g, 22, PORT_OK, VSOCK_OP_CREDIT_REQUEST, 0);
        fg_send(&f->g, &h, NULL, FG_ONE_DESC);
        run(f);
        expect_op(f, VSOCK_OP_CREDIT_UPDATE, 22, PORT_OK, &h);
        assert_int_equal(h.fwd_cnt, 1125);
}

static void test_credit_blocked_guest_hears(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int fd = -1;
        static char payload[1000], sink[65536];
        uint32_t sent = 0, heard = 0, drained = 0;
        struct vsock_hdr h;
        int i;

        fg_post_rx(&f->g, 16, 256);
        fd = connect_ok(f, 23);
        /* A guest that keeps to its credit while the host reads nothing:
         * the host socket fills, the device buffers, the credit runs out. */
        for (i = 0; i < 5000 && sent - heard < 4096; i++) {
                uint32_t len = 4096 - (sent - heard) < sizeof(payload) ? 4096 - (sent - heard) : sizeof(payload);

                h = fg_hdr(&f->g, 23, PORT_OK, VSOCK_OP_RW, len);
                fg_send(&f->g, &h, payload, FG_ONE_DESC);
                sent += len;
                run(f);
                while (fg_recv(&f->g, &h, NULL, 0) == 1) {
                        assert_int_equal(h.op, VSOCK_OP_CREDIT_UPDATE);
                        heard = h.fwd_cnt;
                        fg_post_rx(&f->g, 1, 256);
                }
        }
        assert_int_equal(sent - heard, 4096);
        assert_int_equal(vsock_dev_connections(f->dev), 1);
        /* The host reads everything: the guest learns about the space
         * without asking, enough of it never to be stuck. */
        for (i = 0; i < 5000 && (drained < sent || sent - heard > 1024); i++) {
                ssize_t k = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);

                if (k > 0)
                        drained += (uint32_t) k;
                run(f);
                while (fg_recv(&f->g, &h, NULL, 0) == 1) {
                        assert_int_equal(h.op, VSOCK_OP_CREDIT_UPDATE);
                        heard = h.fwd_cnt;
                        fg_post_rx(&f->g, 1, 256);
                }
        }
        assert_int_equal(drained, sent);
        assert_true(sent - heard <= 1024);
}

/* A guest whose own buffer is smaller than ours uses only that much of our
 * credit (Linux caps it so): it must hear about the space before it has
 * sent all of its smaller window, or both sides wait for ever. */
static void test_credit_small_guest_window(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int fd = -1;
        static char payload[256], sink[1024];
        uint32_t sent = 0, heard = 0;
        struct vsock_hdr h;

        fg_post_rx(&f->g, 16, 256);
        fd = connect_credit(f, 25, 1024); /* ours is 4096 */
        while (sent - heard < 1024) {
                h = fg_hdr(&f->g, 25, PORT_OK, VSOCK_OP_RW, sizeof(payload));
                h.buf_alloc = 1024;
                fg_send(&f->g, &h, payload, FG_ONE_DESC);
                sent += sizeof(payload);
                run(f);
                while (fg_recv(&f->g, &h, NULL, 0) == 1) {
                        assert_int_equal(h.op, VSOCK_OP_CREDIT_UPDATE);
                        heard = h.fwd_cnt;
                }
                if (sent >= 8 * 1024)
                        break;
        }
        /* The guest never ran out: it kept hearing within its window. */
        assert_true(sent >= 8 * 1024);
        assert_true(sent - heard < 1024);
        for (uint32_t got = 0; got < sent; got += sizeof(sink))
                assert_int_equal(read_exact(fd, sink, sizeof(sink)), 0);
}

/* Payloads gathered for one write keep their order against other
 * connections' packets and against the connection's own SHUTDOWN. */
static void test_gathered_writes_keep_order(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int a = -1, b = -1;
        static uint8_t data[3000], got[3000];
        struct vsock_hdr h;
        size_t off_a = 0, off_b = 0;

        pattern(data, sizeof(data), 0);
        fg_post_rx(&f->g, 16, 256);
        a = connect_ok(f, 31);
        b = connect_ok(f, 32);
        /* a a b a a(SHUTDOWN) b, all in the ring before one pass. */
        const struct { uint32_t port; size_t len; } seq[] = {
                { 31, 500 }, { 31, 700 }, { 32, 300 }, { 31, 800 }, { 31, 0 }, { 32, 600 },
        };
        for (size_t i = 0; i < ELEMENTSOF(seq); i++) {
                size_t *off = seq[i].port == 31 ? &off_a : &off_b;

                if (seq[i].len == 0) {
                        h = fg_hdr(&f->g, 31, PORT_OK, VSOCK_OP_SHUTDOWN, 0);
                        h.flags = VSOCK_SHUTDOWN_SEND;
                        fg_send(&f->g, &h, NULL, FG_ONE_DESC);
                        continue;
                }
                h = fg_hdr(&f->g, seq[i].port, PORT_OK, VSOCK_OP_RW, (uint32_t) seq[i].len);
                fg_send(&f->g, &h, data + *off, i % 2 ? FG_ONE_DESC : FG_HDR_THEN_PAYLOAD);
                *off += seq[i].len;
        }
        run(f);
        assert_int_equal(fg_tx_used(&f->g), f->g.ftx.avail_idx);
        assert_int_equal(read_exact(a, got, off_a), 0);
        assert_memory_equal(got, data, off_a);
        assert_int_equal(read(a, got, 1), 0); /* the SHUTDOWN came after a's data */
        assert_int_equal(read_exact(b, got, off_b), 0);
        assert_memory_equal(got, data, off_b);
}

/* The used_event field of one of the fake guest's rings (EVENT_IDX). */
static void set_used_event(struct fixture *f, const struct fake_vring *r, uint16_t v) {
        uint8_t *p = f->g.mem + r->avail + 4 + 2u * FG_NUM;

        p[0] = (uint8_t) v;
        p[1] = (uint8_t) (v >> 8);
}

static uint64_t calls(int efd) {
        uint64_t v = 0;

        if (read(efd, &v, sizeof(v)) != sizeof(v))
                return 0;
        return v;
}

static void test_notify_once_per_turn(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int fd = -1;
        static char data[20000];
        struct vsock_hdr h;
        int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        unsigned n = 0;

        assert_true(efd >= 0);
        f->g.rx.call_fd = efd; /* closed by fg_done */
        fg_post_rx(&f->g, 1, 4096);
        fd = connect_credit(f, 24, 65536);
        (void) calls(efd);
        /* The guest saw the RESPONSE and wants to hear about what follows;
         * many rx buffers used in one turn: one call. */
        set_used_event(f, &f->g.frx, f->g.frx.used_seen);
        fg_post_rx(&f->g, 32, 1024);
        assert_int_equal(write(fd, data, sizeof(data)), (ssize_t) sizeof(data));
        run(f);
        while (fg_recv(&f->g, &h, NULL, 0) == 1)
                n++;
        assert_true(n > 1);
        assert_int_equal(calls(efd), 1);
        /* The guest has not asked again (used_event still behind): none. */
        assert_int_equal(write(fd, "x", 1), 1);
        run(f);
        assert_int_equal(fg_recv(&f->g, &h, NULL, 0), 1);
        assert_int_equal(calls(efd), 0);
        /* It asks for the next one: called again. */
        set_used_event(f, &f->g.frx, f->g.frx.used_seen);
        assert_int_equal(write(fd, "y", 1), 1);
        run(f);
        assert_int_equal(fg_recv(&f->g, &h, NULL, 0), 1);
        assert_int_equal(calls(efd), 1);
}

static void test_tx_calls_in_bulk(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int fd = -1;
        struct vsock_hdr h;
        char buf[64];
        int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), t;
        uint64_t start;
        bool got = false;

        assert_true(efd >= 0);
        f->g.tx.call_fd = efd; /* closed by fg_done */
        fg_post_rx(&f->g, 8, 4096);
        fd = connect_ok(f, 26);
        /* One used tx chain (the REQUEST): its call waits, with a deadline
         * the loop's timeout honours. */
        assert_int_equal(calls(efd), 0);
        t = vsock_dev_timeout_ms(f->dev);
        assert_true(t >= 0 && t <= 1000);
        start = now_ms();
        while (!got && now_ms() - start < 5000) {
                ev_run_once(&f->loop, vsock_dev_timeout_ms(f->dev));
                vsock_dev_notify(f->dev);
                got = calls(efd) > 0;
        }
        assert_true(got);
        assert_int_equal(vsock_dev_timeout_ms(f->dev), -1);
        /* A quarter of the ring (FG_NUM / 4 descriptors: eight two-piece
         * packets) used in one turn: called at once. */
        set_used_event(f, &f->g.ftx, fg_tx_used(&f->g));
        for (unsigned i = 0; i < FG_NUM / 8; i++) {
                h = fg_hdr(&f->g, 26, PORT_OK, VSOCK_OP_RW, 4);
                fg_send(&f->g, &h, "data", FG_HDR_THEN_PAYLOAD);
        }
        run(f);
        assert_int_equal(calls(efd), 1);
        assert_int_equal(vsock_dev_timeout_ms(f->dev), -1);
        assert_int_equal(read_exact(fd, buf, 4 * (FG_NUM / 8)), 0);
        /* The data went through meanwhile: only the call was late. */
        assert_memory_equal(buf, "datadata", 8);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_layouts, setup, teardown),
                cmocka_unit_test_setup_teardown(test_host_to_guest_and_credit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_blocked_host_does_not_wake, setup, teardown),
                cmocka_unit_test_setup_teardown(test_guest_exceeds_credit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wrong_cid_dropped, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unknown_op_and_type, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_length_ends_connection, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hostile_chains, setup, teardown),
                cmocka_unit_test_setup_teardown(test_avail_idx_runaway, setup, teardown),
                cmocka_unit_test_setup_teardown(test_host_connect, setup, teardown),
                cmocka_unit_test_setup_teardown(test_half_close, setup, teardown),
                cmocka_unit_test_setup_teardown(test_connect_timeout, setup, teardown),
                cmocka_unit_test_setup_teardown(test_shutdown_timeout, setup, teardown),
                cmocka_unit_test_setup_teardown(test_line_timeout, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pending_clients_capped, setup, teardown),
                cmocka_unit_test_setup_teardown(test_many_clients_all_served, setup_many, teardown),
                cmocka_unit_test_setup_teardown(test_connection_limit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rx_batch_across_chains, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rx_batch_respects_credit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_credit_update_threshold, setup, teardown),
                cmocka_unit_test_setup_teardown(test_credit_blocked_guest_hears, setup, teardown),
                cmocka_unit_test_setup_teardown(test_credit_small_guest_window, setup, teardown),
                cmocka_unit_test_setup_teardown(test_gathered_writes_keep_order, setup, teardown),
                cmocka_unit_test_setup_teardown(test_notify_once_per_turn, setup, teardown),
                cmocka_unit_test_setup_teardown(test_tx_calls_in_bulk, setup, teardown),
        };
        char *err = NULL;

        tmpdir = test_setup_env(60);
        assert_int_equal(hvsock__registry_update(getenv("HVSOCK_CONFIG_DIR"), add_services, NULL, &err), 0);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
