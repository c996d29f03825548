/* SPDX-License-Identifier: MIT */
/*
 * The CPU-time peer of hvsock-vhost in bench/bench-vhost: a plain copy of the
 * same bytes through a UNIX socketpair, with the copying process measured
 * exactly like hvsock-vhost (CPU time from /proc/<pid>/schedstat, before and
 * after). The measured child plays the device: "out" writes SIZE bytes from
 * its memory into the socket (guest -> host), "in" reads them from the socket
 * into its memory (host -> guest); the parent is the other end, unmeasured.
 *
 *   bench-copy [--size BYTES[K|M|G]] [--chunk BYTES[K|M]] [--direction out|in]
 * Prints: BENCH-COPY <direction> <chunk> <cpu ns> <bytes> <ns per second> <seconds>
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cpu-time.h"

static double now_s(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int parse_size(const char *s, uint64_t *ret) {
        char *end;
        unsigned long long v;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || end == s)
                return -1;
        switch (*end) {
        case 'G': v <<= 10; /* fall through */
        case 'M': v <<= 10; /* fall through */
        case 'K': v <<= 10; end++; break;
        case '\0': break;
        default: return -1;
        }
        if (*end || v == 0)
                return -1;
        *ret = v;
        return 0;
}

/* Moves size bytes: writes (out) or reads (in) in chunk pieces. */
static int pump(int fd, uint64_t size, size_t chunk, int out) {
        char *buf = malloc(chunk);
        uint64_t done = 0;

        if (!buf)
                return -1;
        memset(buf, 0x5a, chunk);
        while (done < size) {
                size_t want = size - done < chunk ? (size_t) (size - done) : chunk;
                ssize_t k = out ? write(fd, buf, want) : read(fd, buf, want);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return -1;
                done += (uint64_t) k;
        }
        free(buf);
        return 0;
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "size", required_argument, NULL, 's' },
                { "chunk", required_argument, NULL, 'c' },
                { "direction", required_argument, NULL, 'd' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        uint64_t size = UINT64_C(1) << 30, chunk = 64 * 1024;
        int out = 1, sv[2], go[2], done[2], c, st;
        long long t0, t1;
        double s0, s1;
        char b = 0;
        pid_t pid;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 's':
                        if (parse_size(optarg, &size) < 0)
                                goto usage;
                        break;
                case 'c':
                        if (parse_size(optarg, &chunk) < 0 || chunk > (64u << 20))
                                goto usage;
                        break;
                case 'd':
                        if (strcmp(optarg, "out") && strcmp(optarg, "in"))
                                goto usage;
                        out = strcmp(optarg, "out") == 0;
                        break;
                case 'h':
                        printf("usage: bench-copy [--size BYTES[K|M|G]] [--chunk BYTES[K|M]] [--direction out|in]\n");
                        return 0;
                default:
                        goto usage;
                }
        }
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 || pipe2(go, O_CLOEXEC) < 0 ||
            pipe2(done, O_CLOEXEC) < 0) {
                perror("bench-copy: socketpair");
                return 1;
        }
        pid = fork();
        if (pid < 0) {
                perror("bench-copy: fork");
                return 1;
        }
        if (pid == 0) {
                /* The measured copier: wait for go, move the bytes, report, then
                 * stay alive until the parent has read our /proc stat. */
                close(sv[0]);
                close(go[1]);
                if (read(go[0], &b, 1) != 1 || pump(sv[1], size, (size_t) chunk, out) < 0)
                        _exit(1);
                if (write(done[1], &b, 1) != 1 || read(go[0], &b, 1) < 0)
                        _exit(1);
                _exit(0);
        }
        close(sv[1]);
        t0 = cpu_ns(pid);
        s0 = now_s();
        if (write(go[1], &b, 1) != 1 || pump(sv[0], size, 1 << 20, !out) < 0 || read(done[0], &b, 1) != 1) {
                fprintf(stderr, "bench-copy: the copy failed\n");
                return 1;
        }
        s1 = now_s();
        t1 = cpu_ns(pid);
        close(go[1]);
        if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || t0 < 0 || t1 < 0) {
                fprintf(stderr, "bench-copy: the copier failed\n");
                return 1;
        }
        printf("BENCH-COPY %s %" PRIu64 " %lld %" PRIu64 " %ld %.3f\n", out ? "out" : "in", chunk, t1 - t0, size,
               CPU_NS_PER_SECOND, s1 - s0);
        return 0;
usage:
        fprintf(stderr, "usage: bench-copy [--size BYTES[K|M|G]] [--chunk BYTES[K|M]] [--direction out|in]\n");
        return 2;
}
