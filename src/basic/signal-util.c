/* SPDX-License-Identifier: MIT */
#include <signal.h>
#include <stddef.h>
#include <unistd.h>

#include "signal-util.h"

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
