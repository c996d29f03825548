/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "connect-line.h"

static const char keyword[] = "CONNECT ";
#define KEYWORD_LEN (sizeof(keyword) - 1)

static int finish(struct connect_line *s, uint32_t *ret_port) {
        uint32_t v = 0;

        if (s->len <= KEYWORD_LEN)
                return -EBADMSG;
        for (unsigned i = KEYWORD_LEN; i < s->len; i++) {
                uint32_t d = (uint32_t) (s->buf[i] - '0');
                if (v > (UINT32_MAX - d) / 10)
                        return -EBADMSG;
                v = v * 10 + d;
        }
        *ret_port = v;
        return 1;
}

int connect_line_feed(struct connect_line *s, char c, uint32_t *ret_port) {
        int ok;

        if (s->done)
                return -EBADMSG;
        if (c == '\n') {
                s->done = 1;
                return finish(s, ret_port);
        }
        /* Room must stay for the newline. */
        if (s->len >= CONNECT_LINE_MAX - 1) {
                s->done = 1;
                return -EBADMSG;
        }
        if (s->len < KEYWORD_LEN)
                ok = keyword[s->len] == ' ' ? c == ' '
                                            : (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ?
                                              ((c & ~0x20) == keyword[s->len]) : 0;
        else
                ok = c >= '0' && c <= '9';
        if (!ok) {
                s->done = 1;
                return -EBADMSG;
        }
        s->buf[s->len++] = c;
        return 0;
}
