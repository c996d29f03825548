/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_BASIC_FD_UTIL_H
#define HVSOCK_BASIC_FD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Sets or clears O_NONBLOCK. Returns 0 or -errno. */
int fd_set_nonblock(int fd, bool nonblock);

/* Waits up to timeout_ms (-1 forever) for events on fd, retrying on EINTR.
 * Returns the revents (> 0), 0 on timeout, or -errno. */
int fd_wait(int fd, short events, int timeout_ms);

/* Writes all of buf, retrying short writes and EINTR. Returns 0 or -errno. */
int write_all(int fd, const void *buf, size_t len);

/* Reads exactly len bytes. Returns 0, -EPIPE on early EOF, or -errno. */
int read_exact(int fd, void *buf, size_t len);

/* Closes every descriptor from 3 up except the n in keep (any order), for a
 * forked child that goes on without exec and must not hold its parent's
 * descriptors open. Returns 0 or -errno. */
int close_all_fds_but(const int *keep, size_t n);

/* Opens /dev/null on whichever of descriptors 0, 1 and 2 the caller left
 * closed, so that no socket or pipe opened later lands on one of them. */
void open_std_fds(void);

/* Creates path and its missing parents with mode (before umask). Returns 0
 * (also when it exists) or -errno. */
int mkdir_p(const char *path, mode_t mode);

/* Opens name relative to dirfd without following a symbolic link anywhere
 * and without leaving dirfd: openat2() with RESOLVE_BENEATH,
 * RESOLVE_NO_SYMLINKS and RESOLVE_NO_MAGICLINKS, or openat() with
 * O_NOFOLLOW where the kernel has no openat2() (the same for the single
 * names callers pass). Returns the fd (the caller owns it) or -errno:
 * -ELOOP when name is a link, -EXDEV when it leads outside dirfd. */
int openat_nofollow(int dirfd, const char *name, int flags, mode_t mode);

/* Raises the soft limit of open descriptors to the hard one, for a daemon
 * that holds one per connection and never execs (its children would inherit
 * a limit select() cannot live with). Returns the limit now in force
 * (capped at INT_MAX) or -errno. */
int rlimit_nofile_raise(void);

#endif
