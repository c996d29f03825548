/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_VHOST_EV_H
#define HVSOCK_VHOST_EV_H

/*
 * The one epoll loop of hvsock-vhost. Every watched fd is an ev_source
 * embedded in the object that owns the fd; the loop calls its fn with the
 * epoll events. Objects freed while handling an event must defer the free
 * until ev_run_once() returns (the rest of the batch may still name them).
 */

#include <stdint.h>

struct ev_source {
        int fd;
        void (*fn)(struct ev_source *s, uint32_t revents);
};

struct ev_loop {
        int epfd;
};

/* Returns 0 or -errno. */
int ev_loop_init(struct ev_loop *loop);
void ev_loop_done(struct ev_loop *loop);

/* Start, change or stop watching s->fd. Return 0 or -errno; ev_del ignores
 * fds that are not watched. */
int ev_add(struct ev_loop *loop, struct ev_source *s, uint32_t events);
int ev_mod(struct ev_loop *loop, struct ev_source *s, uint32_t events);
void ev_del(struct ev_loop *loop, struct ev_source *s);

/* Waits up to timeout_ms (-1 forever) and dispatches what arrived. Returns
 * the number of events (0 on timeout or EINTR) or -errno. */
int ev_run_once(struct ev_loop *loop, int timeout_ms);

#endif
