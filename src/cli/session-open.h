/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_CLI_SESSION_OPEN_H
#define HVSOCK_CLI_SESSION_OPEN_H

/* What exec, shell and cp share before and after a session with a VM's
 * hvsock-sessiond. */

#include "cli-util.h"
#include "credential.h"
#include "session-client.h"

/* Like ssh: the session itself failed (not the remote command). */
#define EXIT_SESSION 255

/*
 * Loads credential_file into cred (when given), resolves vm_arg and connects
 * to its VM Session Service. Returns 0 with the connected socket in
 * *ret_sock, or an exit status after printing why: usage errors 2, lookups
 * 1, a failed connect connect_failure.
 */
int cli_session_connect(const struct cli_command *cmd, const char *vm_arg, const char *credential_file,
                        struct cli_credential *cred, int connect_failure, int *ret_sock);

/* Prints why session_client_run() failed with r:
 * "hvsock: <what> VM '<vm_arg>': <step>: <reason>", or the advice of cred
 * when getting the credentials failed for a reason the user can fix. */
void cli_session_run_failed(const char *what, const char *vm_arg, int r, const struct session_client_result *res,
                            const struct cli_credential *cred);

#endif
