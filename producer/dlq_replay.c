/* dlq_replay.c - `voxcast dlq replay`: options, the time window, campaigns, dry run, report.
 *
 * The replay itself (lock, claim, produce, acknowledge) is dlq_replayer.c's; this file decides
 * when and over what it runs. A --window is read in local time: outside it the command says how
 * long it will wait and sleeps in one-second steps (so a signal or a clock change is noticed at
 * once); inside it, the replayer asks before every claim whether the window is still open.
 * Campaigns are replayed one after the other, "_invalid" never (its entries are messages that
 * were not jobs), a cancelled campaign only with --force (its replayed jobs would only be
 * counted cancelled again). Each job goes back to its priority's lane (dlq_replayer.c). SIGINT and SIGTERM stop the replay between claims: what is in flight is
 * acknowledged or put back, and the command exits 0, as after the window closed, since both
 * are the expected way for a nightly replay to end. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "cmd.h"
#include "dlq.h"
#include "progress.h"
#include "window.h"
#include "xalloc.h"

struct replay_opts {
    const char   *campaign;       /* NULL: every campaign */
    struct window window;
    char          window_text[16];
    bool          has_window, dry_run, json, force;
    double        rate;           /* jobs per second; 0: no cap */
    int64_t       limit;          /* jobs; 0: no limit */
};

struct replay {
    const struct replay_opts *o;
    const struct config      *cfg;
    struct store             *store;
    struct dlq_replayer      *engine;      /* NULL for a dry run */
    struct progress           bar;
    int64_t                   campaign_start_ms;
    bool                      drawn;       /* a progress line of this campaign is on screen */
    /* totals over the campaigns */
    int64_t                   replayed, skipped, failed, recovered, would_replay;
    int64_t                   remaining;   /* waiting in the selected campaigns, skipped excluded */
    int64_t                   cancelled_skipped; /* cancelled campaigns left alone (no --force) */
    char                      delivery_error[256];
    enum dlq_stop             stop;
    bool                      locked_out, error;
};

static volatile sig_atomic_t replay_signalled;

static void on_signal(int sig)
{
    (void)sig;
    replay_signalled = 1;
}

/* No SA_RESTART: a signal cuts the one-second sleeps short. */
static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* ---------------------------------------------------------------- options */

void dlq_replay_usage(FILE *out)
{
    fputs("usage: voxcast dlq replay [--campaign ID] [--window HH:MM-HH:MM] [--rate N] [--limit N]\n"
          "                          [--force] [--dry-run] [--json]\n\n"
          "Sends DLQ entries' jobs back to Kafka (key = contact; each in its priority's topic:\n"
          "kafka.topic, or kafka.topic.high / .low) with their \"replay\"\n"
          "count + 1, oldest first, and deletes each entry only after Kafka acknowledged its job;\n"
          "the contact goes from dlq back to pending. A replay works on the entries that exist when\n"
          "it starts (jobs that fail again wait for the next run), so it always ends. Interrupted\n"
          "at any point (signal, crash, kill -9), it loses nothing: run it again to continue; a job\n"
          "acknowledged just before a crash may reach Kafka twice, which consumers skip once done.\n"
          "One replay per campaign at a time; a replay killed with -9 holds its campaign for 15 s.\n"
          "Entries of \"_invalid\" (messages that were not jobs) are never replayed; a cancelled\n"
          "campaign is skipped (saying so) unless --force.\n\n"
          "  --campaign ID          one campaign (default: every campaign, one after the other)\n"
          "  --window HH:MM-HH:MM   local time window, may wrap midnight (22:00-06:00): outside it,\n"
          "                         wait for it to open (saying how long); stop when it closes\n"
          "  --rate N               at most N jobs per second (default: as fast as Kafka takes them)\n"
          "  --limit N              replay at most N jobs in all (0: no limit)\n"
          "  --force                replay cancelled campaigns too (consumers count their jobs\n"
          "                         cancelled again, publishing a results event for each)\n"
          "  --dry-run              list what would be replayed; change nothing, touch no Kafka\n"
          "  --json                 print {\"replayed\":N,\"remaining\":N,\"skipped\":N,...} at the end\n"
          "                         (remaining: replayable entries still waiting; skipped: entries\n"
          "                         that cannot be replayed, left in the DLQ)\n\n"
          "SIGINT/SIGTERM stop between jobs (in-flight jobs are acknowledged or put back), exit 0.\n"
          "exit status: 0 done, window closed or interrupted; 1 Redis or Kafka failed, a job was\n"
          "not acknowledged (it stays in the DLQ), or another replay holds a campaign; 2 usage.\n\n"
          "examples:\n"
          "  voxcast dlq replay --campaign spring-promo --dry-run --limit 10\n"
          "  voxcast dlq replay --window 22:00-06:00 --rate 50 --json\n", out);
}

static int parse_rate(const char *arg, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (*arg == '\0' || *end != '\0' || errno != 0 || !isfinite(v) || v < 0) {
        cmd_error("dlq replay: --rate must be a number of jobs per second, not \"%s\"", arg);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_window(const char *arg, struct replay_opts *o)
{
    char err[256];
    if (window_parse(arg, &o->window, err, sizeof err) != 0) {
        cmd_error("dlq replay: --window: %s", err);
        return -1;
    }
    window_format(&o->window, o->window_text, sizeof o->window_text);
    o->has_window = !window_all_day(&o->window);
    return 0;
}

static int parse_replay(int argc, char **argv, struct replay_opts *o)
{
    static const struct option longopts[] = {
        {"campaign", required_argument, NULL, 'C'}, {"window", required_argument, NULL, 'w'},
        {"rate", required_argument, NULL, 'r'}, {"limit", required_argument, NULL, 'l'},
        {"dry-run", no_argument, NULL, 'n'}, {"json", no_argument, NULL, 'j'},
        {"force", no_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    *o = (struct replay_opts){0};
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case 'C': o->campaign = optarg; break;
        case 'w': rc = parse_window(optarg, o); break;
        case 'r': rc = parse_rate(optarg, &o->rate); break;
        case 'l': rc = dlq_parse_count("replay", "limit", optarg, &o->limit); break;
        case 'n': o->dry_run = true; break;
        case 'j': o->json = true; break;
        case 'f': o->force = true; break;
        case 'h': dlq_replay_usage(stdout); return 1;
        default: dlq_replay_usage(stderr); return -1;
        }
        if (rc != 0)
            return -1;
    }
    if (optind < argc) {
        cmd_error("dlq replay: unexpected argument \"%s\"", argv[optind]);
        return -1;
    }
    if (o->campaign && dlq_check_campaign("replay", o->campaign) != 0)
        return -1;
    return 0;
}

/* ---------------------------------------------------------------- the window */

static int local_second_of_day(void)
{
    time_t t = time(NULL);
    struct tm tm;
    if (!localtime_r(&t, &tm))
        return 0;
    return tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
}

static void pause_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL); /* EINTR on a signal: the caller checks the flag */
}

/* Waits until the window is open: 0 open, 1 interrupted by a signal. */
static int wait_for_window(const struct replay_opts *o)
{
    int left = window_seconds_until_open(&o->window, local_second_of_day());
    if (left == 0)
        return 0;
    char dur[32];
    progress_duration(left, dur);
    cmd_error("dlq replay: outside window %s; waiting %s until it opens at %.5s", o->window_text, dur,
              o->window_text);
    while (!replay_signalled) {
        left = window_seconds_until_open(&o->window, local_second_of_day());
        if (left == 0)
            return 0;
        pause_ms(1000);
    }
    return 1;
}

/* dlq_should_stop_fn: a signal, or the window closed. */
static enum dlq_stop should_stop(void *ctx)
{
    const struct replay *R = ctx;
    if (replay_signalled)
        return DLQ_STOP_SIGNAL;
    if (R->o->has_window && !window_contains(&R->o->window, local_second_of_day()))
        return DLQ_STOP_WINDOW;
    return DLQ_STOP_NONE;
}

/* dlq_progress_fn: "spring-promo: 120 of 400 replayed, 19.8/s". */
static void on_progress(void *ctx, const char *campaign, int64_t replayed, int64_t total, bool force)
{
    struct replay *R = ctx;
    if (replayed == 0 && force)
        R->campaign_start_ms = clock_mono_ms();
    if (total == 0 && replayed == 0)
        return; /* a campaign with an empty DLQ is not worth a line */
    R->drawn = true;
    double secs = (double)(clock_mono_ms() - R->campaign_start_ms) / 1000.0;
    char text[160];
    snprintf(text, sizeof text, "%s: %lld of %lld replayed, %.1f/s", campaign, (long long)replayed,
             (long long)total, secs > 0 ? (double)replayed / secs : 0.0);
    progress_draw(&R->bar, (double)replayed, (double)(total > 0 ? total : 1), text, force);
}

/* ---------------------------------------------------------------- one campaign */

static void replay_one(struct replay *R, const char *campaign)
{
    struct dlq_replay_result res;
    enum dlq_stop stop;
    int64_t limit = R->o->limit > 0 ? R->o->limit - R->replayed - R->failed : 0;
    if (R->o->limit > 0 && limit <= 0) {
        R->stop = DLQ_STOP_LIMIT;
        return;
    }
    int rc = dlq_replayer_run(R->engine, campaign, limit, &res, &stop);
    if (R->drawn)
        progress_done(&R->bar);
    R->drawn = false;
    if (rc == 1) {
        cmd_error("dlq replay: another replay of %s is running", campaign);
        R->locked_out = true;
        return;
    }
    R->replayed += res.replayed;
    R->skipped += res.skipped;
    R->failed += res.failed;
    R->recovered += res.recovered;
    if (res.failed && !R->delivery_error[0])
        snprintf(R->delivery_error, sizeof R->delivery_error, "%s", res.delivery_error);
    if (rc < 0)
        R->error = true;
    if (res.recovered > 0 && !R->o->json)
        printf("%s: put back %lld entries claimed by an interrupted replay\n", campaign,
               (long long)res.recovered);
    R->stop = stop;
}

/* store_dlq_fn for a dry run: what would happen to each entry. */
static int on_dry_entry(void *ctx, const char *id, const char *entry_json)
{
    struct replay *R = ctx;
    struct job j;
    struct buf payload = {0};
    char why[320], campaign[72];
    snprintf(campaign, sizeof campaign, "%.*s", (int)strcspn(id, ":"), id);
    if (dlq_replay_job(entry_json, campaign, (size_t)config_int(R->cfg, "job.max_text_chars"), &j,
                       &payload, why, sizeof why) != 0) {
        R->skipped++;
        if (!R->o->json)
            printf("not replayable  %s  %s\n", id, why);
    } else {
        R->would_replay++;
        if (!R->o->json)
            printf("would replay    %s  %s  (replay %d)\n", id, j.contact, j.replay);
        job_free(&j);
    }
    buf_free(&payload);
    return 0;
}

/* A dry run reads, as a replay with the same --limit would take them, the campaign's oldest
 * entries (the listing is newest first, so it starts that many from the end). */
static void dry_run_one(struct replay *R, const char *campaign)
{
    int64_t waiting = store_dlq_count(R->store, campaign);
    int64_t budget = R->o->limit > 0 ? R->o->limit - R->would_replay : 0;
    if (R->o->limit > 0 && budget <= 0) {
        R->stop = DLQ_STOP_LIMIT;
        return;
    }
    if (waiting < 0) {
        cmd_error("redis: %s", store_error(R->store));
        R->error = true;
        return;
    }
    size_t offset = budget > 0 && waiting > budget ? (size_t)(waiting - budget) : 0;
    if (store_dlq_list(R->store, campaign, offset, (size_t)budget, on_dry_entry, R) < 0) {
        cmd_error("redis: %s", store_error(R->store));
        R->error = true;
    }
    if (R->o->limit > 0 && R->would_replay >= R->o->limit)
        R->stop = DLQ_STOP_LIMIT;
}

/* ---------------------------------------------------------------- campaigns */

/* The campaigns to replay: --campaign, or every campaign in the store (newest first). *out is
 * malloc'd (free()); 0 or -1 (printed). */
static int select_campaigns(struct replay *R, struct campaign_info **out, size_t *n)
{
    if (R->o->campaign) {
        *out = xcalloc(1, sizeof **out);
        snprintf((*out)[0].id, sizeof (*out)[0].id, "%s", R->o->campaign);
        *n = 1;
        return 0;
    }
    if (store_campaign_list(R->store, out, n) != 0) {
        cmd_error("redis: listing campaigns: %s", store_error(R->store));
        return -1;
    }
    return 0;
}

/* Leaves the cancelled campaigns out of list (unless --force), saying so. 0 or -1 (printed). */
static int drop_cancelled(struct replay *R, struct campaign_info *list, size_t *n)
{
    if (*n == 0)
        return 0;
    const char **ids = xcalloc(*n, sizeof *ids);
    enum store_control *control = xcalloc(*n, sizeof *control);
    for (size_t i = 0; i < *n; i++)
        ids[i] = list[i].id;
    int rc = store_campaign_controls(R->store, ids, *n, control);
    if (rc != 0)
        cmd_error("redis: reading campaign controls: %s", store_error(R->store));
    size_t kept = 0;
    for (size_t i = 0; rc == 0 && i < *n; i++) {
        bool cancelled = control[i] == STORE_CONTROL_CANCELLED;
        if (cancelled && !R->o->force) {
            R->cancelled_skipped++;
            if (!R->o->json)
                printf("campaign %s is cancelled: skipped (--force replays it)\n", list[i].id);
            continue;
        }
        if (cancelled && !R->o->json)
            printf("campaign %s is cancelled; --force: replaying it\n", list[i].id);
        list[kept++] = list[i];
    }
    if (rc == 0)
        *n = kept;
    free(ids);
    free(control);
    return rc;
}

/* Entries left: "remaining" are the replayable entries still waiting in the selected campaigns
 * (the skipped ones went back to their DLQ, but another run would skip them again); "_invalid"
 * entries join the skipped. */
static int count_left(struct replay *R, const struct campaign_info *list, size_t n)
{
    int64_t waiting = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(list[i].id, DLQ_INVALID_CAMPAIGN) == 0)
            continue;
        int64_t c = store_dlq_count(R->store, list[i].id);
        if (c < 0)
            goto fail;
        waiting += c;
    }
    R->remaining = waiting > R->skipped ? waiting - R->skipped : 0;
    if (!R->o->campaign || strcmp(R->o->campaign, DLQ_INVALID_CAMPAIGN) == 0) {
        int64_t c = store_dlq_count(R->store, DLQ_INVALID_CAMPAIGN);
        if (c < 0)
            goto fail;
        R->skipped += c;
    }
    return 0;
fail:
    cmd_error("redis: counting DLQ entries: %s", store_error(R->store));
    return -1;
}

static void run_campaigns(struct replay *R, const struct campaign_info *list, size_t n)
{
    for (size_t i = 0; i < n && R->stop == DLQ_STOP_NONE && !R->error; i++) {
        if (strcmp(list[i].id, DLQ_INVALID_CAMPAIGN) == 0)
            continue;
        if (R->o->dry_run)
            dry_run_one(R, list[i].id);
        else
            replay_one(R, list[i].id);
        if (R->o->campaign && R->locked_out)
            break;
    }
}

/* ---------------------------------------------------------------- report */

static const char *stop_name(enum dlq_stop s)
{
    switch (s) {
    case DLQ_STOP_LIMIT: return "limit";
    case DLQ_STOP_WINDOW: return "window";
    case DLQ_STOP_SIGNAL: return "signal";
    case DLQ_STOP_ERROR: return "error";
    case DLQ_STOP_NONE: break;
    }
    return NULL;
}

static void report_json(const struct replay *R)
{
    json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:I}", "replayed", (json_int_t)R->replayed, "remaining",
                          (json_int_t)R->remaining, "skipped", (json_int_t)R->skipped, "failed",
                          (json_int_t)R->failed, "cancelled_skipped", (json_int_t)R->cancelled_skipped);
    if (R->o->dry_run) {
        json_object_set_new(o, "would_replay", json_integer(R->would_replay));
        json_object_set_new(o, "dry_run", json_true());
    }
    const char *stopped = stop_name(R->stop);
    json_object_set_new(o, "stopped", stopped ? json_string(stopped) : json_null());
    char *text = json_dumps(o, JSON_COMPACT);
    puts(text);
    free(text);
    json_decref(o);
}

static void report_text(const struct replay *R)
{
    if (R->o->dry_run)
        printf("dry run: would replay %lld entr%s; %lld not replayable; nothing changed\n",
               (long long)R->would_replay, R->would_replay == 1 ? "y" : "ies", (long long)R->skipped);
    else
        printf("replayed %lld entr%s; %lld remaining in the DLQ; %lld not replayable (left in the DLQ)\n",
               (long long)R->replayed, R->replayed == 1 ? "y" : "ies", (long long)R->remaining,
               (long long)R->skipped);
}

/* Prints the outcome and returns the exit status. */
static int report(const struct replay *R)
{
    if (R->stop == DLQ_STOP_WINDOW || R->stop == DLQ_STOP_SIGNAL)
        cmd_error("dlq replay: %s; %lld replayed, %lld remaining; run again to continue",
                  R->stop == DLQ_STOP_WINDOW ? "window closed" : "interrupted", (long long)R->replayed,
                  (long long)R->remaining);
    if (R->failed > 0)
        cmd_error("kafka: %lld jobs were not acknowledged (%s); their entries stay in the DLQ",
                  (long long)R->failed, R->delivery_error);
    if (R->o->json)
        report_json(R);
    else
        report_text(R);
    return R->error || R->locked_out || R->failed > 0 ? EXIT_RUNTIME : EXIT_OK;
}

/* ---------------------------------------------------------------- the command */

static int open_engine(struct replay *R)
{
    struct dlq_replayer_opts opts = {
        .cfg = R->cfg, .store = R->store, .rate = R->o->rate,
        .max_text_chars = (size_t)config_int(R->cfg, "job.max_text_chars"),
        .should_stop = should_stop, .progress = on_progress, .ctx = R};
    char err[512];
    R->engine = dlq_replayer_new(&opts, err, sizeof err);
    if (!R->engine)
        cmd_error("%s", err);
    return R->engine ? 0 : -1;
}

/* Waits for the window (a dry run only mentions it), then replays the selected campaigns. */
static void replay_all(struct replay *R)
{
    const struct replay_opts *o = R->o;
    int sec = local_second_of_day();
    if (o->has_window && o->dry_run && !window_contains(&o->window, sec)) {
        char dur[32];
        progress_duration(window_seconds_until_open(&o->window, sec), dur);
        cmd_error("dlq replay: window %s is closed now; a replay would wait %s", o->window_text, dur);
    } else if (o->has_window && !o->dry_run && wait_for_window(o) != 0) {
        R->stop = DLQ_STOP_SIGNAL;
    }
    struct campaign_info *list = NULL;
    size_t n = 0;
    if (select_campaigns(R, &list, &n) != 0 || drop_cancelled(R, list, &n) != 0) {
        R->error = true;
        free(list);
        return;
    }
    if (R->stop == DLQ_STOP_NONE)
        run_campaigns(R, list, n);
    if (count_left(R, list, n) != 0)
        R->error = true;
    free(list);
}

int dlq_replay(int argc, char **argv, const struct config *cfg)
{
    struct replay_opts o;
    int rc = parse_replay(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    struct replay R = {.o = &o, .cfg = cfg};
    R.store = dlq_open_store(cfg);
    if (!R.store)
        return EXIT_RUNTIME;
    progress_init(&R.bar, stderr, !o.json && !o.dry_run);
    catch_signals();
    if (!o.dry_run && open_engine(&R) != 0) {
        store_close(R.store);
        return EXIT_RUNTIME;
    }
    replay_all(&R);
    rc = report(&R);
    dlq_replayer_free(R.engine);
    store_close(R.store);
    return rc;
}
