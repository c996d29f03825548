/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_SESSION_COPY_LINK_H
#define HVSOCK_SESSION_COPY_LINK_H

/*
 * The session as the archive stream of `hvsock cp` sees it, in the one
 * process at each end that reads or writes the files: the client itself,
 * and the copy helper to which hvsock-sessiond hands the connection. The
 * archive goes as DATA frames on one channel (stdin for PUT, stdout for
 * GET) straight from and into the frame buffers, with the protocol's flow
 * control; every other frame of the session is handled here too. Blocking
 * calls over a non-blocking socket: whenever a side waits it also reads, so
 * two ends that both have something to send never wait on each other.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "session-client.h"

struct copy_link;

/*
 * Takes over a session whose request was answered with STARTED: sock (not
 * owned, made non-blocking) and in, the parser that has read up to
 * STARTED's end (owned from now on, may hold later bytes). server: this is
 * the copy helper (it sends EXIT; its messages go as stderr DATA); sending:
 * this end writes the archive (PUT client, GET helper). res (client only)
 * receives EXIT or ERROR. Returns 0 or -ENOMEM (in is freed either way).
 */
int copy_link_new(int sock, struct session_parser *in, bool server, bool sending, struct session_client_result *res,
                  struct copy_link **ret);
/* Frees the link, not the socket. NULL-safe; returns NULL. */
struct copy_link *copy_link_free(struct copy_link *l);

/* Sender: a place in the current DATA frame with room for at least min
 * bytes (min <= 8192), *ret_room set to how much it has. NULL when the
 * session ended (*ret_err: -EPIPE, or -errno when the connection broke). */
uint8_t *copy_link_space(struct copy_link *l, size_t min, size_t *ret_room, int *ret_err);
/* Sender: n bytes at copy_link_space() were filled. */
void copy_link_fill(struct copy_link *l, size_t n);
/* Sender: data into the stream (through copy_link_space). Returns 0 or as above. */
int copy_link_write(struct copy_link *l, const void *data, size_t n);
/* Sender: sends everything written so far. Returns 0, -EPIPE or -errno. */
int copy_link_flush(struct copy_link *l);
/* Sender: waits until fd (a slow source such as a pipe) is readable while
 * serving the session. Returns 0, -EPIPE when the session ended, or -errno. */
int copy_link_wait_readable(struct copy_link *l, int fd);

/* Receiver: the next bytes of the stream, at most max of them: returns how
 * many (> 0) with *ret pointing at them, -EPIPE when the stream ended, or
 * -errno. They stay valid until copy_link_consume(). */
int copy_link_peek(struct copy_link *l, const uint8_t **ret, size_t max);
void copy_link_consume(struct copy_link *l, size_t n);
/* Receiver: exactly n bytes. Returns 0, -EPIPE or -errno. */
int copy_link_read(struct copy_link *l, void *data, size_t n);
/* Whether the session itself is over (EXIT or ERROR came, the connection
 * closed or broke), as opposed to only the archive's channel having ended. */
bool copy_link_ended(const struct copy_link *l);

/* Helper: one message line (no newline) for the client's stderr. Lines that
 * find the buffer full are counted and summed up at the end. */
void copy_link_message(struct copy_link *l, const char *line);

/* Helper: ends the session with EXIT(code) (or ERROR, when the client broke
 * the protocol), then lingers as hvsock-sessiond does. Returns 0 or -errno. */
int copy_link_finish_server(struct copy_link *l, int code);
/* Client: ends its side (EOF on stdin) and waits for EXIT or ERROR, dropping
 * archive data that comes after the receiver stopped. Returns 0 with the
 * result in res, or -errno (-ECONNRESET: closed before EXIT). */
int copy_link_finish_client(struct copy_link *l);

#endif
