/* vsock-e2e: the guest side of the e2e scenarios and of the device benchmark.
 *
 *   vsock-e2e serve PORT echo|sink|source MIB SEED|hello [--fast] [--buffer BYTES]
 *        listen on VMADDR_CID_ANY:PORT, one child per connection, forever:
 *        echo    sends back what it reads; half-closes after the peer's EOF
 *        sink    reads to EOF, answers "<hash> <bytes>\n" (stream.h)
 *        source  sends MIB MiB of stream SEED, half-closes, reads the
 *                peer's hash line and prints E2E-SOURCE-OK|FAIL
 *        hello   answers each line with "guest <hostname> (<kernel>): <line>"
 *   vsock-e2e send PORT MIB SEED [--cid N] [--fast] [--buffer BYTES]
 *        sends a stream, half-closes, checks the receiver's hash line
 *   vsock-e2e recv PORT MIB SEED [--cid N] [--fast]
 *        reads a stream to EOF, checks it, answers with its hash line
 *   vsock-e2e echo PORT [KIB]        half-close echo check (default 256 KiB)
 *   vsock-e2e many PORT N            N concurrent echo connections, distinct data
 *   vsock-e2e refused PORT           connect() must fail fast with ECONNRESET
 *   vsock-e2e say PORT TEXT          sends TEXT and a newline, half-closes, prints the answer
 *   vsock-e2e wait-host PORT SECS    retries connecting until the host listens
 *   vsock-e2e accept-many PORT N     listens with a backlog of N, accepts N connections one
 *        by one (no child each), echoes one line on each and closes it: the guest side of
 *        N simultaneous host CONNECTs (its kernel answers them all while they queue)
 * --cid defaults to 2 (the host); --fast sends one block over and over and
 * the receiver only counts bytes (for throughput: no hashing under TCG);
 * --buffer sets the sockets' receive buffer (SO_VM_SOCKETS_BUFFER_SIZE), the
 * credit the guest grants (Linux's default is 256 KiB).
 * Results are one line each, E2E-<WHAT>-OK or E2E-<WHAT>-FAIL, for the serial log.
 *
 * GUEST ONLY: it connects to CID 2 and listens on AF_VSOCK, which on the build
 * machines belong to the infrastructure. It refuses to run unless
 * /etc/hvsock-guest exists (scripts/guest/build-initramfs puts it in the guest
 * initramfs only). Built with gcc -static: the guest has no libc. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "../stream.h"

/* A hung socket must fail its scenario, not hang the guest until QEMU's timeout. */
#define DEADLINE_S 150
#define MANY_MAX 1000
#define MANY_BYTES 4096

static bool fast;
static unsigned cid = 2;
static unsigned long long buffer; /* --buffer: receive buffer of served sockets, 0 default */

/* Applies --buffer: the socket's receive buffer, which is also the credit a
 * Linux guest grants its peer (accepted sockets inherit the listener's). MAX
 * first: SIZE may not exceed it. Returns 0 or -1 (errno). */
static int set_buffer(int fd) {
        if (buffer == 0)
                return 0;
        if (setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_MAX_SIZE, &buffer, sizeof(buffer)) < 0 ||
            setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &buffer, sizeof(buffer)) < 0)
                return -1;
        return 0;
}

static int vsock_connect(unsigned port) {
        struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
        struct timeval tv = { .tv_sec = 10 };
        int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return -1;
        setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD, &tv, sizeof(tv));
        if (set_buffer(fd) < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int e = errno;
                close(fd);
                errno = e;
                return -1;
        }
        return fd;
}

/* ---- servers (children, one per connection) ---- */

static int serve_echo(int fd) {
        static char buf[STREAM_BLOCK];

        for (;;) {
                ssize_t r = read(fd, buf, sizeof(buf));

                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return 1;
                if (r == 0)
                        break;
                if (stream_write_all(fd, buf, (size_t) r) < 0)
                        return 1;
        }
        /* The peer half-closed and still reads: everything it sent is back. */
        shutdown(fd, SHUT_WR);
        return 0;
}

static int serve_sink(int fd) {
        uint64_t hash, len;

        if (stream_recv(fd, fast, &hash, &len) < 0 || stream_reply(fd, hash, len) < 0) {
                printf("E2E-SINK-FAIL %s\n", strerror(errno));
                return 1;
        }
        return 0;
}

static int serve_source(int fd, uint64_t mib, uint64_t seed) {
        char line[STREAM_LINE_MAX];
        uint64_t hash, got_hash, got_len;

        if (stream_send(fd, mib, seed, fast, &hash) < 0) {
                printf("E2E-SOURCE-FAIL send: %s\n", strerror(errno));
                return 1;
        }
        /* Half-closed towards the peer: it sees EOF and still has to answer. */
        if (shutdown(fd, SHUT_WR) < 0 || stream_read_line(fd, line, sizeof(line)) < 0 ||
            stream_parse_reply(line, &got_hash, &got_len) < 0) {
                printf("E2E-SOURCE-FAIL no hash line after the half-close\n");
                return 1;
        }
        if (got_len != mib << 20 || got_hash != hash) {
                printf("E2E-SOURCE-FAIL peer got %" PRIu64 " bytes, hash %016" PRIx64 ", expected %016" PRIx64 "\n",
                       got_len, got_hash, hash);
                return 1;
        }
        printf("E2E-SOURCE-OK %" PRIu64 " MiB, hash %016" PRIx64 "\n", mib, hash);
        return 0;
}

static int serve_hello(int fd) {
        char line[256], host[65] = "?", out[512];
        struct utsname u;

        if (uname(&u) == 0)
                snprintf(host, sizeof(host), "%s", u.nodename);
        while (stream_read_line(fd, line, sizeof(line)) == 0) {
                int n = snprintf(out, sizeof(out), "guest %s (Linux %s): you said '%s'\n", host,
                                 uname(&u) == 0 ? u.release : "?", line);
                if (stream_write_all(fd, out, (size_t) n) < 0)
                        return 1;
        }
        shutdown(fd, SHUT_WR);
        return 0;
}

static int cmd_serve(unsigned port, const char *mode, uint64_t mib, uint64_t seed) {
        struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port };
        int lfd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (lfd >= 0 && set_buffer(lfd) < 0) {
                printf("E2E-SERVE-FAIL --buffer %llu: %s\n", buffer, strerror(errno));
                return 1;
        }
        if (lfd < 0 || bind(lfd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(lfd, 256) < 0) {
                printf("E2E-SERVE-FAIL port %u: %s\n", port, strerror(errno));
                return 1;
        }
        signal(SIGCHLD, SIG_IGN); /* children are reaped by the kernel */
        printf("E2E-SERVE %s on port %u\n", mode, port);
        for (;;) {
                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                pid_t pid;

                if (fd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        printf("E2E-SERVE-FAIL accept: %s\n", strerror(errno));
                        return 1;
                }
                pid = fork();
                if (pid == 0) {
                        int r = 1;

                        close(lfd);
                        alarm(DEADLINE_S);
                        if (strcmp(mode, "echo") == 0)
                                r = serve_echo(fd);
                        else if (strcmp(mode, "sink") == 0)
                                r = serve_sink(fd);
                        else if (strcmp(mode, "source") == 0)
                                r = serve_source(fd, mib, seed);
                        else if (strcmp(mode, "hello") == 0)
                                r = serve_hello(fd);
                        close(fd);
                        _exit(r);
                }
                close(fd);
        }
}

/* Accepts n connections in turn, echoes one line on each, closes it. A
 * client that sends no line within 10 s is skipped (and the result fails). */
static int cmd_accept_many(unsigned port, unsigned n) {
        struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port };
        struct timeval tv = { .tv_sec = 10 };
        int lfd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
        unsigned ok = 0;

        /* Every CONNECT the host sends at once is answered by the kernel as
         * long as it fits the backlog, before this process accepts it. */
        if (lfd < 0 || bind(lfd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(lfd, (int) n) < 0) {
                printf("E2E-ACCEPT-MANY-FAIL port %u: %s\n", port, strerror(errno));
                return 1;
        }
        printf("E2E-SERVE accept-many on port %u\n", port);
        for (unsigned i = 0; i < n; i++) {
                char line[64];
                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

                if (fd < 0) {
                        printf("E2E-ACCEPT-MANY-FAIL accept #%u: %s\n", i, strerror(errno));
                        return 1;
                }
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
                if (stream_read_line(fd, line, sizeof(line)) == 0 && stream_write_all(fd, line, strlen(line)) == 0 &&
                    stream_write_all(fd, "\n", 1) == 0)
                        ok++;
                close(fd);
        }
        close(lfd);
        if (ok != n) {
                printf("E2E-ACCEPT-MANY-FAIL %u of %u connections echoed their line\n", ok, n);
                return 1;
        }
        printf("E2E-ACCEPT-MANY-OK %u connections to port %u accepted and echoed\n", n, port);
        return 0;
}

/* ---- clients ---- */

static int cmd_send(unsigned port, uint64_t mib, uint64_t seed) {
        char line[STREAM_LINE_MAX];
        uint64_t hash, got_hash, got_len;
        double t0 = stream_now_s(), secs;
        int fd = vsock_connect(port);

        if (fd < 0) {
                printf("E2E-SEND-FAIL connect %u:%u: %s\n", cid, port, strerror(errno));
                return 1;
        }
        if (stream_send(fd, mib, seed, fast, &hash) < 0) {
                printf("E2E-SEND-FAIL write: %s\n", strerror(errno));
                return 1;
        }
        /* Half-close, then the receiver still answers. */
        if (shutdown(fd, SHUT_WR) < 0 || stream_read_line(fd, line, sizeof(line)) < 0 ||
            stream_parse_reply(line, &got_hash, &got_len) < 0) {
                printf("E2E-SEND-FAIL no hash line after the half-close: %s\n", strerror(errno));
                return 1;
        }
        secs = stream_now_s() - t0;
        close(fd);
        if (got_len != mib << 20 || got_hash != hash) {
                printf("E2E-SEND-FAIL receiver got %" PRIu64 " bytes, hash %016" PRIx64 ", sent %" PRIu64
                       " bytes, hash %016" PRIx64 "\n", got_len, got_hash, mib << 20, hash);
                return 1;
        }
        printf("E2E-SEND-OK cid %u port %u: %" PRIu64 " MiB, hash %016" PRIx64 ", %.1f MB/s\n", cid, port, mib,
               hash, (double) (mib << 20) / secs / 1e6);
        return 0;
}

static int cmd_recv(unsigned port, uint64_t mib, uint64_t seed) {
        uint64_t hash, len, want = fast ? 0 : stream_expected(mib, seed);
        double t0 = stream_now_s(), secs;
        int fd = vsock_connect(port);

        if (fd < 0) {
                printf("E2E-RECV-FAIL connect %u:%u: %s\n", cid, port, strerror(errno));
                return 1;
        }
        if (stream_recv(fd, fast, &hash, &len) < 0) {
                printf("E2E-RECV-FAIL read: %s\n", strerror(errno));
                return 1;
        }
        secs = stream_now_s() - t0;
        /* The sender half-closed; our answer must still reach it. */
        if (stream_reply(fd, hash, len) < 0) {
                printf("E2E-RECV-FAIL answering after the peer's half-close: %s\n", strerror(errno));
                return 1;
        }
        close(fd);
        if (len != mib << 20 || hash != want) {
                printf("E2E-RECV-FAIL got %" PRIu64 " bytes, hash %016" PRIx64 ", expected %" PRIu64
                       " bytes, hash %016" PRIx64 "\n", len, hash, mib << 20, want);
                return 1;
        }
        printf("E2E-RECV-OK cid %u port %u: %" PRIu64 " MiB, hash %016" PRIx64 ", %.1f MB/s\n", cid, port, mib,
               hash, (double) len / secs / 1e6);
        return 0;
}

static void pattern(uint8_t *buf, size_t n, unsigned id) {
        struct stream_gen g;
        uint64_t w[MANY_BYTES / 8];

        stream_gen_init(&g, 1000 + id);
        stream_gen_fill(&g, w, n / 8);
        memcpy(buf, w, n);
}

/* Sends n bytes of pattern id, half-closes, expects the same bytes, then EOF. */
static int echo_check(int fd, size_t n, unsigned id, const char **ret_why) {
        static uint8_t want[1 << 20], got[1 << 20];
        ssize_t r;
        char extra;

        for (size_t off = 0; off < n; off += MANY_BYTES)
                pattern(want + off, n - off < MANY_BYTES ? n - off : MANY_BYTES, id + (unsigned) off);
        if (stream_write_all(fd, want, n) < 0 || shutdown(fd, SHUT_WR) < 0) {
                *ret_why = "write";
                return -1;
        }
        r = stream_read_full(fd, got, n);
        if (r != (ssize_t) n || memcmp(got, want, n) != 0) {
                *ret_why = r < 0 ? "read" : r != (ssize_t) n ? "short echo" : "echo differs";
                return -1;
        }
        if (read(fd, &extra, 1) != 0) {
                *ret_why = "no EOF after the echo";
                return -1;
        }
        return 0;
}

static int cmd_echo(unsigned port, size_t kib) {
        const char *why = NULL;
        int fd = vsock_connect(port);

        if (kib == 0 || kib > 1024) {
                printf("E2E-ECHO-FAIL KIB must be 1..1024\n");
                return 1;
        }
        if (fd < 0) {
                printf("E2E-ECHO-FAIL connect %u:%u: %s\n", cid, port, strerror(errno));
                return 1;
        }
        if (echo_check(fd, kib * 1024, 1, &why) < 0) {
                printf("E2E-ECHO-FAIL port %u: %s\n", port, why);
                return 1;
        }
        close(fd);
        printf("E2E-ECHO-OK port %u: %zu KiB back after a half-close\n", port, kib);
        return 0;
}

static int cmd_many(unsigned port, unsigned n) {
        static int fds[MANY_MAX];
        static uint8_t want[MANY_BYTES], got[MANY_BYTES];
        unsigned ok = 0;

        if (n == 0 || n > MANY_MAX) {
                printf("E2E-MANY-FAIL N must be 1..%d\n", MANY_MAX);
                return 1;
        }
        /* Every connection is open before any data moves: they are concurrent
         * in the device's connection table, not one after another. */
        for (unsigned i = 0; i < n; i++) {
                fds[i] = vsock_connect(port);
                if (fds[i] < 0) {
                        printf("E2E-MANY-FAIL connect #%u: %s\n", i, strerror(errno));
                        return 1;
                }
        }
        for (unsigned i = 0; i < n; i++) {
                pattern(want, sizeof(want), i);
                if (stream_write_all(fds[i], want, sizeof(want)) < 0 || shutdown(fds[i], SHUT_WR) < 0) {
                        printf("E2E-MANY-FAIL write #%u: %s\n", i, strerror(errno));
                        return 1;
                }
        }
        for (unsigned i = 0; i < n; i++) {
                ssize_t r = stream_read_full(fds[i], got, sizeof(got));

                pattern(want, sizeof(want), i);
                if (r == (ssize_t) sizeof(got) && memcmp(got, want, sizeof(got)) == 0)
                        ok++;
                else
                        printf("E2E-MANY-FAIL connection #%u: %zd bytes back%s\n", i, r,
                               r == (ssize_t) sizeof(got) ? ", data differs" : "");
                close(fds[i]);
        }
        if (ok != n)
                return 1;
        printf("E2E-MANY-OK %u concurrent connections to port %u, %d distinct bytes each echoed\n", n, port,
               MANY_BYTES);
        return 0;
}

static int cmd_refused(unsigned port) {
        double t0 = stream_now_s();
        int fd = vsock_connect(port);

        if (fd >= 0) {
                printf("E2E-REFUSED-FAIL connected to %u\n", port);
                return 1;
        }
        if (errno != ECONNRESET) {
                printf("E2E-REFUSED-FAIL %u: %s\n", port, strerror(errno));
                return 1;
        }
        printf("E2E-REFUSED-OK port %u in %.0f ms\n", port, (stream_now_s() - t0) * 1000);
        return 0;
}

static int cmd_say(unsigned port, const char *text) {
        char line[512];
        int fd = vsock_connect(port);

        if (fd < 0) {
                printf("E2E-SAY-FAIL connect %u:%u: %s\n", cid, port, strerror(errno));
                return 1;
        }
        if (stream_write_all(fd, text, strlen(text)) < 0 || stream_write_all(fd, "\n", 1) < 0 || shutdown(fd, SHUT_WR) < 0) {
                printf("E2E-SAY-FAIL write: %s\n", strerror(errno));
                return 1;
        }
        while (stream_read_line(fd, line, sizeof(line)) == 0)
                printf("E2E-SAY-REPLY %s\n", line);
        close(fd);
        return 0;
}

static int cmd_wait_host(unsigned port, unsigned secs) {
        double end = stream_now_s() + secs;

        for (;;) {
                int fd = vsock_connect(port);

                if (fd >= 0) {
                        close(fd);
                        printf("E2E-WAIT-HOST-OK port %u\n", port);
                        return 0;
                }
                if (stream_now_s() > end) {
                        printf("E2E-WAIT-HOST-FAIL port %u: %s after %u s\n", port, strerror(errno), secs);
                        return 1;
                }
                usleep(200 * 1000);
        }
}

static unsigned long long num(const char *s, const char *what) {
        char *end;
        unsigned long long v;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || !*s || *end) {
                fprintf(stderr, "vsock-e2e: bad %s '%s'\n", what, s);
                exit(2);
        }
        return v;
}

int main(int argc, char **argv) {
        char *args[8];
        int nargs = 0;
        unsigned port;

        setvbuf(stdout, NULL, _IOLBF, 0);
        if (access("/etc/hvsock-guest", F_OK) != 0) {
                fprintf(stderr, "vsock-e2e: /etc/hvsock-guest missing: this runs only inside an hvsock "
                                "e2e guest, never on the build machine\n");
                return 2;
        }
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--fast") == 0)
                        fast = true;
                else if (strcmp(argv[i], "--cid") == 0 && i + 1 < argc)
                        cid = (unsigned) num(argv[++i], "CID");
                else if (strcmp(argv[i], "--buffer") == 0 && i + 1 < argc)
                        buffer = num(argv[++i], "buffer size");
                else if (nargs < 8)
                        args[nargs++] = argv[i];
        }
        if (nargs < 2) {
                fprintf(stderr, "usage: vsock-e2e serve|send|recv|echo|many|refused|say|wait-host|accept-many PORT ...\n");
                return 2;
        }
        port = (unsigned) num(args[1], "port");
        if (strcmp(args[0], "serve") == 0 && nargs == 3)
                return cmd_serve(port, args[2], 0, 0);
        if (strcmp(args[0], "serve") == 0 && nargs == 5)
                return cmd_serve(port, args[2], num(args[3], "MiB"), num(args[4], "seed"));
        if (strcmp(args[0], "accept-many") == 0 && nargs == 3)
                return cmd_accept_many(port, (unsigned) num(args[2], "count"));
        alarm(DEADLINE_S);
        if (strcmp(args[0], "send") == 0 && nargs == 4)
                return cmd_send(port, num(args[2], "MiB"), num(args[3], "seed"));
        if (strcmp(args[0], "recv") == 0 && nargs == 4)
                return cmd_recv(port, num(args[2], "MiB"), num(args[3], "seed"));
        if (strcmp(args[0], "echo") == 0 && nargs <= 3)
                return cmd_echo(port, nargs == 3 ? num(args[2], "KiB") : 256);
        if (strcmp(args[0], "many") == 0 && nargs == 3)
                return cmd_many(port, (unsigned) num(args[2], "count"));
        if (strcmp(args[0], "refused") == 0 && nargs == 2)
                return cmd_refused(port);
        if (strcmp(args[0], "say") == 0 && nargs == 3)
                return cmd_say(port, args[2]);
        if (strcmp(args[0], "wait-host") == 0 && nargs == 3)
                return cmd_wait_host(port, (unsigned) num(args[2], "seconds"));
        fprintf(stderr, "vsock-e2e: bad arguments for '%s'\n", args[0]);
        return 2;
}
