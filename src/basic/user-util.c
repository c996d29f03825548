/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "user-util.h"

/* Lookups fit this for any sane passwd and group entry; a bigger one is
 * ERANGE, reported like any lookup error. */
#define LOOKUP_BUFFER 16384

/* Returns 1 with *ret set for a decimal id, 0 for something else (a name),
 * -ERANGE for a number that is no id ((uint32_t) -1 means "none" to chown). */
static int parse_id(const char *s, uint32_t *ret) {
        unsigned long long v;
        char *end;

        if (*s < '0' || *s > '9')
                return 0;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (*end)
                return 0;
        if (errno || v >= UINT32_MAX)
                return -ERANGE;
        *ret = (uint32_t) v;
        return 1;
}

/* Looks the name s up in the group or the passwd database. */
static int lookup_name(const char *s, bool group, uint32_t *ret) {
        _cleanup_free_ char *buf = malloc(LOOKUP_BUFFER);
        struct passwd pw, *pw_found = NULL;
        struct group gr, *gr_found = NULL;
        int r;

        if (!buf)
                return -ENOMEM;
        if (group)
                r = getgrnam_r(s, &gr, buf, LOOKUP_BUFFER, &gr_found);
        else
                r = getpwnam_r(s, &pw, buf, LOOKUP_BUFFER, &pw_found);
        if (r > 0)
                return -r;
        if (!gr_found && !pw_found)
                return -ESRCH;
        *ret = group ? gr.gr_gid : pw.pw_uid;
        return 0;
}

static int parse_name_or_id(const char *s, bool group, uint32_t *ret) {
        int r;

        if (!s || !*s)
                return -EINVAL;
        r = parse_id(s, ret);
        if (r != 0)
                return r < 0 ? r : 0;
        return lookup_name(s, group, ret);
}

int parse_user(const char *s, uid_t *ret) {
        uint32_t id;
        int r = parse_name_or_id(s, false, &id);

        if (r == 0)
                *ret = (uid_t) id;
        return r;
}

int parse_group(const char *s, gid_t *ret) {
        uint32_t id;
        int r = parse_name_or_id(s, true, &id);

        if (r == 0)
                *ret = (gid_t) id;
        return r;
}

const char *parse_id_strerror(int err, bool group) {
        switch (err) {
        case -ESRCH:
                return group ? "no such group" : "no such user";
        case -EINVAL:
        case -ERANGE:
                return group ? "expected a group name or a gid below 4294967295"
                             : "expected a user name or a uid below 4294967295";
        default:
                return strerror(-err);
        }
}
