/* SPDX-License-Identifier: MIT */
/*
 * Registry parser: any input either fails with a message or parses into a
 * registry that validates, formats, and parses back to the same registry
 * and the same text.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hvsock/hvsock.h>

#include "registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct hvsock_registry *a = NULL, *b = NULL;
        char *error = NULL, *text = NULL, *again = NULL;
        int r;

        r = hvsock__registry_parse((const char *) data, size, "fuzz", &a, &error);
        if (r < 0) {
                /* A parse failure is a message, never anything else. */
                if (r != -ENOMEM && (r != -HVSOCK_E_REGISTRY || !error || strncmp(error, "fuzz:", 5) != 0))
                        abort();
                free(error);
                return 0;
        }
        if (hvsock__registry_validate(a, &error) < 0)
                abort();
        text = hvsock__registry_format(a);
        /* Formatting may legitimately grow a file just under the size limit. */
        if (!text || strlen(text) > HVSOCK_REGISTRY_SIZE_MAX)
                goto out;
        r = hvsock__registry_parse(text, strlen(text), "fuzz-formatted", &b, &error);
        if (r == -ENOMEM)
                goto out;
        if (r < 0 || !hvsock__registry_equal(a, b))
                abort();
        again = hvsock__registry_format(b);
        if (again && strcmp(text, again) != 0)
                abort();
out:
        free(again);
        free(text);
        hvsock__registry_free(b);
        hvsock__registry_free(a);
        return 0;
}
