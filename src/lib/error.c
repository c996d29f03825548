/* SPDX-License-Identifier: MIT */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <hvsock/hvsock.h>

#include "error.h"
#include "macro.h"

static const char *const messages[] = {
        [HVSOCK_E_NO_PORT - HVSOCK_E_BASE] = "service ID maps to no vsock port (not a VSOCK-template GUID and not registered)",
        [HVSOCK_E_UNKNOWN_VM - HVSOCK_E_BASE] = "VM ID is neither well known nor registered",
        [HVSOCK_E_UNKNOWN_SERVICE - HVSOCK_E_BASE] = "no such service in the registry",
        [HVSOCK_E_NO_TRANSPORT - HVSOCK_E_BASE] = "no enabled transport reaches that address",
        [HVSOCK_E_BROADCAST - HVSOCK_E_BASE] = "the broadcast VM ID is not supported for stream sockets",
        [HVSOCK_E_REGISTRY - HVSOCK_E_BASE] = "malformed registry",
        [HVSOCK_E_PROTOCOL - HVSOCK_E_BASE] = "unexpected reply from the hybrid vsock muxer",
        [HVSOCK_E_LOCKED - HVSOCK_E_BASE] = "the registry is locked by another process",
};

/* "malformed registry: FILE:LINE: what is wrong", from this thread's last
 * failed load; empty when it has none. A fixed buffer: nothing to free when
 * the thread ends, and a path too long for it is cut, never overrun. */
static _Thread_local char registry_error[1024];

void hvsock__error_set_registry(const char *message) {
        if (message)
                snprintf(registry_error, sizeof(registry_error), "%s: %s",
                         messages[HVSOCK_E_REGISTRY - HVSOCK_E_BASE], message);
        else
                registry_error[0] = '\0';
}

HVSOCK_EXPORT const char *hvsock_strerror(int err) {
        /* INT_MIN has no positive counterpart. */
        int e = err == INT_MIN ? 0 : err < 0 ? -err : err;

        if (e == HVSOCK_E_REGISTRY && registry_error[0])
                return registry_error;
        if (e > HVSOCK_E_BASE && e < HVSOCK_E_MAX)
                return messages[e - HVSOCK_E_BASE];
        if (err == INT_MIN)
                return "unknown error";
        if (e == 0)
                return "success";
        /* strerror() is thread-safe in glibc for known values. */
        return strerror(e);
}
