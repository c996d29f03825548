/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_VHOST_LOG_H
#define HVSOCK_VHOST_LOG_H

#include "macro.h"

/* One line on stderr, "hvsock-vhost: " first: what the daemon reports about
 * a peer (QEMU, the guest, the registry) while it goes on serving. */
void log_error(const char *fmt, ...) _printf_(1, 2);

#endif
