/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_VHOST_VSOCK_H
#define HVSOCK_VHOST_VSOCK_H

/*
 * The virtio-vsock stream device behind hvsock-vhost: packets on the tx
 * ring (guest -> device) and rx ring (device -> guest), a table of
 * connections keyed by (guest port, host port), each bridged to a UNIX
 * socket on the host (the hybrid vsock interface, PROTOCOLS.md section 4).
 * Guest connections to host port P reach "<uds_path>_<P>" only when the
 * registry has an enabled service on P (and, with vm_name, that VM's policy
 * allows it); anything else gets RST at once.
 */

#include <stdbool.h>
#include <stdint.h>

#include "ev.h"
#include "unix-listener.h"
#include "virtqueue.h"

#define VSOCK_DEFAULT_MAX_CONNECTIONS 1023
#define VSOCK_DEFAULT_TX_BUFFER_SIZE (256 * 1024)

/* Firecracker's timeout, by default: a host client has this long to send its
 * CONNECT line, and its CONNECT then waits this long for the guest's RESPONSE
 * (in both cases the client is then closed silently); after we shut a
 * connection down both ways (the host closed it) the guest's RST is awaited
 * this long (then we send RST and free it). */
#define VSOCK_DEFAULT_TIMEOUT_MS 2000

/* Host clients still to send their CONNECT line: more wait in the listen
 * backlog until one is done (admit.h), so clients that connect and say
 * nothing cannot take every connection slot (or fd) from working
 * connections, and none is closed unheard. */
#define VSOCK_DEFAULT_MAX_PENDING_CLIENTS 64

/* The hybrid socket reaches every guest port: its owner and group (an
 * operators' group, hvsock-vhost --group) may connect, nobody else. */
#define VSOCK_UDS_MODE 0660

struct vsock_dev_config {
        uint32_t guest_cid;
        const char *uds_path;   /* host side listener and "<uds_path>_<port>" targets */
        /* Who may connect to uds_path (copied); NULL: VSOCK_UDS_MODE, our
         * uid and gid. */
        const struct unix_access *uds_access;
        const char *config_dir; /* where registry.conf lives */
        const char *vm_name;    /* NULL: only the services' global switches count */
        unsigned max_connections;
        uint32_t tx_buffer_size; /* bytes buffered per connection towards the host */
        unsigned max_pending_clients; /* 0: VSOCK_DEFAULT_MAX_PENDING_CLIENTS */
        unsigned timeout_ms;          /* 0: VSOCK_DEFAULT_TIMEOUT_MS */
};

struct vsock_stats {
        uint64_t dropped_cid;       /* packets whose src_cid was not the guest's */
        uint64_t dropped_malformed; /* chains too short for a header or its length */
        uint64_t rst_sent;
        uint64_t rst_dropped;       /* RSTs lost to a full control queue */
        uint64_t refused;           /* guest connects refused (registry, no listener, limit) */
        uint64_t timeouts;          /* connections ended by the line, connect or shutdown timeout */
        uint64_t refused_max_connections;      /* of refused, those at max_connections */
        uint64_t host_refused_max_connections; /* host clients refused at max_connections */
        uint64_t host_accept_paused; /* times the host listener stopped at max_pending_clients (clients wait in its backlog) */
        uint64_t host_accept_starved; /* times accepting ran out of descriptors or memory (clients wait in the backlog) */
};

struct vsock_dev;

/* Creates the device; it uses rx and tx (owned by the caller) and the loop.
 * Strings in cfg are copied. Returns 0 or -errno; the caller frees *ret. */
int vsock_dev_new(const struct vsock_dev_config *cfg, struct ev_loop *loop, struct vq *rx,
                  struct vq *tx, struct vsock_dev **ret);

/* NULL-safe; closes every connection and the listener. Returns NULL. */
struct vsock_dev *vsock_dev_free(struct vsock_dev *d);

/* Listens on cfg->uds_path for host programs (unix_listen(): a lock file
 * beside it, cfg->uds_access applied before anyone can connect). Returns 0 or
 * -errno, with a message in *ret_error (may be NULL) when unix_listen() gave
 * one. */
int vsock_dev_listen(struct vsock_dev *d, char **ret_error);

/* The guest kicked tx (or the ring started): handle every queued packet. */
void vsock_dev_process_tx(struct vsock_dev *d);

/* The guest kicked rx, or something waits for it: fill rx buffers. */
void vsock_dev_process_rx(struct vsock_dev *d);

/* Signals the guest (call eventfds, EVENT_IDX rules) for buffers used since
 * the last call: rx at once, tx in bulk (see vsock.c). Call after each loop
 * turn, before waiting again for at most vsock_dev_timeout_ms(). */
void vsock_dev_notify(struct vsock_dev *d);

/* How long the loop may wait before vsock_dev_notify owes a call, or a
 * listener resting for want of descriptors is watched again (admit.h): -1
 * for as long as it likes, else milliseconds (for epoll_wait). */
int vsock_dev_timeout_ms(struct vsock_dev *d);

/* The driver went away (QEMU disconnected, or the device was stopped or
 * reset): close every host socket and drop every connection without telling
 * the guest. Safe inside an event handler: the memory goes
 * at the next vsock_dev_gc(). */
void vsock_dev_reset(struct vsock_dev *d);

/* Frees connections closed since the last call. Call after each loop turn. */
void vsock_dev_gc(struct vsock_dev *d);

unsigned vsock_dev_connections(const struct vsock_dev *d);
const struct vsock_stats *vsock_dev_stats(const struct vsock_dev *d);

#endif
