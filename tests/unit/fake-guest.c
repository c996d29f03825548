/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fake-guest.h"

static void put16(uint8_t *p, uint16_t v) {
        v = htole16(v);
        memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v) {
        v = htole32(v);
        memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v) {
        v = htole64(v);
        memcpy(p, &v, 8);
}

static uint16_t get16(const uint8_t *p) {
        uint16_t v;
        memcpy(&v, p, 2);
        return le16toh(v);
}

static uint32_t get32(const uint8_t *p) {
        uint32_t v;
        memcpy(&v, p, 4);
        return le32toh(v);
}

uint64_t fg_alloc(struct fake_guest *g, uint32_t size) {
        uint64_t off = g->data_next;

        g->data_next += (size + 15u) & ~15u;
        if (g->data_next > FG_SIZE)
                abort();
        return FG_GPA + off;
}

uint8_t *fg_ptr(struct fake_guest *g, uint64_t gpa) {
        return g->mem + (gpa - FG_GPA);
}

static void ring_setup(struct fake_guest *g, struct fake_vring *r, struct vq *vq, bool event_idx) {
        r->desc = fg_alloc(g, 16 * FG_NUM) - FG_GPA;
        r->avail = fg_alloc(g, 6 + 2 * FG_NUM) - FG_GPA;
        r->used = fg_alloc(g, 6 + 8 * FG_NUM) - FG_GPA;
        vq->kick.fd = -1;
        vq_init(vq, &g->gm);
        vq->num = FG_NUM;
        vq->desc_uva = FG_UVA + r->desc;
        vq->avail_uva = FG_UVA + r->avail;
        vq->used_uva = FG_UVA + r->used;
        vq->addr_set = true;
        if (vq_map(vq) < 0)
                abort();
        vq->started = vq->enabled = true;
        vq->event_idx = event_idx;
}

void fg_init(struct fake_guest *g, uint32_t cid, bool event_idx) {
        memset(g, 0, sizeof(*g));
        g->cid = cid;
        g->memfd = memfd_create("fake-guest", MFD_CLOEXEC);
        if (g->memfd < 0 || ftruncate(g->memfd, FG_SIZE) < 0)
                abort();
        g->mem = mmap(NULL, FG_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, g->memfd, 0);
        if (g->mem == MAP_FAILED)
                abort();
        if (guest_mem_add(&g->gm, FG_GPA, FG_SIZE, FG_UVA, g->mem) < 0)
                abort();
        ring_setup(g, &g->frx, &g->rx, event_idx);
        ring_setup(g, &g->ftx, &g->tx, event_idx);
}

void fg_done(struct fake_guest *g) {
        vq_reset(&g->rx);
        vq_reset(&g->tx);
        munmap(g->mem, FG_SIZE);
        close(g->memfd);
}

void fg_set_desc(struct fake_guest *g, struct fake_vring *r, uint16_t i, uint64_t addr, uint32_t len,
                 uint16_t flags, uint16_t next) {
        uint8_t *d = g->mem + r->desc + 16u * (i % FG_NUM);

        put64(d, addr);
        put32(d + 8, len);
        put16(d + 12, flags);
        put16(d + 14, next);
}

void fg_publish(struct fake_guest *g, struct fake_vring *r, uint16_t head) {
        put16(g->mem + r->avail + 4 + 2u * (r->avail_idx % FG_NUM), head);
        r->avail_idx++;
        put16(g->mem + r->avail + 2, r->avail_idx);
}

static uint16_t desc_take(struct fake_vring *r) {
        return r->next_desc++ % FG_NUM;
}

void fg_send(struct fake_guest *g, const struct vsock_hdr *h, const void *payload, enum fg_layout layout) {
        uint8_t raw[VSOCK_HDR_SIZE];
        uint32_t len = payload ? h->len : 0;
        uint64_t buf = fg_alloc(g, VSOCK_HDR_SIZE + len);
        uint16_t head, cur;

        vsock_hdr_build(h, raw);
        memcpy(fg_ptr(g, buf), raw, sizeof(raw));
        if (len)
                memcpy(fg_ptr(g, buf) + VSOCK_HDR_SIZE, payload, len);
        head = cur = desc_take(&g->ftx);
        switch (layout) {
        case FG_ONE_DESC:
                fg_set_desc(g, &g->ftx, cur, buf, VSOCK_HDR_SIZE + len, 0, 0);
                break;
        case FG_HDR_THEN_PAYLOAD:
                if (len == 0) {
                        fg_set_desc(g, &g->ftx, cur, buf, VSOCK_HDR_SIZE, 0, 0);
                        break;
                }
                {
                        uint16_t next = desc_take(&g->ftx);
                        fg_set_desc(g, &g->ftx, cur, buf, VSOCK_HDR_SIZE, VRING_DESC_F_NEXT, next);
                        fg_set_desc(g, &g->ftx, next, buf + VSOCK_HDR_SIZE, len, 0, 0);
                }
                break;
        case FG_SCATTERED: {
                /* 7-byte pieces: the header itself straddles descriptors. */
                uint32_t total = VSOCK_HDR_SIZE + len, off = 0;
                while (off < total) {
                        uint32_t piece = total - off < 7 ? total - off : 7;
                        bool last = off + piece == total;
                        uint16_t next = last ? 0 : desc_take(&g->ftx);
                        fg_set_desc(g, &g->ftx, cur, buf + off, piece, last ? 0 : VRING_DESC_F_NEXT, next);
                        off += piece;
                        cur = next;
                }
                break;
        }
        }
        fg_publish(g, &g->ftx, head);
}

void fg_post_rx(struct fake_guest *g, unsigned n, uint32_t size) {
        for (unsigned i = 0; i < n; i++) {
                uint16_t d = desc_take(&g->frx);
                fg_set_desc(g, &g->frx, d, fg_alloc(g, size), size, VRING_DESC_F_WRITE, 0);
                fg_publish(g, &g->frx, d);
        }
}

void fg_post_rx_chain(struct fake_guest *g, const uint32_t *pieces, unsigned n) {
        uint16_t head = desc_take(&g->frx), cur = head;

        for (unsigned i = 0; i < n; i++) {
                bool last = i + 1 == n;
                uint16_t next = last ? 0 : desc_take(&g->frx);

                fg_set_desc(g, &g->frx, cur, fg_alloc(g, pieces[i]), pieces[i],
                            VRING_DESC_F_WRITE | (last ? 0 : VRING_DESC_F_NEXT), next);
                cur = next;
        }
        fg_publish(g, &g->frx, head);
}

int fg_recv(struct fake_guest *g, struct vsock_hdr *h, void *payload, uint32_t max) {
        static uint8_t buf[VSOCK_HDR_SIZE + VSOCK_MAX_PAYLOAD];
        uint8_t *used = g->mem + g->frx.used;
        uint16_t idx = get16(used + 2), id;
        uint32_t len, done = 0;

        if (idx == g->frx.used_seen)
                return 0;
        id = (uint16_t) get32(used + 4 + 8u * (g->frx.used_seen % FG_NUM));
        len = get32(used + 8 + 8u * (g->frx.used_seen % FG_NUM));
        g->frx.used_seen++;
        assert(len >= VSOCK_HDR_SIZE && len <= sizeof(buf));
        /* Gather the chain: the header and payload may span descriptors. */
        for (unsigned n = 0; done < len && n < FG_NUM; n++) {
                const uint8_t *d = g->mem + g->frx.desc + 16u * (id % FG_NUM);
                uint64_t addr;
                uint32_t dlen, k;

                memcpy(&addr, d, 8);
                addr = le64toh(addr);
                dlen = get32(d + 8);
                k = dlen < len - done ? dlen : len - done;
                memcpy(buf + done, fg_ptr(g, addr), k);
                done += k;
                if (!(get16(d + 12) & VRING_DESC_F_NEXT))
                        break;
                id = get16(d + 14);
        }
        assert(done == len);
        vsock_hdr_parse(buf, h);
        assert(h->len == len - VSOCK_HDR_SIZE);
        if (payload)
                memcpy(payload, buf + VSOCK_HDR_SIZE, h->len < max ? h->len : max);
        return 1;
}

uint16_t fg_tx_used(struct fake_guest *g) {
        return get16(g->mem + g->ftx.used + 2);
}

uint32_t fg_tx_used_len(struct fake_guest *g, uint16_t i) {
        return get32(g->mem + g->ftx.used + 8 + 8u * (i % FG_NUM));
}

struct vsock_hdr fg_hdr(struct fake_guest *g, uint32_t src_port, uint32_t dst_port, uint16_t op, uint32_t len) {
        return (struct vsock_hdr) {
                .src_cid = g->cid,
                .dst_cid = VSOCK_CID_HOST,
                .src_port = src_port,
                .dst_port = dst_port,
                .len = len,
                .type = VSOCK_TYPE_STREAM,
                .op = op,
                .buf_alloc = 65536,
                .fwd_cnt = 0,
        };
}
