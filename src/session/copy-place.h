/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_SESSION_COPY_PLACE_H
#define HVSOCK_SESSION_COPY_PLACE_H

/*
 * Where a received entry lands. Every entry is made by one name relative to
 * the fd of the directory that holds it, never by a path, and no symbolic
 * link is followed: there is no path to follow one on (each level is an fd
 * opened with O_NOFOLLOW), a link at the name itself is replaced by a file
 * or a link (never written through), and where a directory is wanted it is
 * refused. So a link planted in the destination by someone else (another
 * user of the machine, or the peer earlier in the same archive) cannot send
 * a copy outside it.
 */

#include <limits.h>
#include <stdbool.h>

/* A file being received: unnamed (O_TMPFILE) in dirfd, or where the file
 * system has none, a hidden name there that a catchable signal removes. */
struct place_temp {
        int fd;    /* -1: none */
        int dirfd; /* not owned */
        bool named;
        char name[NAME_MAX + 1];
};

/* Opens the temporary file that is to become name in dirfd. Returns 0 or -errno. */
int place_temp_open(int dirfd, const char *name, struct place_temp *ret);
/* Gives the finished temporary file name in its directory, replacing a
 * file or a link there (a directory there: -EISDIR). Returns 0 or -errno;
 * the file is still the caller's to discard either way. */
int place_temp_publish(struct place_temp *t, const char *name);
/* Closes the temporary file and removes it if it is still there by its
 * hidden name. NULL-safe on t->fd < 0. */
void place_temp_discard(struct place_temp *t);

/* Opens directory name in dirfd, creating it (mode 0700) when missing;
 * *ret_created says which. Returns the fd (the caller owns it), -ENOTDIR
 * when something else is there (a link to a directory included), or -errno. */
int place_dir(int dirfd, const char *name, bool *ret_created);

/* Makes name in dirfd a symbolic link to target, replacing a file or a link
 * there by rename (a directory there: -EISDIR). Returns 0 or -errno. */
int place_symlink(int dirfd, const char *name, const char *target);

/* Removes the hidden temporary file, if any, when SIGINT, SIGTERM or SIGHUP
 * ends the process (SIGKILL cannot be caught: O_TMPFILE is tried first). */
void place_catch_signals(void);

#endif
