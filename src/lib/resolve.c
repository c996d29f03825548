/* SPDX-License-Identifier: MIT */
/* From GUIDs to transport endpoints: the addressing rules of DESIGN.md. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <hvsock/hvsock.h>

#include "ctx.h"
#include "error.h"
#include "macro.h"
#include "registry.h"
#include "resolve.h"
#include "transport.h"

int hvsock__service_port(const struct hvsock_registry *r, const struct hvsock_guid *service,
                         uint32_t *ret) {
        const struct hvsock_service *s;

        if (hvsock_guid_is_vsock_template(service))
                return hvsock_guid_to_port(service, ret);
        s = r ? hvsock__registry_find_service(r, service) : NULL;
        if (!s)
                return -HVSOCK_E_NO_PORT;
        *ret = s->port;
        return 0;
}

static bool is_host(const struct hvsock_guid *vm_id) {
        /* ZERO when connecting is the host, as in a Hyper-V guest. */
        return hvsock_guid_equal(vm_id, &HVSOCK_GUID_PARENT) ||
               hvsock_guid_equal(vm_id, &HVSOCK_GUID_SILOHOST) || hvsock_guid_is_zero(vm_id);
}

/* The endpoint by the rules alone, before the enabled transports count. */
static int pick_endpoint(const struct hvsock_ctx *ctx, const struct hvsock_registry *r,
                         const struct hvsock_guid *vm_id, struct hvsock_endpoint *ret) {
        const struct hvsock_vm *vm;

        if (hvsock_guid_equal(vm_id, &HVSOCK_GUID_BROADCAST))
                return -HVSOCK_E_BROADCAST;
        if (hvsock_guid_equal(vm_id, &HVSOCK_GUID_CHILDREN))
                return -EINVAL;
        if (is_host(vm_id)) {
                *ret = (struct hvsock_endpoint) { .transport = HVSOCK_TRANSPORT_VSOCK, .cid = HVSOCK_CID_HOST };
                return 0;
        }
        if (hvsock_guid_equal(vm_id, &HVSOCK_GUID_LOOPBACK)) {
                if ((ctx->transports & HVSOCK_TRANSPORT_VSOCK) && hvsock__vsock_has_loopback())
                        *ret = (struct hvsock_endpoint) { .transport = HVSOCK_TRANSPORT_VSOCK,
                                                          .cid = HVSOCK_CID_LOCAL };
                else
                        *ret = (struct hvsock_endpoint) { .transport = HVSOCK_TRANSPORT_LOCAL };
                return 0;
        }
        vm = r ? hvsock__registry_find_vm(r, vm_id) : NULL;
        if (!vm)
                return -HVSOCK_E_UNKNOWN_VM;
        if (vm->uds)
                *ret = (struct hvsock_endpoint) { .transport = HVSOCK_TRANSPORT_HYBRID, .uds = vm->uds };
        else
                *ret = (struct hvsock_endpoint) { .transport = HVSOCK_TRANSPORT_VSOCK, .cid = vm->cid };
        return 0;
}

int hvsock__resolve_connect(const struct hvsock_ctx *ctx, const struct hvsock_registry *r,
                            const struct hvsock_guid *vm_id, struct hvsock_endpoint *ret) {
        struct hvsock_endpoint e;
        int k;

        k = pick_endpoint(ctx, r, vm_id, &e);
        if (k < 0)
                return k;
        if (!(ctx->transports & e.transport))
                return -HVSOCK_E_NO_TRANSPORT;
        *ret = e;
        return 0;
}

void hvsock__vm_id_for_cid(const struct hvsock_registry *r, uint32_t cid, struct hvsock_guid *ret) {
        const struct hvsock_vm *vm;

        if (cid == HVSOCK_CID_HOST) {
                *ret = HVSOCK_GUID_PARENT;
                return;
        }
        if (cid == HVSOCK_CID_LOCAL) {
                *ret = HVSOCK_GUID_LOOPBACK;
                return;
        }
        vm = r ? hvsock__registry_find_vm_by_cid(r, cid) : NULL;
        *ret = vm ? vm->id : HVSOCK_GUID_ZERO;
}

int hvsock__resolve_load_registry(const struct hvsock_ctx *ctx, struct hvsock_registry **ret) {
        _cleanup_free_ char *error = NULL;
        int r = hvsock__registry_load(ctx->config_dir, ret, &error);

        hvsock__error_set_registry(r == -HVSOCK_E_REGISTRY ? error : NULL);
        return r;
}
