/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_BASIC_STRING_UTIL_H
#define HVSOCK_BASIC_STRING_UTIL_H

#include <stddef.h>

/* Replaces, in the n bytes at s, whatever a terminal would take as a
 * command rather than text with '?': C0 controls but tab and newline, DEL,
 * and C1 controls (as UTF-8, 0xc2 0x80..0x9f, or as single bytes 0x80..0x9f
 * that start no UTF-8 sequence). For text a peer chose (file names, remote
 * messages) before it reaches the user's terminal, so that it cannot
 * rewrite what the user sees (scp's CVE-2019-6109). */
void str_make_printable(char *s, size_t n);

/* Splits path, trailing slashes ignored, into its parent and last component
 * (both malloc'd, the caller frees them): "a/b/" is "a" and "b", "b" is "."
 * and "b", "/b" is "/" and "b", "/" is "/" and ".". Returns 0 or -ENOMEM. */
int path_split(const char *path, char **ret_parent, char **ret_name);

#endif
