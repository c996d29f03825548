/* SPDX-License-Identifier: MIT */
#include <limits.h>
#include <string.h>

#include <hvsock/hvsock.h>

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

HVSOCK_EXPORT const char *hvsock_strerror(int err) {
        /* INT_MIN has no positive counterpart. */
        int e = err == INT_MIN ? 0 : err < 0 ? -err : err;

        if (e > HVSOCK_E_BASE && e < HVSOCK_E_MAX)
                return messages[e - HVSOCK_E_BASE];
        if (err == INT_MIN)
                return "unknown error";
        if (e == 0)
                return "success";
        /* strerror() is thread-safe in glibc for known values. */
        return strerror(e);
}
