/* SPDX-License-Identifier: MIT */
/*
 * hvsock-sessiond's copy helper: the end of a PUT or GET in the VM, run
 * with the session's connection once the daemon handed it over. The
 * archive itself is copy-send.c and copy-receive.c.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "copy-archive.h"
#include "copy-link.h"
#include "copy.h"

/* A number argument of the helper within 0..max, or -1. */
static long helper_number(const char *arg, unsigned long max) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(arg, &end, 10);
        return errno || *end || end == arg || v > max ? -1 : (long) v;
}

int copy_helper_main(int argc, char **argv) {
        struct copy_options o = { .label = "hvsock: in the VM", .prefix = "", .peer = "the client" };
        struct copy_link *l = NULL;
        struct session_parser *in;
        long version, flags;
        bool sending;
        int r;

        if (argc < 4)
                return 2;
        version = helper_number(argv[1], SESSION_VERSION_MAX);
        flags = helper_number(argv[2], SESSION_COPY_FLAGS);
        sending = strcmp(argv[0], "send") == 0;
        if (version < SESSION_VERSION_MIN || flags < 0 || (!sending && (strcmp(argv[0], "receive") != 0 || argc != 4)))
                return 2;
        o.version = (unsigned) version;
        o.flags = (uint32_t) flags;
        signal(SIGPIPE, SIG_IGN);
        /* The session's socket is stdin (and stdout); stderr is the daemon's log. */
        in = malloc(sizeof(*in));
        if (!in)
                return 1;
        session_parser_init(in);
        r = copy_link_new(STDIN_FILENO, in, true, sending, NULL, &l);
        if (r < 0) {
                fprintf(stderr, "hvsock-sessiond: copy helper: %s\n", strerror(-r));
                return 1;
        }
        o.messages = l;
        if (sending)
                r = copy_send(l, argv + 3, (size_t) (argc - 3), &o);
        else {
                r = copy_receive(l, argv[3], &o);
                if (r == -EPIPE)
                        copy_report(&o, &(struct progress) {}, "copying to '%s': the copy was interrupted", argv[3]);
        }
        if (r < 0 && r != -EPIPE && r != -EPROTO && r != -EBADMSG && r != -ECANCELED)
                copy_report(&o, &(struct progress) {}, "copying: %s", strerror(-r));
        r = copy_link_finish_server(l, r == 0 ? 0 : 1) < 0 || r != 0;
        copy_link_free(l);
        return r;
}
