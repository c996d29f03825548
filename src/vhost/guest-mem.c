/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest-mem.h"
#include "macro.h"

int guest_mem_add(struct guest_mem *m, uint64_t gpa, uint64_t size, uint64_t uva, void *host) {
        struct guest_mem_region *r;

        if (m->n >= GUEST_MEM_REGIONS_MAX)
                return -E2BIG;
        if (size == 0 || gpa > UINT64_MAX - size || uva > UINT64_MAX - size)
                return -EINVAL;
        r = &m->regions[m->n++];
        *r = (struct guest_mem_region) { .gpa = gpa, .size = size, .uva = uva, .host = host };
        return 0;
}

int guest_mem_add_fd(struct guest_mem *m, uint64_t gpa, uint64_t size, uint64_t uva,
                     int fd, uint64_t mmap_offset) {
        uint64_t page = (uint64_t) sysconf(_SC_PAGESIZE);
        uint64_t start = mmap_offset - mmap_offset % page; /* mmap wants it page-aligned */
        uint64_t skip = mmap_offset - start;
        struct stat st;
        void *p;
        int r;

        if (m->n >= GUEST_MEM_REGIONS_MAX)
                return -E2BIG;
        if (size == 0 || mmap_offset > UINT64_MAX - size || skip > SIZE_MAX - size ||
            start > (uint64_t) INT64_MAX)
                return -EINVAL;
        /* Pages of a file mapped past its end raise SIGBUS when touched: the
         * whole region must lie inside the file. */
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (S_ISREG(st.st_mode) && (mmap_offset > (uint64_t) st.st_size ||
                                    size > (uint64_t) st.st_size - mmap_offset))
                return -EINVAL;
        p = mmap(NULL, (size_t) (skip + size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t) start);
        if (p == MAP_FAILED)
                return negative_errno();
        r = guest_mem_add(m, gpa, size, uva, (uint8_t *) p + skip);
        if (r < 0) {
                munmap(p, (size_t) (skip + size));
                return r;
        }
        m->regions[m->n - 1].map = p;
        m->regions[m->n - 1].map_len = (size_t) (skip + size);
        return 0;
}

void guest_mem_clear(struct guest_mem *m) {
        for (unsigned i = 0; i < m->n; i++)
                if (m->regions[i].map)
                        munmap(m->regions[i].map, m->regions[i].map_len);
        memset(m, 0, sizeof(*m));
}

void *guest_mem_gpa_span(const struct guest_mem *m, uint64_t gpa, uint64_t len, uint64_t *ret_len) {
        if (len == 0)
                return NULL;
        for (unsigned i = 0; i < m->n; i++) {
                const struct guest_mem_region *r = &m->regions[i];
                uint64_t off, avail;

                if (gpa < r->gpa || gpa - r->gpa >= r->size)
                        continue;
                off = gpa - r->gpa;
                avail = r->size - off;
                *ret_len = len < avail ? len : avail;
                return r->host + off;
        }
        return NULL;
}

void *guest_mem_gpa(const struct guest_mem *m, uint64_t gpa, uint64_t len) {
        uint64_t got;
        void *p = guest_mem_gpa_span(m, gpa, len, &got);

        return p && got == len ? p : NULL;
}

void *guest_mem_uva(const struct guest_mem *m, uint64_t uva, uint64_t len) {
        if (len == 0)
                return NULL;
        for (unsigned i = 0; i < m->n; i++) {
                const struct guest_mem_region *r = &m->regions[i];

                if (uva < r->uva || uva - r->uva >= r->size)
                        continue;
                if (len > r->size - (uva - r->uva))
                        return NULL;
                return r->host + (uva - r->uva);
        }
        return NULL;
}
