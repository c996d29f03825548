/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "iov.h"

size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t offset, void *buf, size_t len) {
        size_t done = 0;

        for (unsigned i = 0; i < n && done < len; i++) {
                size_t l = iov[i].iov_len, k;

                if (offset >= l) {
                        offset -= l;
                        continue;
                }
                k = l - offset < len - done ? l - offset : len - done;
                memcpy((char *) buf + done, (char *) iov[i].iov_base + offset, k);
                done += k;
                offset = 0;
        }
        return done;
}

size_t iov_from_buf(const struct iovec *iov, unsigned n, size_t offset, const void *buf, size_t len) {
        size_t done = 0;

        for (unsigned i = 0; i < n && done < len; i++) {
                size_t l = iov[i].iov_len, k;

                if (offset >= l) {
                        offset -= l;
                        continue;
                }
                k = l - offset < len - done ? l - offset : len - done;
                memcpy((char *) iov[i].iov_base + offset, (const char *) buf + done, k);
                done += k;
                offset = 0;
        }
        return done;
}

unsigned iov_slice(struct iovec *dst, unsigned max, const struct iovec *src, unsigned n,
                   size_t offset, size_t len, size_t *ret_len) {
        unsigned k = 0;
        size_t done = 0;

        for (unsigned i = 0; i < n && k < max && done < len; i++) {
                size_t l = src[i].iov_len, c;

                if (offset >= l) {
                        offset -= l;
                        continue;
                }
                c = l - offset < len - done ? l - offset : len - done;
                dst[k].iov_base = (char *) src[i].iov_base + offset;
                dst[k].iov_len = c;
                k++;
                done += c;
                offset = 0;
        }
        *ret_len = done;
        return k;
}
