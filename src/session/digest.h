/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_SESSION_DIGEST_H
#define HVSOCK_SESSION_DIGEST_H

/*
 * The digest that checks each file of `hvsock cp` (docs/session-protocol.md,
 * "The archive stream"): SHA-256 in protocol version 1, a Poly1305 tag under
 * a per-file random key from version 2 on.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define FILE_DIGEST_KEY_LEN 32 /* version 2 and later */
#define FILE_DIGEST_MAX 32     /* the longest digest (SHA-256) */
/* OpenSSL's vector Poly1305 (AVX-512 IFMA, AVX2) runs at about half speed
 * when updates are not multiples of this: its state then falls back to the
 * scalar form and the key's powers are computed again on the next call.
 * Chunks (65532 bytes, split across frames at will) are fed in such steps. */
#define FILE_DIGEST_MAC_STEP 512u

struct file_digest {
        EVP_MD_CTX *md;
        EVP_MAC_CTX *mac;
        uint8_t carry[FILE_DIGEST_MAC_STEP]; /* MAC input not yet a whole step */
        size_t carried;
};

/* Whether the protocol version uses the keyed tag. */
bool file_digest_keyed(unsigned version);
/* The digest's length in bytes in the protocol version. */
size_t file_digest_len(unsigned version);
/* Starts a digest; key (FILE_DIGEST_KEY_LEN bytes) only when keyed. Returns
 * 0 or -ENOMEM; d holds nothing to free on failure. */
int file_digest_init(struct file_digest *d, unsigned version, const uint8_t *key);
void file_digest_update(struct file_digest *d, const void *data, size_t n);
/* Writes file_digest_len() bytes to out. Call once, then file_digest_done(). */
void file_digest_final(struct file_digest *d, uint8_t *out);
/* Frees what d holds; d is then empty (done again, it does nothing). */
void file_digest_done(struct file_digest *d);

#endif
