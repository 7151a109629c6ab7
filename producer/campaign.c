/* campaign.c - `voxcast campaign list|pause|resume|cancel|delete`: a campaign's lifecycle.
 *
 * Pause and cancel are a word in the campaign's record (store_campaign_control_set); consumers
 * read it at least every campaign.control_ttl_ms and act on it: a paused campaign's jobs are set
 * aside in Redis instead of rendered (so they block no partition), a cancelled campaign's jobs
 * are counted cancelled. Resume turns the word back and sends the set-aside jobs to Kafka again,
 * with the DLQ replay's engine (dlq_replayer.c, DLQ_SOURCE_ASIDE: claim -> produce -> forget
 * once Kafka acknowledged), so an interrupted resume loses nothing and the next one finishes it.
 * Cancel sends the set-aside jobs too: a consumer then counts each one cancelled and publishes
 * its results event, so every contact of a cancelled campaign ends with an outcome. */
#include "campaign.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "cmd.h"
#include "dlq.h"
#include "job.h"
#include "progress.h"
#include "xalloc.h"

int64_t campaign_pending(const struct campaign_info *ci)
{
    return ci->enqueued - ci->done - ci->dlq - ci->cancelled;
}

int campaign_is_complete(const struct campaign_info *ci)
{
    return campaign_pending(ci) == 0 && strcmp(ci->launch_state, "launched") == 0;
}

const char *campaign_state(const struct campaign_info *ci)
{
    if (ci->control == STORE_CONTROL_CANCELLED)
        return "cancelled";
    if (campaign_is_complete(ci))
        return "complete";
    return ci->control == STORE_CONTROL_PAUSED ? "paused" : "running";
}

/* ---------------------------------------------------------------- help */

static void campaign_usage(FILE *out)
{
    fputs("usage: voxcast campaign list [--json]\n"
          "       voxcast campaign pause ID\n"
          "       voxcast campaign resume ID\n"
          "       voxcast campaign cancel ID\n"
          "       voxcast campaign delete ID --yes [--json]\n\n"
          "A campaign is running from its launch until every contact is done, dead-lettered or\n"
          "cancelled (then it is complete). On the way an operator can:\n\n"
          "  pause   stop rendering it: within about a second (campaign.control_ttl_ms) consumers set\n"
          "          its jobs aside in Redis instead of rendering them, without holding up any other\n"
          "          campaign; the pause survives consumer restarts\n"
          "  resume  render it again: sends every set-aside job back to Kafka, in its priority's\n"
          "          topic, and forgets each once Kafka acknowledged it (progress on stderr; run it\n"
          "          again if it is interrupted: nothing is lost)\n"
          "  cancel  stop it for good: consumers send no further request for it and count its\n"
          "          remaining contacts cancelled (each with an \"outcome\":\"cancelled\" results\n"
          "          event; set-aside jobs are sent back to Kafka so that they are counted too)\n"
          "  delete  remove every Redis key of the campaign at once (contacts, counts, DLQ); needs\n"
          "          --yes, there is no undo. Otherwise a complete or cancelled campaign's keys\n"
          "          expire campaign.retention_days after it ended (default 30)\n"
          "  list    every campaign with its state (running, paused, cancelled, complete), priority\n"
          "          and counts; --json: one object per line\n\n"
          "A complete campaign cannot be paused or cancelled, a cancelled one cannot be resumed,\n"
          "and only a paused one can be resumed: such a request is refused with the reason.\n"
          "exit status: 0 done, 1 no such campaign, a refused change, Redis or Kafka failed,\n"
          "2 usage error (delete without --yes).\n\n"
          "examples:\n"
          "  voxcast campaign pause spring-promo        # the dialer's line is down\n"
          "  voxcast campaign resume spring-promo\n"
          "  voxcast campaign cancel spring-promo       # the offer was withdrawn\n"
          "  voxcast campaign list --json | jq -r 'select(.state == \"complete\") | .campaign'\n"
          "  voxcast campaign delete spring-promo --yes\n", out);
}

/* ---------------------------------------------------------------- shared */

struct sub_opts {
    const char *campaign;
    bool        json, yes;
};

/* Parses `SUB [ID] [--json] [--yes]`, allowing the flags `allowed` names ("j", "y"). 0, 1 help
 * shown, -1 usage error (printed). */
static int parse_sub(int argc, char **argv, const char *allowed, bool want_id, struct sub_opts *o)
{
    static const struct option longopts[] = {{"json", no_argument, NULL, 'j'},
                                             {"yes", no_argument, NULL, 'y'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    *o = (struct sub_opts){0};
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'h') {
            campaign_usage(stdout);
            return 1;
        }
        if (c == '?' || !strchr(allowed, c)) {
            cmd_error("campaign %s: unknown option (see voxcast campaign --help)", argv[0]);
            return -1;
        }
        *(c == 'j' ? &o->json : &o->yes) = true;
    }
    if (want_id && optind < argc)
        o->campaign = argv[optind++];
    if (optind < argc) {
        cmd_error("campaign %s: unexpected argument \"%s\"", argv[0], argv[optind]);
        return -1;
    }
    if (want_id && !o->campaign) {
        cmd_error("campaign %s: give a campaign ID (see voxcast campaign --help)", argv[0]);
        return -1;
    }
    if (want_id && !job_campaign_valid(o->campaign)) {
        cmd_error("campaign %s: \"%s\" is not a campaign id (1-64 of [A-Za-z0-9._-])", argv[0], o->campaign);
        return -1;
    }
    return 0;
}

static struct store *open_store(const struct config *cfg)
{
    char err[512];
    struct store *s = store_open_config(cfg, err, sizeof err);
    if (!s)
        cmd_error("%s", err);
    return s;
}

/* ---------------------------------------------------------------- list */

/* The priority launch recorded (NULL: unknown, an older launch). Owned by the caller. */
static char *priority_of(struct store *s, const char *campaign)
{
    char *p = NULL;
    return store_campaign_field(s, campaign, "priority", &p) == 0 ? p : NULL;
}

static void list_json(const struct campaign_info *ci, const char *priority)
{
    char created[32];
    clock_iso8601(ci->created_at_ms, created);
    json_t *o = json_pack("{s:s,s:s,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s}", "campaign", ci->id,
                          "state", campaign_state(ci), "priority",
                          priority ? json_string(priority) : json_null(), "enqueued",
                          (json_int_t)ci->enqueued, "done", (json_int_t)ci->done, "dlq",
                          (json_int_t)ci->dlq, "cancelled", (json_int_t)ci->cancelled, "pending",
                          (json_int_t)campaign_pending(ci), "aside", (json_int_t)ci->aside,
                          "rejected", (json_int_t)ci->rejected, "created_at", created);
    char *text = json_dumps(o, JSON_COMPACT);
    puts(text);
    free(text);
    json_decref(o);
}

static void list_row(const struct campaign_info *ci, const char *priority)
{
    char created[32];
    clock_iso8601(ci->created_at_ms, created);
    printf("%-24s %-9s %-8s %9lld %9lld %7lld %9lld %9lld  %.19s\n", ci->id, campaign_state(ci),
           priority ? priority : "-", (long long)ci->enqueued, (long long)ci->done,
           (long long)ci->dlq, (long long)ci->cancelled, (long long)campaign_pending(ci), created);
}

static int campaign_list(int argc, char **argv, const struct config *cfg)
{
    struct sub_opts o;
    int rc = parse_sub(argc, argv, "j", false, &o);
    if (rc != 0)
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    struct store *s = open_store(cfg);
    if (!s)
        return EXIT_RUNTIME;
    struct campaign_info *list = NULL;
    size_t n = 0;
    if (store_campaign_list(s, &list, &n) != 0) {
        cmd_error("redis: listing campaigns: %s", store_error(s));
        store_close(s);
        return EXIT_RUNTIME;
    }
    if (!o.json)
        printf("%-24s %-9s %-8s %9s %9s %7s %9s %9s  %s\n", "CAMPAIGN", "STATE", "PRIORITY",
               "ENQUEUED", "DONE", "DLQ", "CANCELLED", "PENDING", "CREATED (UTC)");
    for (size_t i = 0; i < n; i++) {
        char *priority = priority_of(s, list[i].id);
        if (o.json)
            list_json(&list[i], priority);
        else
            list_row(&list[i], priority);
        free(priority);
    }
    if (!o.json && n == 0)
        printf("(no campaigns)\n");
    free(list);
    store_close(s);
    return EXIT_OK;
}

/* ---------------------------------------------------------------- set-aside jobs -> Kafka */

struct requeue {
    struct progress bar;
    int64_t         start_ms;
};

/* dlq_progress_fn: "spring-promo: 120 of 400 set-aside jobs re-enqueued". */
static void requeue_progress(void *ctx, const char *campaign, int64_t done, int64_t total, bool force)
{
    struct requeue *q = ctx;
    char text[160];
    snprintf(text, sizeof text, "%s: %lld of %lld set-aside jobs re-enqueued", campaign,
             (long long)done, (long long)total);
    progress_draw(&q->bar, (double)done, (double)(total > 0 ? total : 1), text, force);
}

/* Sends the campaign's set-aside jobs back to Kafka, if there are any. 0 done (or another run
 * is doing it), -1 failed (printed; what was not acknowledged stays set aside). */
static int requeue_aside(struct store *s, const struct config *cfg, const char *campaign)
{
    struct campaign_info ci;
    int rc = store_campaign_get(s, campaign, &ci);
    if (rc != 0) {
        if (rc < 0)
            cmd_error("redis: %s", store_error(s));
        return rc < 0 ? -1 : 0;
    }
    if (ci.aside == 0)
        return 0;
    struct requeue q = {.start_ms = clock_mono_ms()};
    progress_init(&q.bar, stderr, true);
    struct dlq_replayer_opts opts = {.cfg = cfg, .store = s, .source = DLQ_SOURCE_ASIDE,
                                     .progress = requeue_progress, .ctx = &q};
    char err[512];
    struct dlq_replayer *r = dlq_replayer_new(&opts, err, sizeof err);
    if (!r) {
        cmd_error("%s (%lld jobs stay set aside; run the command again)", err, (long long)ci.aside);
        return -1;
    }
    struct dlq_replay_result res;
    enum dlq_stop stop;
    rc = dlq_replayer_run(r, campaign, 0, &res, &stop);
    dlq_replayer_free(r);
    progress_done(&q.bar);
    if (rc == 1) {
        printf("campaign %s: another run is re-enqueueing its set-aside jobs\n", campaign);
        return 0;
    }
    if (res.failed > 0)
        cmd_error("kafka: %lld set-aside jobs of %s were not acknowledged (%s); they stay set aside: "
                  "run the command again", (long long)res.failed, campaign, res.delivery_error);
    if (rc == 0 && res.replayed > 0)
        printf("campaign %s: %lld set-aside jobs re-enqueued\n", campaign, (long long)res.replayed);
    return rc == 0 && res.failed == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- pause, resume, cancel */

static const char *const done_words[] = {
    [STORE_CONTROL_RUNNING] = "resumed", [STORE_CONTROL_PAUSED] = "paused",
    [STORE_CONTROL_CANCELLED] = "cancelled"};

/* A refused resume or cancel may still have set-aside jobs to send: the campaign is already
 * where the command would take it, but an earlier run of the command was interrupted. */
static bool left_behind(struct store *s, const char *campaign, enum store_control to)
{
    struct campaign_info ci;
    return to != STORE_CONTROL_PAUSED && store_campaign_get(s, campaign, &ci) == 0 &&
           ci.control == to && ci.aside > 0;
}

static int move(int argc, char **argv, const struct config *cfg, enum store_control to)
{
    struct sub_opts o;
    int rc = parse_sub(argc, argv, "", true, &o);
    if (rc != 0)
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    struct store *s = open_store(cfg);
    if (!s)
        return EXIT_RUNTIME;
    char why[256] = "";
    rc = store_campaign_control_set(s, o.campaign, to, why, sizeof why);
    int status = EXIT_OK;
    if (rc < 0) {
        cmd_error("redis: %s", store_error(s));
        status = EXIT_RUNTIME;
    } else if (rc == 2) {
        cmd_error("campaign %s: no campaign \"%s\"", argv[0], o.campaign);
        status = EXIT_RUNTIME;
    } else if (rc == 1 && !left_behind(s, o.campaign, to)) {
        cmd_error("campaign %s: %s", argv[0], why[0] ? why : "refused");
        status = EXIT_RUNTIME;
    } else {
        if (rc == 1)
            printf("campaign %s is already %s; sending the jobs an interrupted run left set aside\n",
                   o.campaign, store_control_name(to));
        else
            printf("campaign %s %s\n", o.campaign, done_words[to]);
        fflush(stdout);
        if (to != STORE_CONTROL_PAUSED && requeue_aside(s, cfg, o.campaign) != 0)
            status = EXIT_RUNTIME;
    }
    store_close(s);
    return status;
}

static int campaign_pause(int argc, char **argv, const struct config *cfg)
{
    return move(argc, argv, cfg, STORE_CONTROL_PAUSED);
}

static int campaign_resume(int argc, char **argv, const struct config *cfg)
{
    return move(argc, argv, cfg, STORE_CONTROL_RUNNING);
}

static int campaign_cancel(int argc, char **argv, const struct config *cfg)
{
    return move(argc, argv, cfg, STORE_CONTROL_CANCELLED);
}

/* ---------------------------------------------------------------- delete */

static int campaign_delete(int argc, char **argv, const struct config *cfg)
{
    struct sub_opts o;
    int rc = parse_sub(argc, argv, "jy", true, &o);
    if (rc != 0)
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    if (!o.yes) {
        cmd_error("campaign delete: this removes every record of %s (contacts, counts, DLQ) and "
                  "cannot be undone; add --yes", o.campaign);
        return EXIT_USAGE;
    }
    struct store *s = open_store(cfg);
    if (!s)
        return EXIT_RUNTIME;
    int64_t contacts = 0, dlq = 0;
    rc = store_campaign_delete(s, o.campaign, &contacts, &dlq);
    int status = EXIT_OK;
    if (rc == 1) {
        cmd_error("campaign delete: no campaign \"%s\"", o.campaign);
        status = EXIT_RUNTIME;
    } else if (rc != 0) {
        cmd_error("redis: deleting %s: %s", o.campaign, store_error(s));
        status = EXIT_RUNTIME;
    } else if (o.json) {
        printf("{\"campaign\":\"%s\",\"contacts\":%lld,\"dlq_entries\":%lld}\n", o.campaign,
               (long long)contacts, (long long)dlq);
    } else {
        printf("deleted campaign %s: %lld contacts, %lld DLQ entries\n", o.campaign,
               (long long)contacts, (long long)dlq);
    }
    store_close(s);
    return status;
}

/* ---------------------------------------------------------------- dispatch */

struct campaign_command {
    const char *name;
    int (*run)(int argc, char **argv, const struct config *cfg);
};

static const struct campaign_command campaign_commands[] = {
    {"list", campaign_list},     {"pause", campaign_pause},   {"resume", campaign_resume},
    {"cancel", campaign_cancel}, {"delete", campaign_delete},
};

int cmd_campaign(int argc, char **argv, const struct config *cfg)
{
    if (argc < 2) {
        campaign_usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        campaign_usage(stdout);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof campaign_commands / sizeof campaign_commands[0]; i++) {
        if (strcmp(argv[1], campaign_commands[i].name) == 0) {
            optind = 1; /* getopt_long starts afresh on the subcommand's argv */
            return campaign_commands[i].run(argc - 1, argv + 1, cfg);
        }
    }
    cmd_error("campaign: unknown command \"%s\" (list, pause, resume, cancel, delete)", argv[1]);
    return EXIT_USAGE;
}
