/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_BASIC_FS_SAFE_H
#define HVSOCK_BASIC_FS_SAFE_H

/*
 * Files and directories that other users cannot take from us: lock files
 * and runtime directories.
 *
 * flock() needs nothing but an open file, and anyone who may open a file
 * read-only may lock it, so a lock that other users can open is a lock they
 * can keep from us forever. Ours are mode 0600, owned by our euid, and never
 * reached through a symlink. A directory we create sockets and lock files in
 * must likewise be ours (or root's) and closed to other writers, or they
 * could put their own files (or a symlink elsewhere) where ours go.
 *
 * The functions that refuse a file put a message naming it (and its owner)
 * in *ret_error when ret_error is not NULL; the caller frees it.
 */

#include <sys/types.h>

/* Opens the lock file at path read-write, creating it mode 0600, without
 * following a symlink at path (-ELOOP). It must be a regular file (-EEXIST
 * otherwise) owned by our euid (-EPERM otherwise): a lock file of somebody
 * else's is refused, not used. One of ours that group or others may open,
 * as older versions made them, is set to 0600. Returns a close-on-exec fd. */
int lock_file_open(const char *path, char **ret_error);

/* Takes flock(LOCK_EX) on fd, trying again after pauses that grow from 1 ms
 * to 100 ms for at most timeout_ms (0: one try). Returns 0, or -EWOULDBLOCK
 * when another open file still holds the lock at the end. */
int lock_file_wait(int fd, int timeout_ms);

/*
 * For lock files that their holder unlinks before releasing them (the
 * "<socket>.lock" of a listener): opens path as lock_file_open() does and
 * takes the lock without waiting. A holder may unlink the file between our
 * open and our lock, leaving us a lock on a file nobody else will ever open;
 * so once locked, the fd must still be the file at path, or we start over
 * with the new one. Returns the locked fd, -EWOULDBLOCK when another holds
 * the lock, or a lock_file_open() error.
 */
int lock_file_take(const char *path, char **ret_error);

/*
 * Opens the directory path, creating it first when missing with exactly
 * mode (the umask does not apply). Its last component is never followed as
 * a symlink (-ELOOP); the components before it are the caller's
 * configuration and are resolved as usual, missing ones created as mkdir -p
 * would. The directory must be owned by root or by our euid, and not
 * writable by group or others unless it is sticky (like /tmp): anything
 * else is -EPERM, so another user cannot hand us a directory they control.
 * Returns a close-on-exec O_DIRECTORY fd.
 */
int dir_open_safe(const char *path, mode_t mode, char **ret_error);

#endif
