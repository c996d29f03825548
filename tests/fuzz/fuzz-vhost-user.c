/* SPDX-License-Identifier: MIT */
/*
 * hvsock-vhost's vhost-user message layer against a hostile QEMU: the input
 * is a byte stream cut into chunks, each sent with its own fds over a
 * socketpair to a backend wired to the vsock device (as in main.c). The
 * backend must not crash, hang, leak an fd, or touch memory outside what the
 * memory table maps.
 *
 * Input: records of
 *   u8 control, u16 length (little-endian), length bytes.
 * control bit 7 set: the bytes are guest memory: a u16 offset (LE), then
 *   data written there into the 64 KiB guest memfd (rings, packets).
 * control bit 7 clear: the bytes go to the backend in one sendmsg with
 *   (control & 0xf) fds attached: each a dup of the guest memfd, or with
 *   bit 4 set a fresh eventfd. A chunk may hold any part of a message, or
 *   several: after each one the backend runs until it has read everything
 *   there, so a message cut across chunks is received in pieces, with QEMU
 *   pausing in between, as a slow or hostile peer would.
 * Then the stream ends (QEMU hangs up) and the backend runs until it detaches.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ev.h"
#include "macro.h"
#include "vhost-user.h"
#include "vsock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEM_SIZE 0x10000
#define MAX_FDS 15
#define MAX_TURNS 4096

struct harness {
        struct vhost_user vu;
        struct vsock_dev *dev;
};

static void on_kick(void *userdata, unsigned index) {
        struct harness *h = userdata;

        if (index == VSOCK_TX_RING)
                vsock_dev_process_tx(h->dev);
        else
                vsock_dev_process_rx(h->dev);
}

static void on_reset(void *userdata) {
        struct harness *h = userdata;

        vsock_dev_reset(h->dev);
}

static const struct vhost_user_ops ops = {
        .ring_kick = on_kick,
        .reset = on_reset,
};

/* The lowest free fd number: the same before and after unless fds leaked. */
static int lowest_free_fd(void) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                abort();
        close(fd);
        return fd;
}

static void send_chunk(int sock, int memfd, uint8_t control, const uint8_t *p, size_t len) {
        union {
                char buf[CMSG_SPACE(MAX_FDS * sizeof(int))];
                struct cmsghdr align;
        } cmsg;
        struct iovec iov = { (void *) p, len };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        unsigned n = control & 0xf;
        int fds[MAX_FDS];

        for (unsigned i = 0; i < n; i++) {
                fds[i] = control & 0x10 ? eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)
                                        : fcntl(memfd, F_DUPFD_CLOEXEC, 0);
                if (fds[i] < 0)
                        abort();
        }
        if (n > 0) {
                struct cmsghdr *c;

                memset(&cmsg, 0, sizeof(cmsg));
                mh.msg_control = cmsg.buf;
                mh.msg_controllen = CMSG_SPACE(n * sizeof(int));
                c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(n * sizeof(int));
                memcpy(CMSG_DATA(c), fds, n * sizeof(int));
        }
        /* A full socket buffer just cuts the input short. */
        (void) sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        for (unsigned i = 0; i < n; i++)
                close(fds[i]);
}

static void drain(int sock) {
        uint8_t buf[4096];

        while (recv(sock, buf, sizeof(buf), MSG_DONTWAIT) > 0)
                ;
}

/* Runs the backend until it waits for more input (or is gone). Replies are
 * drained so they never fill the socket. */
static void run_idle(struct ev_loop *loop, struct harness *h, int qemu) {
        for (unsigned turn = 0; turn < MAX_TURNS && vhost_user_attached(&h->vu); turn++) {
                int n = ev_run_once(loop, 0);

                vsock_dev_gc(h->dev);
                drain(qemu);
                if (n <= 0)
                        break;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static struct harness h;
        struct vsock_dev_config cfg = {
                .guest_cid = 3,
                .uds_path = "/nonexistent/hvsock-fuzz",
                .config_dir = "/nonexistent/hvsock-fuzz-config",
                .max_connections = 8,
                .tx_buffer_size = 4096,
        };
        struct ev_loop loop;
        int free_before = lowest_free_fd();
        int sv[2], memfd;
        size_t off = 0;

        signal(SIGPIPE, SIG_IGN);
        memfd = memfd_create("fuzz-guest", MFD_CLOEXEC);
        if (memfd < 0 || ftruncate(memfd, MEM_SIZE) < 0)
                abort();
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 || ev_loop_init(&loop) < 0)
                abort();
        memset(&h, 0, sizeof(h));
        if (vsock_dev_new(&cfg, &loop, &h.vu.vqs[VSOCK_RX_RING], &h.vu.vqs[VSOCK_TX_RING], &h.dev) < 0)
                abort();
        vhost_user_init(&h.vu, &loop, cfg.guest_cid, &ops, &h);
        if (vhost_user_attach(&h.vu, sv[1]) < 0)
                abort();

        while (size - off >= 3 && vhost_user_attached(&h.vu)) {
                uint8_t control = data[off];
                size_t len = (size_t) data[off + 1] | (size_t) data[off + 2] << 8;

                off += 3;
                if (len > size - off)
                        len = size - off;
                if (control & 0x80) {
                        if (len >= 2) {
                                size_t at = (size_t) data[off] | (size_t) data[off + 1] << 8;
                                size_t n = len - 2 < MEM_SIZE - at ? len - 2 : MEM_SIZE - at;

                                if (pwrite(memfd, data + off + 2, n, (off_t) at) != (ssize_t) n)
                                        abort();
                        }
                } else {
                        send_chunk(sv[0], memfd, control, data + off, len);
                        run_idle(&loop, &h, sv[0]);
                }
                off += len;
        }
        shutdown(sv[0], SHUT_WR);

        /* The stream ends, maybe in the middle of a message: the backend
         * reads to EOF (or a fatal message) and detaches, closing any fd it
         * held for an incomplete message. */
        for (unsigned turn = 0; turn < MAX_TURNS && vhost_user_attached(&h.vu); turn++) {
                (void) ev_run_once(&loop, 0);
                vsock_dev_gc(h.dev);
                drain(sv[0]);
        }
        if (vhost_user_attached(&h.vu))
                abort(); /* a stream that never ends */
        h.dev = vsock_dev_free(h.dev);
        ev_loop_done(&loop);
        close(sv[0]);
        close(memfd);
        if (lowest_free_fd() != free_before)
                abort(); /* an fd the backend received was never closed */
        return 0;
}
