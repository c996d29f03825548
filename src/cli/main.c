/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli-util.h"
#include "commands.h"
#include "fd-util.h"

#ifndef HVSOCK_VERSION
#define HVSOCK_VERSION "unknown"
#endif

static const struct cli_command commands[] = {
        { "service", "service", cmd_service, "COMMAND ...",
          "Register services and enable them globally or per VM", NULL },
        { "vm", "vm", cmd_vm, "COMMAND ...", "Register VMs and how to reach them (vsock CID or hybrid UDS)", NULL },
        { "guid", "guid", cmd_guid, "COMMAND ...",
          "Make GUIDs and convert between service IDs and vsock ports", NULL },
        { "nc", "nc", cmd_nc, "[-l [-k]] [-v] [-w MS] VM SERVICE",
          "Relay standard input and output over one Hyper-V socket connection",
          "  -l, --listen            accept one connection instead of connecting\n"
          "  -k, --keep-open         with -l, serve connections one after another\n"
          "  -v, --verbose           report addresses and connections on stderr\n"
          "  -w, --wait MS           connect timeout in ms, 1..300000 (default 5000);\n"
          "                          with -l, how long to wait for a client (default: forever)\n"
          "VM: a VM name or ID, or parent, loopback, children, any (-l: everywhere).\n"
          "SERVICE: a service ID, a port (its VSOCK-template ID) or a service name.\n" },
        { "exec", "exec", cmd_exec, "VM [OPTIONS] -- COMMAND [ARG...]",
          "Run a command in a VM through its VM Session Service (hvsock-sessiond)",
          "  -u, --user USER         run as USER (the daemon must run as root to switch)\n"
          "  -e, --env NAME=VALUE    set a variable in the command's environment (repeatable)\n"
          "  -C, --cwd DIR           run in DIR (default: the user's home directory)\n"
          "  -t, --timeout S         kill the command after S seconds, 1..604800\n"
          "      --credential-file F for a daemon with --auth pam: F's first line is USER:PASSWORD,\n"
          "                          or USER then PASSWORD on two lines (default: ask for the\n"
          "                          password of --user, else $USER, on the terminal)\n"
          "VM: a VM name or ID, or loopback, parent.\n"
          "Standard input goes to the command; its standard output and error come back\n"
          "separately as it writes them. SIGINT, SIGTERM, SIGHUP and SIGQUIT are forwarded.\n"
          "Exit status: the command's, 128+N when a signal N ended it, 124 after --timeout,\n"
          "127 when the command is not found, 126 when it cannot run, 255 when the session\n"
          "failed (also for invalid credentials), 2 for bad arguments.\n" },
        { "shell", "shell", cmd_shell, "VM [--user USER] [--credential-file F] [-- COMMAND [ARG...]]",
          "Open an interactive shell in a VM through its VM Session Service",
          "  -u, --user USER         run as USER (the daemon must run as root to switch)\n"
          "      --credential-file F for a daemon with --auth pam: F's first line is USER:PASSWORD,\n"
          "                          or USER then PASSWORD on two lines (default: ask for the\n"
          "                          password of --user, else $USER, on the terminal)\n"
          "VM: a VM name or ID, or loopback, parent.\n"
          "Runs the user's login shell (or COMMAND) in the VM. When standard input is a\n"
          "terminal, the session gets a pseudo-terminal there: this terminal is put in raw\n"
          "mode and restored at the end, TERM and the window size (and its changes) are\n"
          "passed on. Otherwise standard input, output and error are relayed as streams.\n"
          "Exit status: the shell's, 128+N when a signal N ended it, 255 when the session\n"
          "failed, 2 for bad arguments.\n" },
        { "cp", "cp", cmd_cp, "[-r] [-p] [--sync] [--credential-file F] SRC... DST",
          "Copy files and directories into or out of a VM through its VM Session Service",
          "  -r, --recursive         copy directories with their contents\n"
          "  -p, --preserve          keep each file's mode and modification time\n"
          "      --sync              make each file durable (fsync) before it gets its name,\n"
          "                          so it survives a power loss, not only an interrupted copy\n"
          "      --credential-file F for a daemon with --auth pam: F's first line is USER:PASSWORD,\n"
          "                          or USER then PASSWORD on two lines (default: ask for the\n"
          "                          password of --user, else $USER, on the terminal)\n"
          "Either DST or every SRC is VM:PATH (VM: a VM name or ID, or loopback, parent;\n"
          "a relative PATH is from the user's home directory there). An existing directory\n"
          "DST receives the sources; several sources need one. Every file is written to a\n"
          "temporary file next to its target, checked (size and a digest) and only then\n"
          "renamed, so an interrupted copy leaves no partial file. A progress bar is drawn\n"
          "when standard error is a terminal.\n"
          "Exit status: 0 when everything was copied, 1 otherwise (also for invalid\n"
          "credentials), 2 for bad arguments.\n" },
};

static const struct cli_command hvsock = {
        .name = "hvsock",
        .path = "",
        .args = "",
        .summary = "Hyper-V sockets for Linux: the registry of services and VMs, and a socket relay",
        .options = "  -h, --help              show this help\n"
                   "  -V, --version           show the version\n",
};

/* Output goes through stdio: a full disk or a closed pipe shows up only here. */
static int flush_stdout(int status) {
        if (fflush(stdout) != 0 || ferror(stdout)) {
                int err = errno > 0 ? -errno : -EIO;
                if (err != -EPIPE)
                        fprintf(stderr, "hvsock: writing output: %s\n", hvsock_strerror(err));
                return status == EXIT_SUCCESS ? EXIT_FAILURE : status;
        }
        return status;
}

int main(int argc, char **argv) {
        /* A closed 0, 1 or 2 reused by nc's socket would relay it to itself. */
        open_std_fds();
        if (argc >= 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
                printf("hvsock %s\n", HVSOCK_VERSION);
                return flush_stdout(EXIT_SUCCESS);
        }
        return flush_stdout(cli_dispatch(&hvsock, commands, ELEMENTSOF(commands), argc, argv));
}
