/* SPDX-License-Identifier: MIT */
/*
 * The test stream shared by the guest helpers (tests/e2e/guest/vsock-e2e.c,
 * vsock-loop.c) and the host peer (tests/e2e/host/e2e-peer.c), with the I/O
 * helpers they all need: a xorshift64 byte stream
 * named by a seed, and a 64-bit FNV-style hash over 64-bit words that accepts
 * the stream in pieces of any size. Both cost a few instructions per 8 bytes,
 * so under TCG the guest's time goes to vsock, not to byte loops.
 *
 * Whoever receives a stream answers with the line "<hash hex> <bytes>\n"
 * after EOF; the sender compares it with its own.
 */
#ifndef HVSOCK_E2E_STREAM_H
#define HVSOCK_E2E_STREAM_H

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STREAM_BLOCK (64 * 1024)
#define STREAM_LINE_MAX 64

struct stream_gen {
        uint64_t state;
};

struct stream_hash {
        uint64_t h, len;
        uint8_t part[8];
        unsigned npart;
};

static inline void stream_gen_init(struct stream_gen *g, uint64_t seed) {
        /* xorshift64 must not start at 0. */
        g->state = seed * 0x9e3779b97f4a7c15ULL ^ 0xd1b54a32d192ed03ULL;
        if (g->state == 0)
                g->state = 1;
}

/* Fills words 64-bit words; the stream is the same whatever the block size. */
static inline void stream_gen_fill(struct stream_gen *g, uint64_t *buf, size_t words) {
        uint64_t s = g->state;

        for (size_t i = 0; i < words; i++) {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                buf[i] = s;
        }
        g->state = s;
}

static inline void stream_hash_init(struct stream_hash *sh) {
        memset(sh, 0, sizeof(*sh));
        sh->h = 0xcbf29ce484222325ULL;
}

static inline uint64_t stream_mix(uint64_t h, uint64_t w) {
        return (h ^ w) * 0x100000001b3ULL;
}

static inline void stream_hash_update(struct stream_hash *sh, const void *data, size_t n) {
        const uint8_t *p = data;
        uint64_t w, h = sh->h;

        sh->len += n;
        while (sh->npart > 0 && n > 0) {
                sh->part[sh->npart++] = *p++;
                n--;
                if (sh->npart == 8) {
                        memcpy(&w, sh->part, 8);
                        h = stream_mix(h, w);
                        sh->npart = 0;
                }
        }
        for (; n >= 8; p += 8, n -= 8) {
                memcpy(&w, p, 8);
                h = stream_mix(h, w);
        }
        memcpy(sh->part, p, n);
        sh->npart = (unsigned) n;
        sh->h = h;
}

static inline uint64_t stream_hash_final(const struct stream_hash *sh) {
        uint64_t w = 0, h = sh->h;

        if (sh->npart > 0) {
                memcpy(&w, sh->part, sh->npart);
                h = stream_mix(h, w);
        }
        return stream_mix(h, sh->len);
}

/* The hash of MIB MiB of the stream of SEED, computed without sending it. */
static inline uint64_t stream_expected(uint64_t mib, uint64_t seed) {
        static uint64_t buf[STREAM_BLOCK / 8];
        struct stream_gen g;
        struct stream_hash sh;

        stream_gen_init(&g, seed);
        stream_hash_init(&sh);
        for (uint64_t i = 0; i < mib * (1024 * 1024 / STREAM_BLOCK); i++) {
                stream_gen_fill(&g, buf, STREAM_BLOCK / 8);
                stream_hash_update(&sh, buf, STREAM_BLOCK);
        }
        return stream_hash_final(&sh);
}

static inline int stream_format_reply(char *line, size_t size, uint64_t hash, uint64_t len) {
        return snprintf(line, size, "%016" PRIx64 " %" PRIu64 "\n", hash, len);
}

/* Parses "<hash hex> <bytes>\n"; returns 0, or -1 when malformed. */
static inline int stream_parse_reply(const char *line, uint64_t *ret_hash, uint64_t *ret_len) {
        uint64_t h, l;

        if (sscanf(line, "%16" SCNx64 " %" SCNu64, &h, &l) != 2)
                return -1;
        *ret_hash = h;
        *ret_len = l;
        return 0;
}

/* Seconds on CLOCK_MONOTONIC. */
static inline double stream_now_s(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Reads until buf is full or EOF; returns the bytes read, -1 on error. */
static inline ssize_t stream_read_full(int fd, void *buf, size_t n) {
        size_t got = 0;

        while (got < n) {
                ssize_t r = read(fd, (char *) buf + got, n - got);

                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -1;
                if (r == 0)
                        break;
                got += (size_t) r;
        }
        return (ssize_t) got;
}

/* Reads one line (without its newline, cut to size - 1 bytes) byte by byte,
 * so nothing after it is consumed; -1 on error or EOF first. */
static inline int stream_read_line(int fd, char *line, size_t size) {
        size_t n = 0;

        for (;;) {
                char c;
                ssize_t r = read(fd, &c, 1);

                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        return -1;
                if (c == '\n')
                        break;
                if (n + 1 < size)
                        line[n++] = c;
        }
        line[n] = '\0';
        return 0;
}

/* Writes all of p, retrying short writes. Returns 0 or -1 (errno set). */
static inline int stream_write_all(int fd, const void *p, size_t n) {
        while (n > 0) {
                ssize_t w = write(fd, p, n);

                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0)
                        return -1;
                p = (const char *) p + w;
                n -= (size_t) w;
        }
        return 0;
}

/* Sends mib MiB of the stream named by seed; fast sends one block over and
 * over and hashes nothing (*ret_hash 0), for benchmarks. Returns 0 or -1. */
static inline int stream_send(int fd, uint64_t mib, uint64_t seed, bool fast, uint64_t *ret_hash) {
        static uint64_t buf[STREAM_BLOCK / 8];
        struct stream_gen g;
        struct stream_hash sh;

        stream_gen_init(&g, seed);
        stream_hash_init(&sh);
        if (fast)
                stream_gen_fill(&g, buf, STREAM_BLOCK / 8);
        for (uint64_t i = 0; i < mib * (1024 * 1024 / STREAM_BLOCK); i++) {
                if (!fast) {
                        stream_gen_fill(&g, buf, STREAM_BLOCK / 8);
                        stream_hash_update(&sh, buf, STREAM_BLOCK);
                }
                if (stream_write_all(fd, buf, STREAM_BLOCK) < 0)
                        return -1;
        }
        *ret_hash = fast ? 0 : stream_hash_final(&sh);
        return 0;
}

/* Reads to EOF, hashing unless fast. Returns 0 or -1. */
static inline int stream_recv(int fd, bool fast, uint64_t *ret_hash, uint64_t *ret_len) {
        static uint8_t buf[STREAM_BLOCK];
        struct stream_hash sh;
        uint64_t len = 0;

        stream_hash_init(&sh);
        for (;;) {
                ssize_t r = read(fd, buf, sizeof(buf));

                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -1;
                if (r == 0)
                        break;
                len += (uint64_t) r;
                if (!fast)
                        stream_hash_update(&sh, buf, (size_t) r);
        }
        *ret_hash = fast ? 0 : stream_hash_final(&sh);
        *ret_len = len;
        return 0;
}

/* Answers a received stream with "<hash hex> <bytes>\n". Returns 0 or -1. */
static inline int stream_reply(int fd, uint64_t hash, uint64_t len) {
        char line[STREAM_LINE_MAX];
        int n = stream_format_reply(line, sizeof(line), hash, len);

        return stream_write_all(fd, line, (size_t) n);
}

#endif
