/* SPDX-License-Identifier: MIT */
/*
 * Addressing rules: service ID to port, VM ID to endpoint, and the errors of
 * hvsock_connect/hvsock_listen before any socket is made. Resolution with
 * kernel vsock enabled is only ever resolved here, never connected.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <hvsock/hvsock.h>

#include "resolve.h"
#include "transport.h"
#include "test-net.h"
#include "test-util.h"

#define UDS_VM_ID "11111111-2222-4333-8444-555555555555"
#define CID_VM_ID "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
#define UNKNOWN_VM_ID "12345678-1234-4234-8234-123456789abc"
#define SESSION_SERVICE "999e53d4-3d5c-4c3e-8779-bed06ec056e1"
#define SESSION_PORT 6100u
#define CID_VM_CID 42u

static struct hvsock_guid guid(const char *s) {
        struct hvsock_guid g;

        assert_int_equal(hvsock_guid_parse(s, &g), 0);
        return g;
}

static struct hvsock_registry *make_registry(void) {
        struct hvsock_registry *r = hvsock__registry_new();
        struct hvsock_guid g;

        assert_non_null(r);
        g = guid(UDS_VM_ID);
        assert_int_equal(hvsock__registry_add_vm(r, "fc1", &g, 0, "/run/fc1.sock"), 0);
        g = guid(CID_VM_ID);
        assert_int_equal(hvsock__registry_add_vm(r, "qemu1", &g, CID_VM_CID, NULL), 0);
        g = guid(SESSION_SERVICE);
        /* Not the built-in service's name: writers load the registry with it. */
        assert_int_equal(hvsock__registry_add_service(r, &g, "Resolve Test Session", SESSION_PORT, NULL), 0);
        return r;
}

static struct hvsock_ctx *make_ctx(uint32_t mask) {
        struct hvsock_ctx *ctx = NULL;

        assert_int_equal(hvsock_ctx_new(&ctx), 0);
        assert_int_equal(hvsock_ctx_set_transports(ctx, mask), 0);
        return ctx;
}

static void test_service_port(void **state) {
        struct hvsock_registry *r = make_registry();
        struct hvsock_guid g;
        uint32_t port = 77;

        assert_int_equal(hvsock_guid_from_port(2761, &g), 0);
        assert_int_equal(hvsock__service_port(NULL, &g, &port), 0);
        assert_int_equal(port, 2761);
        assert_int_equal(hvsock__service_port(r, &g, &port), 0);
        assert_int_equal(port, 2761);

        /* A registered service that is not a template GUID gets its port. */
        g = guid(SESSION_SERVICE);
        assert_int_equal(hvsock__service_port(r, &g, &port), 0);
        assert_int_equal(port, SESSION_PORT);

        /* Neither: an error, and ret untouched. */
        port = 77;
        assert_int_equal(hvsock__service_port(NULL, &g, &port), -HVSOCK_E_NO_PORT);
        g = guid(UNKNOWN_VM_ID);
        assert_int_equal(hvsock__service_port(r, &g, &port), -HVSOCK_E_NO_PORT);
        assert_int_equal(port, 77);
        hvsock__registry_free(r);
}

/* Resolves text vm under mask; returns the result and fills *e. */
static int resolve(uint32_t mask, const struct hvsock_registry *r, const struct hvsock_guid *vm,
                   struct hvsock_endpoint *e) {
        struct hvsock_ctx *ctx = make_ctx(mask);
        int k = hvsock__resolve_connect(ctx, r, vm, e);

        hvsock_ctx_free(ctx);
        return k;
}

static void test_connect_rules_all(void **state) {
        struct hvsock_registry *r = make_registry();
        const struct hvsock_guid *host[] = { &HVSOCK_GUID_PARENT, &HVSOCK_GUID_SILOHOST, &HVSOCK_GUID_ZERO };
        struct hvsock_endpoint e;
        struct hvsock_guid g;

        for (size_t i = 0; i < ELEMENTSOF(host); i++) {
                assert_int_equal(resolve(HVSOCK_TRANSPORT_ALL, r, host[i], &e), 0);
                assert_int_equal(e.transport, HVSOCK_TRANSPORT_VSOCK);
                assert_int_equal(e.cid, 2);
        }
        g = guid(CID_VM_ID);
        assert_int_equal(resolve(HVSOCK_TRANSPORT_ALL, r, &g, &e), 0);
        assert_int_equal(e.transport, HVSOCK_TRANSPORT_VSOCK);
        assert_int_equal(e.cid, CID_VM_CID);
        g = guid(UDS_VM_ID);
        assert_int_equal(resolve(HVSOCK_TRANSPORT_ALL, r, &g, &e), 0);
        assert_int_equal(e.transport, HVSOCK_TRANSPORT_HYBRID);
        assert_string_equal(e.uds, "/run/fc1.sock");

        assert_int_equal(resolve(HVSOCK_TRANSPORT_ALL, r, &HVSOCK_GUID_LOOPBACK, &e), 0);
        if (hvsock__vsock_has_loopback()) {
                assert_int_equal(e.transport, HVSOCK_TRANSPORT_VSOCK);
                assert_int_equal(e.cid, 1);
        } else
                assert_int_equal(e.transport, HVSOCK_TRANSPORT_LOCAL);
        hvsock__registry_free(r);
}

static void test_connect_rules_masked(void **state) {
        const uint32_t mask = HVSOCK_TRANSPORT_LOCAL | HVSOCK_TRANSPORT_HYBRID;
        struct hvsock_registry *r = make_registry();
        struct hvsock_endpoint e, sentinel;
        struct hvsock_guid g;

        memset(&sentinel, 0x5a, sizeof(sentinel));
        /* Everything vsock would carry has no transport left. */
        e = sentinel;
        assert_int_equal(resolve(mask, r, &HVSOCK_GUID_PARENT, &e), -HVSOCK_E_NO_TRANSPORT);
        assert_int_equal(resolve(mask, r, &HVSOCK_GUID_SILOHOST, &e), -HVSOCK_E_NO_TRANSPORT);
        assert_int_equal(resolve(mask, r, &HVSOCK_GUID_ZERO, &e), -HVSOCK_E_NO_TRANSPORT);
        g = guid(CID_VM_ID);
        assert_int_equal(resolve(mask, r, &g, &e), -HVSOCK_E_NO_TRANSPORT);
        assert_memory_equal(&e, &sentinel, sizeof(e));

        /* LOOPBACK falls back to the local transport without vsock. */
        assert_int_equal(resolve(mask, r, &HVSOCK_GUID_LOOPBACK, &e), 0);
        assert_int_equal(e.transport, HVSOCK_TRANSPORT_LOCAL);
        g = guid(UDS_VM_ID);
        assert_int_equal(resolve(mask, r, &g, &e), 0);
        assert_int_equal(e.transport, HVSOCK_TRANSPORT_HYBRID);

        /* Hybrid off: the UDS VM is unreachable; local off: so is LOOPBACK
         * unless kernel vsock loopback exists and vsock is on. */
        assert_int_equal(resolve(HVSOCK_TRANSPORT_LOCAL, r, &g, &e), -HVSOCK_E_NO_TRANSPORT);
        assert_int_equal(resolve(HVSOCK_TRANSPORT_HYBRID, r, &HVSOCK_GUID_LOOPBACK, &e), -HVSOCK_E_NO_TRANSPORT);
        hvsock__registry_free(r);
}

static void test_connect_rules_errors(void **state) {
        struct hvsock_registry *r = make_registry();
        struct hvsock_endpoint e, sentinel;
        struct hvsock_guid g = guid(UNKNOWN_VM_ID);

        memset(&sentinel, 0x5a, sizeof(sentinel));
        e = sentinel;
        assert_int_equal(resolve(HVSOCK_TRANSPORT_ALL, r, &HVSOCK_GUID_BROADCAST, &e), -HVSOCK_E_BROADCAST);
        assert_int_equal(resolve(HVSOCK_TRANSPORT_ALL, r, &HVSOCK_GUID_CHILDREN, &e), -EINVAL);
        assert_int_equal(resolve(HVSOCK_TRANSPORT_ALL, r, &g, &e), -HVSOCK_E_UNKNOWN_VM);
        assert_int_equal(resolve(HVSOCK_TRANSPORT_ALL, NULL, &g, &e), -HVSOCK_E_UNKNOWN_VM);
        assert_memory_equal(&e, &sentinel, sizeof(e));
        hvsock__registry_free(r);
}

static void test_vm_id_for_cid(void **state) {
        struct hvsock_registry *r = make_registry();
        struct hvsock_guid g, expect = guid(CID_VM_ID);

        hvsock__vm_id_for_cid(r, 2, &g);
        assert_true(hvsock_guid_equal(&g, &HVSOCK_GUID_PARENT));
        hvsock__vm_id_for_cid(r, 1, &g);
        assert_true(hvsock_guid_equal(&g, &HVSOCK_GUID_LOOPBACK));
        hvsock__vm_id_for_cid(r, CID_VM_CID, &g);
        assert_true(hvsock_guid_equal(&g, &expect));
        hvsock__vm_id_for_cid(r, 77, &g);
        assert_true(hvsock_guid_is_zero(&g));
        hvsock__vm_id_for_cid(NULL, CID_VM_CID, &g);
        assert_true(hvsock_guid_is_zero(&g));
        hvsock__registry_free(r);
}

/* The on-disk registry for the public calls below. */
static int write_registry(struct hvsock_registry *r, void *userdata, char **ret_error) {
        struct hvsock_registry *src = userdata;

        for (size_t i = 0; i < src->n_vms; i++) {
                int k = hvsock__registry_add_vm(r, src->vms[i].name, &src->vms[i].id, src->vms[i].cid,
                                                src->vms[i].uds);
                if (k < 0)
                        return k;
        }
        for (size_t i = 0; i < src->n_services; i++) {
                int k = hvsock__registry_add_service(r, &src->services[i].id, src->services[i].name,
                                                     src->services[i].port, NULL);
                if (k < 0)
                        return k;
        }
        return 0;
}

static int group_setup(void **state) {
        struct hvsock_registry *r = make_registry();
        char *error = NULL;
        int k = hvsock__registry_update(getenv("HVSOCK_CONFIG_DIR"), write_registry, r, &error);

        if (k < 0)
                fprintf(stderr, "registry: %s\n", error ? error : "?");
        free(error);
        hvsock__registry_free(r);
        return k < 0 ? -1 : 0;
}

static struct hvsock_addr addr(const struct hvsock_guid *vm, const char *service) {
        struct hvsock_addr a;
        struct hvsock_guid s = guid(service);

        hvsock_addr_init(&a, vm, &s);
        return a;
}

/* The public calls under the test mask (local,hybrid): nothing ever reaches
 * AF_VSOCK, and vsock-only addresses say so. */
static void test_public_errors(void **state) {
        const char *tmpl = "00000ac9-facb-11e6-bd58-64006a7986d3";
        struct hvsock_guid cid_vm = guid(CID_VM_ID), unknown = guid(UNKNOWN_VM_ID);
        struct hvsock_listener *l = (struct hvsock_listener *) 0x1;
        struct hvsock_addr a;

        assert_string_equal(getenv("HVSOCK_TRANSPORTS"), "local,hybrid");
        a = addr(&HVSOCK_GUID_PARENT, tmpl);
        assert_int_equal(hvsock_connect(NULL, &a, 0), -HVSOCK_E_NO_TRANSPORT);
        assert_int_equal(hvsock_listen(NULL, &a, 8, &l), -HVSOCK_E_NO_TRANSPORT);
        a = addr(&HVSOCK_GUID_SILOHOST, tmpl);
        assert_int_equal(hvsock_connect(NULL, &a, 0), -HVSOCK_E_NO_TRANSPORT);
        assert_int_equal(hvsock_listen(NULL, &a, 8, &l), -HVSOCK_E_NO_TRANSPORT);
        a = addr(&HVSOCK_GUID_ZERO, tmpl);
        assert_int_equal(hvsock_connect(NULL, &a, 0), -HVSOCK_E_NO_TRANSPORT);
        a = addr(&cid_vm, tmpl);
        assert_int_equal(hvsock_connect(NULL, &a, 0), -HVSOCK_E_NO_TRANSPORT);
        assert_int_equal(hvsock_listen(NULL, &a, 8, &l), -HVSOCK_E_NO_TRANSPORT);
        /* CHILDREN spans VMs only: here only the hybrid one, whose listener
         * works, so that is covered in test-listener. */

        a = addr(&unknown, tmpl);
        assert_int_equal(hvsock_connect(NULL, &a, 0), -HVSOCK_E_UNKNOWN_VM);
        assert_int_equal(hvsock_listen(NULL, &a, 8, &l), -HVSOCK_E_UNKNOWN_VM);
        a = addr(&HVSOCK_GUID_BROADCAST, tmpl);
        assert_int_equal(hvsock_connect(NULL, &a, 0), -HVSOCK_E_BROADCAST);
        assert_int_equal(hvsock_listen(NULL, &a, 8, &l), -HVSOCK_E_BROADCAST);
        a = addr(&HVSOCK_GUID_CHILDREN, tmpl);
        assert_int_equal(hvsock_connect(NULL, &a, 0), -EINVAL);

        /* A service ID that is neither a template nor registered. */
        a = addr(&HVSOCK_GUID_LOOPBACK, UNKNOWN_VM_ID);
        assert_int_equal(hvsock_connect(NULL, &a, 0), -HVSOCK_E_NO_PORT);
        assert_int_equal(hvsock_listen(NULL, &a, 8, &l), -HVSOCK_E_NO_PORT);
        assert_ptr_equal(l, (struct hvsock_listener *) 0x1);
}

static void test_public_registered_service(void **state) {
        struct hvsock_addr a = addr(&HVSOCK_GUID_LOOPBACK, SESSION_SERVICE), peer;
        struct hvsock_listener *l = NULL;
        _cleanup_close_ int c = -1, s = -1;
        char path[512];

        /* The registry's port for a non-template GUID is the one used. */
        assert_int_equal(hvsock_listen(NULL, &a, 8, &l), 0);
        assert_int_equal(hvsock__local_path(getenv("HVSOCK_RUNTIME_DIR"), SESSION_PORT, path, sizeof(path)), 0);
        assert_int_equal(access(path, F_OK), 0);
        c = hvsock_connect(NULL, &a, 1000);
        assert_true(c >= 0);
        s = hvsock_accept(l, 1000, &peer);
        assert_true(s >= 0);
        assert_true(hvsock_guid_equal(&peer.vm_id, &HVSOCK_GUID_LOOPBACK));
        hvsock_listener_free(l);
}

static void test_public_ctx(void **state) {
        struct hvsock_addr a = addr(&HVSOCK_GUID_LOOPBACK, "00000ac9-facb-11e6-bd58-64006a7986d3");
        struct hvsock_ctx *ctx = make_ctx(HVSOCK_TRANSPORT_HYBRID);
        struct hvsock_listener *l = NULL;
        FILE *f;

        /* An explicit context overrides the environment's transports. */
        assert_int_equal(hvsock_connect(ctx, &a, 0), -HVSOCK_E_NO_TRANSPORT);
        assert_int_equal(hvsock_listen(ctx, &a, 8, &l), -HVSOCK_E_NO_TRANSPORT);

        /* A broken registry is reported, not ignored. */
        assert_int_equal(hvsock_ctx_set_transports(ctx, HVSOCK_TRANSPORT_LOCAL), 0);
        assert_int_equal(hvsock_ctx_set_config_dir(ctx, test_path("badconfig")), 0);
        assert_int_equal(mkdir_p(test_path("badconfig"), 0755), 0);
        f = fopen(test_path("badconfig/" HVSOCK_REGISTRY_FILE), "w");
        assert_non_null(f);
        fputs("this is [not a registry\n", f);
        fclose(f);
        assert_int_equal(hvsock_connect(ctx, &a, 0), -HVSOCK_E_REGISTRY);
        /* ... with where and why: the parser's file:line message. */
        assert_non_null(strstr(hvsock_strerror(-HVSOCK_E_REGISTRY), "malformed registry: "));
        assert_non_null(strstr(hvsock_strerror(-HVSOCK_E_REGISTRY), HVSOCK_REGISTRY_FILE ":1: "));
        assert_int_equal(hvsock_listen(ctx, &a, 8, &l), -HVSOCK_E_REGISTRY);
        assert_non_null(strstr(hvsock_strerror(-HVSOCK_E_REGISTRY), HVSOCK_REGISTRY_FILE ":1: "));
        assert_null(l);
        /* A load that works forgets the old reason. */
        assert_int_equal(hvsock_ctx_set_config_dir(ctx, test_path("config")), 0);
        assert_int_equal(hvsock_connect(ctx, &a, 0), -ECONNREFUSED);
        assert_string_equal(hvsock_strerror(-HVSOCK_E_REGISTRY), "malformed registry");
        hvsock_ctx_free(ctx);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_service_port),
                cmocka_unit_test(test_connect_rules_all),
                cmocka_unit_test(test_connect_rules_masked),
                cmocka_unit_test(test_connect_rules_errors),
                cmocka_unit_test(test_vm_id_for_cid),
                cmocka_unit_test(test_public_errors),
                cmocka_unit_test(test_public_registered_service),
                cmocka_unit_test(test_public_ctx),
        };

        test_setup_env(60);
        return cmocka_run_group_tests(tests, group_setup, NULL);
}
