/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_TEST_FAKE_GUEST_H
#define HVSOCK_TEST_FAKE_GUEST_H

/*
 * A guest driver in a test's own memory: a memfd-backed region registered
 * in a guest_mem table, with rx and tx split rings the test fills the way a
 * virtio-vsock driver would. No QEMU involved.
 */

#include <stdbool.h>
#include <stdint.h>

#include "guest-mem.h"
#include "virtqueue.h"
#include "vsock-packet.h"

#define FG_GPA 0x100000ull
#define FG_UVA 0x7f0000000000ull
#define FG_SIZE (4u * 1024 * 1024)
#define FG_NUM 64

struct fake_vring {
        uint64_t desc, avail, used; /* offsets in the region */
        uint16_t avail_idx, used_seen;
        uint16_t next_desc;
};

struct fake_guest {
        int memfd;
        uint8_t *mem;
        struct guest_mem gm;
        struct vq rx, tx;
        struct fake_vring frx, ftx;
        uint64_t data_next; /* bump allocator for buffers */
        uint32_t cid;
};

enum fg_layout {
        FG_HDR_THEN_PAYLOAD, /* header alone, payload in a second descriptor */
        FG_ONE_DESC,         /* header and payload in one descriptor */
        FG_SCATTERED,        /* header split and payload across many small descriptors */
};

void fg_init(struct fake_guest *g, uint32_t cid, bool event_idx);
void fg_done(struct fake_guest *g);

/* Guest physical address of a fresh buffer of size bytes in the region. */
uint64_t fg_alloc(struct fake_guest *g, uint32_t size);
uint8_t *fg_ptr(struct fake_guest *g, uint64_t gpa);

/* Writes a raw descriptor (any values) into ring r at index i. */
void fg_set_desc(struct fake_guest *g, struct fake_vring *r, uint16_t i, uint64_t addr, uint32_t len,
                 uint16_t flags, uint16_t next);
/* Publishes head in r's avail ring. */
void fg_publish(struct fake_guest *g, struct fake_vring *r, uint16_t head);

/* Queues one packet on tx in the given layout. */
void fg_send(struct fake_guest *g, const struct vsock_hdr *h, const void *payload, enum fg_layout layout);

/* Posts n writable rx buffers of size bytes. */
void fg_post_rx(struct fake_guest *g, unsigned n, uint32_t size);

/* Posts one writable rx chain of n descriptors, pieces[i] bytes each. */
void fg_post_rx_chain(struct fake_guest *g, const uint32_t *pieces, unsigned n);

/* Takes the next used rx buffer (gathered across its descriptors): 1 with header (and up to max payload bytes
 * in payload), 0 when none. */
int fg_recv(struct fake_guest *g, struct vsock_hdr *h, void *payload, uint32_t max);

/* Number of tx chains the device returned as used. */
uint16_t fg_tx_used(struct fake_guest *g);
uint32_t fg_tx_used_len(struct fake_guest *g, uint16_t i);

/* A header from the guest (src = its CID) to the host. */
struct vsock_hdr fg_hdr(struct fake_guest *g, uint32_t src_port, uint32_t dst_port, uint16_t op, uint32_t len);

#endif
