/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_SESSION_COPY_ARCHIVE_H
#define HVSOCK_SESSION_COPY_ARCHIVE_H

/*
 * What both ends of `hvsock cp` share (docs/session-protocol.md, "The
 * archive stream"): the record kinds, their integers and entry metadata on
 * the wire, entry names, and the messages and progress bar of a copy. The
 * sender is copy-send.c, the receiver copy-receive.c.
 */

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "copy.h"
#include "macro.h"

#define REC_TOTAL 'T'
#define REC_FILE 'F'
#define REC_DIR 'D'
#define REC_LINK 'L' /* version 3 */
#define REC_UP 'U'
#define REC_END 'E'
#define CHUNK_MAX (64u * 1024u)
/* A chunk length that says the sender could not read the file to its end. */
#define CHUNK_ABORT UINT32_MAX
/* Version 3: the announced size of a top-level file whose size its file
 * system does not know (a pipe, a device, /proc). */
#define SIZE_UNKNOWN UINT64_MAX
#define DEPTH_MAX 256
#define NAME_MAX_WIRE 4096u
#define LINK_TARGET_MAX 4095u

/* Version 3 announces each file's size and each directory's entry count
 * and carries symbolic links; earlier versions announce only the total. */
static inline bool archive_announces(unsigned version) {
        return version >= 3;
}

struct progress {
        bool on, drawn;
        uint64_t total, done, last_ms;
};

void progress_add(struct progress *p, uint64_t n, bool force);
void progress_clear(struct progress *p);

/* One message line, "LABEL: ...": on stderr, or through the session when
 * this is the helper (o->messages). */
void copy_report(const struct copy_options *o, struct progress *p, const char *fmt, ...) _printf_(3, 4);

/* u32 mode (the permission bits, 07777), i64 mtime seconds, u32 nanoseconds,
 * u16 name length, the name. */
struct meta {
        uint32_t mode;
        int64_t mtime_s;
        uint32_t mtime_ns;
        char name[NAME_MAX_WIRE + 1];
};

/* Writers: 0 or -errno of the stream (copy-link.h). */
int archive_put(struct copy_link *l, const void *data, size_t n);
int archive_put_u8(struct copy_link *l, uint8_t v);
int archive_put_u16(struct copy_link *l, uint16_t v);
int archive_put_u32(struct copy_link *l, uint32_t v);
int archive_put_u64(struct copy_link *l, uint64_t v);
int archive_put_meta(struct copy_link *l, uint8_t kind, const struct stat *st, const char *name);

/* Readers: 0, -EPIPE when the stream ends first, -EPROTO for a malformed
 * value (archive_get_meta: a bad name or nanoseconds), or -errno. */
int archive_get(struct copy_link *l, void *data, size_t n);
int archive_get_u16(struct copy_link *l, uint16_t *ret);
int archive_get_u32(struct copy_link *l, uint32_t *ret);
int archive_get_u64(struct copy_link *l, uint64_t *ret);
int archive_get_meta(struct copy_link *l, struct meta *m);

/* One path component: not empty, no '/', not "." or "..". */
bool archive_name_valid(const char *s);

/* The name a source path is copied as: its last component, trailing
 * slashes ignored ("/a/b/" is "b"; path_split()). NULL when out of memory.
 * The result may not be a valid name ("." for "/", ".."): check it. */
char *archive_source_name(const char *path);

#endif
