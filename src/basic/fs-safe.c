/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error-util.h"
#include "fd-util.h"
#include "fs-safe.h"
#include "macro.h"
#include "string-util.h"
#include "time-util.h"

/* A lock file that keeps changing under us is somebody's doing, not a race:
 * a few turns are plenty for honest listeners coming and going. */
#define LOCK_TAKE_TRIES 16

/* Explains err, from opening the last component of path (name in dirfd)
 * with O_NOFOLLOW: a symlink there is the usual reason. */
static int refuse_nofollow(int dirfd, const char *name, const char *path, int err, char **ret_error) {
        struct stat st;

        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
                return error_set(ret_error, -ELOOP, "'%s' is a symbolic link: refusing to follow it", path);
        if (err == -ENOTDIR)
                return error_set(ret_error, err, "'%s' is not a directory", path);
        if (err == -EISDIR)
                return error_set(ret_error, err, "'%s' is a directory", path);
        return err;
}

int lock_file_open(const char *path, char **ret_error) {
        _cleanup_close_ int fd = -1;
        struct stat st;

        fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
        if (fd < 0)
                return refuse_nofollow(AT_FDCWD, path, path, negative_errno(), ret_error);
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return error_set(ret_error, -EEXIST, "lock file '%s' is not a regular file", path);
        if (st.st_uid != geteuid())
                return error_set(ret_error, -EPERM,
                                 "lock file '%s' is owned by uid %u, not by uid %u: another user could hold it; remove it",
                                 path, (unsigned) st.st_uid, (unsigned) geteuid());
        /* Left readable by an older version: whoever has it open already
         * keeps it, but nobody opens it again. */
        if ((st.st_mode & 077) && fchmod(fd, 0600) < 0)
                return negative_errno();
        return TAKE_FD(fd);
}

static void sleep_ms(unsigned ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };

        (void) nanosleep(&ts, NULL);
}

/* One flock(LOCK_EX | LOCK_NB). Returns 0, -EWOULDBLOCK or -errno. */
static int lock_try(int fd) {
        for (;;) {
                if (flock(fd, LOCK_EX | LOCK_NB) == 0)
                        return 0;
                if (errno != EINTR)
                        return errno == EAGAIN ? -EWOULDBLOCK : negative_errno();
        }
}

int lock_file_wait(int fd, int timeout_ms) {
        uint64_t deadline = now_ms() + (uint64_t) (timeout_ms > 0 ? timeout_ms : 0);
        unsigned pause = 1;

        /* Never a blocking flock: nothing could end its wait. */
        for (;;) {
                int r = lock_try(fd), left;

                if (r != -EWOULDBLOCK)
                        return r;
                left = ms_left(deadline);
                if (left == 0)
                        return -EWOULDBLOCK;
                sleep_ms(pause < (unsigned) left ? pause : (unsigned) left);
                if (pause < 100)
                        pause = pause * 2 > 100 ? 100 : pause * 2;
        }
}

/* Whether fd is still the file at path. */
static int same_file_at(int fd, const char *path) {
        struct stat a, b;

        if (fstat(fd, &a) < 0)
                return negative_errno();
        if (lstat(path, &b) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int lock_file_take(const char *path, char **ret_error) {
        for (int i = 0; i < LOCK_TAKE_TRIES; i++) {
                _cleanup_close_ int fd = lock_file_open(path, ret_error);
                int r;

                if (fd < 0)
                        return fd;
                r = lock_try(fd);
                if (r < 0)
                        return r;
                r = same_file_at(fd, path);
                if (r < 0)
                        return r;
                if (r > 0)
                        return TAKE_FD(fd);
                /* We locked a file its holder had just removed: the lock
                 * that counts is on the one at path now. */
        }
        return -EWOULDBLOCK;
}

/* Opens name in dirfd (a directory), creating it with exactly mode when
 * missing and never following a symlink there. */
static int dir_open_nofollow(int dirfd, const char *name, const char *path, mode_t mode, char **ret_error) {
        _cleanup_close_ int fd = -1;
        bool created;
        struct stat st;

        created = mkdirat(dirfd, name, mode) == 0;
        if (!created && errno != EEXIST)
                return negative_errno();
        fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return refuse_nofollow(dirfd, name, path, negative_errno(), ret_error);
        if (fstat(fd, &st) < 0)
                return negative_errno();
        /* The umask took bits off what we asked for; we want exactly mode. */
        if (created && st.st_uid == geteuid() && (st.st_mode & 07777) != mode) {
                if (fchmod(fd, mode) < 0)
                        return negative_errno();
                st.st_mode = (st.st_mode & ~07777u) | mode;
        }
        if (st.st_uid != 0 && st.st_uid != geteuid())
                return error_set(ret_error, -EPERM,
                                 "directory '%s' is owned by uid %u, neither root nor uid %u: refusing to use it",
                                 path, (unsigned) st.st_uid, (unsigned) geteuid());
        if ((st.st_mode & 022) && !(st.st_mode & S_ISVTX))
                return error_set(ret_error, -EPERM,
                                 "directory '%s' may be written by group or others (mode %04o, not sticky): refusing to use it",
                                 path, (unsigned) (st.st_mode & 07777));
        return TAKE_FD(fd);
}

int dir_open_safe(const char *path, mode_t mode, char **ret_error) {
        _cleanup_free_ char *parent = NULL, *name = NULL;
        _cleanup_close_ int pfd = -1;
        int r;

        if (!path || !*path)
                return -EINVAL;
        r = path_split(path, &parent, &name);
        if (r < 0)
                return r;
        r = mkdir_p(parent, 0755);
        if (r < 0)
                return r;
        pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (pfd < 0)
                return negative_errno();
        return dir_open_nofollow(pfd, name, path, mode, ret_error);
}
