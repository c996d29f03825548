/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "fd-util.h"
#include "frame.h"
#include "macro.h"
#include "session-admit.h"

bool session_admit_room(const struct session_admit *a, unsigned serving, unsigned answering) {
        return serving < a->max_sessions || answering < SESSION_ADMIT_ANSWERING;
}

/* --auth host over vsock: only the host (CID 2) is the peer the hypervisor
 * vouches for. vsock loopback (CID 1, any user of this machine), this
 * machine's own CID, and the guests of a machine that is itself a host
 * (CID > 2) are not. */
static uint32_t check_vsock_peer(int fd, char *why, size_t size) {
        struct sockaddr_vm sa = {};
        socklen_t len = sizeof(sa);

        if (getpeername(fd, (struct sockaddr *) &sa, &len) < 0) {
                snprintf(why, size, "--auth host cannot tell which vsock peer connected: %s", strerror(errno));
                return SESSION_E_PERMISSION;
        }
        if (sa.svm_family == AF_VSOCK && sa.svm_cid == VMADDR_CID_HOST)
                return 0;
        snprintf(why, size, "--auth host accepts vsock connections only from the host (CID 2); CID %u is refused "
                 "(use --auth pam)", (unsigned) sa.svm_cid);
        return SESSION_E_PERMISSION;
}

/* --auth host: the peer must be the host the hypervisor vouches for. Over a
 * UNIX socket the peer is a process on this machine instead, taken only
 * when it is root or this daemon's user. Returns 0 to take it, else
 * SESSION_E_PERMISSION with why filled. */
static uint32_t check_peer(const struct session_admit *a, int fd, char *why, size_t size) {
        struct ucred cred;
        socklen_t len = sizeof(int);
        int domain = -1;

        if (a->auth != SESSION_SERVER_AUTH_HOST)
                return 0;
        if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0) {
                snprintf(why, size, "--auth host cannot tell what connected: %s", strerror(errno));
                return SESSION_E_PERMISSION;
        }
        if (domain == AF_VSOCK)
                return check_vsock_peer(fd, why, size);
        if (domain != AF_UNIX) {
                snprintf(why, size, "--auth host does not know address family %d", domain);
                return SESSION_E_PERMISSION;
        }
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
        ret->refuse = check_peer(a, fd, ret->why, sizeof(ret->why));
        if (!ret->refuse && serving >= a->max_sessions) {
                ret->refuse = SESSION_E_BUSY;
                snprintf(ret->why, sizeof(ret->why), "the daemon already serves its maximum of %u sessions",
                         a->max_sessions);
        }
        return 1;
}
