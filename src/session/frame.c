/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "frame.h"
#include "macro.h"
#include "strv.h"

#define EXEC_FIXED_SIZE 16u
/* PUT and GET: u32 flags, u16 count, u16 zero, then at least one non-empty string. */
#define COPY_FIXED_SIZE 8u
#define COPY_SIZE_MIN (COPY_FIXED_SIZE + 5u)
/* AUTH: a non-empty user string and a password string. */
#define AUTH_SIZE_MIN 9u

static bool is_data_channel(uint8_t channel) {
        return channel <= SESSION_STDERR;
}

/* Whether a payload of len bytes is possible for a frame of this type. */
static bool length_valid(uint8_t type, uint32_t len) {
        switch (type) {
        case SESSION_HELLO:
        case SESSION_EXIT:
                return len == 8;
        case SESSION_ERROR:
                return len >= 4 && len - 4 <= SESSION_ERROR_MESSAGE_MAX;
        case SESSION_EXEC:
                return len >= EXEC_FIXED_SIZE;
        case SESSION_PUT:
        case SESSION_GET:
                return len >= COPY_SIZE_MIN;
        case SESSION_AUTH:
                return len >= AUTH_SIZE_MIN;
        case SESSION_STARTED:
        case SESSION_WINDOW:
        case SESSION_SIGNAL:
        case SESSION_WINSIZE:
                return len == 4;
        case SESSION_DATA:
                return len >= 1;
        case SESSION_EOF:
                return len == 0;
        default:
                return false;
        }
}

int session_frame_parse(const uint8_t *data, size_t len, struct session_frame *ret, size_t *ret_size) {
        struct session_frame f;

        if (len < SESSION_HEADER_SIZE)
                return 0;
        f.type = data[0];
        f.channel = data[1];
        f.flags = get_le16(data + 2);
        f.len = get_le32(data + 4);
        if (f.len > SESSION_PAYLOAD_MAX)
                return -SESSION_E_TOO_BIG;
        if (f.type == 0 || f.type >= SESSION_TYPE_MAX || f.flags != 0 || !length_valid(f.type, f.len))
                return -SESSION_E_PROTOCOL;
        if (f.type == SESSION_DATA || f.type == SESSION_EOF || f.type == SESSION_WINDOW) {
                if (!is_data_channel(f.channel))
                        return -SESSION_E_PROTOCOL;
        } else if (f.channel != SESSION_CONTROL)
                return -SESSION_E_PROTOCOL;
        if (f.len > len - SESSION_HEADER_SIZE)
                return 0;
        f.payload = data + SESSION_HEADER_SIZE;
        *ret = f;
        *ret_size = SESSION_HEADER_SIZE + f.len;
        return 1;
}

void session_parser_init(struct session_parser *p) {
        p->start = p->end = p->consumed = 0;
        p->error = 0;
}

static void parser_drop_consumed(struct session_parser *p) {
        p->start += p->consumed;
        p->consumed = 0;
        if (p->start == p->end)
                p->start = p->end = 0;
}

uint8_t *session_parser_space(struct session_parser *p, size_t *ret_len) {
        /* Only when no returned frame is held: its payload must stay put. */
        if (p->consumed == 0 && p->start > 0) {
                memmove(p->buf, p->buf + p->start, p->end - p->start);
                p->end -= p->start;
                p->start = 0;
        }
        *ret_len = sizeof(p->buf) - p->end;
        return p->buf + p->end;
}

void session_parser_fill(struct session_parser *p, size_t n) {
        if (n <= sizeof(p->buf) - p->end)
                p->end += n;
}

int session_parser_next(struct session_parser *p, struct session_frame *ret) {
        size_t size;
        int r;

        if (p->error)
                return p->error;
        parser_drop_consumed(p);
        r = session_frame_parse(p->buf + p->start, p->end - p->start, ret, &size);
        if (r < 0)
                return (p->error = r);
        if (r > 0)
                p->consumed = size;
        return r;
}

size_t session_parser_pending(const struct session_parser *p) {
        return p->end - p->start - p->consumed;
}

int session_out_init(struct session_out *o, size_t cap) {
        o->data = malloc(cap);
        if (!o->data)
                return -ENOMEM;
        o->start = o->end = 0;
        o->cap = cap;
        return 0;
}

void session_out_done(struct session_out *o) {
        free(o->data);
        o->data = NULL;
        o->start = o->end = o->cap = 0;
}

size_t session_out_len(const struct session_out *o) {
        return o->end - o->start;
}

size_t session_out_free(const struct session_out *o) {
        return o->cap - session_out_len(o);
}

uint8_t *session_out_reserve(struct session_out *o, size_t max_len) {
        if (max_len > SESSION_PAYLOAD_MAX || session_out_free(o) < SESSION_HEADER_SIZE ||
            max_len > session_out_free(o) - SESSION_HEADER_SIZE)
                return NULL;
        if (o->end > o->cap - SESSION_HEADER_SIZE - max_len) {
                memmove(o->data, o->data + o->start, o->end - o->start);
                o->end -= o->start;
                o->start = 0;
        }
        return o->data + o->end + SESSION_HEADER_SIZE;
}

void session_out_commit(struct session_out *o, uint8_t type, uint8_t channel, size_t len) {
        uint8_t *h = o->data + o->end;

        h[0] = type;
        h[1] = channel;
        put_le16(h + 2, 0);
        put_le32(h + 4, (uint32_t) len);
        o->end += SESSION_HEADER_SIZE + len;
}

int session_out_frame(struct session_out *o, uint8_t type, uint8_t channel, const void *payload, size_t len) {
        uint8_t *p;

        if (len > SESSION_PAYLOAD_MAX)
                return -EINVAL;
        p = session_out_reserve(o, len);
        if (!p)
                return -ENOBUFS;
        if (len > 0)
                memcpy(p, payload, len);
        session_out_commit(o, type, channel, len);
        return 0;
}

int session_out_flush(struct session_out *o, int fd) {
        while (o->start < o->end) {
                ssize_t n = send(fd, o->data + o->start, o->end - o->start, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        return negative_errno();
                }
                o->start += (size_t) n;
        }
        o->start = o->end = 0;
        return 0;
}

int session_hello_decode(const struct session_frame *f, struct session_hello *ret) {
        struct session_hello h;

        if (f->type != SESSION_HELLO || f->len != 8)
                return -SESSION_E_PROTOCOL;
        h.min_version = get_le16(f->payload);
        h.max_version = get_le16(f->payload + 2);
        /* Unknown capability bits are kept: the caller ignores what it does not know. */
        h.capabilities = get_le32(f->payload + 4);
        if (h.min_version == 0 || h.min_version > h.max_version)
                return -SESSION_E_PROTOCOL;
        *ret = h;
        return 0;
}

int session_version_choose(const struct session_hello *a, const struct session_hello *b) {
        uint16_t lo = a->min_version > b->min_version ? a->min_version : b->min_version;
        uint16_t hi = a->max_version < b->max_version ? a->max_version : b->max_version;

        return lo <= hi ? hi : -SESSION_E_VERSION;
}

int session_out_hello(struct session_out *o, uint16_t min_version, uint16_t max_version) {
        return session_out_hello_caps(o, min_version, max_version, 0);
}

int session_out_hello_caps(struct session_out *o, uint16_t min_version, uint16_t max_version, uint32_t capabilities) {
        uint8_t p[8] = {};

        put_le16(p, min_version);
        put_le16(p + 2, max_version);
        put_le32(p + 4, capabilities);
        return session_out_frame(o, SESSION_HELLO, SESSION_CONTROL, p, sizeof(p));
}

int session_error_decode(const struct session_frame *f, uint32_t *ret_code, const char **ret_message,
                         size_t *ret_len) {
        if (f->type != SESSION_ERROR || f->len < 4 || f->len - 4 > SESSION_ERROR_MESSAGE_MAX)
                return -SESSION_E_PROTOCOL;
        *ret_code = get_le32(f->payload);
        *ret_message = (const char *) f->payload + 4;
        *ret_len = f->len - 4;
        return 0;
}

int session_out_error(struct session_out *o, uint32_t code, const char *message) {
        uint8_t p[4 + SESSION_ERROR_MESSAGE_MAX];
        size_t n = strlen(message);

        if (n > SESSION_ERROR_MESSAGE_MAX)
                n = SESSION_ERROR_MESSAGE_MAX;
        put_le32(p, code);
        memcpy(p + 4, message, n);
        return session_out_frame(o, SESSION_ERROR, SESSION_CONTROL, p, 4 + n);
}

int session_out_u32(struct session_out *o, uint8_t type, uint8_t channel, uint32_t v) {
        uint8_t p[4];

        put_le32(p, v);
        return session_out_frame(o, type, channel, p, sizeof(p));
}

int session_u32_decode(const struct session_frame *f, uint32_t *ret) {
        if (f->len != 4)
                return -SESSION_E_PROTOCOL;
        *ret = get_le32(f->payload);
        return 0;
}

int session_exit_decode(const struct session_frame *f, struct session_exit *ret) {
        struct session_exit e;

        if (f->type != SESSION_EXIT || f->len != 8)
                return -SESSION_E_PROTOCOL;
        e.kind = f->payload[0];
        e.flags = f->payload[1];
        e.value = get_le32(f->payload + 4);
        if (e.kind == SESSION_EXIT_CODE ? e.value > 255 : e.kind != SESSION_EXIT_SIGNAL || e.value < 1 || e.value > 127)
                return -SESSION_E_PROTOCOL;
        *ret = e;
        return 0;
}

int session_out_exit(struct session_out *o, const struct session_exit *e) {
        uint8_t p[8] = {};

        p[0] = e->kind;
        p[1] = e->flags;
        put_le32(p + 4, e->value);
        return session_out_frame(o, SESSION_EXIT, SESSION_CONTROL, p, sizeof(p));
}

int session_winsize_decode(const struct session_frame *f, struct session_winsize *ret) {
        if (f->type != SESSION_WINSIZE || f->len != 4)
                return -SESSION_E_PROTOCOL;
        ret->rows = get_le16(f->payload);
        ret->cols = get_le16(f->payload + 2);
        return 0;
}

int session_out_winsize(struct session_out *o, const struct session_winsize *w) {
        uint8_t p[4];

        put_le16(p, w->rows);
        put_le16(p + 2, w->cols);
        return session_out_frame(o, SESSION_WINSIZE, SESSION_CONTROL, p, sizeof(p));
}

/* A reading cursor over a payload: every get checks the bytes left. */
struct cursor {
        const uint8_t *p;
        size_t left;
};

static int get_u32(struct cursor *c, uint32_t *ret) {
        if (c->left < 4)
                return -SESSION_E_PROTOCOL;
        *ret = get_le32(c->p);
        c->p += 4;
        c->left -= 4;
        return 0;
}

/* A u32 length, then that many bytes without NUL: a new C string. */
static int get_string(struct cursor *c, char **ret) {
        uint32_t n;
        char *s;

        if (get_u32(c, &n) < 0 || n > c->left || memchr(c->p, 0, n))
                return -SESSION_E_PROTOCOL;
        s = strndup((const char *) c->p, n);
        if (!s)
                return -ENOMEM;
        c->p += n;
        c->left -= n;
        *ret = s;
        return 0;
}

static int get_string_list(struct cursor *c, size_t n, char ***ret) {
        char **v = calloc(n + 1, sizeof(char *));
        int r;

        if (!v)
                return -ENOMEM;
        *ret = v;
        for (size_t i = 0; i < n; i++) {
                r = get_string(c, &v[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int get_optional_string(struct cursor *c, char **ret) {
        int r = get_string(c, ret);

        if (r == 0 && **ret == '\0')
                *ret = (free(*ret), NULL);
        return r;
}

static bool env_entry_valid(const char *s) {
        const char *eq = strchr(s, '=');

        return eq && eq != s;
}

void session_exec_done(struct session_exec *e) {
        strv_free(e->argv);
        strv_free(e->env);
        free(e->cwd);
        free(e->user);
        free(e->term);
        memset(e, 0, sizeof(*e));
}

int session_exec_decode(const struct session_frame *f, struct session_exec *ret) {
        struct session_exec e = {};
        struct cursor c = { f->payload, f->len };
        int r;

        if (f->type != SESSION_EXEC || f->len < EXEC_FIXED_SIZE)
                return -SESSION_E_PROTOCOL;
        e.flags = get_le32(c.p);
        e.timeout_s = get_le32(c.p + 4);
        e.winsize.rows = get_le16(c.p + 8);
        e.winsize.cols = get_le16(c.p + 10);
        e.argc = get_le16(c.p + 12);
        e.envc = get_le16(c.p + 14);
        c.p += EXEC_FIXED_SIZE;
        c.left -= EXEC_FIXED_SIZE;
        /* Each string takes at least its 4-byte length: bound the counts
         * by the payload before allocating anything. */
        r = -SESSION_E_PROTOCOL;
        if ((e.flags & ~SESSION_EXEC_FLAGS) || (e.argc == 0) != !!(e.flags & SESSION_EXEC_LOGIN) ||
            e.argc > SESSION_EXEC_ARGS_MAX ||
            e.envc > SESSION_EXEC_ARGS_MAX || (e.argc + e.envc + 3) * 4 > c.left)
                goto fail;
        r = get_string_list(&c, e.argc, &e.argv);
        if (r < 0)
                goto fail;
        r = get_string_list(&c, e.envc, &e.env);
        if (r < 0)
                goto fail;
        r = -SESSION_E_PROTOCOL;
        for (size_t i = 0; i < e.envc; i++)
                if (!env_entry_valid(e.env[i]))
                        goto fail;
        r = get_optional_string(&c, &e.cwd);
        if (r < 0)
                goto fail;
        r = get_optional_string(&c, &e.user);
        if (r < 0)
                goto fail;
        r = get_optional_string(&c, &e.term);
        if (r < 0)
                goto fail;
        r = -SESSION_E_PROTOCOL;
        if (c.left != 0 || (e.argc > 0 && e.argv[0][0] == '\0'))
                goto fail;
        *ret = e;
        return 0;
fail:
        session_exec_done(&e);
        return r;
}

/* A writing cursor: puts past the end only mark the overflow. */
struct wcursor {
        uint8_t *p;
        size_t len, cap;
        bool overflow;
};

static void put_bytes(struct wcursor *w, const void *data, size_t n) {
        if (n == 0)
                return;
        if (w->overflow || n > w->cap - w->len) {
                w->overflow = true;
                return;
        }
        memcpy(w->p + w->len, data, n);
        w->len += n;
}

static void put_string(struct wcursor *w, const char *s) {
        size_t n = s ? strlen(s) : 0;
        uint8_t len[4];

        if (n > UINT32_MAX) {
                w->overflow = true;
                return;
        }
        put_le32(len, (uint32_t) n);
        put_bytes(w, len, 4);
        put_bytes(w, s, n);
}

int session_out_exec(struct session_out *o, const struct session_exec *e) {
        _cleanup_free_ uint8_t *buf = malloc(SESSION_PAYLOAD_MAX);
        struct wcursor w = { buf, 0, SESSION_PAYLOAD_MAX, false };
        uint8_t fixed[EXEC_FIXED_SIZE];

        if (!buf)
                return -ENOMEM;
        if ((e->flags & ~SESSION_EXEC_FLAGS) || (e->argc == 0) != !!(e->flags & SESSION_EXEC_LOGIN) ||
            (e->argc > 0 && !e->argv[0][0]))
                return -EINVAL;
        if (e->argc > SESSION_EXEC_ARGS_MAX || e->envc > SESSION_EXEC_ARGS_MAX)
                return -E2BIG;
        for (size_t i = 0; i < e->envc; i++)
                if (!env_entry_valid(e->env[i]))
                        return -EINVAL;
        put_le32(fixed, e->flags);
        put_le32(fixed + 4, e->timeout_s);
        put_le16(fixed + 8, e->winsize.rows);
        put_le16(fixed + 10, e->winsize.cols);
        put_le16(fixed + 12, (uint16_t) e->argc);
        put_le16(fixed + 14, (uint16_t) e->envc);
        put_bytes(&w, fixed, sizeof(fixed));
        for (size_t i = 0; i < e->argc; i++)
                put_string(&w, e->argv[i]);
        for (size_t i = 0; i < e->envc; i++)
                put_string(&w, e->env[i]);
        put_string(&w, e->cwd);
        put_string(&w, e->user);
        put_string(&w, e->term);
        if (w.overflow)
                return -E2BIG;
        return session_out_frame(o, SESSION_EXEC, SESSION_CONTROL, buf, w.len);
}

void session_copy_done(struct session_copy *c) {
        strv_free(c->paths);
        memset(c, 0, sizeof(*c));
}

static uint32_t copy_flags_allowed(uint8_t type) {
        return type == SESSION_PUT ? SESSION_COPY_FLAGS : SESSION_COPY_FLAGS & ~SESSION_COPY_MULTIPLE;
}

int session_copy_decode(const struct session_frame *f, struct session_copy *ret) {
        struct session_copy c = { .type = f->type };
        struct cursor cur = { f->payload, f->len };
        int r;

        if ((f->type != SESSION_PUT && f->type != SESSION_GET) || f->len < COPY_SIZE_MIN)
                return -SESSION_E_PROTOCOL;
        c.flags = get_le32(cur.p);
        c.count = get_le16(cur.p + 4);
        cur.p += COPY_FIXED_SIZE;
        cur.left -= COPY_FIXED_SIZE;
        /* Bound the count by the payload (5 bytes per non-empty string) before allocating. */
        if ((c.flags & ~copy_flags_allowed(f->type)) || get_le16(f->payload + 6) != 0 || c.count == 0 ||
            (f->type == SESSION_PUT && c.count != 1) || c.count > SESSION_COPY_PATHS_MAX || c.count * 5 > cur.left)
                return -SESSION_E_PROTOCOL;
        r = get_string_list(&cur, c.count, &c.paths);
        if (r < 0)
                goto fail;
        r = -SESSION_E_PROTOCOL;
        if (cur.left != 0)
                goto fail;
        for (size_t i = 0; i < c.count; i++)
                if (c.paths[i][0] == '\0')
                        goto fail;
        *ret = c;
        return 0;
fail:
        session_copy_done(&c);
        return r;
}

int session_out_copy(struct session_out *o, const struct session_copy *c) {
        _cleanup_free_ uint8_t *buf = malloc(SESSION_PAYLOAD_MAX);
        struct wcursor w = { buf, 0, SESSION_PAYLOAD_MAX, false };
        uint8_t fixed[COPY_FIXED_SIZE] = {};

        if (!buf)
                return -ENOMEM;
        if ((c->type != SESSION_PUT && c->type != SESSION_GET) || (c->flags & ~copy_flags_allowed(c->type)) ||
            c->count == 0 || (c->type == SESSION_PUT && c->count != 1))
                return -EINVAL;
        if (c->count > SESSION_COPY_PATHS_MAX)
                return -E2BIG;
        for (size_t i = 0; i < c->count; i++)
                if (!c->paths[i][0])
                        return -EINVAL;
        put_le32(fixed, c->flags);
        put_le16(fixed + 4, (uint16_t) c->count);
        put_bytes(&w, fixed, sizeof(fixed));
        for (size_t i = 0; i < c->count; i++)
                put_string(&w, c->paths[i]);
        if (w.overflow)
                return -E2BIG;
        return session_out_frame(o, c->type, SESSION_CONTROL, buf, w.len);
}

void session_auth_done(struct session_auth *a) {
        if (a->password)
                explicit_bzero(a->password, strlen(a->password));
        free(a->password);
        free(a->user);
        memset(a, 0, sizeof(*a));
}

int session_auth_decode(const struct session_frame *f, struct session_auth *ret) {
        struct session_auth a = {};
        struct cursor cur = { f->payload, f->len };
        int r;

        if (f->type != SESSION_AUTH || f->len < AUTH_SIZE_MIN)
                return -SESSION_E_PROTOCOL;
        r = get_string(&cur, &a.user);
        if (r == 0)
                r = get_string(&cur, &a.password);
        if (r == 0 && (cur.left != 0 || a.user[0] == '\0'))
                r = -SESSION_E_PROTOCOL;
        if (r < 0) {
                session_auth_done(&a);
                return r;
        }
        *ret = a;
        return 0;
}

int session_out_auth(struct session_out *o, const char *user, const char *password) {
        _cleanup_free_ uint8_t *buf = malloc(SESSION_PAYLOAD_MAX);
        struct wcursor w = { buf, 0, SESSION_PAYLOAD_MAX, false };
        int r;

        if (!buf)
                return -ENOMEM;
        if (!user || !user[0])
                return -EINVAL;
        put_string(&w, user);
        put_string(&w, password);
        r = w.overflow ? -E2BIG : session_out_frame(o, SESSION_AUTH, SESSION_CONTROL, buf, w.len);
        explicit_bzero(buf, w.len);
        return r;
}

static const struct {
        uint32_t wire;
        int native;
} signal_table[] = {
        { 1, SIGHUP },   { 2, SIGINT },   { 3, SIGQUIT }, { 9, SIGKILL },  { 10, SIGUSR1 }, { 12, SIGUSR2 },
        { 15, SIGTERM }, { 18, SIGCONT }, { 19, SIGSTOP }, { 20, SIGTSTP }, { 28, SIGWINCH },
};

int session_signal_to_native(uint32_t wire) {
        for (size_t i = 0; i < ELEMENTSOF(signal_table); i++)
                if (signal_table[i].wire == wire)
                        return signal_table[i].native;
        return -EINVAL;
}

uint32_t session_signal_from_native(int sig) {
        for (size_t i = 0; i < ELEMENTSOF(signal_table); i++)
                if (signal_table[i].native == sig)
                        return signal_table[i].wire;
        return (uint32_t) sig;
}

const char *session_type_name(uint8_t type) {
        static const char *const names[SESSION_TYPE_MAX] = {
                [SESSION_HELLO] = "HELLO",     [SESSION_ERROR] = "ERROR",   [SESSION_EXEC] = "EXEC",
                [SESSION_STARTED] = "STARTED", [SESSION_DATA] = "DATA",     [SESSION_EOF] = "EOF",
                [SESSION_WINDOW] = "WINDOW",   [SESSION_SIGNAL] = "SIGNAL", [SESSION_EXIT] = "EXIT",
                [SESSION_WINSIZE] = "WINSIZE", [SESSION_PUT] = "PUT",       [SESSION_GET] = "GET",
                [SESSION_AUTH] = "AUTH",
        };

        return type < SESSION_TYPE_MAX && names[type] ? names[type] : "unknown";
}

const char *session_error_name(uint32_t code) {
        switch (code) {
        case SESSION_E_PROTOCOL:
                return "protocol error";
        case SESSION_E_VERSION:
                return "no common protocol version";
        case SESSION_E_TOO_BIG:
                return "frame too large";
        case SESSION_E_FLOW:
                return "flow control violated";
        case SESSION_E_BUSY:
                return "too many sessions";
        case SESSION_E_BAD_REQUEST:
                return "bad request";
        case SESSION_E_NOT_FOUND:
                return "command not found";
        case SESSION_E_SPAWN:
                return "cannot start the command";
        case SESSION_E_PERMISSION:
                return "permission denied";
        case SESSION_E_UNSUPPORTED:
                return "not supported";
        case SESSION_E_INTERNAL:
                return "internal error";
        case SESSION_E_AUTH:
                return "authentication failed";
        case SESSION_E_TIMEOUT:
                return "timed out";
        default:
                return "unknown error";
        }
}
