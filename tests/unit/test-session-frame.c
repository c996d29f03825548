/* SPDX-License-Identifier: MIT */
/* The session protocol's framing: header parsing, the incremental parser
 * over every split of the stream, the bounded output queue, payloads. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "frame.h"
#include "test-util.h"

static size_t header(uint8_t *p, uint8_t type, uint8_t channel, uint16_t flags, uint32_t len) {
        p[0] = type;
        p[1] = channel;
        put_le16(p + 2, flags);
        put_le32(p + 4, len);
        return SESSION_HEADER_SIZE;
}

static void test_endian(void **state) {
        uint8_t b[4];

        put_le32(b, 0x11223344);
        assert_memory_equal(b, "\x44\x33\x22\x11", 4);
        assert_int_equal(get_le32(b), 0x11223344);
        put_le16(b, 0xabcd);
        assert_memory_equal(b, "\xcd\xab", 2);
        assert_int_equal(get_le16(b), 0xabcd);
}

static void test_parse_valid(void **state) {
        uint8_t buf[64];
        struct session_frame f = {}, untouched;
        size_t n = header(buf, SESSION_DATA, SESSION_STDOUT, 0, 5), size = 777;

        memcpy(buf + n, "hello", 5);
        /* Every prefix is "need more", with the outputs untouched. */
        for (size_t i = 0; i < n + 5; i++) {
                untouched = f;
                assert_int_equal(session_frame_parse(buf, i, &f, &size), 0);
                assert_memory_equal(&f, &untouched, sizeof(f));
                assert_int_equal(size, 777);
        }
        assert_int_equal(session_frame_parse(buf, n + 5, &f, &size), 1);
        assert_int_equal(f.type, SESSION_DATA);
        assert_int_equal(f.channel, SESSION_STDOUT);
        assert_int_equal(f.len, 5);
        assert_memory_equal(f.payload, "hello", 5);
        assert_int_equal(size, 13);
        /* Bytes after the frame are not part of it. */
        assert_int_equal(session_frame_parse(buf, sizeof(buf), &f, &size), 1);
        assert_int_equal(size, 13);
}

static void test_parse_errors(void **state) {
        static const struct {
                uint8_t type, channel;
                uint16_t flags;
                uint32_t len;
                int expect;
        } cases[] = {
                { SESSION_DATA, SESSION_STDIN, 0, SESSION_PAYLOAD_MAX, 0 }, /* valid, needs the payload */
                { SESSION_DATA, SESSION_STDIN, 0, SESSION_PAYLOAD_MAX + 1, -SESSION_E_TOO_BIG },
                { SESSION_DATA, SESSION_STDIN, 0, UINT32_MAX, -SESSION_E_TOO_BIG },
                { 0, SESSION_CONTROL, 0, 0, -SESSION_E_PROTOCOL },               /* type 0 */
                { SESSION_TYPE_MAX, SESSION_CONTROL, 0, 0, -SESSION_E_PROTOCOL }, /* unknown type */
                { 0xff, SESSION_CONTROL, 0, 4, -SESSION_E_PROTOCOL },
                { SESSION_DATA, SESSION_CONTROL, 0, 1, -SESSION_E_PROTOCOL },    /* data on control */
                { SESSION_DATA, 4, 0, 1, -SESSION_E_PROTOCOL },                  /* no channel 4 */
                { SESSION_DATA, SESSION_STDOUT, 0, 0, -SESSION_E_PROTOCOL },     /* empty DATA */
                { SESSION_DATA, SESSION_STDOUT, 1, 1, -SESSION_E_PROTOCOL },     /* flags */
                { SESSION_HELLO, SESSION_STDIN, 0, 8, -SESSION_E_PROTOCOL },     /* control type on stdin */
                { SESSION_HELLO, SESSION_CONTROL, 0, 7, -SESSION_E_PROTOCOL },
                { SESSION_EOF, SESSION_STDIN, 0, 1, -SESSION_E_PROTOCOL },
                { SESSION_WINDOW, SESSION_STDOUT, 0, 8, -SESSION_E_PROTOCOL },
                { SESSION_EXIT, SESSION_CONTROL, 0, 4, -SESSION_E_PROTOCOL },
                { SESSION_EXEC, SESSION_CONTROL, 0, 15, -SESSION_E_PROTOCOL },
                { SESSION_ERROR, SESSION_CONTROL, 0, 3, -SESSION_E_PROTOCOL },
                { SESSION_ERROR, SESSION_CONTROL, 0, 4 + SESSION_ERROR_MESSAGE_MAX + 1, -SESSION_E_PROTOCOL },
                { SESSION_ERROR, SESSION_CONTROL, 0, 4 + SESSION_ERROR_MESSAGE_MAX, 0 },
                { SESSION_PUT, SESSION_CONTROL, 0, 12, -SESSION_E_PROTOCOL },    /* no room for a path */
                { SESSION_GET, SESSION_STDIN, 0, 13, -SESSION_E_PROTOCOL },      /* control type on stdin */
                { SESSION_GET, SESSION_CONTROL, 0, 13, 0 },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                uint8_t buf[SESSION_HEADER_SIZE];
                struct session_frame f;
                size_t size;
                int r;

                header(buf, cases[i].type, cases[i].channel, cases[i].flags, cases[i].len);
                r = session_frame_parse(buf, sizeof(buf), &f, &size);
                if (r != cases[i].expect)
                        fail_msg("case %zu: expected %d, got %d", i, cases[i].expect, r);
        }
}

/* A stream of frames of every kind, fed to the parser in pieces of every
 * size from 1 byte up: the same frames come out. */
static void test_parser_fragmented(void **state) {
        struct session_out o;
        struct session_exec e = {}, d;
        char *argv[] = { "sh", "-c", "echo 'a b'", NULL }, *env[] = { "A=1", "EMPTY=", NULL };
        static uint8_t big[SESSION_PAYLOAD_MAX];
        size_t total;

        memset(big, 'x', sizeof(big));
        assert_int_equal(session_out_init(&o, 4 * SESSION_FRAME_MAX), 0);
        assert_int_equal(session_out_hello(&o, 1, 3), 0);
        e.argv = argv;
        e.argc = 3;
        e.env = env;
        e.envc = 2;
        e.cwd = "/tmp";
        e.timeout_s = 9;
        assert_int_equal(session_out_exec(&o, &e), 0);
        assert_int_equal(session_out_frame(&o, SESSION_DATA, SESSION_STDIN, big, sizeof(big)), 0);
        assert_int_equal(session_out_frame(&o, SESSION_EOF, SESSION_STDIN, NULL, 0), 0);
        assert_int_equal(session_out_u32(&o, SESSION_SIGNAL, SESSION_CONTROL, 2), 0);
        total = session_out_len(&o);

        for (size_t step = 1; step <= total; step = step < 16 ? step + 1 : step * 7) {
                struct session_parser *p = malloc(sizeof(*p));
                struct session_frame f;
                struct session_hello h;
                uint32_t v;
                size_t off = 0;
                int n = 0, r;

                assert_non_null(p);
                session_parser_init(p);
                while (off < total) {
                        size_t space, chunk = total - off < step ? total - off : step;
                        uint8_t *dst = session_parser_space(p, &space);

                        if (chunk > space)
                                chunk = space;
                        assert_true(chunk > 0);
                        memcpy(dst, o.data + o.start + off, chunk);
                        session_parser_fill(p, chunk);
                        off += chunk;
                        while ((r = session_parser_next(p, &f)) > 0) {
                                switch (n++) {
                                case 0:
                                        assert_int_equal(session_hello_decode(&f, &h), 0);
                                        assert_int_equal(h.min_version, 1);
                                        assert_int_equal(h.max_version, 3);
                                        break;
                                case 1:
                                        assert_int_equal(session_exec_decode(&f, &d), 0);
                                        assert_int_equal(d.argc, 3);
                                        assert_string_equal(d.argv[2], "echo 'a b'");
                                        assert_null(d.argv[3]);
                                        assert_int_equal(d.envc, 2);
                                        assert_string_equal(d.env[1], "EMPTY=");
                                        assert_string_equal(d.cwd, "/tmp");
                                        assert_null(d.user);
                                        assert_null(d.term);
                                        assert_int_equal(d.timeout_s, 9);
                                        session_exec_done(&d);
                                        break;
                                case 2:
                                        assert_int_equal(f.type, SESSION_DATA);
                                        assert_int_equal(f.len, SESSION_PAYLOAD_MAX);
                                        assert_memory_equal(f.payload, big, sizeof(big));
                                        break;
                                case 3:
                                        assert_int_equal(f.type, SESSION_EOF);
                                        break;
                                case 4:
                                        assert_int_equal(f.type, SESSION_SIGNAL);
                                        assert_int_equal(session_u32_decode(&f, &v), 0);
                                        assert_int_equal(v, 2);
                                        break;
                                default:
                                        fail_msg("an extra frame");
                                }
                        }
                        assert_int_equal(r, 0);
                }
                assert_int_equal(n, 5);
                assert_int_equal(session_parser_pending(p), 0);
                free(p);
        }
        session_out_done(&o);
}

static void test_parser_sticky_error(void **state) {
        struct session_parser *p = malloc(sizeof(*p));
        struct session_frame f;
        size_t space;
        uint8_t *dst;

        assert_non_null(p);
        session_parser_init(p);
        dst = session_parser_space(p, &space);
        assert_true(space >= 2 * SESSION_HEADER_SIZE);
        header(dst, SESSION_EOF, SESSION_STDIN, 0, 0);
        header(dst + SESSION_HEADER_SIZE, SESSION_DATA, SESSION_STDIN, 0, SESSION_PAYLOAD_MAX + 1);
        session_parser_fill(p, 2 * SESSION_HEADER_SIZE);
        assert_int_equal(session_parser_next(p, &f), 1);
        assert_int_equal(session_parser_next(p, &f), -SESSION_E_TOO_BIG);
        assert_int_equal(session_parser_next(p, &f), -SESSION_E_TOO_BIG);
        free(p);
}

static void test_version(void **state) {
        struct session_hello a = { 1, 1 }, b = { 1, 5 }, c = { 2, 4 }, d = { 6, 9 };
        uint8_t pl[8] = {};
        struct session_frame f = { SESSION_HELLO, SESSION_CONTROL, 0, 8, pl };
        struct session_hello h = { 42, 42 };

        assert_int_equal(session_version_choose(&a, &b), 1);
        assert_int_equal(session_version_choose(&b, &c), 4);
        assert_int_equal(session_version_choose(&c, &b), 4);
        assert_int_equal(session_version_choose(&a, &c), -SESSION_E_VERSION);
        assert_int_equal(session_version_choose(&c, &d), -SESSION_E_VERSION);
        /* Version 0 and an inverted range are malformed; *ret untouched. */
        put_le16(pl, 0);
        put_le16(pl + 2, 1);
        assert_int_equal(session_hello_decode(&f, &h), -SESSION_E_PROTOCOL);
        put_le16(pl, 3);
        put_le16(pl + 2, 2);
        assert_int_equal(session_hello_decode(&f, &h), -SESSION_E_PROTOCOL);
        assert_int_equal(h.min_version, 42);
        put_le16(pl, 2);
        put_le16(pl + 2, 3);
        assert_int_equal(session_hello_decode(&f, &h), 0);
        assert_int_equal(h.min_version, 2);
        assert_int_equal(h.max_version, 3);
        assert_int_equal(h.capabilities, 0);
}

/* HELLO carries the auth capability; AUTH round-trips and rejects what it must. */
static void test_auth(void **state) {
        struct session_out o;
        struct session_parser p;
        struct session_frame f;
        struct session_hello h;
        struct session_auth a = { (char *) "untouched", NULL };
        uint8_t pl[32];
        size_t space;
        uint8_t *dst;

        (void) state;
        assert_int_equal(session_out_init(&o, 4096), 0);
        assert_int_equal(session_out_hello_caps(&o, 1, 1, SESSION_CAP_AUTH_PASSWORD), 0);
        assert_int_equal(session_out_auth(&o, "alice", "pa:ss word"), 0);
        assert_int_equal(session_out_auth(&o, "", "x"), -EINVAL);
        assert_int_equal(session_out_auth(&o, NULL, "x"), -EINVAL);
        session_parser_init(&p);
        dst = session_parser_space(&p, &space);
        assert_true(space >= session_out_len(&o));
        memcpy(dst, o.data + o.start, session_out_len(&o));
        session_parser_fill(&p, session_out_len(&o));
        assert_int_equal(session_parser_next(&p, &f), 1);
        assert_int_equal(session_hello_decode(&f, &h), 0);
        assert_int_equal(h.capabilities, SESSION_CAP_AUTH_PASSWORD);
        assert_int_equal(session_parser_next(&p, &f), 1);
        assert_int_equal(f.type, SESSION_AUTH);
        assert_string_equal(session_type_name(f.type), "AUTH");
        assert_int_equal(session_auth_decode(&f, &a), 0);
        assert_string_equal(a.user, "alice");
        assert_string_equal(a.password, "pa:ss word");
        session_auth_done(&a);
        assert_null(a.user);
        assert_int_equal(session_parser_next(&p, &f), 0);
        session_out_done(&o);

        /* Malformed payloads: *ret untouched. */
        a.user = (char *) "untouched";
        f = (struct session_frame) { SESSION_AUTH, SESSION_CONTROL, 0, 0, pl };
        /* An empty user. */
        put_le32(pl, 0);
        put_le32(pl + 4, 1);
        pl[8] = 'x';
        f.len = 9;
        assert_int_equal(session_auth_decode(&f, &a), -SESSION_E_PROTOCOL);
        /* A NUL in the user. */
        put_le32(pl, 1);
        pl[4] = 0;
        put_le32(pl + 5, 0);
        assert_int_equal(session_auth_decode(&f, &a), -SESSION_E_PROTOCOL);
        /* A valid pair, then a trailing byte. */
        pl[4] = 'u';
        pl[9] = 'z';
        f.len = 10;
        assert_int_equal(session_auth_decode(&f, &a), -SESSION_E_PROTOCOL);
        /* A password length beyond the payload. */
        put_le32(pl + 5, 100);
        assert_int_equal(session_auth_decode(&f, &a), -SESSION_E_PROTOCOL);
        assert_string_equal(a.user, "untouched");
        /* The shortest valid one: user "u", empty password. */
        put_le32(pl + 5, 0);
        f.len = 9;
        assert_int_equal(session_auth_decode(&f, &a), 0);
        assert_string_equal(a.user, "u");
        assert_string_equal(a.password, "");
        session_auth_done(&a);
        /* The header check: AUTH only on the control channel, at least 9 bytes. */
        {
                uint8_t hdr[SESSION_HEADER_SIZE] = { SESSION_AUTH, SESSION_STDIN, 0, 0, 9, 0, 0, 0 };
                size_t size;

                assert_int_equal(session_frame_parse(hdr, sizeof(hdr), &f, &size), -SESSION_E_PROTOCOL);
                hdr[1] = SESSION_CONTROL;
                hdr[4] = 8;
                assert_int_equal(session_frame_parse(hdr, sizeof(hdr), &f, &size), -SESSION_E_PROTOCOL);
                hdr[4] = 9;
                assert_int_equal(session_frame_parse(hdr, sizeof(hdr), &f, &size), 0);
        }
        assert_string_equal(session_error_name(SESSION_E_AUTH), "authentication failed");
}

/* Builds an EXEC frame from raw payload bytes and decodes it. */
static int decode_raw(const uint8_t *payload, size_t len) {
        struct session_frame f = { SESSION_EXEC, SESSION_CONTROL, 0, (uint32_t) len, payload };
        struct session_exec e;
        int r = session_exec_decode(&f, &e);

        if (r == 0)
                session_exec_done(&e);
        return r;
}

static void test_exec_malformed(void **state) {
        uint8_t p[64];
        size_t n;

        /* argc 1, envc 0, "ls", then cwd, user, term empty: valid. */
        memset(p, 0, sizeof(p));
        put_le16(p + 12, 1);
        put_le32(p + 16, 2);
        memcpy(p + 20, "ls", 2);
        n = 22 + 12;
        assert_int_equal(decode_raw(p, n), 0);
        /* A byte too many or too few. */
        assert_int_equal(decode_raw(p, n + 1), -SESSION_E_PROTOCOL);
        assert_int_equal(decode_raw(p, n - 1), -SESSION_E_PROTOCOL);
        /* A NUL inside a string. */
        p[21] = 0;
        assert_int_equal(decode_raw(p, n), -SESSION_E_PROTOCOL);
        p[21] = 's';
        /* A string length past the end. */
        put_le32(p + 16, 1000);
        assert_int_equal(decode_raw(p, n), -SESSION_E_PROTOCOL);
        put_le32(p + 16, 2);
        /* argc 0; huge counts; unknown flags. */
        put_le16(p + 12, 0);
        assert_int_equal(decode_raw(p, n), -SESSION_E_PROTOCOL);
        put_le16(p + 12, 0xffff);
        assert_int_equal(decode_raw(p, n), -SESSION_E_PROTOCOL);
        put_le16(p + 12, 1);
        put_le32(p, 0x4);
        assert_int_equal(decode_raw(p, n), -SESSION_E_PROTOCOL);
        /* LOGIN with an argument vector. */
        put_le32(p, SESSION_EXEC_LOGIN);
        assert_int_equal(decode_raw(p, n), -SESSION_E_PROTOCOL);
        put_le32(p, 0);
        /* An env entry without '=' or with an empty name. */
        put_le16(p + 14, 1);
        memmove(p + 28, p + 22, 12);
        put_le32(p + 22, 2);
        memcpy(p + 26, "AB", 2);
        assert_int_equal(decode_raw(p, n + 6), -SESSION_E_PROTOCOL);
        memcpy(p + 26, "=B", 2);
        assert_int_equal(decode_raw(p, n + 6), -SESSION_E_PROTOCOL);
        memcpy(p + 26, "A=", 2);
        assert_int_equal(decode_raw(p, n + 6), 0);
}

/* A login shell on a terminal: no argument vector, the window size and TERM. */
static void test_exec_login(void **state) {
        struct session_out o;
        struct session_exec e = {}, d;
        char *argv[] = { "sh", NULL };
        struct session_frame f;
        size_t size;

        assert_int_equal(session_out_init(&o, 2 * SESSION_FRAME_MAX), 0);
        e.flags = SESSION_EXEC_PTY | SESSION_EXEC_LOGIN;
        e.winsize = (struct session_winsize) { 24, 80 };
        e.argv = argv;
        e.argc = 1;
        assert_int_equal(session_out_exec(&o, &e), -EINVAL);
        e.argc = 0;
        e.term = "xterm-256color";
        e.user = "alice";
        assert_int_equal(session_out_exec(&o, &e), 0);
        assert_int_equal(session_frame_parse(o.data + o.start, session_out_len(&o), &f, &size), 1);
        assert_int_equal(session_exec_decode(&f, &d), 0);
        assert_int_equal(d.flags, SESSION_EXEC_PTY | SESSION_EXEC_LOGIN);
        assert_int_equal(d.argc, 0);
        assert_null(d.argv[0]);
        assert_int_equal(d.winsize.rows, 24);
        assert_int_equal(d.winsize.cols, 80);
        assert_string_equal(d.term, "xterm-256color");
        assert_string_equal(d.user, "alice");
        session_exec_done(&d);
        /* argc 0 without LOGIN is refused on both sides. */
        e.flags = SESSION_EXEC_PTY;
        assert_int_equal(session_out_exec(&o, &e), -EINVAL);
        session_out_done(&o);
}

static void test_exec_encode_limits(void **state) {
        struct session_out o;
        struct session_exec e = {};
        char *argv[] = { "x", NULL }, *bad_env[] = { "NOEQUALS", NULL };
        char **many = calloc(SESSION_EXEC_ARGS_MAX + 2, sizeof(char *));
        static char longarg[SESSION_PAYLOAD_MAX];

        assert_non_null(many);
        assert_int_equal(session_out_init(&o, 2 * SESSION_FRAME_MAX), 0);
        e.argv = argv;
        e.argc = 1;
        e.env = bad_env;
        e.envc = 1;
        assert_int_equal(session_out_exec(&o, &e), -EINVAL);
        e.envc = 0;
        memset(longarg, 'a', sizeof(longarg) - 1);
        argv[0] = longarg;
        assert_int_equal(session_out_exec(&o, &e), -E2BIG);
        for (size_t i = 0; i <= SESSION_EXEC_ARGS_MAX; i++)
                many[i] = "a";
        e.argv = many;
        e.argc = SESSION_EXEC_ARGS_MAX + 1;
        assert_int_equal(session_out_exec(&o, &e), -E2BIG);
        assert_int_equal(session_out_len(&o), 0);
        e.argc = SESSION_EXEC_ARGS_MAX;
        assert_int_equal(session_out_exec(&o, &e), 0);
        free(many);
        session_out_done(&o);
}

static void test_out_bounded(void **state) {
        struct session_out o;
        uint8_t data[100] = {};
        size_t before;

        assert_int_equal(session_out_init(&o, 3 * (SESSION_HEADER_SIZE + 100)), 0);
        assert_int_equal(session_out_frame(&o, SESSION_DATA, SESSION_STDOUT, data, 100), 0);
        assert_int_equal(session_out_frame(&o, SESSION_DATA, SESSION_STDOUT, data, 100), 0);
        assert_int_equal(session_out_frame(&o, SESSION_DATA, SESSION_STDOUT, data, 100), 0);
        before = session_out_len(&o);
        assert_int_equal(session_out_frame(&o, SESSION_EOF, SESSION_STDOUT, NULL, 0), -ENOBUFS);
        assert_int_equal(session_out_len(&o), before);
        assert_null(session_out_reserve(&o, 1));
        assert_int_equal(session_out_frame(&o, SESSION_DATA, SESSION_STDOUT, data, SESSION_PAYLOAD_MAX + 1), -EINVAL);
        session_out_done(&o);
}

static void test_exit_and_error(void **state) {
        struct session_out o;
        struct session_parser *p = malloc(sizeof(*p));
        struct session_frame f;
        struct session_exit e = { SESSION_EXIT_SIGNAL, SESSION_EXIT_TIMED_OUT, 9 }, d;
        char longmsg[2000];
        const char *msg;
        size_t len, space;
        uint32_t code;
        uint8_t *dst;

        assert_non_null(p);
        assert_int_equal(session_out_init(&o, 4096), 0);
        assert_int_equal(session_out_exit(&o, &e), 0);
        memset(longmsg, 'm', sizeof(longmsg) - 1);
        longmsg[sizeof(longmsg) - 1] = '\0';
        assert_int_equal(session_out_error(&o, SESSION_E_BUSY, longmsg), 0);
        session_parser_init(p);
        dst = session_parser_space(p, &space);
        memcpy(dst, o.data + o.start, session_out_len(&o));
        session_parser_fill(p, session_out_len(&o));
        assert_int_equal(session_parser_next(p, &f), 1);
        assert_int_equal(session_exit_decode(&f, &d), 0);
        assert_int_equal(d.kind, SESSION_EXIT_SIGNAL);
        assert_int_equal(d.flags, SESSION_EXIT_TIMED_OUT);
        assert_int_equal(d.value, 9);
        assert_int_equal(session_parser_next(p, &f), 1);
        assert_int_equal(session_error_decode(&f, &code, &msg, &len), 0);
        assert_int_equal(code, SESSION_E_BUSY);
        assert_int_equal(len, SESSION_ERROR_MESSAGE_MAX); /* cut, not refused */
        assert_int_equal(session_parser_next(p, &f), 0);
        /* Exit values out of range. */
        e = (struct session_exit) { SESSION_EXIT_CODE, 0, 256 };
        o.start = o.end = 0;
        assert_int_equal(session_out_exit(&o, &e), 0);
        f = (struct session_frame) { SESSION_EXIT, SESSION_CONTROL, 0, 8, o.data + SESSION_HEADER_SIZE };
        assert_int_equal(session_exit_decode(&f, &d), -SESSION_E_PROTOCOL);
        ((uint8_t *) o.data)[SESSION_HEADER_SIZE] = 7; /* unknown kind */
        put_le32(o.data + SESSION_HEADER_SIZE + 4, 1);
        assert_int_equal(session_exit_decode(&f, &d), -SESSION_E_PROTOCOL);
        session_out_done(&o);
        free(p);
}

/* Encodes c, parses the frame back and decodes it. */
static int copy_roundtrip(const struct session_copy *c, struct session_copy *ret) {
        struct session_out o;
        struct session_frame f;
        size_t size;
        int r;

        assert_int_equal(session_out_init(&o, SESSION_FRAME_MAX), 0);
        r = session_out_copy(&o, c);
        if (r == 0) {
                assert_int_equal(session_frame_parse(o.data, session_out_len(&o), &f, &size), 1);
                assert_int_equal(size, session_out_len(&o));
                assert_int_equal(f.type, c->type);
                r = session_copy_decode(&f, ret);
        }
        session_out_done(&o);
        return r;
}

static int copy_decode_raw(uint8_t type, const uint8_t *payload, size_t len) {
        struct session_frame f = { type, SESSION_CONTROL, 0, (uint32_t) len, payload };
        struct session_copy c = { .type = 0xee };
        int r = session_copy_decode(&f, &c);

        if (r == 0)
                session_copy_done(&c);
        else
                assert_int_equal(c.type, 0xee); /* untouched on failure */
        return r;
}

static void test_copy_requests(void **state) {
        char *dst[] = { (char *) "/tmp/a b", NULL };
        char *srcs[] = { (char *) "x", (char *) "dir/y", (char *) "z:w", NULL };
        struct session_copy put = { SESSION_PUT, SESSION_COPY_RECURSIVE | SESSION_COPY_MULTIPLE, dst, 1 };
        struct session_copy get = { SESSION_GET, SESSION_COPY_PRESERVE | SESSION_COPY_SYNC, srcs, 3 };
        struct session_copy d;
        uint8_t p[64] = {};

        assert_int_equal(copy_roundtrip(&put, &d), 0);
        assert_int_equal(d.type, SESSION_PUT);
        assert_int_equal(d.flags, SESSION_COPY_RECURSIVE | SESSION_COPY_MULTIPLE);
        assert_int_equal(d.count, 1);
        assert_string_equal(d.paths[0], "/tmp/a b");
        assert_null(d.paths[1]);
        session_copy_done(&d);
        assert_int_equal(copy_roundtrip(&get, &d), 0);
        assert_int_equal(d.flags, SESSION_COPY_PRESERVE | SESSION_COPY_SYNC);
        assert_int_equal(d.count, 3);
        assert_string_equal(d.paths[2], "z:w");
        session_copy_done(&d);

        /* Requests the encoder refuses. */
        put.count = 3;
        put.paths = srcs;
        assert_int_equal(copy_roundtrip(&put, &d), -EINVAL); /* PUT names one destination */
        get.flags = SESSION_COPY_MULTIPLE;
        assert_int_equal(copy_roundtrip(&get, &d), -EINVAL); /* MULTIPLE is for PUT */
        get.flags = 0;
        get.count = 0;
        assert_int_equal(copy_roundtrip(&get, &d), -EINVAL);

        /* Malformed payloads: flags, counts, lengths, NUL and empty paths. */
        put_le32(p, 0);
        put_le16(p + 4, 1);
        put_le32(p + 8, 1);
        p[12] = 'a';
        assert_int_equal(copy_decode_raw(SESSION_GET, p, 13), 0);
        assert_int_equal(copy_decode_raw(SESSION_GET, p, 14), -SESSION_E_PROTOCOL); /* trailing byte */
        assert_int_equal(copy_decode_raw(SESSION_GET, p, 12), -SESSION_E_PROTOCOL);
        assert_int_equal(copy_decode_raw(SESSION_EXEC, p, 13), -SESSION_E_PROTOCOL);
        put_le32(p, SESSION_COPY_SYNC);
        assert_int_equal(copy_decode_raw(SESSION_PUT, p, 13), 0);
        assert_int_equal(copy_decode_raw(SESSION_GET, p, 13), 0);
        put_le32(p, 0x10);
        assert_int_equal(copy_decode_raw(SESSION_PUT, p, 13), -SESSION_E_PROTOCOL); /* unknown flag */
        put_le32(p, SESSION_COPY_MULTIPLE);
        assert_int_equal(copy_decode_raw(SESSION_GET, p, 13), -SESSION_E_PROTOCOL);
        assert_int_equal(copy_decode_raw(SESSION_PUT, p, 13), 0);
        put_le32(p, 0);
        put_le16(p + 6, 1);
        assert_int_equal(copy_decode_raw(SESSION_GET, p, 13), -SESSION_E_PROTOCOL); /* reserved u16 */
        put_le16(p + 6, 0);
        put_le16(p + 4, 0);
        assert_int_equal(copy_decode_raw(SESSION_GET, p, 13), -SESSION_E_PROTOCOL); /* no path */
        put_le16(p + 4, 2);
        assert_int_equal(copy_decode_raw(SESSION_PUT, p, 13), -SESSION_E_PROTOCOL); /* PUT with 2 */
        put_le16(p + 4, 0xffff);
        assert_int_equal(copy_decode_raw(SESSION_GET, p, 13), -SESSION_E_PROTOCOL); /* count beyond payload */
        put_le16(p + 4, 1);
        put_le32(p + 8, 2);
        assert_int_equal(copy_decode_raw(SESSION_GET, p, 13), -SESSION_E_PROTOCOL); /* string past the end */
        put_le32(p + 8, UINT32_MAX);
        assert_int_equal(copy_decode_raw(SESSION_GET, p, 13), -SESSION_E_PROTOCOL);
        put_le32(p + 8, 1);
        p[12] = '\0';
        assert_int_equal(copy_decode_raw(SESSION_GET, p, 13), -SESSION_E_PROTOCOL); /* NUL */
        put_le32(p + 8, 0);
        put_le32(p + 12, 0);
        put_le16(p + 4, 2);
        assert_int_equal(copy_decode_raw(SESSION_GET, p, 16), -SESSION_E_PROTOCOL); /* empty paths */
}

static void test_signals(void **state) {
        assert_int_equal(session_signal_to_native(2), SIGINT);
        assert_int_equal(session_signal_to_native(15), SIGTERM);
        assert_int_equal(session_signal_to_native(0), -EINVAL);
        assert_int_equal(session_signal_to_native(11), -EINVAL); /* SEGV may not be sent */
        assert_int_equal(session_signal_from_native(SIGINT), 2);
        assert_int_equal(session_signal_from_native(SIGKILL), 9);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_endian),
                cmocka_unit_test(test_parse_valid),
                cmocka_unit_test(test_parse_errors),
                cmocka_unit_test(test_parser_fragmented),
                cmocka_unit_test(test_parser_sticky_error),
                cmocka_unit_test(test_version),
                cmocka_unit_test(test_exec_malformed),
                cmocka_unit_test(test_exec_login),
                cmocka_unit_test(test_exec_encode_limits),
                cmocka_unit_test(test_out_bounded),
                cmocka_unit_test(test_exit_and_error),
                cmocka_unit_test(test_copy_requests),
                cmocka_unit_test(test_signals),
                cmocka_unit_test(test_auth),
        };

        test_setup_env(60);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
