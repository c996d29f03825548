/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_VHOST_GUEST_MEM_H
#define HVSOCK_VHOST_GUEST_MEM_H

/*
 * The guest's memory as vhost-user's SET_MEM_TABLE describes it: regions
 * with a guest physical address, QEMU's user address and our mapping.
 * Every address the guest or QEMU hands us goes through these lookups,
 * which check the whole range against one region without overflowing.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#define GUEST_MEM_REGIONS_MAX 8

struct guest_mem_region {
        uint64_t gpa;  /* guest physical address */
        uint64_t size; /* bytes, > 0 */
        uint64_t uva;  /* QEMU's user address */
        uint8_t *host; /* our address of gpa */
        void *map;     /* what to munmap, NULL when not ours */
        size_t map_len;
};

struct guest_mem {
        struct guest_mem_region regions[GUEST_MEM_REGIONS_MAX];
        unsigned n;
};

/* Adds a region at host (not owned: guest_mem_clear leaves it mapped).
 * Returns 0, -E2BIG when full, -EINVAL for size 0 or a range that wraps. */
int guest_mem_add(struct guest_mem *m, uint64_t gpa, uint64_t size, uint64_t uva, void *host);

/* Maps size bytes of fd at mmap_offset (any alignment) shared read-write and
 * adds the region (owned). Does not close fd. Returns 0, -EINVAL when the
 * range is empty, wraps or (regular files, memfds) ends past the file, or
 * another -errno. */
int guest_mem_add_fd(struct guest_mem *m, uint64_t gpa, uint64_t size, uint64_t uva,
                     int fd, uint64_t mmap_offset);

/* Unmaps the owned regions and empties the table. */
void guest_mem_clear(struct guest_mem *m);

/* Our pointer for [gpa, gpa + len) when the whole range lies in one region,
 * NULL otherwise. */
void *guest_mem_gpa(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* Our pointer for gpa and, in *ret_len, how many of the len bytes from gpa
 * are contiguous there (1..len). NULL when gpa is in no region or len is 0. */
void *guest_mem_gpa_span(const struct guest_mem *m, uint64_t gpa, uint64_t len, uint64_t *ret_len);

/* Our pointer for QEMU's user address range [uva, uva + len), or NULL. */
void *guest_mem_uva(const struct guest_mem *m, uint64_t uva, uint64_t len);

#endif
