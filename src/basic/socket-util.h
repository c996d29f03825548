/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_BASIC_SOCKET_UTIL_H
#define HVSOCK_BASIC_SOCKET_UTIL_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

/* Builds a filesystem sockaddr_un for path. Rejects empty and over-long paths
 * (-ENAMETOOLONG) instead of truncating. Returns 0 and the address length in
 * *ret_len. */
int sockaddr_un_set(struct sockaddr_un *ret, socklen_t *ret_len, const char *path);

/* Connects fd (non-blocking) and waits up to timeout_ms for the result.
 * Returns 0, -ETIMEDOUT, or the connect error (-ECONNREFUSED, -ENOENT...). */
int connect_wait(int fd, const struct sockaddr *sa, socklen_t len, int timeout_ms);

/*
 * Connects a blocking UNIX stream socket, waiting at most timeout_ms (> 0)
 * while the listener's backlog is full. UNIX connects never complete in the
 * background: a non-blocking one just fails with EAGAIN and cannot be polled,
 * so the wait is the kernel's own, bounded with SO_SNDTIMEO (reset to none
 * before returning). Returns 0, -ETIMEDOUT or the connect error (-ENOENT,
 * -ECONNREFUSED...).
 */
int unix_connect_timeout(int fd, const struct sockaddr_un *sa, socklen_t len, int timeout_ms);

/* Sends all of buf with MSG_NOSIGNAL (a closed peer is -EPIPE, never
 * SIGPIPE), retrying short sends and EINTR. Returns 0 or -errno. */
int send_all(int fd, const void *buf, size_t len);

#endif
