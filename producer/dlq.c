/* dlq.c - `voxcast dlq`: dispatch to list, show, replay and purge, plus purge itself.
 *
 * The dead-letter queue is Redis (store.h); these commands are how an operator looks at it,
 * sends its jobs back to Kafka, or drops what cannot be repaired. Each subcommand lives in its
 * own file (see dlq.h); this one holds the table, the shared helpers and purge, which is a
 * single store call behind a confirmation. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "dlq.h"

struct dlq_command {
    const char *name;
    int (*run)(int argc, char **argv, const struct config *cfg);
    void (*usage)(FILE *out);
    const char *summary;
};

static const struct dlq_command dlq_commands[] = {
    {"list", dlq_list, dlq_list_usage, "list entries, newest first, with a summary of why they failed"},
    {"show", dlq_show, dlq_show_usage, "print one entry in full"},
    {"replay", dlq_replay, dlq_replay_usage, "send entries' jobs back to Kafka (window, rate, limit)"},
    {"purge", dlq_purge, dlq_purge_usage, "delete a campaign's entries"},
};

#define NCOMMANDS (sizeof dlq_commands / sizeof dlq_commands[0])

static void dlq_usage(FILE *out)
{
    fputs("usage: voxcast dlq COMMAND [ARGS]\n\n"
          "The dead-letter queue holds the jobs that failed for good: every provider failed them\n"
          "(retry_exhausted), a provider refused the job itself (non_retryable), or the Kafka\n"
          "message was not a valid job (invalid_job, filed under the campaign \"_invalid\").\n\n"
          "commands:\n", out);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-7s %s\n", dlq_commands[i].name, dlq_commands[i].summary);
    fputs("\n`voxcast dlq COMMAND --help` for a command's options.\n\n"
          "examples:\n"
          "  voxcast dlq list --campaign spring-promo --reason retry_exhausted --limit 20\n"
          "  voxcast dlq show spring-promo:42\n"
          "  voxcast dlq replay --campaign spring-promo --window 22:00-06:00 --rate 50\n"
          "  voxcast dlq purge --campaign spring-promo --yes\n", out);
}

int cmd_dlq(int argc, char **argv, const struct config *cfg)
{
    if (argc < 2) {
        dlq_usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        dlq_usage(stdout);
        return EXIT_OK;
    }
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (strcmp(argv[1], dlq_commands[i].name) == 0) {
            optind = 1; /* getopt_long starts afresh on the subcommand's argv */
            return dlq_commands[i].run(argc - 1, argv + 1, cfg);
        }
    }
    cmd_error("dlq: unknown command \"%s\" (try voxcast dlq --help)", argv[1]);
    return EXIT_USAGE;
}

/* ---------------------------------------------------------------- shared helpers */

struct store *dlq_open_store(const struct config *cfg)
{
    char err[512];
    struct store *s = store_open_config(cfg, err, sizeof err);
    if (!s)
        cmd_error("%s", err);
    return s;
}

int dlq_parse_count(const char *sub, const char *opt, const char *arg, int64_t *out)
{
    char *end;
    long long v = strtoll(arg, &end, 10);
    if (*arg == '\0' || *end != '\0' || v < 0 || arg[0] == '-' || arg[0] == '+') {
        cmd_error("dlq %s: --%s must be a whole number, not \"%s\"", sub, opt, arg);
        return -1;
    }
    *out = v;
    return 0;
}

int dlq_check_campaign(const char *sub, const char *campaign)
{
    if (store_id_valid(campaign))
        return 0;
    cmd_error("dlq %s: campaign \"%s\" must be 1-64 of [A-Za-z0-9._-], not \".\" or \"..\"", sub, campaign);
    return -1;
}

json_t *dlq_entry_with_id(const char *id, const char *entry_json)
{
    json_t *out = json_object();
    json_object_set_new(out, "id", json_string(id));
    json_t *entry = json_loads(entry_json, 0, NULL);
    if (json_is_object(entry)) {
        /* the contract's order, whatever order the entry was stored in (jobs are stored first) */
        static const char *const order[] = {"campaign", "contact", "reason", "provider",
                                            "http_status", "error", "attempts", "failed_at",
                                            "job", "raw"};
        json_object_del(entry, "id"); /* ours wins: it is the handle show and purge take */
        for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
            json_t *v = json_object_get(entry, order[i]);
            if (v)
                json_object_set(out, order[i], v);
        }
        json_object_update(out, entry); /* the rest; members already set keep their place */
    } else {
        json_object_set_new(out, "unparsed", json_string(entry_json));
    }
    json_decref(entry);
    return out;
}

/* ---------------------------------------------------------------- purge */

void dlq_purge_usage(FILE *out)
{
    fputs("usage: voxcast dlq purge --campaign ID --yes [--json]\n\n"
          "Deletes every entry waiting in the campaign's DLQ, a thousand at a time so Redis is never\n"
          "blocked for long, and prints how many were removed. The contacts stay counted as dlq in\n"
          "`voxcast status` (a `launch --resume` enqueues them again). Entries claimed by a running\n"
          "replay are left to it. There is no undo: --yes is required.\n\n"
          "  --campaign ID   the campaign whose entries go\n"
          "  --yes           confirm the deletion\n"
          "  --json          print {\"campaign\":ID,\"purged\":N}\n\n"
          "example:\n"
          "  voxcast dlq list --campaign spring-promo --reason non_retryable --json > kept.jsonl\n"
          "  voxcast dlq purge --campaign spring-promo --yes\n", out);
}

int dlq_purge(int argc, char **argv, const struct config *cfg)
{
    static const struct option longopts[] = {
        {"campaign", required_argument, NULL, 'C'}, {"yes", no_argument, NULL, 'y'},
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *campaign = NULL;
    bool yes = false, json = false;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'C': campaign = optarg; break;
        case 'y': yes = true; break;
        case 'j': json = true; break;
        case 'h': dlq_purge_usage(stdout); return EXIT_OK;
        default: dlq_purge_usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cmd_error("dlq purge: unexpected argument \"%s\"", argv[optind]);
        return EXIT_USAGE;
    }
    if (!campaign) {
        cmd_error("dlq purge: --campaign is required (see voxcast dlq purge --help)");
        return EXIT_USAGE;
    }
    if (dlq_check_campaign("purge", campaign) != 0)
        return EXIT_USAGE;
    if (!yes) {
        cmd_error("dlq purge: refusing to delete the DLQ entries of %s without --yes", campaign);
        return EXIT_USAGE;
    }
    struct store *s = dlq_open_store(cfg);
    if (!s)
        return EXIT_RUNTIME;
    int64_t n = store_dlq_purge(s, campaign, 1000);
    int rc = EXIT_OK;
    if (n < 0) {
        cmd_error("redis: purging the DLQ of %s: %s", campaign, store_error(s));
        rc = EXIT_RUNTIME;
    } else if (json) {
        json_t *o = json_pack("{s:s,s:I}", "campaign", campaign, "purged", (json_int_t)n);
        char *text = json_dumps(o, JSON_COMPACT);
        puts(text);
        free(text);
        json_decref(o);
    } else {
        printf("purged %lld DLQ entr%s of %s\n", (long long)n, n == 1 ? "y" : "ies", campaign);
    }
    store_close(s);
    return rc;
}
