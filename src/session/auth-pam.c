/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth-pam.h"
#include "frame.h"
#include "macro.h"
#include "strv.h"

/* A lost daemon cannot be told anything: write errors are ignored, and the
 * process goes on to close its PAM session. */
static void report_send(int fd, const struct session_pam_report *rep) {
        while (write(fd, rep, sizeof(*rep)) < 0 && errno == EINTR)
                ;
}

static void report_failed(int fd, uint32_t code, const char *message, const char *detail_fmt, ...)
        _printf_(4, 5);
static void report_failed(int fd, uint32_t code, const char *message, const char *detail_fmt, ...) {
        struct session_pam_report rep = { .kind = SESSION_PAM_FAILED, .code = code };
        va_list ap;

        snprintf(rep.message, sizeof(rep.message), "%s", message);
        va_start(ap, detail_fmt);
        vsnprintf(rep.detail, sizeof(rep.detail), detail_fmt, ap);
        va_end(ap);
        report_send(fd, &rep);
}

#ifdef HVSOCK_NO_PAM

bool session_pam_available(void) {
        return false;
}

_Noreturn void session_pam_process(const struct session_pam_request *req, int report_fd) {
        report_failed(report_fd, SESSION_E_UNSUPPORTED, "this daemon was built without PAM", "%s", "");
        _exit(1);
}

#else

#include <security/pam_appl.h>

bool session_pam_available(void) {
        return true;
}

static void report_value(int fd, uint32_t kind, int32_t value) {
        struct session_pam_report rep = { .kind = kind, .value = value };

        report_send(fd, &rep);
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

/* pam_authenticate, then pam_acct_mgmt. A refused credential gets the one
 * message for every reason; an account refused after a right password is
 * named, since its owner can act on it. Returns a PAM code. */
static int check_credentials(pam_handle_t *pamh, const struct session_pam_request *req, int fd) {
        const char *user = req->user;
        char message[256];
        int rc;

        rc = pam_authenticate(pamh, PAM_DISALLOW_NULL_AUTHTOK);
        if (rc == PAM_BUF_ERR) {
                report_failed(fd, SESSION_E_INTERNAL, "out of memory", "authenticating user '%s': out of memory", user);
                return rc;
        }
        if (rc != PAM_SUCCESS) {
                report_failed(fd, SESSION_E_AUTH, SESSION_PAM_CREDENTIAL_INVALID,
                              "authentication of user '%s' failed: refused by PAM (%s)", user, pam_strerror(pamh, rc));
                return rc;
        }
        /* A PAM stack may accept names the system does not know (a remote
         * backend without NSS): nothing could run as them. */
        if (!req->user_known) {
                report_failed(fd, SESSION_E_AUTH, SESSION_PAM_CREDENTIAL_INVALID,
                              "authentication of user '%s' failed: not in the password database", user);
                return PAM_USER_UNKNOWN;
        }
        rc = pam_acct_mgmt(pamh, PAM_DISALLOW_NULL_AUTHTOK);
        if (rc == PAM_SUCCESS)
                return rc;
        if (rc == PAM_ACCT_EXPIRED)
                snprintf(message, sizeof(message), "the account of user '%s' has expired", user);
        else if (rc == PAM_NEW_AUTHTOK_REQD)
                /* The protocol has no way to change it: say where to. */
                snprintf(message, sizeof(message),
                         "the password of user '%s' has expired; change it (passwd) before opening a session", user);
        else
                snprintf(message, sizeof(message), "the account of user '%s' may not log in: %s", user,
                         pam_strerror(pamh, rc));
        report_failed(fd, rc == PAM_BUF_ERR ? SESSION_E_INTERNAL : SESSION_E_PERMISSION, message,
                      "account of user '%s' refused by PAM (%s)", user, pam_strerror(pamh, rc));
        return rc;
}

/* The order of login(1) and su(1): the user's groups, then pam_setcred (its
 * modules may add groups), then pam_open_session. *ret_cred and
 * *ret_opened say what the caller must undo. Returns a PAM code. */
static int open_session(pam_handle_t *pamh, const struct session_pam_request *req, int fd, bool *ret_cred,
                        bool *ret_opened) {
        const char *user = req->user;
        char message[256];
        int rc;

        if (req->init_groups && initgroups(user, req->gid) < 0) {
                snprintf(message, sizeof(message), "cannot set the groups of user '%s': %s", user, strerror(errno));
                report_failed(fd, SESSION_E_PERMISSION, message, "%s", message);
                return PAM_SYSTEM_ERR;
        }
        rc = pam_setcred(pamh, PAM_ESTABLISH_CRED);
        if (rc != PAM_SUCCESS) {
                snprintf(message, sizeof(message), "PAM refused to establish the credentials of user '%s': %s", user,
                         pam_strerror(pamh, rc));
                report_failed(fd, SESSION_E_PERMISSION, message, "%s", message);
                return rc;
        }
        *ret_cred = true;
        rc = pam_open_session(pamh, 0);
        if (rc != PAM_SUCCESS) {
                snprintf(message, sizeof(message), "cannot open a PAM session for user '%s': %s", user,
                         pam_strerror(pamh, rc));
                report_failed(fd, SESSION_E_PERMISSION, message, "%s", message);
                return rc;
        }
        *ret_opened = true;
        return PAM_SUCCESS;
}

/* Starts the command with PAM's environment and waits for it, so the PAM
 * session lasts exactly as long as the command. */
static void run_command(pam_handle_t *pamh, const struct session_pam_request *req, int fd) {
        char **env = pam_getenvlist(pamh);
        char message[256] = "";
        uint32_t code = SESSION_E_INTERNAL;
        int status;
        pid_t pid;

        pid = req->spawn(req->spawn_data, env, &code, message, sizeof(message));
        strv_free(env);
        if (pid < 0) {
                report_failed(fd, code, message, "%s", "");
                return;
        }
        report_value(fd, SESSION_PAM_STARTED, pid);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return;
        report_value(fd, SESSION_PAM_EXITED, status);
}

_Noreturn void session_pam_process(const struct session_pam_request *req, int fd) {
        struct conv_data d = { req->user, req->password };
        struct pam_conv pc = { conv, &d };
        pam_handle_t *pamh = NULL;
        bool cred = false, opened = false;
        int rc;

        rc = pam_start(req->service, req->user, &pc, &pamh);
        if (rc != PAM_SUCCESS) {
                report_failed(fd, rc == PAM_BUF_ERR ? SESSION_E_INTERNAL : SESSION_E_AUTH,
                              rc == PAM_BUF_ERR ? "out of memory" : SESSION_PAM_CREDENTIAL_INVALID,
                              "authentication of user '%s' failed: pam_start(%s): %s", req->user, req->service,
                              pam_strerror(pamh, rc));
                _exit(1);
        }
        rc = check_credentials(pamh, req, fd);
        if (rc == PAM_SUCCESS) {
                report_value(fd, SESSION_PAM_AUTHENTICATED, 0);
                rc = open_session(pamh, req, fd, &cred, &opened);
        }
        if (rc == PAM_SUCCESS)
                run_command(pamh, req, fd);
        if (opened)
                pam_close_session(pamh, 0);
        if (cred)
                pam_setcred(pamh, PAM_DELETE_CRED);
        pam_end(pamh, rc);
        /* _exit: this is a copy of the daemon, whose atexit handlers and
         * buffers are not this process's to run or flush. */
        _exit(rc == PAM_SUCCESS ? 0 : 1);
}

#endif
