/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_LIB_REGISTRY_H
#define HVSOCK_LIB_REGISTRY_H

/*
 * The registry: services (ID, ElementName, port, enabled, optional start
 * command) and VMs (name, VM ID, CID or UDS path, per-VM service policy).
 * One text file, <config_dir>/registry.conf, format in docs/registry.md.
 * Internal to the project (the CLI, hvsock-vhost and the daemons use it);
 * not part of libhvsock's public ABI.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hvsock/guid.h>

#define HVSOCK_REGISTRY_FILE "registry.conf"
#define HVSOCK_REGISTRY_LOCK ".registry.lock"
/* How long a writer waits for the lock; HVSOCK_REGISTRY_LOCK_TIMEOUT_MS
 * (0..3600000) in the environment overrides it, for tests. */
#define HVSOCK_REGISTRY_LOCK_TIMEOUT_MS 10000
#define HVSOCK_ELEMENT_NAME_MAX 256 /* bytes */
#define HVSOCK_VM_NAME_MAX 64       /* bytes, [A-Za-z0-9._-] */

enum hvsock_policy {
        HVSOCK_POLICY_DEFAULT = 0, /* follow the service's global switch (EnabledStatePolicy 8) */
        HVSOCK_POLICY_ENABLED,     /* (2) */
        HVSOCK_POLICY_DISABLED,    /* (3) */
};

struct hvsock_service {
        struct hvsock_guid id;
        char *name; /* ElementName */
        uint32_t port;
        bool enabled;
        char *start; /* start command, or NULL */
};

struct hvsock_vm_policy {
        struct hvsock_guid service;
        enum hvsock_policy policy; /* never DEFAULT when stored */
};

struct hvsock_vm {
        char *name;
        struct hvsock_guid id;
        uint32_t cid; /* 0 when the VM is reached by UDS */
        char *uds;    /* NULL when the VM is reached by CID */
        struct hvsock_vm_policy *policies;
        size_t n_policies;
};

struct hvsock_registry {
        struct hvsock_service *services;
        size_t n_services;
        struct hvsock_vm *vms;
        size_t n_vms;
};

/* An empty registry, or NULL on out of memory. */
struct hvsock_registry *hvsock__registry_new(void);
/* NULL-safe; returns NULL. */
struct hvsock_registry *hvsock__registry_free(struct hvsock_registry *r);

/*
 * Parses registry text. filename is only used in messages. On failure
 * returns -HVSOCK_E_REGISTRY (or -ENOMEM) and, when ret_error is not NULL,
 * an allocated "filename:line: what is wrong" message the caller frees.
 */
int hvsock__registry_parse(const char *text, size_t len, const char *filename,
                           struct hvsock_registry **ret, char **ret_error);

/*
 * The built-in VM Session Service (hvsock-sessiond): a VSOCK-template ID
 * for this port. hvsock__registry_load() adds it to every registry whose
 * file has no service with that ID, name or port (docs/registry.md).
 */
#define HVSOCK_SESSION_SERVICE_PORT UINT32_C(24149) /* 0x5e55 */
#define HVSOCK_SESSION_SERVICE_NAME "VM Session Service"

/* Loads <config_dir>/registry.conf; a missing file is a registry with only
 * the built-in services. Errors as hvsock__registry_parse, or -errno for I/O. */
int hvsock__registry_load(const char *config_dir, struct hvsock_registry **ret, char **ret_error);

/* Serialises r in the documented format; the caller frees. NULL on ENOMEM. */
char *hvsock__registry_format(const struct hvsock_registry *r);

/* Checks cross-entry rules (unique IDs, names, ports, CIDs, UDS paths).
 * Returns 0 or -HVSOCK_E_REGISTRY with an allocated message. */
int hvsock__registry_validate(const struct hvsock_registry *r, char **ret_error);

/*
 * Read-modify-write under an exclusive lock: loads the registry, calls
 * fn(r, userdata), validates and replaces the file atomically (temporary
 * file, fsync, rename, fsync of the directory). fn returns < 0 to abort
 * without writing; that value is returned. Creates config_dir if missing.
 * The lock file is refused when another user owns it (-EPERM) and waited
 * for at most HVSOCK_REGISTRY_LOCK_TIMEOUT_MS (then -HVSOCK_E_LOCKED); both
 * come with a message naming it in *ret_error.
 */
int hvsock__registry_update(const char *config_dir,
                            int (*fn)(struct hvsock_registry *r, void *userdata, char **ret_error),
                            void *userdata, char **ret_error);

/* Lookups; NULL when absent. Names compare case-insensitively. */
struct hvsock_service *hvsock__registry_find_service(const struct hvsock_registry *r,
                                                     const struct hvsock_guid *id);
struct hvsock_service *hvsock__registry_find_service_by_name(const struct hvsock_registry *r,
                                                             const char *name);
struct hvsock_service *hvsock__registry_find_service_by_port(const struct hvsock_registry *r,
                                                             uint32_t port);
struct hvsock_vm *hvsock__registry_find_vm(const struct hvsock_registry *r,
                                           const struct hvsock_guid *id);
struct hvsock_vm *hvsock__registry_find_vm_by_name(const struct hvsock_registry *r, const char *name);
struct hvsock_vm *hvsock__registry_find_vm_by_cid(const struct hvsock_registry *r, uint32_t cid);
struct hvsock_vm *hvsock__registry_find_vm_by_uds(const struct hvsock_registry *r, const char *uds);

/* Mutators; return 0, -EEXIST for a duplicate (ID, name, port, CID or UDS),
 * -ENOENT, -EINVAL or -ENOMEM. Strings are copied. */
int hvsock__registry_add_service(struct hvsock_registry *r, const struct hvsock_guid *id,
                                 const char *name, uint32_t port, const char *start);
int hvsock__registry_remove_service(struct hvsock_registry *r, const struct hvsock_guid *id);
int hvsock__registry_add_vm(struct hvsock_registry *r, const char *name,
                            const struct hvsock_guid *id, uint32_t cid, const char *uds);
int hvsock__registry_remove_vm(struct hvsock_registry *r, const struct hvsock_guid *id);
/* Sets a VM's policy for a service; DEFAULT removes the override. */
int hvsock__registry_set_policy(struct hvsock_registry *r, struct hvsock_vm *vm,
                                const struct hvsock_guid *service, enum hvsock_policy policy);
/* The stored policy, DEFAULT when none. */
enum hvsock_policy hvsock__vm_policy(const struct hvsock_vm *vm, const struct hvsock_guid *service);

/*
 * Whether a service may talk to a VM: the global switch is a kill switch for
 * every VM; per VM, DISABLED turns it off, ENABLED and DEFAULT follow the
 * global switch. vm may be NULL (only the global switch counts).
 */
bool hvsock__service_allowed(const struct hvsock_service *s, const struct hvsock_vm *vm);

/* Validity of single fields, for the parser and the CLI. */
bool hvsock__vm_name_valid(const char *name);
bool hvsock__element_name_valid(const char *name);

/* ---- Additions (registry module) ---- */

#define HVSOCK_REGISTRY_SIZE_MAX (1024 * 1024) /* bytes; larger files are rejected */
#define HVSOCK_REGISTRY_LINE_MAX 4096          /* bytes per line, without the newline */
#define HVSOCK_START_MAX 4000                  /* bytes; keeps "Start = ..." within a line */
#define HVSOCK_UDS_MAX 107                     /* bytes; sun_path holds 108 with the NUL */

/* 1..HVSOCK_START_MAX bytes of UTF-8 without control characters or
 * leading/trailing blanks (which the parser would trim). */
bool hvsock__start_valid(const char *start);
/* An absolute path of at most HVSOCK_UDS_MAX bytes, UTF-8, no control characters. */
bool hvsock__uds_valid(const char *uds);
/* 3..0xfffffffe: 0, 1, 2 (host) and 0xffffffff (any) are reserved. */
bool hvsock__cid_valid(uint32_t cid);
/* Not a well-known VM ID (zero, broadcast, children, loopback, parent, silohost). */
bool hvsock__vm_id_valid(const struct hvsock_guid *id);
/* port <= HVSOCK_PORT_MAX and, for a VSOCK-template id, port == its Data1. */
bool hvsock__service_port_valid(const struct hvsock_guid *id, uint32_t port);

/* "enabled", "disabled", "default" (any case on input). from_string returns 0
 * or -EINVAL (ret untouched); to_string returns a static string or NULL. */
int hvsock__policy_from_string(const char *s, enum hvsock_policy *ret);
const char *hvsock__policy_to_string(enum hvsock_policy policy);

/* True when both registries hold the same entries in the same order. */
bool hvsock__registry_equal(const struct hvsock_registry *a, const struct hvsock_registry *b);

/* Notes on the mutators: pointers returned by the lookups are invalidated by
 * any mutator call on the same registry (the entries live in arrays that
 * move). add_service gives enabled = true and wants, for a VSOCK-template id,
 * port == its Data1 (-EINVAL otherwise); add_vm wants exactly one of cid != 0
 * and uds != NULL; remove_service also drops every VM's override for it. */

static inline void hvsock__registry_freep(struct hvsock_registry **r) {
        hvsock__registry_free(*r);
}
#define _cleanup_registry_free_ __attribute__((cleanup(hvsock__registry_freep)))

#endif
