/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_BASIC_SIGNAL_UTIL_H
#define HVSOCK_BASIC_SIGNAL_UTIL_H

#include <signal.h>

/*
 * The signals that stop a program that created socket files: SIGTERM, SIGHUP
 * and SIGINT. Such a program blocks them and reads them from a signalfd, so
 * that it leaves through its normal free path, which removes its files. A
 * signal the process inherited as ignored stays ignored and is left out of
 * *set (nohup's SIGHUP; SIGINT in a background job of a non-interactive
 * shell): catching it would stop what its parent meant to keep running.
 */
void sigset_add_stop_signals(sigset_t *set);

/* After that cleanup: ends the process by sig with its default action, so
 * the parent sees the signal as it would have without the cleanup. */
_Noreturn void raise_default(int sig);

#endif
