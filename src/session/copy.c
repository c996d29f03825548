/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "copy-link.h"
#include "copy.h"
#include "digest.h"
#include "fd-util.h"
#include "macro.h"

/* Record kinds of the archive (docs/session-protocol.md, "File copy"). */
#define REC_TOTAL 'T'
#define REC_FILE 'F'
#define REC_DIR 'D'
#define REC_UP 'U'
#define REC_END 'E'
#define CHUNK_MAX (64u * 1024u)
/* A chunk length that says the sender could not read the file to its end. */
#define CHUNK_ABORT UINT32_MAX
#define DEPTH_MAX 256
#define NAME_MAX_WIRE 4096u
/* A chunk is read straight into a DATA frame behind its length; less room
 * than this and the next frame is taken instead. */
#define CHUNK_ROOM_MIN (4u + 4096u)
/* With SYNC, the receiver starts writing back every this many bytes, so
 * the fsync before a file gets its name finds little left to do. */
#define WRITEBACK_STEP (8u * 1024u * 1024u)

#define MIN(a, b) ((a) < (b) ? (a) : (b))

/* ---- messages and the progress bar ---- */

struct progress {
        bool on, drawn;
        uint64_t total, done, last_ms;
};

static uint64_t mono_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static void progress_clear(struct progress *p) {
        if (p->drawn)
                fputs("\r\033[K", stderr);
        p->drawn = false;
}

static void progress_add(struct progress *p, uint64_t n, bool force) {
        uint64_t now;

        p->done += n;
        if (!p->on)
                return;
        now = mono_ms();
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

static void report(const struct copy_options *o, struct progress *p, const char *fmt, ...) _printf_(3, 4);
static void report(const struct copy_options *o, struct progress *p, const char *fmt, ...) {
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
        progress_clear(p);
        fprintf(stderr, "%s\n", line);
}

/* ---- the stream: the session's DATA frames (copy-link.c) ---- */

static int wput(struct copy_link *l, const void *data, size_t n) {
        return copy_link_write(l, data, n);
}

static int wput_u8(struct copy_link *l, uint8_t v) {
        return wput(l, &v, 1);
}

static int wput_u32(struct copy_link *l, uint32_t v) {
        uint8_t b[4];

        put_le32(b, v);
        return wput(l, b, 4);
}

static int wput_u64(struct copy_link *l, uint64_t v) {
        uint8_t b[8];

        put_le32(b, (uint32_t) v);
        put_le32(b + 4, (uint32_t) (v >> 32));
        return wput(l, b, 8);
}

/* Reads exactly n bytes; -EPIPE when the stream ends first. */
static int rget(struct copy_link *l, void *data, size_t n) {
        return copy_link_read(l, data, n);
}

static int rget_u32(struct copy_link *l, uint32_t *ret) {
        uint8_t b[4];
        int e = rget(l, b, 4);

        if (e == 0)
                *ret = get_le32(b);
        return e;
}

static int rget_u64(struct copy_link *l, uint64_t *ret) {
        uint8_t b[8];
        int e = rget(l, b, 8);

        if (e == 0)
                *ret = get_le32(b) | (uint64_t) get_le32(b + 4) << 32;
        return e;
}

/* ---- entry metadata: u32 mode, u64 mtime seconds, u32 nanoseconds, u16 name length, name ---- */

struct meta {
        uint32_t mode;
        int64_t mtime_s;
        uint32_t mtime_ns;
        char name[NAME_MAX_WIRE + 1];
};

static int wput_meta(struct copy_link *w, uint8_t kind, const struct stat *st, const char *name) {
        size_t n = strlen(name);
        uint8_t b[2];
        int r;

        put_le16(b, (uint16_t) n);
        if ((r = wput_u8(w, kind)) < 0 || (r = wput_u32(w, st->st_mode & 07777)) < 0 ||
            (r = wput_u64(w, (uint64_t) st->st_mtim.tv_sec)) < 0 || (r = wput_u32(w, (uint32_t) st->st_mtim.tv_nsec)) < 0 ||
            (r = wput(w, b, 2)) < 0)
                return r;
        return wput(w, name, n);
}

static bool name_valid(const char *s) {
        return s[0] && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

static int rget_meta(struct copy_link *r, struct meta *m) {
        uint64_t t = 0;
        uint8_t b[2];
        uint16_t n;
        int e;

        if ((e = rget_u32(r, &m->mode)) < 0 || (e = rget_u64(r, &t)) < 0 || (e = rget_u32(r, &m->mtime_ns)) < 0 ||
            (e = rget(r, b, 2)) < 0)
                return e;
        m->mtime_s = (int64_t) t;
        n = get_le16(b);
        if (n > NAME_MAX_WIRE || m->mtime_ns >= 1000000000u)
                return -EPROTO;
        if ((e = rget(r, m->name, n)) < 0)
                return e;
        m->name[n] = '\0';
        if (strlen(m->name) != n || !name_valid(m->name))
                return -EPROTO;
        return 0;
}

/* ---- the sender ---- */

struct sender {
        struct copy_link *l;
        const struct copy_options *o;
        struct progress p;
        int failed;
};

static uint64_t tree_size(const char *path, bool recursive, int depth) {
        struct stat st;
        uint64_t sum = 0;
        DIR *d;
        struct dirent *de;

        if (stat(path, &st) < 0)
                return 0;
        if (S_ISREG(st.st_mode))
                return (uint64_t) st.st_size;
        if (!S_ISDIR(st.st_mode) || !recursive || depth >= DEPTH_MAX || !(d = opendir(path)))
                return 0;
        while ((de = readdir(d))) {
                char *child;

                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (asprintf(&child, "%s/%s", path, de->d_name) < 0)
                        break;
                sum += tree_size(child, recursive, depth + 1);
                free(child);
        }
        closedir(d);
        return sum;
}

/* The chunks of one file, each read straight into a DATA frame behind its
 * length. A pipe or device is waited on while the session is served, so
 * a receiver that stops is noticed even when the source is silent. */
static int send_chunks(struct sender *s, const char *path, int in, bool slow, struct file_digest *d, uint64_t *size) {
        int r = 0;

        for (;;) {
                size_t room;
                uint8_t *p;
                ssize_t n;

                if (slow && (r = copy_link_wait_readable(s->l, in)) < 0)
                        return r;
                p = copy_link_space(s->l, CHUNK_ROOM_MIN, &room, &r);
                if (!p)
                        return r;
                n = read(in, p + 4, MIN(room - 4, CHUNK_MAX));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        report(s->o, &s->p, "reading '%s%s': %s", s->o->prefix, path, strerror(errno));
                        s->failed = 1;
                        r = wput_u32(s->l, CHUNK_ABORT);
                        return r < 0 ? r : 1; /* no size or digest follows */
                }
                if (n == 0)
                        return 0;
                put_le32(p, (uint32_t) n);
                file_digest_update(d, p + 4, (size_t) n);
                copy_link_fill(s->l, 4 + (size_t) n);
                *size += (uint64_t) n;
                progress_add(&s->p, (uint64_t) n, false);
        }
}

static int send_file(struct sender *s, const char *path, int fd, const struct stat *st, const char *name) {
        _cleanup_close_ int in = fd;
        unsigned version = s->o->version;
        uint8_t key[FILE_DIGEST_KEY_LEN] = {}, sum[FILE_DIGEST_MAX];
        struct file_digest d;
        uint64_t size = 0;
        int r;

        /* A fresh key per file: the tag then catches any change the
         * transport makes, which cannot depend on a key it never saw used. */
        if (file_digest_keyed(version) && getrandom(key, sizeof(key), 0) != (ssize_t) sizeof(key))
                return negative_errno();
        r = file_digest_init(&d, version, key);
        if (r < 0)
                return r;
        r = wput_meta(s->l, REC_FILE, st, name);
        if (r == 0 && file_digest_keyed(version))
                r = wput(s->l, key, sizeof(key));
        if (r == 0)
                r = send_chunks(s, path, in, !S_ISREG(st->st_mode), &d, &size);
        if (r == 0) {
                file_digest_final(&d, sum);
                if ((r = wput_u32(s->l, 0)) == 0 && (r = wput_u64(s->l, size)) == 0)
                        r = wput(s->l, sum, file_digest_len(version));
        }
        file_digest_done(&d);
        return r > 0 ? 0 : r;
}

/* Sends path as name. Returns 0 (failures of the entry are reported and
 * counted) or -errno when the stream broke. */
static int send_entry(struct sender *s, const char *path, const char *name, int depth) {
        struct stat st;
        struct dirent *de;
        DIR *d;
        int fd, r = 0;

        if (stat(path, &st) < 0) {
                report(s->o, &s->p, "cannot copy '%s%s': %s", s->o->prefix, path, strerror(errno));
                s->failed = 1;
                return 0;
        }
        if (S_ISDIR(st.st_mode)) {
                if (!(s->o->flags & SESSION_COPY_RECURSIVE)) {
                        report(s->o, &s->p, "cannot copy '%s%s': it is a directory (use -r)", s->o->prefix, path);
                        s->failed = 1;
                        return 0;
                }
                if (depth >= DEPTH_MAX) {
                        report(s->o, &s->p, "cannot copy '%s%s': nested too deep", s->o->prefix, path);
                        s->failed = 1;
                        return 0;
                }
                d = opendir(path);
                if (!d) {
                        report(s->o, &s->p, "cannot copy '%s%s': %s", s->o->prefix, path, strerror(errno));
                        s->failed = 1;
                        return 0;
                }
                r = wput_meta(s->l, REC_DIR, &st, name);
                while (r == 0 && (de = readdir(d))) {
                        char *child;

                        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                                continue;
                        if (asprintf(&child, "%s/%s", path, de->d_name) < 0) {
                                r = -ENOMEM;
                                break;
                        }
                        r = send_entry(s, child, de->d_name, depth + 1);
                        free(child);
                }
                closedir(d);
                return r < 0 ? r : wput_u8(s->l, REC_UP);
        }
        /* A pipe or device named on the command line is copied as a stream. */
        if (!S_ISREG(st.st_mode) && (depth > 0 || !(S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)))) {
                report(s->o, &s->p, "skipping '%s%s': not a regular file or directory", s->o->prefix, path);
                s->failed = 1;
                return 0;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                report(s->o, &s->p, "cannot open '%s%s': %s", s->o->prefix, path, strerror(errno));
                s->failed = 1;
                return 0;
        }
        return send_file(s, path, fd, &st, name);
}

/* The name a source is copied as: its last component. */
static char *source_name(const char *path) {
        size_t len = strlen(path);
        const char *slash;
        char *copy;

        while (len > 1 && path[len - 1] == '/')
                len--;
        copy = strndup(path, len);
        if (!copy)
                return NULL;
        slash = strrchr(copy, '/');
        if (slash) {
                char *base = strdup(slash + 1);

                free(copy);
                copy = base;
        }
        return copy;
}

int copy_send(struct copy_link *l, char *const *sources, size_t n, const struct copy_options *o) {
        struct sender *s = calloc(1, sizeof(*s));
        uint64_t total = 0;
        int r = 0;

        if (!s)
                return -ENOMEM;
        s->l = l;
        s->o = o;
        s->p.on = o->progress;
        for (size_t i = 0; i < n; i++)
                total += tree_size(sources[i], o->flags & SESSION_COPY_RECURSIVE, 0);
        s->p.total = total;
        r = wput_u8(l, REC_TOTAL);
        if (r == 0)
                r = wput_u64(l, total);
        for (size_t i = 0; r == 0 && i < n; i++) {
                _cleanup_free_ char *name = source_name(sources[i]);

                if (!name)
                        r = -ENOMEM;
                else if (!name_valid(name)) {
                        report(o, &s->p, "cannot copy '%s%s': name a file or directory by its path, not '%s'",
                               o->prefix, sources[i], name);
                        s->failed = 1;
                } else
                        r = send_entry(s, sources[i], name, 0);
        }
        if (r == 0)
                r = wput_u8(l, REC_END);
        if (r == 0)
                r = copy_link_flush(l);
        if (r == 0)
                progress_add(&s->p, 0, true);
        progress_clear(&s->p);
        if (r == 0)
                r = s->failed;
        free(s);
        return r;
}

/* ---- the receiver ---- */

/* A named temporary file (only where O_TMPFILE is not supported) removed
 * when a signal ends the process. SIGKILL cannot be caught: that is why
 * O_TMPFILE is tried first. */
static char temp_path[PATH_MAX];
static volatile sig_atomic_t temp_set;

static void temp_cleanup(int sig) {
        if (temp_set)
                unlink(temp_path);
        signal(sig, SIG_DFL);
        raise(sig);
}

struct receiver {
        struct copy_link *l;
        const struct copy_options *o;
        struct progress p;
        int failed;
        mode_t umask;
};

static char *dir_of(const char *path) {
        const char *slash = strrchr(path, '/');

        if (!slash)
                return strdup(".");
        if (slash == path)
                return strdup("/");
        return strndup(path, (size_t) (slash - path));
}

/* Opens the file that becomes target: unnamed in target's directory when
 * the file system can, else a hidden name there. *ret_named says which. */
static int open_temp(const char *target, bool *ret_named) {
        _cleanup_free_ char *dir = dir_of(target);
        int fd;

        if (!dir)
                return -ENOMEM;
        fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
        if (fd >= 0) {
                *ret_named = false;
                return fd;
        }
        if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
                return negative_errno();
        const char *base = strrchr(target, '/');

        base = base ? base + 1 : target;
        if ((size_t) snprintf(temp_path, sizeof(temp_path), "%s/.%s.hvsock-cp.XXXXXX", dir, base) >= sizeof(temp_path))
                return -ENAMETOOLONG;
        fd = mkostemp(temp_path, O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        temp_set = 1;
        *ret_named = true;
        return fd;
}

static void fsync_dir(const char *target) {
        _cleanup_free_ char *dir = dir_of(target);
        _cleanup_close_ int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;

        if (fd >= 0)
                (void) fsync(fd);
}

/* Gives the finished temporary file fd its name. */
static int publish(int fd, bool named, const char *target) {
        char proc[64], tmp[PATH_MAX];
        _cleanup_free_ char *dir = NULL;
        const char *base;

        if (named) {
                if (rename(temp_path, target) < 0)
                        return negative_errno();
                temp_set = 0;
                return 0;
        }
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        if (linkat(AT_FDCWD, proc, AT_FDCWD, target, AT_SYMLINK_FOLLOW) == 0)
                return 0;
        if (errno != EEXIST)
                return negative_errno();
        /* Replacing a file: link under a hidden name, then rename over it. */
        dir = dir_of(target);
        if (!dir)
                return -ENOMEM;
        base = strrchr(target, '/');
        base = base ? base + 1 : target;
        for (int i = 0;; i++) {
                if ((size_t) snprintf(tmp, sizeof(tmp), "%s/.%s.hvsock-cp.%d.%d", dir, base, (int) getpid(), i) >=
                    sizeof(tmp))
                        return -ENAMETOOLONG;
                if (linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) == 0)
                        break;
                if (errno != EEXIST || i > 100)
                        return negative_errno();
        }
        if (rename(tmp, target) < 0) {
                int r = negative_errno();

                unlink(tmp);
                return r;
        }
        return 0;
}

/* Whether the receiver makes each file durable before and after naming
 * it: asked for with SYNC, and always in version 1, which had no choice.
 * Without it a file is still named only once verified, so an interrupted
 * copy leaves nothing; only a power loss may lose a copy just made. */
static bool sync_wanted(const struct copy_options *o) {
        return o->version < 2 || (o->flags & SESSION_COPY_SYNC);
}

/* Starts writing back what was written since *kicked once a step has
 * gathered: a hint (errors ignored), the fsync before publishing is what
 * makes the data durable. */
static void start_writeback(int fd, uint64_t *kicked, uint64_t size) {
        if (size - *kicked < WRITEBACK_STEP)
                return;
        (void) sync_file_range(fd, (off_t) *kicked, (off_t) (size - *kicked), SYNC_FILE_RANGE_WRITE);
        *kicked = size;
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

/* Receives one file's chunks into target (NULL: drops them). Returns 0 or
 * -errno when the stream broke. */
static int receive_file(struct receiver *rc, const struct meta *m, const char *target) {
        unsigned version = rc->o->version;
        bool sync = sync_wanted(rc->o);
        uint8_t key[FILE_DIGEST_KEY_LEN] = {}, sum[FILE_DIGEST_MAX], theirs[FILE_DIGEST_MAX];
        uint64_t size = 0, their_size = 0, kicked = 0;
        int fd = -1, err = 0, r;
        bool named = false, aborted = false;
        struct file_digest d = {};
        struct stat st;

        if (file_digest_keyed(version)) {
                r = rget(rc->l, key, sizeof(key));
                if (r < 0)
                        return r;
        }
        r = file_digest_init(&d, version, key);
        if (r < 0)
                return r;
        if (target) {
                fd = open_temp(target, &named);
                if (fd < 0) {
                        report(rc->o, &rc->p, "cannot create '%s%s': %s", rc->o->prefix, target, strerror(-fd));
                        rc->failed = 1;
                }
        }
        for (;;) {
                uint32_t len = 0;

                r = rget_u32(rc->l, &len);
                if (r < 0)
                        goto out;
                if (len == 0)
                        break;
                if (len == CHUNK_ABORT) {
                        aborted = true; /* the sender said why */
                        rc->failed = 1;
                        break;
                }
                r = -EPROTO;
                if (len > CHUNK_MAX)
                        goto out;
                r = receive_chunk(rc, len, &d, fd, &err);
                if (r < 0)
                        goto out;
                size += len;
                if (fd >= 0 && !err && sync)
                        start_writeback(fd, &kicked, size);
        }
        if (!aborted) {
                r = rget_u64(rc->l, &their_size);
                if (r == 0)
                        r = rget(rc->l, theirs, file_digest_len(version));
                if (r < 0)
                        goto out;
        }
        r = 0;
        if (fd < 0 || aborted)
                goto out;
        file_digest_final(&d, sum);
        if (!err && (size != their_size || memcmp(sum, theirs, file_digest_len(version)) != 0 || fstat(fd, &st) < 0 ||
                     (uint64_t) st.st_size != size)) {
                report(rc->o, &rc->p, "copying to '%s%s': verification failed (size or %s differs)", rc->o->prefix,
                       target, file_digest_keyed(version) ? "Poly1305 tag" : "SHA-256");
                rc->failed = 1;
                goto out;
        }
        if (!err) {
                struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { m->mtime_s, (long) m->mtime_ns } };
                mode_t mode = rc->o->flags & SESSION_COPY_PRESERVE ? m->mode & 07777 : m->mode & 0777 & ~rc->umask;

                if (fchmod(fd, mode) < 0 || ((rc->o->flags & SESSION_COPY_PRESERVE) && futimens(fd, ts) < 0) ||
                    (sync && fsync(fd) < 0))
                        err = negative_errno();
        }
        if (!err)
                err = publish(fd, named, target);
        if (err) {
                report(rc->o, &rc->p, "writing '%s%s': %s", rc->o->prefix, target, strerror(-err));
                rc->failed = 1;
        } else if (sync)
                fsync_dir(target);
out:
        if (fd >= 0) {
                if (named && temp_set) {
                        unlink(temp_path);
                        temp_set = 0;
                }
                close(fd);
        }
        file_digest_done(&d);
        return r;
}

struct level {
        char *path;  /* NULL: skipped (could not be created) */
        struct meta m;
        bool created;
};

static void finish_dir(struct receiver *rc, struct level *lv) {
        bool preserve = rc->o->flags & SESSION_COPY_PRESERVE;

        if (!lv->path)
                return;
        if (preserve || lv->created) {
                mode_t mode = preserve ? lv->m.mode & 07777 : lv->m.mode & 0777 & ~rc->umask;

                if (chmod(lv->path, mode) < 0) {
                        report(rc->o, &rc->p, "setting the mode of '%s%s': %s", rc->o->prefix, lv->path, strerror(errno));
                        rc->failed = 1;
                }
        }
        if (preserve) {
                struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { lv->m.mtime_s, (long) lv->m.mtime_ns } };

                if (utimensat(AT_FDCWD, lv->path, ts, 0) < 0) {
                        report(rc->o, &rc->p, "setting the time of '%s%s': %s", rc->o->prefix, lv->path, strerror(errno));
                        rc->failed = 1;
                }
        }
}

static int enter_dir(struct receiver *rc, struct level *lv, const char *target, bool skip) {
        struct stat st;

        lv->created = false;
        lv->path = NULL;
        if (skip)
                return 0;
        if (stat(target, &st) == 0) {
                if (!S_ISDIR(st.st_mode)) {
                        report(rc->o, &rc->p, "cannot overwrite non-directory '%s%s' with a directory", rc->o->prefix,
                               target);
                        rc->failed = 1;
                        return 0;
                }
        } else if (mkdir(target, 0700) < 0) {
                report(rc->o, &rc->p, "cannot create directory '%s%s': %s", rc->o->prefix, target, strerror(errno));
                rc->failed = 1;
                return 0;
        } else
                lv->created = true;
        lv->path = strdup(target);
        return lv->path ? 0 : -ENOMEM;
}

static int receive_loop(struct receiver *rc, const char *dest, bool dest_is_dir, struct level *levels) {
        int depth = 0, r;
        struct meta *m = malloc(sizeof(*m));
        uint64_t total = 0;

        if (!m)
                return -ENOMEM;
        for (;;) {
                _cleanup_free_ char *target = NULL;
                uint8_t kind;
                bool skip;
                struct stat st;

                r = rget(rc->l, &kind, 1);
                if (r < 0)
                        break;
                r = -EPROTO;
                if (kind == REC_END) {
                        r = depth == 0 ? 0 : -EPROTO;
                        break;
                }
                if (kind == REC_TOTAL) {
                        r = rget_u64(rc->l, &total);
                        if (r < 0)
                                break;
                        rc->p.total = total;
                        continue;
                }
                if (kind == REC_UP) {
                        if (depth == 0)
                                break;
                        depth--;
                        finish_dir(rc, &levels[depth]);
                        levels[depth].path = (free(levels[depth].path), NULL);
                        continue;
                }
                if (kind != REC_FILE && kind != REC_DIR)
                        break;
                r = rget_meta(rc->l, m);
                if (r < 0)
                        break;
                skip = depth > 0 && !levels[depth - 1].path;
                if (!skip) {
                        if (depth > 0)
                                r = asprintf(&target, "%s/%s", levels[depth - 1].path, m->name);
                        else if (dest_is_dir)
                                r = asprintf(&target, "%s%s%s", dest, dest[strlen(dest) - 1] == '/' ? "" : "/", m->name);
                        else
                                r = (target = strdup(dest)) ? 0 : -1;
                        if (r < 0) {
                                r = -ENOMEM;
                                break;
                        }
                }
                if (kind == REC_DIR) {
                        r = -EPROTO;
                        if (depth >= DEPTH_MAX + 1)
                                break;
                        levels[depth].m = *m;
                        r = enter_dir(rc, &levels[depth], target, skip);
                        if (r < 0)
                                break;
                        depth++;
                        continue;
                }
                if (!skip && stat(target, &st) == 0 && S_ISDIR(st.st_mode)) {
                        report(rc->o, &rc->p, "cannot overwrite directory '%s%s' with a file", rc->o->prefix, target);
                        rc->failed = 1;
                        skip = true;
                }
                r = receive_file(rc, m, skip ? NULL : target);
                if (r < 0)
                        break;
        }
        while (depth > 0) {
                depth--;
                levels[depth].path = (free(levels[depth].path), NULL);
        }
        free(m);
        return r;
}

int copy_receive(struct copy_link *l, const char *dest, const struct copy_options *o) {
        struct receiver *rc = calloc(1, sizeof(*rc));
        struct level *levels = calloc(DEPTH_MAX + 2, sizeof(*levels));
        struct stat st;
        bool dest_is_dir;
        int r;

        if (!rc || !levels) {
                free(rc);
                free(levels);
                return -ENOMEM;
        }
        rc->l = l;
        rc->o = o;
        rc->p.on = o->progress;
        rc->umask = umask(0);
        umask(rc->umask);
        signal(SIGINT, temp_cleanup);
        signal(SIGTERM, temp_cleanup);
        signal(SIGHUP, temp_cleanup);
        dest_is_dir = stat(dest, &st) == 0 && S_ISDIR(st.st_mode);
        if ((o->flags & SESSION_COPY_MULTIPLE) && !dest_is_dir) {
                report(o, &rc->p, "target '%s%s' is not a directory (copying several sources)", o->prefix, dest);
                r = 1;
        } else {
                r = receive_loop(rc, dest, dest_is_dir, levels);
                if (r == 0)
                        progress_add(&rc->p, 0, true);
                progress_clear(&rc->p);
                if (r == -EPROTO)
                        report(o, &rc->p, "copying to '%s%s': malformed archive stream", o->prefix, dest);
                if (r == 0)
                        r = rc->failed;
        }
        free(levels);
        free(rc);
        return r;
}

/* A number argument of the helper within 0..max, or -1. */
static long helper_number(const char *arg, unsigned long max) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(arg, &end, 10);
        return errno || *end || end == arg || v > max ? -1 : (long) v;
}

int copy_helper_main(int argc, char **argv) {
        struct copy_options o = { .label = "hvsock: in the VM", .prefix = "" };
        struct copy_link *l = NULL;
        struct session_parser *in;
        long version, flags;
        bool sending;
        int r;

        if (argc < 4)
                return 2;
        version = helper_number(argv[1], SESSION_VERSION_MAX);
        flags = helper_number(argv[2], SESSION_COPY_FLAGS);
        sending = strcmp(argv[0], "send") == 0;
        if (version < SESSION_VERSION_MIN || flags < 0 || (!sending && (strcmp(argv[0], "receive") != 0 || argc != 4)))
                return 2;
        o.version = (unsigned) version;
        o.flags = (uint32_t) flags;
        signal(SIGPIPE, SIG_IGN);
        /* The session's socket is stdin (and stdout); stderr is the daemon's log. */
        in = malloc(sizeof(*in));
        if (!in)
                return 1;
        session_parser_init(in);
        r = copy_link_new(STDIN_FILENO, in, true, sending, NULL, &l);
        if (r < 0) {
                fprintf(stderr, "hvsock-sessiond: copy helper: %s\n", strerror(-r));
                return 1;
        }
        o.messages = l;
        if (sending)
                r = copy_send(l, argv + 3, (size_t) (argc - 3), &o);
        else {
                r = copy_receive(l, argv[3], &o);
                if (r == -EPIPE)
                        report(&o, &(struct progress) {}, "copying to '%s': the copy was interrupted", argv[3]);
        }
        if (r < 0 && r != -EPIPE && r != -EPROTO && r != -EBADMSG)
                report(&o, &(struct progress) {}, "copying: %s", strerror(-r));
        r = copy_link_finish_server(l, r == 0 ? 0 : 1) < 0 || r != 0;
        copy_link_free(l);
        return r;
}
