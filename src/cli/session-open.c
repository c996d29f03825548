/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include <hvsock/hvsock.h>

#include "session-open.h"

int cli_session_connect(const struct cli_command *cmd, const char *vm_arg, const char *credential_file,
                        struct cli_credential *cred, int connect_failure, int *ret_sock) {
        _cleanup_ctx_ struct hvsock_ctx *ctx = NULL;
        _cleanup_registry_free_ struct hvsock_registry *reg = NULL;
        struct hvsock_guid vm, service;
        struct hvsock_addr addr;
        int r, sock;

        if (credential_file) {
                r = cli_credential_load(cred, credential_file);
                if (r < 0)
                        return cli_error(r, "reading the credential file", credential_file);
        }
        r = cli_ctx(&ctx);
        if (r)
                return r;
        r = cli_resolve_vm(cmd, ctx, &reg, vm_arg, &vm);
        if (r)
                return r;
        if (hvsock_guid_equal(&vm, &HVSOCK_GUID_CHILDREN))
                return cli_usage(cmd, "invalid VM '%s': 'children' names no single VM", vm_arg);
        hvsock_guid_from_port(SESSION_PORT, &service);
        hvsock_addr_init(&addr, &vm, &service);
        sock = hvsock_connect(ctx, &addr, HVSOCK_CONNECT_TIMEOUT_DEFAULT);
        if (sock < 0) {
                cli_fail("connecting to the %s on VM '%s': %s%s", SESSION_SERVICE_NAME, vm_arg, hvsock_strerror(sock),
                         sock == -ECONNREFUSED ? " (is hvsock-sessiond running there?)" : "");
                return connect_failure;
        }
        *ret_sock = sock;
        return 0;
}

void cli_session_run_failed(const char *what, const char *vm_arg, int r, const struct session_client_result *res,
                            const struct cli_credential *cred) {
        if (cred->advice) {
                cli_fail("%s VM '%s': %s", what, vm_arg, cred->advice);
                return;
        }
        cli_fail("%s VM '%s': %s: %s", what, vm_arg, res->failed ? res->failed : "relaying",
                 r == -EPROTO ? "the daemon broke the session protocol" : hvsock_strerror(r));
}
