/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_VHOST_VIRTQUEUE_H
#define HVSOCK_VHOST_VIRTQUEUE_H

/*
 * Split virtqueues (virtio 1.x) seen from the device. The rings live in
 * guest memory that the guest keeps writing while we read: every field is
 * read once into a local before it is checked, every address is mapped
 * through the memory table, and a chain may not be longer than the queue.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "ev.h"
#include "guest-mem.h"

#define VQ_NUM_MAX 1024  /* largest queue size accepted; QEMU's vsock uses 128 */
#define VQ_IOV_MAX 1024  /* iovecs per chain and direction */

#define VRING_DESC_F_NEXT 1
#define VRING_DESC_F_WRITE 2
#define VRING_DESC_F_INDIRECT 4
#define VRING_AVAIL_F_NO_INTERRUPT 1

struct vq {
        uint16_t num;                       /* queue size, 0 = not set */
        uint64_t desc_uva, avail_uva, used_uva; /* QEMU user addresses */
        bool addr_set;
        volatile uint8_t *desc, *avail, *used;  /* our mappings, NULL when unmapped */

        uint16_t last_avail; /* next avail entry to take */
        uint16_t used_idx;   /* our copy of used->idx */
        uint16_t signalled_used;
        bool signalled_valid;
        unsigned unsignalled_descs;         /* in chains pushed since the last vq_notify */
        uint16_t chain_descs[VQ_NUM_MAX];   /* descriptors in the chain at each head */

        bool event_idx; /* VIRTIO_RING_F_EVENT_IDX negotiated */
        bool started;   /* has a kick fd */
        bool enabled;   /* SET_VRING_ENABLE(1), or implied without PROTOCOL_FEATURES */
        bool broken;    /* the guest corrupted the ring: no more processing until reset */

        struct ev_source kick; /* kick.fd */
        int call_fd;
        int err_fd;
        const struct guest_mem *mem;
        void *userdata; /* for whoever handles kick.fd */
        unsigned index;
};

/* A popped chain: device-readable (out) then device-writable (in) buffers. */
struct vq_elem {
        uint16_t head;
        unsigned n_out, n_in;
        uint64_t out_len, in_len; /* byte totals */
        struct iovec out[VQ_IOV_MAX];
        struct iovec in[VQ_IOV_MAX];
};

/* Resets a queue to "nothing set" (fds to -1); closes no fds. */
void vq_init(struct vq *vq, const struct guest_mem *mem);

/* Closes the queue's fds and resets it. */
void vq_reset(struct vq *vq);

/* Maps desc/avail/used from their user addresses through vq->mem for the
 * current num. Returns 0, -EINVAL when num or addresses are not set,
 * -EFAULT when a ring is not inside one region. */
int vq_map(struct vq *vq);

/* Whether the device may use the queue. */
bool vq_ready(const struct vq *vq);

/*
 * Takes the next available chain into *elem. Returns 1 when one was taken,
 * 0 when the ring is empty, -EBADMSG when the chain was malformed (it is
 * consumed and returned to the guest as used with length 0) and -EIO when the
 * ring itself is broken (vq->broken is set).
 */
int vq_pop(struct vq *vq, struct vq_elem *elem);

/* Gives back the chain last popped and not yet pushed; called n times, the
 * last n popped (none of them pushed, and no malformed chain among or after
 * them: vq_pop already returned those as used). */
void vq_unpop(struct vq *vq);

/* Returns a chain to the guest as used, len bytes written into it. */
void vq_push(struct vq *vq, uint16_t head, uint32_t len);

/* Signals the call eventfd if the guest wants it (EVENT_IDX aware) and
 * something was pushed since the last call. */
void vq_notify(struct vq *vq);

/* Whether vq_notify has something to signal. */
bool vq_notify_pending(const struct vq *vq);

/* Descriptors the guest has back in used chains it has not been told
 * about: what it cannot reuse until we call vq_notify. */
unsigned vq_unsignalled_descs(const struct vq *vq);

/* Ring sizes in bytes for num entries (with the event index fields). */
uint64_t vq_desc_size(uint16_t num);
uint64_t vq_avail_size(uint16_t num);
uint64_t vq_used_size(uint16_t num);

#endif
