/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_LIB_RESOLVE_H
#define HVSOCK_LIB_RESOLVE_H

/* From GUIDs to transport endpoints, by the rules in DESIGN.md. */

#include <stdint.h>

#include <hvsock/hvsock.h>

#include "registry.h"

/* Maps a service ID to its vsock port: a VSOCK-template GUID carries it,
 * any other needs a registry entry. -HVSOCK_E_NO_PORT otherwise. */
int hvsock__service_port(const struct hvsock_registry *r, const struct hvsock_guid *service,
                         uint32_t *ret);

struct hvsock_endpoint {
        uint32_t transport; /* one HVSOCK_TRANSPORT_* bit */
        uint32_t cid;       /* VSOCK */
        const char *uds;    /* HYBRID, owned by the registry */
};

/* Picks how to reach vm_id for a connect, honouring the enabled transports.
 * Errors: -HVSOCK_E_UNKNOWN_VM, -HVSOCK_E_BROADCAST, -HVSOCK_E_NO_TRANSPORT,
 * -EINVAL (CHILDREN is only meaningful for bind). */
int hvsock__resolve_connect(const struct hvsock_ctx *ctx, const struct hvsock_registry *r,
                            const struct hvsock_guid *vm_id, struct hvsock_endpoint *ret);

/* The well-known vsock CIDs (linux/vm_sockets.h). */
#define HVSOCK_CID_LOCAL 1u
#define HVSOCK_CID_HOST 2u

/* The VM ID to report for a peer seen on kernel vsock at cid: 2 is PARENT,
 * 1 LOOPBACK, a registered VM its Id, anything else ZERO. r may be NULL. */
void hvsock__vm_id_for_cid(const struct hvsock_registry *r, uint32_t cid, struct hvsock_guid *ret);

/* Loads the registry of ctx's config dir; a load error is returned as is,
 * and the parser's message kept for hvsock_strerror() (error.h). */
int hvsock__resolve_load_registry(const struct hvsock_ctx *ctx, struct hvsock_registry **ret);

#endif
