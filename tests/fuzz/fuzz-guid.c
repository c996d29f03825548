/* SPDX-License-Identifier: MIT */
/* The GUID text parser: whatever it accepts must format back to the same GUID. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <hvsock/guid.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char text[64], out[HVSOCK_GUID_STRING_MAX];
        struct hvsock_guid g, again;
        uint32_t port;

        if (size >= sizeof(text))
                return 0;
        memcpy(text, data, size);
        text[size] = 0;
        if (hvsock_guid_parse(text, &g) < 0)
                return 0;

        hvsock_guid_format(&g, out);
        if (hvsock_guid_parse(out, &again) < 0 || !hvsock_guid_equal(&g, &again))
                abort();
        /* The formatted text is the input without braces, lowercased. */
        if (strncasecmp(text[0] == '{' ? text + 1 : text, out, 36) != 0)
                abort();
        if (hvsock_guid_to_port(&g, &port) == 0) {
                if (hvsock_guid_from_port(port, &again) < 0 || !hvsock_guid_equal(&g, &again))
                        abort();
        }
        return 0;
}
