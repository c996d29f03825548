/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_BASIC_ERROR_UTIL_H
#define HVSOCK_BASIC_ERROR_UTIL_H

#include "macro.h"

/* For functions that explain a failure to a caller that prints it: puts the
 * formatted message in *ret_error (when ret_error is not NULL, replacing a
 * message already there; the caller frees it) and returns err. */
int error_set(char **ret_error, int err, const char *fmt, ...) _printf_(3, 4);

#endif
