/* SPDX-License-Identifier: MIT */
/*
 * Session frames come from the other end of a connection. Feed arbitrary
 * bytes to the incremental parser in pieces whose sizes the input itself
 * chooses, decode every payload the way the daemon and the client do, and
 * check what the parser promises: the frames match a one-shot parse of the
 * same bytes, no frame exceeds the limit, and an error is final.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode_payload(const struct session_frame *f) {
        struct session_hello h;
        struct session_exec e;
        struct session_exit x;
        struct session_winsize w;
        struct session_copy c;
        struct session_auth a;
        const char *msg;
        size_t len;
        uint32_t v;

        switch (f->type) {
        case SESSION_HELLO:
                if (session_hello_decode(f, &h) == 0 && (h.min_version == 0 || h.min_version > h.max_version))
                        abort();
                break;
        case SESSION_ERROR:
                if (session_error_decode(f, &v, &msg, &len) != 0 || len > SESSION_ERROR_MESSAGE_MAX)
                        abort();
                break;
        case SESSION_EXEC:
                if (session_exec_decode(f, &e) == 0) {
                        if ((e.argc == 0) != !!(e.flags & SESSION_EXEC_LOGIN) || e.argv[e.argc] || e.env[e.envc])
                                abort();
                        for (size_t i = 0; i < e.envc; i++)
                                if (!strchr(e.env[i], '=') || e.env[i][0] == '=')
                                        abort();
                        session_exec_done(&e);
                }
                break;
        case SESSION_PUT:
        case SESSION_GET:
                if (session_copy_decode(f, &c) == 0) {
                        if (c.count == 0 || c.paths[c.count] || (c.type == SESSION_PUT && c.count != 1))
                                abort();
                        for (size_t i = 0; i < c.count; i++)
                                if (!c.paths[i][0])
                                        abort();
                        session_copy_done(&c);
                }
                break;
        case SESSION_AUTH:
                if (session_auth_decode(f, &a) == 0) {
                        if (!a.user || !a.user[0] || !a.password)
                                abort();
                        session_auth_done(&a);
                }
                break;
        case SESSION_EXIT:
                if (session_exit_decode(f, &x) == 0 && x.kind == SESSION_EXIT_CODE && x.value > 255)
                        abort();
                break;
        case SESSION_WINSIZE:
                if (session_winsize_decode(f, &w) != 0)
                        abort();
                break;
        case SESSION_STARTED:
        case SESSION_WINDOW:
        case SESSION_SIGNAL:
                if (session_u32_decode(f, &v) != 0)
                        abort();
                break;
        default:
                break;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct session_parser *p;
        struct session_frame f, g;
        size_t off = 0, ref_off = 0, g_size;
        int r = 0;

        if (size < 1)
                return 0;
        /* The first byte picks the read size: 1..256 bytes at a time. */
        size_t step = (size_t) data[0] + 1;
        data++;
        size--;
        p = malloc(sizeof(*p));
        if (!p)
                return 0;
        session_parser_init(p);
        while (off < size && r >= 0) {
                size_t space, chunk = size - off < step ? size - off : step;
                uint8_t *dst = session_parser_space(p, &space);

                if (space == 0)
                        abort();
                if (chunk > space)
                        chunk = space;
                memcpy(dst, data + off, chunk);
                session_parser_fill(p, chunk);
                off += chunk;
                while ((r = session_parser_next(p, &f)) > 0) {
                        if (f.len > SESSION_PAYLOAD_MAX)
                                abort();
                        /* The same frame, parsed in one go from the whole input. */
                        if (session_frame_parse(data + ref_off, size - ref_off, &g, &g_size) != 1 ||
                            g.type != f.type || g.channel != f.channel || g.len != f.len ||
                            memcmp(g.payload, f.payload, f.len) != 0)
                                abort();
                        ref_off += g_size;
                        decode_payload(&f);
                }
        }
        if (r < 0) {
                if (r != -SESSION_E_PROTOCOL && r != -SESSION_E_TOO_BIG)
                        abort();
                if (session_parser_next(p, &f) != r)
                        abort();
                if (session_frame_parse(data + ref_off, size - ref_off, &g, &g_size) != r)
                        abort();
        }
        free(p);
        return 0;
}
