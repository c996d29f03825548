/* Built against an installed libhvsock through pkg-config by test-install.sh. */
#include <stdio.h>

#include <hvsock/hvsock.h>

int main(void) {
        struct hvsock_guid g;
        struct hvsock_addr a;
        char buf[HVSOCK_GUID_STRING_MAX];

        if (hvsock_guid_from_port(2761, &g) < 0)
                return 1;
        hvsock_addr_init(&a, &HVSOCK_GUID_LOOPBACK, &g);
        printf("%s %s %zu\n", hvsock_guid_format(&a.service_id, buf),
               hvsock_strerror(-HVSOCK_E_NO_PORT), sizeof(a));
        return 0;
}
