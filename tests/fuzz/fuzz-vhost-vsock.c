/* SPDX-License-Identifier: MIT */
/*
 * hvsock-vhost's device model against hostile rings: the input becomes the
 * first bytes of a 64 KiB guest memory holding the tx and rx rings
 * (descriptor tables, avail rings) and the buffers they point to. The device
 * must never touch memory outside the region, loop, or crash.
 *
 * Layout (offsets in guest memory, guest physical base 0x10000, 64 entries):
 *   0x0000 tx desc   0x0400 tx avail   0x0800 tx used
 *   0x1000 rx desc   0x1400 rx avail   0x1800 rx used   0x2000.. buffers
 * The guest CID is 3. Host port 5000 is registered and a host program
 * listens on it (never reading), so a guest REQUEST to it gets a connection
 * and its RW packets reach the forwarding path; other ports are refused.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hvsock/guid.h>

#include "ev.h"
#include "guest-mem.h"
#include "registry.h"
#include "transport.h"
#include "virtqueue.h"
#include "vsock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEM_SIZE 0x10000
#define GPA 0x10000
#define UVA 0x7f0000000000ull

#define HOST_PORT 5000

static char host_dir[64], uds_path[96];
static struct unix_listener host_listener = UNIX_LISTENER_NULL;

static int add_service(struct hvsock_registry *r, void *userdata, char **ret_error) {
        struct hvsock_guid id;

        hvsock_guid_from_port(HOST_PORT, &id);
        return hvsock__registry_add_service(r, &id, "fuzz", HOST_PORT, NULL);
}

static void host_cleanup(void) {
        DIR *d = opendir(host_dir);
        struct dirent *e;

        unix_listener_close(&host_listener);
        while (d && (e = readdir(d)))
                if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                        (void) unlinkat(dirfd(d), e->d_name, 0);
        if (d)
                closedir(d);
        (void) rmdir(host_dir);
}

/* Once per process: the registry and the listening host program. */
static void host_setup(void) {
        char *err = NULL;

        if (host_listener.fd >= 0)
                return;
        snprintf(host_dir, sizeof(host_dir), "/tmp/hvsock-fuzz-XXXXXX");
        if (!mkdtemp(host_dir))
                abort();
        snprintf(uds_path, sizeof(uds_path), "%s/vsock", host_dir);
        if (hvsock__registry_update(host_dir, add_service, NULL, &err) < 0)
                abort();
        if (hvsock__hybrid_listen(uds_path, HOST_PORT, 64, NULL, &host_listener, NULL) < 0)
                abort();
        atexit(host_cleanup);
}

/* Closes the connections the device made, so the backlog never fills. */
static void host_drain(void) {
        int fd;

        while ((fd = accept4(host_listener.fd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
                close(fd);
}

static void setup_vq(struct vq *vq, const struct guest_mem *m, uint64_t base, bool event_idx) {
        vq->kick.fd = -1;
        vq_init(vq, m);
        vq->num = 64;
        vq->desc_uva = UVA + base;
        vq->avail_uva = UVA + base + 0x400;
        vq->used_uva = UVA + base + 0x800;
        vq->addr_set = true;
        if (vq_map(vq) < 0)
                abort();
        vq->started = vq->enabled = true;
        vq->event_idx = event_idx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static uint8_t *mem;
        struct guest_mem m = { .n = 0 };
        struct vq rx, tx;
        struct ev_loop loop;
        struct vsock_dev *dev;
        struct vsock_dev_config cfg = {
                .guest_cid = 3,
                .uds_path = uds_path,
                .config_dir = host_dir,
                .max_connections = 8,
                .tx_buffer_size = 4096,
        };

        host_setup();
        if (!mem && !(mem = malloc(MEM_SIZE)))
                abort();
        memset(mem, 0, MEM_SIZE);
        memcpy(mem, data, size < MEM_SIZE ? size : MEM_SIZE);
        if (guest_mem_add(&m, GPA, MEM_SIZE, UVA, mem) < 0)
                abort();
        memset(&rx, 0, sizeof(rx));
        memset(&tx, 0, sizeof(tx));
        setup_vq(&tx, &m, 0, size > 0 && (data[0] & 1));
        setup_vq(&rx, &m, 0x1000, size > 0 && (data[0] & 1));
        if (ev_loop_init(&loop) < 0)
                abort();
        if (vsock_dev_new(&cfg, &loop, &rx, &tx, &dev) < 0)
                abort();
        /* Twice: the second pass sees what the first left in the rings. */
        for (int i = 0; i < 2; i++) {
                vsock_dev_process_tx(dev);
                vsock_dev_process_rx(dev);
                vsock_dev_gc(dev);
        }
        vsock_dev_free(dev);
        ev_loop_done(&loop);
        host_drain();
        return 0;
}
