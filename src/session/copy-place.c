/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "copy-place.h"
#include "fd-util.h"
#include "macro.h"

/* Tries for a free hidden name before giving up. */
#define HIDDEN_TRIES 100

/* The named temporary file a signal handler removes. */
static volatile sig_atomic_t temp_set;
static int temp_dirfd = -1;
static char temp_name[NAME_MAX + 1];

static void temp_cleanup(int sig) {
        if (temp_set)
                unlinkat(temp_dirfd, temp_name, 0);
        signal(sig, SIG_DFL);
        raise(sig);
}

void place_catch_signals(void) {
        signal(SIGINT, temp_cleanup);
        signal(SIGTERM, temp_cleanup);
        signal(SIGHUP, temp_cleanup);
}

/* A hidden name beside name, unguessable so nobody can plant it first
 * (creation uses O_EXCL anyway). The base is cut to stay within NAME_MAX. */
static void hidden_name(char *buf, size_t size, const char *name) {
        uint32_t rnd = 0;

        if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t) sizeof(rnd))
                rnd ^= (uint32_t) getpid() * 2654435761u + (uint32_t) (uintptr_t) &rnd;
        snprintf(buf, size, ".%.200s.hvsock-cp.%08x", name, rnd);
}

int place_temp_open(int dirfd, const char *name, struct place_temp *ret) {
        int fd;

        *ret = (struct place_temp) { .fd = -1, .dirfd = dirfd };
        fd = openat_nofollow(dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
        if (fd >= 0) {
                ret->fd = fd;
                return 0;
        }
        if (fd != -EOPNOTSUPP && fd != -EISDIR && fd != -EINVAL)
                return fd;
        for (int i = 0; i < HIDDEN_TRIES; i++) {
                hidden_name(ret->name, sizeof(ret->name), name);
                fd = openat_nofollow(dirfd, ret->name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
                if (fd == -EEXIST)
                        continue;
                if (fd < 0)
                        return fd;
                ret->fd = fd;
                ret->named = true;
                /* The handler may run between these: it then finds the
                 * old name set, or none, never a torn one. */
                temp_set = 0;
                temp_dirfd = dirfd;
                snprintf(temp_name, sizeof(temp_name), "%s", ret->name);
                temp_set = 1;
                return 0;
        }
        return -EEXIST;
}

/* Links the unnamed file as name (linkat through /proc, which needs no
 * privilege, unlike AT_EMPTY_PATH). linkat never follows or replaces what
 * is at name: -EEXIST then. Returns 0 or -errno. */
static int link_as(const struct place_temp *t, const char *name) {
        char proc[64];

        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", t->fd);
        return linkat(AT_FDCWD, proc, t->dirfd, name, AT_SYMLINK_FOLLOW) < 0 ? negative_errno() : 0;
}

static int link_hidden(const struct place_temp *t, char *hidden, size_t size) {
        int r;

        for (int i = 0; i < HIDDEN_TRIES; i++) {
                hidden_name(hidden, size, "new");
                r = link_as(t, hidden);
                if (r != -EEXIST)
                        return r;
        }
        return -EEXIST;
}

int place_temp_publish(struct place_temp *t, const char *name) {
        char hidden[NAME_MAX + 1];
        int r;

        if (t->named) {
                if (renameat(t->dirfd, t->name, t->dirfd, name) < 0)
                        return negative_errno();
                t->named = false;
                temp_set = 0;
                return 0;
        }
        r = link_as(t, name);
        if (r != -EEXIST)
                return r;
        /* Something is there: replaced by rename from a hidden name, which
         * replaces a link at name instead of writing through it. */
        r = link_hidden(t, hidden, sizeof(hidden));
        if (r < 0)
                return r;
        if (renameat(t->dirfd, hidden, t->dirfd, name) < 0) {
                r = negative_errno();
                (void) unlinkat(t->dirfd, hidden, 0);
                return r;
        }
        return 0;
}

void place_temp_discard(struct place_temp *t) {
        if (t->fd < 0)
                return;
        if (t->named) {
                (void) unlinkat(t->dirfd, t->name, 0);
                t->named = false;
                temp_set = 0;
        }
        t->fd = safe_close(t->fd);
}

int place_dir(int dirfd, const char *name, bool *ret_created) {
        bool created = false;
        int fd;

        if (mkdirat(dirfd, name, 0700) == 0)
                created = true;
        else if (errno != EEXIST)
                return negative_errno();
        /* Whatever is there now is opened only if it is a directory
         * itself: a link (planted before or swapped in since) is refused. */
        fd = openat_nofollow(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (fd == -ELOOP)
                return -ENOTDIR;
        if (fd < 0)
                return fd;
        *ret_created = created;
        return fd;
}

int place_symlink(int dirfd, const char *name, const char *target) {
        char hidden[NAME_MAX + 1];
        int r;

        if (symlinkat(target, dirfd, name) == 0)
                return 0;
        if (errno != EEXIST)
                return negative_errno();
        for (int i = 0;; i++) {
                if (i == HIDDEN_TRIES)
                        return -EEXIST;
                hidden_name(hidden, sizeof(hidden), name);
                if (symlinkat(target, dirfd, hidden) == 0)
                        break;
                if (errno != EEXIST)
                        return negative_errno();
        }
        if (renameat(dirfd, hidden, dirfd, name) < 0) {
                r = negative_errno();
                (void) unlinkat(dirfd, hidden, 0);
                return r;
        }
        return 0;
}
