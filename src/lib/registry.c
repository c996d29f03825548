/* SPDX-License-Identifier: MIT */
/* The in-memory registry: lookups, mutators, field and cross-entry checks. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <hvsock/hvsock.h>

#include "macro.h"
#include "registry.h"

struct hvsock_registry *hvsock__registry_new(void) {
        return calloc(1, sizeof(struct hvsock_registry));
}

static void service_clear(struct hvsock_service *s) {
        free(s->name);
        free(s->start);
}

static void vm_clear(struct hvsock_vm *vm) {
        free(vm->name);
        free(vm->uds);
        free(vm->policies);
}

struct hvsock_registry *hvsock__registry_free(struct hvsock_registry *r) {
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n_services; i++)
                service_clear(&r->services[i]);
        for (size_t i = 0; i < r->n_vms; i++)
                vm_clear(&r->vms[i]);
        free(r->services);
        free(r->vms);
        free(r);
        return NULL;
}

/* ---- Field checks ---- */

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF. */
static bool utf8_valid(const unsigned char *s) {
        while (*s) {
                unsigned char c = *s;
                size_t n;
                uint32_t cp;

                if (c < 0x80) {
                        s++;
                        continue;
                }
                if (c >= 0xc2 && c <= 0xdf)
                        n = 1, cp = c & 0x1f;
                else if (c >= 0xe0 && c <= 0xef)
                        n = 2, cp = c & 0x0f;
                else if (c >= 0xf0 && c <= 0xf4)
                        n = 3, cp = c & 0x07;
                else
                        return false;
                for (size_t i = 1; i <= n; i++) {
                        if ((s[i] & 0xc0) != 0x80)
                                return false; /* also stops at the NUL */
                        cp = cp << 6 | (s[i] & 0x3f);
                }
                if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
                    (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                s += n + 1;
        }
        return true;
}

static bool is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\r';
}

/* Free text stored as the value of a "Key = Value" line: it must survive the
 * parser's trimming and line splitting unchanged, hence no control characters
 * and no blanks at either end. */
static bool text_valid(const char *s, size_t max) {
        size_t len;

        if (!s)
                return false;
        len = strnlen(s, max + 1);
        if (len == 0 || len > max)
                return false;
        if (is_blank(s[0]) || is_blank(s[len - 1]))
                return false;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) s[i];
                if (c < 0x20 || c == 0x7f)
                        return false;
        }
        return utf8_valid((const unsigned char *) s);
}

bool hvsock__element_name_valid(const char *name) {
        return text_valid(name, HVSOCK_ELEMENT_NAME_MAX);
}

bool hvsock__start_valid(const char *start) {
        return text_valid(start, HVSOCK_START_MAX);
}

bool hvsock__uds_valid(const char *uds) {
        return uds && uds[0] == '/' && text_valid(uds, HVSOCK_UDS_MAX);
}

bool hvsock__vm_name_valid(const char *name) {
        size_t len;

        if (!name)
                return false;
        len = strnlen(name, HVSOCK_VM_NAME_MAX + 1);
        if (len == 0 || len > HVSOCK_VM_NAME_MAX || name[0] == '-' || name[0] == '.')
                return false;
        for (size_t i = 0; i < len; i++) {
                char c = name[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-'))
                        return false;
        }
        return true;
}

bool hvsock__cid_valid(uint32_t cid) {
        return cid >= 3 && cid <= UINT32_C(0xfffffffe);
}

bool hvsock__vm_id_valid(const struct hvsock_guid *id) {
        return id && !hvsock_guid_wellknown_name(id);
}

bool hvsock__service_port_valid(const struct hvsock_guid *id, uint32_t port) {
        if (!id || port > HVSOCK_PORT_MAX)
                return false;
        /* A template GUID already names its port; a second, different one
         * would make the service reachable under two ports. */
        return !hvsock_guid_is_vsock_template(id) || port == hvsock_guid_data1(id);
}

static const char *const policy_names[] = {
        [HVSOCK_POLICY_DEFAULT] = "default",
        [HVSOCK_POLICY_ENABLED] = "enabled",
        [HVSOCK_POLICY_DISABLED] = "disabled",
};

int hvsock__policy_from_string(const char *s, enum hvsock_policy *ret) {
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(policy_names); i++)
                if (strcasecmp(s, policy_names[i]) == 0) {
                        *ret = (enum hvsock_policy) i;
                        return 0;
                }
        return -EINVAL;
}

const char *hvsock__policy_to_string(enum hvsock_policy policy) {
        if ((unsigned) policy >= ELEMENTSOF(policy_names))
                return NULL;
        return policy_names[policy];
}

/* ---- Lookups ---- */

struct hvsock_service *hvsock__registry_find_service(const struct hvsock_registry *r,
                                                     const struct hvsock_guid *id) {
        if (!r || !id)
                return NULL;
        for (size_t i = 0; i < r->n_services; i++)
                if (hvsock_guid_equal(&r->services[i].id, id))
                        return &r->services[i];
        return NULL;
}

struct hvsock_service *hvsock__registry_find_service_by_name(const struct hvsock_registry *r,
                                                             const char *name) {
        if (!r || !name)
                return NULL;
        for (size_t i = 0; i < r->n_services; i++)
                if (r->services[i].name && strcasecmp(r->services[i].name, name) == 0)
                        return &r->services[i];
        return NULL;
}

struct hvsock_service *hvsock__registry_find_service_by_port(const struct hvsock_registry *r,
                                                             uint32_t port) {
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n_services; i++)
                if (r->services[i].port == port)
                        return &r->services[i];
        return NULL;
}

struct hvsock_vm *hvsock__registry_find_vm(const struct hvsock_registry *r, const struct hvsock_guid *id) {
        if (!r || !id)
                return NULL;
        for (size_t i = 0; i < r->n_vms; i++)
                if (hvsock_guid_equal(&r->vms[i].id, id))
                        return &r->vms[i];
        return NULL;
}

struct hvsock_vm *hvsock__registry_find_vm_by_name(const struct hvsock_registry *r, const char *name) {
        if (!r || !name)
                return NULL;
        for (size_t i = 0; i < r->n_vms; i++)
                if (r->vms[i].name && strcasecmp(r->vms[i].name, name) == 0)
                        return &r->vms[i];
        return NULL;
}

struct hvsock_vm *hvsock__registry_find_vm_by_cid(const struct hvsock_registry *r, uint32_t cid) {
        /* CID 0 marks a VM reached by UDS; it names no VM. */
        if (!r || cid == 0)
                return NULL;
        for (size_t i = 0; i < r->n_vms; i++)
                if (r->vms[i].cid == cid)
                        return &r->vms[i];
        return NULL;
}

struct hvsock_vm *hvsock__registry_find_vm_by_uds(const struct hvsock_registry *r, const char *uds) {
        if (!r || !uds)
                return NULL;
        for (size_t i = 0; i < r->n_vms; i++)
                if (r->vms[i].uds && strcmp(r->vms[i].uds, uds) == 0)
                        return &r->vms[i];
        return NULL;
}

/* ---- Mutators ---- */

/* Makes room for one more element; *array is untouched on failure. */
static int grow(void **array, size_t n, size_t size) {
        void *p;

        if (n >= SIZE_MAX / size - 1)
                return -ENOMEM;
        p = realloc(*array, (n + 1) * size);
        if (!p)
                return -ENOMEM;
        *array = p;
        return 0;
}

static int strdup_optional(const char *s, char **ret) {
        char *copy = NULL;

        if (s) {
                copy = strdup(s);
                if (!copy)
                        return -ENOMEM;
        }
        *ret = copy;
        return 0;
}

int hvsock__registry_add_service(struct hvsock_registry *r, const struct hvsock_guid *id,
                                 const char *name, uint32_t port, const char *start) {
        _cleanup_free_ char *name_copy = NULL, *start_copy = NULL;
        int ret;

        if (!r || !id || !hvsock__element_name_valid(name) || !hvsock__service_port_valid(id, port) ||
            (start && !hvsock__start_valid(start)))
                return -EINVAL;
        if (hvsock__registry_find_service(r, id) || hvsock__registry_find_service_by_name(r, name) ||
            hvsock__registry_find_service_by_port(r, port))
                return -EEXIST;
        ret = strdup_optional(name, &name_copy);
        if (ret < 0)
                return ret;
        ret = strdup_optional(start, &start_copy);
        if (ret < 0)
                return ret;
        ret = grow((void **) &r->services, r->n_services, sizeof(*r->services));
        if (ret < 0)
                return ret;
        r->services[r->n_services++] = (struct hvsock_service) {
                .id = *id,
                .name = TAKE_PTR(name_copy),
                .port = port,
                .enabled = true,
                .start = TAKE_PTR(start_copy),
        };
        return 0;
}

static void vm_drop_policy(struct hvsock_vm *vm, size_t i) {
        memmove(&vm->policies[i], &vm->policies[i + 1], (vm->n_policies - i - 1) * sizeof(*vm->policies));
        vm->n_policies--;
}

static ssize_t vm_policy_index(const struct hvsock_vm *vm, const struct hvsock_guid *service) {
        for (size_t i = 0; i < vm->n_policies; i++)
                if (hvsock_guid_equal(&vm->policies[i].service, service))
                        return (ssize_t) i;
        return -1;
}

int hvsock__registry_remove_service(struct hvsock_registry *r, const struct hvsock_guid *id) {
        struct hvsock_service *s = hvsock__registry_find_service(r, id);
        size_t i;

        if (!s)
                return r && id ? -ENOENT : -EINVAL;
        i = (size_t) (s - r->services);
        service_clear(s);
        memmove(s, s + 1, (r->n_services - i - 1) * sizeof(*s));
        r->n_services--;

        /* Registering the same ID again later starts from the default
         * everywhere rather than reviving forgotten overrides. */
        for (size_t v = 0; v < r->n_vms; v++) {
                ssize_t p = vm_policy_index(&r->vms[v], id);
                if (p >= 0)
                        vm_drop_policy(&r->vms[v], (size_t) p);
        }
        return 0;
}

int hvsock__registry_add_vm(struct hvsock_registry *r, const char *name, const struct hvsock_guid *id,
                            uint32_t cid, const char *uds) {
        _cleanup_free_ char *name_copy = NULL, *uds_copy = NULL;
        int ret;

        if (!r || !hvsock__vm_name_valid(name) || !hvsock__vm_id_valid(id))
                return -EINVAL;
        if (uds ? cid != 0 || !hvsock__uds_valid(uds) : !hvsock__cid_valid(cid))
                return -EINVAL;
        if (hvsock__registry_find_vm(r, id) || hvsock__registry_find_vm_by_name(r, name) ||
            hvsock__registry_find_vm_by_cid(r, cid) || hvsock__registry_find_vm_by_uds(r, uds))
                return -EEXIST;
        ret = strdup_optional(name, &name_copy);
        if (ret < 0)
                return ret;
        ret = strdup_optional(uds, &uds_copy);
        if (ret < 0)
                return ret;
        ret = grow((void **) &r->vms, r->n_vms, sizeof(*r->vms));
        if (ret < 0)
                return ret;
        r->vms[r->n_vms++] = (struct hvsock_vm) {
                .name = TAKE_PTR(name_copy),
                .id = *id,
                .cid = cid,
                .uds = TAKE_PTR(uds_copy),
        };
        return 0;
}

int hvsock__registry_remove_vm(struct hvsock_registry *r, const struct hvsock_guid *id) {
        struct hvsock_vm *vm = hvsock__registry_find_vm(r, id);
        size_t i;

        if (!vm)
                return r && id ? -ENOENT : -EINVAL;
        i = (size_t) (vm - r->vms);
        vm_clear(vm);
        memmove(vm, vm + 1, (r->n_vms - i - 1) * sizeof(*vm));
        r->n_vms--;
        return 0;
}

static bool registry_owns_vm(const struct hvsock_registry *r, const struct hvsock_vm *vm) {
        for (size_t i = 0; i < r->n_vms; i++)
                if (&r->vms[i] == vm)
                        return true;
        return false;
}

int hvsock__registry_set_policy(struct hvsock_registry *r, struct hvsock_vm *vm,
                                const struct hvsock_guid *service, enum hvsock_policy policy) {
        ssize_t i;
        int ret;

        if (!r || !vm || !service || !hvsock__policy_to_string(policy) || !registry_owns_vm(r, vm))
                return -EINVAL;
        i = vm_policy_index(vm, service);
        if (policy == HVSOCK_POLICY_DEFAULT) {
                /* DEFAULT is the absence of an override, never stored. */
                if (i >= 0)
                        vm_drop_policy(vm, (size_t) i);
                return 0;
        }
        if (i >= 0) {
                vm->policies[i].policy = policy;
                return 0;
        }
        ret = grow((void **) &vm->policies, vm->n_policies, sizeof(*vm->policies));
        if (ret < 0)
                return ret;
        vm->policies[vm->n_policies++] = (struct hvsock_vm_policy) { .service = *service, .policy = policy };
        return 0;
}

enum hvsock_policy hvsock__vm_policy(const struct hvsock_vm *vm, const struct hvsock_guid *service) {
        ssize_t i;

        if (!vm || !service)
                return HVSOCK_POLICY_DEFAULT;
        i = vm_policy_index(vm, service);
        return i >= 0 ? vm->policies[i].policy : HVSOCK_POLICY_DEFAULT;
}

bool hvsock__service_allowed(const struct hvsock_service *s, const struct hvsock_vm *vm) {
        if (!s || !s->enabled)
                return false;
        /* ENABLED cannot override a globally disabled service (the global
         * switch is the administrator's kill switch), so only DISABLED matters. */
        return !vm || hvsock__vm_policy(vm, &s->id) != HVSOCK_POLICY_DISABLED;
}

/* ---- Whole-registry checks ---- */

static bool str_equal(const char *a, const char *b) {
        return a == b || (a && b && strcmp(a, b) == 0);
}

bool hvsock__registry_equal(const struct hvsock_registry *a, const struct hvsock_registry *b) {
        if (!a || !b)
                return a == b;
        if (a->n_services != b->n_services || a->n_vms != b->n_vms)
                return false;
        for (size_t i = 0; i < a->n_services; i++) {
                const struct hvsock_service *x = &a->services[i], *y = &b->services[i];
                if (!hvsock_guid_equal(&x->id, &y->id) || !str_equal(x->name, y->name) ||
                    x->port != y->port || x->enabled != y->enabled || !str_equal(x->start, y->start))
                        return false;
        }
        for (size_t i = 0; i < a->n_vms; i++) {
                const struct hvsock_vm *x = &a->vms[i], *y = &b->vms[i];
                if (!str_equal(x->name, y->name) || !hvsock_guid_equal(&x->id, &y->id) ||
                    x->cid != y->cid || !str_equal(x->uds, y->uds) || x->n_policies != y->n_policies)
                        return false;
                for (size_t p = 0; p < x->n_policies; p++)
                        if (!hvsock_guid_equal(&x->policies[p].service, &y->policies[p].service) ||
                            x->policies[p].policy != y->policies[p].policy)
                                return false;
        }
        return true;
}

_printf_(2, 3) static int invalid(char **ret_error, const char *fmt, ...) {
        va_list ap;
        char *msg;
        int n;

        if (!ret_error)
                return -HVSOCK_E_REGISTRY;
        va_start(ap, fmt);
        n = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -ENOMEM;
        *ret_error = msg;
        return -HVSOCK_E_REGISTRY;
}

static int validate_service(const struct hvsock_registry *r, size_t i, char **ret_error) {
        const struct hvsock_service *s = &r->services[i];
        char id[HVSOCK_GUID_STRING_MAX], other[HVSOCK_GUID_STRING_MAX];

        hvsock_guid_format(&s->id, id);
        if (!hvsock__element_name_valid(s->name))
                return invalid(ret_error, "service %s: bad ElementName", id);
        if (!hvsock__service_port_valid(&s->id, s->port))
                return invalid(ret_error, "service %s: bad Port %" PRIu32, id, s->port);
        if (s->start && !hvsock__start_valid(s->start))
                return invalid(ret_error, "service %s: bad Start", id);
        for (size_t j = 0; j < i; j++) {
                const struct hvsock_service *t = &r->services[j];
                if (hvsock_guid_equal(&s->id, &t->id))
                        return invalid(ret_error, "duplicate service %s", id);
                if (strcasecmp(s->name, t->name) == 0)
                        return invalid(ret_error, "service %s: duplicate ElementName '%s' (already used by service %s)",
                                       id, s->name, hvsock_guid_format(&t->id, other));
                if (s->port == t->port)
                        return invalid(ret_error, "service %s: duplicate Port %" PRIu32 " (already used by service %s)",
                                       id, s->port, hvsock_guid_format(&t->id, other));
        }
        return 0;
}

static int validate_vm(const struct hvsock_registry *r, size_t i, char **ret_error) {
        const struct hvsock_vm *vm = &r->vms[i];
        char id[HVSOCK_GUID_STRING_MAX];

        if (!hvsock__vm_name_valid(vm->name))
                return invalid(ret_error, "bad VM name");
        if (!hvsock__vm_id_valid(&vm->id))
                return invalid(ret_error, "VM '%s': Id %s is a well-known VM ID", vm->name, hvsock_guid_format(&vm->id, id));
        if (vm->uds ? vm->cid != 0 || !hvsock__uds_valid(vm->uds) : !hvsock__cid_valid(vm->cid))
                return invalid(ret_error, "VM '%s': needs exactly one valid Cid or Uds", vm->name);
        for (size_t p = 0; p < vm->n_policies; p++) {
                if (vm->policies[p].policy != HVSOCK_POLICY_ENABLED && vm->policies[p].policy != HVSOCK_POLICY_DISABLED)
                        return invalid(ret_error, "VM '%s': bad policy for service %s", vm->name,
                                       hvsock_guid_format(&vm->policies[p].service, id));
                for (size_t q = 0; q < p; q++)
                        if (hvsock_guid_equal(&vm->policies[p].service, &vm->policies[q].service))
                                return invalid(ret_error, "VM '%s': two policies for service %s", vm->name,
                                               hvsock_guid_format(&vm->policies[p].service, id));
        }
        for (size_t j = 0; j < i; j++) {
                const struct hvsock_vm *w = &r->vms[j];
                if (strcasecmp(vm->name, w->name) == 0)
                        return invalid(ret_error, "duplicate VM name '%s'", vm->name);
                if (hvsock_guid_equal(&vm->id, &w->id))
                        return invalid(ret_error, "VM '%s': duplicate Id %s (already used by VM '%s')", vm->name,
                                       hvsock_guid_format(&vm->id, id), w->name);
                if (vm->cid != 0 && vm->cid == w->cid)
                        return invalid(ret_error, "VM '%s': duplicate Cid %" PRIu32 " (already used by VM '%s')",
                                       vm->name, vm->cid, w->name);
                if (vm->uds && w->uds && strcmp(vm->uds, w->uds) == 0)
                        return invalid(ret_error, "VM '%s': duplicate Uds '%s' (already used by VM '%s')", vm->name,
                                       vm->uds, w->name);
        }
        return 0;
}

int hvsock__registry_validate(const struct hvsock_registry *r, char **ret_error) {
        int ret;

        if (!r)
                return -EINVAL;
        for (size_t i = 0; i < r->n_services; i++) {
                ret = validate_service(r, i, ret_error);
                if (ret < 0)
                        return ret;
        }
        for (size_t i = 0; i < r->n_vms; i++) {
                ret = validate_vm(r, i, ret_error);
                if (ret < 0)
                        return ret;
        }
        return 0;
}
