/* status.c - `voxcast status`: a campaign's counts, a list of campaigns, or a live view.
 *
 * Counts come from the campaign record, which only state transitions move, so
 * done + dlq + pending == enqueued holds at every read. pending is derived, never stored. */
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "clock.h"
#include "cmd.h"
#include "progress.h"
#include "store.h"

struct status_opts {
    const char *campaign;
    bool        json, watch, wait;
    double      timeout_s, interval_s;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void status_usage(FILE *out)
{
    fputs("usage: voxcast status [CAMPAIGN] [--json] [--watch] [--wait [--timeout S]] [--interval S]\n\n"
          "Shows a campaign's progress: enqueued, rejected, done, dlq, pending and the split per\n"
          "provider. Without CAMPAIGN, lists every campaign, newest first.\n\n"
          "  --json        one JSON object (one per line for the list)\n"
          "  --watch       redraw live (progress bar, rate, ETA) until the campaign completes\n"
          "  --wait        block until the campaign completes; exit 1 if --timeout passes first\n"
          "  --timeout S   give up waiting after S seconds (default: never)\n"
          "  --interval S  refresh period for --watch/--wait (default 1; 0.2 for --wait)\n\n"
          "state is \"complete\" when the launch has finished and pending == 0.\n\n"
          "examples:\n"
          "  voxcast status spring-promo --json\n"
          "  voxcast status spring-promo --watch\n", out);
}

static int parse_opts(int argc, char **argv, struct status_opts *o)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'}, {"watch", no_argument, NULL, 'w'},
        {"wait", no_argument, NULL, 'W'}, {"timeout", required_argument, NULL, 't'},
        {"interval", required_argument, NULL, 'i'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    *o = (struct status_opts){.timeout_s = -1, .interval_s = -1};
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'j': o->json = true; break;
        case 'w': o->watch = true; break;
        case 'W': o->wait = true; break;
        case 't':
        case 'i': {
            double v = strtod(optarg, &end);
            if (*end || v < 0) {
                cmd_error("status: --%s must be a number of seconds, not \"%s\"", c == 't' ? "timeout" : "interval", optarg);
                return -1;
            }
            *(c == 't' ? &o->timeout_s : &o->interval_s) = v;
            break;
        }
        case 'h': status_usage(stdout); return 1;
        default: status_usage(stderr); return -1;
        }
    }
    if (optind < argc)
        o->campaign = argv[optind++];
    if (optind < argc) {
        cmd_error("status: unexpected argument \"%s\"", argv[optind]);
        return -1;
    }
    if ((o->watch || o->wait) && !o->campaign) {
        cmd_error("status: --watch and --wait need a CAMPAIGN");
        return -1;
    }
    if (o->interval_s < 0)
        o->interval_s = o->wait && !o->watch ? 0.2 : 1.0;
    return 0;
}

static int64_t pending_of(const struct campaign_info *ci)
{
    return ci->enqueued - ci->done - ci->dlq;
}

static bool is_complete(const struct campaign_info *ci)
{
    return pending_of(ci) == 0 && strcmp(ci->launch_state, "launched") == 0;
}

static void put_json(const struct campaign_info *ci, json_t *by_provider)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:O}", "campaign", ci->id, "state",
                          is_complete(ci) ? "complete" : "running", "launch_state", ci->launch_state,
                          "enqueued", (json_int_t)ci->enqueued, "rejected", (json_int_t)ci->rejected,
                          "done", (json_int_t)ci->done, "dlq", (json_int_t)ci->dlq, "pending",
                          (json_int_t)pending_of(ci), "duplicates", (json_int_t)ci->duplicates,
                          "by_provider", by_provider ? by_provider : json_object());
    char created[32];
    clock_iso8601(ci->created_at_ms, created);
    json_object_set_new(o, "created_at", json_string(created));
    char *s = json_dumps(o, JSON_COMPACT);
    puts(s);
    free(s);
    json_decref(o);
}

static void put_providers(json_t *by_provider, struct buf *b)
{
    const char *name;
    json_t *v;
    json_object_foreach(by_provider, name, v)
        buf_printf(b, "%s%s %lld", b->len ? ", " : "", name, (long long)json_integer_value(v));
}

static void put_text(const struct campaign_info *ci, json_t *by_provider)
{
    struct buf prov = {0};
    put_providers(by_provider, &prov);
    printf("campaign %s: %s\n", ci->id, is_complete(ci) ? "complete" : "running");
    printf("  enqueued %lld   done %lld   dlq %lld   pending %lld   rejected %lld\n",
           (long long)ci->enqueued, (long long)ci->done, (long long)ci->dlq,
           (long long)pending_of(ci), (long long)ci->rejected);
    if (prov.len)
        printf("  by provider: %s\n", prov.data);
    if (ci->duplicates)
        printf("  duplicate deliveries skipped: %lld\n", (long long)ci->duplicates);
    buf_free(&prov);
}

static int fetch(struct store *s, const char *campaign, struct campaign_info *ci, json_t **prov)
{
    int rc = store_campaign_get(s, campaign, ci);
    if (rc == 1) {
        cmd_error("status: no campaign \"%s\"", campaign);
        return EXIT_RUNTIME;
    }
    if (rc != 0 || store_campaign_by_provider(s, campaign, prov) != 0) {
        cmd_error("redis: %s", store_error(s));
        return EXIT_RUNTIME;
    }
    return EXIT_OK;
}

static int show_one(struct store *s, const struct status_opts *o)
{
    struct campaign_info ci;
    json_t *prov = NULL;
    int rc = fetch(s, o->campaign, &ci, &prov);
    if (rc == EXIT_OK) {
        if (o->json)
            put_json(&ci, prov);
        else
            put_text(&ci, prov);
    }
    json_decref(prov);
    return rc;
}

static int show_list(struct store *s, const struct status_opts *o)
{
    struct campaign_info *list = NULL;
    size_t n = 0;
    if (store_campaign_list(s, &list, &n) != 0) {
        cmd_error("redis: %s", store_error(s));
        return EXIT_RUNTIME;
    }
    if (!o->json)
        printf("%-24s %-9s %10s %10s %8s %10s %9s\n", "CAMPAIGN", "STATE", "ENQUEUED", "DONE", "DLQ",
               "PENDING", "REJECTED");
    for (size_t i = 0; i < n; i++) {
        if (o->json) {
            put_json(&list[i], NULL);
            continue;
        }
        printf("%-24s %-9s %10lld %10lld %8lld %10lld %9lld\n", list[i].id,
               is_complete(&list[i]) ? "complete" : "running", (long long)list[i].enqueued,
               (long long)list[i].done, (long long)list[i].dlq, (long long)pending_of(&list[i]),
               (long long)list[i].rejected);
    }
    if (!o->json && n == 0)
        printf("(no campaigns)\n");
    free(list);
    return EXIT_OK;
}

/* Rate from the last refresh window, smoothed; ETA from the pending count. */
static void watch_line(const struct campaign_info *ci, json_t *prov, double rate, char *out, size_t outlen)
{
    char eta[32] = "-";
    int64_t pending = pending_of(ci);
    if (rate > 0 && pending > 0)
        progress_duration((double)pending / rate, eta);
    struct buf p = {0};
    put_providers(prov, &p);
    snprintf(out, outlen, "%s  done %lld  dlq %lld  pending %lld  %.1f/s  ETA %s%s%s", ci->id,
             (long long)ci->done, (long long)ci->dlq, (long long)pending, rate, eta,
             p.len ? "  | " : "", p.len ? p.data : "");
    buf_free(&p);
}

static void pause_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* --watch and --wait: refresh until complete, a signal, or the timeout. */
static int follow(struct store *s, const struct status_opts *o)
{
    struct progress bar;
    progress_init(&bar, stdout, o->watch && !o->json);
    int64_t start = clock_mono_ms(), last_ms = start, last_finished = -1;
    double rate = 0;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    for (;;) {
        struct campaign_info ci;
        json_t *prov = NULL;
        int rc = fetch(s, o->campaign, &ci, &prov);
        if (rc != EXIT_OK)
            return rc;
        int64_t now = clock_mono_ms(), finished = ci.done + ci.dlq;
        if (last_finished >= 0 && now > last_ms) {
            double r = (double)(finished - last_finished) * 1000.0 / (double)(now - last_ms);
            rate = rate > 0 ? 0.7 * rate + 0.3 * r : r;
        }
        last_finished = finished;
        last_ms = now;
        char line[512];
        watch_line(&ci, prov, rate, line, sizeof line);
        bool done = is_complete(&ci);
        progress_draw(&bar, (double)finished, (double)(ci.enqueued ? ci.enqueued : 1), line, done);
        json_decref(prov);
        if (done) {
            progress_done(&bar);
            return o->json ? show_one(s, o) : EXIT_OK;
        }
        if (stop_requested || (o->timeout_s >= 0 && (now - start) / 1000.0 >= o->timeout_s)) {
            progress_done(&bar);
            if (!stop_requested)
                cmd_error("status: campaign %s not complete after %.0f s (%lld pending)", o->campaign,
                          o->timeout_s, (long long)pending_of(&ci));
            return EXIT_RUNTIME;
        }
        pause_s(o->interval_s);
    }
}

int cmd_status(int argc, char **argv, const struct config *cfg)
{
    struct status_opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    char err[512];
    struct store *s = store_open(config_get(cfg, "redis.url"), (int)config_int(cfg, "redis.connect_timeout_ms"),
                                 err, sizeof err);
    if (!s) {
        cmd_error("%s", err);
        return EXIT_RUNTIME;
    }
    if (o.watch || o.wait)
        rc = follow(s, &o);
    else
        rc = o.campaign ? show_one(s, &o) : show_list(s, &o);
    store_close(s);
    return rc;
}
