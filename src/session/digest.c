/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "digest.h"

#define SHA_LEN 32
#define POLY_TAG_LEN 16

#define MIN(a, b) ((a) < (b) ? (a) : (b))

bool file_digest_keyed(unsigned version) {
        return version >= 2;
}

size_t file_digest_len(unsigned version) {
        return file_digest_keyed(version) ? POLY_TAG_LEN : SHA_LEN;
}

void file_digest_done(struct file_digest *d) {
        EVP_MD_CTX_free(d->md);
        EVP_MAC_CTX_free(d->mac);
        *d = (struct file_digest) {};
}

int file_digest_init(struct file_digest *d, unsigned version, const uint8_t *key) {
        static EVP_MAC *poly1305;

        *d = (struct file_digest) {};
        if (!file_digest_keyed(version)) {
                d->md = EVP_MD_CTX_new();
                if (!d->md || !EVP_DigestInit_ex(d->md, EVP_sha256(), NULL))
                        goto fail;
                return 0;
        }
        if (!poly1305)
                poly1305 = EVP_MAC_fetch(NULL, "POLY1305", NULL);
        d->mac = poly1305 ? EVP_MAC_CTX_new(poly1305) : NULL;
        if (!d->mac || !EVP_MAC_init(d->mac, key, FILE_DIGEST_KEY_LEN, NULL))
                goto fail;
        return 0;
fail:
        file_digest_done(d);
        return -ENOMEM;
}

/* Feeds the MAC whole steps only: the carry first, once data completes it,
 * then the bulk of data; the rest waits in the carry. */
static void mac_update(struct file_digest *d, const uint8_t *data, size_t n) {
        size_t bulk;

        if (d->carried > 0) {
                size_t k = MIN(n, FILE_DIGEST_MAC_STEP - d->carried);

                memcpy(d->carry + d->carried, data, k);
                d->carried += k;
                data += k;
                n -= k;
                if (d->carried < FILE_DIGEST_MAC_STEP)
                        return;
                EVP_MAC_update(d->mac, d->carry, FILE_DIGEST_MAC_STEP);
                d->carried = 0;
        }
        bulk = n - n % FILE_DIGEST_MAC_STEP;
        if (bulk > 0)
                EVP_MAC_update(d->mac, data, bulk);
        if (n > bulk)
                memcpy(d->carry, data + bulk, n - bulk);
        d->carried = n - bulk;
}

void file_digest_update(struct file_digest *d, const void *data, size_t n) {
        if (d->md)
                EVP_DigestUpdate(d->md, data, n);
        else
                mac_update(d, data, n);
}

void file_digest_final(struct file_digest *d, uint8_t *out) {
        unsigned len = 0;
        size_t mac_len = 0;

        if (d->md) {
                EVP_DigestFinal_ex(d->md, out, &len);
                return;
        }
        if (d->carried > 0)
                EVP_MAC_update(d->mac, d->carry, d->carried);
        d->carried = 0;
        EVP_MAC_final(d->mac, out, &mac_len, POLY_TAG_LEN);
}
