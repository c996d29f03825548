/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_SESSION_SPAWN_H
#define HVSOCK_SESSION_SPAWN_H

/* Starting a session's command: see session-spawn.c. */

#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "frame.h"

/* What the child runs: path with argv, and its standard streams (the
 * child ends of the pipes, or the terminal's slave three times). */
struct spawn_plan {
        const char *path;
        char **argv;
        int in, out, err;
        bool pty;
        /* Started by a session's PAM process (--auth pam), which has set
         * the user's groups already (initgroups, then pam_setcred) and
         * whose death must take the command along. */
        bool under_pam;
        pid_t pam_process;
};

/* Everything the command needs, prepared before the daemon (or, with
 * --auth pam, the session's PAM process) forks it. */
struct spawn_ctx {
        const struct session_exec *e;
        struct spawn_plan sp;
        struct passwd *pw; /* NULL: an unknown user (only with --auth pam, which refuses it after PAM) */
        bool switch_user;
};

/* A close-on-exec pipe. Returns 0 or -errno. */
int spawn_pipe_pair(int p[2]);
/* Closes both ends (those >= 0) and sets them to -1. */
void spawn_close_pair(int p[2]);
/* "-NAME" for a login shell at path shell (malloc'd), or NULL. */
char *spawn_login_argv0(const char *shell);
/* The password database entry of name (NULL: our own user) in *buf (the
 * caller frees it); *ret NULL when there is none. Returns 0 or -ENOMEM. */
int spawn_lookup_user(const char *name, struct passwd *pwd, char **buf, struct passwd **ret);
/* Closes the child's ends of the plan's streams. */
void spawn_close_child_ends(struct spawn_plan *sp);
/* Pipes (or a pseudo-terminal) for the command's streams: the child's ends
 * in c->sp, ours in ret_ours (stdin, stdout, stderr). Returns 0 or -errno. */
int spawn_open_streams(struct spawn_ctx *c, int ret_ours[3]);
/* A copy helper's streams: the session's socket as stdin and stdout, and
 * the daemon's stderr. Returns 0 or -errno. */
int spawn_open_handoff(struct spawn_ctx *c, int sock);
/* Forks and execs the command (pam_env: PAM's environment, or NULL). Returns
 * its pid, or -1 with the ERROR code and message for the client. */
pid_t spawn_fork_command(const struct spawn_ctx *c, char **pam_env, uint32_t *ret_code, char *msg, size_t size);

#endif
