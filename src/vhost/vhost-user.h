/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_VHOST_VHOST_USER_H
#define HVSOCK_VHOST_VHOST_USER_H

/*
 * The backend side of the vhost-user protocol (QEMU docs/interop/vhost-user.rst)
 * for a vsock device: two rings (0 rx, 1 tx; QEMU keeps the event queue),
 * the guest CID served through GET_CONFIG. QEMU is the peer: its messages are
 * checked (sizes, indexes, fd counts) and a bad one ends the session, never
 * the process.
 */

#include <stdbool.h>
#include <stdint.h>

#include "ev.h"
#include "guest-mem.h"
#include "virtqueue.h"

enum {
        VHOST_USER_GET_FEATURES = 1,
        VHOST_USER_SET_FEATURES = 2,
        VHOST_USER_SET_OWNER = 3,
        VHOST_USER_RESET_OWNER = 4,
        VHOST_USER_SET_MEM_TABLE = 5,
        VHOST_USER_SET_VRING_NUM = 8,
        VHOST_USER_SET_VRING_ADDR = 9,
        VHOST_USER_SET_VRING_BASE = 10,
        VHOST_USER_GET_VRING_BASE = 11,
        VHOST_USER_SET_VRING_KICK = 12,
        VHOST_USER_SET_VRING_CALL = 13,
        VHOST_USER_SET_VRING_ERR = 14,
        VHOST_USER_GET_PROTOCOL_FEATURES = 15,
        VHOST_USER_SET_PROTOCOL_FEATURES = 16,
        VHOST_USER_GET_QUEUE_NUM = 17,
        VHOST_USER_SET_VRING_ENABLE = 18,
        VHOST_USER_GET_CONFIG = 24,
        VHOST_USER_SET_CONFIG = 25,
};

#define VHOST_USER_VERSION 0x1u
#define VHOST_USER_FLAG_REPLY 0x4u
#define VHOST_USER_FLAG_NEED_REPLY 0x8u
#define VHOST_USER_HDR_SIZE 12
#define VHOST_USER_PAYLOAD_MAX 512 /* the largest request we accept */
#define VHOST_USER_FDS_MAX GUEST_MEM_REGIONS_MAX
#define VHOST_USER_CONFIG_HDR_SIZE 12
#define VHOST_USER_CONFIG_MAX 256
#define VHOST_USER_VRING_NOFD (1u << 8)

#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX 29
#define VHOST_USER_F_PROTOCOL_FEATURES 30
#define VIRTIO_F_VERSION_1 32

#define VHOST_USER_PROTOCOL_F_MQ 0
#define VHOST_USER_PROTOCOL_F_REPLY_ACK 3
#define VHOST_USER_PROTOCOL_F_CONFIG 9

#define VHOST_USER_FEATURES                                                      \
        ((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_RING_F_EVENT_IDX) |     \
         (1ull << VHOST_USER_F_PROTOCOL_FEATURES))
#define VHOST_USER_PROTOCOL_FEATURES \
        ((1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK) | (1ull << VHOST_USER_PROTOCOL_F_CONFIG))

#define VSOCK_RX_RING 0
#define VSOCK_TX_RING 1
#define VSOCK_RINGS 2

struct vhost_user_ops {
        /* Ring index may have work: it was kicked, started or enabled. */
        void (*ring_kick)(void *userdata, unsigned index);
        /* The driver is gone: QEMU disconnected or sent RESET_OWNER, or the
         * rings were all stopped and then restarted at other indexes than
         * where they stopped (a new driver, as after a guest reboot). Forget
         * device state. */
        void (*reset)(void *userdata);
};

/* The message being received. QEMU's socket is read as bytes arrive, so a
 * peer that sends half a message only holds its own session, never the
 * loop. The fds that came with those bytes are held here until the message
 * is complete. */
struct vhost_user_rx {
        uint8_t buf[VHOST_USER_HDR_SIZE + VHOST_USER_PAYLOAD_MAX];
        uint32_t len; /* bytes received so far */
        int fds[VHOST_USER_FDS_MAX];
        unsigned n_fds;
};

struct vhost_user {
        struct ev_loop *loop;
        struct ev_source conn; /* QEMU's socket (non-blocking), -1 when none */
        struct vhost_user_rx rx;
        int reply_error; /* a reply that could not be sent: the session ends */
        bool spoke;      /* the peer sent a whole message: it is a front-end */
        uint32_t guest_cid;
        uint64_t acked_features;
        uint64_t protocol_features;
        struct guest_mem mem;
        struct vq vqs[VSOCK_RINGS];
        /* Every ring stopped (GET_VRING_BASE) and not all restarted yet: a
         * paused VM or a reset driver, which only the restart tells apart
         * (see vhost-user.c).
         * stop_avail is what each ring's GET_VRING_BASE returned; resumed
         * has a bit for each ring set up again at that index. */
        bool suspended;
        uint16_t stop_avail[VSOCK_RINGS];
        unsigned resumed;
        const struct vhost_user_ops *ops;
        void *userdata;
};

/* Sets up an unconnected backend. */
void vhost_user_init(struct vhost_user *vu, struct ev_loop *loop, uint32_t guest_cid,
                     const struct vhost_user_ops *ops, void *userdata);

/* Serves QEMU on fd (a connected UNIX stream socket; taken over).
 * Returns 0 or -errno (fd closed). -EBUSY when one is already attached. */
int vhost_user_attach(struct vhost_user *vu, int fd);

/* A new connection to the backend's socket: served when none is attached,
 * or when the attached one never sent a whole message (QEMU sends
 * GET_FEATURES at once, so it is not a front-end but something holding
 * the only slot); turned away with -EBUSY otherwise. fd is taken over.
 * Returns 1 when it replaced a silent connection, 0, or -errno. */
int vhost_user_offer(struct vhost_user *vu, int fd);

/* Ends the session: closes the socket and the ring fds, unmaps guest memory
 * and calls ops->reset. NULL-safe in the sense that a detached backend is a
 * no-op. */
void vhost_user_detach(struct vhost_user *vu);

bool vhost_user_attached(const struct vhost_user *vu);

/* Reads what has arrived of the current message without blocking and, once
 * it is complete, handles it. Returns 0 when a message was handled, -EAGAIN
 * when it is still incomplete (what came is kept for the next call), or
 * another -errno when the session must end (EOF is -ECONNRESET). Used by
 * the loop and by tests. */
int vhost_user_handle_one(struct vhost_user *vu);

#endif
