/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_TEST_NET_H
#define HVSOCK_TEST_NET_H

/*
 * Socket helpers shared by the transport tests (test-local, test-hybrid,
 * test-listener). Header-only so each test stays one source file. Include
 * after <cmocka.h>.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <hvsock/hvsock.h>

#include "fd-util.h"
#include "macro.h"
#include "registry.h"
#include "socket-util.h"

/* Leaves a socket file at path that nobody listens on, as a crashed
 * listener would. */
static inline void make_stale_socket(const char *path) {
        struct sockaddr_un sa;
        socklen_t len;
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        assert_int_equal(sockaddr_un_set(&sa, &len, path), 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, len), 0);
        close(fd);
}

/* The library promises blocking close-on-exec fds. */
static inline void assert_fd_blocking_cloexec(int fd) {
        int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);

        assert_true(fl >= 0 && fdfl >= 0);
        assert_int_equal(fl & O_NONBLOCK, 0);
        assert_int_not_equal(fdfl & FD_CLOEXEC, 0);
}

/* Reads until EOF into buf (at most size bytes). Returns the count or -errno. */
static inline ssize_t read_to_eof(int fd, void *buf, size_t size) {
        size_t got = 0;

        for (;;) {
                ssize_t n = read(fd, (char *) buf + got, size - got);
                if (n < 0)
                        return -errno;
                if (n == 0 || got + (size_t) n == size)
                        return (ssize_t) (got + (size_t) n);
                got += (size_t) n;
        }
}

struct test_vm {
        const char *name;
        const char *id;  /* GUID text */
        const char *uds; /* or NULL */
        uint32_t cid;
};

static int add_vm_cb(struct hvsock_registry *r, void *userdata, char **ret_error) {
        const struct test_vm *vm = userdata;
        struct hvsock_guid id;
        int k;

        k = hvsock_guid_parse(vm->id, &id);
        if (k < 0)
                return k;
        return hvsock__registry_add_vm(r, vm->name, &id, vm->cid, vm->uds);
}

/* Registers a VM in the registry of HVSOCK_CONFIG_DIR. */
static inline void register_vm(const struct test_vm *vm) {
        char *error = NULL;
        int r = hvsock__registry_update(getenv("HVSOCK_CONFIG_DIR"), add_vm_cb, (void *) vm, &error);

        if (r < 0)
                fprintf(stderr, "register_vm %s: %d %s\n", vm->name, r, error ? error : "");
        free(error);
        assert_int_equal(r, 0);
}

#endif
