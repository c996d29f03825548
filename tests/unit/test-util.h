/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_TEST_UTIL_H
#define HVSOCK_TEST_UTIL_H

/* Shared by the cmocka unit tests. Include after <setjmp.h>/<cmocka.h>. */

/*
 * Makes a fresh temporary directory tree for one test program, points
 * HVSOCK_CONFIG_DIR and HVSOCK_RUNTIME_DIR at <tmp>/config and <tmp>/run,
 * restricts HVSOCK_TRANSPORTS to local,hybrid (kernel vsock is never used on
 * the build machines), and arms an alarm so a hung socket fails the test
 * instead of hanging. Returns the directory (removed at exit).
 */
const char *test_setup_env(unsigned timeout_s);

/* Returns a path inside the test directory ("<tmp>/<name>"); static buffer
 * rotated over 8 slots. */
const char *test_path(const char *name);

#endif
