/* SPDX-License-Identifier: MIT */
/*
 * Kernel AF_VSOCK: KVM/QEMU vhost-vsock hosts, virtio guests and Linux guests
 * on Hyper-V. The build machines' own vsock host belongs to the
 * infrastructure, so nothing here runs in the test suites beyond creating a
 * socket to see whether the family exists.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "fd-util.h"
#include "macro.h"
#include "socket-util.h"
#include "transport.h"

int hvsock__vsock_socket(void) {
        uint64_t size = HVSOCK_VSOCK_BUFFER_SIZE;
        int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

        if (fd < 0)
                return negative_errno();
        /* Best effort: MAX first, as SIZE may not exceed it; a transport
         * that has no use for it (Hyper-V's) loses nothing. */
        (void) setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_MAX_SIZE, &size, sizeof(size));
        (void) setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &size, sizeof(size));
        return fd;
}

static void vsock_addr(struct sockaddr_vm *ret, uint32_t cid, uint32_t port) {
        *ret = (struct sockaddr_vm) {
                .svm_family = AF_VSOCK,
                .svm_cid = cid,
                .svm_port = port,
        };
}

/* The kernel gives up on a vsock connect after its own timeout (2 s by
 * default), even a non-blocking one; raise it to ours so the caller's timeout
 * is the one that counts. */
static int vsock_set_connect_timeout(int fd, int timeout_ms) {
        struct timeval tv = {
                .tv_sec = timeout_ms / 1000,
                .tv_usec = (timeout_ms % 1000) * 1000,
        };

        if (setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv, sizeof(tv)) < 0)
                return negative_errno();
        return 0;
}

int hvsock__vsock_connect(uint32_t cid, uint32_t port, int timeout_ms) {
        _cleanup_close_ int fd = -1;
        struct sockaddr_vm sa;
        int r;

        fd = hvsock__vsock_socket();
        if (fd < 0)
                return fd;
        r = vsock_set_connect_timeout(fd, timeout_ms);
        if (r < 0)
                return r;
        vsock_addr(&sa, cid, port);
        r = connect_wait(fd, (const struct sockaddr *) &sa, sizeof(sa), timeout_ms);
        if (r < 0)
                return r;
        r = fd_set_nonblock(fd, false);
        if (r < 0)
                return r;
        return TAKE_FD(fd);
}

int hvsock__vsock_listen(uint32_t port, int backlog) {
        _cleanup_close_ int fd = -1;
        struct sockaddr_vm sa;

        /* Accepted sockets inherit the listener's buffer size. */
        fd = hvsock__vsock_socket();
        if (fd < 0)
                return fd;
        vsock_addr(&sa, VMADDR_CID_ANY, port);
        if (bind(fd, (const struct sockaddr *) &sa, sizeof(sa)) < 0)
                return negative_errno();
        if (listen(fd, backlog) < 0)
                return negative_errno();
        return TAKE_FD(fd);
}

int hvsock__vsock_accept(int listen_fd, uint32_t *ret_cid, uint32_t *ret_port) {
        struct sockaddr_vm sa;
        socklen_t len;
        int fd;

        do {
                len = sizeof(sa);
                fd = accept4(listen_fd, (struct sockaddr *) &sa, &len, SOCK_CLOEXEC);
        } while (fd < 0 && errno == EINTR);
        if (fd < 0)
                return errno == EWOULDBLOCK ? -EAGAIN : negative_errno();
        if (len < sizeof(sa) || sa.svm_family != AF_VSOCK) {
                safe_close(fd);
                return -EPROTO;
        }
        *ret_cid = sa.svm_cid;
        *ret_port = sa.svm_port;
        return fd;
}

bool hvsock__vsock_available(void) {
        int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return false;
        safe_close(fd);
        return true;
}

bool hvsock__vsock_has_loopback(void) {
        /* Probing CID 1 by connecting could reach somebody's real service;
         * the module's presence answers the question without traffic. */
        return access("/sys/module/vsock_loopback", F_OK) == 0;
}
