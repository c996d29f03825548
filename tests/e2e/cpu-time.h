/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_E2E_CPU_TIME_H
#define HVSOCK_E2E_CPU_TIME_H

/*
 * CPU time of a process, for the benchmarks that compare hvsock-vhost's
 * cost with a plain copy (tests/e2e/host/e2e-peer.c, bench/bench-copy.c).
 * /proc/<pid>/schedstat counts nanoseconds on a CPU exactly; utime+stime in
 * /proc/<pid>/stat come in 10 ms ticks, too coarse for a 256 MiB round.
 */

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#define CPU_NS_PER_SECOND 1000000000L

/* Nanoseconds pid has run, or -1. */
static inline long long cpu_ns(long pid) {
        char path[64], buf[128];
        unsigned long long ns;
        ssize_t n;
        int fd;

        if (pid <= 0)
                return -1;
        snprintf(path, sizeof(path), "/proc/%ld/schedstat", pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return -1;
        buf[n] = '\0';
        if (sscanf(buf, "%llu", &ns) != 1)
                return -1;
        return (long long) ns;
}

#endif
