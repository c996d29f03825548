/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_CLI_RELAY_H
#define HVSOCK_CLI_RELAY_H

/*
 * The stdin/stdout relay behind `hvsock nc`: copies an input fd to a
 * connected socket and the socket to an output fd, with half-close in both
 * directions (input EOF becomes shutdown(SHUT_WR); the peer's EOF closes the
 * output) and one bounded buffer per direction.
 */

#include <stdbool.h>
#include <stddef.h>

#define RELAY_BUF_SIZE (64u * 1024u)

struct relay_buf {
        char data[RELAY_BUF_SIZE];
        size_t start, end;
};

struct relay {
        int in_fd, out_fd;
        /* Serve connection after connection: the peer's EOF ends one and the
         * output stays open; input and its unsent bytes carry over. */
        bool keep_open;
        bool in_eof;
        /* Readable when the relay must stop at once (a signalfd), or -1. */
        int stop_fd;
        struct relay_buf up;   /* input -> socket */
        struct relay_buf down; /* socket -> output */
        /* Per connection. */
        int sock;
        bool up_done, sock_eof, down_done;
        const char *failed; /* what failed, for the message, when relay_run() fails */
        bool failed_stdio;  /* ... and whether it was standard input or output, not the socket */
};

/* A relay between in_fd and out_fd (not owned), or NULL on out of memory. */
struct relay *relay_new(int in_fd, int out_fd, bool keep_open);
/* NULL-safe; returns NULL. */
struct relay *relay_free(struct relay *r);

/*
 * Relays over sock (a connected stream socket, not owned; made non-blocking)
 * until both directions are done, or with keep_open until the peer's EOF.
 * Returns 0, RELAY_STOPPED when stop_fd became readable (nothing is read from
 * it), or -errno with r->failed naming the step that failed.
 */
#define RELAY_STOPPED 1
int relay_run(struct relay *r, int sock);

#endif
