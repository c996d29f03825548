/* SPDX-License-Identifier: MIT */
#include <stddef.h>

#include <hvsock/hvsock.h>

#include "macro.h"

/* The layout promise of hvsock.h: SOCKADDR_HV is 36 bytes, VmId at 4, ServiceId at 20. */
_Static_assert(sizeof(struct hvsock_guid) == 16, "GUID is 16 bytes");
_Static_assert(sizeof(struct hvsock_addr) == 36, "SOCKADDR_HV is 36 bytes");
_Static_assert(offsetof(struct hvsock_addr, family) == 0, "Family at 0");
_Static_assert(offsetof(struct hvsock_addr, reserved) == 2, "Reserved at 2");
_Static_assert(offsetof(struct hvsock_addr, vm_id) == 4, "VmId at 4");
_Static_assert(offsetof(struct hvsock_addr, service_id) == 20, "ServiceId at 20");

HVSOCK_EXPORT void hvsock_addr_init(struct hvsock_addr *ret, const struct hvsock_guid *vm_id,
                                    const struct hvsock_guid *service_id) {
        ret->family = HVSOCK_AF_HYPERV;
        ret->reserved = 0;
        ret->vm_id = *vm_id;
        ret->service_id = *service_id;
}
