/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_SESSION_COPY_H
#define HVSOCK_SESSION_COPY_H

/*
 * The archive stream of `hvsock cp` (docs/session-protocol.md, "File
 * copy"): a sender walks its sources and writes files and directories as
 * records, each file in chunks followed by its size and SHA-256; a
 * receiver recreates them under a destination, each file written to an
 * unnamed temporary file in the target directory, fsync'ed, verified and
 * only then given its name. Both ends work on blocking descriptors: the
 * client runs them in a child process on a pipe, hvsock-sessiond as a
 * helper whose stdin or stdout the session relays.
 */

#include <stdbool.h>
#include <stdint.h>

#include "frame.h"

/* argv[1] of hvsock-sessiond when it runs as the copy helper. */
#define COPY_HELPER_OPTION "--cp-helper"

struct copy_options {
        uint32_t flags;      /* SESSION_COPY_* */
        const char *label;   /* message prefix: "hvsock" or "hvsock (VM)" */
        const char *prefix;  /* put before the paths this side names in messages ("" or "VM:") */
        bool progress;       /* draw a progress bar on stderr (a terminal) */
};

/* Writes the archive of sources to fd. Returns 0 when all were sent, 1 when
 * some could not be (each reported on stderr), or -errno when the stream
 * itself failed (-EPIPE: the receiver went away, not reported). */
int copy_send(int fd, char *const *sources, size_t n, const struct copy_options *o);

/* Reads an archive from fd and recreates it at dest. Returns 0, 1 when some
 * entries failed (reported), or -errno when the stream broke (-EPIPE: it
 * ended early, not reported). */
int copy_receive(int fd, const char *dest, const struct copy_options *o);

/* hvsock-sessiond COPY_HELPER_OPTION send|receive FLAGS PATH...: the exit
 * status (0, 1, or 2 for bad arguments). */
int copy_helper_main(int argc, char **argv);

#endif
