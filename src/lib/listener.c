/* SPDX-License-Identifier: MIT */
/*
 * A listener for one service ID, spanning every socket its bind VM ID names:
 * kernel vsock (filtered by peer CID), the local transport, and one
 * "<uds>_<port>" socket per hybrid VM. One epoll fd over them is the
 * pollable fd the caller sees.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <hvsock/hvsock.h>

#include "ctx.h"
#include "macro.h"
#include "registry.h"
#include "resolve.h"
#include "time-util.h"
#include "transport.h"
#include "unix-listener.h"

/* Which vsock peers a vsock member keeps. */
enum cid_filter {
        CID_FILTER_ANY,      /* ZERO: everybody */
        CID_FILTER_CHILDREN, /* CHILDREN: guests only (CID > 2) */
        CID_FILTER_EXACT,    /* one CID: PARENT, LOOPBACK, a registered VM */
};

struct member {
        /* The socket; for local and hybrid also its file and lock file,
         * removed on free. */
        struct unix_listener sock;
        uint32_t transport;   /* one HVSOCK_TRANSPORT_* bit */
        enum cid_filter filter; /* VSOCK */
        uint32_t cid;         /* VSOCK with CID_FILTER_EXACT */
        struct hvsock_guid vm_id; /* HYBRID: the VM the muxer forwards for */
};

struct hvsock_listener {
        int epoll_fd;
        struct hvsock_addr addr;
        uint32_t port;
        int backlog;
        /* The registry as it was at listen time: names vsock peers by CID. */
        struct hvsock_registry *registry;
        /* Who may connect to the socket files we make (from the context). */
        struct unix_access access;
        /* Why a socket file could not be made, for hvsock_ctx_last_error(). */
        char *error;
        struct member *members;
        size_t n_members;
        /* Where the next accept starts looking, so one busy socket cannot
         * starve the others. */
        size_t next;
};

/* Takes ownership of sock, also on failure. */
static int listener_add(struct hvsock_listener *l, struct unix_listener *sock, const struct member *tmpl) {
        struct epoll_event ev = { .events = EPOLLIN };
        struct member *m;

        m = reallocarray(l->members, l->n_members + 1, sizeof(*m));
        if (!m) {
                unix_listener_close(sock);
                return -ENOMEM;
        }
        l->members = m;
        m = &l->members[l->n_members++];
        *m = *tmpl;
        m->sock = *sock;
        *sock = (struct unix_listener) UNIX_LISTENER_NULL;
        ev.data.u64 = l->n_members - 1;
        if (epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, m->sock.fd, &ev) < 0)
                return negative_errno();
        return 0;
}

static int add_vsock(struct hvsock_listener *l, enum cid_filter filter, uint32_t cid) {
        const struct member tmpl = { .transport = HVSOCK_TRANSPORT_VSOCK, .filter = filter, .cid = cid };
        struct unix_listener sock = UNIX_LISTENER_NULL;

        sock.fd = hvsock__vsock_listen(l->port, l->backlog);
        if (sock.fd < 0)
                return sock.fd;
        return listener_add(l, &sock, &tmpl);
}

static int add_local(struct hvsock_listener *l, const struct hvsock_ctx *ctx) {
        const struct member tmpl = { .transport = HVSOCK_TRANSPORT_LOCAL };
        struct unix_listener sock;
        int r;

        r = hvsock__local_listen(ctx->runtime_dir, l->port, l->backlog, &l->access, &sock, &l->error);
        if (r < 0)
                return r;
        return listener_add(l, &sock, &tmpl);
}

static int add_hybrid(struct hvsock_listener *l, const struct hvsock_vm *vm) {
        const struct member tmpl = { .transport = HVSOCK_TRANSPORT_HYBRID, .vm_id = vm->id };
        struct unix_listener sock;
        int r;

        r = hvsock__hybrid_listen(vm->uds, l->port, l->backlog, &l->access, &sock, &l->error);
        if (r < 0)
                return r;
        return listener_add(l, &sock, &tmpl);
}

/* One hybrid listener per registered VM reached by UDS. */
static int add_hybrid_vms(struct hvsock_listener *l) {
        for (size_t i = 0; i < l->registry->n_vms; i++) {
                const struct hvsock_vm *vm = &l->registry->vms[i];
                int r;

                if (!vm->uds)
                        continue;
                r = add_hybrid(l, vm);
                /* A wildcard spans what this side has: a VM whose socket
                 * directory does not exist (not started) or whose
                 * "<uds>_<port>" cannot fit in sun_path is left out rather
                 * than failing the whole bind. */
                if (r == -ENOENT || r == -ENAMETOOLONG) {
                        free(l->error);
                        l->error = NULL;
                        continue;
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ZERO and CHILDREN span "whatever this side has": a machine without
 * AF_VSOCK still listens on the others. */
static bool vsock_usable(const struct hvsock_ctx *ctx) {
        return (ctx->transports & HVSOCK_TRANSPORT_VSOCK) && hvsock__vsock_available();
}

static int bind_wildcard(struct hvsock_listener *l, const struct hvsock_ctx *ctx, bool children_only) {
        int r;

        if (vsock_usable(ctx)) {
                r = add_vsock(l, children_only ? CID_FILTER_CHILDREN : CID_FILTER_ANY, 0);
                if (r < 0)
                        return r;
        }
        if (!children_only && (ctx->transports & HVSOCK_TRANSPORT_LOCAL)) {
                r = add_local(l, ctx);
                if (r < 0)
                        return r;
        }
        if (ctx->transports & HVSOCK_TRANSPORT_HYBRID)
                return add_hybrid_vms(l);
        return 0;
}

static int bind_loopback(struct hvsock_listener *l, const struct hvsock_ctx *ctx) {
        int r;

        if (ctx->transports & HVSOCK_TRANSPORT_LOCAL) {
                r = add_local(l, ctx);
                if (r < 0)
                        return r;
        }
        if ((ctx->transports & HVSOCK_TRANSPORT_VSOCK) && hvsock__vsock_has_loopback())
                return add_vsock(l, CID_FILTER_EXACT, HVSOCK_CID_LOCAL);
        return 0;
}

static int bind_vm(struct hvsock_listener *l, const struct hvsock_ctx *ctx, const struct hvsock_guid *vm_id) {
        const struct hvsock_vm *vm = hvsock__registry_find_vm(l->registry, vm_id);

        if (!vm)
                return -HVSOCK_E_UNKNOWN_VM;
        if (vm->uds)
                return ctx->transports & HVSOCK_TRANSPORT_HYBRID ? add_hybrid(l, vm) : 0;
        return ctx->transports & HVSOCK_TRANSPORT_VSOCK ? add_vsock(l, CID_FILTER_EXACT, vm->cid) : 0;
}

static int listener_bind(struct hvsock_listener *l, const struct hvsock_ctx *ctx) {
        const struct hvsock_guid *vm_id = &l->addr.vm_id;

        if (hvsock_guid_equal(vm_id, &HVSOCK_GUID_BROADCAST))
                return -HVSOCK_E_BROADCAST;
        if (hvsock_guid_is_zero(vm_id))
                return bind_wildcard(l, ctx, false);
        if (hvsock_guid_equal(vm_id, &HVSOCK_GUID_CHILDREN))
                return bind_wildcard(l, ctx, true);
        if (hvsock_guid_equal(vm_id, &HVSOCK_GUID_LOOPBACK))
                return bind_loopback(l, ctx);
        if (hvsock_guid_equal(vm_id, &HVSOCK_GUID_PARENT) || hvsock_guid_equal(vm_id, &HVSOCK_GUID_SILOHOST))
                return ctx->transports & HVSOCK_TRANSPORT_VSOCK ? add_vsock(l, CID_FILTER_EXACT, HVSOCK_CID_HOST) : 0;
        return bind_vm(l, ctx, vm_id);
}

HVSOCK_EXPORT int hvsock_listen(struct hvsock_ctx *ctx, const struct hvsock_addr *bind, int backlog,
                                struct hvsock_listener **ret) {
        struct hvsock_ctx *tmp = NULL, *c = NULL;
        struct hvsock_listener *l;
        int r;

        hvsock__ctx_set_error(ctx, NULL);
        if (!bind || !ret || backlog < 0)
                return -EINVAL;
        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->addr = *bind;
        l->backlog = backlog;
        l->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (l->epoll_fd < 0) {
                r = negative_errno();
                goto fail;
        }
        r = hvsock__ctx_get(ctx, &tmp, &c);
        if (r < 0)
                goto fail;
        l->access = (struct unix_access) { .mode = HVSOCK_SOCKET_MODE, .uid = c->socket_uid, .gid = c->socket_gid };
        r = hvsock__resolve_load_registry(c, &l->registry);
        if (r < 0)
                goto fail;
        r = hvsock__service_port(l->registry, &bind->service_id, &l->port);
        if (r < 0)
                goto fail;
        r = listener_bind(l, c);
        if (r < 0)
                goto fail;
        if (l->n_members == 0) {
                r = -HVSOCK_E_NO_TRANSPORT;
                goto fail;
        }
        hvsock_ctx_free(tmp);
        *ret = l;
        return 0;
fail:
        hvsock__ctx_set_error(c, TAKE_PTR(l->error));
        hvsock_ctx_free(tmp);
        hvsock_listener_free(l);
        return r;
}

HVSOCK_EXPORT int hvsock_listener_fd(const struct hvsock_listener *l) {
        return l->epoll_fd;
}

HVSOCK_EXPORT const struct hvsock_addr *hvsock_listener_addr(const struct hvsock_listener *l) {
        return &l->addr;
}

static bool cid_passes(const struct member *m, uint32_t cid) {
        switch (m->filter) {
        case CID_FILTER_CHILDREN:
                return cid > HVSOCK_CID_HOST;
        case CID_FILTER_EXACT:
                return cid == m->cid;
        default:
                return true;
        }
}

/* A service ID for a peer port; ports with the top bit set (possible for
 * kernel-chosen vsock ports) have no template GUID and show as ZERO. */
static void service_for_port(uint32_t port, struct hvsock_guid *ret) {
        if (hvsock_guid_from_port(port, ret) < 0)
                *ret = HVSOCK_GUID_ZERO;
}

static int accept_vsock(struct hvsock_listener *l, const struct member *m, struct hvsock_addr *ret_peer) {
        struct hvsock_guid vm_id, service;
        uint32_t cid, port;
        int fd;

        for (;;) {
                fd = hvsock__vsock_accept(m->sock.fd, &cid, &port);
                if (fd < 0)
                        return fd;
                if (cid_passes(m, cid))
                        break;
                /* A peer the bind address excludes: drop it, look for the next. */
                safe_close(fd);
        }
        hvsock__vm_id_for_cid(l->registry, cid, &vm_id);
        service_for_port(port, &service);
        hvsock_addr_init(ret_peer, &vm_id, &service);
        return fd;
}

static int accept_local(const struct member *m, struct hvsock_addr *ret_peer) {
        struct hvsock_guid service;
        uint32_t port;
        int fd;

        fd = hvsock__local_accept(m->sock.fd, &port);
        if (fd < 0)
                return fd;
        service_for_port(port, &service);
        hvsock_addr_init(ret_peer, &HVSOCK_GUID_LOOPBACK, &service);
        return fd;
}

static int accept_hybrid(const struct member *m, struct hvsock_addr *ret_peer) {
        int fd;

        fd = hvsock__unix_accept(m->sock.fd);
        if (fd < 0)
                return fd;
        /* The muxer connects to "<uds>_<port>" without telling which guest
         * port the connection came from (the hybrid protocol has no line for
         * that direction), so the peer's service ID is unknown: ZERO. */
        hvsock_addr_init(ret_peer, &m->vm_id, &HVSOCK_GUID_ZERO);
        return fd;
}

static int accept_member(struct hvsock_listener *l, const struct member *m, struct hvsock_addr *ret_peer) {
        switch (m->transport) {
        case HVSOCK_TRANSPORT_VSOCK:
                return accept_vsock(l, m, ret_peer);
        case HVSOCK_TRANSPORT_LOCAL:
                return accept_local(m, ret_peer);
        default:
                return accept_hybrid(m, ret_peer);
        }
}

/* One pass over the members. Returns an fd, -EAGAIN when none is pending. */
static int accept_any(struct hvsock_listener *l, struct hvsock_addr *ret_peer) {
        for (size_t k = 0; k < l->n_members; k++) {
                size_t i = (l->next + k) % l->n_members;
                int fd = accept_member(l, &l->members[i], ret_peer);

                /* A connection reset before we took it is not the caller's
                 * problem: move on. */
                if (fd == -EAGAIN || fd == -ECONNABORTED)
                        continue;
                l->next = (i + 1) % l->n_members;
                return fd;
        }
        return -EAGAIN;
}

/* Waits for the epoll fd; 0 on timeout, > 0 when something is ready. */
static int listener_wait(const struct hvsock_listener *l, int timeout_ms) {
        struct epoll_event ev;

        for (;;) {
                int n = epoll_wait(l->epoll_fd, &ev, 1, timeout_ms);
                if (n >= 0)
                        return n;
                if (errno != EINTR)
                        return negative_errno();
        }
}

HVSOCK_EXPORT int hvsock_accept(struct hvsock_listener *l, int timeout_ms, struct hvsock_addr *ret_peer) {
        uint64_t deadline = timeout_ms > 0 ? now_ms() + (uint64_t) timeout_ms : 0;
        struct hvsock_addr peer;

        if (!l || timeout_ms < -1)
                return -EINVAL;
        for (;;) {
                int fd = accept_any(l, &peer), r;

                if (fd >= 0) {
                        if (ret_peer)
                                *ret_peer = peer;
                        return fd;
                }
                if (fd != -EAGAIN)
                        return fd;
                if (timeout_ms == 0)
                        return -EAGAIN;
                r = listener_wait(l, timeout_ms < 0 ? -1 : ms_left(deadline));
                if (r < 0)
                        return r;
                /* A positive timeout that passed; a wake-up whose connection
                 * went away before we got it just loops. */
                if (r == 0 && timeout_ms > 0)
                        return -ETIMEDOUT;
        }
}

HVSOCK_EXPORT struct hvsock_listener *hvsock_listener_free(struct hvsock_listener *l) {
        if (!l)
                return NULL;
        for (size_t i = 0; i < l->n_members; i++)
                unix_listener_close(&l->members[i].sock);
        free(l->members);
        free(l->error);
        safe_close(l->epoll_fd);
        hvsock__registry_free(l->registry);
        free(l);
        return NULL;
}
