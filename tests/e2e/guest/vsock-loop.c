/* vsock-loop: moves a known byte stream through the guest kernel's vsock
 * loopback (CID 1) and checks it arrived intact.
 *
 *   vsock-loop [MIB]     default 64; prints "VSOCK-LOOPBACK-OK <MB/s>" (MB = 10^6 bytes)
 *
 * GUEST ONLY. It listens on AF_VSOCK, which the build machines forbid (their
 * vsock belongs to the infrastructure), so it refuses to run unless
 * /etc/hvsock-guest exists: scripts/guest/build-initramfs puts it in the
 * guest's initramfs and nowhere else. Built with gcc -static (no libc there). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "../stream.h"

#ifndef VMADDR_CID_LOCAL
#define VMADDR_CID_LOCAL 1
#endif

#define PORT 1234
#define BLOCK (64 * 1024)
/* A hung socket must fail the test, not hang the guest until QEMU's timeout. */
#define DEADLINE_S 120

static int fail(const char *what)
{
        printf("VSOCK-LOOPBACK-FAIL %s: %s\n", what, strerror(errno));
        return 1;
}

/* The payload is a xorshift64 stream and the checksum an FNV-style hash over
 * 64-bit words: both cost a few instructions per 8 bytes, so under TCG the
 * measurement stays about vsock, not about byte loops. */
static uint64_t fill(uint64_t *buf, size_t words, uint64_t state)
{
        for (size_t i = 0; i < words; i++) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                buf[i] = state;
        }
        return state;
}

static uint64_t hash(const uint64_t *buf, size_t words, uint64_t h)
{
        for (size_t i = 0; i < words; i++)
                h = (h ^ buf[i]) * 0x100000001b3ULL;
        return h;
}

static struct sockaddr_vm loopback_addr(void)
{
        struct sockaddr_vm a;
        memset(&a, 0, sizeof(a));
        a.svm_family = AF_VSOCK;
        a.svm_cid = VMADDR_CID_LOCAL;
        a.svm_port = PORT;
        return a;
}

/* The child: connect, send blocks, then report its checksum through the pipe. */
static int sender(int report_fd, uint64_t blocks)
{
        static uint64_t buf[BLOCK / 8];
        struct sockaddr_vm a = loopback_addr();
        uint64_t state = 0x9e3779b97f4a7c15ULL, h = 0xcbf29ce484222325ULL;

        int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return fail("sender socket");
        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
                return fail("connect CID 1 port 1234");
        for (uint64_t i = 0; i < blocks; i++) {
                state = fill(buf, BLOCK / 8, state);
                h = hash(buf, BLOCK / 8, h);
                if (stream_write_all(fd, buf, BLOCK) < 0)
                        return fail("send");
        }
        if (shutdown(fd, SHUT_WR) < 0)
                return fail("shutdown");
        if (stream_write_all(report_fd, &h, sizeof(h)) < 0)
                return fail("report checksum");
        close(fd);
        return 0;
}

int main(int argc, char **argv)
{
        static uint64_t buf[BLOCK / 8];
        uint64_t mib = argc > 1 ? strtoull(argv[1], NULL, 10) : 64;
        uint64_t blocks = mib * (1024 * 1024 / BLOCK), total = 0;
        uint64_t h = 0xcbf29ce484222325ULL, sent_h = 0;
        struct sockaddr_vm a = loopback_addr();
        int report[2], status;

        setvbuf(stdout, NULL, _IOLBF, 0);
        if (access("/etc/hvsock-guest", F_OK) < 0) {
                fprintf(stderr, "vsock-loop: /etc/hvsock-guest missing: this runs only inside "
                                "an hvsock e2e guest, never on the build machine\n");
                return 2;
        }
        if (mib == 0 || mib > 4096) {
                fprintf(stderr, "vsock-loop: MIB must be 1..4096, got '%s'\n", argv[1]);
                return 2;
        }
        alarm(DEADLINE_S);

        /* Bind to CID 1 itself, not VMADDR_CID_ANY: only loopback peers can reach it. */
        int lfd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (lfd < 0)
                return fail("socket(AF_VSOCK)");
        if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0)
                return fail("bind CID 1 port 1234");
        if (listen(lfd, 1) < 0)
                return fail("listen");
        if (pipe2(report, O_CLOEXEC) < 0)
                return fail("pipe");

        pid_t pid = fork();
        if (pid < 0)
                return fail("fork");
        if (pid == 0) {
                close(lfd);
                close(report[0]);
                _exit(sender(report[1], blocks));
        }
        close(report[1]);

        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
                return fail("accept");
        double t0 = stream_now_s();
        for (;;) {
                /* Whole blocks keep the word hash aligned with the sender's. */
                ssize_t n = stream_read_full(fd, buf, BLOCK);
                if (n < 0)
                        return fail("recv");
                if (n == 0)
                        break;
                total += (uint64_t)n;
                if (n != BLOCK) {
                        printf("VSOCK-LOOPBACK-FAIL stream ended mid-block after %" PRIu64
                               " bytes\n", total);
                        return 1;
                }
                h = hash(buf, BLOCK / 8, h);
        }
        double secs = stream_now_s() - t0;

        ssize_t r = stream_read_full(report[0], &sent_h, sizeof(sent_h));
        if (waitpid(pid, &status, 0) < 0)
                return fail("waitpid");
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || r != (ssize_t)sizeof(sent_h)) {
                printf("VSOCK-LOOPBACK-FAIL sender failed (status 0x%x)\n", status);
                return 1;
        }
        if (total != blocks * BLOCK || h != sent_h) {
                printf("VSOCK-LOOPBACK-FAIL got %" PRIu64 " of %" PRIu64 " bytes, checksum "
                       "%016" PRIx64 " expected %016" PRIx64 "\n",
                       total, blocks * BLOCK, h, sent_h);
                return 1;
        }
        printf("vsock-loop: %" PRIu64 " MiB over CID 1 in %.3f s, checksum %016" PRIx64 "\n",
               mib, secs, h);
        printf("VSOCK-LOOPBACK-OK %.1f\n", (double)total / secs / 1e6);
        return 0;
}
