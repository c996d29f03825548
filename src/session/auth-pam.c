/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "auth-pam.h"

#ifdef HVSOCK_NO_PAM

bool session_pam_available(void) {
        return false;
}

int session_pam_check(const char *service, const char *user, const char *password) {
        return -EOPNOTSUPP;
}

#else

#include <security/pam_appl.h>

bool session_pam_available(void) {
        return true;
}

struct conv_data {
        const char *user, *password;
};

/* Answers the modules' prompts: the password to a hidden prompt, the user
 * name to a visible one; messages get no answer. */
static int conv(int n, const struct pam_message **msg, struct pam_response **ret_resp, void *data) {
        const struct conv_data *d = data;
        struct pam_response *resp;

        if (n <= 0 || n > PAM_MAX_NUM_MSG)
                return PAM_CONV_ERR;
        resp = calloc((size_t) n, sizeof(*resp));
        if (!resp)
                return PAM_BUF_ERR;
        for (int i = 0; i < n; i++) {
                const char *answer = NULL;

                switch (msg[i]->msg_style) {
                case PAM_PROMPT_ECHO_OFF:
                        answer = d->password;
                        break;
                case PAM_PROMPT_ECHO_ON:
                        answer = d->user;
                        break;
                case PAM_ERROR_MSG:
                case PAM_TEXT_INFO:
                        continue;
                default:
                        goto fail;
                }
                resp[i].resp = strdup(answer);
                if (!resp[i].resp)
                        goto fail;
        }
        *ret_resp = resp;
        return PAM_SUCCESS;
fail:
        for (int i = 0; i < n; i++)
                if (resp[i].resp) {
                        explicit_bzero(resp[i].resp, strlen(resp[i].resp));
                        free(resp[i].resp);
                }
        free(resp);
        return PAM_CONV_ERR;
}

int session_pam_check(const char *service, const char *user, const char *password) {
        struct conv_data d = { user, password };
        struct pam_conv pc = { conv, &d };
        pam_handle_t *pamh = NULL;
        int rc, r;

        rc = pam_start(service, user, &pc, &pamh);
        if (rc != PAM_SUCCESS)
                return rc == PAM_BUF_ERR ? -ENOMEM : -EIO;
        rc = pam_authenticate(pamh, PAM_DISALLOW_NULL_AUTHTOK);
        if (rc == PAM_SUCCESS)
                rc = pam_acct_mgmt(pamh, PAM_DISALLOW_NULL_AUTHTOK);
        switch (rc) {
        case PAM_SUCCESS:
                r = 0;
                break;
        case PAM_BUF_ERR:
                r = -ENOMEM;
                break;
        case PAM_AUTH_ERR:
        case PAM_USER_UNKNOWN:
        case PAM_MAXTRIES:
        case PAM_CRED_INSUFFICIENT:
        case PAM_AUTHINFO_UNAVAIL:
        case PAM_ACCT_EXPIRED:
        case PAM_NEW_AUTHTOK_REQD:
        case PAM_PERM_DENIED:
                r = -EACCES;
                break;
        default:
                r = -EIO;
                break;
        }
        pam_end(pamh, rc);
        return r;
}

#endif
