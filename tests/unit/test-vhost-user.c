/* SPDX-License-Identifier: MIT */
/*
 * hvsock-vhost's vhost-user layer driven over a socketpair the way QEMU
 * drives it: the QEMU 7.2 start sequence, ring enabling with and without
 * PROTOCOL_FEATURES, REPLY_ACK, hostile messages (sizes, fd counts, regions,
 * ring addresses and indexes), and QEMU going away and coming back. The
 * guest memory is a fake guest's memfd (fake-guest.c), handed over with
 * SET_MEM_TABLE like QEMU's memory-backend-memfd.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
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
#include "vhost-user.h"
#include "vsock.h"

#define CID 42
#define PORT_OK 5000
#define UNKNOWN_REQUEST 99

#define ALL_FEATURES                                                              \
        ((1ull << VIRTIO_F_VERSION_1) | (1ull << VHOST_USER_F_PROTOCOL_FEATURES) | \
         (1ull << VIRTIO_RING_F_EVENT_IDX))
#define PF_REPLY_ACK (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK)
#define PF_CONFIG (1ull << VHOST_USER_PROTOCOL_F_CONFIG)

struct region {
        uint64_t gpa, size, uva, mmap_offset;
};

struct mem_table {
        uint32_t nregions, padding;
        struct region regions[GUEST_MEM_REGIONS_MAX + 1];
};

struct vring_state {
        uint32_t index, num;
};

struct vring_addr {
        uint32_t index, flags;
        uint64_t desc, used, avail, log;
};

struct fixture {
        struct fake_guest g; /* the guest's memory (a memfd) and its rings */
        struct ev_loop loop;
        struct vhost_user vu;
        struct vsock_dev *dev;
        int qemu;                /* QEMU's end of the vhost-user socket */
        int kick[VSOCK_RINGS];   /* our copies of the eventfds handed over */
        int call[VSOCK_RINGS];
        unsigned kicks[VSOCK_RINGS];
        unsigned resets;
        struct unix_listener listen; /* the host service at <uds>_PORT_OK */
        unsigned fds_at_start;
};

static unsigned fd_count(void) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;
        unsigned n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        return n - 1; /* the directory's own fd */
}

static void on_kick(void *userdata, unsigned index) {
        struct fixture *f = userdata;

        f->kicks[index]++;
        if (index == VSOCK_TX_RING)
                vsock_dev_process_tx(f->dev);
        else
                vsock_dev_process_rx(f->dev);
}

static void on_reset(void *userdata) {
        struct fixture *f = userdata;

        f->resets++;
        vsock_dev_reset(f->dev);
}

static const struct vhost_user_ops test_ops = {
        .ring_kick = on_kick,
        .reset = on_reset,
};

static int add_services(struct hvsock_registry *r, void *userdata, char **ret_error) {
        struct hvsock_guid id;

        hvsock_guid_from_port(PORT_OK, &id);
        return hvsock__registry_add_service(r, &id, "echo", PORT_OK, NULL);
}

static void qemu_connect(struct fixture *f) {
        int sv[2];

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        f->qemu = sv[0];
        assert_int_equal(vhost_user_attach(&f->vu, sv[1]), 0);
        assert_true(vhost_user_attached(&f->vu));
}

static int setup(void **state) {
        static struct fixture f;
        struct vsock_dev_config cfg = {
                .guest_cid = CID,
                .uds_path = test_path("vsock.sock"),
                .config_dir = getenv("HVSOCK_CONFIG_DIR"),
                .max_connections = 8,
                .tx_buffer_size = 4096,
        };

        memset(&f, 0, sizeof(f));
        f.fds_at_start = fd_count();
        for (unsigned i = 0; i < VSOCK_RINGS; i++)
                f.kick[i] = f.call[i] = -1;
        fg_init(&f.g, CID, true);
        assert_int_equal(ev_loop_init(&f.loop), 0);
        assert_int_equal(vsock_dev_new(&cfg, &f.loop, &f.vu.vqs[VSOCK_RX_RING], &f.vu.vqs[VSOCK_TX_RING],
                                       &f.dev), 0);
        vhost_user_init(&f.vu, &f.loop, CID, &test_ops, &f);
        assert_int_equal(hvsock__hybrid_listen(cfg.uds_path, PORT_OK, 8, NULL, &f.listen, NULL), 0);
        qemu_connect(&f);
        *state = &f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;

        vhost_user_detach(&f->vu);
        f->dev = vsock_dev_free(f->dev);
        f->qemu = safe_close(f->qemu);
        for (unsigned i = 0; i < VSOCK_RINGS; i++) {
                f->kick[i] = safe_close(f->kick[i]);
                f->call[i] = safe_close(f->call[i]);
        }
        unix_listener_close(&f->listen);
        ev_loop_done(&f->loop);
        fg_done(&f->g);
        /* Every fd the backend received or opened is closed again. */
        assert_int_equal(fd_count(), f->fds_at_start);
        return 0;
}

/* Runs the loop until it is idle (bounded: an undrained level-triggered fd
 * would otherwise spin here for ever). Returns the number of turns. */
static unsigned run(struct fixture *f) {
        unsigned turns = 0;

        while (turns < 100 && ev_run_once(&f->loop, 0) > 0) {
                vsock_dev_notify(f->dev);
                vsock_dev_gc(f->dev);
                turns++;
        }
        vsock_dev_notify(f->dev);
        vsock_dev_gc(f->dev);
        return turns;
}

/* ---- QEMU's side of the protocol ---- */

/* Sends len raw bytes with n_fds fds in one sendmsg (any cut of a message). */
static void send_bytes(struct fixture *f, const void *bytes, size_t len, const int *fds, unsigned n_fds) {
        union {
                char buf[CMSG_SPACE(16 * sizeof(int))];
                struct cmsghdr align;
        } control;
        struct iovec iov = { (void *) bytes, len };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

        assert_true(n_fds <= 16);
        if (n_fds > 0) {
                struct cmsghdr *c;

                memset(&control, 0, sizeof(control));
                mh.msg_control = control.buf;
                mh.msg_controllen = CMSG_SPACE(n_fds * sizeof(int));
                c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(n_fds * sizeof(int));
                memcpy(CMSG_DATA(c), fds, n_fds * sizeof(int));
        }
        assert_int_equal(sendmsg(f->qemu, &mh, MSG_NOSIGNAL), (ssize_t) len);
}

/* Writes a message header into buf. */
static void put_hdr(uint8_t *buf, uint32_t request, uint32_t flags, uint32_t size) {
        memcpy(buf, &request, 4);
        memcpy(buf + 4, &flags, 4);
        memcpy(buf + 8, &size, 4);
}

/* Sends a header claiming size payload bytes, len bytes of payload and n_fds fds. */
static void send_raw(struct fixture *f, uint32_t request, uint32_t flags, uint32_t size,
                     const void *payload, size_t len, const int *fds, unsigned n_fds) {
        uint8_t buf[VHOST_USER_HDR_SIZE + 4096];

        assert_true(len <= sizeof(buf) - VHOST_USER_HDR_SIZE);
        put_hdr(buf, request, flags, size);
        if (len)
                memcpy(buf + VHOST_USER_HDR_SIZE, payload, len);
        send_bytes(f, buf, VHOST_USER_HDR_SIZE + len, fds, n_fds);
}

static void send_msg(struct fixture *f, uint32_t request, uint32_t flags, const void *payload, uint32_t size,
                     const int *fds, unsigned n_fds) {
        send_raw(f, request, VHOST_USER_VERSION | flags, size, payload, size, fds, n_fds);
}

static int step(struct fixture *f) {
        return vhost_user_handle_one(&f->vu);
}

static void no_reply(struct fixture *f) {
        assert_int_equal(fd_wait(f->qemu, POLLIN, 0), 0);
}

/* Reads one reply to request; returns its payload size. */
static uint32_t recv_reply(struct fixture *f, uint32_t request, void *payload, uint32_t max) {
        uint32_t hdr[3];

        assert_true(fd_wait(f->qemu, POLLIN, 2000) > 0);
        assert_int_equal(read_exact(f->qemu, hdr, sizeof(hdr)), 0);
        assert_int_equal(hdr[0], request);
        assert_int_equal(hdr[1], VHOST_USER_VERSION | VHOST_USER_FLAG_REPLY);
        assert_true(hdr[2] <= max);
        if (hdr[2] > 0)
                assert_int_equal(read_exact(f->qemu, payload, hdr[2]), 0);
        return hdr[2];
}

static uint64_t recv_u64(struct fixture *f, uint32_t request) {
        uint64_t v;

        assert_int_equal(recv_reply(f, request, &v, sizeof(v)), sizeof(v));
        return v;
}

static uint64_t get_u64(struct fixture *f, uint32_t request) {
        send_msg(f, request, 0, NULL, 0, NULL, 0);
        assert_int_equal(step(f), 0);
        return recv_u64(f, request);
}

/* A request without a reply: handled, and nothing comes back. */
static void set(struct fixture *f, uint32_t request, const void *payload, uint32_t size, const int *fds,
                unsigned n_fds) {
        send_msg(f, request, 0, payload, size, fds, n_fds);
        assert_int_equal(step(f), 0);
        no_reply(f);
}

static void set_u64(struct fixture *f, uint32_t request, uint64_t v, const int *fds, unsigned n_fds) {
        set(f, request, &v, sizeof(v), fds, n_fds);
}

static void set_state(struct fixture *f, uint32_t request, uint32_t index, uint32_t num) {
        struct vring_state s = { index, num };

        set(f, request, &s, sizeof(s), NULL, 0);
}

/* Sends request with need_reply and returns the REPLY_ACK value (0 = success). */
static uint64_t ack(struct fixture *f, uint32_t request, const void *payload, uint32_t size, const int *fds,
                    unsigned n_fds) {
        send_msg(f, request, VHOST_USER_FLAG_NEED_REPLY, payload, size, fds, n_fds);
        assert_int_equal(step(f), 0);
        return recv_u64(f, request);
}

static uint64_t ack_u64(struct fixture *f, uint32_t request, uint64_t v, const int *fds, unsigned n_fds) {
        return ack(f, request, &v, sizeof(v), fds, n_fds);
}

static uint64_t ack_state(struct fixture *f, uint32_t request, uint32_t index, uint32_t num) {
        struct vring_state s = { index, num };

        return ack(f, request, &s, sizeof(s), NULL, 0);
}

static int new_eventfd(void) {
        int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

        assert_true(fd >= 0);
        return fd;
}

static int new_memfd(size_t size) {
        int fd = memfd_create("test-region", MFD_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, (off_t) size), 0);
        return fd;
}

static struct fake_vring *fake_ring(struct fixture *f, unsigned ring) {
        return ring == VSOCK_RX_RING ? &f->g.frx : &f->g.ftx;
}

static struct vring_addr ring_addr(struct fixture *f, unsigned ring) {
        struct fake_vring *r = fake_ring(f, ring);

        return (struct vring_addr) {
                .index = ring,
                .desc = FG_UVA + r->desc,
                .used = FG_UVA + r->used,
                .avail = FG_UVA + r->avail,
        };
}

/* The fake guest's memfd as one region, as QEMU's memory-backend-memfd. */
static struct mem_table guest_table(void) {
        return (struct mem_table) {
                .nregions = 1,
                .regions[0] = { .gpa = FG_GPA, .size = FG_SIZE, .uva = FG_UVA, .mmap_offset = 0 },
        };
}

static uint32_t table_size(uint32_t n) {
        return 8 + n * (uint32_t) sizeof(struct region);
}

/* GET_CONFIG(offset, size): the reply's config payload in out (size bytes). */
static void get_config(struct fixture *f, uint32_t offset, uint32_t size, uint8_t *out) {
        uint8_t msg[VHOST_USER_CONFIG_HDR_SIZE + VHOST_USER_CONFIG_MAX];
        uint8_t got[sizeof(msg)];
        uint32_t zero = 0, n = VHOST_USER_CONFIG_HDR_SIZE + size;

        assert_true(size <= VHOST_USER_CONFIG_MAX);
        memset(msg, 0xee, sizeof(msg));
        memcpy(msg, &offset, 4);
        memcpy(msg + 4, &size, 4);
        memcpy(msg + 8, &zero, 4);
        send_msg(f, VHOST_USER_GET_CONFIG, 0, msg, n, NULL, 0);
        assert_int_equal(step(f), 0);
        /* The reply's size must equal the request's, or QEMU rejects it. */
        assert_int_equal(recv_reply(f, VHOST_USER_GET_CONFIG, got, sizeof(got)), n);
        assert_memory_equal(got, msg, 8);
        memcpy(out, got + VHOST_USER_CONFIG_HDR_SIZE, size);
}

/* What QEMU 7.2 sends when the device starts (PROTOCOLS.md 3). */
static void qemu_device_start(struct fixture *f, uint64_t protocol_features) {
        uint8_t config[8];
        uint64_t v;

        v = get_u64(f, VHOST_USER_GET_FEATURES);
        assert_true(v & (1ull << VIRTIO_F_VERSION_1));
        assert_true(v & (1ull << VHOST_USER_F_PROTOCOL_FEATURES));
        assert_true(v & (1ull << VIRTIO_RING_F_EVENT_IDX));
        v = get_u64(f, VHOST_USER_GET_PROTOCOL_FEATURES);
        assert_true(v & PF_CONFIG);
        assert_true(v & PF_REPLY_ACK);
        set_u64(f, VHOST_USER_SET_PROTOCOL_FEATURES, protocol_features, NULL, 0);
        assert_int_equal(get_u64(f, VHOST_USER_GET_QUEUE_NUM), VSOCK_RINGS);
        set(f, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0);
        (void) get_u64(f, VHOST_USER_GET_FEATURES);
        for (unsigned ring = 0; ring < VSOCK_RINGS; ring++) {
                int call = new_eventfd(), err = new_eventfd();

                set_u64(f, VHOST_USER_SET_VRING_CALL, ring, &call, 1);
                set_u64(f, VHOST_USER_SET_VRING_ERR, ring, &err, 1);
                safe_close(call);
                safe_close(err);
        }
        get_config(f, 0, 8, config);
        assert_memory_equal(config, "\x2a\0\0\0\0\0\0\0", 8);
}

/* What QEMU sends when the guest driver starts the device. */
/* QEMU starts the rings, each at base[ring] (NULL: 0, a new driver). */
static void qemu_driver_start_at(struct fixture *f, uint64_t features, bool enable, const uint16_t *base) {
        struct mem_table t = guest_table();

        set_u64(f, VHOST_USER_SET_FEATURES, features, NULL, 0);
        set(f, VHOST_USER_SET_MEM_TABLE, &t, table_size(1), &f->g.memfd, 1);
        for (unsigned ring = 0; ring < VSOCK_RINGS; ring++) {
                struct vring_addr a = ring_addr(f, ring);

                set_state(f, VHOST_USER_SET_VRING_NUM, ring, FG_NUM);
                set_state(f, VHOST_USER_SET_VRING_BASE, ring, base ? base[ring] : 0);
                set(f, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
                safe_close(f->kick[ring]);
                f->kick[ring] = new_eventfd();
                set_u64(f, VHOST_USER_SET_VRING_KICK, ring, &f->kick[ring], 1);
                safe_close(f->call[ring]);
                f->call[ring] = new_eventfd();
                set_u64(f, VHOST_USER_SET_VRING_CALL, ring, &f->call[ring], 1);
        }
        if (enable)
                for (unsigned ring = 0; ring < VSOCK_RINGS; ring++)
                        set_state(f, VHOST_USER_SET_VRING_ENABLE, ring, 1);
}

static void qemu_driver_start(struct fixture *f, uint64_t features, bool enable) {
        qemu_driver_start_at(f, features, enable, NULL);
}

static void guest_kick(struct fixture *f, unsigned ring) {
        uint64_t one = 1;

        assert_int_equal(write(f->kick[ring], &one, sizeof(one)), sizeof(one));
}

/* Whether the device signalled ring's call eventfd since the last look. */
static bool called(struct fixture *f, unsigned ring) {
        uint64_t v;

        return read(f->call[ring], &v, sizeof(v)) == sizeof(v) && v > 0;
}

/* Runs the loop as main.c does, with the device's timeout, until ring is
 * called (tx calls come in bulk or after a short delay) or 5 s passed. */
static bool called_soon(struct fixture *f, unsigned ring) {
        uint64_t start = now_ms();

        while (!called(f, ring)) {
                if (now_ms() - start > 5000)
                        return false;
                ev_run_once(&f->loop, vsock_dev_timeout_ms(f->dev));
                vsock_dev_notify(f->dev);
        }
        return true;
}

/* The guest connects guest port gp to PORT_OK through the rings QEMU set
 * up; returns the host service's end. */
static int guest_connect(struct fixture *f, uint32_t gp) {
        struct vsock_hdr h = fg_hdr(&f->g, gp, PORT_OK, VSOCK_OP_REQUEST, 0);
        int fd;

        fg_send(&f->g, &h, NULL, FG_ONE_DESC);
        guest_kick(f, VSOCK_TX_RING);
        run(f);
        assert_int_equal(fg_recv(&f->g, &h, NULL, 0), 1);
        assert_int_equal(h.op, VSOCK_OP_RESPONSE);
        assert_int_equal(h.dst_port, gp);
        fd = hvsock__unix_accept(f->listen.fd);
        assert_true(fd >= 0);
        return fd;
}

/* ---- tests ---- */

static void test_qemu72_sequence(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int host = -1;
        struct vsock_hdr h;
        char buf[16];

        qemu_device_start(f, 0x201);
        /* MQ was not offered: only CONFIG is taken. */
        assert_int_equal(f->vu.protocol_features, PF_CONFIG);

        qemu_driver_start(f, ALL_FEATURES, false);
        /* PROTOCOL_FEATURES acked: the rings wait for SET_VRING_ENABLE(1). */
        for (unsigned ring = 0; ring < VSOCK_RINGS; ring++) {
                assert_true(f->vu.vqs[ring].started);
                assert_false(vq_ready(&f->vu.vqs[ring]));
        }
        fg_post_rx(&f->g, 8, 4096);
        for (unsigned ring = 0; ring < VSOCK_RINGS; ring++)
                set_state(f, VHOST_USER_SET_VRING_ENABLE, ring, 1);
        for (unsigned ring = 0; ring < VSOCK_RINGS; ring++)
                assert_true(vq_ready(&f->vu.vqs[ring]));

        /* The device works through the rings QEMU described. */
        host = guest_connect(f, 1024);
        assert_true(called(f, VSOCK_RX_RING));
        h = fg_hdr(&f->g, 1024, PORT_OK, VSOCK_OP_RW, 5);
        fg_send(&f->g, &h, "hello", FG_HDR_THEN_PAYLOAD);
        guest_kick(f, VSOCK_TX_RING);
        run(f);
        assert_int_equal(read_exact(host, buf, 5), 0);
        assert_memory_equal(buf, "hello", 5);
        assert_true(called_soon(f, VSOCK_TX_RING));

        /* Stop: ENABLE(0), then GET_VRING_BASE returns where each ring is. */
        for (unsigned ring = 0; ring < VSOCK_RINGS; ring++)
                set_state(f, VHOST_USER_SET_VRING_ENABLE, ring, 0);
        {
                struct vring_state s = { VSOCK_RX_RING, 0 };

                send_msg(f, VHOST_USER_GET_VRING_BASE, 0, &s, sizeof(s), NULL, 0);
                assert_int_equal(step(f), 0);
                assert_int_equal(recv_reply(f, VHOST_USER_GET_VRING_BASE, &s, sizeof(s)), sizeof(s));
                assert_int_equal(s.index, VSOCK_RX_RING);
                /* Every rx buffer the device took went back used. */
                assert_int_equal(s.num, f->g.mem[f->g.frx.used + 2] | f->g.mem[f->g.frx.used + 3] << 8);
                assert_true(s.num >= 1);
                s = (struct vring_state) { VSOCK_TX_RING, 0 };
                send_msg(f, VHOST_USER_GET_VRING_BASE, 0, &s, sizeof(s), NULL, 0);
                assert_int_equal(step(f), 0);
                assert_int_equal(recv_reply(f, VHOST_USER_GET_VRING_BASE, &s, sizeof(s)), sizeof(s));
                assert_int_equal(s.index, VSOCK_TX_RING);
                assert_int_equal(s.num, 2); /* REQUEST and RW */
        }
        /* A stopped ring is left alone even when kicked. */
        for (unsigned ring = 0; ring < VSOCK_RINGS; ring++)
                assert_false(f->vu.vqs[ring].started);
        h = fg_hdr(&f->g, 1024, PORT_OK, VSOCK_OP_RW, 5);
        fg_send(&f->g, &h, "again", FG_ONE_DESC);
        guest_kick(f, VSOCK_TX_RING);
        run(f);
        assert_int_equal(fg_tx_used(&f->g), 2);
}

static void test_enabled_without_protocol_features(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int host = -1;

        qemu_device_start(f, PF_CONFIG);
        /* Without PROTOCOL_FEATURES a ring runs as soon as it has a kick fd. */
        qemu_driver_start(f, ALL_FEATURES & ~(1ull << VHOST_USER_F_PROTOCOL_FEATURES), false);
        for (unsigned ring = 0; ring < VSOCK_RINGS; ring++) {
                assert_true(vq_ready(&f->vu.vqs[ring]));
                assert_true(f->kicks[ring] >= 1);
        }
        fg_post_rx(&f->g, 4, 4096);
        host = guest_connect(f, 77);
}

static void test_get_config(void **state) {
        struct fixture *f = *state;
        uint8_t out[VHOST_USER_CONFIG_MAX];
        static const uint8_t zeros[VHOST_USER_CONFIG_MAX];

        get_config(f, 0, 4, out);
        assert_memory_equal(out, "\x2a\0\0\0", 4);
        get_config(f, 4, 4, out);
        assert_memory_equal(out, zeros, 4);
        /* Past the 8 bytes of config space reads as zero, however far. */
        get_config(f, 0, VHOST_USER_CONFIG_MAX, out);
        assert_int_equal(out[0], CID);
        assert_memory_equal(out + 1, zeros, VHOST_USER_CONFIG_MAX - 1);
        get_config(f, UINT32_MAX - 2, 8, out);
        assert_memory_equal(out, zeros, 8);

        /* Bad requests still get a reply, an empty one QEMU rejects, so
         * QEMU never waits for ever: size above the maximum, a size field
         * that disagrees with the message size, a message too short. */
        {
                uint32_t hdr[3] = { 0, VHOST_USER_CONFIG_MAX + 1, 0 };
                uint8_t got[16];

                send_msg(f, VHOST_USER_GET_CONFIG, 0, hdr, sizeof(hdr), NULL, 0);
                assert_int_equal(step(f), 0);
                assert_int_equal(recv_reply(f, VHOST_USER_GET_CONFIG, got, sizeof(got)), 0);
                hdr[1] = 8;
                send_msg(f, VHOST_USER_GET_CONFIG, 0, hdr, sizeof(hdr), NULL, 0);
                assert_int_equal(step(f), 0);
                assert_int_equal(recv_reply(f, VHOST_USER_GET_CONFIG, got, sizeof(got)), 0);
                send_msg(f, VHOST_USER_GET_CONFIG, 0, hdr, 4, NULL, 0);
                assert_int_equal(step(f), 0);
                assert_int_equal(recv_reply(f, VHOST_USER_GET_CONFIG, got, sizeof(got)), 0);
        }
        assert_true(vhost_user_attached(&f->vu));
}

static void test_reply_ack(void **state) {
        struct fixture *f = *state;
        struct mem_table t = guest_table();

        /* need_reply means nothing until REPLY_ACK is negotiated. */
        send_msg(f, VHOST_USER_SET_OWNER, VHOST_USER_FLAG_NEED_REPLY, NULL, 0, NULL, 0);
        assert_int_equal(step(f), 0);
        no_reply(f);

        set_u64(f, VHOST_USER_SET_PROTOCOL_FEATURES, PF_REPLY_ACK | PF_CONFIG, NULL, 0);
        assert_int_equal(ack(f, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0), 0);
        assert_int_equal(ack_u64(f, VHOST_USER_SET_FEATURES, ALL_FEATURES, NULL, 0), 0);
        assert_int_equal(ack(f, VHOST_USER_SET_MEM_TABLE, &t, table_size(1), &f->g.memfd, 1), 0);
        assert_int_equal(ack_state(f, VHOST_USER_SET_VRING_NUM, 0, FG_NUM), 0);
        /* Failures answer non-zero. */
        assert_int_not_equal(ack_u64(f, VHOST_USER_SET_FEATURES, 1ull << 40, NULL, 0), 0);
        assert_int_not_equal(ack_state(f, VHOST_USER_SET_VRING_NUM, 0, 0), 0);
        assert_int_not_equal(ack(f, UNKNOWN_REQUEST, NULL, 0, NULL, 0), 0);
        assert_int_not_equal(ack(f, VHOST_USER_SET_CONFIG, "\0\0\0\0\4\0\0\0\0\0\0\0abcd", 16, NULL, 0), 0);
        /* Without need_reply a failure is only logged. */
        send_msg(f, UNKNOWN_REQUEST, 0, "x", 1, NULL, 0);
        assert_int_equal(step(f), 0);
        no_reply(f);
        /* A request with its own reply gets that reply and no ack besides. */
        send_msg(f, VHOST_USER_GET_QUEUE_NUM, VHOST_USER_FLAG_NEED_REPLY, NULL, 0, NULL, 0);
        assert_int_equal(step(f), 0);
        assert_int_equal(recv_u64(f, VHOST_USER_GET_QUEUE_NUM), VSOCK_RINGS);
        no_reply(f);
        assert_true(vhost_user_attached(&f->vu));
}

/* Whether the other end of our socket fd was closed (EOF within 2 s). */
static bool peer_closed(int fd) {
        char b;

        return fd_wait(fd, POLLIN, 2000) > 0 && read(fd, &b, 1) == 0;
}

/* Only one front-end at a time, but a connection that never sent a whole
 * message does not hold the slot: the next one takes it. */
static void test_silent_peer_is_replaced(void **state) {
        struct fixture *f = *state;
        int sv[2];

        /* The fixture's connection has sent half a header and stopped. */
        send_bytes(f, "\x01\x00", 2, NULL, 0);
        assert_int_equal(step(f), -EAGAIN);
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        assert_int_equal(vhost_user_offer(&f->vu, sv[1]), 1);
        assert_true(peer_closed(f->qemu));
        safe_close(f->qemu);
        f->qemu = sv[0];
        assert_int_equal(f->resets, 1);

        /* The newcomer speaks: a front-end, which the next one cannot
         * displace. */
        assert_true(get_u64(f, VHOST_USER_GET_FEATURES) != 0);
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        assert_int_equal(vhost_user_offer(&f->vu, sv[1]), -EBUSY);
        assert_true(peer_closed(sv[0]));
        safe_close(sv[0]);
        assert_true(vhost_user_attached(&f->vu));
        assert_true(get_u64(f, VHOST_USER_GET_FEATURES) != 0);
}

static void test_oversized_message(void **state) {
        struct fixture *f = *state;
        uint8_t payload[64] = { 0 };
        int fds[2] = { new_eventfd(), new_eventfd() };
        unsigned before = fd_count();

        /* Claims more than any request we take, with fds: the session ends
         * (the stream cannot be resynchronised) and the fds are closed. */
        send_raw(f, VHOST_USER_SET_MEM_TABLE, VHOST_USER_VERSION, 4096, payload, sizeof(payload), fds, 2);
        run(f);
        assert_false(vhost_user_attached(&f->vu));
        assert_int_equal(f->resets, 1);
        assert_int_equal(fd_count(), before - 1); /* and the backend's socket */
        safe_close(fds[0]);
        safe_close(fds[1]);

        /* The same for the largest size field and for a wrong version. */
        f->qemu = safe_close(f->qemu);
        qemu_connect(f);
        send_raw(f, VHOST_USER_GET_FEATURES, VHOST_USER_VERSION, UINT32_MAX, NULL, 0, NULL, 0);
        run(f);
        assert_false(vhost_user_attached(&f->vu));
        f->qemu = safe_close(f->qemu);
        qemu_connect(f);
        send_raw(f, VHOST_USER_GET_FEATURES, 2, 0, NULL, 0, NULL, 0);
        run(f);
        assert_false(vhost_user_attached(&f->vu));
        assert_int_equal(f->resets, 3);
}

static void test_short_payloads(void **state) {
        struct fixture *f = *state;
        static const uint8_t zeros[64];
        static const uint32_t requests[] = {
                VHOST_USER_SET_FEATURES, VHOST_USER_SET_PROTOCOL_FEATURES, VHOST_USER_SET_MEM_TABLE,
                VHOST_USER_SET_VRING_NUM, VHOST_USER_SET_VRING_ADDR, VHOST_USER_SET_VRING_BASE,
                VHOST_USER_SET_VRING_KICK, VHOST_USER_SET_VRING_CALL, VHOST_USER_SET_VRING_ERR,
                VHOST_USER_SET_VRING_ENABLE,
        };

        /* Payloads shorter than the request's structure fail; the bytes past
         * the message are never read as if they were there. */
        set_u64(f, VHOST_USER_SET_PROTOCOL_FEATURES, PF_REPLY_ACK | PF_CONFIG, NULL, 0);
        for (size_t i = 0; i < ELEMENTSOF(requests); i++) {
                assert_int_not_equal(ack(f, requests[i], zeros, 0, NULL, 0), 0);
                assert_int_not_equal(ack(f, requests[i], zeros, 4, NULL, 0), 0);
        }
        {
                struct vring_addr a = ring_addr(f, 0);
                assert_int_not_equal(ack(f, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a) - 8, NULL, 0), 0);
        }
        assert_int_equal(f->vu.acked_features, 0);
        assert_int_equal(f->vu.mem.n, 0);
        assert_true(vhost_user_attached(&f->vu));
}

static void test_fd_count_mismatch(void **state) {
        struct fixture *f = *state;
        struct mem_table t = guest_table();
        int fds[10];
        unsigned before;

        set_u64(f, VHOST_USER_SET_PROTOCOL_FEATURES, PF_REPLY_ACK | PF_CONFIG, NULL, 0);
        for (unsigned i = 0; i < ELEMENTSOF(fds); i++)
                fds[i] = i == 0 ? f->g.memfd : new_eventfd();
        before = fd_count();

        /* More fds than regions. */
        assert_int_not_equal(ack(f, VHOST_USER_SET_MEM_TABLE, &t, table_size(1), fds, 3), 0);
        assert_int_equal(fd_count(), before);
        /* Fewer fds than regions. */
        t.nregions = 2;
        t.regions[1] = (struct region) { FG_GPA + FG_SIZE, 4096, FG_UVA + FG_SIZE, 0 };
        assert_int_not_equal(ack(f, VHOST_USER_SET_MEM_TABLE, &t, table_size(2), fds, 1), 0);
        assert_int_equal(fd_count(), before);
        assert_int_equal(f->vu.mem.n, 0);
        /* Fds on requests that take none. */
        assert_int_not_equal(ack(f, VHOST_USER_SET_OWNER, NULL, 0, fds + 1, 2), 0);
        assert_int_not_equal(ack_u64(f, VHOST_USER_SET_FEATURES, ALL_FEATURES, fds + 1, 1), 0);
        assert_int_not_equal(ack(f, UNKNOWN_REQUEST, NULL, 0, fds + 1, 3), 0);
        send_msg(f, VHOST_USER_GET_FEATURES, 0, NULL, 0, fds + 1, 2);
        assert_int_equal(step(f), 0);
        no_reply(f);
        assert_int_equal(fd_count(), before);
        /* Ring fds: "no fd" with an fd, an fd missing, two fds. */
        assert_int_not_equal(ack_u64(f, VHOST_USER_SET_VRING_CALL, 0 | VHOST_USER_VRING_NOFD, fds + 1, 1), 0);
        assert_int_not_equal(ack_u64(f, VHOST_USER_SET_VRING_KICK, 1, NULL, 0), 0);
        assert_int_not_equal(ack_u64(f, VHOST_USER_SET_VRING_ERR, 1, fds + 1, 2), 0);
        assert_int_equal(fd_count(), before);
        assert_int_equal(f->vu.vqs[0].call_fd, -1);
        assert_int_equal(f->vu.vqs[1].kick.fd, -1);
        /* Polling mode (no kick fd) is refused, but CALL/ERR without fds are fine. */
        assert_int_not_equal(ack_u64(f, VHOST_USER_SET_VRING_KICK, 1 | VHOST_USER_VRING_NOFD, NULL, 0), 0);
        assert_int_equal(ack_u64(f, VHOST_USER_SET_VRING_CALL, 1 | VHOST_USER_VRING_NOFD, NULL, 0), 0);

        /* More fds than any request takes: the session ends, all closed. */
        send_msg(f, VHOST_USER_SET_MEM_TABLE, 0, &t, table_size(1), fds, ELEMENTSOF(fds));
        run(f);
        assert_false(vhost_user_attached(&f->vu));
        assert_int_equal(fd_count(), before - 1); /* the backend's socket */
        for (unsigned i = 1; i < ELEMENTSOF(fds); i++)
                safe_close(fds[i]);
}

static void test_bad_regions(void **state) {
        struct fixture *f = *state;
        struct mem_table good = guest_table();
        int small = new_memfd(8192);
        unsigned before;
        struct {
                const char *what;
                struct region r;
                int fd;
        } bad[] = {
                { "gpa + size wraps", { UINT64_MAX - 4095, 8192, FG_UVA, 0 }, f->g.memfd },
                { "uva + size wraps", { FG_GPA, 8192, UINT64_MAX - 4095, 0 }, f->g.memfd },
                { "size 0", { FG_GPA, 0, FG_UVA, 0 }, f->g.memfd },
                { "mmap_offset past the end", { FG_GPA, 4096, FG_UVA, 8192 }, small },
                { "mmap_offset + size past the end", { FG_GPA, 8192, FG_UVA, 4096 }, small },
                { "size past the end", { FG_GPA, 1u << 20, FG_UVA, 0 }, small },
                { "mmap_offset + size wraps", { FG_GPA, 8192, FG_UVA, UINT64_MAX - 4095 }, small },
                { "huge size", { FG_GPA, UINT64_MAX / 2, FG_UVA, 0 }, small },
                { "not mappable", { FG_GPA, 4096, FG_UVA, 0 }, -1 },
        };

        set_u64(f, VHOST_USER_SET_PROTOCOL_FEATURES, PF_REPLY_ACK | PF_CONFIG, NULL, 0);
        assert_int_equal(ack(f, VHOST_USER_SET_MEM_TABLE, &good, table_size(1), &f->g.memfd, 1), 0);
        before = fd_count();
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct mem_table t = { .nregions = 1, .regions[0] = bad[i].r };
                int fd = bad[i].fd >= 0 ? bad[i].fd : new_eventfd();

                print_message("region: %s\n", bad[i].what);
                assert_int_not_equal(ack(f, VHOST_USER_SET_MEM_TABLE, &t, table_size(1), &fd, 1), 0);
                if (bad[i].fd < 0)
                        safe_close(fd);
                assert_int_equal(fd_count(), before);
                /* The table in use is untouched. */
                assert_int_equal(f->vu.mem.n, 1);
                assert_int_equal(f->vu.mem.regions[0].gpa, FG_GPA);
        }
        /* Region counts: none, more than the maximum, more than the payload holds. */
        {
                struct mem_table t = good;
                int fds[GUEST_MEM_REGIONS_MAX + 1];

                for (unsigned i = 0; i < ELEMENTSOF(fds); i++) {
                        fds[i] = f->g.memfd;
                        t.regions[i] = good.regions[0];
                        t.regions[i].gpa += (uint64_t) i * FG_SIZE;
                        t.regions[i].uva += (uint64_t) i * FG_SIZE;
                }
                t.nregions = 0;
                assert_int_not_equal(ack(f, VHOST_USER_SET_MEM_TABLE, &t, table_size(0), NULL, 0), 0);
                t.nregions = GUEST_MEM_REGIONS_MAX + 1;
                assert_int_not_equal(ack(f, VHOST_USER_SET_MEM_TABLE, &t, table_size(GUEST_MEM_REGIONS_MAX + 1),
                                         fds, GUEST_MEM_REGIONS_MAX), 0);
                t.nregions = 2;
                assert_int_not_equal(ack(f, VHOST_USER_SET_MEM_TABLE, &t, table_size(1), fds, 2), 0);
                /* Eight regions are fine. */
                t.nregions = GUEST_MEM_REGIONS_MAX;
                assert_int_equal(ack(f, VHOST_USER_SET_MEM_TABLE, &t, table_size(GUEST_MEM_REGIONS_MAX),
                                     fds, GUEST_MEM_REGIONS_MAX), 0);
                assert_int_equal(f->vu.mem.n, GUEST_MEM_REGIONS_MAX);
                assert_int_equal(fd_count(), before);
        }
        /* A region at a non-page-aligned offset inside the file maps right. */
        {
                struct mem_table t = { .nregions = 1,
                                       .regions[0] = { FG_GPA, FG_SIZE - 4096 - 100, FG_UVA, 4096 + 100 } };
                uint8_t *p;

                f->g.mem[4096 + 100] = 0x5a;
                assert_int_equal(ack(f, VHOST_USER_SET_MEM_TABLE, &t, table_size(1), &f->g.memfd, 1), 0);
                p = guest_mem_gpa(&f->vu.mem, FG_GPA, 1);
                assert_non_null(p);
                assert_int_equal(*p, 0x5a);
                assert_null(guest_mem_gpa(&f->vu.mem, FG_GPA + FG_SIZE - 4096 - 100, 1));
        }
        safe_close(small);
}

static void test_vring_addr_outside(void **state) {
        struct fixture *f = *state;
        struct mem_table t = guest_table();
        struct vring_addr a;

        set_u64(f, VHOST_USER_SET_PROTOCOL_FEATURES, PF_REPLY_ACK | PF_CONFIG, NULL, 0);
        assert_int_equal(ack_u64(f, VHOST_USER_SET_FEATURES, ALL_FEATURES, NULL, 0), 0);
        assert_int_equal(ack(f, VHOST_USER_SET_MEM_TABLE, &t, table_size(1), &f->g.memfd, 1), 0);
        assert_int_equal(ack_state(f, VHOST_USER_SET_VRING_NUM, 1, FG_NUM), 0);

        /* Before the table, past its end, straddling its end, wrapping. */
        a = ring_addr(f, 1);
        a.desc = FG_UVA - 4096;
        assert_int_not_equal(ack(f, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
        a = ring_addr(f, 1);
        a.avail = FG_UVA + FG_SIZE;
        assert_int_not_equal(ack(f, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
        a = ring_addr(f, 1);
        a.used = FG_UVA + FG_SIZE - 16;
        assert_int_not_equal(ack(f, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
        a = ring_addr(f, 1);
        a.desc = UINT64_MAX - 8;
        assert_int_not_equal(ack(f, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
        assert_null(f->vu.vqs[1].desc);

        /* Inside: fine. Then a queue size that no longer fits: unmapped again. */
        a = ring_addr(f, 1);
        a.used = FG_UVA + FG_SIZE - vq_used_size(FG_NUM);
        assert_int_equal(ack(f, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
        assert_non_null(f->vu.vqs[1].desc);
        assert_int_not_equal(ack_state(f, VHOST_USER_SET_VRING_NUM, 1, 2 * FG_NUM), 0);
        assert_null(f->vu.vqs[1].desc);
        {
                int kick = new_eventfd();
                assert_int_equal(ack_u64(f, VHOST_USER_SET_VRING_KICK, 1, &kick, 1), 0);
                safe_close(kick);
        }
        assert_int_equal(ack_state(f, VHOST_USER_SET_VRING_ENABLE, 1, 1), 0);
        assert_false(vq_ready(&f->vu.vqs[1]));
        /* A new table that no longer holds the ring unmaps it too. */
        assert_int_equal(ack_state(f, VHOST_USER_SET_VRING_NUM, 1, FG_NUM), 0);
        assert_true(vq_ready(&f->vu.vqs[1]));
        t.regions[0].size = FG_SIZE / 2;
        assert_int_equal(ack(f, VHOST_USER_SET_MEM_TABLE, &t, table_size(1), &f->g.memfd, 1), 0);
        assert_false(vq_ready(&f->vu.vqs[1]));
}

static void test_ring_index(void **state) {
        struct fixture *f = *state;
        struct vring_addr a = ring_addr(f, 0);
        unsigned before;
        int efd = new_eventfd();

        set_u64(f, VHOST_USER_SET_PROTOCOL_FEATURES, PF_REPLY_ACK | PF_CONFIG, NULL, 0);
        before = fd_count();
        for (uint32_t index = VSOCK_RINGS; index < 300; index += 97) {
                a.index = index;
                assert_int_not_equal(ack_state(f, VHOST_USER_SET_VRING_NUM, index, FG_NUM), 0);
                assert_int_not_equal(ack_state(f, VHOST_USER_SET_VRING_BASE, index, 0), 0);
                assert_int_not_equal(ack_state(f, VHOST_USER_SET_VRING_ENABLE, index, 1), 0);
                assert_int_not_equal(ack_state(f, VHOST_USER_GET_VRING_BASE, index, 0), 0);
                assert_int_not_equal(ack(f, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
                assert_int_not_equal(ack_u64(f, VHOST_USER_SET_VRING_KICK, index, &efd, 1), 0);
                assert_int_not_equal(ack_u64(f, VHOST_USER_SET_VRING_CALL, index, &efd, 1), 0);
                assert_int_not_equal(ack_u64(f, VHOST_USER_SET_VRING_ERR, index, &efd, 1), 0);
                assert_int_equal(fd_count(), before);
        }
        /* Bits above the index and the no-fd flag. */
        assert_int_not_equal(ack_u64(f, VHOST_USER_SET_VRING_CALL, 1ull << 9, &efd, 1), 0);
        assert_int_not_equal(ack_u64(f, VHOST_USER_SET_VRING_CALL, 1ull << 63, &efd, 1), 0);
        /* Queue sizes: 0, above the maximum, not a power of two; base above 16 bits;
         * enable neither 0 nor 1. */
        assert_int_not_equal(ack_state(f, VHOST_USER_SET_VRING_NUM, 0, 0), 0);
        assert_int_not_equal(ack_state(f, VHOST_USER_SET_VRING_NUM, 0, VQ_NUM_MAX * 2), 0);
        assert_int_not_equal(ack_state(f, VHOST_USER_SET_VRING_NUM, 0, 100), 0);
        assert_int_not_equal(ack_state(f, VHOST_USER_SET_VRING_BASE, 0, 65536), 0);
        assert_int_not_equal(ack_state(f, VHOST_USER_SET_VRING_ENABLE, 0, 2), 0);
        assert_int_equal(ack_state(f, VHOST_USER_SET_VRING_NUM, 0, VQ_NUM_MAX), 0);
        assert_int_equal(ack_state(f, VHOST_USER_SET_VRING_NUM, 0, 1), 0);
        assert_int_equal(fd_count(), before);
        safe_close(efd);
}

static void test_disconnect_resets(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int host = -1;
        unsigned before;
        char c;

        before = fd_count();
        qemu_device_start(f, PF_CONFIG | PF_REPLY_ACK);
        qemu_driver_start(f, ALL_FEATURES, true);
        fg_post_rx(&f->g, 8, 4096);
        host = guest_connect(f, 2000);
        assert_int_equal(vsock_dev_connections(f->dev), 1);

        /* QEMU goes away (killed, or the VM shut down). */
        f->qemu = safe_close(f->qemu);
        run(f);
        assert_false(vhost_user_attached(&f->vu));
        assert_int_equal(f->resets, 1);
        assert_int_equal(vsock_dev_connections(f->dev), 0);
        assert_int_equal(read(host, &c, 1), 0); /* the host side was closed */
        assert_int_equal(f->vu.mem.n, 0);
        assert_int_equal(f->vu.acked_features, 0);
        assert_int_equal(f->vu.protocol_features, 0);
        for (unsigned ring = 0; ring < VSOCK_RINGS; ring++) {
                assert_int_equal(f->vu.vqs[ring].kick.fd, -1);
                assert_int_equal(f->vu.vqs[ring].call_fd, -1);
                assert_int_equal(f->vu.vqs[ring].err_fd, -1);
                assert_int_equal(f->vu.vqs[ring].num, 0);
                assert_false(f->vu.vqs[ring].started);
                assert_false(f->vu.vqs[ring].enabled);
        }
        /* Our eventfd copies, the host connection: nothing else stays open. */
        assert_int_equal(fd_count(), before - 1 /* backend socket */ - 1 /* QEMU's end */ + 4 + 1);

        /* A new QEMU with a freshly booted guest runs the whole sequence again. */
        host = safe_close(host);
        fg_done(&f->g);
        fg_init(&f->g, CID, true);
        qemu_connect(f);
        qemu_device_start(f, PF_CONFIG | PF_REPLY_ACK);
        qemu_driver_start(f, ALL_FEATURES, true);
        fg_post_rx(&f->g, 8, 4096);
        host = guest_connect(f, 2000);
        assert_int_equal(vsock_dev_connections(f->dev), 1);
        /* A second QEMU while one is attached is turned away. */
        {
                int sv[2];

                assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
                assert_int_equal(vhost_user_attach(&f->vu, sv[1]), -EBUSY);
                safe_close(sv[0]);
        }
}

static void test_disconnect_with_host_traffic(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int host1 = -1, host2 = -1;

        qemu_device_start(f, PF_CONFIG);
        qemu_driver_start(f, ALL_FEATURES, true);
        fg_post_rx(&f->g, 8, 4096);
        host1 = guest_connect(f, 3000);
        host2 = guest_connect(f, 3001);
        /* QEMU's EOF and host data land in the same loop turn, QEMU's first:
         * the reset must not free connections the same batch still names. */
        f->qemu = safe_close(f->qemu);
        assert_int_equal(write(host1, "late", 4), 4);
        assert_int_equal(write(host2, "late", 4), 4);
        assert_int_equal(ev_run_once(&f->loop, 0), 3);
        vsock_dev_gc(f->dev);
        assert_false(vhost_user_attached(&f->vu));
        assert_int_equal(vsock_dev_connections(f->dev), 0);
}

static void test_kick_drained_while_not_ready(void **state) {
        struct fixture *f = *state;

        qemu_device_start(f, PF_CONFIG);
        qemu_driver_start(f, ALL_FEATURES, false);
        /* Kicked before SET_VRING_ENABLE: the kick is consumed, not left to
         * wake the loop again and again. */
        guest_kick(f, VSOCK_TX_RING);
        assert_int_equal(ev_run_once(&f->loop, 0), 1);
        assert_int_equal(ev_run_once(&f->loop, 0), 0);
        /* The same for a ring the guest broke. */
        set_state(f, VHOST_USER_SET_VRING_ENABLE, VSOCK_TX_RING, 1);
        f->g.mem[f->g.ftx.avail + 3] = 0x10; /* avail idx far ahead */
        guest_kick(f, VSOCK_TX_RING);
        run(f);
        assert_true(f->vu.vqs[VSOCK_TX_RING].broken);
        guest_kick(f, VSOCK_TX_RING);
        assert_int_equal(ev_run_once(&f->loop, 0), 1);
        assert_int_equal(ev_run_once(&f->loop, 0), 0);
        /* SET_VRING_BASE (a driver restart) repairs it. */
        f->g.mem[f->g.ftx.avail + 3] = 0;
        set_state(f, VHOST_USER_SET_VRING_BASE, VSOCK_TX_RING, 0);
        assert_false(f->vu.vqs[VSOCK_TX_RING].broken);
}

static void test_reset_owner(void **state) {
        struct fixture *f = *state;

        qemu_device_start(f, PF_CONFIG);
        qemu_driver_start(f, ALL_FEATURES, true);
        set(f, VHOST_USER_RESET_OWNER, NULL, 0, NULL, 0);
        assert_int_equal(f->resets, 1);
        assert_false(vq_ready(&f->vu.vqs[VSOCK_TX_RING]));
        /* The old kick eventfd (QEMU still has it) no longer wakes the loop. */
        guest_kick(f, VSOCK_TX_RING);
        assert_int_equal(ev_run_once(&f->loop, 0), 0);
        /* And the device can be set up again. */
        qemu_driver_start(f, ALL_FEATURES, true);
        fg_post_rx(&f->g, 4, 4096);
        {
                _cleanup_close_ int host = guest_connect(f, 4000);
        }
}

/* Asks for an interrupt at ring's next used buffer (EVENT_IDX's used_event,
 * which the fake guest otherwise leaves at 0). */
static void want_interrupt(struct fixture *f, unsigned ring) {
        struct fake_vring *r = fake_ring(f, ring);
        uint8_t *used_idx = f->g.mem + r->used + 2;
        uint8_t *used_event = f->g.mem + r->avail + 4 + 2 * FG_NUM;

        memcpy(used_event, used_idx, 2);
}

/* The host writes what and the guest receives it as one RW on gp. */
static void host_to_guest(struct fixture *f, int host, uint32_t gp, const char *what) {
        size_t n = strlen(what);
        struct vsock_hdr h;
        char buf[64];

        assert_int_equal(write(host, what, n), (ssize_t) n);
        run(f);
        assert_int_equal(fg_recv(&f->g, &h, buf, sizeof(buf)), 1);
        assert_int_equal(h.op, VSOCK_OP_RW);
        assert_int_equal(h.dst_port, gp);
        assert_int_equal(h.len, n);
        assert_memory_equal(buf, what, n);
}

/* The guest sends what on gp and the host reads it. */
static void guest_to_host(struct fixture *f, int host, uint32_t gp, const char *what) {
        size_t n = strlen(what);
        struct vsock_hdr h = fg_hdr(&f->g, gp, PORT_OK, VSOCK_OP_RW, (uint32_t) n);
        char buf[64];

        fg_send(&f->g, &h, what, FG_ONE_DESC);
        guest_kick(f, VSOCK_TX_RING);
        run(f);
        assert_int_equal(read_exact(host, buf, n), 0);
        assert_memory_equal(buf, what, n);
}

static void test_partial_message(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int host = -1;
        uint8_t msg[VHOST_USER_HDR_SIZE + 8];
        uint64_t ring = VSOCK_RX_RING;
        int call;

        qemu_device_start(f, PF_CONFIG);
        qemu_driver_start(f, ALL_FEATURES, true);
        fg_post_rx(&f->g, 16, 4096);
        host = guest_connect(f, 2500);

        /* QEMU (or anything on --socket) sends 5 bytes of a SET_VRING_CALL
         * with its fd, and stops. */
        put_hdr(msg, VHOST_USER_SET_VRING_CALL, VHOST_USER_VERSION, 8);
        memcpy(msg + VHOST_USER_HDR_SIZE, &ring, 8);
        call = new_eventfd();
        send_bytes(f, msg, 5, &call, 1);
        run(f);
        assert_true(vhost_user_attached(&f->vu));
        no_reply(f);

        /* The guest's traffic keeps flowing meanwhile, both ways. */
        host_to_guest(f, host, 2500, "ping");
        guest_to_host(f, host, 2500, "pong");

        /* The rest comes in two more pieces, the header's end with part of
         * the payload, then the payload's end: handled once complete, with
         * the fd that came with its first byte. */
        send_bytes(f, msg + 5, 9, NULL, 0);
        run(f);
        send_bytes(f, msg + 14, sizeof(msg) - 14, NULL, 0);
        run(f);
        assert_true(vhost_user_attached(&f->vu));
        no_reply(f);
        safe_close(f->call[VSOCK_RX_RING]);
        f->call[VSOCK_RX_RING] = call;
        want_interrupt(f, VSOCK_RX_RING);
        host_to_guest(f, host, 2500, "again");
        assert_true(called(f, VSOCK_RX_RING));

        /* A request with a reply, one byte at a time: one reply, at the end. */
        put_hdr(msg, VHOST_USER_GET_QUEUE_NUM, VHOST_USER_VERSION, 0);
        for (unsigned i = 0; i < VHOST_USER_HDR_SIZE; i++) {
                no_reply(f);
                send_bytes(f, msg + i, 1, NULL, 0);
                run(f);
        }
        assert_int_equal(recv_u64(f, VHOST_USER_GET_QUEUE_NUM), VSOCK_RINGS);
        no_reply(f);
}

static void test_partial_message_eof(void **state) {
        struct fixture *f = *state;
        uint8_t msg[VHOST_USER_HDR_SIZE + 8] = { 0 };
        int fds[2] = { new_eventfd(), new_eventfd() };
        unsigned before = fd_count();

        /* Half a message with two fds, then QEMU goes away: the session ends
         * and the fds held for the message are closed. */
        put_hdr(msg, VHOST_USER_SET_VRING_KICK, VHOST_USER_VERSION, 8);
        send_bytes(f, msg, VHOST_USER_HDR_SIZE + 3, fds, 2);
        run(f);
        assert_true(vhost_user_attached(&f->vu));
        assert_int_equal(fd_count(), before + 2);
        f->qemu = safe_close(f->qemu);
        run(f);
        assert_false(vhost_user_attached(&f->vu));
        assert_int_equal(fd_count(), before - 1 /* QEMU's end */ - 1 /* the backend's */);

        /* The same when the session ends for another reason (here: the
         * daemon detaches) with a part of a message held. */
        qemu_connect(f);
        send_bytes(f, msg, 1, fds, 2);
        run(f);
        vhost_user_detach(&f->vu);
        f->qemu = safe_close(f->qemu);
        assert_int_equal(fd_count(), before - 2);
        safe_close(fds[0]);
        safe_close(fds[1]);
}

static void test_replies_not_read(void **state) {
        struct fixture *f = *state;
        unsigned sent = 0;

        /* A peer that asks and never reads the replies: once they fill the
         * socket, its session ends instead of the daemon blocking on it. */
        while (sent < 100000 && vhost_user_attached(&f->vu)) {
                send_msg(f, VHOST_USER_GET_FEATURES, 0, NULL, 0, NULL, 0);
                sent++;
                run(f);
        }
        assert_false(vhost_user_attached(&f->vu));
        assert_true(sent > 1);
}

/* Returns the ring's base, as QEMU keeps it for the restart. */
static uint16_t stop_ring(struct fixture *f, unsigned ring) {
        struct vring_state s = { ring, 0 };

        set_state(f, VHOST_USER_SET_VRING_ENABLE, ring, 0);
        send_msg(f, VHOST_USER_GET_VRING_BASE, 0, &s, sizeof(s), NULL, 0);
        assert_int_equal(step(f), 0);
        assert_int_equal(recv_reply(f, VHOST_USER_GET_VRING_BASE, &s, sizeof(s)), sizeof(s));
        assert_int_equal(s.index, ring);
        return (uint16_t) s.num;
}

static void test_guest_reboot(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int host = -1, other = -1;
        char c;

        qemu_device_start(f, PF_CONFIG | PF_REPLY_ACK);
        qemu_driver_start(f, ALL_FEATURES, true);
        fg_post_rx(&f->g, 16, 4096);
        host = guest_connect(f, 2000);
        other = guest_connect(f, 2001);
        assert_int_equal(vsock_dev_connections(f->dev), 2);

        /* The guest reboots without a QEMU restart: its driver resets the
         * device and QEMU stops the rings on the same session, as it does
         * for a pause: the connections stay for now. */
        stop_ring(f, VSOCK_RX_RING);
        stop_ring(f, VSOCK_TX_RING);
        run(f);
        assert_true(vhost_user_attached(&f->vu));
        assert_int_equal(f->resets, 0);
        assert_int_equal(vsock_dev_connections(f->dev), 2);

        /* The new driver starts its rings at 0: the device is reset, and
         * every host program sees its connection end. */
        fg_done(&f->g);
        fg_init(&f->g, CID, true);
        qemu_driver_start(f, ALL_FEATURES, true);
        run(f);
        assert_int_equal(f->resets, 1);
        assert_int_equal(vsock_dev_connections(f->dev), 0);
        assert_int_equal(read(host, &c, 1), 0);
        assert_int_equal(read(other, &c, 1), 0);
        host = safe_close(host);
        other = safe_close(other);

        /* No RST went to the new driver for connections it never had; the
         * same guest ports connect again, and a port it never used is
         * unknown (RST, no stale connection). */
        fg_post_rx(&f->g, 16, 4096);
        {
                struct vsock_hdr h;

                assert_int_equal(fg_recv(&f->g, &h, NULL, 0), 0);
        }
        host = guest_connect(f, 2000);
        host_to_guest(f, host, 2000, "fresh");
        guest_to_host(f, host, 2000, "start");
        {
                struct vsock_hdr h = fg_hdr(&f->g, 2001, PORT_OK, VSOCK_OP_RW, 1);

                fg_send(&f->g, &h, "x", FG_ONE_DESC);
                guest_kick(f, VSOCK_TX_RING);
                run(f);
                assert_int_equal(fg_recv(&f->g, &h, NULL, 0), 1);
                assert_int_equal(h.op, VSOCK_OP_RST);
                assert_int_equal(h.dst_port, 2001);
        }
        assert_int_equal(vsock_dev_connections(f->dev), 1);
        assert_int_equal(f->resets, 1);
}

static void test_vm_pause(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int host = -1;
        uint16_t base[VSOCK_RINGS];
        struct vsock_hdr h;
        char buf[64], c;

        qemu_device_start(f, PF_CONFIG | PF_REPLY_ACK);
        qemu_driver_start(f, ALL_FEATURES, true);
        fg_post_rx(&f->g, 16, 4096);
        host = guest_connect(f, 2000);
        host_to_guest(f, host, 2000, "before");

        /* QEMU pauses the VM: the rings stop. The host writes meanwhile;
         * nothing reaches the stopped rings. */
        base[VSOCK_RX_RING] = stop_ring(f, VSOCK_RX_RING);
        base[VSOCK_TX_RING] = stop_ring(f, VSOCK_TX_RING);
        assert_int_equal(write(host, "paused", 6), 6);
        run(f);
        assert_int_equal(fg_recv(&f->g, &h, buf, sizeof(buf)), 0);
        assert_int_equal(vsock_dev_connections(f->dev), 1);

        /* QEMU resumes: each ring goes on where it stopped. The connection
         * is still there, and what the host wrote arrives. */
        qemu_driver_start_at(f, ALL_FEATURES, true, base);
        run(f);
        assert_int_equal(f->resets, 0);
        assert_int_equal(fg_recv(&f->g, &h, buf, sizeof(buf)), 1);
        assert_int_equal(h.op, VSOCK_OP_RW);
        assert_int_equal(h.dst_port, 2000);
        assert_int_equal(h.len, 6);
        assert_memory_equal(buf, "paused", 6);
        guest_to_host(f, host, 2000, "after");
        assert_false(f->vu.suspended);

        /* Stopped again and restarted with new kick fds but no SET_VRING_BASE:
         * the rings go on where they stopped, and the device is not left
         * looking paused. */
        stop_ring(f, VSOCK_RX_RING);
        stop_ring(f, VSOCK_TX_RING);
        assert_true(f->vu.suspended);
        for (unsigned ring = 0; ring < VSOCK_RINGS; ring++) {
                safe_close(f->kick[ring]);
                f->kick[ring] = new_eventfd();
                set_u64(f, VHOST_USER_SET_VRING_KICK, ring, &f->kick[ring], 1);
                set_state(f, VHOST_USER_SET_VRING_ENABLE, ring, 1);
        }
        assert_false(f->vu.suspended);
        assert_int_equal(f->resets, 0);
        guest_to_host(f, host, 2000, "again");

        /* Stopped again, and the rx ring comes back where it was but the tx
         * ring at another index: a new driver after all. */
        base[VSOCK_RX_RING] = stop_ring(f, VSOCK_RX_RING);
        base[VSOCK_TX_RING] = stop_ring(f, VSOCK_TX_RING);
        base[VSOCK_TX_RING] = (uint16_t) (base[VSOCK_TX_RING] + 1);
        qemu_driver_start_at(f, ALL_FEATURES, true, base);
        run(f);
        assert_int_equal(f->resets, 1);
        assert_int_equal(vsock_dev_connections(f->dev), 0);
        assert_int_equal(read(host, &c, 1), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_qemu72_sequence, setup, teardown),
                cmocka_unit_test_setup_teardown(test_vm_pause, setup, teardown),
                cmocka_unit_test_setup_teardown(test_enabled_without_protocol_features, setup, teardown),
                cmocka_unit_test_setup_teardown(test_get_config, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reply_ack, setup, teardown),
                cmocka_unit_test_setup_teardown(test_silent_peer_is_replaced, setup, teardown),
                cmocka_unit_test_setup_teardown(test_oversized_message, setup, teardown),
                cmocka_unit_test_setup_teardown(test_short_payloads, setup, teardown),
                cmocka_unit_test_setup_teardown(test_fd_count_mismatch, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_regions, setup, teardown),
                cmocka_unit_test_setup_teardown(test_vring_addr_outside, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ring_index, setup, teardown),
                cmocka_unit_test_setup_teardown(test_disconnect_resets, setup, teardown),
                cmocka_unit_test_setup_teardown(test_disconnect_with_host_traffic, setup, teardown),
                cmocka_unit_test_setup_teardown(test_kick_drained_while_not_ready, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reset_owner, setup, teardown),
                cmocka_unit_test_setup_teardown(test_guest_reboot, setup, teardown),
                cmocka_unit_test_setup_teardown(test_partial_message, setup, teardown),
                cmocka_unit_test_setup_teardown(test_partial_message_eof, setup, teardown),
                cmocka_unit_test_setup_teardown(test_replies_not_read, setup, teardown),
        };
        char *err = NULL;

        test_setup_env(60);
        assert_int_equal(hvsock__registry_update(getenv("HVSOCK_CONFIG_DIR"), add_services, NULL, &err), 0);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
