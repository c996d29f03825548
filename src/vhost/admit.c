/* SPDX-License-Identifier: MIT */
#include <sys/epoll.h>
#include <unistd.h>

#include "admit.h"
#include "log.h"
#include "macro.h"
#include "time-util.h"

void admit_init(struct admit *a, struct ev_loop *loop, struct ev_source *listener) {
        *a = (struct admit) { .loop = loop, .listener = listener };
}

bool admit_host_room(struct admit *a, unsigned n_line, unsigned max_pending, uint64_t *paused) {
        if (n_line < max_pending)
                return true;
        /* A listening socket reports nothing but EPOLLIN: with no events
         * asked it stays registered and silent. */
        if (!a->paused && ev_mod(a->loop, a->listener, 0) == 0) {
                a->paused = true;
                (*paused)++;
        }
        return false;
}

void admit_host_line_done(struct admit *a) {
        if (a->paused && ev_mod(a->loop, a->listener, EPOLLIN) == 0)
                a->paused = false;
}

/* Whether a refusal at *last starts a burst; records it. */
static bool burst_starts(uint64_t *last) {
        uint64_t now = now_ms();
        bool starts = *last == 0 || now - *last >= ADMIT_BURST_QUIET_MS;

        *last = now;
        return starts;
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

void admit_guest_refuse(struct admit *a, unsigned max_connections, uint64_t *refused) {
        (*refused)++;
        if (burst_starts(&a->guest_refused_ms))
                log_error("refusing guest connects: --max-connections %u reached (each one is counted in the "
                          "SIGUSR1 line, refused_max_connections)", max_connections);
}
