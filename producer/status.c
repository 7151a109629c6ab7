/* status.c - `voxcast status`: a campaign's counts, a list of campaigns, or a live view.
 *
 * Counts come from the campaign record, which only state transitions move, so
 * done + dlq + cancelled + pending == enqueued holds at every read. pending is derived, never
 * stored, and so is the state (campaign.h: running, paused, cancelled or complete).
 *
 * The live view (--watch) answers an operator's first questions in one place: how far, how
 * fast, when done, who renders, and why jobs fail. The "why" is a tally of the reasons of the
 * campaign's newest DLQ entries (a bounded window, so a campaign with a million failures costs
 * the same as one with a thousand), re-read only when the DLQ moved. On a terminal the view is
 * a few lines redrawn in place; elsewhere it is one plain line per refresh, throttled like every
 * progress line of the CLI, so a log or a pipe never sees a control character. */
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "campaign.h"
#include "clock.h"
#include "cmd.h"
#include "progress.h"
#include "store.h"
#include "store_account.h"
#include "store_cache.h"

struct status_opts {
    const struct config *cfg;
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
          "Shows a campaign's progress: enqueued, rejected, done, dlq, cancelled, pending, the split per\n"
          "provider and the commonest reasons of its newest 1000 DLQ entries. Without CAMPAIGN,\n"
          "lists every campaign, newest first.\n\n"
          "  --json        one JSON object (one per line for the list)\n"
          "  --watch       live view until the campaign completes: progress bar, done/dlq/pending,\n"
          "                jobs per second, ETA, providers, DLQ reasons; redrawn in place on a\n"
          "                terminal, a plain line every 5 s (and at the end) otherwise\n"
          "  --wait        block until the campaign completes; exit 1 if --timeout passes first\n"
          "  --timeout S   give up waiting after S seconds (default: never)\n"
          "  --interval S  refresh period for --watch/--wait (default 1; 0.2 for --wait)\n\n"
          "state: running, paused (voxcast campaign pause), cancelled, or complete once the launch\n"
          "has finished and pending == 0 (pending = enqueued - done - dlq - cancelled; aside counts\n"
          "the jobs set aside while paused).\n"
          "exit status: 0 shown (or complete), 1 no such campaign, Redis unreachable, --timeout\n"
          "passed or interrupted, 2 usage error.\n\n"
          "examples:\n"
          "  voxcast status spring-promo --json\n"
          "  voxcast status spring-promo --watch\n"
          "  voxcast status spring-promo --wait --timeout 3600 && echo finished\n", out);
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
    return campaign_pending(ci);
}

static bool is_complete(const struct campaign_info *ci)
{
    return campaign_is_complete(ci);
}

/* ---------------------------------------------------------------- provider accounts */

/* Each provider account's limit and in-flight count across the fleet (store_account.h), as
 * {"NAME":{"limit":N|null,"learned":bool,"in_flight":N,"consumers":N},...}; NULL on a Redis
 * error (the campaign's counts are still worth showing). */
static json_t *accounts_json(struct store *s)
{
    struct store_account_view *v;
    size_t n;
    if (store_account_list(s, -1, &v, &n) != 0)
        return NULL;
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(o, v[i].provider,
                            json_pack("{s:o,s:b,s:i,s:i}", "limit", v[i].limit > 0 ? json_integer(v[i].limit) : json_null(),
                                      "learned", v[i].learned > 0 && (v[i].configured == 0 || v[i].learned < v[i].configured),
                                      "in_flight", v[i].in_flight, "consumers", v[i].alive));
    free(v);
    return o;
}

static void put_providers(json_t *by_provider, struct buf *b);

/* ---------------------------------------------------------------- what it costs */

/* The campaign's render-once savings and billed characters (store_cache.h) as
 * {"cache_hits":N,"characters":{"NAME":N,...},"est_usd":F}: est_usd prices each provider's
 * characters at provider.NAME.usd_per_million_chars and is left out when no provider of the
 * campaign has a price. NULL on a Redis error (the counts are still worth showing). */
static json_t *cost_json(struct store *s, const struct config *cfg, const char *campaign)
{
    struct campaign_cost c;
    if (store_campaign_cost(s, campaign, &c) != 0)
        return NULL;
    json_t *chars = json_object();
    double usd = 0;
    bool priced = false;
    for (size_t i = 0; i < c.nproviders; i++) {
        json_object_set_new(chars, c.providers[i].name, json_integer(c.providers[i].chars));
        double per_million = config_provider_double(cfg, c.providers[i].name, "usd_per_million_chars");
        if (per_million > 0) {
            usd += (double)c.providers[i].chars * per_million / 1e6;
            priced = true;
        }
    }
    json_t *o = json_pack("{s:I,s:o}", "cache_hits", (json_int_t)c.cache_hits, "characters", chars);
    if (priced)
        json_object_set_new(o, "est_usd", json_real(usd));
    return o;
}

/* "  cost: 12 cache hits; characters primary 3400, espeak 120; est. $0.0512" when there is any. */
static void put_cost_text(json_t *cost)
{
    json_t *chars = json_object_get(cost, "characters");
    long long hits = (long long)json_integer_value(json_object_get(cost, "cache_hits"));
    if (!cost || (hits == 0 && json_object_size(chars) == 0))
        return;
    struct buf b = {0};
    put_providers(chars, &b);
    printf("  cost: %lld cache hit%s; characters %s", hits, hits == 1 ? "" : "s", b.len ? b.data : "none");
    json_t *usd = json_object_get(cost, "est_usd");
    if (usd)
        printf("; est. $%.4f", json_real_value(usd));
    printf("\n");
    buf_free(&b);
}

/* "  accounts: NAME IN/LIMIT in flight (learned), N consumers; ..." when any provider synced. */
static void put_accounts_text(json_t *accounts)
{
    if (!accounts || json_object_size(accounts) == 0)
        return;
    const char *name;
    json_t *a;
    struct buf b = {0};
    json_object_foreach(accounts, name, a) {
        json_t *limit = json_object_get(a, "limit");
        char lim[24] = "unlimited";
        if (json_is_integer(limit))
            snprintf(lim, sizeof lim, "%lld", (long long)json_integer_value(limit));
        long long consumers = (long long)json_integer_value(json_object_get(a, "consumers"));
        buf_printf(&b, "%s%s %lld/%s in flight%s, %lld consumer%s", b.len ? "; " : "", name,
                   (long long)json_integer_value(json_object_get(a, "in_flight")), lim,
                   json_is_true(json_object_get(a, "learned")) ? " (learned)" : "", consumers,
                   consumers == 1 ? "" : "s");
    }
    printf("  accounts: %s\n", b.data);
    buf_free(&b);
}

static void put_json(const struct campaign_info *ci, json_t *by_provider, json_t *accounts, json_t *cost)
{
    /* "o" steals the reference: a new one either way, so the list's empty objects are freed too */
    json_t *prov = by_provider ? json_incref(by_provider) : json_object();
    json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "campaign", ci->id,
                          "state", campaign_state(ci), "launch_state", ci->launch_state,
                          "enqueued", (json_int_t)ci->enqueued, "rejected", (json_int_t)ci->rejected,
                          "done", (json_int_t)ci->done, "dlq", (json_int_t)ci->dlq, "cancelled",
                          (json_int_t)ci->cancelled, "pending", (json_int_t)pending_of(ci),
                          "aside", (json_int_t)ci->aside, "duplicates", (json_int_t)ci->duplicates,
                          "by_provider", prov);
    char created[32];
    clock_iso8601(ci->created_at_ms, created);
    json_object_set_new(o, "created_at", json_string(created));
    /* total duration of the done audio, counted once per contact (store.h: audio_ms) */
    json_object_set_new(o, "audio_seconds", json_real((double)ci->audio_ms / 1000.0));
    /* parked contacts whose entry dlq.max_entries_per_campaign dropped (store.h: dlq_dropped) */
    json_object_set_new(o, "dlq_dropped", json_integer((json_int_t)ci->dlq_dropped));
    if (accounts)
        json_object_set(o, "accounts", accounts);
    if (cost)
        json_object_update(o, cost);
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15)); /* audio_seconds 0.4, not 0.400...02 */
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

/* ---------------------------------------------------------------- DLQ reasons */

#define REASONS_WINDOW 1000  /* newest DLQ entries tallied */
#define REASONS_SLOTS  32    /* distinct labels kept; the rest count as "other" */
#define REASONS_SHOWN  5     /* labels printed, most frequent first */

struct reason_count {
    char    label[48];       /* "retry_exhausted" or "non_retryable/400" */
    int64_t n;
};

struct reasons {
    struct reason_count slot[REASONS_SLOTS];
    size_t              used;      /* slots in use */
    size_t              seen;      /* entries tallied */
    int64_t             dlq_mark;  /* the campaign's dlq counter at the tally; -1: never */
};

/* An entry's label: its reason, plus "/STATUS" when an HTTP status came with it, because
 * "non_retryable/400" and "non_retryable/422" call for different fixes. */
static void reason_label(const char *entry_json, char *out, size_t outlen)
{
    json_t *e = json_loads(entry_json, 0, NULL);
    const char *reason = json_string_value(json_object_get(e, "reason"));
    json_int_t status = json_integer_value(json_object_get(e, "http_status"));
    if (!reason || !*reason)
        reason = "unknown";
    if (status > 0)
        snprintf(out, outlen, "%s/%lld", reason, (long long)status);
    else
        snprintf(out, outlen, "%s", reason);
    json_decref(e);
}

/* The slot counting `label`, added if new; once all but one slot are taken, new labels share
 * the last one as "other", so a flood of odd statuses cannot grow the table. */
static struct reason_count *reasons_slot(struct reasons *r, const char *label)
{
    for (size_t i = 0; i < r->used; i++)
        if (strcmp(r->slot[i].label, label) == 0)
            return &r->slot[i];
    if (r->used >= REASONS_SLOTS - 1 && strcmp(label, "other") != 0)
        return reasons_slot(r, "other");
    struct reason_count *c = &r->slot[r->used++];
    snprintf(c->label, sizeof c->label, "%s", label);
    c->n = 0;
    return c;
}

static int reasons_tally(void *ctx, const char *id, const char *entry_json)
{
    (void)id;
    struct reasons *r = ctx;
    char label[sizeof r->slot[0].label];
    reason_label(entry_json, label, sizeof label);
    reasons_slot(r, label)->n++;
    r->seen++;
    return 0;
}

static int by_count_desc(const void *a, const void *b)
{
    const struct reason_count *x = a, *y = b;
    if (x->n != y->n)
        return x->n < y->n ? 1 : -1;
    return strcmp(x->label, y->label);
}

/* Tallies the newest REASONS_WINDOW entries again when the campaign's dlq counter moved since
 * the last tally (a parked entry moves it in the same script that stores the entry), so a
 * refresh of a quiet DLQ costs nothing. 0, or -1 with the error printed. */
static int reasons_refresh(struct store *s, const char *campaign, int64_t dlq, struct reasons *r)
{
    if (r->dlq_mark == dlq)
        return 0;
    struct reasons fresh = {.dlq_mark = dlq};
    if (dlq > 0 && store_dlq_list(s, campaign, 0, REASONS_WINDOW, reasons_tally, &fresh) < 0) {
        cmd_error("redis: %s", store_error(s));
        return -1;
    }
    qsort(fresh.slot, fresh.used, sizeof fresh.slot[0], by_count_desc);
    *r = fresh;
    return 0;
}

/* "reasons (last 5): retry_exhausted 3, non_retryable/400 2"; nothing when no entry was read. */
static void reasons_put(const struct reasons *r, struct buf *b)
{
    if (r->seen == 0)
        return;
    buf_printf(b, "reasons (last %zu):", r->seen);
    for (size_t i = 0; i < r->used && i < REASONS_SHOWN; i++)
        buf_printf(b, "%s %s %lld", i ? "," : "", r->slot[i].label, (long long)r->slot[i].n);
    if (r->used > REASONS_SHOWN)
        buf_printf(b, ", and %zu more", r->used - REASONS_SHOWN);
}

/* ---------------------------------------------------------------- one-shot output */

static void put_text(const struct campaign_info *ci, json_t *by_provider, const struct reasons *why)
{
    struct buf prov = {0}, reasons = {0};
    put_providers(by_provider, &prov);
    reasons_put(why, &reasons);
    printf("campaign %s: %s\n", ci->id, campaign_state(ci));
    printf("  enqueued %lld   done %lld   dlq %lld   cancelled %lld   pending %lld   rejected %lld\n",
           (long long)ci->enqueued, (long long)ci->done, (long long)ci->dlq,
           (long long)ci->cancelled, (long long)pending_of(ci), (long long)ci->rejected);
    if (ci->aside)
        printf("  set aside while paused: %lld (voxcast campaign resume %s renders them)\n",
               (long long)ci->aside, ci->id);
    if (prov.len)
        printf("  by provider: %s\n", prov.data);
    if (reasons.len)
        printf("  %s\n", reasons.data);
    if (ci->duplicates)
        printf("  duplicate deliveries skipped: %lld\n", (long long)ci->duplicates);
    if (ci->dlq_dropped)
        printf("  dlq entries dropped (dlq.max_entries_per_campaign reached): %lld\n",
               (long long)ci->dlq_dropped);
    if (ci->audio_ms >= 60000) {
        char audio[32];
        progress_duration((double)ci->audio_ms / 1000.0, audio);
        printf("  audio: %s in all (%.1f s)\n", audio, (double)ci->audio_ms / 1000.0);
    } else if (ci->audio_ms > 0) {
        printf("  audio: %.1f s in all\n", (double)ci->audio_ms / 1000.0);
    }
    buf_free(&prov);
    buf_free(&reasons);
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
    struct reasons why = {.dlq_mark = -1};
    int rc = fetch(s, o->campaign, &ci, &prov);
    json_t *accounts = rc == EXIT_OK ? accounts_json(s) : NULL;
    json_t *cost = rc == EXIT_OK ? cost_json(s, o->cfg, o->campaign) : NULL;
    if (rc == EXIT_OK && o->json) {
        put_json(&ci, prov, accounts, cost);
    } else if (rc == EXIT_OK && reasons_refresh(s, o->campaign, ci.dlq, &why) == 0) {
        put_text(&ci, prov, &why);
        put_cost_text(cost);
        put_accounts_text(accounts);
    } else if (rc == EXIT_OK) {
        rc = EXIT_RUNTIME;
    }
    json_decref(cost);
    json_decref(accounts);
    json_decref(prov);
    return rc;
}

static void put_row(const struct campaign_info *ci)
{
    printf("%-24s %-9s %10lld %10lld %8lld %10lld %9lld\n", ci->id,
           campaign_state(ci), (long long)ci->enqueued, (long long)ci->done,
           (long long)ci->dlq, (long long)pending_of(ci), (long long)ci->rejected);
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
        if (o->json)
            put_json(&list[i], NULL, NULL, NULL);
        else
            put_row(&list[i]);
    }
    if (!o->json && n == 0)
        printf("(no campaigns)\n");
    free(list);
    if (!o->json) {
        json_t *accounts = accounts_json(s);
        put_accounts_text(accounts);
        json_decref(accounts);
    }
    return EXIT_OK;
}

/* ---------------------------------------------------------------- live view */

#define BAR_WIDTH 30

struct watch {
    bool            show;           /* --watch without --json: draw something */
    bool            tty;            /* redraw a block of lines in place */
    struct progress plain;          /* elsewhere: one throttled plain line per refresh */
    int             drawn;          /* lines of the block now on screen */
    int64_t         last_ms, last_finished;
    double          rate;           /* finished jobs per second, smoothed */
    struct reasons  why;
};

static void watch_init(struct watch *w, bool show)
{
    *w = (struct watch){.show = show, .last_finished = -1, .why = {.dlq_mark = -1}};
    progress_init(&w->plain, stdout, show);
    w->tty = show && w->plain.tty;
}

/* Jobs finished per second since the last refresh, smoothed so that one slow refresh does not
 * swing the ETA. */
static void watch_rate(struct watch *w, int64_t finished, int64_t now)
{
    if (w->last_finished >= 0 && now > w->last_ms) {
        double r = (double)(finished - w->last_finished) * 1000.0 / (double)(now - w->last_ms);
        w->rate = w->rate > 0 ? 0.7 * w->rate + 0.3 * r : r;
    }
    w->last_finished = finished;
    w->last_ms = now;
}

/* The share finished; a complete campaign is 100% even when nothing was enqueued. */
static double finished_share(const struct campaign_info *ci)
{
    if (is_complete(ci))
        return 1.0;
    return ci->enqueued > 0 ? (double)(ci->done + ci->dlq + ci->cancelled) / (double)ci->enqueued : 0.0;
}

/* "[#########---------------------]  30.0%" */
static void bar_put(double share, struct buf *b)
{
    int fill = (int)(share * BAR_WIDTH);
    buf_putc(b, '[');
    for (int i = 0; i < BAR_WIDTH; i++)
        buf_putc(b, i < fill ? '#' : '-');
    buf_printf(b, "] %5.1f%%", share * 100);
}

/* "done 100  dlq 3  pending 197  of 300  12.5/s  ETA 16s" (ETA "-" while the rate is 0). */
static void counts_put(const struct campaign_info *ci, double rate, struct buf *b)
{
    char eta[32] = "-";
    int64_t pending = pending_of(ci);
    if (rate > 0 && pending > 0)
        progress_duration((double)pending / rate, eta);
    buf_printf(b, "done %lld  dlq %lld  ", (long long)ci->done, (long long)ci->dlq);
    if (ci->cancelled)
        buf_printf(b, "cancelled %lld  ", (long long)ci->cancelled);
    buf_printf(b, "pending %lld  of %lld  %.1f/s  ETA %s", (long long)pending,
               (long long)ci->enqueued, rate, eta);
}

/* The terminal block: one line each for progress, counts, providers and reasons. */
static void block_put(const struct watch *w, const struct campaign_info *ci, json_t *prov,
                      struct buf *b)
{
    bar_put(finished_share(ci), b);
    buf_printf(b, "  %s %s\n", ci->id, campaign_state(ci));
    counts_put(ci, w->rate, b);
    buf_puts(b, "\n");
    struct buf more = {0};
    put_providers(prov, &more);
    if (more.len)
        buf_printf(b, "by provider: %s\n", more.data);
    buf_reset(&more);
    reasons_put(&w->why, &more);
    if (more.len)
        buf_printf(b, "%s\n", more.data);
    buf_free(&more);
}

/* The plain line, without the bar that progress_draw puts in front. */
static void line_put(const struct watch *w, const struct campaign_info *ci, json_t *prov,
                     struct buf *b)
{
    buf_printf(b, "%s  ", ci->id);
    counts_put(ci, w->rate, b);
    struct buf more = {0};
    put_providers(prov, &more);
    if (more.len)
        buf_printf(b, "  | %s", more.data);
    buf_reset(&more);
    reasons_put(&w->why, &more);
    if (more.len)
        buf_printf(b, "  | %s", more.data);
    buf_free(&more);
}

/* Terminal width in columns; 0 when unknown (then lines are not cut). */
static int tty_cols(void)
{
    struct winsize ws;
    return ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 ? ws.ws_col : 0;
}

/* Replaces the block drawn last: up to its first line, clear to the end of the screen, print.
 * Lines are cut to the terminal's width, since a wrapped line would make the next redraw
 * climb too few lines and leave a trail of old frames. */
static void draw_block(struct watch *w, const char *block)
{
    int cols = tty_cols();
    if (w->drawn > 0)
        printf("\033[%dA", w->drawn);
    fputs("\r\033[J", stdout);
    w->drawn = 0;
    for (const char *line = block; *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        size_t cut = cols > 1 && len > (size_t)cols - 1 ? (size_t)cols - 1 : len;
        printf("%.*s\n", (int)cut, line);
        w->drawn++;
        line += len + (nl ? 1 : 0);
    }
    fflush(stdout);
}

static void watch_show(struct watch *w, const struct campaign_info *ci, json_t *prov, bool first)
{
    if (!w->show)
        return;
    struct buf b = {0};
    if (w->tty) {
        block_put(w, ci, prov, &b);
        draw_block(w, b.data);
    } else {
        line_put(w, ci, prov, &b);
        progress_draw(&w->plain, finished_share(ci), 1.0, b.data, first || is_complete(ci));
    }
    buf_free(&b);
}

/* Reads the campaign and, when shown, its DLQ reasons; updates the rate. */
static int watch_fetch(struct store *s, struct watch *w, const char *campaign,
                       struct campaign_info *ci, json_t **prov)
{
    int rc = fetch(s, campaign, ci, prov);
    if (rc != EXIT_OK)
        return rc;
    watch_rate(w, ci->done + ci->dlq + ci->cancelled, clock_mono_ms());
    if (w->show && reasons_refresh(s, campaign, ci->dlq, &w->why) != 0) {
        json_decref(*prov);
        *prov = NULL;
        return EXIT_RUNTIME;
    }
    return EXIT_OK;
}

static void pause_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* True when the loop must end unfinished: a signal, or --timeout passed (said on stderr). */
static bool gave_up(const struct status_opts *o, const struct campaign_info *ci, int64_t start_ms)
{
    if (stop_requested)
        return true;
    if (o->timeout_s < 0 || (double)(clock_mono_ms() - start_ms) / 1000.0 < o->timeout_s)
        return false;
    cmd_error("status: campaign %s not complete after %.0f s (%lld pending)", o->campaign,
              o->timeout_s, (long long)pending_of(ci));
    return true;
}

/* --watch and --wait: refresh until complete, a signal, or the timeout. */
static int follow(struct store *s, const struct status_opts *o)
{
    struct watch w;
    watch_init(&w, o->watch && !o->json);
    int64_t start = clock_mono_ms();
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    for (bool first = true;; first = false) {
        struct campaign_info ci;
        json_t *prov = NULL;
        int rc = watch_fetch(s, &w, o->campaign, &ci, &prov);
        if (rc != EXIT_OK)
            return rc;
        watch_show(&w, &ci, prov, first);
        json_decref(prov);
        if (is_complete(&ci))
            return o->json ? show_one(s, o) : EXIT_OK;
        if (gave_up(o, &ci, start))
            return EXIT_RUNTIME;
        pause_s(o->interval_s);
    }
}

int cmd_status(int argc, char **argv, const struct config *cfg)
{
    struct status_opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    o.cfg = cfg;
    char err[512];
    struct store *s = store_open_config(cfg, err, sizeof err);
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
