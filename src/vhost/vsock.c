/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include "admit.h"
#include "connect-line.h"
#include "iov.h"
#include "log.h"
#include "macro.h"
#include "registry.h"
#include "socket-util.h"
#include "time-util.h"
#include "transport.h"
#include "vsock-packet.h"
#include "vsock.h"

#define BUCKETS 256
#define HOST_PORT_FIRST (1u << 30) /* host-initiated ports, as Firecracker */
#define HOST_PORT_END (1u << 31)
#define DATA_BURST 16 /* host reads per connection before the next one gets a turn */
/* Host -> guest: one readv fills up to this many bytes, spread over as many
 * rx chains as it takes (a Linux guest posts ~4 KiB buffers), each packet
 * at most VSOCK_MAX_PAYLOAD. A Linux guest grants credit about 192 KiB at a
 * time: one readv per grant, not three. */
#define RX_BATCH_BYTES (256u * 1024)
#define RX_BATCH_CHAINS 64
#define TX_CALL_DELAY_MS 2 /* longest a used tx chain waits for its call */

enum conn_state {
        CONN_LINE,        /* host client: reading "CONNECT <port>\n" */
        CONN_CONNECTING,  /* host client: REQUEST sent or queued, waiting for RESPONSE */
        CONN_ESTABLISHED,
};

struct vsock_conn {
        struct ev_source src; /* the host UNIX socket */
        struct vsock_dev *dev;
        enum conn_state state;
        uint32_t guest_port, host_port;
        struct connect_line line;

        /* Owed to the guest. */
        bool need_request, need_response, need_credit_update;
        uint32_t need_shutdown; /* VSOCK_SHUTDOWN_* flags still to send */
        bool pending;           /* on dev's pending list */

        /* Guest -> host: we advertise buf_alloc = tx_buffer_size. */
        uint32_t fwd_cnt;       /* bytes written to the host socket */
        uint32_t last_fwd_sent; /* fwd_cnt the guest last heard */
        uint8_t *buf;           /* ring of tx_buffer_size bytes, allocated when needed */
        uint32_t buf_head, buf_len;

        /* Host -> guest. */
        uint32_t tx_cnt; /* bytes sent to the guest */
        uint32_t peer_buf_alloc, peer_fwd_cnt;
        bool host_readable; /* edge seen, not yet read to EAGAIN */
        bool host_eof;
        bool host_hup;      /* the host closed both ways, not just shut its write side */
        bool shutdown_sent;

        bool guest_no_send, guest_no_recv;
        bool host_shut_wr;
        bool out_armed; /* EPOLLOUT watched: only while buf holds bytes */
        bool in_unwatched; /* EPOLLIN not watched: host data waits unread */
        bool dead;

        /* When it gives up (now_ms()), 0 for never: a host CONNECT waiting
         * for the guest's RESPONSE, or our SHUTDOWN of both directions
         * waiting for the guest's RST. On dev's timer list while set. */
        uint64_t deadline;
        struct vsock_conn *timer_prev, *timer_next;

        struct vsock_conn *next;         /* bucket chain */
        struct vsock_conn *pending_next; /* pending list */
        struct vsock_conn *dead_next;
        struct vsock_conn *all_prev, *all_next; /* every live connection */
};

struct rst_entry {
        uint32_t guest_port, host_port;
};

/* The rx chains one host read fills: each chain's writable iovecs sit in
 * pool[first, first + n); its header goes at offset 0, its payload (at most
 * room bytes) right after. */
struct rx_chain {
        uint16_t head;
        unsigned first, n;
        uint32_t room;
};

struct rx_batch {
        struct rx_chain chains[RX_BATCH_CHAINS];
        unsigned n;
        struct iovec pool[VQ_IOV_MAX];
        unsigned pool_used;
        struct iovec rd[VQ_IOV_MAX]; /* the payload parts, for readv */
};

/* Guest -> host: the RW payloads of consecutive packets for one
 * connection, written with one writev (one wake-up of the host reader)
 * before their chains go back to the guest. */
#define GATHER_PACKETS 16
struct tx_gather {
        struct vsock_conn *c;
        uint32_t len;
        unsigned n_iov, n_heads;
        uint16_t heads[GATHER_PACKETS];
        struct iovec iov[VQ_IOV_MAX];
};

struct vsock_dev {
        struct vsock_dev_config cfg;
        char *uds_path, *config_dir, *vm_name;
        struct ev_loop *loop;
        struct vq *rx, *tx;
        struct ev_source listener;
        struct unix_access uds_access;
        struct unix_listener uds; /* its fd is listener.fd */
        struct admit admit;

        struct vsock_conn *buckets[BUCKETS];
        unsigned n_conns;
        unsigned n_line; /* of them, host clients still in CONN_LINE */
        struct vsock_conn *pending_head, *pending_tail;
        struct vsock_conn *dead;
        struct vsock_conn *all;
        uint32_t next_host_port;

        struct rst_entry *rsts; /* ring of queued RSTs for connections already gone */
        unsigned rst_head, rst_len, rst_cap;

        struct hvsock_registry *registry; /* NULL: unreadable, deny all */
        struct stat registry_st;
        bool registry_loaded;

        /* Connections with a deadline, earliest first: both timeouts are the
         * same length, so appending keeps the order. The timerfd is armed
         * for the head (or earlier; a spurious expiry just re-arms it). */
        struct ev_source timer;
        struct vsock_conn *timer_head, *timer_tail;
        uint64_t tx_call_deadline; /* now_ms() by which an owed tx call goes out, 0 none */

        struct vsock_stats stats;
        struct vq_elem elem;
        struct rx_batch batch;
        struct tx_gather gather;
};

static void conn_reset(struct vsock_conn *c, bool send_rst);
static void conn_host_event(struct ev_source *s, uint32_t revents);

/* ---- connection table ---- */

static unsigned bucket_of(uint32_t guest_port, uint32_t host_port) {
        uint32_t h = guest_port * 0x9e3779b1u ^ host_port * 0x85ebca6bu;
        return (h ^ h >> 16) % BUCKETS;
}

static struct vsock_conn *conn_find(struct vsock_dev *d, uint32_t guest_port, uint32_t host_port) {
        for (struct vsock_conn *c = d->buckets[bucket_of(guest_port, host_port)]; c; c = c->next)
                if (c->guest_port == guest_port && c->host_port == host_port)
                        return c;
        return NULL;
}

static void conn_link(struct vsock_conn *c) {
        unsigned b = bucket_of(c->guest_port, c->host_port);

        c->next = c->dev->buckets[b];
        c->dev->buckets[b] = c;
}

static void conn_unlink(struct vsock_conn *c) {
        struct vsock_conn **p = &c->dev->buckets[bucket_of(c->guest_port, c->host_port)];

        for (; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        return;
                }
}

/* EPOLLOUT is added only while the device buffers bytes for the host: with
 * it always on, every read by the host program (each one frees room in the
 * socket) would wake the device for nothing. */
#define CONN_EVENTS (EPOLLIN | EPOLLRDHUP | EPOLLET)

/* Sets which edges of the host socket we watch. Re-arming reports a socket
 * that is already readable or writable, so no edge is lost in between.
 * Returns 0 or -errno. */
static int conn_watch(struct vsock_conn *c, bool in, bool out) {
        int r;

        if (c->in_unwatched == !in && c->out_armed == out)
                return 0;
        r = ev_mod(c->dev->loop, &c->src, (in ? CONN_EVENTS : EPOLLET) | (out ? EPOLLOUT : 0));
        if (r < 0)
                return r;
        c->in_unwatched = !in;
        c->out_armed = out;
        return 0;
}

static int conn_watch_out(struct vsock_conn *c, bool on) {
        return conn_watch(c, !c->in_unwatched, on);
}

/* EPOLLIN matters only while we wait for the host to write. While its data
 * sits unread (the guest has no credit or no rx buffer for it), each further
 * write of the host would wake us for nothing: we come back to it when the
 * guest's credit or buffers arrive. EPOLLHUP is reported regardless. */
static int conn_watch_in(struct vsock_conn *c) {
        return conn_watch(c, !c->host_readable, c->out_armed);
}

static struct vsock_conn *conn_new(struct vsock_dev *d, int fd, enum conn_state state) {
        struct vsock_conn *c = calloc(1, sizeof(*c));

        if (!c)
                return NULL;
        c->src.fd = fd;
        c->src.fn = conn_host_event;
        c->dev = d;
        c->state = state;
        if (ev_add(d->loop, &c->src, CONN_EVENTS) < 0) {
                free(c);
                return NULL;
        }
        d->n_conns++;
        c->all_next = d->all;
        if (d->all)
                d->all->all_prev = c;
        d->all = c;
        return c;
}

static void conn_mark_pending(struct vsock_conn *c) {
        struct vsock_dev *d = c->dev;

        if (c->pending || c->dead)
                return;
        c->pending = true;
        c->pending_next = NULL;
        if (d->pending_tail)
                d->pending_tail->pending_next = c;
        else
                d->pending_head = c;
        d->pending_tail = c;
}

static struct vsock_conn *pending_pop(struct vsock_dev *d) {
        struct vsock_conn *c = d->pending_head;

        if (!c)
                return NULL;
        d->pending_head = c->pending_next;
        if (!d->pending_head)
                d->pending_tail = NULL;
        c->pending = false;
        c->pending_next = NULL;
        return c;
}

static void pending_push_front(struct vsock_dev *d, struct vsock_conn *c) {
        c->pending = true;
        c->pending_next = d->pending_head;
        d->pending_head = c;
        if (!d->pending_tail)
                d->pending_tail = c;
}

static void queue_rst(struct vsock_dev *d, uint32_t guest_port, uint32_t host_port) {
        if (d->rst_len == d->rst_cap) {
                d->stats.rst_dropped++;
                return;
        }
        d->rsts[(d->rst_head + d->rst_len) % d->rst_cap] = (struct rst_entry) { guest_port, host_port };
        d->rst_len++;
}

/* ---- timeouts ---- */

static void timer_arm(struct vsock_dev *d, uint64_t deadline) {
        struct itimerspec its = {
                .it_value.tv_sec = (time_t) (deadline / 1000),
                .it_value.tv_nsec = (long) (deadline % 1000) * 1000000,
        };

        (void) timerfd_settime(d->timer.fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void conn_timer_stop(struct vsock_conn *c) {
        struct vsock_dev *d = c->dev;

        if (c->deadline == 0)
                return;
        if (c->timer_prev)
                c->timer_prev->timer_next = c->timer_next;
        else
                d->timer_head = c->timer_next;
        if (c->timer_next)
                c->timer_next->timer_prev = c->timer_prev;
        else
                d->timer_tail = c->timer_prev;
        c->timer_prev = c->timer_next = NULL;
        c->deadline = 0;
}

/* The line, connect and shutdown waits are one length (cfg.timeout_ms), so
 * appending to the timer list keeps it ordered. */
static void conn_timer_start(struct vsock_conn *c) {
        struct vsock_dev *d = c->dev;

        conn_timer_stop(c);
        c->deadline = now_ms() + d->cfg.timeout_ms;
        c->timer_prev = d->timer_tail;
        if (d->timer_tail)
                d->timer_tail->timer_next = c;
        else {
                d->timer_head = c;
                timer_arm(d, c->deadline);
        }
        d->timer_tail = c;
}

/* Closes the host side and forgets the connection; the memory goes at gc. */
static void conn_reset(struct vsock_conn *c, bool send_rst) {
        struct vsock_dev *d = c->dev;

        if (c->dead)
                return;
        conn_timer_stop(c);
        if (send_rst && c->state != CONN_LINE)
                queue_rst(d, c->guest_port, c->host_port);
        if (c->state != CONN_LINE)
                conn_unlink(c);
        else {
                d->n_line--;
                admit_host_line_done(&d->admit);
        }
        ev_del(d->loop, &c->src);
        c->src.fd = safe_close(c->src.fd);
        if (c->all_prev)
                c->all_prev->all_next = c->all_next;
        else
                d->all = c->all_next;
        if (c->all_next)
                c->all_next->all_prev = c->all_prev;
        c->dead = true;
        c->dead_next = d->dead;
        d->dead = c;
        d->n_conns--;
        admit_fd_freed(&d->admit);
}

static void conn_free(struct vsock_conn *c) {
        free(c->buf);
        free(c);
}

/* ---- registry ---- */

static void registry_refresh(struct vsock_dev *d) {
        char path[4096];
        struct stat st;
        _cleanup_free_ char *err = NULL;
        int r;

        if (snprintf(path, sizeof(path), "%s/%s", d->config_dir, HVSOCK_REGISTRY_FILE) >= (int) sizeof(path))
                return;
        if (stat(path, &st) < 0) {
                if (errno != ENOENT)
                        return;
                memset(&st, 0, sizeof(st));
        }
        if (d->registry_loaded && st.st_ino == d->registry_st.st_ino && st.st_dev == d->registry_st.st_dev &&
            st.st_size == d->registry_st.st_size &&
            st.st_mtim.tv_sec == d->registry_st.st_mtim.tv_sec &&
            st.st_mtim.tv_nsec == d->registry_st.st_mtim.tv_nsec &&
            st.st_ctim.tv_sec == d->registry_st.st_ctim.tv_sec &&
            st.st_ctim.tv_nsec == d->registry_st.st_ctim.tv_nsec)
                return;
        d->registry = hvsock__registry_free(d->registry);
        d->registry_st = st;
        d->registry_loaded = true;
        r = hvsock__registry_load(d->config_dir, &d->registry, &err);
        if (r < 0) {
                /* Fail closed: a registry we cannot read allows nothing. */
                log_error("registry '%s': %s; refusing every guest connection until it is fixed",
                          path, err ? err : strerror(-r));
                d->registry = NULL;
        }
}

static bool port_allowed(struct vsock_dev *d, uint32_t port) {
        const struct hvsock_service *s;
        const struct hvsock_vm *vm = NULL;

        registry_refresh(d);
        if (!d->registry)
                return false;
        s = hvsock__registry_find_service_by_port(d->registry, port);
        if (!s)
                return false;
        if (d->vm_name) {
                vm = hvsock__registry_find_vm_by_name(d->registry, d->vm_name);
                if (!vm)
                        return false;
        }
        return hvsock__service_allowed(s, vm);
}

/* ---- packets to the guest ---- */

static void fill_hdr(struct vsock_dev *d, struct vsock_hdr *h, uint32_t guest_port, uint32_t host_port,
                     uint16_t op) {
        *h = (struct vsock_hdr) {
                .src_cid = VSOCK_CID_HOST,
                .dst_cid = d->cfg.guest_cid,
                .src_port = host_port,
                .dst_port = guest_port,
                .type = VSOCK_TYPE_STREAM,
                .op = op,
                .buf_alloc = d->cfg.tx_buffer_size,
        };
}

/* Pops an rx chain with room for a header. Returns 1, or 0 when none. */
static int rx_pop(struct vsock_dev *d) {
        for (;;) {
                int r = vq_pop(d->rx, &d->elem);

                if (r == 0 || r == -EIO)
                        return 0;
                if (r < 0) {
                        d->stats.dropped_malformed++;
                        continue;
                }
                if (d->elem.in_len >= VSOCK_HDR_SIZE)
                        return 1;
                /* A buffer too small for any packet: hand it back unused. */
                d->stats.dropped_malformed++;
                vq_push(d->rx, d->elem.head, 0);
        }
}

static int emit_hdr(struct vsock_dev *d, const struct vsock_hdr *h) {
        uint8_t raw[VSOCK_HDR_SIZE];

        if (!rx_pop(d))
                return 0;
        vsock_hdr_build(h, raw);
        iov_from_buf(d->elem.in, d->elem.n_in, 0, raw, sizeof(raw));
        vq_push(d->rx, d->elem.head, VSOCK_HDR_SIZE);
        if (h->op == VSOCK_OP_RST)
                d->stats.rst_sent++;
        return 1;
}

static int emit_conn_op(struct vsock_conn *c, uint16_t op, uint32_t flags) {
        struct vsock_hdr h;

        fill_hdr(c->dev, &h, c->guest_port, c->host_port, op);
        h.flags = flags;
        h.fwd_cnt = c->fwd_cnt;
        if (!emit_hdr(c->dev, &h))
                return 0;
        c->last_fwd_sent = c->fwd_cnt;
        c->need_credit_update = false;
        return 1;
}

static bool conn_may_send_data(const struct vsock_conn *c) {
        return c->state == CONN_ESTABLISHED && c->host_readable && !c->host_eof && !c->guest_no_recv;
}

static uint32_t peer_free(const struct vsock_conn *c) {
        uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

        /* A guest reporting more consumed than we sent gets no extra credit. */
        if (in_flight > c->peer_buf_alloc)
                return 0;
        return c->peer_buf_alloc - in_flight;
}

/* Gives back the batch's chains from the i-th on, unfilled. Normally they
 * go back on the avail ring for later; after a malformed chain (already
 * returned as used, behind them) they can only be returned as used, empty. */
static void batch_return(struct vsock_dev *d, unsigned i, bool rewind) {
        struct rx_batch *b = &d->batch;

        for (unsigned j = b->n; j > i; j--) {
                if (rewind)
                        vq_unpop(d->rx);
                else {
                        d->stats.dropped_malformed++;
                        vq_push(d->rx, b->chains[j - 1].head, 0);
                }
        }
        b->n = i;
}

/* Pops rx chains for up to want payload bytes into d->batch. A chain that
 * cannot take payload ends the batch and goes back on the ring; when it
 * comes first, a header-sized one is left in d->elem with *ret_tiny set and
 * a smaller one is returned as used, empty. Returns false when a malformed
 * chain was consumed after the batch's (they cannot be rewound). */
static bool batch_fill(struct vsock_dev *d, uint32_t want, bool *ret_tiny) {
        struct rx_batch *b = &d->batch;
        uint32_t total = 0;

        b->n = 0;
        b->pool_used = 0;
        *ret_tiny = false;
        while (total < want && b->n < RX_BATCH_CHAINS) {
                struct rx_chain *ch;
                int r = vq_pop(d->rx, &d->elem);

                if (r == 0 || r == -EIO)
                        break;
                if (r < 0) {
                        d->stats.dropped_malformed++;
                        if (b->n > 0)
                                return false;
                        continue;
                }
                if (d->elem.in_len <= VSOCK_HDR_SIZE || d->elem.n_in > VQ_IOV_MAX - b->pool_used) {
                        if (b->n > 0) {
                                vq_unpop(d->rx);
                                break;
                        }
                        if (d->elem.in_len == VSOCK_HDR_SIZE) {
                                *ret_tiny = true;
                                return true;
                        }
                        /* Too small for any packet: hand it back unused. */
                        d->stats.dropped_malformed++;
                        vq_push(d->rx, d->elem.head, 0);
                        continue;
                }
                ch = &b->chains[b->n++];
                ch->head = d->elem.head;
                ch->first = b->pool_used;
                ch->n = d->elem.n_in;
                ch->room = d->elem.in_len - VSOCK_HDR_SIZE < want - total ?
                                   (uint32_t) (d->elem.in_len - VSOCK_HDR_SIZE) : want - total;
                if (ch->room > VSOCK_MAX_PAYLOAD)
                        ch->room = VSOCK_MAX_PAYLOAD;
                memcpy(b->pool + b->pool_used, d->elem.in, d->elem.n_in * sizeof(struct iovec));
                b->pool_used += d->elem.n_in;
                total += ch->room;
        }
        return true;
}

static void conn_hdr(const struct vsock_conn *c, struct vsock_hdr *h, uint16_t op) {
        fill_hdr(c->dev, h, c->guest_port, c->host_port, op);
        h->fwd_cnt = c->fwd_cnt;
}

/* Reads from the host once, into as many rx chains as the guest's credit,
 * RX_BATCH_BYTES and the ring allow. Returns 1 sent, 0 no rx buffer, -EAGAIN
 * nothing to read (or no credit), -EPIPE end of stream, other -errno. */
static int emit_data(struct vsock_conn *c) {
        struct vsock_dev *d = c->dev;
        struct rx_batch *b = &d->batch;
        uint8_t raw[VSOCK_HDR_SIZE];
        struct vsock_hdr h;
        uint32_t credit = peer_free(c), left;
        unsigned n_rd = 0, i;
        bool rewind, tiny;
        ssize_t k;

        if (credit == 0)
                return -EAGAIN;
        rewind = batch_fill(d, credit < RX_BATCH_BYTES ? credit : RX_BATCH_BYTES, &tiny);
        if (tiny) {
                /* A header-sized buffer carries no data, but an update of our
                 * credit fits: use it rather than stall behind it. */
                conn_hdr(c, &h, VSOCK_OP_CREDIT_UPDATE);
                vsock_hdr_build(&h, raw);
                iov_from_buf(d->elem.in, d->elem.n_in, 0, raw, sizeof(raw));
                vq_push(d->rx, d->elem.head, VSOCK_HDR_SIZE);
                c->last_fwd_sent = c->fwd_cnt;
                c->need_credit_update = false;
                return 1;
        }
        if (b->n == 0)
                return 0;
        for (i = 0; i < b->n; i++) {
                size_t got;

                /* Fits: each slice has at most its chain's entries. */
                n_rd += iov_slice(b->rd + n_rd, VQ_IOV_MAX - n_rd, b->pool + b->chains[i].first,
                                  b->chains[i].n, VSOCK_HDR_SIZE, b->chains[i].room, &got);
        }
        k = readv(c->src.fd, b->rd, (int) n_rd);
        if (k <= 0) {
                int r = k == 0 ? -EPIPE : errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : negative_errno();

                batch_return(d, 0, rewind);
                return r;
        }
        left = (uint32_t) k;
        for (i = 0; i < b->n && left > 0; i++) {
                const struct rx_chain *ch = &b->chains[i];
                uint32_t len = left < ch->room ? left : ch->room;

                conn_hdr(c, &h, VSOCK_OP_RW);
                h.len = len;
                vsock_hdr_build(&h, raw);
                iov_from_buf(b->pool + ch->first, ch->n, 0, raw, sizeof(raw));
                vq_push(d->rx, ch->head, VSOCK_HDR_SIZE + len);
                left -= len;
        }
        batch_return(d, i, rewind);
        c->tx_cnt += (uint32_t) k;
        c->last_fwd_sent = c->fwd_cnt;
        c->need_credit_update = false;
        return 1;
}

/* Both directions finished: tell the guest with RST and forget it. */
static bool conn_check_done(struct vsock_conn *c) {
        if (c->dead || c->state != CONN_ESTABLISHED || c->buf_len > 0 || !c->guest_no_send)
                return c->dead;
        /* The host said all it had (and the guest heard it), or the guest
         * closed both ways: either way nothing more can flow. */
        if ((c->host_eof && c->shutdown_sent) || c->guest_no_recv) {
                conn_reset(c, true);
                return true;
        }
        return false;
}

/* Sends what c owes the guest. Returns 1 when c has nothing left, 0 when the
 * rx ring ran out, 2 when c yielded with more to send. */
static int conn_emit(struct vsock_conn *c) {
        if (c->dead)
                return 1;
        if (c->need_request) {
                struct vsock_hdr h;

                fill_hdr(c->dev, &h, c->guest_port, c->host_port, VSOCK_OP_REQUEST);
                if (!emit_hdr(c->dev, &h))
                        return 0;
                c->need_request = false;
        }
        if (c->need_response) {
                if (!emit_conn_op(c, VSOCK_OP_RESPONSE, 0))
                        return 0;
                c->need_response = false;
        }
        for (unsigned burst = 0; conn_may_send_data(c); burst++) {
                int r;

                if (burst == DATA_BURST)
                        return 2;
                r = emit_data(c);
                if (r == 0)
                        return 0;
                if (r == -EAGAIN) {
                        if (peer_free(c) > 0)
                                c->host_readable = false;
                        break;
                }
                if (r == -EPIPE) {
                        c->host_eof = true;
                        c->need_shutdown |= VSOCK_SHUTDOWN_SEND;
                        if (c->host_hup)
                                c->need_shutdown |= VSOCK_SHUTDOWN_RCV;
                        break;
                }
                if (r < 0) {
                        conn_reset(c, true);
                        return 1;
                }
        }
        if (c->need_shutdown) {
                if (!emit_conn_op(c, VSOCK_OP_SHUTDOWN, c->need_shutdown))
                        return 0;
                /* Nothing can flow either way now: the guest owes an RST
                 * (Linux sends it at once). Wait for it only so long, as
                 * Firecracker does. A half-close (the host still reading)
                 * may last, so it has no deadline. */
                if ((c->need_shutdown & VSOCK_SHUTDOWN_RCV) && c->deadline == 0)
                        conn_timer_start(c);
                c->need_shutdown = 0;
                c->shutdown_sent = true;
        }
        if (c->need_credit_update) {
                if (!emit_conn_op(c, VSOCK_OP_CREDIT_UPDATE, 0))
                        return 0;
        }
        conn_check_done(c);
        return 1;
}

/* Sends queued RSTs. Returns false when the rx ring ran out. */
static bool flush_rsts(struct vsock_dev *d) {
        while (d->rst_len > 0) {
                const struct rst_entry *e = &d->rsts[d->rst_head];
                struct vsock_hdr h;

                fill_hdr(d, &h, e->guest_port, e->host_port, VSOCK_OP_RST);
                if (!emit_hdr(d, &h))
                        return false;
                d->rst_head = (d->rst_head + 1) % d->rst_cap;
                d->rst_len--;
        }
        return true;
}

void vsock_dev_process_rx(struct vsock_dev *d) {
        if (!vq_ready(d->rx))
                return;
        /* conn_emit may queue RSTs while finishing connections: flush them
         * before each connection gets its turn and once more at the end. */
        while (flush_rsts(d)) {
                struct vsock_conn *c = pending_pop(d);
                int r;

                if (!c)
                        break;
                r = conn_emit(c);
                if (!c->dead && conn_watch_in(c) < 0)
                        conn_reset(c, true);
                if (r == 0) {
                        if (!c->dead)
                                pending_push_front(d, c);
                        break;
                }
                if (r == 2)
                        conn_mark_pending(c);
        }
}

/* The tx ring's used chains only let the guest free the memory of packets
 * it sent (a Linux guest waits on them only when its ring is full), yet each
 * call costs us a syscall, QEMU a wake-up and the guest an interrupt: about
 * one per packet in a stream. So they are called in bulk, once a quarter of
 * the ring waits or TX_CALL_DELAY_MS after the first; the rx ring, which
 * carries data the guest waits for, is called at once. */
void vsock_dev_notify(struct vsock_dev *d) {
        vq_notify(d->rx);
        if (!vq_notify_pending(d->tx)) {
                d->tx_call_deadline = 0;
                return;
        }
        if (vq_unsignalled_descs(d->tx) >= d->tx->num / 4u ||
            (d->tx_call_deadline != 0 && now_ms() >= d->tx_call_deadline)) {
                vq_notify(d->tx);
                d->tx_call_deadline = 0;
        } else if (d->tx_call_deadline == 0)
                d->tx_call_deadline = now_ms() + TX_CALL_DELAY_MS;
}

int vsock_dev_timeout_ms(struct vsock_dev *d) {
        int call = d->tx_call_deadline != 0 ? ms_left(d->tx_call_deadline) : -1;
        int rest = admit_tick(&d->admit);

        return call < 0 ? rest : rest < 0 || call < rest ? call : rest;
}

/* ---- guest -> host data ---- */

/* The most the guest will have in flight towards us: our buffer, or less
 * when its own receive buffer (the buf_alloc in its packets) is smaller,
 * because Linux guests cap the credit they use at their own buffer size. A
 * threshold above that would never be reached: the guest would wait for an
 * update that never comes. */
static uint32_t conn_window(const struct vsock_conn *c) {
        uint32_t cap = c->dev->cfg.tx_buffer_size;

        return c->peer_buf_alloc > 0 && c->peer_buf_alloc < cap ? c->peer_buf_alloc : cap;
}

/* Tells the guest what we forwarded once that is worth a packet (and an
 * interrupt): more than a quarter of the window, or less than that quarter
 * (at most one full packet) left in the guest's view of its credit. The
 * second rule means a guest that used up its credit always hears about the
 * space the host frees: while the buffer drains into the host, its view of
 * our free space stays below the quarter until we announce. */
static void conn_maybe_credit(struct vsock_conn *c) {
        uint32_t win = conn_window(c);
        uint32_t quarter = win / 4 < VSOCK_MAX_PAYLOAD ? win / 4 : VSOCK_MAX_PAYLOAD;
        uint32_t unannounced = c->fwd_cnt - c->last_fwd_sent;
        /* What the guest may still send as far as it knows; 0 when it sent
         * more than its credit (the straight path does not check). */
        uint64_t used = (uint64_t) c->buf_len + unannounced;
        uint32_t view_free = used < win ? win - (uint32_t) used : 0;

        if (unannounced == 0)
                return;
        if (unannounced > win / 4 || view_free < quarter) {
                c->need_credit_update = true;
                conn_mark_pending(c);
        }
}

/* Writes buffered bytes to the host. Returns 0 or -errno (fatal). */
static int conn_flush(struct vsock_conn *c) {
        uint32_t cap = c->dev->cfg.tx_buffer_size;
        bool flushed = false;

        while (c->buf_len > 0) {
                struct iovec iov[2];
                uint32_t first = c->buf_len < cap - c->buf_head ? c->buf_len : cap - c->buf_head;
                int n = 1;
                ssize_t k;

                iov[0] = (struct iovec) { c->buf + c->buf_head, first };
                if (first < c->buf_len) {
                        iov[1] = (struct iovec) { c->buf, c->buf_len - first };
                        n = 2;
                }
                k = writev(c->src.fd, iov, n);
                if (k < 0) {
                        if (errno == EAGAIN || errno == EWOULDBLOCK)
                                break;
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                c->buf_head = (uint32_t) ((c->buf_head + (uint32_t) k) % cap);
                c->buf_len -= (uint32_t) k;
                c->fwd_cnt += (uint32_t) k;
                flushed = true;
        }
        if (c->buf_len == 0 && c->guest_no_send && !c->host_shut_wr) {
                (void) shutdown(c->src.fd, SHUT_WR);
                c->host_shut_wr = true;
        }
        if (flushed)
                conn_maybe_credit(c);
        return 0;
}

/* Forwards an RW payload: straight to the host socket while nothing is
 * buffered, the rest into the connection's buffer. Returns 0 or -errno. */
static int conn_forward(struct vsock_conn *c, const struct iovec *payload, unsigned n, uint32_t len) {
        uint32_t cap = c->dev->cfg.tx_buffer_size;
        size_t off = 0;
        int r;

        if (c->buf_len == 0) {
                ssize_t k = writev(c->src.fd, payload, (int) n);

                if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
                        return negative_errno();
                if (k > 0) {
                        off = (size_t) k;
                        c->fwd_cnt += (uint32_t) k;
                }
        }
        if (off < len) {
                uint32_t rest = len - (uint32_t) off;

                /* The guest may only send what our credit allows; more is a
                 * protocol violation, not something to buffer without end. */
                if (rest > cap - c->buf_len)
                        return -ENOBUFS;
                if (!c->buf) {
                        c->buf = malloc(cap);
                        if (!c->buf)
                                return -ENOMEM;
                }
                r = conn_watch_out(c, true);
                if (r < 0)
                        return r;
                while (rest > 0) {
                        uint32_t tail = (c->buf_head + c->buf_len) % cap;
                        uint32_t chunk = rest < cap - tail ? rest : cap - tail;

                        iov_to_buf(payload, n, off, c->buf + tail, chunk);
                        c->buf_len += chunk;
                        off += chunk;
                        rest -= chunk;
                }
        }
        conn_maybe_credit(c);
        return 0;
}

/* ---- guest packets ---- */

static void guest_connect(struct vsock_dev *d, const struct vsock_hdr *h) {
        char path[4096];
        struct sockaddr_un sa;
        socklen_t salen;
        _cleanup_close_ int fd = -1;
        struct vsock_conn *c;

        if (d->n_conns >= d->cfg.max_connections) {
                admit_guest_refuse(&d->admit, d->cfg.max_connections, &d->stats.refused_max_connections);
                goto refuse;
        }
        if (!port_allowed(d, h->dst_port))
                goto refuse;
        if (hvsock__hybrid_listen_path(d->uds_path, h->dst_port, path, sizeof(path)) < 0 ||
            sockaddr_un_set(&sa, &salen, path) < 0)
                goto refuse;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                goto refuse;
        /* A UNIX connect finishes at once or fails (EAGAIN: backlog full). */
        if (connect(fd, (struct sockaddr *) &sa, salen) < 0)
                goto refuse;
        c = conn_new(d, fd, CONN_ESTABLISHED);
        if (!c)
                goto refuse;
        TAKE_FD(fd);
        c->guest_port = h->src_port;
        c->host_port = h->dst_port;
        c->peer_buf_alloc = h->buf_alloc;
        c->peer_fwd_cnt = h->fwd_cnt;
        c->need_response = true;
        conn_link(c);
        conn_mark_pending(c);
        return;
refuse:
        d->stats.refused++;
        queue_rst(d, h->src_port, h->dst_port);
}

static void conn_guest_shutdown(struct vsock_conn *c, uint32_t flags) {
        if (flags & VSOCK_SHUTDOWN_RCV)
                c->guest_no_recv = true;
        if (flags & VSOCK_SHUTDOWN_SEND)
                c->guest_no_send = true;
        if (c->guest_no_send && c->buf_len == 0 && !c->host_shut_wr) {
                (void) shutdown(c->src.fd, SHUT_WR);
                c->host_shut_wr = true;
        }
        conn_check_done(c);
}

static void conn_response(struct vsock_conn *c) {
        char line[32];
        int n;

        if (c->state != CONN_CONNECTING) {
                conn_reset(c, true);
                return;
        }
        n = snprintf(line, sizeof(line), "OK %" PRIu32 "\n", c->host_port);
        if (send(c->src.fd, line, (size_t) n, MSG_NOSIGNAL | MSG_DONTWAIT) != n) {
                conn_reset(c, true);
                return;
        }
        c->state = CONN_ESTABLISHED;
        conn_timer_stop(c);
        /* Data the client sent after its CONNECT line is waiting. */
        c->host_readable = true;
        conn_mark_pending(c);
}

/* Writes the gathered payloads to their host socket at once, then gives
 * their chains back to the guest (only now: the iovecs point into them). */
static void gather_flush(struct vsock_dev *d) {
        struct tx_gather *g = &d->gather;

        if (g->c && !g->c->dead && conn_forward(g->c, g->iov, g->n_iov, g->len) < 0)
                conn_reset(g->c, true);
        for (unsigned i = 0; i < g->n_heads; i++)
                vq_push(d->tx, g->heads[i], 0);
        g->c = NULL;
        g->len = 0;
        g->n_iov = g->n_heads = 0;
}

/* Whether an RW packet of c can join the gathered ones. */
static bool gather_fits(const struct vsock_dev *d, const struct vsock_conn *c, const struct vq_elem *e) {
        const struct tx_gather *g = &d->gather;

        return g->c == c && g->n_heads < GATHER_PACKETS && e->n_out <= VQ_IOV_MAX - g->n_iov;
}

static void gather_add(struct vsock_dev *d, struct vsock_conn *c, const struct vq_elem *e, uint32_t len) {
        struct tx_gather *g = &d->gather;
        size_t got;

        g->c = c;
        /* Fits: gather_fits checked the chain's entry count. */
        g->n_iov += iov_slice(g->iov + g->n_iov, VQ_IOV_MAX - g->n_iov, e->out, e->n_out, VSOCK_HDR_SIZE, len, &got);
        g->len += len;
        g->heads[g->n_heads++] = e->head;
}

/* Handles one guest packet. Returns true when its chain joined the gather
 * (gather_flush gives it back), false when the caller gives it back now. */
static bool handle_packet(struct vsock_dev *d, const struct vq_elem *e) {
        uint8_t raw[VSOCK_HDR_SIZE];
        struct vsock_hdr h;
        struct vsock_conn *c;

        if (e->out_len < VSOCK_HDR_SIZE) {
                d->stats.dropped_malformed++;
                return false;
        }
        iov_to_buf(e->out, e->n_out, 0, raw, sizeof(raw));
        vsock_hdr_parse(raw, &h);
        if (h.src_cid != d->cfg.guest_cid) {
                d->stats.dropped_cid++;
                return false;
        }
        c = conn_find(d, h.src_port, h.dst_port);
        /* Anything but more data for the gathered connection goes after
         * what was gathered; the write may end that connection. */
        if (d->gather.n_heads > 0 && !(h.op == VSOCK_OP_RW && gather_fits(d, c, e))) {
                gather_flush(d);
                c = conn_find(d, h.src_port, h.dst_port);
        }
        if (h.len > e->out_len - VSOCK_HDR_SIZE || h.len > VSOCK_MAX_PAYLOAD) {
                /* A malformed frame ends its connection, nothing else. */
                d->stats.dropped_malformed++;
                if (c)
                        conn_reset(c, true);
                else if (h.op != VSOCK_OP_RST)
                        queue_rst(d, h.src_port, h.dst_port);
                return false;
        }
        if (h.op == VSOCK_OP_RST) {
                if (c)
                        conn_reset(c, false);
                return false;
        }
        if (h.dst_cid != VSOCK_CID_HOST || h.type != VSOCK_TYPE_STREAM) {
                if (c)
                        conn_reset(c, true);
                else
                        queue_rst(d, h.src_port, h.dst_port);
                return false;
        }
        if (h.op == VSOCK_OP_REQUEST) {
                if (c) {
                        conn_reset(c, true);
                        return false;
                }
                guest_connect(d, &h);
                return false;
        }
        if (!c) {
                queue_rst(d, h.src_port, h.dst_port);
                return false;
        }
        c->peer_buf_alloc = h.buf_alloc;
        c->peer_fwd_cnt = h.fwd_cnt;
        if (c->host_readable && peer_free(c) > 0)
                conn_mark_pending(c);
        switch (h.op) {
        case VSOCK_OP_RESPONSE:
                conn_response(c);
                break;
        case VSOCK_OP_SHUTDOWN:
                conn_guest_shutdown(c, h.flags);
                break;
        case VSOCK_OP_RW:
                if (c->state != CONN_ESTABLISHED || c->guest_no_send) {
                        conn_reset(c, true);
                        break;
                }
                if (h.len == 0)
                        break;
                gather_add(d, c, e, h.len);
                return true;
        case VSOCK_OP_CREDIT_UPDATE:
                break; /* the credit fields were taken above */
        case VSOCK_OP_CREDIT_REQUEST:
                c->need_credit_update = true;
                conn_mark_pending(c);
                break;
        default:
                conn_reset(c, true);
                break;
        }
        return false;
}

void vsock_dev_process_tx(struct vsock_dev *d) {
        int r;

        if (!vq_ready(d->tx))
                return;
        /* Always drain: a slow host socket buffers or resets its own
         * connection, it never stalls the queue for the others. */
        while ((r = vq_pop(d->tx, &d->elem)) != 0) {
                if (r == -EIO)
                        break;
                if (r < 0) {
                        d->stats.dropped_malformed++;
                        continue;
                }
                if (!handle_packet(d, &d->elem))
                        vq_push(d->tx, d->elem.head, 0);
        }
        gather_flush(d);
        vsock_dev_process_rx(d);
}

/* ---- host side ---- */

static uint32_t alloc_host_port(struct vsock_dev *d, uint32_t guest_port) {
        for (;;) {
                uint32_t p = d->next_host_port++;

                if (d->next_host_port >= HOST_PORT_END)
                        d->next_host_port = HOST_PORT_FIRST;
                if (!conn_find(d, guest_port, p))
                        return p;
        }
}

static void conn_read_line(struct vsock_conn *c) {
        for (;;) {
                uint32_t port;
                char ch;
                ssize_t k = read(c->src.fd, &ch, 1);
                int r;

                if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        return;
                if (k <= 0) {
                        conn_reset(c, false);
                        return;
                }
                r = connect_line_feed(&c->line, ch, &port);
                if (r == 0)
                        continue;
                /* No running guest driver (QEMU gone or not started): nothing
                 * can accept, so refuse now instead of leaving the client to
                 * its connect timeout. */
                if (r < 0 || !vq_ready(c->dev->rx) || !vq_ready(c->dev->tx)) {
                        conn_reset(c, false);
                        return;
                }
                c->guest_port = port;
                c->host_port = alloc_host_port(c->dev, port);
                c->state = CONN_CONNECTING;
                c->dev->n_line--;
                admit_host_line_done(&c->dev->admit);
                c->need_request = true;
                c->host_readable = false;
                conn_link(c);
                conn_mark_pending(c);
                /* A guest that never answers: the client is closed silently. */
                conn_timer_start(c);
                return;
        }
}

static void conn_host_event(struct ev_source *s, uint32_t revents) {
        struct vsock_conn *c = (struct vsock_conn *) s;
        struct vsock_dev *d = c->dev;

        /* On a UNIX stream EPOLLHUP means the peer closed both ways; its
         * shutdown(SHUT_WR) alone is only EPOLLRDHUP. Once the host is gone
         * for good and we already told the guest it sends no more, tell it
         * the host receives no more either. */
        if ((revents & EPOLLHUP) && !c->host_hup) {
                c->host_hup = true;
                if (c->host_eof)
                        c->need_shutdown |= VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND;
        }
        if (c->state == CONN_LINE) {
                conn_read_line(c);
                vsock_dev_process_rx(d);
                return;
        }
        /* Nothing buffered any more: stop watching until there is (once,
         * rather than after every flush: buffering tends to come in runs). */
        if ((revents & EPOLLOUT) && c->buf_len == 0 && conn_watch_out(c, false) < 0) {
                conn_reset(c, true);
                vsock_dev_process_rx(d);
                return;
        }
        if (revents & EPOLLOUT && c->buf_len > 0) {
                if (conn_flush(c) < 0) {
                        conn_reset(c, true);
                        vsock_dev_process_rx(d);
                        return;
                }
                conn_check_done(c);
                if (c->dead) {
                        vsock_dev_process_rx(d);
                        return;
                }
        }
        if (revents & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
                c->host_readable = true;
                conn_mark_pending(c);
        }
        vsock_dev_process_rx(d);
}

static void timer_event(struct ev_source *s, uint32_t revents) {
        struct vsock_dev *d = (struct vsock_dev *) ((char *) s - offsetof(struct vsock_dev, timer));
        uint64_t expirations, now = now_ms();

        (void) !read(s->fd, &expirations, sizeof(expirations));
        /* A client that never sent its CONNECT line, or a CONNECT the guest
         * never answered: the client is closed without a word (and in the
         * second case the guest told to forget the REQUEST). A SHUTDOWN the
         * guest never answered: the RST it owed, sent by us. */
        while (d->timer_head && d->timer_head->deadline <= now) {
                d->stats.timeouts++;
                conn_reset(d->timer_head, true);
        }
        if (d->timer_head)
                timer_arm(d, d->timer_head->deadline);
        vsock_dev_process_rx(d);
}

static void listener_event(struct ev_source *s, uint32_t revents) {
        struct vsock_dev *d = (struct vsock_dev *) ((char *) s - offsetof(struct vsock_dev, listener));

        while (admit_host_room(&d->admit, d->n_line, d->cfg.max_pending_clients, &d->stats.host_accept_paused)) {
                int fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                struct vsock_conn *c;

                if (fd < 0) {
                        admit_host_accept_failed(&d->admit, errno, &d->stats.host_accept_starved);
                        return;
                }
                if (d->n_conns >= d->cfg.max_connections) {
                        admit_host_refuse(&d->admit, fd, d->cfg.max_connections,
                                          &d->stats.host_refused_max_connections);
                        continue;
                }
                c = conn_new(d, fd, CONN_LINE);
                if (!c) {
                        safe_close(fd);
                        continue;
                }
                d->n_line++;
                /* A client that never sends its line is closed silently. */
                conn_timer_start(c);
        }
}

/* ---- lifetime ---- */

int vsock_dev_new(const struct vsock_dev_config *cfg, struct ev_loop *loop, struct vq *rx,
                  struct vq *tx, struct vsock_dev **ret) {
        struct vsock_dev *d;
        int r;

        if (!cfg->uds_path || !cfg->config_dir || cfg->max_connections == 0 ||
            cfg->tx_buffer_size == 0 || cfg->tx_buffer_size > (1u << 30))
                return -EINVAL;
        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        d->loop = loop;
        d->listener.fd = -1;
        d->uds = (struct unix_listener) UNIX_LISTENER_NULL;
        d->uds_access = cfg->uds_access ? *cfg->uds_access
                                        : (struct unix_access) { VSOCK_UDS_MODE, (uid_t) -1, (gid_t) -1 };
        d->timer.fd = -1;
        d->cfg = *cfg;
        if (d->cfg.max_pending_clients == 0)
                d->cfg.max_pending_clients = VSOCK_DEFAULT_MAX_PENDING_CLIENTS;
        if (d->cfg.timeout_ms == 0)
                d->cfg.timeout_ms = VSOCK_DEFAULT_TIMEOUT_MS;
        d->uds_path = strdup(cfg->uds_path);
        d->config_dir = strdup(cfg->config_dir);
        d->vm_name = cfg->vm_name ? strdup(cfg->vm_name) : NULL;
        d->rst_cap = 2 * cfg->max_connections + 256;
        d->rsts = calloc(d->rst_cap, sizeof(*d->rsts));
        if (!d->uds_path || !d->config_dir || (cfg->vm_name && !d->vm_name) || !d->rsts) {
                vsock_dev_free(d);
                return -ENOMEM;
        }
        d->timer.fn = timer_event;
        d->timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        r = d->timer.fd < 0 ? negative_errno() : ev_add(loop, &d->timer, EPOLLIN);
        if (r < 0) {
                vsock_dev_free(d);
                return r;
        }
        d->rx = rx;
        d->tx = tx;
        d->listener.fn = listener_event;
        admit_init(&d->admit, loop, &d->listener);
        d->next_host_port = HOST_PORT_FIRST;
        /* Read now so that a malformed registry is reported at start, with
         * its file:line, rather than at the first guest connect. */
        registry_refresh(d);
        *ret = d;
        return 0;
}

int vsock_dev_listen(struct vsock_dev *d, char **ret_error) {
        /* Room for the clients that wait while others send their line. */
        int r = unix_listen(d->uds_path, SOMAXCONN, &d->uds_access, &d->uds, ret_error);

        if (r < 0)
                return r;
        d->listener.fd = d->uds.fd;
        r = ev_add(d->loop, &d->listener, EPOLLIN);
        if (r < 0) {
                unix_listener_close(&d->uds);
                d->listener.fd = -1;
        }
        return r;
}

void vsock_dev_reset(struct vsock_dev *d) {
        while (d->all)
                conn_reset(d->all, false);
        d->rst_len = 0;
        d->rst_head = 0;
        while (pending_pop(d))
                ;
        /* No gc here: a reset runs inside an event handler (QEMU's EOF) and
         * the rest of the loop's batch may still name these connections. */
}

void vsock_dev_gc(struct vsock_dev *d) {
        struct vsock_conn **p = &d->pending_head;

        if (!d->dead)
                return;
        /* Unlink dead connections from the pending list first. */
        d->pending_tail = NULL;
        while (*p) {
                if ((*p)->dead)
                        *p = (*p)->pending_next;
                else {
                        d->pending_tail = *p;
                        p = &(*p)->pending_next;
                }
        }
        while (d->dead) {
                struct vsock_conn *c = d->dead;
                d->dead = c->dead_next;
                conn_free(c);
        }
}

struct vsock_dev *vsock_dev_free(struct vsock_dev *d) {
        if (!d)
                return NULL;
        vsock_dev_reset(d);
        vsock_dev_gc(d);
        if (d->listener.fd >= 0) {
                ev_del(d->loop, &d->listener);
                unix_listener_close(&d->uds);
                d->listener.fd = -1;
        }
        if (d->timer.fd >= 0) {
                ev_del(d->loop, &d->timer);
                d->timer.fd = safe_close(d->timer.fd);
        }
        hvsock__registry_free(d->registry);
        free(d->rsts);
        free(d->uds_path);
        free(d->config_dir);
        free(d->vm_name);
        free(d);
        return NULL;
}

unsigned vsock_dev_connections(const struct vsock_dev *d) {
        return d->n_conns;
}

const struct vsock_stats *vsock_dev_stats(const struct vsock_dev *d) {
        return &d->stats;
}
