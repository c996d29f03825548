/* vsock-host-echo: from inside the guest, checks hvsock-vhost's guest -> host
 * path: an echo through a registered host service and quick refusals.
 *
 *   vsock-host-echo echo PORT      connects to CID 2:PORT, sends a message,
 *                                  expects it back; prints VHOST-ECHO-OK
 *   vsock-host-echo refused PORT   expects connect() to fail fast with
 *                                  ECONNRESET; prints VHOST-REFUSED-OK <ms>
 *
 * GUEST ONLY: it connects to CID 2, which on the build machines belongs to
 * the infrastructure. It refuses to run unless /etc/hvsock-guest exists
 * (scripts/guest/build-initramfs puts it in the guest initramfs only). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

static long ms_now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int open_connect(unsigned port, int *ret_errno)
{
        struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = 2, .svm_port = port };
        struct timeval tv = { .tv_sec = 10 };
        int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0) {
                *ret_errno = errno;
                return -1;
        }
        setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                *ret_errno = errno;
                close(fd);
                return -1;
        }
        return fd;
}

int main(int argc, char **argv)
{
        static const char msg[] = "hello through hvsock-vhost";
        char buf[sizeof(msg)];
        unsigned port;
        int fd, err = 0;
        size_t got = 0;
        long t0;

        if (access("/etc/hvsock-guest", F_OK) != 0) {
                fprintf(stderr, "vsock-host-echo: not in an hvsock e2e guest; refusing to touch vsock\n");
                return 2;
        }
        if (argc != 3)
                return 2;
        port = (unsigned) strtoul(argv[2], NULL, 10);
        t0 = ms_now();
        fd = open_connect(port, &err);
        if (strcmp(argv[1], "refused") == 0) {
                if (fd >= 0) {
                        printf("VHOST-REFUSED-FAIL connected to %u\n", port);
                        return 1;
                }
                if (err != ECONNRESET) {
                        printf("VHOST-REFUSED-FAIL %u: %s\n", port, strerror(err));
                        return 1;
                }
                printf("VHOST-REFUSED-OK %ld\n", ms_now() - t0);
                return 0;
        }
        if (fd < 0) {
                printf("VHOST-ECHO-FAIL connect %u: %s\n", port, strerror(err));
                return 1;
        }
        if (write(fd, msg, sizeof(msg)) != (ssize_t) sizeof(msg)) {
                printf("VHOST-ECHO-FAIL write: %s\n", strerror(errno));
                return 1;
        }
        while (got < sizeof(buf)) {
                ssize_t k = read(fd, buf + got, sizeof(buf) - got);
                if (k <= 0) {
                        printf("VHOST-ECHO-FAIL read after %zu bytes: %s\n", got, k ? strerror(errno) : "EOF");
                        return 1;
                }
                got += (size_t) k;
        }
        if (memcmp(buf, msg, sizeof(msg)) != 0) {
                printf("VHOST-ECHO-FAIL data differs\n");
                return 1;
        }
        close(fd);
        printf("VHOST-ECHO-OK\n");
        return 0;
}
