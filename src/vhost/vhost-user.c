/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fd-util.h"
#include "log.h"
#include "macro.h"
#include "socket-util.h"
#include "vhost-user.h"

struct msg {
        uint32_t request, flags, size;
        union {
                uint8_t raw[VHOST_USER_PAYLOAD_MAX];
                uint64_t u64;
                struct {
                        uint32_t index, num;
                } state;
                struct {
                        uint32_t index, flags;
                        uint64_t desc, used, avail, log;
                } addr;
                struct {
                        uint32_t nregions, padding;
                        struct {
                                uint64_t gpa, size, uva, mmap_offset;
                        } regions[GUEST_MEM_REGIONS_MAX];
                } mem;
                struct {
                        uint32_t offset, size, flags;
                        uint8_t data[VHOST_USER_CONFIG_MAX];
                } config;
        } p;
        int fds[VHOST_USER_FDS_MAX];
        unsigned n_fds;
};

static void close_fds(int *fds, unsigned n) {
        for (unsigned i = 0; i < n; i++)
                fds[i] = safe_close(fds[i]);
}

static void rx_clear(struct vhost_user_rx *rx) {
        close_fds(rx->fds, rx->n_fds);
        rx->n_fds = 0;
        rx->len = 0;
}

/* Bytes the current message still lacks: the header first, then the
 * payload its size field announces (checked when the header completed).
 * Never more, so one read cannot take bytes, or fds, of the next message. */
static size_t rx_missing(const struct vhost_user_rx *rx) {
        uint32_t size;

        if (rx->len < VHOST_USER_HDR_SIZE)
                return VHOST_USER_HDR_SIZE - rx->len;
        memcpy(&size, rx->buf + 8, 4);
        return VHOST_USER_HDR_SIZE + (size_t) size - rx->len;
}

/* Keeps the SCM_RIGHTS fds of one recvmsg. Returns 0, or -E2BIG when they do
 * not fit (the extra ones are closed; the held ones are the caller's). */
static int rx_take_fds(struct vhost_user_rx *rx, struct msghdr *mh) {
        int r = 0;

        for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
                const uint8_t *data;
                size_t n;

                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0))
                        continue;
                /* The count comes from cmsg_len, checked against our array:
                 * the peer decides how many fds it sends. */
                n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                data = CMSG_DATA(c);
                for (size_t i = 0; i < n; i++) {
                        int fd;

                        memcpy(&fd, data + i * sizeof(int), sizeof(int));
                        if (rx->n_fds < VHOST_USER_FDS_MAX)
                                rx->fds[rx->n_fds++] = fd;
                        else {
                                safe_close(fd);
                                r = -E2BIG;
                        }
                }
        }
        /* The kernel closed what did not fit in our control buffer. */
        if (mh->msg_flags & MSG_CTRUNC)
                r = -E2BIG;
        return r;
}

/* One non-blocking recvmsg of at most the bytes the message lacks. Returns 0,
 * -EAGAIN when nothing was there, -ECONNRESET on EOF, other -errno. */
static int rx_read_some(int fd, struct vhost_user_rx *rx) {
        union {
                char buf[CMSG_SPACE(VHOST_USER_FDS_MAX * sizeof(int))];
                struct cmsghdr align;
        } control;
        struct iovec iov = { rx->buf + rx->len, rx_missing(rx) };
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = control.buf,
                .msg_controllen = sizeof(control.buf),
        };
        ssize_t k;
        int r;

        do
                k = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        while (k < 0 && errno == EINTR);
        if (k < 0)
                return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : negative_errno();
        r = rx_take_fds(rx, &mh);
        if (k == 0)
                return -ECONNRESET;
        rx->len += (uint32_t) k;
        return r;
}

/* The header just completed: anything we cannot frame ends the session, as
 * the stream cannot be resynchronised. */
static int rx_check_header(const struct vhost_user_rx *rx) {
        uint32_t flags, size;

        memcpy(&flags, rx->buf + 4, 4);
        memcpy(&size, rx->buf + 8, 4);
        if ((flags & 0x3) != VHOST_USER_VERSION || size > VHOST_USER_PAYLOAD_MAX)
                return -EBADMSG;
        return 0;
}

/* Advances the message being received as far as the socket allows. Returns
 * 0 with the complete message moved to m (fds included; rx starts over),
 * -EAGAIN when it is not complete yet, or -errno with every fd received for
 * it closed. */
static int msg_receive(struct vhost_user *vu, struct msg *m) {
        struct vhost_user_rx *rx = &vu->rx;
        int r;

        while (rx_missing(rx) > 0) {
                bool had_header = rx->len >= VHOST_USER_HDR_SIZE;

                r = rx_read_some(vu->conn.fd, rx);
                if (r == 0 && !had_header && rx->len >= VHOST_USER_HDR_SIZE)
                        r = rx_check_header(rx);
                if (r == -EAGAIN)
                        return r;
                if (r < 0) {
                        rx_clear(rx);
                        return r;
                }
        }
        memcpy(&m->request, rx->buf, 4);
        memcpy(&m->flags, rx->buf + 4, 4);
        memcpy(&m->size, rx->buf + 8, 4);
        memcpy(m->p.raw, rx->buf + VHOST_USER_HDR_SIZE, m->size);
        memcpy(m->fds, rx->fds, rx->n_fds * sizeof(int));
        m->n_fds = rx->n_fds;
        rx->n_fds = 0;
        rx->len = 0;
        return 0;
}

/* Replies are sent without waiting, on the non-blocking socket: QEMU reads
 * each reply before it sends its next request, so a reply (at most a few
 * hundred bytes) always fits in the socket buffer. One that does not means
 * the peer stopped reading the replies it asked for; it loses its session
 * rather than stalling the loop that also carries the guest's traffic. */
static int reply(struct vhost_user *vu, const struct msg *req, const void *payload, uint32_t size) {
        uint8_t buf[VHOST_USER_HDR_SIZE + sizeof(((struct msg *) 0)->p)];
        uint32_t flags = VHOST_USER_VERSION | VHOST_USER_FLAG_REPLY;
        size_t len = VHOST_USER_HDR_SIZE + size;
        ssize_t k;

        if (size > sizeof(buf) - VHOST_USER_HDR_SIZE)
                return -EINVAL;
        memcpy(buf, &req->request, 4);
        memcpy(buf + 4, &flags, 4);
        memcpy(buf + 8, &size, 4);
        memcpy(buf + VHOST_USER_HDR_SIZE, payload, size);
        do
                k = send(vu->conn.fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        while (k < 0 && errno == EINTR);
        if (k < 0 || (size_t) k != len) {
                /* A part of a reply desynchronises the stream: fatal too. */
                vu->reply_error = k < 0 && errno != EAGAIN && errno != EWOULDBLOCK ? negative_errno() : -ENOBUFS;
                return vu->reply_error;
        }
        return 0;
}

static int reply_u64(struct vhost_user *vu, const struct msg *req, uint64_t v) {
        return reply(vu, req, &v, sizeof(v));
}

static struct vq *msg_vq(struct vhost_user *vu, uint32_t index) {
        return index < VSOCK_RINGS ? &vu->vqs[index] : NULL;
}

static bool protocol_features_acked(const struct vhost_user *vu) {
        return vu->acked_features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES);
}

static void kick_event(struct ev_source *s, uint32_t revents) {
        struct vq *vq = (struct vq *) ((char *) s - offsetof(struct vq, kick));
        struct vhost_user *vu = vq->userdata;

        vu->ops->ring_kick(vu->userdata, vq->index);
}

static void vq_stop(struct vhost_user *vu, struct vq *vq) {
        if (vq->kick.fd >= 0) {
                ev_del(vu->loop, &vq->kick);
                vq->kick.fd = safe_close(vq->kick.fd);
        }
        vq->started = false;
}

static bool any_ring_started(const struct vhost_user *vu) {
        for (unsigned i = 0; i < VSOCK_RINGS; i++)
                if (vu->vqs[i].started)
                        return true;
        return false;
}

/* QEMU stopped the last running ring (GET_VRING_BASE). Either the VM was
 * paused (or is being saved), and the same driver goes on later from where
 * the rings stopped, or the guest driver reset the device (a guest reboot),
 * and a new driver starts its rings from index 0. QEMU sends the same
 * messages for both; only the restart tells them apart. Until then the
 * connections stay, host data waiting unread, as the in-kernel vhost-vsock
 * keeps them across a pause. */
static void device_stopped(struct vhost_user *vu) {
        vu->suspended = true;
        vu->resumed = 0;
}

/* SET_VRING_BASE of ring i while suspended: the paused driver goes on at
 * the index where the ring stopped. Anything else is a new driver: the old
 * one's connections died with it and will never see their RSTs, so they
 * are dropped before the new driver meets stale ports, and host programs
 * see their sockets close. */
static void ring_restarts(struct vhost_user *vu, unsigned i, uint16_t base) {
        if (!vu->suspended)
                return;
        if (base != vu->stop_avail[i]) {
                vu->suspended = false;
                vu->ops->reset(vu->userdata);
                return;
        }
        vu->resumed |= 1u << i;
        if (vu->resumed == (1u << VSOCK_RINGS) - 1)
                vu->suspended = false;
}

static int set_mem_table(struct vhost_user *vu, struct msg *m) {
        struct guest_mem mem = { .n = 0 };
        uint32_t n = m->p.mem.nregions;
        int r = 0;

        if (m->size < 8 || n == 0 || n > GUEST_MEM_REGIONS_MAX ||
            (m->size - 8) / sizeof(m->p.mem.regions[0]) < n || m->n_fds != n)
                return -EINVAL;
        for (uint32_t i = 0; i < n && r == 0; i++)
                r = guest_mem_add_fd(&mem, m->p.mem.regions[i].gpa, m->p.mem.regions[i].size,
                                     m->p.mem.regions[i].uva, m->fds[i], m->p.mem.regions[i].mmap_offset);
        if (r < 0) {
                guest_mem_clear(&mem);
                return r;
        }
        /* The mappings hold the memory; the fds are closed by the caller. */
        guest_mem_clear(&vu->mem);
        vu->mem = mem;
        for (unsigned i = 0; i < VSOCK_RINGS; i++)
                if (vu->vqs[i].addr_set && vq_map(&vu->vqs[i]) < 0)
                        log_error("ring %u is outside the new memory table", i);
        return 0;
}

static int set_vring_fd(struct vhost_user *vu, struct msg *m) {
        uint64_t v;
        struct vq *vq;
        int fd = -1;
        int r;

        if (m->size < 8)
                return -EINVAL;
        v = m->p.u64;
        vq = msg_vq(vu, (uint32_t) (v & 0xff));
        if (!vq || (v & ~(uint64_t) 0x1ff))
                return -EINVAL;
        if (!(v & VHOST_USER_VRING_NOFD)) {
                if (m->n_fds != 1)
                        return -EINVAL;
                fd = m->fds[0];
                m->fds[0] = -1;
        } else if (m->n_fds != 0)
                return -EINVAL;

        switch (m->request) {
        case VHOST_USER_SET_VRING_CALL:
                safe_close(vq->call_fd);
                vq->call_fd = fd;
                return 0;
        case VHOST_USER_SET_VRING_ERR:
                safe_close(vq->err_fd);
                vq->err_fd = fd;
                return 0;
        }
        /* KICK: polling mode (no fd) is not supported. */
        if (fd < 0)
                return -EOPNOTSUPP;
        vq_stop(vu, vq);
        r = fd_set_nonblock(fd, true);
        vq->kick.fd = fd;
        if (r >= 0)
                /* Edge-triggered: each kick is one event, and the eventfd
                 * is never read (a syscall per kick saved). A ring that is
                 * disabled or broken cannot spin the loop either. */
                r = ev_add(vu->loop, &vq->kick, EPOLLIN | EPOLLET);
        if (r < 0) {
                vq->kick.fd = safe_close(vq->kick.fd);
                return r;
        }
        vq->started = true;
        /* A front-end that restarts a ring without SET_VRING_BASE goes on
         * where it stopped. */
        ring_restarts(vu, vq->index, vq->last_avail);
        if (!protocol_features_acked(vu))
                vq->enabled = true;
        vq->event_idx = vu->acked_features & (1ull << VIRTIO_RING_F_EVENT_IDX);
        vu->ops->ring_kick(vu->userdata, vq->index);
        return 0;
}

static int get_config(struct vhost_user *vu, struct msg *m) {
        uint8_t space[8];
        uint32_t off, size;

        if (m->size < VHOST_USER_CONFIG_HDR_SIZE)
                return -EINVAL;
        off = m->p.config.offset;
        size = m->p.config.size;
        if (size > VHOST_USER_CONFIG_MAX || m->size != VHOST_USER_CONFIG_HDR_SIZE + size)
                return -EINVAL;
        /* Config space: le64 guest_cid. Bytes past it read as zero. */
        for (unsigned i = 0; i < 8; i++)
                space[i] = i < 4 ? (uint8_t) (vu->guest_cid >> (8 * i)) : 0;
        memset(m->p.config.data, 0, size);
        for (uint32_t i = 0; i < size; i++)
                if (off < sizeof(space) && i < sizeof(space) - off)
                        m->p.config.data[i] = space[off + i];
        return reply(vu, m, &m->p.config, m->size);
}

static bool request_takes_fds(uint32_t request) {
        return request == VHOST_USER_SET_MEM_TABLE || request == VHOST_USER_SET_VRING_KICK ||
               request == VHOST_USER_SET_VRING_CALL || request == VHOST_USER_SET_VRING_ERR;
}

/* Handles m. Returns 1 when the reply was already sent, 0 for success,
 * -errno for failure (reported with REPLY_ACK, otherwise logged). */
static int dispatch(struct vhost_user *vu, struct msg *m) {
        bool was_started;
        struct vq *vq;
        int r;

        /* Fds on a request that takes none: refused (the caller closes them). */
        if (m->n_fds > 0 && !request_takes_fds(m->request))
                return -EINVAL;
        switch (m->request) {
        case VHOST_USER_GET_FEATURES:
                r = reply_u64(vu, m, VHOST_USER_FEATURES);
                return r < 0 ? r : 1;
        case VHOST_USER_SET_FEATURES:
                if (m->size < 8 || (m->p.u64 & ~(uint64_t) VHOST_USER_FEATURES))
                        return -EINVAL;
                vu->acked_features = m->p.u64;
                for (unsigned i = 0; i < VSOCK_RINGS; i++)
                        vu->vqs[i].event_idx = m->p.u64 & (1ull << VIRTIO_RING_F_EVENT_IDX);
                return 0;
        case VHOST_USER_SET_OWNER:
                return 0;
        case VHOST_USER_RESET_OWNER:
                /* vq_stop first: closing our kick fd alone would leave it
                 * registered in epoll while QEMU holds the eventfd open. */
                for (unsigned i = 0; i < VSOCK_RINGS; i++) {
                        vq_stop(vu, &vu->vqs[i]);
                        vq_reset(&vu->vqs[i]);
                }
                vu->acked_features = 0;
                vu->suspended = false;
                vu->ops->reset(vu->userdata);
                return 0;
        case VHOST_USER_GET_PROTOCOL_FEATURES:
                r = reply_u64(vu, m, VHOST_USER_PROTOCOL_FEATURES);
                return r < 0 ? r : 1;
        case VHOST_USER_SET_PROTOCOL_FEATURES:
                if (m->size < 8)
                        return -EINVAL;
                vu->protocol_features = m->p.u64 & VHOST_USER_PROTOCOL_FEATURES;
                return 0;
        case VHOST_USER_GET_QUEUE_NUM:
                r = reply_u64(vu, m, VSOCK_RINGS);
                return r < 0 ? r : 1;
        case VHOST_USER_SET_MEM_TABLE:
                return set_mem_table(vu, m);
        case VHOST_USER_SET_VRING_NUM:
                if (m->size < 8 || !(vq = msg_vq(vu, m->p.state.index)) ||
                    m->p.state.num == 0 || m->p.state.num > VQ_NUM_MAX ||
                    (m->p.state.num & (m->p.state.num - 1)))
                        return -EINVAL; /* split rings are a power of two long */
                vq->num = (uint16_t) m->p.state.num;
                return vq->addr_set ? vq_map(vq) : 0;
        case VHOST_USER_SET_VRING_ADDR:
                if (m->size < sizeof(m->p.addr) || !(vq = msg_vq(vu, m->p.addr.index)))
                        return -EINVAL;
                vq->desc_uva = m->p.addr.desc;
                vq->avail_uva = m->p.addr.avail;
                vq->used_uva = m->p.addr.used;
                vq->addr_set = true;
                return vq_map(vq);
        case VHOST_USER_SET_VRING_BASE:
                if (m->size < 8 || !(vq = msg_vq(vu, m->p.state.index)) || m->p.state.num > UINT16_MAX)
                        return -EINVAL;
                vq->last_avail = vq->used_idx = (uint16_t) m->p.state.num;
                vq->signalled_valid = false;
                vq->broken = false;
                ring_restarts(vu, vq->index, vq->last_avail);
                return 0;
        case VHOST_USER_GET_VRING_BASE:
                if (m->size < 8 || !(vq = msg_vq(vu, m->p.state.index)))
                        return -EINVAL;
                was_started = vq->started;
                /* A call we still owe the guest (tx calls wait, see vsock.c)
                 * goes now, while QEMU still listens: a stopped ring is not
                 * called. */
                vq_notify(vq);
                vq_stop(vu, vq);
                vu->stop_avail[vq->index] = vq->last_avail;
                if (was_started && !any_ring_started(vu))
                        device_stopped(vu);
                m->p.state.num = vq->last_avail;
                r = reply(vu, m, &m->p.state, sizeof(m->p.state));
                return r < 0 ? r : 1;
        case VHOST_USER_SET_VRING_KICK:
        case VHOST_USER_SET_VRING_CALL:
        case VHOST_USER_SET_VRING_ERR:
                return set_vring_fd(vu, m);
        case VHOST_USER_SET_VRING_ENABLE:
                if (m->size < 8 || !(vq = msg_vq(vu, m->p.state.index)) || m->p.state.num > 1)
                        return -EINVAL;
                vq->enabled = m->p.state.num == 1;
                if (vq->enabled)
                        vu->ops->ring_kick(vu->userdata, vq->index);
                return 0;
        case VHOST_USER_GET_CONFIG:
                r = get_config(vu, m);
                /* QEMU waits for this reply: an empty one fails its size
                 * check cleanly instead of leaving it hanging. */
                if (r == -EINVAL)
                        r = reply(vu, m, m->p.raw, 0);
                return r < 0 ? r : 1;
        default:
                return -EOPNOTSUPP;
        }
}

int vhost_user_handle_one(struct vhost_user *vu) {
        struct msg m;
        int r, k;

        r = msg_receive(vu, &m);
        if (r < 0)
                return r;
        vu->spoke = true;
        r = dispatch(vu, &m);
        close_fds(m.fds, m.n_fds);
        if (vu->reply_error < 0)
                return vu->reply_error;
        if (r == 1)
                return 0;
        if ((m.flags & VHOST_USER_FLAG_NEED_REPLY) &&
            (vu->protocol_features & (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK))) {
                k = reply_u64(vu, &m, r < 0 ? 1 : 0);
                if (k < 0)
                        return k;
        } else if (r < 0)
                log_error("vhost-user request %u failed: %s", m.request, strerror(-r));
        return 0;
}

static void conn_event(struct ev_source *s, uint32_t revents) {
        struct vhost_user *vu = (struct vhost_user *) ((char *) s - offsetof(struct vhost_user, conn));
        int r = vhost_user_handle_one(vu);

        /* One message per wakeup: the fd stays readable while more is
         * queued, and the guest's kicks get their turns in between. */
        if (r < 0 && r != -EAGAIN) {
                if (r != -ECONNRESET)
                        log_error("vhost-user session ended: %s", strerror(-r));
                vhost_user_detach(vu);
        }
}

void vhost_user_init(struct vhost_user *vu, struct ev_loop *loop, uint32_t guest_cid,
                     const struct vhost_user_ops *ops, void *userdata) {
        memset(vu, 0, sizeof(*vu));
        vu->loop = loop;
        vu->conn.fd = -1;
        vu->conn.fn = conn_event;
        vu->guest_cid = guest_cid;
        vu->ops = ops;
        vu->userdata = userdata;
        for (unsigned i = 0; i < VSOCK_RINGS; i++) {
                vu->vqs[i].kick.fn = kick_event;
                vu->vqs[i].userdata = vu;
                vu->vqs[i].index = i;
                vq_init(&vu->vqs[i], &vu->mem);
        }
}

int vhost_user_attach(struct vhost_user *vu, int fd) {
        int r;

        if (vu->conn.fd >= 0) {
                safe_close(fd);
                return -EBUSY;
        }
        /* Read as bytes arrive (vu->rx): a peer that stops mid-message must
         * not block the loop. */
        r = fd_set_nonblock(fd, true);
        vu->conn.fd = fd;
        vu->rx.len = vu->rx.n_fds = 0;
        vu->reply_error = 0;
        vu->spoke = false;
        if (r >= 0)
                r = ev_add(vu->loop, &vu->conn, EPOLLIN);
        if (r < 0)
                vu->conn.fd = safe_close(fd);
        return r;
}

void vhost_user_detach(struct vhost_user *vu) {
        if (vu->conn.fd < 0)
                return;
        ev_del(vu->loop, &vu->conn);
        vu->conn.fd = safe_close(vu->conn.fd);
        rx_clear(&vu->rx);
        for (unsigned i = 0; i < VSOCK_RINGS; i++) {
                vq_stop(vu, &vu->vqs[i]);
                vq_reset(&vu->vqs[i]);
        }
        guest_mem_clear(&vu->mem);
        vu->acked_features = 0;
        vu->protocol_features = 0;
        vu->suspended = false;
        vu->ops->reset(vu->userdata);
}

int vhost_user_offer(struct vhost_user *vu, int fd) {
        bool replaced = false;
        int r;

        if (vu->conn.fd >= 0) {
                if (vu->spoke) {
                        safe_close(fd);
                        return -EBUSY;
                }
                vhost_user_detach(vu);
                replaced = true;
        }
        r = vhost_user_attach(vu, fd);
        return r < 0 ? r : replaced;
}

bool vhost_user_attached(const struct vhost_user *vu) {
        return vu->conn.fd >= 0;
}
