/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_BASIC_USER_UTIL_H
#define HVSOCK_BASIC_USER_UTIL_H

#include <stdbool.h>
#include <sys/types.h>

/* A user given as a name or as a numeric uid (which, as for chown(1), needs
 * no passwd entry). Returns 0, -ESRCH for a name with no such user,
 * -ERANGE for a number past 4294967294, -EINVAL for an empty string, or the
 * lookup's error. *ret is written only on success. */
int parse_user(const char *s, uid_t *ret);

/* The same for a group: a name or a numeric gid. */
int parse_group(const char *s, gid_t *ret);

/* Words for an error of parse_user() (group false) or parse_group(), for
 * "bad --group 'x': <words>" messages. A static string. */
const char *parse_id_strerror(int err, bool group);

#endif
