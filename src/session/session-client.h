/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_SESSION_CLIENT_H
#define HVSOCK_SESSION_CLIENT_H

/*
 * The client side of the session protocol (docs/session-protocol.md), used
 * by `hvsock exec`: negotiates the version, sends one EXEC request, relays
 * stdin to the command and its stdout and stderr back as they come,
 * forwards signals, and reports how the command ended.
 */

#include <stdbool.h>
#include <stdint.h>

#include "frame.h"

struct session_client_result {
        bool exited;             /* the daemon sent EXIT: see exit */
        struct session_exit exit;
        uint32_t error_code;     /* else the daemon sent ERROR: its code and message */
        char error_message[SESSION_ERROR_MESSAGE_MAX + 1];
        const char *failed;      /* when session_client_exec() fails: the step, for messages */
        int interrupted;         /* the signal that ended the session before the command started */
};

/* Keeps an ERROR's code and message (len bytes, not NUL-terminated) in res.
 * The VM chose the message: it is kept as one line with whatever a terminal
 * would take as a command replaced (str_make_printable), since it is printed
 * as the client's own. */
void session_result_set_error(struct session_client_result *res, uint32_t code, const char *msg, size_t len);

/*
 * Runs e over sock (a connected stream socket, not owned; made
 * non-blocking). in_fd is relayed as the command's stdin until EOF (-1: an
 * empty stdin); stdout and stderr are written to out_fd and err_fd (not
 * owned, written with blocking writes). Signals read from sig_fd (a
 * signalfd, -1 for none) are forwarded to the command. Returns 0 when the
 * daemon ended the session with EXIT or ERROR (see *ret), or -errno with
 * ret->failed naming what failed (-EPROTO for a daemon that breaks the
 * protocol).
 */
int session_client_exec(int sock, const struct session_exec *e, int in_fd, int out_fd, int err_fd, int sig_fd,
                        struct session_client_result *ret);

/* Where a session's streams and events come from and go to (none owned). */
struct session_client_io {
        int in_fd, out_fd, err_fd; /* as for session_client_exec() */
        int sig_fd;                /* a signalfd or -1: signals forwarded as SIGNAL... */
        int tty_fd;                /* ...except SIGWINCH when this is a terminal (else -1):
                                    * its window size is sent as WINSIZE instead */
        const struct session_copy *copy; /* when set, sent instead of the EXEC request (e is
                                          * then unused): `hvsock cp`'s archive goes on
                                          * in_fd (PUT) or comes on out_fd (GET) */
        /* Called once, only when the daemon's HELLO requires credentials
         * (SESSION_CAP_AUTH_PASSWORD): fills *ret (the client frees it with
         * session_auth_done()) and returns 0, or -errno to end the session.
         * NULL: such a daemon ends the session with -EACCES. */
        int (*credential)(void *data, struct session_auth *ret);
        void *credential_data;
};

/* session_client_exec() with a terminal's window size followed (used by
 * `hvsock shell`). Same returns. */
int session_client_run(int sock, const struct session_exec *e, const struct session_client_io *io,
                       struct session_client_result *ret);

/*
 * For `hvsock cp`: sends io->copy and runs the session up to the daemon's
 * STARTED, then hands it over (copy-link.h). Returns 0 with *ret_in (the
 * parser, owned by the caller, holding whatever came after STARTED) and
 * *ret_version (the session's protocol version); 1 when the daemon ended
 * the session first (ERROR in *ret); or -errno as session_client_run().
 */
int session_client_start_copy(int sock, const struct session_client_io *io, struct session_client_result *ret,
                              struct session_parser **ret_in, unsigned *ret_version);

/* The window size of the terminal tty_fd. Returns 0 or -errno. */
int session_client_winsize(int tty_fd, struct session_winsize *ret);

#endif
