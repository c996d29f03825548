/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copy-archive.h"
#include "copy-link.h"
#include "frame.h"
#include "string-util.h"
#include "time-util.h"

/* ---- messages and the progress bar ---- */

void progress_clear(struct progress *p) {
        if (p->drawn)
                fputs("\r\033[K", stderr);
        p->drawn = false;
}

void progress_add(struct progress *p, uint64_t n, bool force) {
        uint64_t now;

        p->done += n;
        if (!p->on)
                return;
        now = now_ms();
        if (!force && now - p->last_ms < 100)
                return;
        p->last_ms = now;
        p->drawn = true;
        if (p->total > 0) {
                unsigned pct = (unsigned) (p->done >= p->total ? 100 : p->done * 100 / p->total);
                char bar[31];

                memset(bar, '#', pct * 30 / 100);
                memset(bar + pct * 30 / 100, '.', 30 - pct * 30 / 100);
                bar[30] = '\0';
                fprintf(stderr, "\r[%s] %3u%% %.1f/%.1f MiB", bar, pct, p->done / 1048576.0, p->total / 1048576.0);
        } else
                fprintf(stderr, "\r%.1f MiB", p->done / 1048576.0);
}

void copy_report(const struct copy_options *o, struct progress *p, const char *fmt, ...) {
        char line[PATH_MAX + 512];
        size_t n;
        va_list ap;

        n = (size_t) snprintf(line, sizeof(line), "%s: ", o->label);
        va_start(ap, fmt);
        if (n < sizeof(line))
                vsnprintf(line + n, sizeof(line) - n, fmt, ap);
        va_end(ap);
        /* The helper's stderr is not the client's: its lines go as stderr DATA. */
        if (o->messages) {
                copy_link_message(o->messages, line);
                return;
        }
        /* Paths in it may hold names the peer chose. */
        str_make_printable(line, strlen(line));
        progress_clear(p);
        fprintf(stderr, "%s\n", line);
}

/* ---- integers and metadata ---- */

int archive_put(struct copy_link *l, const void *data, size_t n) {
        return copy_link_write(l, data, n);
}

int archive_put_u8(struct copy_link *l, uint8_t v) {
        return archive_put(l, &v, 1);
}

int archive_put_u16(struct copy_link *l, uint16_t v) {
        uint8_t b[2];

        put_le16(b, v);
        return archive_put(l, b, 2);
}

int archive_put_u32(struct copy_link *l, uint32_t v) {
        uint8_t b[4];

        put_le32(b, v);
        return archive_put(l, b, 4);
}

int archive_put_u64(struct copy_link *l, uint64_t v) {
        uint8_t b[8];

        put_le32(b, (uint32_t) v);
        put_le32(b + 4, (uint32_t) (v >> 32));
        return archive_put(l, b, 8);
}

int archive_put_meta(struct copy_link *l, uint8_t kind, const struct stat *st, const char *name) {
        size_t n = strlen(name);
        int r;

        if ((r = archive_put_u8(l, kind)) < 0 || (r = archive_put_u32(l, st->st_mode & 07777)) < 0 ||
            (r = archive_put_u64(l, (uint64_t) st->st_mtim.tv_sec)) < 0 ||
            (r = archive_put_u32(l, (uint32_t) st->st_mtim.tv_nsec)) < 0 || (r = archive_put_u16(l, (uint16_t) n)) < 0)
                return r;
        return archive_put(l, name, n);
}

int archive_get(struct copy_link *l, void *data, size_t n) {
        return copy_link_read(l, data, n);
}

int archive_get_u16(struct copy_link *l, uint16_t *ret) {
        uint8_t b[2];
        int r = archive_get(l, b, 2);

        if (r == 0)
                *ret = get_le16(b);
        return r;
}

int archive_get_u32(struct copy_link *l, uint32_t *ret) {
        uint8_t b[4];
        int r = archive_get(l, b, 4);

        if (r == 0)
                *ret = get_le32(b);
        return r;
}

int archive_get_u64(struct copy_link *l, uint64_t *ret) {
        uint8_t b[8];
        int r = archive_get(l, b, 8);

        if (r == 0)
                *ret = get_le32(b) | (uint64_t) get_le32(b + 4) << 32;
        return r;
}

bool archive_name_valid(const char *s) {
        return s[0] && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

int archive_get_meta(struct copy_link *l, struct meta *m) {
        uint64_t t = 0;
        uint16_t n = 0;
        int r;

        if ((r = archive_get_u32(l, &m->mode)) < 0 || (r = archive_get_u64(l, &t)) < 0 ||
            (r = archive_get_u32(l, &m->mtime_ns)) < 0 || (r = archive_get_u16(l, &n)) < 0)
                return r;
        m->mtime_s = (int64_t) t;
        if (n > NAME_MAX_WIRE || m->mtime_ns >= 1000000000u)
                return -EPROTO;
        if ((r = archive_get(l, m->name, n)) < 0)
                return r;
        m->name[n] = '\0';
        if (strlen(m->name) != n || !archive_name_valid(m->name))
                return -EPROTO;
        return 0;
}

char *archive_source_name(const char *path) {
        _cleanup_free_ char *parent = NULL;
        char *name;

        return path_split(path, &parent, &name) < 0 ? NULL : name;
}
