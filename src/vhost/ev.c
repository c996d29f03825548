/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <sys/epoll.h>

#include "ev.h"
#include "macro.h"

int ev_loop_init(struct ev_loop *loop) {
        loop->epfd = epoll_create1(EPOLL_CLOEXEC);
        return loop->epfd < 0 ? negative_errno() : 0;
}

void ev_loop_done(struct ev_loop *loop) {
        loop->epfd = safe_close(loop->epfd);
}

static int ev_ctl(struct ev_loop *loop, int op, struct ev_source *s, uint32_t events) {
        struct epoll_event ev = { .events = events, .data.ptr = s };

        if (epoll_ctl(loop->epfd, op, s->fd, &ev) < 0)
                return negative_errno();
        return 0;
}

int ev_add(struct ev_loop *loop, struct ev_source *s, uint32_t events) {
        return ev_ctl(loop, EPOLL_CTL_ADD, s, events);
}

int ev_mod(struct ev_loop *loop, struct ev_source *s, uint32_t events) {
        return ev_ctl(loop, EPOLL_CTL_MOD, s, events);
}

void ev_del(struct ev_loop *loop, struct ev_source *s) {
        if (s->fd >= 0)
                (void) epoll_ctl(loop->epfd, EPOLL_CTL_DEL, s->fd, NULL);
}

int ev_run_once(struct ev_loop *loop, int timeout_ms) {
        struct epoll_event evs[64];
        int n = epoll_wait(loop->epfd, evs, (int) ELEMENTSOF(evs), timeout_ms);

        if (n < 0)
                return errno == EINTR ? 0 : negative_errno();
        for (int i = 0; i < n; i++) {
                struct ev_source *s = evs[i].data.ptr;
                /* A source whose fd was closed earlier in this batch is skipped. */
                if (s->fd >= 0)
                        s->fn(s, evs[i].events);
        }
        return n;
}
