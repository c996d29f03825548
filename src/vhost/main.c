/* SPDX-License-Identifier: MIT */
/*
 * hvsock-vhost: a vhost-user-vsock backend for QEMU. Guest vsock streams on
 * one side, the hybrid UNIX-socket interface on the other, the registry
 * enforced in between. One epoll loop; QEMU may disconnect and come back.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hvsock/hvsock.h>

#include "ev.h"
#include "fd-util.h"
#include "macro.h"
#include "registry.h"
#include "signal-util.h"
#include "unix-listener.h"
#include "user-util.h"
#include "vhost-user.h"
#include "vsock.h"

/* Descriptors the device holds besides its connections: the loop, the
 * listeners and their locks, the timer, QEMU's socket, eventfds of two
 * rings, memory regions (at most 8), std streams, and some room. */
#define FDS_OF_OUR_OWN 64u

struct daemon {
        struct ev_loop loop;
        struct ev_source listener; /* for QEMU: qemu_sock.fd */
        struct unix_listener qemu_sock;
        struct ev_source signals;
        struct vhost_user vu;
        struct vsock_dev *dev;
        bool quit;
};

static void usage(FILE *f) {
        fputs("usage: hvsock-vhost --socket PATH --guest-cid N --uds-path PATH [--vm NAME]\n"
              "                    [--socket-owner USER] [--group GROUP]\n"
              "                    [--max-connections N] [--tx-buffer-size BYTES]\n"
              "                    [--max-pending-clients N] [--timeout MS]\n"
              "\n"
              "A vhost-user backend for QEMU's vhost-user-vsock-pci that carries guest vsock\n"
              "streams to host UNIX sockets and enforces the hvsock registry.\n"
              "\n"
              "  --socket PATH           listen here for QEMU (-chardev socket,path=PATH);\n"
              "                          mode 0600: only its owner may connect\n"
              "  --socket-owner USER     give --socket to USER (QEMU's user), a name or uid\n"
              "  --guest-cid N           the guest's CID (3..4294967294)\n"
              "  --uds-path PATH         host programs connect here and send \"CONNECT <port>\\n\";\n"
              "                          a guest connecting to host port P reaches PATH_P, if the\n"
              "                          registry has an enabled service on P; mode 0660\n"
              "  --group GROUP           the group of --uds-path (operators allowed to reach\n"
              "                          the guest), a name or gid\n"
              "  --vm NAME               apply this registered VM's per-service policy\n"
              "  --max-connections N     default 1023\n"
              "  --tx-buffer-size BYTES  per connection towards the host, default 262144\n"
              "  --max-pending-clients N host clients yet to send their CONNECT line; more\n"
              "                          wait in the listen backlog until one is done (default 64)\n"
              "  --timeout MS            for a client's CONNECT line, for the guest to accept\n"
              "                          a CONNECT, and for the guest's RST after the host\n"
              "                          closed (default 2000, as Firecracker)\n"
              "  -h, --help              show this help\n"
              "\n"
              "The registry is read from $HVSOCK_CONFIG_DIR (default /etc/hvsock) and reloaded\n"
              "when it changes. SIGUSR1 prints the device's counters as one JSON line on stderr.\n", f);
}

static int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *ret) {
        char *end;
        unsigned long long v;

        if (!s[0] || s[0] == '-' || s[0] == '+')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || *end || v < min || v > max)
                return -ERANGE;
        *ret = (uint32_t) v;
        return 0;
}

/* Parses the numeric option opt into *ret; on a bad value says so (unit is
 * appended to the range) and returns false. */
static bool parse_opt(const char *opt, const char *arg, uint32_t min, uint32_t max, const char *unit,
                      uint32_t *ret) {
        if (parse_u32(arg, min, max, ret) == 0)
                return true;
        fprintf(stderr, "hvsock-vhost: bad %s '%s': expected %" PRIu32 "..%" PRIu32 "%s\n", opt, arg, min, max, unit);
        return false;
}

/* Parses --socket-owner (into *ret_uid) or --group (into *ret_gid); on a bad
 * value says so and returns false. */
static bool parse_id_opt(const char *opt, const char *arg, uid_t *ret_uid, gid_t *ret_gid) {
        int r = ret_uid ? parse_user(arg, ret_uid) : parse_group(arg, ret_gid);

        if (r == 0)
                return true;
        fprintf(stderr, "hvsock-vhost: bad %s '%s': %s\n", opt, arg, parse_id_strerror(r, !ret_uid));
        return false;
}

static void dev_ring_kick(void *userdata, unsigned index) {
        struct daemon *dm = userdata;

        if (index == VSOCK_TX_RING) {
                vsock_dev_process_tx(dm->dev);
        } else {
                vsock_dev_process_rx(dm->dev);
        }
}

static void dev_reset(void *userdata) {
        struct daemon *dm = userdata;

        vsock_dev_reset(dm->dev);
}

static const struct vhost_user_ops ops = {
        .ring_kick = dev_ring_kick,
        .reset = dev_reset,
};

static void listener_event(struct ev_source *s, uint32_t revents) {
        struct daemon *dm = (struct daemon *) ((char *) s - offsetof(struct daemon, listener));
        int fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);

        if (fd < 0)
                return;
        /* One QEMU at a time: a second one is turned away, unless the
         * first never said a word (then it only held the slot). */
        switch (vhost_user_offer(&dm->vu, fd)) {
        case 0:
                break;
        case 1:
                fprintf(stderr, "hvsock-vhost: dropped a connection that never sent a message, for a new one\n");
                break;
        case -EBUSY:
                fprintf(stderr, "hvsock-vhost: a QEMU is already connected; refusing another\n");
                break;
        default:
                fprintf(stderr, "hvsock-vhost: cannot serve the QEMU connection\n");
                break;
        }
}

/* SIGUSR1: one JSON line on stderr with the device's state and counters,
 * for scripts and monitoring. */
static void print_stats(const struct daemon *dm) {
        const struct vsock_stats *st = vsock_dev_stats(dm->dev);

        fprintf(stderr,
                "{\"guest_cid\":%" PRIu32 ",\"qemu\":%s,\"paused\":%s,\"connections\":%u,"
                "\"refused\":%" PRIu64 ",\"timeouts\":%" PRIu64 ",\"rst_sent\":%" PRIu64
                ",\"rst_dropped\":%" PRIu64 ",\"dropped_cid\":%" PRIu64 ",\"dropped_malformed\":%" PRIu64
                ",\"refused_max_connections\":%" PRIu64 ",\"host_refused_max_connections\":%" PRIu64
                ",\"host_accept_paused\":%" PRIu64 ",\"host_accept_starved\":%" PRIu64 "}\n",
                dm->vu.guest_cid, vhost_user_attached(&dm->vu) ? "true" : "false",
                dm->vu.suspended ? "true" : "false", vsock_dev_connections(dm->dev), st->refused,
                st->timeouts, st->rst_sent, st->rst_dropped, st->dropped_cid, st->dropped_malformed,
                st->refused_max_connections, st->host_refused_max_connections, st->host_accept_paused,
                st->host_accept_starved);
}

static void signal_event(struct ev_source *s, uint32_t revents) {
        struct daemon *dm = (struct daemon *) ((char *) s - offsetof(struct daemon, signals));
        struct signalfd_siginfo si;

        if (read(s->fd, &si, sizeof(si)) != (ssize_t) sizeof(si))
                return;
        if (si.ssi_signo == SIGUSR1)
                print_stats(dm);
        else
                dm->quit = true;
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "socket", required_argument, NULL, 's' },
                { "guest-cid", required_argument, NULL, 'c' },
                { "uds-path", required_argument, NULL, 'u' },
                { "vm", required_argument, NULL, 'v' },
                { "max-connections", required_argument, NULL, 'm' },
                { "tx-buffer-size", required_argument, NULL, 't' },
                { "max-pending-clients", required_argument, NULL, 'p' },
                { "timeout", required_argument, NULL, 'T' },
                { "socket-owner", required_argument, NULL, 'O' },
                { "group", required_argument, NULL, 'g' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        struct vsock_dev_config cfg = {
                .max_connections = VSOCK_DEFAULT_MAX_CONNECTIONS,
                .tx_buffer_size = VSOCK_DEFAULT_TX_BUFFER_SIZE,
                .max_pending_clients = VSOCK_DEFAULT_MAX_PENDING_CLIENTS,
                .timeout_ms = VSOCK_DEFAULT_TIMEOUT_MS,
        };
        /* The vhost-user socket is QEMU's alone: whoever connects drives the
         * device and sees guest memory. */
        struct unix_access qemu_access = { .mode = 0600, .uid = (uid_t) -1, .gid = (gid_t) -1 };
        struct unix_access uds_access = { .mode = VSOCK_UDS_MODE, .uid = (uid_t) -1, .gid = (gid_t) -1 };
        struct hvsock_ctx *ctx = NULL;
        _cleanup_free_ char *error = NULL;
        const char *socket_path = NULL;
        struct daemon dm = { .quit = false, .qemu_sock = UNIX_LISTENER_NULL };
        bool have_cid = false;
        sigset_t mask;
        int c, r, status = 1;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 's':
                        socket_path = optarg;
                        break;
                case 'c':
                        if (!parse_opt("--guest-cid", optarg, 3, UINT32_MAX - 1, "", &cfg.guest_cid))
                                return 2;
                        have_cid = true;
                        break;
                case 'u':
                        cfg.uds_path = optarg;
                        break;
                case 'v':
                        if (!hvsock__vm_name_valid(optarg)) {
                                fprintf(stderr, "hvsock-vhost: bad --vm '%s': not a valid VM name\n", optarg);
                                return 2;
                        }
                        cfg.vm_name = optarg;
                        break;
                case 'm':
                        if (!parse_opt("--max-connections", optarg, 1, 65536, "", &cfg.max_connections))
                                return 2;
                        break;
                case 't':
                        if (!parse_opt("--tx-buffer-size", optarg, 4096, 1u << 30, "", &cfg.tx_buffer_size))
                                return 2;
                        break;
                case 'p':
                        if (!parse_opt("--max-pending-clients", optarg, 1, 65536, "", &cfg.max_pending_clients))
                                return 2;
                        break;
                case 'T':
                        if (!parse_opt("--timeout", optarg, 1, 3600000, " milliseconds", &cfg.timeout_ms))
                                return 2;
                        break;
                case 'O':
                        if (!parse_id_opt("--socket-owner", optarg, &qemu_access.uid, NULL))
                                return 2;
                        break;
                case 'g':
                        if (!parse_id_opt("--group", optarg, NULL, &uds_access.gid))
                                return 2;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        fprintf(stderr, "Try 'hvsock-vhost --help'.\n");
                        return 2;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "hvsock-vhost: unexpected argument '%s'\nTry 'hvsock-vhost --help'.\n", argv[optind]);
                return 2;
        }
        if (!socket_path || !have_cid || !cfg.uds_path) {
                fprintf(stderr, "hvsock-vhost: --socket, --guest-cid and --uds-path are required\n"
                                "Try 'hvsock-vhost --help'.\n");
                return 2;
        }

        /* One descriptor per connection, and a few of our own: the usual
         * soft limit of 1024 would run out before --max-connections. */
        r = rlimit_nofile_raise();
        if (r >= 0 && (uint64_t) r < (uint64_t) cfg.max_connections + FDS_OF_OUR_OWN)
                fprintf(stderr, "hvsock-vhost: --max-connections %" PRIu32 " needs about %" PRIu32
                        " descriptors and the limit is %d: clients beyond it wait until connections close\n",
                        cfg.max_connections, cfg.max_connections + FDS_OF_OUR_OWN, r);

        r = hvsock_ctx_new(&ctx);
        if (r < 0) {
                fprintf(stderr, "hvsock-vhost: configuration: %s\n", hvsock_strerror(r));
                return 1;
        }
        cfg.config_dir = hvsock_ctx_config_dir(ctx);
        cfg.uds_access = &uds_access;

        /* SIGTERM, SIGHUP and SIGINT end the loop, so the sockets are
         * removed on the way out. */
        sigemptyset(&mask);
        sigset_add_stop_signals(&mask);
        sigaddset(&mask, SIGUSR1);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);

        dm.listener.fd = dm.signals.fd = -1;
        if ((r = ev_loop_init(&dm.loop)) < 0) {
                fprintf(stderr, "hvsock-vhost: epoll: %s\n", strerror(-r));
                goto out;
        }
        r = vsock_dev_new(&cfg, &dm.loop, &dm.vu.vqs[VSOCK_RX_RING], &dm.vu.vqs[VSOCK_TX_RING], &dm.dev);
        if (r < 0) {
                fprintf(stderr, "hvsock-vhost: device: %s\n", strerror(-r));
                goto out;
        }
        vhost_user_init(&dm.vu, &dm.loop, cfg.guest_cid, &ops, &dm);

        dm.signals.fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        dm.signals.fn = signal_event;
        if (dm.signals.fd < 0 || ev_add(&dm.loop, &dm.signals, EPOLLIN) < 0) {
                fprintf(stderr, "hvsock-vhost: signalfd: %s\n", strerror(errno));
                goto out;
        }
        r = unix_listen(socket_path, 1, &qemu_access, &dm.qemu_sock, &error);
        if (r < 0) {
                fprintf(stderr, "hvsock-vhost: cannot listen on '%s': %s\n", socket_path, error ? error : strerror(-r));
                goto out;
        }
        dm.listener.fd = dm.qemu_sock.fd;
        dm.listener.fn = listener_event;
        if (ev_add(&dm.loop, &dm.listener, EPOLLIN) < 0)
                goto out;
        r = vsock_dev_listen(dm.dev, &error);
        if (r < 0) {
                fprintf(stderr, "hvsock-vhost: cannot listen on '%s': %s\n", cfg.uds_path, error ? error : strerror(-r));
                goto out;
        }

        while (!dm.quit) {
                r = ev_run_once(&dm.loop, vsock_dev_timeout_ms(dm.dev));
                vsock_dev_notify(dm.dev);
                vsock_dev_gc(dm.dev);
                if (r < 0) {
                        fprintf(stderr, "hvsock-vhost: epoll_wait: %s\n", strerror(-r));
                        goto out;
                }
        }
        status = 0;
out:
        if (dm.dev)
                vhost_user_detach(&dm.vu);
        dm.dev = vsock_dev_free(dm.dev);
        unix_listener_close(&dm.qemu_sock);
        safe_close(dm.signals.fd);
        ev_loop_done(&dm.loop);
        hvsock_ctx_free(ctx);
        return status;
}
