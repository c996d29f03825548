/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <unistd.h>

#include "macro.h"
#include "signal-util.h"

static int stop_pipe_write = -1;

static void add_unless_ignored(sigset_t *set, int sig) {
        struct sigaction sa;

        if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
                return;
        sigaddset(set, sig);
}

void sigset_add_stop_signals(sigset_t *set) {
        add_unless_ignored(set, SIGTERM);
        add_unless_ignored(set, SIGHUP);
        add_unless_ignored(set, SIGINT);
}

static void stop_handler(int sig) {
        unsigned char b = (unsigned char) sig;
        int saved = errno;

        (void) !write(stop_pipe_write, &b, 1);
        errno = saved;
}

int stop_signals_pipe(void) {
        /* No SA_RESTART: the interrupted call returns and its loop looks. */
        struct sigaction sa = { .sa_handler = stop_handler };
        sigset_t set;
        int p[2];

        if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
                return negative_errno();
        stop_pipe_write = p[1];
        sigemptyset(&set);
        sigset_add_stop_signals(&set);
        sa.sa_mask = set;
        for (int sig = 1; sig < NSIG; sig++)
                if (sigismember(&set, sig) == 1 && sigaction(sig, &sa, NULL) < 0)
                        return negative_errno();
        return p[0];
}

int stop_signal_read(int fd) {
        unsigned char b;

        return read(fd, &b, 1) == 1 ? b : SIGTERM;
}

_Noreturn void raise_default(int sig) {
        sigset_t one;

        signal(sig, SIG_DFL);
        sigemptyset(&one);
        sigaddset(&one, sig);
        raise(sig); /* pending while blocked: delivered when unblocked below */
        sigprocmask(SIG_UNBLOCK, &one, NULL);
        /* Only if the signal does not end the process after all. */
        _exit(128 + sig);
}
