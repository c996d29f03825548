/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_GUID_H
#define HVSOCK_GUID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A GUID in the Windows memory layout: Data1 (u32) and Data2, Data3 (u16)
 * little-endian, then Data4[8] as is. Kept as bytes so the layout is the same
 * on every host byte order; use the accessors for the numeric fields.
 */
struct hvsock_guid {
        uint8_t b[16];
};

#define HVSOCK_GUID_STRING_MAX 37 /* 36 characters and the NUL */

/* Well-known VM IDs (hvsocket.h). */
extern const struct hvsock_guid HVSOCK_GUID_ZERO;      /* also the wildcard */
extern const struct hvsock_guid HVSOCK_GUID_BROADCAST;
extern const struct hvsock_guid HVSOCK_GUID_CHILDREN;
extern const struct hvsock_guid HVSOCK_GUID_LOOPBACK;
extern const struct hvsock_guid HVSOCK_GUID_PARENT;
extern const struct hvsock_guid HVSOCK_GUID_SILOHOST;
/* The VSOCK template 00000000-facb-11e6-bd58-64006a7986d3: Data1 carries the port. */
extern const struct hvsock_guid HVSOCK_GUID_VSOCK_TEMPLATE;
#define HVSOCK_GUID_WILDCARD HVSOCK_GUID_ZERO

/* The highest port a VSOCK-template GUID may carry (the top bit is reserved). */
#define HVSOCK_PORT_MAX UINT32_C(0x7fffffff)

/* Parses 8-4-4-4-12 hex text, optional braces, any case. Returns 0 or -EINVAL;
 * ret is written only on success. */
int hvsock_guid_parse(const char *s, struct hvsock_guid *ret);

/* Writes the lowercase form without braces into buf (HVSOCK_GUID_STRING_MAX
 * bytes). Returns buf. */
char *hvsock_guid_format(const struct hvsock_guid *g, char buf[static HVSOCK_GUID_STRING_MAX]);

/* Fills ret with a new random (version 4) GUID from libuuid. Returns 0. */
int hvsock_guid_generate(struct hvsock_guid *ret);

/* Returns true when a and b are the same GUID. */
bool hvsock_guid_equal(const struct hvsock_guid *a, const struct hvsock_guid *b);

/* Returns true for the all-zero GUID. */
bool hvsock_guid_is_zero(const struct hvsock_guid *g);

/* Numeric fields in host order. */
uint32_t hvsock_guid_data1(const struct hvsock_guid *g);
uint16_t hvsock_guid_data2(const struct hvsock_guid *g);
uint16_t hvsock_guid_data3(const struct hvsock_guid *g);

/* Makes the VSOCK-template service ID for port. Returns 0, or -ERANGE when
 * port > HVSOCK_PORT_MAX (ret untouched). */
int hvsock_guid_from_port(uint32_t port, struct hvsock_guid *ret);

/* Returns true when g is a VSOCK-template GUID (any Data1 up to HVSOCK_PORT_MAX). */
bool hvsock_guid_is_vsock_template(const struct hvsock_guid *g);

/* Extracts the port of a VSOCK-template GUID. Returns 0, or -EINVAL for a GUID
 * that is not a template one (ret untouched). */
int hvsock_guid_to_port(const struct hvsock_guid *g, uint32_t *ret);

/* Returns the well-known name ("loopback", "parent", ...) of a VM ID, or NULL. */
const char *hvsock_guid_wellknown_name(const struct hvsock_guid *g);

/* Parses a well-known VM ID name: zero, wildcard, any, broadcast, children,
 * loopback, parent, silohost (any case). Returns 0 or -EINVAL. */
int hvsock_guid_from_wellknown_name(const char *name, struct hvsock_guid *ret);

#ifdef __cplusplus
}
#endif

#endif
