/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fd-util.h"
#include "frame.h"
#include "macro.h"
#include "session-admit.h"

bool session_admit_room(const struct session_admit *a, unsigned serving, unsigned answering) {
        return serving < a->max_sessions || answering < SESSION_ADMIT_ANSWERING;
}

int session_admit_next(const struct session_admit *a, struct hvsock_listener *l, unsigned serving,
                       unsigned answering, struct session_admission *ret) {
        int fd;

        if (!session_admit_room(a, serving, answering))
                return 0;
        fd = hvsock_accept(l, 0, NULL);
        if (fd == -EAGAIN || fd == -EINTR)
                return 0;
        if (fd < 0)
                return fd;
        if (fd_set_nonblock(fd, true) < 0) {
                int r = negative_errno();

                close(fd);
                return r;
        }
        ret->fd = fd;
        ret->why[0] = '\0';
        ret->refuse = 0;
        if (serving >= a->max_sessions) {
                ret->refuse = SESSION_E_BUSY;
                snprintf(ret->why, sizeof(ret->why), "the daemon already serves its maximum of %u sessions",
                         a->max_sessions);
        }
        return 1;
}
