/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_LIB_TRANSPORT_H
#define HVSOCK_LIB_TRANSPORT_H

/*
 * The three transports below the GUID addressing. All return -errno on
 * failure, blocking close-on-exec fds from connect and non-blocking
 * close-on-exec listening fds from listen.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "unix-listener.h"

/* The mode of the socket files the local and hybrid listeners make: their
 * owner and group may connect (hvsock_ctx_set_socket_owner()). */
#define HVSOCK_SOCKET_MODE 0660

/* Kernel AF_VSOCK. Tests on the build machines only create a socket (no
 * connect, bind or listen).
 *
 * Linux's virtio-vsock grants its peer as much credit as the receiving
 * socket's buffer (256 KiB by default) and announces what its reader consumed
 * only once less than 64 KiB of it is left, so a sender whose credit updates
 * take long to arrive (a guest's interrupt path under emulation) stalls on
 * each. 1 MiB makes those round trips a fifth as frequent; it is a cap on
 * queued bytes, not memory set aside. docs/benchmarks.md has the figures. */
#define HVSOCK_VSOCK_BUFFER_SIZE (1024u * 1024u)

/* A new non-blocking AF_VSOCK stream socket with that buffer size. Returns
 * the fd (the caller owns it) or -errno. */
int hvsock__vsock_socket(void);
int hvsock__vsock_connect(uint32_t cid, uint32_t port, int timeout_ms);
int hvsock__vsock_listen(uint32_t port, int backlog); /* bound to VMADDR_CID_ANY */
/* Accepts one connection; *ret_cid, *ret_port are the peer's. -EAGAIN when none. */
int hvsock__vsock_accept(int listen_fd, uint32_t *ret_cid, uint32_t *ret_port);
/* Whether AF_VSOCK sockets can be made here, and whether CID 1 reaches this
 * machine (the vsock_loopback module), judged without connecting anywhere. */
bool hvsock__vsock_available(void);
bool hvsock__vsock_has_loopback(void);

/* Hybrid vsock (Firecracker, Cloud Hypervisor, hvsock-vhost): see PROTOCOLS.md 4. */
/* Connects to uds, sends "CONNECT <port>\n", reads "OK <n>\n" byte by byte.
 * A close without reply is -ECONNREFUSED; a malformed reply -HVSOCK_E_PROTOCOL.
 * *ret_host_port (may be NULL) gets n. */
int hvsock__hybrid_connect(const char *uds, uint32_t port, int timeout_ms, uint32_t *ret_host_port);
/* Listens at "<uds>_<port>" for connections the muxer forwards from the
 * guest, as unix_listen() does (*ret and *ret_error as there). */
int hvsock__hybrid_listen(const char *uds, uint32_t port, int backlog, const struct unix_access *access,
                          struct unix_listener *ret, char **ret_error);
/* Writes "<uds>_<port>" into buf. Returns 0 or -ENAMETOOLONG. */
int hvsock__hybrid_listen_path(const char *uds, uint32_t port, char *buf, size_t size);

/* Incremental reader of the "OK <n>\n" reply, fed one byte at a time so no
 * application data after the newline is consumed. Start from a zeroed struct.
 * The reply is "OK" (any case), one space, decimal digits of a u32 and '\n',
 * at most HVSOCK_OKLINE_MAX bytes with the newline. */
#define HVSOCK_OKLINE_MAX 31
struct hvsock_okline {
        char buf[32];
        size_t len;
};
/* Returns 0 when more bytes are needed, 1 when the line is complete and valid
 * (*ret_port set), -HVSOCK_E_PROTOCOL when it cannot become valid. Once it
 * returned non-zero, further bytes are -HVSOCK_E_PROTOCOL. */
int hvsock__okline_feed(struct hvsock_okline *s, char c, uint32_t *ret_port);

/* Local transport: UNIX sockets under <runtime_dir>/local/<port>. The client
 * autobinds an abstract name so the listener learns a peer port. */
int hvsock__local_connect(const char *runtime_dir, uint32_t port, int timeout_ms);
/* Listens at <runtime_dir>/local/<port> as unix_listen() does. Both
 * directories are made if missing and must be safe (dir_open_safe()). */
int hvsock__local_listen(const char *runtime_dir, uint32_t port, int backlog, const struct unix_access *access,
                         struct unix_listener *ret, char **ret_error);
/* Writes "<runtime_dir>/local/<port>" into buf. Returns 0 or -ENAMETOOLONG. */
int hvsock__local_path(const char *runtime_dir, uint32_t port, char *buf, size_t size);
/* Accepts one connection; *ret_port gets the peer's autobind port, or
 * HVSOCK_PEER_PORT_UNKNOWN for a client that did not autobind (socat, ...).
 * -EAGAIN when none. */
#define HVSOCK_PEER_PORT_UNKNOWN UINT32_MAX
int hvsock__local_accept(int listen_fd, uint32_t *ret_port);

/* Accepts on a plain UNIX listener (hybrid). -EAGAIN when none. */
int hvsock__unix_accept(int listen_fd);

#endif
