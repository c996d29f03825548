/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_SESSION_FRAME_H
#define HVSOCK_SESSION_FRAME_H

/*
 * The session protocol's framing (docs/session-protocol.md), shared by
 * hvsock-sessiond and the hvsock client commands: the frame header, the
 * incremental parser, the bounded output queue, and the encoders and
 * decoders of every payload. Nothing here asserts on what a peer sent:
 * every decoder returns an error instead.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SESSION_VERSION_MIN 1
#define SESSION_VERSION_MAX 3

#include "registry.h"

/* The session service: the registry's built-in VSOCK-template ID, port 24149 (0x5e55). */
#define SESSION_PORT HVSOCK_SESSION_SERVICE_PORT
#define SESSION_SERVICE_NAME HVSOCK_SESSION_SERVICE_NAME

#define SESSION_HEADER_SIZE 8
#define SESSION_PAYLOAD_MAX (64u * 1024u)
#define SESSION_FRAME_MAX (SESSION_HEADER_SIZE + SESSION_PAYLOAD_MAX)
/* Credit each side starts with, per data channel and direction. */
#define SESSION_WINDOW_INITIAL (256u * 1024u)
#define SESSION_ERROR_MESSAGE_MAX 1024u
/* Limits of an EXEC request, within one frame. */
#define SESSION_EXEC_ARGS_MAX 4096u

enum session_type {
        SESSION_HELLO = 1,
        SESSION_ERROR = 2,
        SESSION_EXEC = 3,
        SESSION_STARTED = 4,
        SESSION_DATA = 5,
        SESSION_EOF = 6,
        SESSION_WINDOW = 7,
        SESSION_SIGNAL = 8,
        SESSION_EXIT = 9,
        SESSION_WINSIZE = 10,
        SESSION_PUT = 11, /* a file copy into the VM: the archive comes on stdin */
        SESSION_GET = 12, /* a file copy out of the VM: the archive goes on stdout */
        SESSION_AUTH = 13, /* the client's credentials, before its request */
        SESSION_TYPE_MAX,
};

enum session_channel {
        SESSION_STDIN = 0,
        SESSION_STDOUT = 1,
        SESSION_STDERR = 2,
        SESSION_CONTROL = 3,
        SESSION_CHANNEL_MAX,
};

enum session_error {
        SESSION_E_PROTOCOL = 1,    /* a malformed or unexpected frame */
        SESSION_E_VERSION = 2,     /* no common protocol version */
        SESSION_E_TOO_BIG = 3,     /* a frame above SESSION_PAYLOAD_MAX */
        SESSION_E_FLOW = 4,        /* data beyond the granted window */
        SESSION_E_BUSY = 5,        /* the daemon serves its maximum of sessions */
        SESSION_E_BAD_REQUEST = 6, /* an EXEC request that cannot be run as asked */
        SESSION_E_NOT_FOUND = 7,   /* the command does not exist */
        SESSION_E_SPAWN = 8,       /* starting the command failed otherwise */
        SESSION_E_PERMISSION = 9,  /* the session may not run as that user */
        SESSION_E_UNSUPPORTED = 10, /* a feature this daemon does not offer */
        SESSION_E_INTERNAL = 11,   /* the daemon failed (out of memory, ...) */
        SESSION_E_AUTH = 12,       /* missing or invalid credentials */
        SESSION_E_TIMEOUT = 13,    /* the client sent no request in time */
};

/* EXEC flags. */
#define SESSION_EXEC_PTY UINT32_C(0x1)
/* Run the user's login shell as a login shell instead of argv (argc is 0). */
#define SESSION_EXEC_LOGIN UINT32_C(0x2)
#define SESSION_EXEC_FLAGS (SESSION_EXEC_PTY | SESSION_EXEC_LOGIN)
/* EXIT kinds and flags. */
#define SESSION_EXIT_CODE 0
#define SESSION_EXIT_SIGNAL 1
#define SESSION_EXIT_TIMED_OUT UINT8_C(0x1)
#define SESSION_EXIT_CORE UINT8_C(0x2)

static inline void put_le16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t) v;
        p[1] = (uint8_t) (v >> 8);
}

static inline void put_le32(uint8_t *p, uint32_t v) {
        put_le16(p, (uint16_t) v);
        put_le16(p + 2, (uint16_t) (v >> 16));
}

static inline uint16_t get_le16(const uint8_t *p) {
        return (uint16_t) (p[0] | (p[1] << 8));
}

static inline uint32_t get_le32(const uint8_t *p) {
        return (uint32_t) get_le16(p) | ((uint32_t) get_le16(p + 2) << 16);
}

struct session_frame {
        uint8_t type;    /* enum session_type */
        uint8_t channel; /* enum session_channel */
        uint16_t flags;  /* zero in version 1 */
        uint32_t len;
        const uint8_t *payload; /* len bytes, owned by whoever parsed the frame */
};

/*
 * Parses one frame at the start of data. Returns 1 with *ret and
 * *ret_size (header + payload) set, 0 when more bytes are needed, or a
 * negative SESSION_E_* code: -SESSION_E_TOO_BIG for a length above
 * SESSION_PAYLOAD_MAX, -SESSION_E_PROTOCOL for an unknown type, a channel
 * that type may not use, non-zero flags, or a payload length that type
 * cannot have. The error is known as soon as the header is complete.
 */
int session_frame_parse(const uint8_t *data, size_t len, struct session_frame *ret, size_t *ret_size);

/*
 * An incremental parser over a fixed buffer of SESSION_FRAME_MAX bytes:
 * read into session_parser_space(), commit with session_parser_fill(),
 * then take frames with session_parser_next() until it returns 0.
 */
struct session_parser {
        uint8_t buf[SESSION_FRAME_MAX];
        size_t start, end;
        size_t consumed; /* the frame last returned, dropped on the next call */
        int error;       /* sticky once set */
};

void session_parser_init(struct session_parser *p);
/* Where to read into and how much fits (> 0 unless a returned frame is still held). */
uint8_t *session_parser_space(struct session_parser *p, size_t *ret_len);
/* Counts n freshly read bytes. */
void session_parser_fill(struct session_parser *p, size_t n);
/* Returns 1 and the next frame (valid until the next call), 0 when more bytes
 * are needed, or a negative SESSION_E_* code (repeated on every later call). */
int session_parser_next(struct session_parser *p, struct session_frame *ret);
/* Bytes held that do not yet form a whole frame. */
size_t session_parser_pending(const struct session_parser *p);

/*
 * A bounded queue of encoded frames waiting to be sent. Appends that do not
 * fit fail with -ENOBUFS and leave the queue as it was.
 */
struct session_out {
        uint8_t *data;
        size_t start, end, cap;
};

int session_out_init(struct session_out *o, size_t cap);
void session_out_done(struct session_out *o);
size_t session_out_len(const struct session_out *o);
size_t session_out_free(const struct session_out *o);
/* Appends one frame (len <= SESSION_PAYLOAD_MAX). Returns 0, -ENOBUFS or -EINVAL. */
int session_out_frame(struct session_out *o, uint8_t type, uint8_t channel, const void *payload, size_t len);
/* Reserves room for a frame of up to max_len payload bytes and returns where
 * the payload goes (NULL when it does not fit); session_out_commit() then
 * writes the header for the len bytes actually used (len <= max_len). */
uint8_t *session_out_reserve(struct session_out *o, size_t max_len);
void session_out_commit(struct session_out *o, uint8_t type, uint8_t channel, size_t len);
/* Sends as much as fd takes without blocking. Returns 0 (also when the socket
 * is full) or -errno. */
int session_out_flush(struct session_out *o, int fd);

/* Payloads. Decoders return 0 or -SESSION_E_PROTOCOL and write *ret only on success. */
struct session_hello {
        uint16_t min_version, max_version;
        uint32_t capabilities; /* SESSION_CAP_* */
};
/* A server's HELLO capability: it requires AUTH (user and password) before
 * EXEC, PUT or GET. Clients send 0. */
#define SESSION_CAP_AUTH_PASSWORD UINT32_C(0x1)
int session_hello_decode(const struct session_frame *f, struct session_hello *ret);
/* The version both ranges hold (the highest), or -SESSION_E_VERSION. */
int session_version_choose(const struct session_hello *a, const struct session_hello *b);
int session_out_hello(struct session_out *o, uint16_t min_version, uint16_t max_version);
/* The same with capability bits. */
int session_out_hello_caps(struct session_out *o, uint16_t min_version, uint16_t max_version, uint32_t capabilities);

/* An AUTH request: NUL-terminated copies, user not empty. */
struct session_auth {
        char *user;
        char *password;
};
/* Decodes into *ret (freed with session_auth_done()). Returns 0,
 * -SESSION_E_PROTOCOL for a malformed payload or -ENOMEM. */
int session_auth_decode(const struct session_frame *f, struct session_auth *ret);
/* Encodes an AUTH frame. Returns 0, -EINVAL for an empty user, -E2BIG or -ENOBUFS. */
int session_out_auth(struct session_out *o, const char *user, const char *password);
/* Wipes the password and frees both strings. */
void session_auth_done(struct session_auth *a);

/* *ret_message points into the frame (ret_len bytes, not NUL-terminated). */
int session_error_decode(const struct session_frame *f, uint32_t *ret_code, const char **ret_message,
                         size_t *ret_len);
/* The message is cut to SESSION_ERROR_MESSAGE_MAX bytes. */
int session_out_error(struct session_out *o, uint32_t code, const char *message);

int session_out_u32(struct session_out *o, uint8_t type, uint8_t channel, uint32_t v);
/* WINDOW, SIGNAL, STARTED: one u32. */
int session_u32_decode(const struct session_frame *f, uint32_t *ret);

struct session_exit {
        uint8_t kind;  /* SESSION_EXIT_CODE or SESSION_EXIT_SIGNAL */
        uint8_t flags; /* SESSION_EXIT_TIMED_OUT, SESSION_EXIT_CORE */
        uint32_t value; /* exit code 0..255 or signal number 1..127 */
};
int session_exit_decode(const struct session_frame *f, struct session_exit *ret);
int session_out_exit(struct session_out *o, const struct session_exit *e);

struct session_winsize {
        uint16_t rows, cols;
};
int session_winsize_decode(const struct session_frame *f, struct session_winsize *ret);
int session_out_winsize(struct session_out *o, const struct session_winsize *w);

/* An EXEC request. Strings are NUL-terminated copies; empty cwd, user or
 * term mean "not given" and are stored as NULL. */
struct session_exec {
        uint32_t flags;     /* SESSION_EXEC_PTY, SESSION_EXEC_LOGIN */
        uint32_t timeout_s; /* 0: none */
        struct session_winsize winsize;
        char **argv; /* argc entries and a NULL (argc is 0 exactly with SESSION_EXEC_LOGIN) */
        size_t argc;
        char **env; /* "K=V" entries and a NULL */
        size_t envc;
        char *cwd, *user, *term;
};

/* Decodes into *ret (freed with session_exec_done()). Returns 0,
 * -SESSION_E_PROTOCOL for a malformed payload or -ENOMEM. */
int session_exec_decode(const struct session_frame *f, struct session_exec *ret);
/* Encodes e as an EXEC frame. Returns 0, -E2BIG when it does not fit one
 * frame, -EINVAL for strings a request cannot carry (NUL-free by
 * construction; env entries must have a '=' after a non-empty name), or
 * -ENOBUFS. */
int session_out_exec(struct session_out *o, const struct session_exec *e);
void session_exec_done(struct session_exec *e);

/*
 * Signal numbers on the wire are those of Linux on x86 and ARM (HUP 1,
 * INT 2, QUIT 3, KILL 9, USR1 10, USR2 12, TERM 15, CONT 18, STOP 19,
 * TSTP 20, WINCH 28). to_native returns the local signal or -EINVAL for a
 * number a SIGNAL frame may not carry; from_native returns the wire number
 * (the local number itself when the table has no entry).
 */
int session_signal_to_native(uint32_t wire);
uint32_t session_signal_from_native(int sig);

/* PUT and GET flags (docs/session-protocol.md, "File copy"). */
#define SESSION_COPY_RECURSIVE UINT32_C(0x1) /* directories are copied with their contents */
#define SESSION_COPY_PRESERVE UINT32_C(0x2)  /* mode and mtime are kept */
#define SESSION_COPY_MULTIPLE UINT32_C(0x4)  /* PUT only: several sources, the target must be a directory */
/* From version 2: the receiver fsyncs each file (and its directory) before
 * and after it gets its name. A version-1 receiver always does, since that
 * version has no such flag. */
#define SESSION_COPY_SYNC UINT32_C(0x8)
#define SESSION_COPY_FLAGS (SESSION_COPY_RECURSIVE | SESSION_COPY_PRESERVE | SESSION_COPY_MULTIPLE | SESSION_COPY_SYNC)
/* Sources a GET may name, within one frame. */
#define SESSION_COPY_PATHS_MAX 4096u

/* A PUT (type SESSION_PUT: paths[0] is the destination, count 1) or GET
 * (SESSION_GET: count sources) request. Paths are non-empty NUL-terminated
 * copies. */
struct session_copy {
        uint8_t type;
        uint32_t flags;
        char **paths; /* count entries and a NULL */
        size_t count;
};

/* Decodes into *ret (freed with session_copy_done()). Returns 0,
 * -SESSION_E_PROTOCOL for a malformed payload or -ENOMEM. */
int session_copy_decode(const struct session_frame *f, struct session_copy *ret);
/* Encodes c as a PUT or GET frame. Returns 0, -EINVAL for a request the
 * protocol cannot carry, -E2BIG when it does not fit one frame, or -ENOBUFS. */
int session_out_copy(struct session_out *o, const struct session_copy *c);
void session_copy_done(struct session_copy *c);

/* Static names for messages. */
const char *session_type_name(uint8_t type);
const char *session_error_name(uint32_t code);

#endif
