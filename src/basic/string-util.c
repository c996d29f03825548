/* SPDX-License-Identifier: MIT */
#include <stdbool.h>

#include "string-util.h"

static bool is_c0_or_del(unsigned char c) {
        return (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f;
}

void str_make_printable(char *s, size_t n) {
        unsigned char *p = (unsigned char *) s;
        bool continuation = false; /* the previous byte started a UTF-8 sequence */

        for (size_t i = 0; i < n; i++) {
                unsigned char c = p[i];

                if (c == 0xc2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f) {
                        p[i] = '?';
                        p[++i] = '?';
                        continuation = false;
                        continue;
                }
                if (is_c0_or_del(c) || (c >= 0x80 && c <= 0x9f && !continuation))
                        p[i] = '?';
                /* 0xc0.. start a sequence; continuation bytes (0x80..0xbf)
                 * keep it going only for as long as a sequence can be. */
                continuation = c >= 0xc0 || (continuation && c >= 0x80 && c <= 0xbf);
        }
}
