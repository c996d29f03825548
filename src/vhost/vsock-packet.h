/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_VHOST_VSOCK_PACKET_H
#define HVSOCK_VHOST_VSOCK_PACKET_H

/* The virtio-vsock packet header (virtio 1.2, Socket Device): 44 bytes,
 * little-endian, packed. Parsed field by field, never cast. */

#include <stdint.h>

#define VSOCK_HDR_SIZE 44
#define VSOCK_CID_HOST 2
#define VSOCK_TYPE_STREAM 1
#define VSOCK_MAX_PAYLOAD (64 * 1024) /* Linux's largest packet */

enum {
        VSOCK_OP_INVALID = 0,
        VSOCK_OP_REQUEST = 1,
        VSOCK_OP_RESPONSE = 2,
        VSOCK_OP_RST = 3,
        VSOCK_OP_SHUTDOWN = 4,
        VSOCK_OP_RW = 5,
        VSOCK_OP_CREDIT_UPDATE = 6,
        VSOCK_OP_CREDIT_REQUEST = 7,
};

/* SHUTDOWN flags, from the sender's point of view. */
#define VSOCK_SHUTDOWN_RCV 1u  /* it will receive no more */
#define VSOCK_SHUTDOWN_SEND 2u /* it will send no more */

struct vsock_hdr {
        uint64_t src_cid, dst_cid;
        uint32_t src_port, dst_port;
        uint32_t len;
        uint16_t type, op;
        uint32_t flags;
        uint32_t buf_alloc, fwd_cnt;
};

void vsock_hdr_parse(const uint8_t raw[VSOCK_HDR_SIZE], struct vsock_hdr *ret);
void vsock_hdr_build(const struct vsock_hdr *h, uint8_t raw[VSOCK_HDR_SIZE]);

#endif
