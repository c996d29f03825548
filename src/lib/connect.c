/* SPDX-License-Identifier: MIT */
/* hvsock_connect: from a Hyper-V address to a plain connected stream fd. */
#include <errno.h>
#include <stdint.h>

#include <hvsock/hvsock.h>

#include "ctx.h"
#include "macro.h"
#include "registry.h"
#include "resolve.h"
#include "transport.h"

static int connect_endpoint(const struct hvsock_ctx *ctx, const struct hvsock_endpoint *e,
                            uint32_t port, int timeout_ms) {
        switch (e->transport) {
        case HVSOCK_TRANSPORT_VSOCK:
                return hvsock__vsock_connect(e->cid, port, timeout_ms);
        case HVSOCK_TRANSPORT_HYBRID:
                return hvsock__hybrid_connect(e->uds, port, timeout_ms, NULL);
        case HVSOCK_TRANSPORT_LOCAL:
                return hvsock__local_connect(ctx->runtime_dir, port, timeout_ms);
        default:
                return -HVSOCK_E_NO_TRANSPORT;
        }
}

HVSOCK_EXPORT int hvsock_connect(struct hvsock_ctx *ctx, const struct hvsock_addr *addr,
                                 uint32_t timeout_ms) {
        _cleanup_registry_free_ struct hvsock_registry *reg = NULL;
        struct hvsock_ctx *tmp = NULL, *c;
        struct hvsock_endpoint e;
        uint32_t port;
        int r;

        if (!addr || timeout_ms > HVSOCK_CONNECT_TIMEOUT_MAX)
                return -EINVAL;
        if (timeout_ms == 0)
                timeout_ms = HVSOCK_CONNECT_TIMEOUT_DEFAULT;
        r = hvsock__ctx_get(ctx, &tmp, &c);
        if (r < 0)
                return r;
        /* Loaded on every call so that a registry change applies at once. */
        r = hvsock__resolve_load_registry(c, &reg);
        if (r < 0)
                goto out;
        r = hvsock__resolve_connect(c, reg, &addr->vm_id, &e);
        if (r < 0)
                goto out;
        r = hvsock__service_port(reg, &addr->service_id, &port);
        if (r < 0)
                goto out;
        r = connect_endpoint(c, &e, port, (int) timeout_ms);
out:
        hvsock_ctx_free(tmp);
        return r;
}
