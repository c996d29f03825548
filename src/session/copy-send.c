/* SPDX-License-Identifier: MIT */
/*
 * The sender of the archive stream. Only the sources named on the command
 * line are resolved (a link there is followed, as by cp); inside a tree
 * copied with -r nothing is followed: a symbolic link is sent as a link
 * (version 3) or left out with a message (earlier versions, which cannot
 * carry one), so a tree with links to itself ends like any other.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "copy-archive.h"
#include "copy-link.h"
#include "digest.h"
#include "fd-util.h"
#include "frame.h"

/* A chunk is read straight into a DATA frame behind its length; less room
 * than this and the next frame is taken instead. */
#define CHUNK_ROOM_MIN (4u + 4096u)

#define MIN(a, b) ((a) < (b) ? (a) : (b))

struct sender {
        struct copy_link *l;
        const struct copy_options *o;
        struct progress p;
        int failed;
};

/* ---- directory listings ---- */

static void names_free(char **names, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
}

static int cmp_names(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The entries of directory dfd (not closed) but "." and "..", sorted, so a
 * copy goes in the same order every time and the count it announces is
 * known before the first entry. Returns 0 or -errno. */
static int list_dir(int dfd, char ***ret_names, size_t *ret_n) {
        char **names = NULL, **grown;
        size_t n = 0, cap = 0;
        struct dirent *de;
        DIR *d;
        int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);

        if (fd < 0)
                return negative_errno();
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return negative_errno();
        }
        errno = 0;
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (n == cap) {
                        cap = cap ? 2 * cap : 16;
                        grown = reallocarray(names, cap, sizeof(*names));
                        if (!grown)
                                goto nomem;
                        names = grown;
                }
                names[n] = strdup(de->d_name);
                if (!names[n])
                        goto nomem;
                n++;
                errno = 0;
        }
        if (errno) {
                int r = negative_errno();

                closedir(d);
                names_free(names, n);
                return r;
        }
        closedir(d);
        if (n > 0)
                qsort(names, n, sizeof(*names), cmp_names);
        *ret_names = names;
        *ret_n = n;
        return 0;
nomem:
        closedir(d);
        names_free(names, n);
        return -ENOMEM;
}

/* ---- the size pre-pass, for the progress bar ---- */

/* File bytes below directory dfd (closed here), links not followed. */
static uint64_t tree_size_at(int dfd, int depth) {
        char **names = NULL;
        size_t n = 0;
        uint64_t sum = 0;

        if (depth < DEPTH_MAX && list_dir(dfd, &names, &n) == 0)
                for (size_t i = 0; i < n; i++) {
                        struct stat st;
                        int fd;

                        if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
                                continue;
                        if (S_ISREG(st.st_mode))
                                sum += (uint64_t) st.st_size;
                        else if (S_ISDIR(st.st_mode) &&
                                 (fd = openat_nofollow(dfd, names[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)) >= 0)
                                sum += tree_size_at(fd, depth + 1);
                }
        names_free(names, n);
        safe_close(dfd);
        return sum;
}

static uint64_t source_size(const char *path, bool recursive) {
        struct stat st;
        int fd;

        if (stat(path, &st) < 0)
                return 0;
        if (S_ISREG(st.st_mode))
                return (uint64_t) st.st_size;
        if (!S_ISDIR(st.st_mode) || !recursive || (fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
                return 0;
        return tree_size_at(fd, 0);
}

/* ---- files ---- */

/* The chunks of one file, each read straight into a DATA frame behind its
 * length, to its end but never beyond limit bytes (the size announced, or
 * SIZE_UNKNOWN). A file that ends sooner (it shrank, or it is a sysfs file
 * that says 4096) simply ends there. A pipe or device is waited on while the
 * session is served, so a receiver that stops is noticed even when the
 * source is silent. Returns 0, 1 when the file was aborted (reported), or
 * -errno of the stream. */
static int send_chunks(struct sender *s, const char *path, int in, bool slow, uint64_t limit, struct file_digest *d,
                       uint64_t *size) {
        int r = 0;

        for (;;) {
                size_t room, want;
                uint8_t *p;
                ssize_t n;

                if (*size == limit)
                        return 0;
                if (slow && (r = copy_link_wait_readable(s->l, in)) < 0)
                        return r;
                p = copy_link_space(s->l, CHUNK_ROOM_MIN, &room, &r);
                if (!p)
                        return r;
                want = MIN(room - 4, CHUNK_MAX);
                if (limit != SIZE_UNKNOWN)
                        want = (size_t) MIN((uint64_t) want, limit - *size);
                n = read(in, p + 4, want);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        copy_report(s->o, &s->p, "reading '%s%s': %s", s->o->prefix, path, strerror(errno));
                        s->failed = 1;
                        r = archive_put_u32(s->l, CHUNK_ABORT);
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

/* The size a file is announced with in version 3, the most it will send: a
 * regular file's, as it was when opened (data it gains later is not sent),
 * except a top-level one that says 0 (a /proc file) and pipes and devices,
 * which are read to their end. */
static uint64_t announced_size(const struct stat *st, bool top) {
        if (S_ISREG(st->st_mode) && !(top && st->st_size == 0))
                return (uint64_t) st->st_size;
        return SIZE_UNKNOWN;
}

/* Sends the open file fd (closed here) as name. */
static int send_file(struct sender *s, const char *path, int fd, const struct stat *st, const char *name, bool top) {
        _cleanup_close_ int in = fd;
        unsigned version = s->o->version;
        uint64_t limit = archive_announces(version) ? announced_size(st, top) : SIZE_UNKNOWN;
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
        r = archive_put_meta(s->l, REC_FILE, st, name);
        if (r == 0 && file_digest_keyed(version))
                r = archive_put(s->l, key, sizeof(key));
        if (r == 0 && archive_announces(version))
                r = archive_put_u64(s->l, limit);
        if (r == 0)
                r = send_chunks(s, path, in, !S_ISREG(st->st_mode), limit, &d, &size);
        if (r == 0) {
                file_digest_final(&d, sum);
                if ((r = archive_put_u32(s->l, 0)) == 0 && (r = archive_put_u64(s->l, size)) == 0)
                        r = archive_put(s->l, sum, file_digest_len(version));
        }
        file_digest_done(&d);
        return r > 0 ? 0 : r;
}

/* ---- links and directories ---- */

static void skip(struct sender *s, const char *path, const char *why) {
        copy_report(s->o, &s->p, "skipping '%s%s': %s", s->o->prefix, path, why);
        s->failed = 1;
}

static int send_link(struct sender *s, int dfd, const char *name, const char *path, const struct stat *st) {
        char target[LINK_TARGET_MAX + 2];
        ssize_t n;
        int r;

        if (!archive_announces(s->o->version)) {
                skip(s, path, "a symbolic link, which a peer of this protocol version cannot copy");
                return 0;
        }
        n = readlinkat(dfd, name, target, sizeof(target));
        if (n < 0 || n == 0 || (size_t) n > LINK_TARGET_MAX) {
                skip(s, path, n < 0 ? strerror(errno) : "a symbolic link whose target is too long");
                return 0;
        }
        if ((r = archive_put_meta(s->l, REC_LINK, st, name)) < 0 || (r = archive_put_u16(s->l, (uint16_t) n)) < 0)
                return r;
        return archive_put(s->l, target, (size_t) n);
}

static int send_child(struct sender *s, int dfd, const char *name, const char *path, int depth);

/* Sends directory fd (closed here) as name with its entries. */
static int send_dir(struct sender *s, int fd, const struct stat *st, const char *path, const char *name, int depth) {
        _cleanup_close_ int dfd = fd;
        char **names = NULL;
        size_t n = 0;
        int r;

        if (depth >= DEPTH_MAX) {
                skip(s, path, "nested too deep");
                return 0;
        }
        r = list_dir(dfd, &names, &n);
        if (r < 0) {
                copy_report(s->o, &s->p, "cannot copy '%s%s': %s", s->o->prefix, path, strerror(-r));
                s->failed = 1;
                return 0;
        }
        r = archive_put_meta(s->l, REC_DIR, st, name);
        if (r == 0 && archive_announces(s->o->version))
                r = archive_put_u32(s->l, (uint32_t) n);
        for (size_t i = 0; r == 0 && i < n; i++) {
                _cleanup_free_ char *child = NULL;

                if (asprintf(&child, "%s%s%s", path, path[strlen(path) - 1] == '/' ? "" : "/", names[i]) < 0)
                        r = -ENOMEM;
                else
                        r = send_child(s, dfd, names[i], child, depth + 1);
        }
        names_free(names, n);
        return r < 0 ? r : archive_put_u8(s->l, REC_UP);
}

/* An entry inside a tree: looked at and opened without following links. */
static int send_child(struct sender *s, int dfd, const char *name, const char *path, int depth) {
        struct stat st;
        int fd;

        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                copy_report(s->o, &s->p, "cannot copy '%s%s': %s", s->o->prefix, path, strerror(errno));
                s->failed = 1;
                return 0;
        }
        if (S_ISLNK(st.st_mode))
                return send_link(s, dfd, name, path, &st);
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
                skip(s, path, "not a regular file, directory or symbolic link");
                return 0;
        }
        /* O_NONBLOCK: should a pipe have been swapped in since, opening it
         * must not wait for a writer; fstat below then says what it is. */
        fd = openat_nofollow(dfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0);
        if (fd < 0 || fstat(fd, &st) < 0) {
                copy_report(s->o, &s->p, "cannot open '%s%s': %s", s->o->prefix, path,
                            strerror(fd < 0 ? -fd : errno));
                s->failed = 1;
                safe_close(fd);
                return 0;
        }
        if (S_ISDIR(st.st_mode))
                return send_dir(s, fd, &st, path, name, depth);
        if (!S_ISREG(st.st_mode)) {
                safe_close(fd);
                skip(s, path, "not a regular file, directory or symbolic link");
                return 0;
        }
        return send_file(s, path, fd, &st, name, false);
}

/* A source named on the command line: resolved like cp resolves it. A
 * pipe or device there is copied as a stream (opening a pipe waits for its
 * writer, while hvsock-sessiond watches for the client going away). */
static int send_source(struct sender *s, const char *path, const char *name) {
        struct stat st;
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

        if (fd < 0 || fstat(fd, &st) < 0) {
                copy_report(s->o, &s->p, "cannot copy '%s%s': %s", s->o->prefix, path, strerror(errno));
                s->failed = 1;
                safe_close(fd);
                return 0;
        }
        if (S_ISDIR(st.st_mode)) {
                if (!(s->o->flags & SESSION_COPY_RECURSIVE)) {
                        safe_close(fd);
                        copy_report(s->o, &s->p, "cannot copy '%s%s': it is a directory (use -r)", s->o->prefix, path);
                        s->failed = 1;
                        return 0;
                }
                return send_dir(s, fd, &st, path, name, 0);
        }
        if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode)) {
                safe_close(fd);
                skip(s, path, "not a regular file or directory");
                return 0;
        }
        return send_file(s, path, fd, &st, name, true);
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
                total += source_size(sources[i], o->flags & SESSION_COPY_RECURSIVE);
        s->p.total = total;
        r = archive_put_u8(l, REC_TOTAL);
        if (r == 0)
                r = archive_put_u64(l, total);
        for (size_t i = 0; r == 0 && i < n; i++) {
                _cleanup_free_ char *name = archive_source_name(sources[i]);

                if (!name)
                        r = -ENOMEM;
                else if (!archive_name_valid(name)) {
                        copy_report(o, &s->p, "cannot copy '%s%s': name a file or directory by its path, not '%s'",
                                    o->prefix, sources[i], name);
                        s->failed = 1;
                } else
                        r = send_source(s, sources[i], name);
        }
        if (r == 0)
                r = archive_put_u8(l, REC_END);
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
