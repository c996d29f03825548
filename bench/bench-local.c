/* SPDX-License-Identifier: MIT */
/*
 * Throughput and 1-byte round-trip latency of a libhvsock local-transport
 * connection against its peers measured in the same run: a raw UNIX socket
 * connected by path (what the local transport is underneath), a socketpair
 * and TCP on 127.0.0.1. Rounds are interleaved and the median is reported so
 * background noise hits every peer alike. Prints a markdown table.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <hvsock/hvsock.h>

#include "fd-util.h"
#include "macro.h"
#include "socket-util.h"
#include "unix-listener.h"

#define MAX_ROUNDS 32

enum peer { PEER_HVSOCK, PEER_UNIX, PEER_SOCKETPAIR, PEER_TCP, N_PEERS };

static const char *const peer_names[N_PEERS] = {
        [PEER_HVSOCK] = "libhvsock local transport",
        [PEER_UNIX] = "raw UNIX socket (by path)",
        [PEER_SOCKETPAIR] = "raw socketpair",
        [PEER_TCP] = "TCP 127.0.0.1",
};

static struct {
        uint64_t size;
        size_t chunk;
        unsigned rounds;
        unsigned pings;
        char dir[128];
} opt = {
        .size = UINT64_C(1) << 30,
        .chunk = 128 * 1024,
        .rounds = 5,
        .pings = 100000,
};

static double now_s(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static _Noreturn void die(const char *what, int err) {
        fprintf(stderr, "bench-local: %s: %s\n", what, hvsock_strerror(err));
        exit(1);
}

/* Connected pair (client, server) over the local transport. */
static void pair_hvsock(int fds[2]) {
        static uint32_t port = 40000;
        struct hvsock_listener *l = NULL;
        struct hvsock_addr a;
        struct hvsock_guid svc;
        int r;

        hvsock_guid_from_port(port++, &svc);
        hvsock_addr_init(&a, &HVSOCK_GUID_LOOPBACK, &svc);
        r = hvsock_listen(NULL, &a, 4, &l);
        if (r < 0)
                die("hvsock_listen", r);
        fds[0] = hvsock_connect(NULL, &a, 0);
        if (fds[0] < 0)
                die("hvsock_connect", fds[0]);
        fds[1] = hvsock_accept(l, 5000, NULL);
        if (fds[1] < 0)
                die("hvsock_accept", fds[1]);
        hvsock_listener_free(l);
}

static void pair_unix(int fds[2]) {
        struct unix_listener ul;
        char path[256];
        struct sockaddr_un sa;
        socklen_t len;
        int r;

        snprintf(path, sizeof(path), "%s/raw.sock", opt.dir);
        r = unix_listen(path, 4, NULL, &ul, NULL);
        if (r < 0)
                die("unix_listen", r);
        r = sockaddr_un_set(&sa, &len, path);
        if (r < 0)
                die("sockaddr_un_set", r);
        fds[0] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fds[0] < 0 || connect(fds[0], (struct sockaddr *) &sa, len) < 0)
                die("connect unix", negative_errno());
        fds[1] = accept4(ul.fd, NULL, NULL, SOCK_CLOEXEC);
        if (fds[1] < 0)
                die("accept unix", negative_errno());
        unix_listener_close(&ul);
}

static void pair_socketpair(int fds[2]) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
                die("socketpair", negative_errno());
}

static void pair_tcp(int fds[2]) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        int lfd, one = 1;

        lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (lfd < 0 || bind(lfd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(lfd, 4) < 0 ||
            getsockname(lfd, (struct sockaddr *) &sa, &len) < 0)
                die("tcp listen", negative_errno());
        fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fds[0] < 0 || connect(fds[0], (struct sockaddr *) &sa, sizeof(sa)) < 0)
                die("tcp connect", negative_errno());
        fds[1] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fds[1] < 0)
                die("tcp accept", negative_errno());
        /* Latency is about round trips, not Nagle's batching. */
        setsockopt(fds[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        setsockopt(fds[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        close(lfd);
}

static void make_pair(enum peer p, int fds[2]) {
        switch (p) {
        case PEER_HVSOCK:
                pair_hvsock(fds);
                break;
        case PEER_UNIX:
                pair_unix(fds);
                break;
        case PEER_SOCKETPAIR:
                pair_socketpair(fds);
                break;
        default:
                pair_tcp(fds);
                break;
        }
}

static void *writer_main(void *arg) {
        int fd = *(int *) arg;
        char *buf = calloc(1, opt.chunk);
        uint64_t left = opt.size;

        if (!buf)
                die("calloc", -ENOMEM);
        while (left > 0) {
                size_t n = left < opt.chunk ? (size_t) left : opt.chunk;
                int r = write_all(fd, buf, n);
                if (r < 0)
                        die("write", r);
                left -= n;
        }
        shutdown(fd, SHUT_WR);
        free(buf);
        return NULL;
}

/* Bytes per second moving opt.size from fds[0] to fds[1]. */
static double throughput(enum peer p) {
        int fds[2];
        pthread_t t;
        char *buf = malloc(opt.chunk);
        uint64_t got = 0;
        double start;

        if (!buf)
                die("malloc", -ENOMEM);
        make_pair(p, fds);
        start = now_s();
        if (pthread_create(&t, NULL, writer_main, &fds[0]) != 0)
                die("pthread_create", -EAGAIN);
        for (;;) {
                ssize_t n = read(fds[1], buf, opt.chunk);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        die("read", negative_errno());
                if (n == 0)
                        break;
                got += (uint64_t) n;
        }
        double secs = now_s() - start;
        pthread_join(t, NULL);
        if (got != opt.size)
                die("short transfer", -EPIPE);
        close(fds[0]);
        close(fds[1]);
        free(buf);
        return (double) opt.size / secs;
}

static void *echo_main(void *arg) {
        int fd = *(int *) arg;
        char c;

        while (read_exact(fd, &c, 1) == 0)
                if (write_all(fd, &c, 1) < 0)
                        break;
        return NULL;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

/* Median 1-byte round trip in seconds. */
static double latency(enum peer p) {
        int fds[2];
        pthread_t t;
        double *rtt = malloc(opt.pings * sizeof(double));
        char c = 'x';

        if (!rtt)
                die("malloc", -ENOMEM);
        make_pair(p, fds);
        if (pthread_create(&t, NULL, echo_main, &fds[1]) != 0)
                die("pthread_create", -EAGAIN);
        for (unsigned i = 0; i < opt.pings; i++) {
                double start = now_s();
                if (write_all(fds[0], &c, 1) < 0 || read_exact(fds[0], &c, 1) < 0)
                        die("ping", negative_errno());
                rtt[i] = now_s() - start;
        }
        shutdown(fds[0], SHUT_WR);
        pthread_join(t, NULL);
        close(fds[0]);
        close(fds[1]);
        qsort(rtt, opt.pings, sizeof(double), cmp_double);
        double median = rtt[opt.pings / 2];
        free(rtt);
        return median;
}

static double median_of(double *v, unsigned n) {
        qsort(v, n, sizeof(double), cmp_double);
        return v[n / 2];
}

static uint64_t parse_size(const char *s) {
        char *end;
        unsigned long long v;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || end == s)
                goto bad;
        switch (*end) {
        case 'G': v <<= 30; end++; break;
        case 'M': v <<= 20; end++; break;
        case 'K': v <<= 10; end++; break;
        default: break;
        }
        if (*end || v == 0)
                goto bad;
        return v;
bad:
        fprintf(stderr, "bench-local: bad size '%s'\n", s);
        exit(2);
}

static void usage(FILE *f) {
        fprintf(f,
                "usage: bench-local [--size BYTES[K|M|G]] [--chunk BYTES[K|M]] [--rounds N] [--pings N]\n"
                "Throughput and 1-byte latency of libhvsock's local transport against a raw\n"
                "UNIX socket, a socketpair and TCP loopback, measured in the same run.\n");
}

static void parse_args(int argc, char **argv) {
        static const struct option longopts[] = {
                { "size", required_argument, NULL, 's' },   { "chunk", required_argument, NULL, 'c' },
                { "rounds", required_argument, NULL, 'r' }, { "pings", required_argument, NULL, 'p' },
                { "help", no_argument, NULL, 'h' },         {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "s:c:r:p:h", longopts, NULL)) >= 0) {
                switch (c) {
                case 's': opt.size = parse_size(optarg); break;
                case 'c': opt.chunk = (size_t) parse_size(optarg); break;
                case 'r': opt.rounds = (unsigned) parse_size(optarg); break;
                case 'p': opt.pings = (unsigned) parse_size(optarg); break;
                case 'h': usage(stdout); exit(0);
                default: usage(stderr); exit(2);
                }
        }
        if (optind < argc || opt.rounds > MAX_ROUNDS) {
                usage(stderr);
                exit(2);
        }
}

/* The local transport needs a runtime dir; the bench never uses kernel vsock. */
static void setup_env(void) {
        char sub[200];

        snprintf(opt.dir, sizeof(opt.dir), "/tmp/hvsock-bench.XXXXXX");
        if (!mkdtemp(opt.dir))
                die("mkdtemp", negative_errno());
        snprintf(sub, sizeof(sub), "%s/run", opt.dir);
        setenv("HVSOCK_RUNTIME_DIR", sub, 1);
        snprintf(sub, sizeof(sub), "%s/config", opt.dir);
        setenv("HVSOCK_CONFIG_DIR", sub, 1);
        setenv("HVSOCK_TRANSPORTS", "local", 1);
        signal(SIGPIPE, SIG_IGN);
}

int main(int argc, char **argv) {
        double tput[N_PEERS][MAX_ROUNDS], lat[N_PEERS][MAX_ROUNDS];
        double mt[N_PEERS], ml[N_PEERS], lo_t[N_PEERS], hi_t[N_PEERS], lo_l[N_PEERS], hi_l[N_PEERS];
        char cmd[300];

        parse_args(argc, argv);
        setup_env();
        for (unsigned r = 0; r < opt.rounds; r++) {
                for (int p = 0; p < N_PEERS; p++) {
                        tput[p][r] = throughput((enum peer) p);
                        lat[p][r] = latency((enum peer) p);
                }
                fprintf(stderr, "bench-local: round %u/%u done\n", r + 1, opt.rounds);
        }
        for (int p = 0; p < N_PEERS; p++) {
                mt[p] = median_of(tput[p], opt.rounds); /* sorts: [0] is min, [rounds-1] max */
                ml[p] = median_of(lat[p], opt.rounds);
                lo_t[p] = tput[p][0], hi_t[p] = tput[p][opt.rounds - 1];
                lo_l[p] = lat[p][0], hi_l[p] = lat[p][opt.rounds - 1];
        }

        printf("Median of %u interleaved rounds; throughput moves %llu MiB in %zu KiB writes, "
               "latency is the median of %u 1-byte round trips.\n\n",
               opt.rounds, (unsigned long long) (opt.size >> 20), opt.chunk >> 10, opt.pings);
        printf("| peer | throughput MB/s | (min-max) | vs raw UNIX | round trip us | (min-max) | vs raw UNIX |\n");
        printf("|---|---:|---:|---:|---:|---:|---:|\n");
        for (int p = 0; p < N_PEERS; p++)
                printf("| %s | %.0f | %.0f-%.0f | %.3f | %.2f | %.2f-%.2f | %.3f |\n", peer_names[p],
                       mt[p] / 1e6, lo_t[p] / 1e6, hi_t[p] / 1e6, mt[p] / mt[PEER_UNIX], ml[p] * 1e6,
                       lo_l[p] * 1e6, hi_l[p] * 1e6, ml[p] / ml[PEER_UNIX]);
        printf("\nGoals: throughput >= 0.95 and round trip <= 1.1 of the raw UNIX socket: %s, %s.\n",
               mt[PEER_HVSOCK] / mt[PEER_UNIX] >= 0.95 ? "met" : "NOT met",
               ml[PEER_HVSOCK] / ml[PEER_UNIX] <= 1.1 ? "met" : "NOT met");

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", opt.dir);
        if (system(cmd) != 0)
                fprintf(stderr, "bench-local: could not remove %s\n", opt.dir);
        return 0;
}
