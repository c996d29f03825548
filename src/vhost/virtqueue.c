/* SPDX-License-Identifier: MIT */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "virtqueue.h"

/* Layout: desc[num] of 16 bytes {le64 addr, le32 len, le16 flags, le16 next};
 * avail {le16 flags, le16 idx, le16 ring[num], le16 used_event};
 * used {le16 flags, le16 idx, {le32 id, le32 len}[num], le16 avail_event}. */

uint64_t vq_desc_size(uint16_t num) {
        return 16u * (uint64_t) num;
}

uint64_t vq_avail_size(uint16_t num) {
        return 6u + 2u * (uint64_t) num;
}

uint64_t vq_used_size(uint16_t num) {
        return 6u + 8u * (uint64_t) num;
}

static uint16_t ld16(volatile const uint8_t *p) {
        uint16_t v;
        memcpy(&v, (const void *) p, sizeof(v));
        return le16toh(v);
}

static uint32_t ld32(volatile const uint8_t *p) {
        uint32_t v;
        memcpy(&v, (const void *) p, sizeof(v));
        return le32toh(v);
}

static uint64_t ld64(volatile const uint8_t *p) {
        uint64_t v;
        memcpy(&v, (const void *) p, sizeof(v));
        return le64toh(v);
}

static void st16(volatile uint8_t *p, uint16_t v) {
        v = htole16(v);
        memcpy((void *) p, &v, sizeof(v));
}

static void st32(volatile uint8_t *p, uint32_t v) {
        v = htole32(v);
        memcpy((void *) p, &v, sizeof(v));
}

/* The guest runs on other CPUs (QEMU vCPU threads): real fences, not just
 * compiler barriers. */
#define rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#define mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)

void vq_init(struct vq *vq, const struct guest_mem *mem) {
        struct ev_source kick = vq->kick;
        void *userdata = vq->userdata;
        unsigned index = vq->index;

        memset(vq, 0, sizeof(*vq));
        vq->userdata = userdata;
        vq->index = index;
        vq->kick.fn = kick.fn;
        vq->kick.fd = -1;
        vq->call_fd = -1;
        vq->err_fd = -1;
        vq->mem = mem;
}

void vq_reset(struct vq *vq) {
        safe_close(vq->kick.fd);
        safe_close(vq->call_fd);
        safe_close(vq->err_fd);
        vq_init(vq, vq->mem);
}

int vq_map(struct vq *vq) {
        void *d, *a, *u;

        vq->desc = vq->avail = vq->used = NULL;
        if (vq->num == 0 || !vq->addr_set)
                return -EINVAL;
        d = guest_mem_uva(vq->mem, vq->desc_uva, vq_desc_size(vq->num));
        a = guest_mem_uva(vq->mem, vq->avail_uva, vq_avail_size(vq->num));
        u = guest_mem_uva(vq->mem, vq->used_uva, vq_used_size(vq->num));
        if (!d || !a || !u)
                return -EFAULT;
        vq->desc = d;
        vq->avail = a;
        vq->used = u;
        return 0;
}

bool vq_ready(const struct vq *vq) {
        return vq->started && vq->enabled && !vq->broken && vq->desc;
}

static void vq_set_avail_event(struct vq *vq) {
        if (vq->event_idx)
                st16(vq->used + 4 + 8u * vq->num, vq->last_avail);
}

/* Maps [addr, addr + len) into iov[*n...], splitting at region ends.
 * Returns 0 or -EBADMSG. */
static int map_desc(struct vq *vq, uint64_t addr, uint32_t len, struct iovec *iov, unsigned *n) {
        uint64_t left = len;

        while (left > 0) {
                uint64_t got;
                void *p;

                if (*n >= VQ_IOV_MAX)
                        return -EBADMSG;
                p = guest_mem_gpa_span(vq->mem, addr, left, &got);
                if (!p)
                        return -EBADMSG;
                iov[*n].iov_base = p;
                iov[*n].iov_len = (size_t) got;
                (*n)++;
                addr += got;
                left -= got;
        }
        return 0;
}

static int vq_read_chain(struct vq *vq, uint16_t head, struct vq_elem *elem) {
        uint16_t i = head;

        elem->head = head;
        elem->n_out = elem->n_in = 0;
        elem->out_len = elem->in_len = 0;
        for (unsigned count = 0;; count++) {
                volatile const uint8_t *d;
                uint64_t addr;
                uint32_t len;
                uint16_t flags, next;
                int r;

                /* A chain visits each descriptor at most once: longer means a loop. */
                if (count >= vq->num || i >= vq->num)
                        return -EBADMSG;
                vq->chain_descs[head] = (uint16_t) (count + 1);
                d = vq->desc + 16u * i;
                addr = ld64(d);
                len = ld32(d + 8);
                flags = ld16(d + 12);
                next = ld16(d + 14);
                if (flags & VRING_DESC_F_INDIRECT)
                        return -EBADMSG; /* not offered */
                if (flags & VRING_DESC_F_WRITE) {
                        r = map_desc(vq, addr, len, elem->in, &elem->n_in);
                        elem->in_len += len;
                } else {
                        /* Readable buffers come before writable ones. */
                        if (elem->n_in > 0)
                                return -EBADMSG;
                        r = map_desc(vq, addr, len, elem->out, &elem->n_out);
                        elem->out_len += len;
                }
                if (r < 0)
                        return r;
                if (!(flags & VRING_DESC_F_NEXT))
                        return 0;
                i = next;
        }
}

int vq_pop(struct vq *vq, struct vq_elem *elem) {
        uint16_t avail_idx, head;
        int r;

        if (!vq_ready(vq))
                return vq->broken ? -EIO : 0;
        avail_idx = ld16(vq->avail + 2);
        if (avail_idx == vq->last_avail) {
                /* Ask for a kick, then look again: the guest may have added a
                 * buffer before it could see the request. */
                vq_set_avail_event(vq);
                mb();
                avail_idx = ld16(vq->avail + 2);
                if (avail_idx == vq->last_avail)
                        return 0;
        }
        if ((uint16_t) (avail_idx - vq->last_avail) > vq->num) {
                vq->broken = true;
                return -EIO;
        }
        rmb(); /* ring entries after the index that published them */
        head = ld16(vq->avail + 4 + 2u * (vq->last_avail % vq->num));
        vq->last_avail++;
        /* avail_event is left alone while the ring has work: a guest adding
         * buffers meanwhile has no reason to kick (kernel vhost does the
         * same). It is set again when we find the ring empty, above. */
        r = vq_read_chain(vq, head, elem);
        if (r < 0) {
                if (head < vq->num)
                        vq_push(vq, head, 0);
                return r;
        }
        return 1;
}

void vq_unpop(struct vq *vq) {
        /* The chain is still there for us: no kick needed to find it. */
        vq->last_avail--;
}

void vq_push(struct vq *vq, uint16_t head, uint32_t len) {
        volatile uint8_t *e = vq->used + 4 + 8u * (vq->used_idx % vq->num);

        st32(e, head);
        st32(e + 4, len);
        wmb(); /* the entry before the index that publishes it */
        vq->used_idx++;
        st16(vq->used + 2, vq->used_idx);
        /* A head that never made it through vq_read_chain counts as one. */
        vq->unsignalled_descs += head < vq->num && vq->chain_descs[head] > 0 ? vq->chain_descs[head] : 1;
}

bool vq_notify_pending(const struct vq *vq) {
        return vq->unsignalled_descs > 0 && vq->desc && vq->started;
}

/* virtio's vring_need_event: did new_idx pass event since old? */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old) {
        return (uint16_t) (new_idx - event - 1) < (uint16_t) (new_idx - old);
}

void vq_notify(struct vq *vq) {
        bool fire;

        if (!vq_notify_pending(vq))
                return;
        mb(); /* used->idx visible before we read the guest's wishes */
        if (vq->event_idx) {
                uint16_t event = ld16(vq->avail + 4 + 2u * vq->num);
                fire = !vq->signalled_valid || need_event(event, vq->used_idx, vq->signalled_used);
                vq->signalled_used = vq->used_idx;
                vq->signalled_valid = true;
        } else
                fire = !(ld16(vq->avail) & VRING_AVAIL_F_NO_INTERRUPT);
        vq->unsignalled_descs = 0;
        if (fire && vq->call_fd >= 0) {
                uint64_t one = 1;
                (void) !write(vq->call_fd, &one, sizeof(one));
        }
}

unsigned vq_unsignalled_descs(const struct vq *vq) {
        return vq->unsignalled_descs;
}
