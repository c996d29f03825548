/* SPDX-License-Identifier: MIT */
/* libhvsock's kernel vsock sockets. Machine safety: the build machine's
 * vsock host is not ours, so this only creates a socket and reads its
 * options back; nothing connects, binds or listens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include <cmocka.h>

#include <linux/vm_sockets.h>

#include "fd-util.h"
#include "macro.h"
#include "transport.h"
#include "test-util.h"

static uint64_t get_u64(int fd, int opt) {
        uint64_t v = 0;
        socklen_t len = sizeof(v);

        assert_int_equal(getsockopt(fd, AF_VSOCK, opt, &v, &len), 0);
        assert_int_equal(len, sizeof(v));
        return v;
}

/* The receive buffer, which is the credit a Linux guest grants its peer,
 * is raised for every socket libhvsock makes. */
static void test_buffer_size(void **state) {
        _cleanup_close_ int fd = hvsock__vsock_socket();

        (void) state;
        assert_true(fd >= 0);
        assert_int_equal(get_u64(fd, SO_VM_SOCKETS_BUFFER_MAX_SIZE), HVSOCK_VSOCK_BUFFER_SIZE);
        assert_int_equal(get_u64(fd, SO_VM_SOCKETS_BUFFER_SIZE), HVSOCK_VSOCK_BUFFER_SIZE);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_buffer_size),
        };

        if (!hvsock__vsock_available()) {
                printf("SKIP: this kernel has no AF_VSOCK\n");
                return 77;
        }
        return cmocka_run_group_tests(tests, NULL, NULL);
}
