/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_SESSION_ADMIT_H
#define HVSOCK_SESSION_ADMIT_H

/*
 * Which connections hvsock-sessiond takes, and when it accepts them
 * (session-server.c then makes and runs the sessions):
 *
 * - --auth host trusts the peer the hypervisor vouches for: over vsock,
 *   the host (CID 2) only, not vsock loopback (CID 1: any user of this
 *   machine) or another CID. A UNIX-socket peer (the local transport, or
 *   the device process of the hybrid one) is a process on this machine, so
 *   only root and the daemon's own user are taken, by SO_PEERCRED. Anyone
 *   else is answered ERROR PERMISSION. --auth pam takes anyone: it checks
 *   credentials.
 * - beyond the session limit a connection is answered ERROR BUSY. At most
 *   SESSION_ADMIT_ANSWERING refused connections are being answered at once;
 *   while they are all in use the daemon stops accepting, and the next
 *   clients wait in the listen backlog for their turn. Closing them
 *   unanswered instead, with their HELLO unread, would reset them.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <hvsock/hvsock.h>

#include "session-server.h"

/* Refused connections being answered (ERROR, then the closing linger) at once. */
#define SESSION_ADMIT_ANSWERING 16u

struct session_admit {
        enum session_server_auth auth;
        unsigned max_sessions;
        uid_t self; /* the daemon's effective uid */
};

/* A connection just accepted: a session to run, or one to refuse. */
struct session_admission {
        int fd;          /* non-blocking, close-on-exec; the caller owns it */
        uint32_t refuse; /* 0: run it; else the ERROR code it is answered with */
        char why[256];   /* the ERROR message, when refused */
};

/* Whether another connection may be accepted while serving sessions run
 * and answering refused ones are being answered. */
bool session_admit_room(const struct session_admit *a, unsigned serving, unsigned answering);

/*
 * Accepts the next pending connection of l, when there is room for one, and
 * judges it. Returns 1 with *ret set, 0 when none is pending or there is no
 * room (then the listener should not be watched until there is), or -errno
 * when accepting failed (out of descriptors: the daemon goes on).
 */
int session_admit_next(const struct session_admit *a, struct hvsock_listener *l, unsigned serving,
                       unsigned answering, struct session_admission *ret);

#endif
