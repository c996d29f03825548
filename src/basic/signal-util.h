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

/*
 * For a program whose waits include blocking writes (a signalfd cannot
 * interrupt those): a handler for the stop signals of
 * sigset_add_stop_signals() writes the signal's number to a pipe and, not
 * restarting them, makes a blocked poll(), read() or write() return. Returns
 * the pipe's non-blocking read end, readable once a stop signal came, or
 * -errno. Once per process.
 */
int stop_signals_pipe(void);

/* The stop signal that stop_signals_pipe()'s fd carries (SIGTERM when it
 * cannot tell). */
int stop_signal_read(int fd);

/* After that cleanup: ends the process by sig with its default action, so
 * the parent sees the signal as it would have without the cleanup. */
_Noreturn void raise_default(int sig);

#endif
