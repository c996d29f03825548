/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_SESSION_AUTH_PAM_H
#define HVSOCK_SESSION_AUTH_PAM_H

/*
 * hvsock-sessiond --auth pam: each session's PAM transaction runs in a
 * process of its own, the session's PAM process, forked by the daemon when
 * the request arrives. It authenticates, checks the account, opens the PAM
 * session, forks the command, waits for it and closes the PAM session,
 * reporting each step to the daemon over a pipe. So a slow PAM module
 * (pam_unix's delay after a failure, a remote backend) holds only its own
 * session, and the command is a child of the process that opened the PAM
 * session, as with login(1) and su(1).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The PAM service hvsock-sessiond --auth pam checks credentials with
 * (/etc/pam.d/hvsock-sessiond). */
#define SESSION_PAM_SERVICE "hvsock-sessiond"

/* What the client is told for any refused credential, so that it cannot
 * tell an unknown user from a wrong password. */
#define SESSION_PAM_CREDENTIAL_INVALID "The credential is invalid."

enum session_pam_report_kind {
        SESSION_PAM_AUTHENTICATED = 1, /* the credentials and the account are accepted */
        SESSION_PAM_FAILED,            /* code: the ERROR to send, message: its text; nothing runs */
        SESSION_PAM_STARTED,           /* value: the command's pid */
        SESSION_PAM_EXITED,            /* value: the command's wait status */
};

/* One record per write(): smaller than PIPE_BUF, so a record is never
 * split, and the daemon reads whole records or nothing. */
struct session_pam_report {
        uint32_t kind;
        uint32_t code;
        int32_t value;
        char message[256]; /* for the client (FAILED) */
        char detail[256];  /* for the daemon's log, never the password; "" when none */
};

/*
 * Forks the command under the open PAM session (called in the PAM
 * process). pam_env is PAM's environment (a NULL-terminated list of
 * "NAME=VALUE", or NULL) for the command. Returns the command's pid once it
 * has exec'ed, or -1 with *ret_code (an ERROR code) and message set.
 */
typedef pid_t (*session_pam_spawn_fn)(void *data, char **pam_env, uint32_t *ret_code, char *message,
                                      size_t message_size);

struct session_pam_request {
        const char *service;
        const char *user;
        const char *password;
        bool user_known;   /* the user is in the password database */
        bool init_groups;  /* switching users: initgroups(user, gid) before pam_setcred */
        gid_t gid;
        session_pam_spawn_fn spawn;
        void *spawn_data;
};

/*
 * Runs a session's PAM process; call it in a freshly forked child that
 * holds only report_fd (the write end of the daemon's pipe) and what spawn
 * needs. Reports AUTHENTICATED, STARTED and EXITED in that order, or FAILED
 * at the first step that fails, then closes the PAM session and exits.
 */
_Noreturn void session_pam_process(const struct session_pam_request *req, int report_fd);

/* Whether this build has PAM. Built with -DHVSOCK_NO_PAM (the statically
 * linked guest binary of the e2e tests: Debian has no static libaudit, which
 * libpam.a needs), session_pam_process() only reports UNSUPPORTED and
 * --auth pam is refused at start. */
bool session_pam_available(void);

#endif
