/* main.c - `voxcast`, the campaign CLI: dispatch to launch, status, dlq, campaign and broker.
 *
 * Shared options (-c, -X) are taken out of argv first so they may stand anywhere; the
 * configuration is then built once and handed to the subcommand. */
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "log.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv, const struct config *cfg);
    const char *summary;
};

static const struct command commands[] = {
    {"launch", cmd_launch, "enqueue one job per contact of a CSV or JSON Lines file"},
    {"status", cmd_status, "show a campaign's progress (or list campaigns)"},
    {"dlq", cmd_dlq, "list, show, replay or purge dead-lettered jobs"},
    {"reconcile", cmd_reconcile, "enqueue again the contacts of a campaign that are not done"},
    {"campaign", cmd_campaign, "list, pause, resume, cancel or delete campaigns"},
    {"broker", cmd_broker, "run an embedded development Kafka broker"},
};

void cmd_error(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "voxcast: %s\n", msg);
}

bool cmd_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return true;
    return false;
}

static void usage(FILE *out)
{
    fputs("usage: voxcast [-c FILE] [-X key=value]... COMMAND [ARGS]\n\n"
          "Batch text-to-speech campaigns on Kafka: launch jobs, watch them, replay failures.\n\n"
          "commands:\n", out);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fputs("\noptions (anywhere on the line):\n"
          "  -c FILE        configuration file of `key = value` lines\n"
          "  -X key=value   override one key (beats VOXCAST_* variables, which beat the file)\n"
          "  -h, --help     this help; `voxcast COMMAND --help` for a command\n"
          "  --version      print the version\n"
          "  --help-config  list every configuration key with its default\n\n"
          "example:\n"
          "  voxcast broker --bootstrap-file /tmp/bootstrap &\n"
          "  voxcast -X kafka.bootstrap.servers=$(cat /tmp/bootstrap) launch --campaign spring \\\n"
          "      --contacts contacts.csv --template 'Hi {{first_name}}, your order ships today.'\n",
          out);
}

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    char err[1024];
    struct cli_common cc;
    if (cli_take_common(&argc, argv, &cc, err, sizeof err) != 0) {
        cmd_error("%s", err);
        return EXIT_USAGE;
    }
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("voxcast %s\n", VOXCAST_VERSION);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "--help-config") == 0) {
        char *d = config_describe();
        fputs(d, stdout);
        free(d);
        return EXIT_OK;
    }
    const struct command *cmd = find_command(argv[1]);
    if (!cmd) {
        cmd_error("unknown command \"%s\" (try voxcast --help)", argv[1]);
        return EXIT_USAGE;
    }
    struct config *cfg = cli_load_config(&cc, err, sizeof err);
    if (!cfg) {
        cmd_error("%s", err);
        return EXIT_USAGE;
    }
    int rc;
    if (cli_init_log("voxcast", cfg, err, sizeof err) != 0) {
        cmd_error("%s", err);
        rc = EXIT_USAGE;
    } else {
        rc = cmd->run(argc - 1, argv + 1, cfg);
    }
    config_free(cfg);
    return rc;
}
