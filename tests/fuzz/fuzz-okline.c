/* SPDX-License-Identifier: MIT */
/*
 * The hybrid muxer's "OK <port>\n" reply comes from outside the process.
 * Feed arbitrary bytes and check what the parser promises: a result only on
 * the byte that is '\n', never after HVSOCK_OKLINE_MAX bytes, a port that
 * matches the text, and no acceptance of anything after a result.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hvsock/hvsock.h>

#include "transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An independent reading of the rule, to compare against. */
static int reference(const uint8_t *line, size_t len, uint32_t *ret) {
        uint64_t v = 0;

        if (len < 4 || (line[0] | 0x20) != 'o' || (line[1] | 0x20) != 'k' || line[2] != ' ')
                return -1;
        for (size_t i = 3; i < len; i++) {
                if (line[i] < '0' || line[i] > '9')
                        return -1;
                v = v * 10 + (uint64_t) (line[i] - '0');
                if (v > UINT32_MAX)
                        return -1;
        }
        *ret = (uint32_t) v;
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct hvsock_okline line;
        uint32_t port = 0xdeadbeef, expect;
        size_t i;
        int r = 0;

        memset(&line, 0, sizeof(line));
        for (i = 0; i < size && r == 0; i++) {
                r = hvsock__okline_feed(&line, (char) data[i], &port);
                if (r != 0 && r != 1 && r != -HVSOCK_E_PROTOCOL)
                        abort();
                if (r == 1 && data[i] != '\n')
                        abort();
                if (r != 1 && port != 0xdeadbeef)
                        abort();
        }
        if (i > HVSOCK_OKLINE_MAX)
                abort();
        if (r == 1) {
                /* 'O' and 'K' in any case only: (c | 0x20) also maps other bytes. */
                if (!memchr("Oo", data[0], 2) || !memchr("Kk", data[1], 2))
                        abort();
                if (reference(data, i - 1, &expect) < 0 || expect != port)
                        abort();
                if (hvsock__okline_feed(&line, '\n', &port) != -HVSOCK_E_PROTOCOL)
                        abort();
        }
        if (r == 0) {
                /* Undecided only while every byte so far could still start a valid line. */
                if (i != size || memchr(data, '\n', size))
                        abort();
        }
        return 0;
}
