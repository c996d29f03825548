/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_VHOST_ADMIT_H
#define HVSOCK_VHOST_ADMIT_H

/*
 * When the device takes new connections (vsock.c makes them):
 *
 * - host programs connecting to --uds-path: while --max-pending-clients of
 *   them are still to send their CONNECT line, the listener is not watched,
 *   so the next ones wait in its backlog (SOMAXCONN) until a line is done.
 *   A client is never closed unheard because others were slow to talk.
 * - a connection refused at --max-connections, from a host program or from
 *   the guest, is counted (SIGUSR1's line) and logged once per burst: the
 *   first refusal after a quiet second says so, the rest are only counted.
 */

#include <stdbool.h>
#include <stdint.h>

#include "ev.h"

/* How long without a refusal ends a burst (the next one is logged again). */
#define ADMIT_BURST_QUIET_MS 1000
/* Out of descriptors, the listener rests this long unless a connection
 * closes first; failures that follow each other closer than the quiet time
 * are one burst (logged once). */
#define ADMIT_STARVED_RETRY_MS 1000
#define ADMIT_STARVED_QUIET_MS 5000

struct admit {
        struct ev_loop *loop;
        struct ev_source *listener; /* the device's host listener, not owned */
        bool paused;                /* at the pending limit */
        uint64_t starved_until;     /* out of descriptors: rest until then (now_ms()), 0: not */
        bool watched;               /* the listener is in the loop's set with EPOLLIN */
        uint64_t host_refused_ms, guest_refused_ms, starved_ms; /* last of each (now_ms()), 0: none */
};

void admit_init(struct admit *a, struct ev_loop *loop, struct ev_source *listener);

/* Whether another host client may be accepted with n_line of them still
 * reading their line. At the limit, stops watching the listener and counts
 * that in *paused. */
bool admit_host_room(struct admit *a, unsigned n_line, unsigned max_pending, uint64_t *paused);

/* A host client finished its line (or went away): watch the listener again. */
void admit_host_line_done(struct admit *a);

/* accept() failed with err. Out of descriptors (EMFILE, ENFILE) or memory,
 * the listener would report the waiting client again at once and spin the
 * loop: it rests instead, until a connection closes (admit_fd_freed()) or
 * ADMIT_STARVED_RETRY_MS pass (admit_tick()), and the clients wait in its
 * backlog. Counted in *starved, logged once per burst. */
void admit_host_accept_failed(struct admit *a, int err, uint64_t *starved);
/* A connection closed: a resting listener is watched again. */
void admit_fd_freed(struct admit *a);
/* Called every loop turn: ends a rest that is over. Returns the ms until
 * it is, or -1. */
int admit_tick(struct admit *a);

/* Refuses a host client at the connection limit: reads what it already sent
 * (so the close is a clean end of stream, not a reset), closes fd, counts it
 * in *refused and logs the first of a burst. */
void admit_host_refuse(struct admit *a, int fd, unsigned max_connections, uint64_t *refused);

/* Counts a guest connect refused at the connection limit in *refused and
 * logs the first of a burst (the caller sends the RST). */
void admit_guest_refuse(struct admit *a, unsigned max_connections, uint64_t *refused);

#endif
