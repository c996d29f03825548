/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <uuid/uuid.h>

#include <hvsock/guid.h>

#include "macro.h"

/* Text 8-4-4-4-12 to Windows layout: Data1..3 are stored little-endian. */
#define GUID(d1, d2, d3, a, b, c, d, e, f, g, h)                                      \
        { { (d1) & 0xff, ((d1) >> 8) & 0xff, ((d1) >> 16) & 0xff, ((d1) >> 24) & 0xff, \
            (d2) & 0xff, ((d2) >> 8) & 0xff, (d3) & 0xff, ((d3) >> 8) & 0xff,         \
            a, b, c, d, e, f, g, h } }

HVSOCK_EXPORT const struct hvsock_guid HVSOCK_GUID_ZERO = { { 0 } };
HVSOCK_EXPORT const struct hvsock_guid HVSOCK_GUID_BROADCAST = {
        { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }
};
HVSOCK_EXPORT const struct hvsock_guid HVSOCK_GUID_CHILDREN =
        GUID(0x90db8b89u, 0x0d35, 0x4f79, 0x8c, 0xe9, 0x49, 0xea, 0x0a, 0xc8, 0xb7, 0xcd);
HVSOCK_EXPORT const struct hvsock_guid HVSOCK_GUID_LOOPBACK =
        GUID(0xe0e16197u, 0xdd56, 0x4a10, 0x91, 0x95, 0x5e, 0xe7, 0xa1, 0x55, 0xa8, 0x38);
HVSOCK_EXPORT const struct hvsock_guid HVSOCK_GUID_PARENT =
        GUID(0xa42e7cdau, 0xd03f, 0x480c, 0x9c, 0xc2, 0xa4, 0xde, 0x20, 0xab, 0xb8, 0x78);
HVSOCK_EXPORT const struct hvsock_guid HVSOCK_GUID_SILOHOST =
        GUID(0x36bd0c5cu, 0x7276, 0x4223, 0x88, 0xba, 0x7d, 0x03, 0xb6, 0x54, 0xc5, 0x68);
HVSOCK_EXPORT const struct hvsock_guid HVSOCK_GUID_VSOCK_TEMPLATE =
        GUID(0x00000000u, 0xfacb, 0x11e6, 0xbd, 0x58, 0x64, 0x00, 0x6a, 0x79, 0x86, 0xd3);

static const struct {
        const char *name;
        const struct hvsock_guid *guid;
} wellknown[] = {
        /* The first name of each GUID is the one hvsock_guid_wellknown_name() gives. */
        { "zero", &HVSOCK_GUID_ZERO },
        { "wildcard", &HVSOCK_GUID_ZERO },
        { "any", &HVSOCK_GUID_ZERO },
        { "broadcast", &HVSOCK_GUID_BROADCAST },
        { "children", &HVSOCK_GUID_CHILDREN },
        { "loopback", &HVSOCK_GUID_LOOPBACK },
        { "parent", &HVSOCK_GUID_PARENT },
        { "silohost", &HVSOCK_GUID_SILOHOST },
};

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        c = (char) tolower((unsigned char) c);
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

HVSOCK_EXPORT int hvsock_guid_parse(const char *s, struct hvsock_guid *ret) {
        /* Positions of the 16 bytes in the text, in text order, and where each
         * lands in the Windows layout (Data1..3 byte-swapped). */
        static const unsigned char text_pos[16] = { 0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34 };
        static const unsigned char layout[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
        struct hvsock_guid g;
        size_t len;

        if (!s)
                return -EINVAL;
        len = strlen(s);
        if (len == 38 && s[0] == '{' && s[37] == '}')
                s++;
        else if (len != 36)
                return -EINVAL;
        if (s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')
                return -EINVAL;
        for (size_t i = 0; i < 16; i++) {
                int hi = hexval(s[text_pos[i]]), lo = hexval(s[text_pos[i] + 1]);
                if (hi < 0 || lo < 0)
                        return -EINVAL;
                g.b[layout[i]] = (uint8_t) (hi << 4 | lo);
        }
        *ret = g;
        return 0;
}

HVSOCK_EXPORT char *hvsock_guid_format(const struct hvsock_guid *g, char buf[static HVSOCK_GUID_STRING_MAX]) {
        const uint8_t *b = g->b;

        snprintf(buf, HVSOCK_GUID_STRING_MAX,
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6],
                 b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
        return buf;
}

HVSOCK_EXPORT int hvsock_guid_generate(struct hvsock_guid *ret) {
        uuid_t u;

        /* libuuid gives RFC 4122 byte order (big-endian fields); the Windows
         * layout stores the first three fields little-endian. */
        uuid_generate_random(u);
        ret->b[0] = u[3], ret->b[1] = u[2], ret->b[2] = u[1], ret->b[3] = u[0];
        ret->b[4] = u[5], ret->b[5] = u[4];
        ret->b[6] = u[7], ret->b[7] = u[6];
        memcpy(ret->b + 8, u + 8, 8);
        return 0;
}

HVSOCK_EXPORT bool hvsock_guid_equal(const struct hvsock_guid *a, const struct hvsock_guid *b) {
        return memcmp(a->b, b->b, sizeof(a->b)) == 0;
}

HVSOCK_EXPORT bool hvsock_guid_is_zero(const struct hvsock_guid *g) {
        return hvsock_guid_equal(g, &HVSOCK_GUID_ZERO);
}

HVSOCK_EXPORT uint32_t hvsock_guid_data1(const struct hvsock_guid *g) {
        return (uint32_t) g->b[0] | (uint32_t) g->b[1] << 8 | (uint32_t) g->b[2] << 16 |
               (uint32_t) g->b[3] << 24;
}

HVSOCK_EXPORT uint16_t hvsock_guid_data2(const struct hvsock_guid *g) {
        return (uint16_t) (g->b[4] | g->b[5] << 8);
}

HVSOCK_EXPORT uint16_t hvsock_guid_data3(const struct hvsock_guid *g) {
        return (uint16_t) (g->b[6] | g->b[7] << 8);
}

HVSOCK_EXPORT int hvsock_guid_from_port(uint32_t port, struct hvsock_guid *ret) {
        if (port > HVSOCK_PORT_MAX)
                return -ERANGE;
        *ret = HVSOCK_GUID_VSOCK_TEMPLATE;
        ret->b[0] = (uint8_t) port;
        ret->b[1] = (uint8_t) (port >> 8);
        ret->b[2] = (uint8_t) (port >> 16);
        ret->b[3] = (uint8_t) (port >> 24);
        return 0;
}

HVSOCK_EXPORT bool hvsock_guid_is_vsock_template(const struct hvsock_guid *g) {
        return memcmp(g->b + 4, HVSOCK_GUID_VSOCK_TEMPLATE.b + 4, 12) == 0 &&
               hvsock_guid_data1(g) <= HVSOCK_PORT_MAX;
}

HVSOCK_EXPORT int hvsock_guid_to_port(const struct hvsock_guid *g, uint32_t *ret) {
        if (!hvsock_guid_is_vsock_template(g))
                return -EINVAL;
        *ret = hvsock_guid_data1(g);
        return 0;
}

HVSOCK_EXPORT const char *hvsock_guid_wellknown_name(const struct hvsock_guid *g) {
        for (size_t i = 0; i < ELEMENTSOF(wellknown); i++)
                if (hvsock_guid_equal(g, wellknown[i].guid))
                        return wellknown[i].name;
        return NULL;
}

HVSOCK_EXPORT int hvsock_guid_from_wellknown_name(const char *name, struct hvsock_guid *ret) {
        for (size_t i = 0; i < ELEMENTSOF(wellknown); i++)
                if (strcasecmp(name, wellknown[i].name) == 0) {
                        *ret = *wellknown[i].guid;
                        return 0;
                }
        return -EINVAL;
}
