/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>

#include "log.h"

void log_error(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        fputs("hvsock-vhost: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
}
