/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "credential.h"
#include "fd-util.h"
#include "macro.h"

static int read_small_file(const char *path, char *buf, size_t size, size_t *ret_len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        size_t len = 0;

        if (fd < 0)
                return negative_errno();
        for (;;) {
                ssize_t n = read(fd, buf + len, size - len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                len += (size_t) n;
                if (len == size)
                        return -EFBIG;
        }
        *ret_len = len;
        return 0;
}

int cli_credential_load(struct cli_credential *c, const char *path) {
        char buf[CLI_CREDENTIAL_MAX + 1];
        char *line2, *sep, *user, *password;
        size_t len;
        int r;

        r = read_small_file(path, buf, sizeof(buf) - 1, &len);
        if (r < 0)
                return r;
        buf[len] = '\0';
        r = -EINVAL;
        if (memchr(buf, '\0', len))
                goto out;
        line2 = strchr(buf, '\n');
        if (line2)
                *line2++ = '\0';
        sep = strchr(buf, ':');
        if (sep) {
                *sep = '\0';
                user = buf;
                password = sep + 1;
        } else {
                if (!line2)
                        goto out;
                user = buf;
                password = line2;
                line2 = strchr(line2, '\n');
                if (line2)
                        *line2 = '\0';
        }
        if (!*user)
                goto out;
        c->file_user = strdup(user);
        c->file_password = strdup(password);
        r = c->file_user && c->file_password ? 0 : -ENOMEM;
        if (r < 0)
                cli_credential_done(c);
out:
        explicit_bzero(buf, sizeof(buf));
        return r;
}

/* Reads one line from the terminal with echo off and canonical input on,
 * whatever mode it was in (a shell may have set raw mode), then puts the
 * mode back. */
static int ask_password(const char *user, char *buf, size_t size) {
        _cleanup_close_ int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
        struct termios old, quiet;
        size_t len = 0;
        int r = 0;

        if (fd < 0)
                return negative_errno();
        if (tcgetattr(fd, &old) < 0)
                return negative_errno();
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t) (ECHO | ECHOE | ECHOK | ECHONL);
        quiet.c_lflag |= ICANON | ISIG;
        quiet.c_iflag |= ICRNL;
        quiet.c_oflag |= OPOST;
        dprintf(fd, "%s's password: ", user);
        if (tcsetattr(fd, TCSAFLUSH, &quiet) < 0)
                return negative_errno();
        while (len + 1 < size) {
                char ch;
                ssize_t n = read(fd, &ch, 1);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = negative_errno();
                        break;
                }
                if (n == 0 || ch == '\n')
                        break;
                buf[len++] = ch;
        }
        buf[len] = '\0';
        (void) tcsetattr(fd, TCSAFLUSH, &old);
        (void) !write(fd, "\n", 1);
        return r;
}

int cli_credential_get(void *data, struct session_auth *ret) {
        struct cli_credential *c = data;
        char password[CLI_CREDENTIAL_MAX + 1];
        const char *user = c->file_user ? c->file_user : c->user;
        struct session_auth a = {};
        int r;

        if (!user || !*user) {
                const char *env = getenv("USER");
                struct passwd *pw = env && *env ? NULL : getpwuid(getuid());

                user = env && *env ? env : pw ? pw->pw_name : NULL;
                if (!user)
                        return -ENOENT;
        }
        if (c->file_password)
                r = snprintf(password, sizeof(password), "%s", c->file_password) < 0 ? -EINVAL : 0;
        else
                r = ask_password(user, password, sizeof(password));
        /* Run from a script or a service, with no controlling terminal: the
         * errno (ENXIO) would not say that the daemon wants credentials. */
        if (r == -ENXIO || r == -ENOTTY || r == -ENOENT)
                c->advice = "the VM asks for a user and password (its hvsock-sessiond runs with --auth pam) and "
                            "there is no terminal to ask for them: give --credential-file FILE, or run from a terminal";
        if (r == 0) {
                a.user = strdup(user);
                a.password = strdup(password);
                r = a.user && a.password ? 0 : -ENOMEM;
        }
        explicit_bzero(password, sizeof(password));
        if (r < 0) {
                session_auth_done(&a);
                return r;
        }
        *ret = a;
        return 0;
}

void cli_credential_done(struct cli_credential *c) {
        if (c->file_password)
                explicit_bzero(c->file_password, strlen(c->file_password));
        free(c->file_password);
        free(c->file_user);
        c->file_user = c->file_password = NULL;
}
