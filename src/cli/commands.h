/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_CLI_COMMANDS_H
#define HVSOCK_CLI_COMMANDS_H

/* The top-level commands, one source file each; main.c lists them. */

#include "cli-util.h"

int cmd_guid(const struct cli_command *cmd, int argc, char **argv);    /* guid.c */
int cmd_service(const struct cli_command *cmd, int argc, char **argv); /* service.c */
int cmd_vm(const struct cli_command *cmd, int argc, char **argv);      /* vm.c */
int cmd_nc(const struct cli_command *cmd, int argc, char **argv);      /* nc.c */
int cmd_exec(const struct cli_command *cmd, int argc, char **argv);    /* exec.c */
int cmd_shell(const struct cli_command *cmd, int argc, char **argv);   /* shell.c */
int cmd_cp(const struct cli_command *cmd, int argc, char **argv);      /* cp.c */

#endif
