/* SPDX-License-Identifier: MIT */
/*
 * e2e-peer: the host side of the e2e scenarios and of the device benchmark.
 * UNIX sockets and pipes only: it never opens AF_VSOCK.
 *
 *   e2e-peer serve PATH echo|sink|source MIB SEED [--fast] [--cpu-pid PID]
 *        listen on the UNIX socket PATH (what hvsock-vhost reaches for a guest
 *        connecting to host port P: PATH = <uds-path>_<P>), one child per
 *        connection, until killed. Modes as in tests/e2e/guest/vsock-e2e.c.
 *   e2e-peer send MIB SEED [--fast] [--cpu-pid PID] (--uds PATH --port P | -- CMD ARGS...)
 *   e2e-peer recv MIB SEED [--fast] [--cpu-pid PID] (--uds PATH --port P | -- CMD ARGS...)
 *        the client side: either through hvsock-vhost's hybrid interface
 *        (connect PATH, "CONNECT P\n", "OK ...\n") or through a command's
 *        stdin/stdout (e.g. -- hvsock nc VM SERVICE): its stdin closing is the
 *        half-close, its stdout closing the peer's EOF.
 *   e2e-peer expect MIB SEED     prints the hash line of a stream
 *   e2e-peer connect-many PATH PORT N
 *        N clients connect to hvsock-vhost's hybrid socket PATH and all send
 *        "CONNECT PORT\n" before any reply is read; each then expects
 *        "OK ...\n", sends a line of its own and expects it back. Prints how
 *        many were served and how the others ended (closed, reset, timed out).
 *
 * Results are one line each on stdout: E2E-PEER-<WHAT>-OK|FAIL ...
 * --cpu-pid PID adds "E2E-PEER-CPU <ns> <bytes> <ns per second>": the CPU time
 * of PID (hvsock-vhost) from /proc/PID/schedstat over the transfer.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../cpu-time.h"
#include "../stream.h"

static bool fast;
static long cpu_pid;

static void report_cpu(long long t0, uint64_t bytes) {
        long long t1 = cpu_ns(cpu_pid);

        if (cpu_pid > 0 && t0 >= 0 && t1 >= 0)
                printf("E2E-PEER-CPU %lld %" PRIu64 " %ld\n", t1 - t0, bytes, CPU_NS_PER_SECOND);
}

static int unix_sockaddr(const char *path, struct sockaddr_un *sa) {
        memset(sa, 0, sizeof(*sa));
        sa->sun_family = AF_UNIX;
        if (strlen(path) >= sizeof(sa->sun_path)) {
                fprintf(stderr, "e2e-peer: socket path too long '%s'\n", path);
                return -1;
        }
        strcpy(sa->sun_path, path);
        return 0;
}

/* ---- server ---- */

static int serve_one(int fd, const char *mode, uint64_t mib, uint64_t seed) {
        static char buf[STREAM_BLOCK];
        char line[STREAM_LINE_MAX];
        long long t0 = cpu_ns(cpu_pid);
        uint64_t hash, len, got_hash, got_len;

        if (strcmp(mode, "echo") == 0) {
                for (;;) {
                        ssize_t r = read(fd, buf, sizeof(buf));

                        if (r < 0 && errno == EINTR)
                                continue;
                        if (r <= 0) {
                                if (r < 0)
                                        return 1;
                                break;
                        }
                        if (stream_write_all(fd, buf, (size_t) r) < 0)
                                return 1;
                }
                shutdown(fd, SHUT_WR);
                return 0;
        }
        if (strcmp(mode, "sink") == 0) {
                if (stream_recv(fd, fast, &hash, &len) < 0 || stream_reply(fd, hash, len) < 0) {
                        printf("E2E-PEER-SINK-FAIL %s\n", strerror(errno));
                        return 1;
                }
                report_cpu(t0, len);
                printf("E2E-PEER-SINK-OK %" PRIu64 " bytes, hash %016" PRIx64 "\n", len, hash);
                return 0;
        }
        if (strcmp(mode, "source") == 0) {
                if (stream_send(fd, mib, seed, fast, &hash) < 0) {
                        printf("E2E-PEER-SOURCE-FAIL send: %s\n", strerror(errno));
                        return 1;
                }
                if (shutdown(fd, SHUT_WR) < 0 || stream_read_line(fd, line, sizeof(line)) < 0 ||
                    stream_parse_reply(line, &got_hash, &got_len) < 0) {
                        printf("E2E-PEER-SOURCE-FAIL no hash line after the half-close\n");
                        return 1;
                }
                report_cpu(t0, mib << 20);
                if (got_len != mib << 20 || got_hash != hash) {
                        printf("E2E-PEER-SOURCE-FAIL peer got %" PRIu64 " bytes, hash %016" PRIx64
                               ", expected %016" PRIx64 "\n", got_len, got_hash, hash);
                        return 1;
                }
                printf("E2E-PEER-SOURCE-OK %" PRIu64 " MiB, hash %016" PRIx64 "\n", mib, hash);
                return 0;
        }
        return 1;
}

static int cmd_serve(const char *path, const char *mode, uint64_t mib, uint64_t seed) {
        struct sockaddr_un sa;
        int lfd;

        if (strcmp(mode, "echo") && strcmp(mode, "sink") && strcmp(mode, "source")) {
                fprintf(stderr, "e2e-peer: unknown mode '%s'\n", mode);
                return 2;
        }
        if (unix_sockaddr(path, &sa) < 0)
                return 2;
        (void) unlink(path);
        lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (lfd < 0 || bind(lfd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(lfd, 256) < 0) {
                fprintf(stderr, "e2e-peer: listen on '%s': %s\n", path, strerror(errno));
                return 1;
        }
        signal(SIGCHLD, SIG_IGN);
        for (;;) {
                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

                if (fd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        fprintf(stderr, "e2e-peer: accept on '%s': %s\n", path, strerror(errno));
                        return 1;
                }
                if (fork() == 0) {
                        close(lfd);
                        _exit(serve_one(fd, mode, mib, seed));
                }
                close(fd);
        }
}

/* ---- clients ---- */

struct conn {
        int rfd, wfd; /* the same socket, or the command's stdout and stdin */
        pid_t child;
};

/* Connects through hvsock-vhost's hybrid interface. */
static int conn_uds(struct conn *c, const char *path, unsigned port) {
        struct sockaddr_un sa;
        char line[64];
        int fd, n;

        if (unix_sockaddr(path, &sa) < 0)
                return -1;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                fprintf(stderr, "e2e-peer: connect '%s': %s\n", path, strerror(errno));
                return -1;
        }
        n = snprintf(line, sizeof(line), "CONNECT %u\n", port);
        /* Byte by byte: whatever follows "OK ...\n" is stream data. */
        if (stream_write_all(fd, line, (size_t) n) < 0 || stream_read_line(fd, line, sizeof(line)) < 0 ||
            strncmp(line, "OK ", 3) != 0) {
                fprintf(stderr, "e2e-peer: CONNECT %u through '%s' refused\n", port, path);
                close(fd);
                return -1;
        }
        c->rfd = c->wfd = fd;
        c->child = -1;
        return 0;
}

static int conn_exec(struct conn *c, char **argv) {
        int in[2], out[2];

        if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
                return -1;
        c->child = fork();
        if (c->child < 0)
                return -1;
        if (c->child == 0) {
                dup2(in[0], 0);
                dup2(out[1], 1);
                execvp(argv[0], argv);
                fprintf(stderr, "e2e-peer: exec '%s': %s\n", argv[0], strerror(errno));
                _exit(127);
        }
        close(in[0]);
        close(out[1]);
        c->wfd = in[1];
        c->rfd = out[0];
        return 0;
}

static void conn_half_close(struct conn *c) {
        if (c->child < 0)
                shutdown(c->wfd, SHUT_WR);
        else
                c->wfd = (close(c->wfd), -1);
}

/* Closes and reaps; returns the command's exit status (0 for a socket). */
static int conn_end(struct conn *c) {
        int st = 0;

        if (c->wfd >= 0 && c->wfd != c->rfd)
                close(c->wfd);
        close(c->rfd);
        if (c->child > 0) {
                if (waitpid(c->child, &st, 0) < 0)
                        return -1;
                return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        return 0;
}

static int cmd_send(struct conn *c, uint64_t mib, uint64_t seed) {
        char line[STREAM_LINE_MAX];
        uint64_t hash, got_hash, got_len;
        long long t0 = cpu_ns(cpu_pid);
        double s0 = stream_now_s(), secs;
        int st;

        if (stream_send(c->wfd, mib, seed, fast, &hash) < 0) {
                printf("E2E-PEER-SEND-FAIL write: %s\n", strerror(errno));
                return 1;
        }
        conn_half_close(c);
        if (stream_read_line(c->rfd, line, sizeof(line)) < 0 || stream_parse_reply(line, &got_hash, &got_len) < 0) {
                printf("E2E-PEER-SEND-FAIL no hash line after the half-close\n");
                return 1;
        }
        secs = stream_now_s() - s0;
        report_cpu(t0, mib << 20);
        st = conn_end(c);
        if (got_len != mib << 20 || got_hash != hash || st != 0) {
                printf("E2E-PEER-SEND-FAIL receiver got %" PRIu64 " bytes, hash %016" PRIx64 ", sent %016" PRIx64
                       ", command status %d\n", got_len, got_hash, hash, st);
                return 1;
        }
        printf("E2E-PEER-SEND-OK %" PRIu64 " MiB, hash %016" PRIx64 ", %.1f MB/s\n", mib, hash,
               (double) (mib << 20) / secs / 1e6);
        return 0;
}

static int cmd_recv(struct conn *c, uint64_t mib, uint64_t seed) {
        uint64_t hash, len, want = fast ? 0 : stream_expected(mib, seed);
        long long t0 = cpu_ns(cpu_pid);
        double s0 = stream_now_s(), secs;
        int st;

        if (stream_recv(c->rfd, fast, &hash, &len) < 0) {
                printf("E2E-PEER-RECV-FAIL read: %s\n", strerror(errno));
                return 1;
        }
        secs = stream_now_s() - s0;
        report_cpu(t0, len);
        /* The sender half-closed; it still reads our answer. */
        if (stream_reply(c->wfd, hash, len) < 0) {
                printf("E2E-PEER-RECV-FAIL answering after the peer's half-close: %s\n", strerror(errno));
                return 1;
        }
        conn_half_close(c);
        st = conn_end(c);
        if (len != mib << 20 || hash != want || st != 0) {
                printf("E2E-PEER-RECV-FAIL got %" PRIu64 " bytes, hash %016" PRIx64 ", expected %016" PRIx64
                       ", command status %d\n", len, hash, want, st);
                return 1;
        }
        printf("E2E-PEER-RECV-OK %" PRIu64 " MiB, hash %016" PRIx64 ", %.1f MB/s\n", mib, hash,
               (double) len / secs / 1e6);
        return 0;
}

/* ---- many CONNECTs at once ---- */

#define MANY_DEADLINE_S 120

struct many_conn {
        int fd;
        bool got_ok, done;
        char buf[64];
        size_t len;
};

struct many_tally {
        unsigned served, closed, reset, bad;
};

/* Handles the complete lines in c's buffer. Returns false when c is over. */
static bool many_lines(struct many_conn *c, unsigned id, struct many_tally *t) {
        char *nl, want[32];

        while ((nl = memchr(c->buf, '\n', c->len))) {
                *nl = '\0';
                snprintf(want, sizeof(want), "client %u", id);
                if (!c->got_ok && strncmp(c->buf, "OK ", 3) == 0) {
                        c->got_ok = true;
                        if (stream_write_all(c->fd, want, strlen(want)) < 0 || stream_write_all(c->fd, "\n", 1) < 0) {
                                t->bad++;
                                return false;
                        }
                } else if (c->got_ok && strcmp(c->buf, want) == 0) {
                        t->served++;
                        return false;
                } else {
                        t->bad++;
                        return false;
                }
                c->len -= (size_t) (nl + 1 - c->buf);
                memmove(c->buf, nl + 1, c->len);
        }
        if (c->len == sizeof(c->buf)) {
                t->bad++;
                return false;
        }
        return true;
}

/* Reads what c has. Returns false when c is over. */
static bool many_read(struct many_conn *c, unsigned id, struct many_tally *t) {
        ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);

        if (r < 0 && (errno == EAGAIN || errno == EINTR))
                return true;
        if (r <= 0) {
                if (r < 0 && errno == ECONNRESET)
                        t->reset++;
                else if (r < 0)
                        t->bad++;
                else
                        t->closed++;
                return false;
        }
        c->len += (size_t) r;
        return many_lines(c, id, t);
}

static int cmd_connect_many(const char *path, unsigned port, unsigned n) {
        struct rlimit rl;
        struct sockaddr_un sa;
        struct many_tally t = {};
        struct many_conn *c = calloc(n, sizeof(*c));
        struct pollfd *p = calloc(n, sizeof(*p));
        double t0 = stream_now_s();
        unsigned left = n;
        char line[64];
        int len = snprintf(line, sizeof(line), "CONNECT %u\n", port);

        if (!c || !p || unix_sockaddr(path, &sa) < 0)
                return 1;
        /* One descriptor per client, whatever the default soft limit. */
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < n + 64 && rl.rlim_max >= n + 64) {
                rl.rlim_cur = n + 64;
                setrlimit(RLIMIT_NOFILE, &rl);
        }
        for (unsigned i = 0; i < n; i++) {
                c[i].fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (c[i].fd < 0 || connect(c[i].fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                        printf("E2E-PEER-MANY-FAIL connect #%u to '%s': %s\n", i, path, strerror(errno));
                        return 1;
                }
        }
        /* Every line goes out before any reply is read: simultaneous CONNECTs. */
        for (unsigned i = 0; i < n; i++)
                if (send(c[i].fd, line, (size_t) len, MSG_NOSIGNAL) != len) {
                        c[i].done = true;
                        left--;
                        t.closed++;
                }
        while (left > 0 && stream_now_s() - t0 < MANY_DEADLINE_S) {
                unsigned k = 0;

                for (unsigned i = 0; i < n; i++)
                        if (!c[i].done)
                                p[k++] = (struct pollfd) { .fd = c[i].fd, .events = POLLIN };
                if (poll(p, k, 1000) < 0 && errno != EINTR)
                        break;
                for (unsigned i = 0, j = 0; i < n; i++) {
                        if (c[i].done)
                                continue;
                        if (p[j++].revents && !many_read(&c[i], i, &t)) {
                                c[i].done = true;
                                close(c[i].fd);
                                left--;
                        }
                }
        }
        if (t.served == n) {
                printf("E2E-PEER-MANY-OK %u simultaneous CONNECTs to port %u served in %.1f s\n", n, port,
                       stream_now_s() - t0);
                return 0;
        }
        printf("E2E-PEER-MANY-FAIL of %u simultaneous CONNECTs to port %u: %u served, %u closed, %u reset, "
               "%u malformed, %u unanswered (after %.1f s)\n", n, port, t.served, t.closed, t.reset, t.bad, left,
               stream_now_s() - t0);
        return 1;
}

static uint64_t num(const char *s, const char *what) {
        char *end;
        unsigned long long v;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || !*s || *end) {
                fprintf(stderr, "e2e-peer: bad %s '%s'\n", what, s);
                exit(2);
        }
        return v;
}

static void usage(void) {
        fputs("usage: e2e-peer serve PATH echo|sink|source [MIB SEED] [--fast] [--cpu-pid PID]\n"
              "       e2e-peer send|recv MIB SEED [--fast] [--cpu-pid PID] (--uds PATH --port P | -- CMD...)\n"
              "       e2e-peer expect MIB SEED\n"
              "       e2e-peer connect-many PATH PORT N\n", stderr);
        exit(2);
}

int main(int argc, char **argv) {
        const char *uds = NULL;
        char *args[6], **cmd = NULL;
        unsigned port = 0;
        int nargs = 0;
        struct conn c;

        setvbuf(stdout, NULL, _IOLBF, 0);
        signal(SIGPIPE, SIG_IGN);
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--fast") == 0)
                        fast = true;
                else if (strcmp(argv[i], "--cpu-pid") == 0 && i + 1 < argc)
                        cpu_pid = (long) num(argv[++i], "pid");
                else if (strcmp(argv[i], "--uds") == 0 && i + 1 < argc)
                        uds = argv[++i];
                else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
                        port = (unsigned) num(argv[++i], "port");
                else if (strcmp(argv[i], "--") == 0) {
                        cmd = argv + i + 1;
                        break;
                } else if (nargs < 6)
                        args[nargs++] = argv[i];
                else
                        usage();
        }
        if (nargs == 0)
                usage();
        if (strcmp(args[0], "serve") == 0 && (nargs == 3 || nargs == 5))
                return cmd_serve(args[1], args[2], nargs == 5 ? num(args[3], "MiB") : 0,
                                 nargs == 5 ? num(args[4], "seed") : 0);
        if (strcmp(args[0], "connect-many") == 0 && nargs == 4)
                return cmd_connect_many(args[1], (unsigned) num(args[2], "port"), (unsigned) num(args[3], "count"));
        if (strcmp(args[0], "expect") == 0 && nargs == 3) {
                char line[STREAM_LINE_MAX];
                uint64_t mib = num(args[1], "MiB");

                stream_format_reply(line, sizeof(line), stream_expected(mib, num(args[2], "seed")), mib << 20);
                fputs(line, stdout);
                return 0;
        }
        if ((strcmp(args[0], "send") && strcmp(args[0], "recv")) || nargs != 3 || (!uds == !(cmd && *cmd)))
                usage();
        if (uds ? conn_uds(&c, uds, port) < 0 : conn_exec(&c, cmd) < 0) {
                printf("E2E-PEER-%s-FAIL cannot connect\n", strcmp(args[0], "send") ? "RECV" : "SEND");
                return 1;
        }
        if (strcmp(args[0], "send") == 0)
                return cmd_send(&c, num(args[1], "MiB"), num(args[2], "seed"));
        return cmd_recv(&c, num(args[1], "MiB"), num(args[2], "seed"));
}
