/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_SESSION_SERVER_H
#define HVSOCK_SESSION_SERVER_H

/*
 * The server side of the session protocol: one epoll loop that accepts
 * sessions on a listener, runs each session's command with pipes for its
 * standard streams, and relays them as frames (docs/session-protocol.md).
 */

#include <stdint.h>

#include <hvsock/hvsock.h>

#define SESSION_SERVER_MAX_SESSIONS_DEFAULT 64u
/* How long a session that is being closed may take to read its last frames. */
#define SESSION_LINGER_MS 2000
/* How long a client has from connecting to sending its request (with
 * --auth pam that includes typing a password): sshd's LoginGraceTime. */
#define SESSION_REQUEST_TIMEOUT_DEFAULT 120u

struct session_server;

enum session_server_auth {
        SESSION_SERVER_AUTH_HOST, /* trust the hypervisor-authenticated peer */
        SESSION_SERVER_AUTH_PAM,  /* require AUTH, checked through PAM */
};

struct session_server_config {
        uint32_t max_sessions; /* 0: the default */
        enum session_server_auth auth;
        const char *pam_service; /* NULL: SESSION_PAM_SERVICE */
        uint32_t request_timeout_s; /* 0: SESSION_REQUEST_TIMEOUT_DEFAULT */
};

/*
 * A server on l (not owned; it must outlive the server). Blocks SIGCHLD and
 * the stop signals (SIGTERM, SIGHUP, SIGINT: signal-util.h) for the process
 * (they are read from a signalfd) and ignores SIGPIPE. Returns 0 or -errno;
 * the caller owns *ret.
 */
int session_server_new(struct hvsock_listener *l, const struct session_server_config *cfg,
                       struct session_server **ret);

/* Serves until a stop signal, then kills the sessions' commands and reaps
 * them (the caller then frees the listener, which removes its socket files).
 * Returns 0 or -errno when the loop itself fails. */
int session_server_run(struct session_server *s);

/* NULL-safe; kills and reaps what is still running. Returns NULL. */
struct session_server *session_server_free(struct session_server *s);

#endif
