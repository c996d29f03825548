/* SPDX-License-Identifier: MIT */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test-util.h"

static char tmpdir[256];

static void remove_tmpdir(void) {
        char cmd[300];

        if (!tmpdir[0] || getenv("HVSOCK_TEST_KEEP"))
                return;
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
                fprintf(stderr, "test-util: could not remove %s\n", tmpdir);
}

static void on_alarm(int sig) {
        static const char msg[] = "test-util: test timed out (alarm)\n";
        (void) sig;
        if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
                _exit(124);
        _exit(124);
}

const char *test_setup_env(unsigned timeout_s) {
        char sub[300];

        if (!tmpdir[0]) {
                const char *base = getenv("TMPDIR");
                snprintf(tmpdir, sizeof(tmpdir), "%s/hvsock-test.XXXXXX", base && *base ? base : "/tmp");
                if (!mkdtemp(tmpdir)) {
                        perror("mkdtemp");
                        exit(1);
                }
                atexit(remove_tmpdir);
                snprintf(sub, sizeof(sub), "%s/config", tmpdir);
                mkdir(sub, 0755);
                setenv("HVSOCK_CONFIG_DIR", sub, 1);
                snprintf(sub, sizeof(sub), "%s/run", tmpdir);
                mkdir(sub, 0755);
                setenv("HVSOCK_RUNTIME_DIR", sub, 1);
                setenv("HVSOCK_TRANSPORTS", "local,hybrid", 1);
                signal(SIGPIPE, SIG_IGN);
                signal(SIGALRM, on_alarm);
        }
        alarm(timeout_s);
        return tmpdir;
}

const char *test_path(const char *name) {
        static char bufs[8][512];
        static unsigned next;
        char *b = bufs[next++ % 8];

        snprintf(b, sizeof(bufs[0]), "%s/%s", tmpdir, name);
        return b;
}
