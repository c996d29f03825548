/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_VHOST_CONNECT_LINE_H
#define HVSOCK_VHOST_CONNECT_LINE_H

/*
 * The hybrid vsock request a host program sends on --uds-path:
 * "CONNECT <port>\n", keyword in any case, one space, a decimal u32, at most
 * CONNECT_LINE_MAX bytes with the newline (Firecracker's limit). Fed one
 * byte at a time so nothing after the newline is consumed.
 */

#include <stdint.h>

#define CONNECT_LINE_MAX 32

struct connect_line {
        char buf[CONNECT_LINE_MAX];
        unsigned len;
        int done; /* non-zero once a result was returned */
};

/* Returns 0 for more, 1 when complete (*ret_port set), -EBADMSG when the
 * line cannot become valid; after a result every byte is -EBADMSG. */
int connect_line_feed(struct connect_line *s, char c, uint32_t *ret_port);

#endif
