/* metrics.c - lock-free counters for the consumer, rendered as Prometheus text and /health JSON.
 *
 * Every counter and gauge is a C11 atomic in a slot allocated up front, updated with relaxed
 * ordering: each value is independent, and a scrape that sees one counter a moment before
 * another is still a valid scrape. Two places need more care:
 *
 * - A provider's code table grows at run time. A new code's name is written while holding the
 *   table lock and published by a release store of the table length; readers load the length
 *   with acquire and only ever look at names below it, which are then immutable.
 * - The histogram keeps per-bucket (non-cumulative) counts and no separate _count: the renderer
 *   accumulates one snapshot of the buckets and reports the total as _count, so the +Inf bucket
 *   always equals _count even when a request lands mid-scrape.
 *
 * The latency sum is kept in integer nanoseconds, so it can be added atomically with no
 * compare-and-swap loop and printed as an exact decimal. */
#include "metrics.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "xalloc.h"

#define METRICS_OUTCOMES 6

/* Upper bounds of the finite latency buckets; the last bucket is +Inf. */
static const double bucket_le[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
static const char *const bucket_label[] = {"0.05", "0.1", "0.25", "0.5", "1", "2.5",
                                           "5", "10", "30", "60", "+Inf"};
#define METRICS_BUCKETS (sizeof bucket_le / sizeof bucket_le[0] + 1)

/* A latency beyond this (an hour is already absurd) is summed as this, so the conversion to
 * nanoseconds stays inside uint64_t whatever the caller passes. */
#define METRICS_MAX_LATENCY_S 1e6

static const char *const outcome_names[METRICS_OUTCOMES] = {"done",    "dlq",       "duplicate",
                                                            "invalid", "cancelled", "aside"};
static const char *const state_names[] = {"closed", "half_open", "open"};

struct metrics_code {
    char             name[METRICS_CODE_MAX + 1]; /* written once, before it is published */
    _Atomic uint64_t count;
};

struct metrics_provider {
    char               *name;                        /* owned copy */
    struct metrics_code codes[METRICS_MAX_CODES];
    _Atomic size_t      ncodes;                      /* published length of codes[] */
    _Atomic uint64_t    other;                       /* requests past the code table */
    _Atomic uint64_t    buckets[METRICS_BUCKETS];    /* per bucket, not cumulative */
    _Atomic uint64_t    sum_ns;                      /* latency sum in nanoseconds */
    _Atomic uint64_t    retries;
    _Atomic int         state;                       /* 0 closed, 1 half-open, 2 open */
    _Atomic int         consecutive_failures;
    _Atomic uint64_t    throttled;                   /* 429 answers */
    _Atomic uint64_t    characters;                  /* billed: of requests answered with audio */
    _Atomic int64_t     account_in_flight;           /* across the fleet, as of the last sync */
    _Atomic int64_t     account_limit;               /* -1: none */
    atomic_bool         account_learned;
    atomic_bool         account_local;               /* Redis away: on a local share */
    char                last_error[METRICS_ERROR_MAX + 1]; /* under error_lock; "" none */
};

struct metrics {
    size_t                  nproviders;
    struct metrics_provider *providers;               /* nproviders slots, owned */
    _Atomic uint64_t        jobs[METRICS_OUTCOMES];
    _Atomic uint64_t        failovers;
    _Atomic uint64_t        account_syncs;           /* Redis round trips for the accounts */
    _Atomic uint64_t        cache_hits;              /* contacts given a copy of cached audio */
    _Atomic int64_t         in_flight;
    atomic_bool             redis_ok;
    atomic_bool             kafka_ok;
    pthread_mutex_t         code_lock;               /* serialises code table growth */
    pthread_mutex_t         error_lock;              /* guards every last_error (rare writes) */
};

/* ---- lifetime ---------------------------------------------------------------------------- */

struct metrics *metrics_new(const char *const *provider_names, size_t n)
{
    if (n > 0 && !provider_names)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!provider_names[i])
            return NULL;
    /* calloc gives zero for every atomic, a valid initial value for each but account_limit. */
    struct metrics *m = xcalloc(1, sizeof *m);
    /* One slot per provider, however long the chain: the slots are sized here, once, so the
     * atomics never move while the HTTP thread reads them. */
    m->providers = xcalloc(n ? n : 1, sizeof *m->providers);
    if (pthread_mutex_init(&m->code_lock, NULL) != 0) {
        free(m->providers);
        free(m);
        return NULL;
    }
    if (pthread_mutex_init(&m->error_lock, NULL) != 0) {
        pthread_mutex_destroy(&m->code_lock);
        free(m->providers);
        free(m);
        return NULL;
    }
    m->nproviders = n;
    for (size_t i = 0; i < n; i++) {
        atomic_store_explicit(&m->providers[i].account_limit, -1, memory_order_relaxed); /* none known */
        m->providers[i].name = xstrdup(provider_names[i]);
    }
    return m;
}

void metrics_free(struct metrics *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nproviders; i++)
        free(m->providers[i].name);
    free(m->providers);
    pthread_mutex_destroy(&m->code_lock);
    pthread_mutex_destroy(&m->error_lock);
    free(m);
}

/* ---- updates (loop thread) ---------------------------------------------------------------- */

static struct metrics_provider *provider_at(struct metrics *m, size_t i)
{
    return i < m->nproviders ? &m->providers[i] : NULL;
}

static void count(_Atomic uint64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

void metrics_job(struct metrics *m, enum metrics_outcome o)
{
    if ((unsigned)o < METRICS_OUTCOMES)
        count(&m->jobs[o]);
}

/* The published slot named `code` among codes[from, to), or NULL. */
static struct metrics_code *code_find(struct metrics_provider *p, const char *code, size_t from,
                                      size_t to)
{
    for (size_t i = from; i < to; i++)
        if (strcmp(p->codes[i].name, code) == 0)
            return &p->codes[i];
    return NULL;
}

/* The counter for `code`, adding it to the table on first sight. Lookups take no lock; only an
 * insertion does, and it searches again under the lock since another thread may have added the
 * same code between the unlocked search and the lock. */
static _Atomic uint64_t *code_counter(struct metrics *m, struct metrics_provider *p,
                                      const char *code)
{
    if (!code || !code[0] || strlen(code) > METRICS_CODE_MAX)
        return &p->other;
    size_t n = atomic_load_explicit(&p->ncodes, memory_order_acquire);
    struct metrics_code *c = code_find(p, code, 0, n);
    if (c)
        return &c->count;
    pthread_mutex_lock(&m->code_lock);
    size_t now = atomic_load_explicit(&p->ncodes, memory_order_acquire);
    c = code_find(p, code, n, now);
    if (!c && now < METRICS_MAX_CODES) {
        c = &p->codes[now];
        memcpy(c->name, code, strlen(code) + 1);
        atomic_store_explicit(&p->ncodes, now + 1, memory_order_release);
    }
    pthread_mutex_unlock(&m->code_lock);
    return c ? &c->count : &p->other;
}

static size_t bucket_of(double latency_s)
{
    size_t i = 0;
    while (i < METRICS_BUCKETS - 1 && !(latency_s <= bucket_le[i]))
        i++;
    return i;
}

void metrics_request(struct metrics *m, size_t provider, const char *code, double latency_s)
{
    struct metrics_provider *p = provider_at(m, provider);
    if (!p)
        return;
    if (!(latency_s >= 0)) /* negative or NaN */
        latency_s = 0;
    count(code_counter(m, p, code));
    count(&p->buckets[bucket_of(latency_s)]);
    double capped = latency_s < METRICS_MAX_LATENCY_S ? latency_s : METRICS_MAX_LATENCY_S;
    atomic_fetch_add_explicit(&p->sum_ns, (uint64_t)llround(capped * 1e9), memory_order_relaxed);
}

void metrics_retry(struct metrics *m, size_t provider)
{
    struct metrics_provider *p = provider_at(m, provider);
    if (p)
        count(&p->retries);
}

void metrics_failover(struct metrics *m)
{
    count(&m->failovers);
}

void metrics_set_in_flight(struct metrics *m, int64_t n)
{
    atomic_store_explicit(&m->in_flight, n, memory_order_relaxed);
}

void metrics_set_breaker(struct metrics *m, size_t provider, int state, int consecutive_failures)
{
    struct metrics_provider *p = provider_at(m, provider);
    if (!p || state < 0 || state > 2)
        return;
    atomic_store_explicit(&p->state, state, memory_order_relaxed);
    atomic_store_explicit(&p->consecutive_failures, consecutive_failures, memory_order_relaxed);
}

void metrics_throttled(struct metrics *m, size_t provider)
{
    struct metrics_provider *p = provider_at(m, provider);
    if (p)
        count(&p->throttled);
}

void metrics_set_account(struct metrics *m, size_t provider, int64_t in_flight, int64_t limit, bool learned,
                         bool local)
{
    struct metrics_provider *p = provider_at(m, provider);
    if (!p)
        return;
    atomic_store_explicit(&p->account_in_flight, in_flight, memory_order_relaxed);
    atomic_store_explicit(&p->account_limit, limit >= 0 ? limit : -1, memory_order_relaxed);
    atomic_store_explicit(&p->account_learned, learned, memory_order_relaxed);
    atomic_store_explicit(&p->account_local, local, memory_order_relaxed);
}

void metrics_provider_characters(struct metrics *m, size_t provider, uint64_t n)
{
    struct metrics_provider *p = provider_at(m, provider);
    if (p)
        atomic_fetch_add_explicit(&p->characters, n, memory_order_relaxed);
}

void metrics_cache_hit(struct metrics *m)
{
    count(&m->cache_hits);
}

void metrics_account_sync(struct metrics *m)
{
    count(&m->account_syncs);
}

void metrics_set_health_inputs(struct metrics *m, bool redis_ok, bool kafka_ok)
{
    atomic_store_explicit(&m->redis_ok, redis_ok, memory_order_relaxed);
    atomic_store_explicit(&m->kafka_ok, kafka_ok, memory_order_relaxed);
}

/* ---- rendering (HTTP thread) -------------------------------------------------------------- */

static uint64_t load(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* A label value per the text format: backslash, double quote and line feed escaped. */
static void label_value(struct buf *out, const char *s)
{
    buf_putc(out, '"');
    for (; *s; s++) {
        switch (*s) {
        case '\\': buf_puts(out, "\\\\"); break;
        case '"': buf_puts(out, "\\\""); break;
        case '\n': buf_puts(out, "\\n"); break;
        default: buf_putc(out, *s);
        }
    }
    buf_putc(out, '"');
}

static void family(struct buf *out, const char *name, const char *type, const char *help)
{
    buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* `name{provider="..."` with the brace left open for more labels. */
static void provider_sample(struct buf *out, const char *name, const struct metrics_provider *p)
{
    buf_printf(out, "%s{provider=", name);
    label_value(out, p->name);
}

static void render_jobs(struct metrics *m, struct buf *out)
{
    family(out, "voxcast_jobs_total", "counter",
           "Jobs by outcome: done, dlq, duplicate, invalid, cancelled, aside (set aside while paused).");
    for (size_t i = 0; i < METRICS_OUTCOMES; i++)
        buf_printf(out, "voxcast_jobs_total{outcome=\"%s\"} %" PRIu64 "\n", outcome_names[i],
                   load(&m->jobs[i]));
}

static void request_sample(struct buf *out, const struct metrics_provider *p, const char *code,
                           uint64_t n)
{
    provider_sample(out, "voxcast_provider_requests_total", p);
    buf_puts(out, ",code=");
    label_value(out, code);
    buf_printf(out, "} %" PRIu64 "\n", n);
}

static void render_requests(struct metrics *m, struct buf *out)
{
    family(out, "voxcast_provider_requests_total", "counter",
           "Provider requests by HTTP status or transport failure class.");
    for (size_t i = 0; i < m->nproviders; i++) {
        struct metrics_provider *p = &m->providers[i];
        size_t n = atomic_load_explicit(&p->ncodes, memory_order_acquire);
        for (size_t c = 0; c < n; c++)
            request_sample(out, p, p->codes[c].name, load(&p->codes[c].count));
        uint64_t other = load(&p->other);
        if (other > 0)
            request_sample(out, p, "other", other);
    }
}

static void render_histogram(struct metrics_provider *p, struct buf *out)
{
    uint64_t cumulative = 0;
    for (size_t b = 0; b < METRICS_BUCKETS; b++) {
        cumulative += load(&p->buckets[b]);
        provider_sample(out, "voxcast_provider_latency_seconds_bucket", p);
        buf_printf(out, ",le=\"%s\"} %" PRIu64 "\n", bucket_label[b], cumulative);
    }
    uint64_t ns = load(&p->sum_ns);
    provider_sample(out, "voxcast_provider_latency_seconds_sum", p);
    buf_printf(out, "} %" PRIu64 ".%09" PRIu64 "\n", ns / 1000000000u, ns % 1000000000u);
    provider_sample(out, "voxcast_provider_latency_seconds_count", p);
    buf_printf(out, "} %" PRIu64 "\n", cumulative);
}

static void render_latency(struct metrics *m, struct buf *out)
{
    family(out, "voxcast_provider_latency_seconds", "histogram",
           "Provider request latency in seconds, failures included.");
    for (size_t i = 0; i < m->nproviders; i++)
        render_histogram(&m->providers[i], out);
}

/* One gauge or counter family with a single value per provider, read by `get`. */
static void render_per_provider(struct metrics *m, struct buf *out, const char *name,
                                const char *type, const char *help,
                                int64_t (*get)(struct metrics_provider *))
{
    family(out, name, type, help);
    for (size_t i = 0; i < m->nproviders; i++) {
        provider_sample(out, name, &m->providers[i]);
        buf_printf(out, "} %" PRId64 "\n", get(&m->providers[i]));
    }
}

static int64_t get_state(struct metrics_provider *p)
{
    return atomic_load_explicit(&p->state, memory_order_relaxed);
}

static int64_t get_failures(struct metrics_provider *p)
{
    return atomic_load_explicit(&p->consecutive_failures, memory_order_relaxed);
}

static int64_t get_retries(struct metrics_provider *p)
{
    return (int64_t)load(&p->retries);
}

static int64_t get_throttled(struct metrics_provider *p)
{
    return (int64_t)load(&p->throttled);
}

static int64_t get_characters(struct metrics_provider *p)
{
    return (int64_t)load(&p->characters);
}

static int64_t get_account_limit(struct metrics_provider *p)
{
    return atomic_load_explicit(&p->account_limit, memory_order_relaxed);
}

static int64_t get_account_in_flight(struct metrics_provider *p)
{
    return atomic_load_explicit(&p->account_in_flight, memory_order_relaxed);
}

void metrics_render(struct metrics *m, struct buf *out)
{
    render_jobs(m, out);
    render_requests(m, out);
    render_latency(m, out);
    render_per_provider(m, out, "voxcast_breaker_state", "gauge",
                        "Circuit breaker state: 0 closed, 1 half-open, 2 open.", get_state);
    render_per_provider(m, out, "voxcast_breaker_consecutive_failures", "gauge",
                        "Consecutive failures counted by the circuit breaker.", get_failures);
    render_per_provider(m, out, "voxcast_retries_total", "counter",
                        "Provider requests retried after a retryable failure.", get_retries);
    render_per_provider(m, out, "voxcast_provider_throttled_total", "counter",
                        "Provider answers 429 (too many requests).", get_throttled);
    render_per_provider(m, out, "voxcast_account_limit", "gauge",
                        "The provider account's concurrency limit in force across the fleet (-1: none).",
                        get_account_limit);
    render_per_provider(m, out, "voxcast_account_in_flight", "gauge",
                        "Requests in flight to the provider account across the fleet, as of the last sync.",
                        get_account_in_flight);
    render_per_provider(m, out, "voxcast_provider_characters_total", "counter",
                        "Characters billed: of the requests the provider answered with audio.",
                        get_characters);
    family(out, "voxcast_cache_hits_total", "counter",
           "Contacts whose audio was a copy of an earlier render of the same request (render once).");
    buf_printf(out, "voxcast_cache_hits_total %" PRIu64 "\n", load(&m->cache_hits));
    family(out, "voxcast_account_syncs_total", "counter",
           "Redis round trips syncing provider accounts with the fleet.");
    buf_printf(out, "voxcast_account_syncs_total %" PRIu64 "\n", load(&m->account_syncs));
    family(out, "voxcast_failovers_total", "counter",
           "Jobs moved on to the next provider in failover order.");
    buf_printf(out, "voxcast_failovers_total %" PRIu64 "\n", load(&m->failovers));
    family(out, "voxcast_in_flight", "gauge", "Jobs being rendered now.");
    buf_printf(out, "voxcast_in_flight %" PRId64 "\n",
               atomic_load_explicit(&m->in_flight, memory_order_relaxed));
}

/* ---- health -------------------------------------------------------------------------------- */

/* The /health verdict from one reading of every breaker (taken once by the caller, so the
 * verdict and the JSON agree). */
static enum metrics_status health_status(const int *states, size_t n, bool redis_ok,
                                         bool kafka_ok)
{
    size_t open = 0, unwell = 0;
    for (size_t i = 0; i < n; i++) {
        open += states[i] == 2;
        unwell += states[i] != 0;
    }
    if (!redis_ok || !kafka_ok || (n > 0 && open == n))
        return METRICS_DOWN;
    return unwell > 0 ? METRICS_DEGRADED : METRICS_OK;
}

/* "account":{"in_flight":N,"limit":N|null,"learned":bool,"local_share":bool} */
static void health_account(struct metrics_provider *p, struct buf *out)
{
    jsonw_key(out, "account");
    buf_putc(out, '{');
    jsonw_key(out, "in_flight");
    jsonw_int(out, get_account_in_flight(p));
    jsonw_key(out, "limit");
    int64_t limit = get_account_limit(p);
    if (limit >= 0)
        jsonw_int(out, limit);
    else
        buf_puts(out, "null");
    jsonw_key(out, "learned");
    buf_puts(out, atomic_load_explicit(&p->account_learned, memory_order_relaxed) ? "true" : "false");
    jsonw_key(out, "local_share");
    buf_puts(out, atomic_load_explicit(&p->account_local, memory_order_relaxed) ? "true" : "false");
    buf_putc(out, '}');
}

static void health_providers(struct metrics *m, const int *states, struct buf *out)
{
    jsonw_key(out, "providers");
    buf_putc(out, '[');
    for (size_t i = 0; i < m->nproviders; i++) {
        if (i > 0)
            buf_putc(out, ',');
        buf_putc(out, '{');
        jsonw_key(out, "name");
        jsonw_cstr(out, m->providers[i].name);
        jsonw_key(out, "state");
        jsonw_cstr(out, state_names[states[i]]);
        jsonw_key(out, "consecutive_failures");
        jsonw_int(out, get_failures(&m->providers[i]));
        jsonw_key(out, "last_error");
        pthread_mutex_lock(&m->error_lock);
        if (m->providers[i].last_error[0])
            jsonw_cstr(out, m->providers[i].last_error);
        else
            buf_puts(out, "null");
        pthread_mutex_unlock(&m->error_lock);
        health_account(&m->providers[i], out);
        buf_putc(out, '}');
    }
    buf_putc(out, ']');
}

void metrics_set_last_error(struct metrics *m, size_t provider, const char *cause)
{
    if (!m || provider >= m->nproviders || !cause)
        return;
    pthread_mutex_lock(&m->error_lock);
    snprintf(m->providers[provider].last_error, sizeof m->providers[provider].last_error, "%s",
             cause);
    pthread_mutex_unlock(&m->error_lock);
}

enum metrics_status metrics_health(struct metrics *m, struct buf *out)
{
    static const char *const status_names[] = {"ok", "degraded", "down"};
    /* One snapshot of the states serves both the verdict and the list, so they agree. */
    int *states = xcalloc(m->nproviders ? m->nproviders : 1, sizeof *states);
    for (size_t i = 0; i < m->nproviders; i++)
        states[i] = (int)get_state(&m->providers[i]);
    bool redis_ok = atomic_load_explicit(&m->redis_ok, memory_order_relaxed);
    bool kafka_ok = atomic_load_explicit(&m->kafka_ok, memory_order_relaxed);
    enum metrics_status st = health_status(states, m->nproviders, redis_ok, kafka_ok);

    buf_putc(out, '{');
    jsonw_key(out, "status");
    jsonw_cstr(out, status_names[st]);
    health_providers(m, states, out);
    free(states);
    jsonw_key(out, "in_flight");
    jsonw_int(out, atomic_load_explicit(&m->in_flight, memory_order_relaxed));
    jsonw_key(out, "redis");
    jsonw_cstr(out, redis_ok ? "ok" : "down");
    jsonw_key(out, "kafka");
    jsonw_cstr(out, kafka_ok ? "ok" : "down");
    buf_putc(out, '}');
    return st;
}
