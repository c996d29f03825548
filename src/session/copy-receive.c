/* SPDX-License-Identifier: MIT */
/*
 * The receiver of the archive stream. The sender is not trusted: when the
 * host copies out of a VM, the VM (its root, whatever runs there) chooses
 * every byte. So the receiver takes only what was asked for, and what the
 * sender announced (docs/session-protocol.md, "What a receiver accepts"):
 * anything else ends the copy at once with a message that names the entry,
 * before anything of that entry is made. Entries land through copy-place.c:
 * relative to directory fds, never following a link.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "copy-archive.h"
#include "copy-link.h"
#include "copy-place.h"
#include "digest.h"
#include "fd-util.h"
#include "frame.h"
#include "string-util.h"

/* Returned inside the receiver for a refused entry (already reported). */
#define REFUSED (-ECANCELED)
/* With SYNC, the receiver starts writing back every this many bytes, so
 * the fsync before a file gets its name finds little left to do. */
#define WRITEBACK_STEP (8u * 1024u * 1024u)

struct level {
        int fd;     /* the directory; -1: skipped (it could not be made) */
        char *path; /* for messages */
        struct meta m;
        bool created;
        uint32_t announced, left; /* version 3: its entry count, and how many may still come */
};

/* Where one entry goes: name in dirfd (-1: nowhere, its data is dropped). */
struct target {
        int dirfd;
        const char *name;
        char *path; /* for messages */
};

struct receiver {
        struct copy_link *l;
        const struct copy_options *o;
        struct progress p;
        int failed;
        mode_t umask;
        bool announces;
        /* Versions 1 and 2 announce only T: the file data in all. */
        bool have_total;
        uint64_t total, received;
        /* Top-level entries go to top_name (NULL: their own name) in top_fd. */
        int top_fd;
        const char *dest;
        char *top_name;
        size_t next_expected;
        struct level *levels; /* DEPTH_MAX + 1 of them */
        int depth;
        struct meta m; /* the record being received */
};

_printf_(3, 4) static int refuse(struct receiver *rc, const struct target *t, const char *fmt, ...) {
        char why[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        copy_report(rc->o, &rc->p, "refusing '%s%s' from %s: %s; the copy stops here", rc->o->prefix, t->path,
                    rc->o->peer, why);
        return REFUSED;
}

static mode_t mode_for(const struct receiver *rc, uint32_t wire_mode) {
        mode_t mode = wire_mode & 0777;

        /* Never setuid, setgid or sticky from a peer, with -p or without. A
         * sticky directory writable by others (a /tmp) must not become one
         * where anybody may remove anybody's files: it loses that write
         * permission with the bit. */
        if (wire_mode & S_ISVTX)
                mode &= ~(mode_t) 022;
        if (rc->o->flags & SESSION_COPY_PRESERVE)
                return mode;
        return mode & ~rc->umask;
}

/* ---- what may come ---- */

/* Where the entry now in rc->m goes; t->path is allocated. */
static int entry_target(struct receiver *rc, struct target *t) {
        const struct level *parent = rc->depth > 0 ? &rc->levels[rc->depth - 1] : NULL;
        const char *name = rc->m.name;
        int r;

        if (parent) {
                t->dirfd = parent->fd;
                t->name = name;
                r = asprintf(&t->path, "%s/%s", parent->path, name);
        } else {
                t->dirfd = rc->top_fd;
                t->name = rc->top_name ? rc->top_name : name;
                if (rc->top_name)
                        r = (t->path = strdup(rc->dest)) ? 0 : -1;
                else
                        r = asprintf(&t->path, "%s%s%s", rc->dest, rc->dest[strlen(rc->dest) - 1] == '/' ? "" : "/",
                                     name);
        }
        return r < 0 ? -ENOMEM : 0;
}

/* A top-level entry must be the next source asked for (by its last
 * component), each at most once, in order: the sender leaves out only the
 * sources it could not read. */
static int admit_top(struct receiver *rc, const struct target *t) {
        if (!rc->o->untrusted_sender)
                return 0;
        while (rc->next_expected < rc->o->n_expected)
                if (strcmp(rc->o->expected[rc->next_expected++], rc->m.name) == 0)
                        return 0;
        return refuse(rc, t, "it was not asked for");
}

static int admit(struct receiver *rc, uint8_t kind, const struct target *t) {
        bool recursive = rc->o->flags & SESSION_COPY_RECURSIVE;
        struct level *parent = rc->depth > 0 ? &rc->levels[rc->depth - 1] : NULL;
        int r;

        if (!parent) {
                r = admit_top(rc, t);
                if (r < 0)
                        return r;
        } else if (rc->announces) {
                if (parent->left == 0)
                        return refuse(rc, t, "more entries in its directory than the %u announced",
                                      parent->announced);
                parent->left--;
        }
        if (kind == REC_DIR && !recursive)
                return refuse(rc, t, "a directory, and -r was not given");
        if (kind == REC_LINK && !parent)
                return refuse(rc, t, "a symbolic link where a file or directory was asked for");
        return 0;
}

/* ---- files ---- */

/* Starts writing back what was written since *kicked once a step has
 * gathered: a hint (errors ignored), the fsync before publishing is what
 * makes the data durable. */
static void start_writeback(int fd, uint64_t *kicked, uint64_t size) {
        if (size - *kicked < WRITEBACK_STEP)
                return;
        (void) sync_file_range(fd, (off_t) *kicked, (off_t) (size - *kicked), SYNC_FILE_RANGE_WRITE);
        *kicked = size;
}

/* Whether the receiver makes each file durable before and after naming
 * it: asked for with SYNC, and always in version 1, which had no choice.
 * Without it a file is still named only once verified, so an interrupted
 * copy leaves nothing; only a power loss may lose a copy just made. */
static bool sync_wanted(const struct copy_options *o) {
        return o->version < 2 || (o->flags & SESSION_COPY_SYNC);
}

/* Takes one chunk of len bytes from the stream, piece by piece as the
 * frames hold it, into the digest and fd (-1: dropped). Returns 0 or -errno
 * of the stream; *err gets the first write error. */
static int receive_chunk(struct receiver *rc, uint32_t len, struct file_digest *d, int fd, int *err) {
        while (len > 0) {
                const uint8_t *p;
                int k = copy_link_peek(rc->l, &p, len);

                if (k < 0)
                        return k;
                file_digest_update(d, p, (size_t) k);
                if (fd >= 0 && !*err)
                        *err = write_all(fd, p, (size_t) k);
                copy_link_consume(rc->l, (size_t) k);
                progress_add(&rc->p, (uint64_t) k, false);
                len -= (uint32_t) k;
        }
        return 0;
}

/* Whether a chunk of len bytes stays within what was announced: this
 * file's size (version 3), else the total of T. */
static int check_chunk(struct receiver *rc, const struct target *t, uint64_t announced, uint64_t size, uint32_t len) {
        if (rc->announces) {
                if (announced != SIZE_UNKNOWN && len > announced - size)
                        return refuse(rc, t, "more data than the %llu bytes announced for it",
                                      (unsigned long long) announced);
                return 0;
        }
        /* A host copying in is trusted, and its older hvsock announced 0
         * for a pipe or a /proc file. */
        if (!rc->o->untrusted_sender)
                return 0;
        if (len > rc->total - rc->received)
                return refuse(rc, t,
                              "more file data than the %llu bytes announced for the whole copy (protocol "
                              "version %u can announce no more: a pipe or a /proc file needs a newer "
                              "hvsock-sessiond there)",
                              (unsigned long long) rc->total, rc->o->version);
        rc->received += len;
        return 0;
}

/* The chunks of a file into fd (-1: dropped). Returns 0 (*aborted when the
 * sender gave up on it), REFUSED, or -errno of the stream. */
static int receive_chunks(struct receiver *rc, const struct target *t, uint64_t announced, int fd,
                          struct file_digest *d, uint64_t *size, bool *aborted, int *err) {
        bool sync = sync_wanted(rc->o);
        uint64_t kicked = 0;
        int r;

        for (;;) {
                uint32_t len = 0;

                r = archive_get_u32(rc->l, &len);
                if (r < 0)
                        return r;
                if (len == 0)
                        return 0;
                if (len == CHUNK_ABORT) {
                        *aborted = true; /* the sender said why */
                        rc->failed = 1;
                        return 0;
                }
                if (len > CHUNK_MAX)
                        return -EPROTO;
                r = check_chunk(rc, t, announced, *size, len);
                if (r < 0)
                        return r;
                r = receive_chunk(rc, len, d, fd, err);
                if (r < 0)
                        return r;
                *size += len;
                if (fd >= 0 && !*err && sync)
                        start_writeback(fd, &kicked, *size);
        }
}

/* Checks the received file against the sender's size and digest, then
 * gives it its mode, time and name. */
static void finish_file(struct receiver *rc, const struct target *t, struct place_temp *tmp, uint64_t size,
                        uint64_t their_size, const uint8_t *sum, const uint8_t *theirs, int err) {
        unsigned version = rc->o->version;
        bool sync = sync_wanted(rc->o);
        struct stat st;

        if (!err && (size != their_size || memcmp(sum, theirs, file_digest_len(version)) != 0 ||
                     fstat(tmp->fd, &st) < 0 || (uint64_t) st.st_size != size)) {
                copy_report(rc->o, &rc->p, "copying to '%s%s': verification failed (size or %s differs)",
                            rc->o->prefix, t->path, file_digest_keyed(version) ? "Poly1305 tag" : "SHA-256");
                rc->failed = 1;
                return;
        }
        if (!err) {
                struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { rc->m.mtime_s, (long) rc->m.mtime_ns } };

                if (fchmod(tmp->fd, mode_for(rc, rc->m.mode)) < 0 ||
                    ((rc->o->flags & SESSION_COPY_PRESERVE) && futimens(tmp->fd, ts) < 0) || (sync && fsync(tmp->fd) < 0))
                        err = negative_errno();
        }
        if (!err)
                err = place_temp_publish(tmp, t->name);
        if (err) {
                copy_report(rc->o, &rc->p, "writing '%s%s': %s", rc->o->prefix, t->path, strerror(-err));
                rc->failed = 1;
        } else if (sync)
                (void) fsync(t->dirfd);
}

static void open_target_file(struct receiver *rc, const struct target *t, struct place_temp *tmp) {
        struct stat st;
        int r;

        *tmp = (struct place_temp) { .fd = -1 };
        if (t->dirfd < 0)
                return;
        if (fstatat(t->dirfd, t->name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
                copy_report(rc->o, &rc->p, "cannot overwrite directory '%s%s' with a file", rc->o->prefix, t->path);
                rc->failed = 1;
                return;
        }
        r = place_temp_open(t->dirfd, t->name, tmp);
        if (r < 0) {
                copy_report(rc->o, &rc->p, "cannot create '%s%s': %s", rc->o->prefix, t->path, strerror(-r));
                rc->failed = 1;
        }
}

/* A file record after its meta. Returns 0, REFUSED, -EPROTO or -errno of
 * the stream. */
static int receive_file(struct receiver *rc, const struct target *t) {
        unsigned version = rc->o->version;
        uint8_t key[FILE_DIGEST_KEY_LEN] = {}, sum[FILE_DIGEST_MAX], theirs[FILE_DIGEST_MAX];
        uint64_t announced = SIZE_UNKNOWN, size = 0, their_size = 0;
        struct file_digest d = {};
        struct place_temp tmp = { .fd = -1 };
        bool aborted = false;
        int err = 0, r;

        if (file_digest_keyed(version) && (r = archive_get(rc->l, key, sizeof(key))) < 0)
                return r;
        if (rc->announces && (r = archive_get_u64(rc->l, &announced)) < 0)
                return r;
        /* Only a source named on the command line may be a stream. */
        if (announced == SIZE_UNKNOWN && rc->announces && rc->depth > 0)
                return refuse(rc, t, "a file of unknown size inside a directory");
        r = file_digest_init(&d, version, key);
        if (r < 0)
                return r;
        open_target_file(rc, t, &tmp);
        r = receive_chunks(rc, t, announced, tmp.fd, &d, &size, &aborted, &err);
        if (r == 0 && !aborted) {
                r = archive_get_u64(rc->l, &their_size);
                if (r == 0)
                        r = archive_get(rc->l, theirs, file_digest_len(version));
        }
        if (r == 0 && tmp.fd >= 0 && !aborted) {
                file_digest_final(&d, sum);
                finish_file(rc, t, &tmp, size, their_size, sum, theirs, err);
        }
        place_temp_discard(&tmp);
        file_digest_done(&d);
        return r;
}

/* ---- links and directories ---- */

static int receive_link(struct receiver *rc, const struct target *t) {
        char target[LINK_TARGET_MAX + 1];
        uint16_t n = 0;
        int r;

        if ((r = archive_get_u16(rc->l, &n)) < 0)
                return r;
        if (n == 0 || n > LINK_TARGET_MAX)
                return -EPROTO;
        if ((r = archive_get(rc->l, target, n)) < 0)
                return r;
        target[n] = '\0';
        if (strlen(target) != n)
                return -EPROTO;
        if (t->dirfd < 0)
                return 0;
        r = place_symlink(t->dirfd, t->name, target);
        if (r == 0 && (rc->o->flags & SESSION_COPY_PRESERVE)) {
                struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { rc->m.mtime_s, (long) rc->m.mtime_ns } };

                if (utimensat(t->dirfd, t->name, ts, AT_SYMLINK_NOFOLLOW) < 0)
                        r = negative_errno();
        }
        if (r == -EISDIR)
                copy_report(rc->o, &rc->p, "cannot overwrite directory '%s%s' with a symbolic link", rc->o->prefix,
                            t->path);
        else if (r < 0)
                copy_report(rc->o, &rc->p, "cannot create symbolic link '%s%s': %s", rc->o->prefix, t->path,
                            strerror(-r));
        if (r < 0)
                rc->failed = 1;
        return 0;
}

/* Opens (or makes) the directory the record names as the next level. */
static int enter_dir(struct receiver *rc, struct target *t) {
        struct level *lv = &rc->levels[rc->depth];
        uint32_t count = 0;
        int r;

        if (rc->depth > DEPTH_MAX)
                return -EPROTO;
        if (rc->announces && (r = archive_get_u32(rc->l, &count)) < 0)
                return r;
        *lv = (struct level) { .fd = -1, .m = rc->m, .announced = count, .left = count, .path = TAKE_PTR(t->path) };
        rc->depth++;
        if (t->dirfd < 0)
                return 0;
        r = place_dir(t->dirfd, t->name, &lv->created);
        if (r == -ENOTDIR)
                copy_report(rc->o, &rc->p, "cannot overwrite non-directory '%s%s' with a directory", rc->o->prefix,
                            lv->path);
        else if (r < 0)
                copy_report(rc->o, &rc->p, "cannot create directory '%s%s': %s", rc->o->prefix, lv->path, strerror(-r));
        if (r < 0)
                rc->failed = 1;
        else
                lv->fd = r;
        return 0;
}

/* The end of a directory: its mode (when made here) and time (with -p) are
 * set only now, once its entries are written. A directory that was there
 * before keeps its mode, -p or not: the peer does not get to open up (or
 * lock) a directory of this machine such as /tmp by merging into it. */
static void leave_dir(struct receiver *rc, bool finish) {
        struct level *lv = &rc->levels[--rc->depth];
        bool preserve = rc->o->flags & SESSION_COPY_PRESERVE;

        if (finish && lv->fd >= 0) {
                struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { lv->m.mtime_s, (long) lv->m.mtime_ns } };

                if (lv->created && fchmod(lv->fd, mode_for(rc, lv->m.mode)) < 0) {
                        copy_report(rc->o, &rc->p, "setting the mode of '%s%s': %s", rc->o->prefix, lv->path,
                                    strerror(errno));
                        rc->failed = 1;
                }
                if (preserve && futimens(lv->fd, ts) < 0) {
                        copy_report(rc->o, &rc->p, "setting the time of '%s%s': %s", rc->o->prefix, lv->path,
                                    strerror(errno));
                        rc->failed = 1;
                }
        }
        lv->fd = safe_close(lv->fd);
        lv->path = (free(lv->path), NULL);
}

/* ---- the stream ---- */

static int receive_entry(struct receiver *rc, uint8_t kind) {
        struct target t = { .dirfd = -1 };
        int r;

        r = archive_get_meta(rc->l, &rc->m);
        if (r < 0)
                return r;
        r = entry_target(rc, &t);
        if (r == 0)
                r = admit(rc, kind, &t);
        if (r == 0) {
                if (kind == REC_DIR)
                        r = enter_dir(rc, &t);
                else if (kind == REC_LINK)
                        r = receive_link(rc, &t);
                else
                        r = receive_file(rc, &t);
        }
        free(t.path);
        return r;
}

/* Returns 0 at a well-formed end, REFUSED, -EPROTO, or -errno. */
static int receive_loop(struct receiver *rc) {
        bool entries = false;
        uint8_t kind;
        int r;

        for (;;) {
                r = archive_get(rc->l, &kind, 1);
                if (r < 0)
                        return r;
                switch (kind) {
                case REC_TOTAL:
                        /* Once, before the entries: it is what versions 1
                         * and 2 are held to. */
                        if (rc->have_total || entries)
                                return -EPROTO;
                        r = archive_get_u64(rc->l, &rc->total);
                        if (r < 0)
                                return r;
                        rc->have_total = true;
                        rc->p.total = rc->total;
                        break;
                case REC_END:
                        return rc->depth == 0 ? 0 : -EPROTO;
                case REC_UP:
                        if (rc->depth == 0)
                                return -EPROTO;
                        leave_dir(rc, true);
                        break;
                case REC_LINK:
                case REC_FILE:
                case REC_DIR:
                        if (kind == REC_LINK && !rc->announces)
                                return -EPROTO;
                        entries = true;
                        r = receive_entry(rc, kind);
                        if (r < 0)
                                return r;
                        break;
                default:
                        return -EPROTO;
                }
        }
}

/* The destination: an existing directory takes the top-level entries by
 * their names; anything else is the one entry's own name, in its parent.
 * Both are opened as the user named them (links followed, as cp does);
 * only what is below is held to copy-place.c's rules. */
static int open_dest(struct receiver *rc, const char *dest) {
        _cleanup_free_ char *base = NULL, *parent = NULL;
        struct stat st;

        if (stat(dest, &st) == 0 && S_ISDIR(st.st_mode)) {
                rc->top_fd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                return rc->top_fd < 0 ? negative_errno() : 0;
        }
        if (rc->o->flags & SESSION_COPY_MULTIPLE) {
                copy_report(rc->o, &rc->p, "target '%s%s' is not a directory (copying several sources)", rc->o->prefix,
                            dest);
                return 1;
        }
        if (path_split(dest, &parent, &base) < 0)
                return -ENOMEM;
        if (!archive_name_valid(base)) {
                copy_report(rc->o, &rc->p, "cannot copy to '%s%s': name a file or directory", rc->o->prefix, dest);
                return 1;
        }
        rc->top_fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rc->top_fd < 0) {
                copy_report(rc->o, &rc->p, "cannot copy to '%s%s': %s", rc->o->prefix, dest, strerror(errno));
                return 1;
        }
        rc->top_name = TAKE_PTR(base);
        return 0;
}

int copy_receive(struct copy_link *l, const char *dest, const struct copy_options *o) {
        struct receiver *rc = calloc(1, sizeof(*rc));
        int r;

        if (!rc)
                return -ENOMEM;
        rc->levels = calloc(DEPTH_MAX + 1, sizeof(*rc->levels));
        if (!rc->levels) {
                free(rc);
                return -ENOMEM;
        }
        rc->l = l;
        rc->o = o;
        rc->p.on = o->progress;
        rc->announces = archive_announces(o->version);
        rc->dest = dest;
        rc->top_fd = -1;
        rc->umask = umask(0);
        umask(rc->umask);
        place_catch_signals();
        r = open_dest(rc, dest);
        if (r == 0) {
                r = receive_loop(rc);
                /* The archive ended before its E while the session goes on:
                 * a sender that stopped in the middle has nothing more to
                 * say, and is not waited for. */
                if (r == -EPIPE && !copy_link_ended(l))
                        r = -EPROTO;
                if (r == 0)
                        progress_add(&rc->p, 0, true);
                progress_clear(&rc->p);
                if (r == -EPROTO)
                        copy_report(o, &rc->p, "copying to '%s%s': malformed archive stream from %s", o->prefix, dest,
                                    o->peer);
                if (r == 0)
                        r = rc->failed;
        }
        while (rc->depth > 0)
                leave_dir(rc, false);
        safe_close(rc->top_fd);
        free(rc->top_name);
        free(rc->levels);
        free(rc);
        return r;
}
