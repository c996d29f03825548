/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_LIB_CTX_H
#define HVSOCK_LIB_CTX_H

#include <stdint.h>

#include <hvsock/hvsock.h>

struct hvsock_ctx {
        char *config_dir;
        char *runtime_dir;
        uint32_t transports;
        uint32_t socket_uid, socket_gid; /* HVSOCK_ID_KEEP: the caller's */
        char *error; /* hvsock_ctx_last_error() */
};

/* Yields ctx when not NULL, otherwise a fresh context from the environment
 * stored in *tmp (freed by the caller with hvsock_ctx_free). */
int hvsock__ctx_get(struct hvsock_ctx *ctx, struct hvsock_ctx **tmp, struct hvsock_ctx **ret);

/* Replaces the message of hvsock_ctx_last_error() with error (owned by ctx
 * from now on; may be NULL). NULL-safe on ctx, which then frees error. */
void hvsock__ctx_set_error(struct hvsock_ctx *ctx, char *error);

#endif
