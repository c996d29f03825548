/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_VHOST_IOV_H
#define HVSOCK_VHOST_IOV_H

#include <stddef.h>
#include <sys/uio.h>

/* Copies up to len bytes starting offset bytes into iov to buf. Returns the
 * count copied. */
size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t offset, void *buf, size_t len);

/* Copies up to len bytes of buf into iov starting offset bytes in. Returns
 * the count copied. */
size_t iov_from_buf(const struct iovec *iov, unsigned n, size_t offset, const void *buf, size_t len);

/* Fills dst (room for max entries) with the part of src from offset, at most
 * len bytes. Returns the entry count; *ret_len gets the bytes covered. */
unsigned iov_slice(struct iovec *dst, unsigned max, const struct iovec *src, unsigned n,
                   size_t offset, size_t len, size_t *ret_len);

#endif
