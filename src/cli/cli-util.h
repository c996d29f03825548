/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_CLI_UTIL_H
#define HVSOCK_CLI_UTIL_H

/*
 * Shared pieces of the hvsock command: the command tables and their
 * dispatcher, option parsing with the project's messages, argument parsers,
 * registry access and JSON output.
 *
 * Convention: functions that print their own error return an exit status
 * (0, EXIT_FAILURE for runtime failures, EXIT_USAGE for bad arguments);
 * the others return 0 or -errno like the library.
 */

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <hvsock/hvsock.h>

#include "macro.h"
#include "registry.h"

#define EXIT_USAGE 2

struct cli_command {
        const char *name;    /* as typed on the command line */
        const char *path;    /* the full command, for messages: "service add" */
        int (*run)(const struct cli_command *cmd, int argc, char **argv);
        const char *args;    /* synopsis after the path */
        const char *summary; /* one line */
        const char *options; /* option descriptions for --help, or NULL */
};

/* Prints the usage of one command (synopsis, summary, options). */
void cli_help(FILE *f, const struct cli_command *cmd);

/*
 * Runs the subcommand named argv[1] of the group cmd, whose subcommands are
 * cmds[0..n). The subcommand gets argv + 1. Returns an exit status.
 */
int cli_dispatch(const struct cli_command *cmd, const struct cli_command *cmds, size_t n,
                 int argc, char **argv);

/* Prints the group's usage: its synopsis and every subcommand. */
void cli_group_help(FILE *f, const struct cli_command *cmd, const struct cli_command *cmds, size_t n);

/*
 * getopt_long() that handles -h/--help (prints cmd's usage to stdout) and
 * prints its own messages for unknown options and missing arguments.
 * Returns the option character, -1 after the last option, or
 * CLI_OPT_HELP / CLI_OPT_USAGE, which cli_opt_exit() turns into an exit status.
 * "h" and "help" must be in shortopts and longopts.
 */
#define CLI_OPT_HELP (-100)
#define CLI_OPT_USAGE (-101)
int cli_getopt(const struct cli_command *cmd, int argc, char **argv, const char *shortopts,
               const struct option *longopts);
int cli_opt_exit(int c);

/* For commands whose only option is --help: returns -1 to go on, or an exit status. */
int cli_no_options(const struct cli_command *cmd, int argc, char **argv);

/* Checks that between n_min and n_max positional arguments follow optind;
 * names lists them for the "missing" message ("VM SERVICE").
 * Returns 0 or EXIT_USAGE after printing. */
int cli_positional(const struct cli_command *cmd, int argc, char **argv, int n_min, int n_max,
                   const char *names);

/* Prints "hvsock: <message>" to stderr. Returns EXIT_FAILURE. */
int cli_fail(const char *fmt, ...) _printf_(1, 2);
/* Prints "hvsock: <message>" and a hint to cmd's --help. Returns EXIT_USAGE. */
int cli_usage(const struct cli_command *cmd, const char *fmt, ...) _printf_(2, 3);
/* Prints "hvsock: <what> '<input>': <reason for err>". Returns EXIT_FAILURE. */
int cli_error(int err, const char *what, const char *input);

/* Parses a u32 written in decimal or 0x hex, nothing else around it.
 * Returns 0, -EINVAL or -ERANGE. */
int parse_u32(const char *s, uint32_t *ret);

/* Argument parsers that print a usage error naming the input and return
 * EXIT_USAGE, or return 0 with *ret set. */
int arg_guid(const struct cli_command *cmd, const char *what, const char *s, struct hvsock_guid *ret);
int arg_port(const struct cli_command *cmd, const char *s, uint32_t *ret);
int arg_u32(const struct cli_command *cmd, const char *what, const char *s, uint32_t min,
            uint32_t max, uint32_t *ret);

/* Creates a context from the environment. Returns an exit status. */
int cli_ctx(struct hvsock_ctx **ret);
/* Loads the registry of ctx's config dir. Returns an exit status. */
int cli_registry_load(const struct hvsock_ctx *ctx, struct hvsock_registry **ret);
/* Both: a context from the environment and its registry. Returns an exit
 * status; on failure the caller frees what was made. */
int cli_ctx_registry(struct hvsock_ctx **ctx, struct hvsock_registry **reg);

/* Loads the registry into *reg unless it is loaded already. Returns an exit status. */
int cli_registry_lazy(const struct hvsock_ctx *ctx, struct hvsock_registry **reg);
/* VM argument: a GUID, a well-known name (parent, loopback, children, any...)
 * or a registered VM name; the registry is loaded into *reg only for a name.
 * Returns 0 or an exit status after printing why. */
int cli_resolve_vm(const struct cli_command *cmd, const struct hvsock_ctx *ctx,
                   struct hvsock_registry **reg, const char *arg, struct hvsock_guid *ret);

/* A service by ID (GUID text) or ElementName; a VM by ID or name. NULL when absent. */
struct hvsock_service *cli_find_service(const struct hvsock_registry *r, const char *arg);
struct hvsock_vm *cli_find_vm(const struct hvsock_registry *r, const char *arg);

/*
 * A registry change under the registry lock. fn runs on the freshly loaded
 * registry; on failure it calls cli_update_fail() to say why in plain words
 * and returns its value.
 */
struct cli_update {
        int (*fn)(struct hvsock_registry *r, struct cli_update *u);
        void *data;
        char message[512];
};
int cli_update_fail(struct cli_update *u, int err, const char *fmt, ...) _printf_(3, 4);
/* Runs u->fn in hvsock__registry_update(); on failure prints
 * "hvsock: <what> '<input>': <why>". Returns an exit status. */
int cli_registry_update(const struct hvsock_ctx *ctx, struct cli_update *u, const char *what,
                        const char *input);

/* A whole command of the form `CMD ARGNAME` with no options that changes
 * the registry through fn (u->data is the argument). Returns an exit status. */
int cli_update_command(const struct cli_command *cmd, int argc, char **argv, const char *argname,
                       int (*fn)(struct hvsock_registry *r, struct cli_update *u), const char *what);

/* Writes s as a JSON string (null for NULL), escaping what JSON requires and
 * replacing bytes that are not UTF-8 with U+FFFD. */
void json_string(FILE *f, const char *s);

const char *yes_no(bool b);

void hvsock_ctx_freep(struct hvsock_ctx **p);
#define _cleanup_ctx_ _cleanup_(hvsock_ctx_freep)

#endif
