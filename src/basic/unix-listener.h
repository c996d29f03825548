/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_BASIC_UNIX_LISTENER_H
#define HVSOCK_BASIC_UNIX_LISTENER_H

/*
 * Listening UNIX stream sockets at a path, the one implementation every
 * listener of the project uses (the local and hybrid transports,
 * hvsock-vhost's two sockets).
 *
 * Who listens at PATH is decided by a lock, not by the path's spelling:
 * beside the socket lives "PATH.lock" (a lock file of fs-safe.h: 0600, ours,
 * never a symlink), and the listener holds flock(LOCK_EX) on it for its
 * whole life. flock is on the inode, so a second listener that reaches the
 * same file by another spelling (a trailing slash, "dir/../dir", a symlinked
 * directory) fails at once with -EADDRINUSE, and one that gets the lock
 * knows that a socket file at PATH was left by a listener that died: it
 * removes it (only if it is a socket) and binds. No connection is made to
 * find out, which a live listener would accept as a client.
 *
 * A listener of another program holds no such lock. So that one is not taken
 * over either, a socket file is also kept when the kernel's socket table
 * (sock_diag) has a listening socket bound to that very inode; where the
 * table cannot be read, the lock alone decides.
 *
 * Who may connect is set explicitly, never left to the umask: the mode (and
 * owner and group) are applied to the socket file after bind() and before
 * listen(), and a socket that is bound but not listening refuses every
 * connection, so nobody gets in under the umask's mode. The socket is bound
 * under a temporary name beside PATH and renamed to PATH once it listens, so
 * a client that sees PATH appear can connect at once (QEMU started by a
 * script that waited for the file).
 */

#include <sys/types.h>

struct unix_access {
        mode_t mode; /* permission bits of the socket file, e.g. 0600 or 0660 */
        uid_t uid;   /* owner, or (uid_t) -1 to keep ours */
        gid_t gid;   /* group, or (gid_t) -1 to keep ours */
};

struct unix_listener {
        int fd;      /* the listening socket: non-blocking, close-on-exec */
        int lock_fd; /* holds flock(LOCK_EX) on "<path>.lock" while we listen */
        char *path;  /* the socket file */
};

/* An initializer; assign it as (struct unix_listener) UNIX_LISTENER_NULL. */
#define UNIX_LISTENER_NULL { .fd = -1, .lock_fd = -1, .path = NULL }

/*
 * Listens at path with access (NULL: mode 0600, our owner and group). A live
 * listener at path, whatever it is called there, or a file at path that is
 * not a socket, is -EADDRINUSE; a lock file of another user's, or a symlink
 * at "<path>.lock", is refused (lock_file_open()). On failure nothing we made
 * is left behind and *ret_error (may be NULL) may get a message naming the
 * file at fault; on success *ret holds the socket, the lock and a copy of
 * path, for unix_listener_close().
 */
int unix_listen(const char *path, int backlog, const struct unix_access *access, struct unix_listener *ret,
                char **ret_error);

/* Removes the socket file and then its lock file, and only then closes both,
 * so a successor never finds our files without our lock. Leaves *l
 * UNIX_LISTENER_NULL; fine to call again, and on a listener with no path
 * (just closes fd). */
void unix_listener_close(struct unix_listener *l);

#endif
