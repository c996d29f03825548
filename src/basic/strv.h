/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_BASIC_STRV_H
#define HVSOCK_BASIC_STRV_H

/* Frees a NULL-terminated array of malloc'd strings and the array itself.
 * NULL-safe. */
void strv_free(char **v);

static inline void strv_freep(char ***v) {
        strv_free(*v);
}

#endif
