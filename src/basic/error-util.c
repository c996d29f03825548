/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "error-util.h"

int error_set(char **ret_error, int err, const char *fmt, ...) {
        va_list ap;
        char *msg;
        int n;

        if (!ret_error)
                return err;
        va_start(ap, fmt);
        n = vasprintf(&msg, fmt, ap);
        va_end(ap);
        /* Out of memory for the message: the error itself still stands. */
        if (n < 0)
                return err;
        free(*ret_error);
        *ret_error = msg;
        return err;
}
