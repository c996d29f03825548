/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "admit.h"
#include "log.h"
#include "macro.h"
#include "time-util.h"

void admit_init(struct admit *a, struct ev_loop *loop, struct ev_source *listener) {
        *a = (struct admit) { .loop = loop, .listener = listener, .watched = true };
}

/* Watches the listener exactly while neither the pending limit nor a rest
 * holds it back. A listening socket reports nothing but EPOLLIN: with no
 * events asked it stays registered and silent. */
static void update_watch(struct admit *a) {
        bool want = !a->paused && !a->starved_until;

        if (want != a->watched && ev_mod(a->loop, a->listener, want ? EPOLLIN : 0) == 0)
                a->watched = want;
}

bool admit_host_room(struct admit *a, unsigned n_line, unsigned max_pending, uint64_t *paused) {
        if (n_line < max_pending)
                return !a->starved_until;
        if (!a->paused) {
                a->paused = true;
                (*paused)++;
                update_watch(a);
        }
        return false;
}

void admit_host_line_done(struct admit *a) {
        a->paused = false;
        update_watch(a);
}

/* Whether an event at *last starts a burst (none for quiet ms); records it. */
static bool burst_starts_after(uint64_t *last, uint64_t quiet) {
        uint64_t now = now_ms();
        bool starts = *last == 0 || now - *last >= quiet;

        *last = now;
        return starts;
}

static bool burst_starts(uint64_t *last) {
        return burst_starts_after(last, ADMIT_BURST_QUIET_MS);
}

void admit_host_refuse(struct admit *a, int fd, unsigned max_connections, uint64_t *refused) {
        char drain[256];

        /* Its CONNECT line, if it came: a close with bytes unread would
         * reach the client as a reset instead of a refusal. A line is a few
         * bytes; a client that keeps writing gets its reset. */
        for (int i = 0; i < 4 && read(fd, drain, sizeof(drain)) > 0; i++)
                ;
        safe_close(fd);
        (*refused)++;
        if (burst_starts(&a->host_refused_ms))
                log_error("refusing host clients: --max-connections %u reached (each one is counted in the "
                          "SIGUSR1 line, host_refused_max_connections)", max_connections);
}

void admit_host_accept_failed(struct admit *a, int err, uint64_t *starved) {
        if (err != EMFILE && err != ENFILE && err != ENOMEM && err != ENOBUFS)
                return; /* EAGAIN, or a client that went away: nothing to wait for */
        a->starved_until = now_ms() + ADMIT_STARVED_RETRY_MS;
        (*starved)++;
        update_watch(a);
        if (burst_starts_after(&a->starved_ms, ADMIT_STARVED_QUIET_MS))
                log_error("accepting host clients: %s; they wait in the backlog until a connection closes "
                          "(counted in the SIGUSR1 line, host_accept_starved)", strerror(err));
}

void admit_fd_freed(struct admit *a) {
        if (!a->starved_until)
                return;
        a->starved_until = 0;
        update_watch(a);
}

int admit_tick(struct admit *a) {
        if (!a->starved_until)
                return -1;
        if (now_ms() < a->starved_until)
                return ms_left(a->starved_until);
        admit_fd_freed(a);
        return -1;
}

void admit_guest_refuse(struct admit *a, unsigned max_connections, uint64_t *refused) {
        (*refused)++;
        if (burst_starts(&a->guest_refused_ms))
                log_error("refusing guest connects: --max-connections %u reached (each one is counted in the "
                          "SIGUSR1 line, refused_max_connections)", max_connections);
}
