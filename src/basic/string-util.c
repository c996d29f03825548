/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
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

int path_split(const char *path, char **ret_parent, char **ret_name) {
        _cleanup_free_ char *p = strdup(path);
        char *slash, *parent, *name;
        size_t len;

        if (!p)
                return -ENOMEM;
        len = strlen(p);
        while (len > 1 && p[len - 1] == '/')
                p[--len] = 0;
        slash = strrchr(p, '/');
        if (!slash || strcmp(p, "/") == 0) {
                parent = strdup(slash ? "/" : ".");
                name = strdup(slash ? "." : p);
        } else {
                name = strdup(slash + 1);
                *(slash == p ? slash + 1 : slash) = 0;
                parent = strdup(p);
        }
        if (!parent || !name) {
                free(parent);
                free(name);
                return -ENOMEM;
        }
        *ret_parent = parent;
        *ret_name = name;
        return 0;
}
