/* SPDX-License-Identifier: MIT */
/*
 * The strict registry parser (format in docs/registry.md). Every error names
 * the file, the line and the offending text; cross-entry errors are reported
 * at the second occurrence, missing keys at the section header.
 */
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

enum section {
        SECTION_NONE,
        SECTION_SERVICE,
        SECTION_VM,
};

/* One bit per key seen in the current section, to reject duplicates. */
enum {
        KEY_ELEMENT_NAME = 1u << 0,
        KEY_PORT = 1u << 1,
        KEY_ENABLED = 1u << 2,
        KEY_START = 1u << 3,
        KEY_ID = 1u << 4,
        KEY_CID = 1u << 5,
        KEY_UDS = 1u << 6,
};

struct parser {
        const char *filename;
        unsigned line;
        char **ret_error;
        struct hvsock_registry *reg;

        /* The section being read; it joins reg when the next one starts. */
        enum section section;
        unsigned header_line;
        unsigned seen;
        struct hvsock_guid id;
        char *name; /* ElementName or VM name */
        uint32_t port;
        bool enabled;
        char *start;
        uint32_t cid;
        char *uds;
        /* Every "Service GUID = ..." line, DEFAULT included, so a repeated
         * GUID is caught even when its first line said "default". */
        struct hvsock_vm_policy *policies;
        size_t n_policies;
};

/* Room for an excerpt of 80 bytes with every byte escaped, and "...". */
#define QUOTE_MAX (80 * 4 + 4)

/* Makes input text safe to show inside a message: control bytes become \xNN
 * and long text is cut (at a character boundary) with "...". */
static const char *quote(char buf[static QUOTE_MAX], const char *s) {
        size_t len = strlen(s), n = len, o = 0;

        if (n > 80) {
                n = 80;
                while (n > 0 && ((unsigned char) s[n] & 0xc0) == 0x80)
                        n--;
        }
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];
                if (c < 0x20 || c == 0x7f)
                        o += (size_t) snprintf(buf + o, QUOTE_MAX - o, "\\x%02x", c);
                else
                        buf[o++] = (char) c;
        }
        if (n < len) {
                memcpy(buf + o, "...", 3);
                o += 3;
        }
        buf[o] = 0;
        return buf;
}

_printf_(3, 4) static int fail_at(struct parser *p, unsigned line, const char *fmt, ...) {
        _cleanup_free_ char *what = NULL;
        va_list ap;
        char *msg;
        int n;

        if (!p->ret_error)
                return -HVSOCK_E_REGISTRY;
        va_start(ap, fmt);
        n = vasprintf(&what, fmt, ap);
        va_end(ap);
        if (n < 0) {
                what = NULL;
                return -ENOMEM;
        }
        if (asprintf(&msg, "%s:%u: %s", p->filename, line, what) < 0)
                return -ENOMEM;
        *p->ret_error = msg;
        return -HVSOCK_E_REGISTRY;
}

#define fail(p, ...) fail_at((p), (p)->line, __VA_ARGS__)

static void section_reset(struct parser *p) {
        free(p->name);
        free(p->start);
        free(p->uds);
        free(p->policies);
        *p = (struct parser) {
                .filename = p->filename,
                .line = p->line,
                .ret_error = p->ret_error,
                .reg = p->reg,
                .enabled = true,
        };
}

static bool blank(char c) {
        return c == ' ' || c == '\t' || c == '\r';
}

/* Trims blanks at both ends in place. */
static char *strip(char *s) {
        size_t n;

        while (blank(*s))
                s++;
        n = strlen(s);
        while (n > 0 && blank(s[n - 1]))
                s[--n] = 0;
        return s;
}

/* Digits only (no sign, no blanks, no 0x), at most max. */
static int parse_decimal(const char *s, uint32_t max, uint32_t *ret) {
        uint32_t v = 0;

        if (!*s)
                return -EINVAL;
        for (; *s; s++) {
                uint32_t d;
                if (*s < '0' || *s > '9')
                        return -EINVAL;
                d = (uint32_t) (*s - '0');
                if (v > (max - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

static int parse_bool(const char *s, bool *ret) {
        static const char *const yes[] = { "yes", "true", "1" }, *const no[] = { "no", "false", "0" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcasecmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

static int take_string(const char *s, char **dst) {
        char *copy = strdup(s);

        if (!copy)
                return -ENOMEM;
        free(*dst);
        *dst = copy;
        return 0;
}

/* ---- Ending a section: required keys, then into the registry ---- */

static int finish_service(struct parser *p) {
        char id[HVSOCK_GUID_STRING_MAX], other[HVSOCK_GUID_STRING_MAX];
        const struct hvsock_service *dup;
        int r;

        hvsock_guid_format(&p->id, id);
        if (!(p->seen & KEY_ELEMENT_NAME))
                return fail_at(p, p->header_line, "service %s has no ElementName", id);
        if (!(p->seen & KEY_PORT)) {
                if (!hvsock_guid_is_vsock_template(&p->id))
                        return fail_at(p, p->header_line,
                                       "service %s has no Port (required unless the GUID is a VSOCK template)", id);
                p->port = hvsock_guid_data1(&p->id);
                dup = hvsock__registry_find_service_by_port(p->reg, p->port);
                if (dup)
                        return fail_at(p, p->header_line,
                                       "duplicate Port %" PRIu32 " implied by service %s (already used by service %s)",
                                       p->port, id, hvsock_guid_format(&dup->id, other));
        }
        r = hvsock__registry_add_service(p->reg, &p->id, p->name, p->port, p->start);
        if (r == -ENOMEM)
                return r;
        if (r < 0) /* Every rule was checked line by line; this is a parser bug. */
                return fail_at(p, p->header_line, "service %s rejected (%s)", id, hvsock_strerror(r));
        p->reg->services[p->reg->n_services - 1].enabled = p->enabled;
        return 0;
}

static int finish_vm(struct parser *p) {
        struct hvsock_vm *vm;
        int r;

        if (!(p->seen & KEY_ID))
                return fail_at(p, p->header_line, "VM '%s' has no Id", p->name);
        if (!(p->seen & (KEY_CID | KEY_UDS)))
                return fail_at(p, p->header_line, "VM '%s' has neither Cid nor Uds", p->name);
        r = hvsock__registry_add_vm(p->reg, p->name, &p->id, p->cid, p->uds);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return fail_at(p, p->header_line, "VM '%s' rejected (%s)", p->name, hvsock_strerror(r));
        vm = &p->reg->vms[p->reg->n_vms - 1];
        for (size_t i = 0; i < p->n_policies; i++) {
                r = hvsock__registry_set_policy(p->reg, vm, &p->policies[i].service, p->policies[i].policy);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int finish_section(struct parser *p) {
        int r = 0;

        if (p->section == SECTION_SERVICE)
                r = finish_service(p);
        else if (p->section == SECTION_VM)
                r = finish_vm(p);
        section_reset(p);
        return r;
}

/* ---- Section headers ---- */

static int parse_header(struct parser *p, char *line) {
        char q[QUOTE_MAX], whole[QUOTE_MAX], other[HVSOCK_GUID_STRING_MAX];
        size_t len = strlen(line);
        char *inner, *kind, *arg;
        int r;

        quote(whole, line);
        if (line[len - 1] != ']')
                return fail(p, "malformed section header '%s' (no closing ']')", whole);
        r = finish_section(p);
        if (r < 0)
                return r;

        line[len - 1] = 0;
        inner = strip(line + 1);
        kind = inner;
        arg = inner + strcspn(inner, " \t");
        if (*arg)
                *arg++ = 0;
        arg = strip(arg);

        if (strcasecmp(kind, "service") == 0) {
                const struct hvsock_service *dup;

                if (!*arg)
                        return fail(p, "section [service] needs a service GUID");
                if (hvsock_guid_parse(arg, &p->id) < 0)
                        return fail(p, "bad service GUID '%s'", quote(q, arg));
                dup = hvsock__registry_find_service(p->reg, &p->id);
                if (dup)
                        return fail(p, "duplicate service %s", hvsock_guid_format(&p->id, other));
                p->section = SECTION_SERVICE;
        } else if (strcasecmp(kind, "vm") == 0) {
                const struct hvsock_vm *dup;

                if (!*arg)
                        return fail(p, "section [vm] needs a VM name");
                if (!hvsock__vm_name_valid(arg))
                        return fail(p, "bad VM name '%s' (1 to %d bytes of A-Z a-z 0-9 . _ -, not starting with '.' or '-')",
                                    quote(q, arg), HVSOCK_VM_NAME_MAX);
                dup = hvsock__registry_find_vm_by_name(p->reg, arg);
                if (dup)
                        return fail(p, "duplicate VM name '%s' (already used by VM '%s')", arg, dup->name);
                r = take_string(arg, &p->name);
                if (r < 0)
                        return r;
                p->section = SECTION_VM;
        } else
                return fail(p, "unknown section '%s' (expected [service GUID] or [vm NAME])", whole);
        p->header_line = p->line;
        return 0;
}

/* ---- Key lines ---- */

/* Marks key as seen; fails when the section already had it. */
static int see(struct parser *p, unsigned bit, const char *key) {
        char q[QUOTE_MAX];

        if (p->seen & bit)
                return fail(p, "duplicate key '%s'", quote(q, key));
        p->seen |= bit;
        return 0;
}

static int service_key(struct parser *p, const char *key, const char *value) {
        char q[QUOTE_MAX], id[HVSOCK_GUID_STRING_MAX], other[HVSOCK_GUID_STRING_MAX];
        const struct hvsock_service *dup;
        int r;

        hvsock_guid_format(&p->id, id);
        if (strcasecmp(key, "ElementName") == 0) {
                r = see(p, KEY_ELEMENT_NAME, key);
                if (r < 0)
                        return r;
                if (!hvsock__element_name_valid(value))
                        return fail(p, "bad ElementName '%s' (1 to %d bytes of UTF-8 text without control characters)",
                                    quote(q, value), HVSOCK_ELEMENT_NAME_MAX);
                dup = hvsock__registry_find_service_by_name(p->reg, value);
                if (dup)
                        return fail(p, "duplicate ElementName '%s' (already used by service %s)", quote(q, value),
                                    hvsock_guid_format(&dup->id, other));
                return take_string(value, &p->name);
        }
        if (strcasecmp(key, "Port") == 0) {
                r = see(p, KEY_PORT, key);
                if (r < 0)
                        return r;
                if (parse_decimal(value, HVSOCK_PORT_MAX, &p->port) < 0)
                        return fail(p, "bad Port '%s' (a decimal number 0 to %" PRIu32 ")", quote(q, value),
                                    HVSOCK_PORT_MAX);
                if (!hvsock__service_port_valid(&p->id, p->port))
                        return fail(p, "Port %" PRIu32 " does not match service %s (its VSOCK-template GUID implies port %" PRIu32 ")",
                                    p->port, id, hvsock_guid_data1(&p->id));
                dup = hvsock__registry_find_service_by_port(p->reg, p->port);
                if (dup)
                        return fail(p, "duplicate Port %" PRIu32 " (already used by service %s)", p->port,
                                    hvsock_guid_format(&dup->id, other));
                return 0;
        }
        if (strcasecmp(key, "Enabled") == 0) {
                r = see(p, KEY_ENABLED, key);
                if (r < 0)
                        return r;
                if (parse_bool(value, &p->enabled) < 0)
                        return fail(p, "bad Enabled '%s' (yes, no, true, false, 1 or 0)", quote(q, value));
                return 0;
        }
        if (strcasecmp(key, "Start") == 0) {
                r = see(p, KEY_START, key);
                if (r < 0)
                        return r;
                if (!hvsock__start_valid(value))
                        return fail(p, "bad Start '%s' (a command of 1 to %d bytes of UTF-8 text without control characters)",
                                    quote(q, value), HVSOCK_START_MAX);
                return take_string(value, &p->start);
        }
        return fail(p, "unknown key '%s' in [service %s]", quote(q, key), id);
}

static int vm_service_key(struct parser *p, const char *key, char *guid, const char *value) {
        char q[QUOTE_MAX], q2[QUOTE_MAX], id[HVSOCK_GUID_STRING_MAX];
        struct hvsock_guid service;
        enum hvsock_policy policy;
        size_t n = p->n_policies;

        if (hvsock_guid_parse(guid, &service) < 0)
                return fail(p, "bad service GUID '%s' in key '%s'", quote(q, guid), quote(q2, key));
        for (size_t i = 0; i < n; i++)
                if (hvsock_guid_equal(&p->policies[i].service, &service))
                        return fail(p, "duplicate key '%s'", quote(q, key));
        if (hvsock__policy_from_string(value, &policy) < 0)
                return fail(p, "bad policy '%s' for service %s (enabled, disabled or default)", quote(q, value),
                            hvsock_guid_format(&service, id));
        if (n >= SIZE_MAX / sizeof(*p->policies) - 1)
                return -ENOMEM;
        struct hvsock_vm_policy *a = realloc(p->policies, (n + 1) * sizeof(*a));
        if (!a)
                return -ENOMEM;
        p->policies = a;
        p->policies[p->n_policies++] = (struct hvsock_vm_policy) { .service = service, .policy = policy };
        return 0;
}

static int vm_key(struct parser *p, char *key, const char *value) {
        char q[QUOTE_MAX], id[HVSOCK_GUID_STRING_MAX];
        const struct hvsock_vm *dup;
        int r;

        if (strcasecmp(key, "Id") == 0) {
                const char *wellknown;

                r = see(p, KEY_ID, key);
                if (r < 0)
                        return r;
                if (hvsock_guid_parse(value, &p->id) < 0)
                        return fail(p, "bad Id '%s' (a GUID)", quote(q, value));
                wellknown = hvsock_guid_wellknown_name(&p->id);
                if (wellknown)
                        return fail(p, "bad Id %s (the well-known VM ID '%s' cannot name a VM)",
                                    hvsock_guid_format(&p->id, id), wellknown);
                dup = hvsock__registry_find_vm(p->reg, &p->id);
                if (dup)
                        return fail(p, "duplicate Id %s (already used by VM '%s')", hvsock_guid_format(&p->id, id),
                                    dup->name);
                return 0;
        }
        if (strcasecmp(key, "Cid") == 0) {
                r = see(p, KEY_CID, key);
                if (r < 0)
                        return r;
                if (p->seen & KEY_UDS)
                        return fail(p, "Cid and Uds exclude each other (VM '%s' has both)", p->name);
                if (parse_decimal(value, UINT32_MAX, &p->cid) < 0 || !hvsock__cid_valid(p->cid))
                        return fail(p, "bad Cid '%s' (a decimal number 3 to 4294967294)", quote(q, value));
                dup = hvsock__registry_find_vm_by_cid(p->reg, p->cid);
                if (dup)
                        return fail(p, "duplicate Cid %" PRIu32 " (already used by VM '%s')", p->cid, dup->name);
                return 0;
        }
        if (strcasecmp(key, "Uds") == 0) {
                r = see(p, KEY_UDS, key);
                if (r < 0)
                        return r;
                if (p->seen & KEY_CID)
                        return fail(p, "Cid and Uds exclude each other (VM '%s' has both)", p->name);
                if (!hvsock__uds_valid(value))
                        return fail(p, "bad Uds '%s' (an absolute path of at most %d bytes)", quote(q, value),
                                    HVSOCK_UDS_MAX);
                dup = hvsock__registry_find_vm_by_uds(p->reg, value);
                if (dup)
                        return fail(p, "duplicate Uds '%s' (already used by VM '%s')", quote(q, value), dup->name);
                return take_string(value, &p->uds);
        }
        if (strncasecmp(key, "Service", 7) == 0 && blank(key[7]))
                return vm_service_key(p, key, strip(key + 8), value);
        if (strcasecmp(key, "Service") == 0)
                return fail(p, "key 'Service' needs a service GUID ('Service GUID = enabled|disabled|default')");
        return fail(p, "unknown key '%s' in [vm %s]", quote(q, key), p->name);
}

static int parse_key_line(struct parser *p, char *line) {
        char q[QUOTE_MAX];
        char *eq = strchr(line, '='), *key, *value;

        if (!eq)
                return fail(p, "missing '=' in '%s'", quote(q, line));
        *eq = 0;
        key = strip(line);
        value = strip(eq + 1);
        if (!*key) {
                *eq = '=';
                return fail(p, "missing key before '=' in '%s'", quote(q, line));
        }
        switch (p->section) {
        case SECTION_SERVICE:
                return service_key(p, key, value);
        case SECTION_VM:
                return vm_key(p, key, value);
        default:
                return fail(p, "key '%s' before any section", quote(q, key));
        }
}

static int parse_line(struct parser *p, const char *text, size_t n) {
        char buf[HVSOCK_REGISTRY_LINE_MAX + 1], *line;

        if (n > HVSOCK_REGISTRY_LINE_MAX)
                return fail(p, "line is longer than %d bytes", HVSOCK_REGISTRY_LINE_MAX);
        if (memchr(text, 0, n))
                return fail(p, "NUL byte in line");
        memcpy(buf, text, n);
        buf[n] = 0;
        line = strip(buf);
        if (!*line || *line == '#')
                return 0;
        if (*line == '[')
                return parse_header(p, line);
        return parse_key_line(p, line);
}

static unsigned count_lines(const char *text, size_t len) {
        unsigned n = 1;

        for (const char *nl; (nl = memchr(text, '\n', len)); len -= (size_t) (nl + 1 - text), text = nl + 1)
                n++;
        return n;
}

static int parse_all(struct parser *p, const char *text, size_t len) {
        size_t pos = 0;
        int r;

        if (len > HVSOCK_REGISTRY_SIZE_MAX)
                /* Named at the line where the limit is crossed. */
                return fail_at(p, count_lines(text, HVSOCK_REGISTRY_SIZE_MAX), "file is larger than %d bytes",
                               HVSOCK_REGISTRY_SIZE_MAX);
        while (pos < len) {
                const char *start = text + pos, *nl = memchr(start, '\n', len - pos);
                size_t n = nl ? (size_t) (nl - start) : len - pos;

                p->line++;
                pos += n + (nl ? 1 : 0);
                r = parse_line(p, start, n);
                if (r < 0)
                        return r;
        }
        return finish_section(p);
}

int hvsock__registry_parse(const char *text, size_t len, const char *filename, struct hvsock_registry **ret,
                           char **ret_error) {
        struct parser p = {
                .filename = filename ? filename : "<registry>",
                .ret_error = ret_error,
                .enabled = true,
        };
        int r;

        if (!text && len > 0)
                return -EINVAL;
        p.reg = hvsock__registry_new();
        if (!p.reg)
                return -ENOMEM;
        r = parse_all(&p, text ? text : "", len);
        section_reset(&p);
        if (r < 0) {
                hvsock__registry_free(p.reg);
                return r;
        }
        *ret = p.reg;
        return 0;
}
