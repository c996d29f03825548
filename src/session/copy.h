/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_SESSION_COPY_H
#define HVSOCK_SESSION_COPY_H

/*
 * The archive stream of `hvsock cp` (docs/session-protocol.md, "File
 * copy"): a sender walks its sources and writes files and directories as
 * records, each file in chunks followed by its size and digest; a
 * receiver recreates them under a destination, each file written to an
 * unnamed temporary file in the target directory, verified (and, with
 * SESSION_COPY_SYNC, fsync'ed) and only then given its name. Both ends run
 * where the files are, on the session itself (copy-link.h): in the hvsock
 * client's process, and in the helper process to which hvsock-sessiond
 * hands the connection.
 */

#include <stdbool.h>
#include <stdint.h>

#include "frame.h"

struct copy_link;

/* argv[1] of hvsock-sessiond when it runs as the copy helper. */
#define COPY_HELPER_OPTION "--cp-helper"

struct copy_options {
        uint32_t flags;      /* SESSION_COPY_* */
        const char *label;   /* message prefix: "hvsock" or "hvsock (VM)" */
        const char *prefix;  /* put before the paths this side names in messages ("" or "VM:") */
        const char *peer;    /* the sender, as messages name it: "the VM" */
        bool progress;       /* draw a progress bar on stderr (a terminal) */
        unsigned version;    /* the session's protocol version: digest, announcements, links */
        struct copy_link *messages; /* the helper: report through the session, not stderr */
        /* Receiver: the sender is the VM, which is not trusted: only the
         * sources asked for (expected: their last components, in order)
         * are taken at the top, and in versions 1 and 2 no more data than
         * T announced. False in the helper, whose sender is the host. */
        bool untrusted_sender;
        char *const *expected;
        size_t n_expected;
};

/* Writes the archive of sources to l. Returns 0 when all were sent, 1 when
 * some could not be (each reported), or -errno when the stream itself
 * failed (-EPIPE: the receiver went away; -EBADMSG: the peer broke the
 * session protocol; neither reported). */
int copy_send(struct copy_link *l, char *const *sources, size_t n, const struct copy_options *o);

/* Reads an archive from l and recreates it at dest, accepting only what
 * docs/session-protocol.md ("What a receiver accepts") allows. Returns 0, 1
 * when some entries failed (reported), or -errno: -EPIPE when the stream
 * ended early and -EBADMSG as above (neither reported); -EPROTO for a
 * malformed archive and -ECANCELED for an entry refused (both reported),
 * after which the caller ends the session at once, not waiting for a
 * sender that broke the rules. */
int copy_receive(struct copy_link *l, const char *dest, const struct copy_options *o);

/* hvsock-sessiond COPY_HELPER_OPTION send|receive VERSION FLAGS PATH..., with
 * the session's socket as stdin, once hvsock-sessiond has handed it over:
 * sends STARTED, runs the copy, ends the session with EXIT. Returns the exit
 * status (0, 1, or 2 for bad arguments). */
int copy_helper_main(int argc, char **argv);

#endif
