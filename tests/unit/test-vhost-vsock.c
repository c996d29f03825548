/* SPDX-License-Identifier: MIT */
/* The vsock device driven by a fake guest in memfd memory: packets, chain
 * layouts, refusals, hostile rings and credit. */
#include <errno.h>
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
        int listen_fd; /* the host service at <uds>_PORT_OK */
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

static int setup(void **state) {
        static struct fixture f;
        struct vsock_dev_config cfg = {
                .guest_cid = CID,
                .uds_path = test_path("vsock.sock"),
                .config_dir = getenv("HVSOCK_CONFIG_DIR"),
                .max_connections = 4,
                .tx_buffer_size = 4096,
        };

        memset(&f, 0, sizeof(f));
        fg_init(&f.g, CID, true);
        assert_int_equal(ev_loop_init(&f.loop), 0);
        assert_int_equal(vsock_dev_new(&cfg, &f.loop, &f.g.rx, &f.g.tx, &f.dev), 0);
        f.listen_fd = hvsock__hybrid_listen(cfg.uds_path, PORT_OK, 8);
        assert_true(f.listen_fd >= 0);
        *state = &f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;

        f->dev = vsock_dev_free(f->dev);
        safe_close(f->listen_fd);
        ev_loop_done(&f->loop);
        fg_done(&f->g);
        {
                char path[256];
                hvsock__hybrid_listen_path(test_path("vsock.sock"), PORT_OK, path, sizeof(path));
                unlink(path);
        }
        return 0;
}

static void run(struct fixture *f) {
        vsock_dev_process_tx(f->dev);
        while (ev_run_once(&f->loop, 0) > 0)
                ;
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
        fd = hvsock__unix_accept(f->listen_fd);
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
                fd = hvsock__unix_accept(f->listen_fd);
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
        assert_int_equal(hvsock__unix_accept(f->listen_fd), -EAGAIN);
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
        assert_int_equal(hvsock__unix_accept(f->listen_fd), -EAGAIN);
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
        assert_int_equal(hvsock__unix_accept(f->listen_fd), -EAGAIN);
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

        assert_int_equal(vsock_dev_listen(f->dev), 0);
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
                        vsock_dev_gc((f)->dev);                       \
                }                                                     \
                (cond);                                               \
        })

/* Connects a host client to the device's UDS and sends "CONNECT port". */
static int host_client(struct fixture *f, uint32_t port) {
        struct sockaddr_un sa;
        socklen_t len;
        char line[32];
        int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int n = snprintf(line, sizeof(line), "CONNECT %u\n", port);

        assert_true(c >= 0);
        assert_int_equal(sockaddr_un_set(&sa, &len, test_path("vsock.sock")), 0);
        assert_int_equal(connect(c, (struct sockaddr *) &sa, len), 0);
        assert_int_equal(write(c, line, (size_t) n), n);
        return c;
}

static void test_connect_timeout(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int answered = -1, ignored = -1;
        struct vsock_hdr h, req;
        char buf[32];

        assert_int_equal(vsock_dev_listen(f->dev), 0);
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
        int fds[4];

        fg_post_rx(&f->g, 16, 4096);
        for (int i = 0; i < 4; i++)
                fds[i] = connect_ok(f, 700 + (uint32_t) i);
        {
                struct vsock_hdr h = fg_hdr(&f->g, 799, PORT_OK, VSOCK_OP_REQUEST, 0);
                fg_send(&f->g, &h, NULL, FG_ONE_DESC);
                run(f);
                expect_op(f, VSOCK_OP_RST, 799, PORT_OK, NULL);
        }
        for (int i = 0; i < 4; i++)
                safe_close(fds[i]);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_layouts, setup, teardown),
                cmocka_unit_test_setup_teardown(test_host_to_guest_and_credit, setup, teardown),
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
                cmocka_unit_test_setup_teardown(test_connection_limit, setup, teardown),
        };
        char *err = NULL;

        tmpdir = test_setup_env(60);
        assert_int_equal(hvsock__registry_update(getenv("HVSOCK_CONFIG_DIR"), add_services, NULL, &err), 0);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
