/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_HVSOCK_H
#define HVSOCK_HVSOCK_H

/*
 * libhvsock: Hyper-V socket addressing (a VM ID and a service ID, both GUIDs)
 * over kernel AF_VSOCK, the hybrid UNIX-socket vsock of Firecracker, Cloud
 * Hypervisor and hvsock-vhost, and a local loopback emulation.
 *
 * Every call returns >= 0 on success and a negative errno (or one of the
 * HVSOCK_E_* codes below) on failure; hvsock_strerror() explains either.
 * The library never prints and never exits. Data sockets are plain file
 * descriptors owned by the caller.
 */

#include <stddef.h>
#include <stdint.h>

#include <hvsock/guid.h>

#ifdef __cplusplus
extern "C" {
#endif

/* AF_HYPERV on Windows; only used to fill the family field. */
#define HVSOCK_AF_HYPERV 34

/* Byte-compatible with SOCKADDR_HV: 36 bytes, VmId at 4, ServiceId at 20. */
struct hvsock_addr {
        uint16_t family;   /* HVSOCK_AF_HYPERV */
        uint16_t reserved; /* zero */
        struct hvsock_guid vm_id;
        struct hvsock_guid service_id;
};

/* Fills *ret with family HVSOCK_AF_HYPERV and the two IDs. */
void hvsock_addr_init(struct hvsock_addr *ret, const struct hvsock_guid *vm_id,
                      const struct hvsock_guid *service_id);

/* Connect timeout bounds in milliseconds (HVSOCKET_CONNECT_TIMEOUT_MAX). */
#define HVSOCK_CONNECT_TIMEOUT_DEFAULT 5000
#define HVSOCK_CONNECT_TIMEOUT_MAX 300000

/* Project-specific errors, returned negated like errno values. */
enum {
        HVSOCK_E_BASE = 10000,
        HVSOCK_E_NO_PORT,         /* the service ID maps to no vsock port */
        HVSOCK_E_UNKNOWN_VM,      /* the VM ID is neither well known nor registered */
        HVSOCK_E_UNKNOWN_SERVICE, /* no such service in the registry */
        HVSOCK_E_NO_TRANSPORT,    /* no enabled transport reaches that address */
        HVSOCK_E_BROADCAST,       /* BROADCAST is not meaningful for streams */
        HVSOCK_E_REGISTRY,        /* the registry file is malformed */
        HVSOCK_E_PROTOCOL,        /* the hybrid muxer answered something unexpected */
        HVSOCK_E_LOCKED,          /* another process held the registry's lock too long */
        HVSOCK_E_MAX,
};

/* Returns a string for a negative errno or -HVSOCK_E_* value, owned by the
 * library. A call of this thread that failed with -HVSOCK_E_REGISTRY leaves
 * where and why for it ("malformed registry: FILE:LINE: what is wrong"),
 * valid until the thread's next call that reads the registry; every other
 * string is static. */
const char *hvsock_strerror(int err);

/* Transports, as a bit mask. */
enum {
        HVSOCK_TRANSPORT_VSOCK = 1u << 0,  /* kernel AF_VSOCK */
        HVSOCK_TRANSPORT_HYBRID = 1u << 1, /* UNIX socket + CONNECT line */
        HVSOCK_TRANSPORT_LOCAL = 1u << 2,  /* UNIX sockets under the runtime dir */
        HVSOCK_TRANSPORT_ALL = 7u,
};

/*
 * A context: configuration directory (HVSOCK_CONFIG_DIR, default /etc/hvsock),
 * runtime directory (HVSOCK_RUNTIME_DIR, default /run/hvsock) and the enabled
 * transports (HVSOCK_TRANSPORTS, a comma-separated list of vsock, hybrid,
 * local; default all). Every call that takes a context accepts NULL for one
 * read from the environment at that moment.
 */
struct hvsock_ctx;

/* Creates a context from the environment. Returns 0 or -errno (-EINVAL for a
 * bad HVSOCK_TRANSPORTS value); the caller owns *ret. */
int hvsock_ctx_new(struct hvsock_ctx **ret);

/* Frees a context (NULL-safe). Returns NULL. */
struct hvsock_ctx *hvsock_ctx_free(struct hvsock_ctx *ctx);

/* Accessors; the strings are owned by the context. */
const char *hvsock_ctx_config_dir(const struct hvsock_ctx *ctx);
const char *hvsock_ctx_runtime_dir(const struct hvsock_ctx *ctx);
uint32_t hvsock_ctx_transports(const struct hvsock_ctx *ctx);

/* Overrides; return 0 or -errno. */
int hvsock_ctx_set_config_dir(struct hvsock_ctx *ctx, const char *dir);
int hvsock_ctx_set_runtime_dir(struct hvsock_ctx *ctx, const char *dir);
int hvsock_ctx_set_transports(struct hvsock_ctx *ctx, uint32_t mask);

/*
 * The owner and group that hvsock_listen() with ctx gives the socket files
 * it makes (local transport: <runtime_dir>/local/<port>; hybrid:
 * <uds>_<port>). Those files are mode 0660 whatever the umask, so their owner
 * and group may connect and nobody else; HVSOCK_ID_KEEP (the default) leaves
 * the caller's euid or egid. Handing a file to another user takes root
 * (CAP_CHOWN): without it hvsock_listen() fails with -EPERM. Returns 0, or
 * -EINVAL when ctx is NULL.
 */
#define HVSOCK_ID_KEEP UINT32_MAX
int hvsock_ctx_set_socket_owner(struct hvsock_ctx *ctx, uint32_t uid, uint32_t gid);

/*
 * Why the last hvsock_listen() with ctx failed, where hvsock_strerror() of
 * its return value cannot say it alone: a sentence that names the file or
 * directory at fault and its owner (a runtime directory or lock file owned by
 * another user, a symlink where one belongs, ...). NULL after a success and
 * after failures that need no more words. Owned by ctx, valid until the next
 * hvsock_listen() with ctx or hvsock_ctx_free().
 */
const char *hvsock_ctx_last_error(const struct hvsock_ctx *ctx);

/* Parses "local,hybrid" style lists into a mask. Returns 0 or -EINVAL. */
int hvsock_transports_parse(const char *s, uint32_t *ret);

/*
 * Connects to addr, waiting at most timeout_ms (0 means the default,
 * values above HVSOCK_CONNECT_TIMEOUT_MAX are -EINVAL). Returns a connected,
 * blocking, close-on-exec stream fd owned by the caller, or a negative error:
 * -ECONNREFUSED when nothing listens, -ETIMEDOUT, -HVSOCK_E_NO_PORT, ...
 */
int hvsock_connect(struct hvsock_ctx *ctx, const struct hvsock_addr *addr, uint32_t timeout_ms);

/*
 * A listener for one service ID on the VM IDs the bind address names
 * (ZERO: every transport; CHILDREN: VMs only; LOOPBACK; PARENT; a registered
 * VM). It may span several sockets and offers one pollable fd.
 */
struct hvsock_listener;

/*
 * Starts listening. Returns 0 or a negative error; the caller owns *ret.
 * Another live listener on one of the sockets, however its path is spelled,
 * is -EADDRINUSE (a socket file <path> comes with a lock file <path>.lock
 * that its listener holds). The runtime directory and its local/ are made
 * mode 0755 when missing; an existing one must be owned by root or the
 * caller and closed to other writers (or sticky), and is never followed as
 * a symlink: otherwise -EPERM or -ELOOP, explained by hvsock_ctx_last_error().
 */
int hvsock_listen(struct hvsock_ctx *ctx, const struct hvsock_addr *bind, int backlog,
                  struct hvsock_listener **ret);

/* Returns the fd that becomes readable when a connection can be accepted.
 * Owned by the listener. */
int hvsock_listener_fd(const struct hvsock_listener *l);

/* Returns the address the listener was bound to (owned by the listener). */
const struct hvsock_addr *hvsock_listener_addr(const struct hvsock_listener *l);

/*
 * Accepts one connection, waiting at most timeout_ms (-1: forever, 0: do not
 * wait, -EAGAIN when none is pending). Returns a blocking, close-on-exec fd
 * owned by the caller; *ret_peer (may be NULL) gets the peer's VM ID and
 * service ID.
 */
int hvsock_accept(struct hvsock_listener *l, int timeout_ms, struct hvsock_addr *ret_peer);

/* Closes every socket of the listener and removes its socket files and their
 * lock files (NULL-safe). Returns NULL. */
struct hvsock_listener *hvsock_listener_free(struct hvsock_listener *l);

#ifdef __cplusplus
}
#endif

#endif
