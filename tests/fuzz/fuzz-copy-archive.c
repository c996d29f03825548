/* SPDX-License-Identifier: MIT */
/*
 * The archive stream of `hvsock cp` comes from the VM when the host copies
 * out of it. Feed arbitrary bytes as that stream (in DATA frames of a
 * session, as the daemon's helper would send them) to the client's
 * receiver, over a socketpair, into a fresh directory, and check what it
 * promises whatever the bytes: it returns, nothing appears outside the
 * destination, only regular files, directories and (below a directory)
 * symbolic links are made, and no setuid, setgid or sticky bit is set.
 *
 * The first input byte chooses the session: bits 0-1 the protocol version
 * (1, 2, 3, 3), bit 2 RECURSIVE, bit 3 PRESERVE, bit 4 a destination that
 * does not exist yet (else an existing directory), bit 5 two sources
 * asked for (report.txt and b) instead of one (report.txt).
 */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "copy-link.h"
#include "copy.h"
#include "frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[] = "/tmp/hvsock-fuzz-copy.XXXXXX";
static size_t root_len;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        if (ftw->level > 0)
                remove(path);
        return 0;
}

/* What the receiver made: checked entry by entry, without following links. */
static int check_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        if (ftw->level == 0)
                return 0;
        /* Only the destination directory "d" (or the new name "new") at the top. */
        if (ftw->level == 1 && strcmp(path + ftw->base, "d") != 0 && strcmp(path + ftw->base, "new") != 0)
                abort();
        if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode) && !S_ISLNK(st->st_mode))
                abort();
        if (st->st_mode & (S_ISUID | S_ISGID | S_ISVTX))
                abort();
        /* A link is only ever an entry of a copied directory: root/d/X/link
         * or root/new/link, never a top-level entry. */
        if (S_ISLNK(st->st_mode) && ftw->level < 2)
                abort();
        if (S_ISLNK(st->st_mode) && ftw->level == 2 && strncmp(path + root_len, "/d/", 3) == 0)
                abort();
        /* -p may have made a directory unreadable: the walk goes on inside. */
        if (S_ISDIR(st->st_mode))
                chmod(path, 0700);
        return 0;
}

static void frame_to(int fd, uint8_t type, uint8_t ch, const void *payload, size_t len) {
        uint8_t h[SESSION_HEADER_SIZE] = { type, ch, 0, 0 };

        put_le32(h + 4, (uint32_t) len);
        if (write(fd, h, sizeof(h)) != (ssize_t) sizeof(h) || (len && write(fd, payload, len) != (ssize_t) len))
                abort();
}

/* The daemon's side: the archive as stdout DATA, then the end of the session. */
static void send_session(int fd, const uint8_t *data, size_t size) {
        static const uint8_t exit_ok[8] = { 0 };

        for (size_t off = 0; off < size; off += SESSION_PAYLOAD_MAX) {
                size_t n = size - off < SESSION_PAYLOAD_MAX ? size - off : SESSION_PAYLOAD_MAX;

                frame_to(fd, SESSION_DATA, SESSION_STDOUT, data + off, n);
        }
        frame_to(fd, SESSION_EOF, SESSION_STDOUT, NULL, 0);
        frame_to(fd, SESSION_EOF, SESSION_STDERR, NULL, 0);
        frame_to(fd, SESSION_EXIT, SESSION_CONTROL, exit_ok, sizeof(exit_ok));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static char *one[] = { "report.txt" }, *two[] = { "report.txt", "b" };
        static const unsigned versions[] = { 1, 2, 3, 3 };
        struct session_client_result res = {};
        struct copy_options o = { .label = "fuzz", .prefix = "", .peer = "the fuzzer" };
        struct session_parser *in;
        struct copy_link *l = NULL;
        char dest[64];
        int sv[2], big = 1 << 20;

        /* All of it is written before the receiver runs: it must fit the
         * socket's buffer. */
        if (size < 1 || size > SESSION_PAYLOAD_MAX)
                return 0;
        if (!root_len) {
                if (!mkdtemp(root))
                        abort();
                root_len = strlen(root);
        }
        o.version = versions[data[0] & 3];
        o.flags = (data[0] & 4 ? SESSION_COPY_RECURSIVE : 0) | (data[0] & 8 ? SESSION_COPY_PRESERVE : 0);
        o.untrusted_sender = true;
        o.expected = data[0] & 32 ? two : one;
        o.n_expected = data[0] & 32 ? 2 : 1;
        if (data[0] & 32)
                o.flags |= SESSION_COPY_MULTIPLE;
        snprintf(dest, sizeof(dest), "%s/%s", root, data[0] & 16 ? "new" : "d");
        if (!(data[0] & 16) && mkdir(dest, 0755) < 0)
                abort();

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                abort();
        (void) setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
        (void) setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
        send_session(sv[1], data + 1, size - 1);
        in = malloc(sizeof(*in));
        if (!in)
                abort();
        session_parser_init(in);
        if (copy_link_new(sv[0], in, false, false, &res, &l) < 0)
                abort();
        o.messages = l; /* the client link only keeps them: no noise on stderr */
        (void) copy_receive(l, dest, &o);
        copy_link_free(l);
        close(sv[0]);
        close(sv[1]);

        if (nftw(root, check_entry, 16, FTW_PHYS) < 0)
                abort();
        nftw(root, remove_entry, 16, FTW_PHYS | FTW_DEPTH);
        return 0;
}
