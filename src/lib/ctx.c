/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <hvsock/hvsock.h>

#include "ctx.h"
#include "macro.h"

#define DEFAULT_CONFIG_DIR "/etc/hvsock"
#define DEFAULT_RUNTIME_DIR "/run/hvsock"

static const struct {
        const char *name;
        uint32_t bit;
} transport_names[] = {
        { "vsock", HVSOCK_TRANSPORT_VSOCK },
        { "hybrid", HVSOCK_TRANSPORT_HYBRID },
        { "local", HVSOCK_TRANSPORT_LOCAL },
};

HVSOCK_EXPORT int hvsock_transports_parse(const char *s, uint32_t *ret) {
        uint32_t mask = 0;
        const char *p = s;

        if (!s || !*s)
                return -EINVAL;
        while (*p) {
                size_t n = strcspn(p, ",");
                size_t i;

                for (i = 0; i < ELEMENTSOF(transport_names); i++)
                        if (strlen(transport_names[i].name) == n && strncmp(p, transport_names[i].name, n) == 0)
                                break;
                if (i == ELEMENTSOF(transport_names)) {
                        if (n == 3 && strncmp(p, "all", 3) == 0)
                                mask |= HVSOCK_TRANSPORT_ALL;
                        else
                                return -EINVAL;
                } else
                        mask |= transport_names[i].bit;
                p += n;
                /* "local," and "local,,hybrid" name an empty transport. */
                if (*p == ',' && *++p == 0)
                        return -EINVAL;
        }
        if (mask == 0)
                return -EINVAL;
        *ret = mask;
        return 0;
}

static int set_string(char **dst, const char *value) {
        char *copy;

        if (!value || !*value)
                return -EINVAL;
        copy = strdup(value);
        if (!copy)
                return -ENOMEM;
        free(*dst);
        *dst = copy;
        return 0;
}

HVSOCK_EXPORT int hvsock_ctx_new(struct hvsock_ctx **ret) {
        struct hvsock_ctx *ctx;
        const char *e;
        int r;

        ctx = calloc(1, sizeof(*ctx));
        if (!ctx)
                return -ENOMEM;
        ctx->transports = HVSOCK_TRANSPORT_ALL;
        ctx->socket_uid = ctx->socket_gid = HVSOCK_ID_KEEP;

        e = getenv("HVSOCK_CONFIG_DIR");
        r = set_string(&ctx->config_dir, e && *e ? e : DEFAULT_CONFIG_DIR);
        if (r < 0)
                goto fail;
        e = getenv("HVSOCK_RUNTIME_DIR");
        r = set_string(&ctx->runtime_dir, e && *e ? e : DEFAULT_RUNTIME_DIR);
        if (r < 0)
                goto fail;
        e = getenv("HVSOCK_TRANSPORTS");
        if (e && *e) {
                r = hvsock_transports_parse(e, &ctx->transports);
                if (r < 0)
                        goto fail;
        }
        *ret = ctx;
        return 0;
fail:
        hvsock_ctx_free(ctx);
        return r;
}

HVSOCK_EXPORT struct hvsock_ctx *hvsock_ctx_free(struct hvsock_ctx *ctx) {
        if (ctx) {
                free(ctx->config_dir);
                free(ctx->runtime_dir);
                free(ctx->error);
                free(ctx);
        }
        return NULL;
}

HVSOCK_EXPORT const char *hvsock_ctx_config_dir(const struct hvsock_ctx *ctx) {
        return ctx->config_dir;
}

HVSOCK_EXPORT const char *hvsock_ctx_runtime_dir(const struct hvsock_ctx *ctx) {
        return ctx->runtime_dir;
}

HVSOCK_EXPORT uint32_t hvsock_ctx_transports(const struct hvsock_ctx *ctx) {
        return ctx->transports;
}

HVSOCK_EXPORT int hvsock_ctx_set_config_dir(struct hvsock_ctx *ctx, const char *dir) {
        return set_string(&ctx->config_dir, dir);
}

HVSOCK_EXPORT int hvsock_ctx_set_runtime_dir(struct hvsock_ctx *ctx, const char *dir) {
        return set_string(&ctx->runtime_dir, dir);
}

HVSOCK_EXPORT int hvsock_ctx_set_transports(struct hvsock_ctx *ctx, uint32_t mask) {
        if (mask == 0 || (mask & ~(uint32_t) HVSOCK_TRANSPORT_ALL))
                return -EINVAL;
        ctx->transports = mask;
        return 0;
}

HVSOCK_EXPORT int hvsock_ctx_set_socket_owner(struct hvsock_ctx *ctx, uint32_t uid, uint32_t gid) {
        if (!ctx)
                return -EINVAL;
        ctx->socket_uid = uid;
        ctx->socket_gid = gid;
        return 0;
}

HVSOCK_EXPORT const char *hvsock_ctx_last_error(const struct hvsock_ctx *ctx) {
        return ctx ? ctx->error : NULL;
}

void hvsock__ctx_set_error(struct hvsock_ctx *ctx, char *error) {
        if (!ctx) {
                free(error);
                return;
        }
        free(ctx->error);
        ctx->error = error;
}

int hvsock__ctx_get(struct hvsock_ctx *ctx, struct hvsock_ctx **tmp, struct hvsock_ctx **ret) {
        int r;

        *tmp = NULL;
        if (ctx) {
                *ret = ctx;
                return 0;
        }
        r = hvsock_ctx_new(tmp);
        if (r < 0)
                return r;
        *ret = *tmp;
        return 0;
}
