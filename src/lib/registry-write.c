/* SPDX-License-Identifier: MIT */
/*
 * Formatting, loading and the locked read-modify-write of the registry file.
 * Writers serialise on flock(<config_dir>/.registry.lock), a file only they
 * can open, wait for it a bounded time, and replace the registry by rename,
 * so readers need no lock: they see the old or the new file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hvsock/hvsock.h>

#include "error-util.h"
#include "fd-util.h"
#include "fs-safe.h"
#include "macro.h"
#include "registry.h"

/* Temporary files are "<TEMP_PREFIX>XXXXXX" in the config dir. */
#define TEMP_PREFIX "." HVSOCK_REGISTRY_FILE "."

static void format_service(FILE *f, const struct hvsock_service *s) {
        char id[HVSOCK_GUID_STRING_MAX];

        fprintf(f, "\n[service %s]\nElementName = %s\nPort = %" PRIu32 "\nEnabled = %s\n",
                hvsock_guid_format(&s->id, id), s->name, s->port, s->enabled ? "yes" : "no");
        if (s->start)
                fprintf(f, "Start = %s\n", s->start);
}

static void format_vm(FILE *f, const struct hvsock_vm *vm) {
        char id[HVSOCK_GUID_STRING_MAX];

        fprintf(f, "\n[vm %s]\nId = %s\n", vm->name, hvsock_guid_format(&vm->id, id));
        if (vm->uds)
                fprintf(f, "Uds = %s\n", vm->uds);
        else
                fprintf(f, "Cid = %" PRIu32 "\n", vm->cid);
        for (size_t i = 0; i < vm->n_policies; i++) {
                const char *policy = hvsock__policy_to_string(vm->policies[i].policy);
                fprintf(f, "Service %s = %s\n", hvsock_guid_format(&vm->policies[i].service, id),
                        policy ? policy : "default");
        }
}

char *hvsock__registry_format(const struct hvsock_registry *r) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f;

        if (!r)
                return NULL;
        f = open_memstream(&buf, &size);
        if (!f)
                return NULL;
        fputs("# hvsock registry (format: docs/registry.md)\n", f);
        for (size_t i = 0; i < r->n_services; i++)
                format_service(f, &r->services[i]);
        for (size_t i = 0; i < r->n_vms; i++)
                format_vm(f, &r->vms[i]);
        if (ferror(f)) {
                fclose(f);
                free(buf);
                return NULL;
        }
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

/* Reads at most max + 1 bytes, enough for the parser to tell that a file
 * is over the limit without reading all of a huge one. */
static int read_limited(int fd, size_t max, char **ret, size_t *ret_len) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0;

        while (len <= max) {
                ssize_t n;

                if (len == cap) {
                        size_t ncap = cap ? cap * 2 : 4096;
                        char *b;

                        if (ncap > max + 1)
                                ncap = max + 1;
                        b = realloc(buf, ncap);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                        cap = ncap;
                }
                n = read(fd, buf + len, cap - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

/* Services every host has, like Hyper-V's in-box ones, unless the file
 * defines the ID or already uses the name or port for something else. */
static int add_builtin_services(struct hvsock_registry *r) {
        struct hvsock_guid id;

        hvsock_guid_from_port(HVSOCK_SESSION_SERVICE_PORT, &id);
        if (hvsock__registry_find_service(r, &id) ||
            hvsock__registry_find_service_by_name(r, HVSOCK_SESSION_SERVICE_NAME) ||
            hvsock__registry_find_service_by_port(r, HVSOCK_SESSION_SERVICE_PORT))
                return 0;
        return hvsock__registry_add_service(r, &id, HVSOCK_SESSION_SERVICE_NAME, HVSOCK_SESSION_SERVICE_PORT, NULL);
}

static int registry_load_file(const char *config_dir, struct hvsock_registry **ret, char **ret_error) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        _cleanup_close_ int fd = -1;
        size_t len;
        int r;

        if (!config_dir || !*config_dir)
                return -EINVAL;
        if (asprintf(&path, "%s/%s", config_dir, HVSOCK_REGISTRY_FILE) < 0)
                return -ENOMEM;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                struct hvsock_registry *empty;

                /* A fresh host has no registry (or no config dir) yet: only built-ins. */
                if (errno != ENOENT)
                        return negative_errno();
                empty = hvsock__registry_new();
                if (!empty)
                        return -ENOMEM;
                *ret = empty;
                return 0;
        }
        r = read_limited(fd, HVSOCK_REGISTRY_SIZE_MAX, &text, &len);
        if (r < 0)
                return r;
        return hvsock__registry_parse(text, len, path, ret, ret_error);
}

int hvsock__registry_load(const char *config_dir, struct hvsock_registry **ret, char **ret_error) {
        struct hvsock_registry *reg = NULL;
        int r = registry_load_file(config_dir, &reg, ret_error);

        if (r < 0)
                return r;
        r = add_builtin_services(reg);
        if (r < 0) {
                hvsock__registry_free(reg);
                return r;
        }
        *ret = reg;
        return 0;
}

static int fsync_dir(const char *dir) {
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return negative_errno();
        if (fsync(fd) < 0)
                return negative_errno();
        return 0;
}

/* Temporary files can only exist while their writer holds the lock; one
 * found by the next lock holder was left by a writer that died. */
static void remove_stale_temps(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d)))
                if (strncmp(de->d_name, TEMP_PREFIX, strlen(TEMP_PREFIX)) == 0)
                        (void) unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
}

/* Writes text to a temporary file in dir and renames it over path. The
 * temporary file is removed on every failure before the rename. */
static int replace_file(const char *dir, const char *path, const char *text, size_t len) {
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -1;
        int r;

        if (asprintf(&tmp, "%s/" TEMP_PREFIX "XXXXXX", dir) < 0)
                return -ENOMEM;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        /* mkstemp creates 0600; the registry is world-readable configuration. */
        r = fchmod(fd, 0644) < 0 ? negative_errno() : 0;
        if (r == 0)
                r = write_all(fd, text, len);
        if (r == 0 && fsync(fd) < 0)
                r = negative_errno();
        if (r == 0 && close(TAKE_FD(fd)) < 0)
                r = negative_errno();
        if (r == 0 && rename(tmp, path) < 0)
                r = negative_errno();
        if (r < 0) {
                (void) unlink(tmp);
                return r;
        }
        /* The rename is durable only once the directory is on disk. Its
         * failure is still reported although the new file is in place: the
         * caller must not believe a change is safe that may not be. */
        return fsync_dir(dir);
}

/* How long a writer waits for the registry's lock: long enough for any
 * honest writer (an update takes milliseconds), short enough that a stuck
 * holder is reported instead of hanging the caller. */
static int lock_timeout_ms(void) {
        const char *e = getenv("HVSOCK_REGISTRY_LOCK_TIMEOUT_MS");
        char *end;
        long v;

        if (!e || !*e)
                return HVSOCK_REGISTRY_LOCK_TIMEOUT_MS;
        errno = 0;
        v = strtol(e, &end, 10);
        if (errno || *end || v < 0 || v > 3600000)
                return HVSOCK_REGISTRY_LOCK_TIMEOUT_MS;
        return (int) v;
}

/* The lock file is 0600 and ours (fs-safe.h): a reader of the registry is
 * any user, but the lock is the writers' alone. */
static int lock_config_dir(const char *config_dir, int *ret_fd, char **ret_error) {
        _cleanup_free_ char *lock_path = NULL;
        _cleanup_close_ int fd = -1;
        int timeout = lock_timeout_ms(), r;

        if (asprintf(&lock_path, "%s/%s", config_dir, HVSOCK_REGISTRY_LOCK) < 0)
                return -ENOMEM;
        fd = lock_file_open(lock_path, ret_error);
        if (fd < 0)
                return fd;
        r = lock_file_wait(fd, timeout);
        if (r == -EWOULDBLOCK)
                return error_set(ret_error, -HVSOCK_E_LOCKED,
                                 "the registry is locked by another process: '%s' stayed locked for %d.%d s",
                                 lock_path, timeout / 1000, timeout % 1000 / 100);
        if (r < 0)
                return r;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int hvsock__registry_update(const char *config_dir,
                            int (*fn)(struct hvsock_registry *r, void *userdata, char **ret_error),
                            void *userdata, char **ret_error) {
        _cleanup_registry_free_ struct hvsock_registry *reg = NULL;
        _cleanup_free_ char *path = NULL, *text = NULL;
        _cleanup_close_ int lock_fd = -1; /* closing it releases the lock */
        size_t len;
        int r;

        if (!config_dir || !*config_dir || !fn)
                return -EINVAL;
        r = mkdir_p(config_dir, 0755);
        if (r < 0)
                return r;
        r = lock_config_dir(config_dir, &lock_fd, ret_error);
        if (r < 0)
                return r;
        remove_stale_temps(config_dir);

        r = hvsock__registry_load(config_dir, &reg, ret_error);
        if (r < 0)
                return r;
        r = fn(reg, userdata, ret_error);
        if (r < 0)
                return r;
        r = hvsock__registry_validate(reg, ret_error);
        if (r < 0)
                return r;
        text = hvsock__registry_format(reg);
        if (!text)
                return -ENOMEM;
        len = strlen(text);
        if (len > HVSOCK_REGISTRY_SIZE_MAX) {
                char *msg;

                if (ret_error) {
                        if (asprintf(&msg, "the registry would be larger than %d bytes", HVSOCK_REGISTRY_SIZE_MAX) < 0)
                                return -ENOMEM;
                        *ret_error = msg;
                }
                return -HVSOCK_E_REGISTRY;
        }
        if (asprintf(&path, "%s/%s", config_dir, HVSOCK_REGISTRY_FILE) < 0)
                return -ENOMEM;
        return replace_file(config_dir, path, text, len);
}
