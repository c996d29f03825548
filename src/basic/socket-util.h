/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_BASIC_SOCKET_UTIL_H
#define HVSOCK_BASIC_SOCKET_UTIL_H

#include <sys/socket.h>
#include <sys/un.h>

/* Builds a filesystem sockaddr_un for path. Rejects empty and over-long paths
 * (-ENAMETOOLONG) instead of truncating. Returns 0 and the address length in
 * *ret_len. */
int sockaddr_un_set(struct sockaddr_un *ret, socklen_t *ret_len, const char *path);

/* Connects fd (non-blocking) and waits up to timeout_ms for the result.
 * Returns 0, -ETIMEDOUT, or the connect error (-ECONNREFUSED, -ENOENT...). */
int connect_wait(int fd, const struct sockaddr *sa, socklen_t len, int timeout_ms);

/* Binds and listens a UNIX stream socket at path. A stale socket file that
 * nobody listens on is replaced; a live one is -EADDRINUSE. Returns a
 * non-blocking close-on-exec fd or -errno. */
int unix_listen(const char *path, int backlog);

#endif
