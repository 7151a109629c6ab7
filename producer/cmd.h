/* cmd.h - the voxcast CLI's subcommands and what they share.
 *
 * main.c dispatches `voxcast NAME ...` through a table to cmd_NAME(argc, argv, cfg), where argv[0]
 * is the subcommand name. Each returns the process exit status: 0 success, 1 runtime failure
 * (Kafka or Redis unreachable, a job not acknowledged), 2 usage or configuration error. */
#ifndef VOXCAST_CMD_H
#define VOXCAST_CMD_H

#include <stdbool.h>

#include "config.h"

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

int cmd_launch(int argc, char **argv, const struct config *cfg);
int cmd_status(int argc, char **argv, const struct config *cfg);
int cmd_dlq(int argc, char **argv, const struct config *cfg);
int cmd_broker(int argc, char **argv, const struct config *cfg);
int cmd_reconcile(int argc, char **argv, const struct config *cfg);
int cmd_campaign(int argc, char **argv, const struct config *cfg);

/* Prints "voxcast: <message>" on stderr (one line). */
void cmd_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* True when argv holds -h or --help (before a "--"). */
bool cmd_wants_help(int argc, char **argv);

#endif
