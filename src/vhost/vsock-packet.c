/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "vsock-packet.h"

static uint16_t g16(const uint8_t *p) {
        return (uint16_t) (p[0] | p[1] << 8);
}

static uint32_t g32(const uint8_t *p) {
        return (uint32_t) g16(p) | (uint32_t) g16(p + 2) << 16;
}

static uint64_t g64(const uint8_t *p) {
        return (uint64_t) g32(p) | (uint64_t) g32(p + 4) << 32;
}

static void p16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t) v;
        p[1] = (uint8_t) (v >> 8);
}

static void p32(uint8_t *p, uint32_t v) {
        p16(p, (uint16_t) v);
        p16(p + 2, (uint16_t) (v >> 16));
}

static void p64(uint8_t *p, uint64_t v) {
        p32(p, (uint32_t) v);
        p32(p + 4, (uint32_t) (v >> 32));
}

void vsock_hdr_parse(const uint8_t raw[VSOCK_HDR_SIZE], struct vsock_hdr *ret) {
        ret->src_cid = g64(raw);
        ret->dst_cid = g64(raw + 8);
        ret->src_port = g32(raw + 16);
        ret->dst_port = g32(raw + 20);
        ret->len = g32(raw + 24);
        ret->type = g16(raw + 28);
        ret->op = g16(raw + 30);
        ret->flags = g32(raw + 32);
        ret->buf_alloc = g32(raw + 36);
        ret->fwd_cnt = g32(raw + 40);
}

void vsock_hdr_build(const struct vsock_hdr *h, uint8_t raw[VSOCK_HDR_SIZE]) {
        p64(raw, h->src_cid);
        p64(raw + 8, h->dst_cid);
        p32(raw + 16, h->src_port);
        p32(raw + 20, h->dst_port);
        p32(raw + 24, h->len);
        p16(raw + 28, h->type);
        p16(raw + 30, h->op);
        p32(raw + 32, h->flags);
        p32(raw + 36, h->buf_alloc);
        p32(raw + 40, h->fwd_cnt);
}
