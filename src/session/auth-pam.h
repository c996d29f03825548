/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_SESSION_AUTH_PAM_H
#define HVSOCK_SESSION_AUTH_PAM_H

#include <stdbool.h>

/* The PAM service hvsock-sessiond --auth pam checks credentials with
 * (/etc/pam.d/hvsock-sessiond). */
#define SESSION_PAM_SERVICE "hvsock-sessiond"

/*
 * Checks user's password through PAM: pam_start(service), pam_authenticate
 * and pam_acct_mgmt, answering every password prompt with password. Returns
 * 0 when both accept, -EACCES when PAM refuses (wrong password, unknown
 * user, expired or locked account), -ENOMEM, or -EIO for another PAM
 * failure. Blocks for as long as the PAM modules take.
 */
int session_pam_check(const char *service, const char *user, const char *password);

/* Whether this build has PAM. Built with -DHVSOCK_NO_PAM (the statically
 * linked guest binary of the e2e tests: Debian has no static libaudit, which
 * libpam.a needs), session_pam_check() is -EOPNOTSUPP and --auth pam is
 * refused at start. */
bool session_pam_available(void);

#endif
