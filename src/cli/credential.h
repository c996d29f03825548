/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_CLI_CREDENTIAL_H
#define HVSOCK_CLI_CREDENTIAL_H

/*
 * Credentials for a daemon that runs with --auth pam: read from
 * --credential-file, or the password asked for on /dev/tty without echo
 * (only when the daemon asks, so a --auth host daemon never prompts).
 */

#include "frame.h"

/* Longest credential file read, and longest password typed. */
#define CLI_CREDENTIAL_MAX 4096u

struct cli_credential {
        const char *user; /* --user, else $USER, else the local user name */
        char *file_user, *file_password; /* from --credential-file, owned */
        /* Set when cli_credential_get() failed for a reason the user can
         * act on (no terminal to ask on): what to do, in words. */
        const char *advice;
};

/*
 * Reads path: its first line is "user:password" (split at the first ':'),
 * or, when it has no ':', the user name, and the second line the password.
 * Returns 0 or -errno (-EINVAL for a file that holds no such lines).
 */
int cli_credential_load(struct cli_credential *c, const char *path);

/* The callback of struct session_client_io: the file's credentials, or
 * c->user and a password read from /dev/tty. Returns 0 or -errno; without
 * a terminal (and no file) also sets c->advice. */
int cli_credential_get(void *c, struct session_auth *ret);

/* Wipes and frees what cli_credential_load() read. */
void cli_credential_done(struct cli_credential *c);

#endif
