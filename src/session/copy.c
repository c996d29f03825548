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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "copy.h"
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
#define SHA_LEN 32
#define NAME_MAX_WIRE 4096u

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
        va_list ap;

        progress_clear(p);
        fprintf(stderr, "%s: ", o->label);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

/* ---- buffered blocking I/O on the stream ---- */

struct wbuf {
        int fd;
        size_t len;
        uint8_t buf[CHUNK_MAX + 64];
};

static int wflush(struct wbuf *w) {
        int r = write_all(w->fd, w->buf, w->len);

        w->len = 0;
        return r;
}

static int wput(struct wbuf *w, const void *data, size_t n) {
        int r;

        if (n > sizeof(w->buf) - w->len) {
                r = wflush(w);
                if (r < 0)
                        return r;
                if (n > sizeof(w->buf))
                        return write_all(w->fd, data, n);
        }
        memcpy(w->buf + w->len, data, n);
        w->len += n;
        return 0;
}

static int wput_u8(struct wbuf *w, uint8_t v) {
        return wput(w, &v, 1);
}

static int wput_u32(struct wbuf *w, uint32_t v) {
        uint8_t b[4];

        put_le32(b, v);
        return wput(w, b, 4);
}

static int wput_u64(struct wbuf *w, uint64_t v) {
        uint8_t b[8];

        put_le32(b, (uint32_t) v);
        put_le32(b + 4, (uint32_t) (v >> 32));
        return wput(w, b, 8);
}

struct rbuf {
        int fd;
        size_t start, end;
        uint8_t buf[128u * 1024u];
};

/* Reads exactly n bytes; -EPIPE when the stream ends first. */
static int rget(struct rbuf *r, void *data, size_t n) {
        uint8_t *d = data;

        while (n > 0) {
                size_t have = r->end - r->start, k;

                if (have == 0) {
                        ssize_t got = read(r->fd, r->buf, sizeof(r->buf));

                        if (got < 0 && errno == EINTR)
                                continue;
                        if (got < 0)
                                return negative_errno();
                        if (got == 0)
                                return -EPIPE;
                        r->start = 0;
                        r->end = (size_t) got;
                        continue;
                }
                k = have < n ? have : n;
                memcpy(d, r->buf + r->start, k);
                r->start += k;
                d += k;
                n -= k;
        }
        return 0;
}

static int rget_u32(struct rbuf *r, uint32_t *ret) {
        uint8_t b[4];
        int e = rget(r, b, 4);

        if (e == 0)
                *ret = get_le32(b);
        return e;
}

static int rget_u64(struct rbuf *r, uint64_t *ret) {
        uint8_t b[8];
        int e = rget(r, b, 8);

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

static int wput_meta(struct wbuf *w, uint8_t kind, const struct stat *st, const char *name) {
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

static int rget_meta(struct rbuf *r, struct meta *m) {
        uint64_t t;
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
        struct wbuf w;
        const struct copy_options *o;
        struct progress p;
        int failed;
        uint8_t chunk[CHUNK_MAX];
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

static int send_file(struct sender *s, const char *path, int fd, const struct stat *st, const char *name) {
        _cleanup_close_ int in = fd;
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        uint8_t sha[SHA_LEN];
        uint64_t size = 0;
        int r;

        if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
                EVP_MD_CTX_free(md);
                return -ENOMEM;
        }
        r = wput_meta(&s->w, REC_FILE, st, name);
        for (;;) {
                ssize_t n;

                if (r < 0)
                        break;
                n = read(in, s->chunk, sizeof(s->chunk));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        report(s->o, &s->p, "reading '%s%s': %s", s->o->prefix, path, strerror(errno));
                        s->failed = 1;
                        r = wput_u32(&s->w, CHUNK_ABORT);
                        break;
                }
                if (n == 0) {
                        unsigned l = 0;

                        EVP_DigestFinal_ex(md, sha, &l);
                        if ((r = wput_u32(&s->w, 0)) == 0 && (r = wput_u64(&s->w, size)) == 0)
                                r = wput(&s->w, sha, SHA_LEN);
                        break;
                }
                EVP_DigestUpdate(md, s->chunk, (size_t) n);
                size += (uint64_t) n;
                if ((r = wput_u32(&s->w, (uint32_t) n)) == 0)
                        r = wput(&s->w, s->chunk, (size_t) n);
                progress_add(&s->p, (uint64_t) n, false);
        }
        EVP_MD_CTX_free(md);
        return r;
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
                r = wput_meta(&s->w, REC_DIR, &st, name);
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
                return r < 0 ? r : wput_u8(&s->w, REC_UP);
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

int copy_send(int fd, char *const *sources, size_t n, const struct copy_options *o) {
        struct sender *s = calloc(1, sizeof(*s));
        uint64_t total = 0;
        int r = 0;

        if (!s)
                return -ENOMEM;
        s->w.fd = fd;
        s->o = o;
        s->p.on = o->progress;
        for (size_t i = 0; i < n; i++)
                total += tree_size(sources[i], o->flags & SESSION_COPY_RECURSIVE, 0);
        s->p.total = total;
        r = wput_u8(&s->w, REC_TOTAL);
        if (r == 0)
                r = wput_u64(&s->w, total);
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
                r = wput_u8(&s->w, REC_END);
        if (r == 0)
                r = wflush(&s->w);
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
        struct rbuf r;
        const struct copy_options *o;
        struct progress p;
        int failed;
        mode_t umask;
        uint8_t chunk[CHUNK_MAX];
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

/* Receives one file's chunks into target (NULL: drops them). Returns 0 or
 * -errno when the stream broke. */
static int receive_file(struct receiver *rc, const struct meta *m, const char *target) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        uint8_t sha[SHA_LEN], theirs[SHA_LEN];
        uint64_t size = 0, their_size = 0;
        int fd = -1, err = 0, r;
        bool named = false, aborted = false;
        struct stat st;
        unsigned l = 0;

        if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
                EVP_MD_CTX_free(md);
                return -ENOMEM;
        }
        if (target) {
                fd = open_temp(target, &named);
                if (fd < 0) {
                        report(rc->o, &rc->p, "cannot create '%s%s': %s", rc->o->prefix, target, strerror(-fd));
                        rc->failed = 1;
                }
        }
        for (;;) {
                uint32_t len = 0;

                r = rget_u32(&rc->r, &len);
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
                r = rget(&rc->r, rc->chunk, len);
                if (r < 0)
                        goto out;
                EVP_DigestUpdate(md, rc->chunk, len);
                size += len;
                if (fd >= 0 && !err)
                        err = write_all(fd, rc->chunk, len);
                progress_add(&rc->p, len, false);
        }
        if (!aborted) {
                r = rget_u64(&rc->r, &their_size);
                if (r == 0)
                        r = rget(&rc->r, theirs, SHA_LEN);
                if (r < 0)
                        goto out;
        }
        r = 0;
        if (fd < 0 || aborted)
                goto out;
        EVP_DigestFinal_ex(md, sha, &l);
        if (!err && (size != their_size || memcmp(sha, theirs, SHA_LEN) != 0 || fstat(fd, &st) < 0 ||
                     (uint64_t) st.st_size != size)) {
                report(rc->o, &rc->p, "copying to '%s%s': verification failed (size or SHA-256 differs)",
                       rc->o->prefix, target);
                rc->failed = 1;
                goto out;
        }
        if (!err) {
                struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { m->mtime_s, (long) m->mtime_ns } };
                mode_t mode = rc->o->flags & SESSION_COPY_PRESERVE ? m->mode & 07777 : m->mode & 0777 & ~rc->umask;

                if (fchmod(fd, mode) < 0 || ((rc->o->flags & SESSION_COPY_PRESERVE) && futimens(fd, ts) < 0) ||
                    fsync(fd) < 0)
                        err = negative_errno();
        }
        if (!err)
                err = publish(fd, named, target);
        if (err) {
                report(rc->o, &rc->p, "writing '%s%s': %s", rc->o->prefix, target, strerror(-err));
                rc->failed = 1;
        } else
                fsync_dir(target);
out:
        if (fd >= 0) {
                if (named && temp_set) {
                        unlink(temp_path);
                        temp_set = 0;
                }
                close(fd);
        }
        EVP_MD_CTX_free(md);
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
        uint64_t total;

        if (!m)
                return -ENOMEM;
        for (;;) {
                _cleanup_free_ char *target = NULL;
                uint8_t kind;
                bool skip;
                struct stat st;

                r = rget(&rc->r, &kind, 1);
                if (r < 0)
                        break;
                r = -EPROTO;
                if (kind == REC_END) {
                        r = depth == 0 ? 0 : -EPROTO;
                        break;
                }
                if (kind == REC_TOTAL) {
                        r = rget_u64(&rc->r, &total);
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
                r = rget_meta(&rc->r, m);
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

int copy_receive(int fd, const char *dest, const struct copy_options *o) {
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
        rc->r.fd = fd;
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

int copy_helper_main(int argc, char **argv) {
        struct copy_options o = { .label = "hvsock: in the VM", .prefix = "" };
        char *end;
        unsigned long flags;
        int r;

        if (argc < 3)
                return 2;
        errno = 0;
        flags = strtoul(argv[1], &end, 10);
        if (errno || *end || flags > SESSION_COPY_FLAGS)
                return 2;
        o.flags = (uint32_t) flags;
        signal(SIGPIPE, SIG_IGN);
        if (strcmp(argv[0], "send") == 0)
                r = copy_send(STDOUT_FILENO, argv + 2, (size_t) (argc - 2), &o);
        else if (strcmp(argv[0], "receive") == 0 && argc == 3) {
                r = copy_receive(STDIN_FILENO, argv[2], &o);
                if (r == -EPIPE)
                        report(&o, &(struct progress) {}, "copying to '%s': the copy was interrupted", argv[2]);
        } else
                return 2;
        if (r < 0 && r != -EPIPE && r != -EPROTO)
                report(&o, &(struct progress) {}, "copying: %s", strerror(-r));
        return r == 0 ? 0 : 1;
}
