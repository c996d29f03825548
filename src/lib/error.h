/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_LIB_ERROR_H
#define HVSOCK_LIB_ERROR_H

/*
 * The detail behind -HVSOCK_E_REGISTRY. The library does not print, and an
 * error code cannot carry "file:line: what is wrong"; so the registry load
 * that the public calls make keeps that message for the calling thread, and
 * hvsock_strerror(-HVSOCK_E_REGISTRY) returns it. Every program then says
 * where the registry is wrong without loading it a second time.
 */

/* Keeps message (the parser's "file:line: ..." text) as this thread's
 * registry error; NULL forgets it (a load that succeeded). */
void hvsock__error_set_registry(const char *message);

#endif
