/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fd-util.h"
#include "frame.h"
#include "macro.h"
#include "session-admit.h"

bool session_admit_room(const struct session_admit *a, unsigned serving, unsigned answering) {
        return serving < a->max_sessions || answering < SESSION_ADMIT_ANSWERING;
}

/* --auth host over a UNIX socket: the peer is a process on this machine, not
 * the host the hypervisor vouches for. Returns 0 to take it, else
 * SESSION_E_PERMISSION with why filled. */
static uint32_t check_local_peer(const struct session_admit *a, int fd, char *why, size_t size) {
        struct ucred cred;
        socklen_t len = sizeof(int);
        int domain;

        if (a->auth != SESSION_SERVER_AUTH_HOST)
                return 0;
        if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 && domain != AF_UNIX)
                return 0;
        len = sizeof(cred);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
                snprintf(why, size, "--auth host cannot tell which local user connected: %s", strerror(errno));
                return SESSION_E_PERMISSION;
        }
        if (cred.uid == 0 || cred.uid == a->self)
                return 0;
        if (a->self == 0)
                snprintf(why, size, "--auth host accepts local connections only from root; uid %u is refused "
                         "(use --auth pam)", (unsigned) cred.uid);
        else
                snprintf(why, size, "--auth host accepts local connections only from root or uid %u; uid %u is "
                         "refused (use --auth pam)", (unsigned) a->self, (unsigned) cred.uid);
        return SESSION_E_PERMISSION;
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
        ret->refuse = check_local_peer(a, fd, ret->why, sizeof(ret->why));
        if (!ret->refuse && serving >= a->max_sessions) {
                ret->refuse = SESSION_E_BUSY;
                snprintf(ret->why, sizeof(ret->why), "the daemon already serves its maximum of %u sessions",
                         a->max_sessions);
        }
        return 1;
}
