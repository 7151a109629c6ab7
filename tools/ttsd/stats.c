/* stats.c - request counters (atomics) and a per-second histogram (a mutex); see stats.h. */
#include "stats.h"

#include <stdbool.h>
#include <stdio.h>

#include "jsonw.h"

static void hist_clear(struct stats *s)
{
    for (int i = 0; i < STATS_SECONDS; i++) {
        s->hist_sec[i] = -1;
        s->hist_n[i] = 0;
    }
}

void stats_init(struct stats *s)
{
    atomic_init(&s->requests, 0);
    atomic_init(&s->in_flight, 0);
    atomic_init(&s->peak_in_flight, 0);
    atomic_init(&s->resets, 0);
    atomic_init(&s->hangs, 0);
    atomic_init(&s->throttled_concurrency, 0);
    atomic_init(&s->throttled_rate, 0);
    atomic_init(&s->refused_connections, 0);
    atomic_init(&s->first_ms, 0);
    atomic_init(&s->last_ms, 0);
    for (int i = 0; i < STATS_MAX_STATUS; i++)
        atomic_init(&s->by_status[i], 0);
    pthread_mutex_init(&s->hist_lock, NULL);
    hist_clear(s);
}

void stats_free(struct stats *s)
{
    pthread_mutex_destroy(&s->hist_lock);
}

/* Raises the peak to at least n; the compare-exchange loop keeps concurrent raises exact. */
static void peak_raise(struct stats *s, int64_t n)
{
    int64_t peak = atomic_load(&s->peak_in_flight);
    while (peak < n && !atomic_compare_exchange_weak(&s->peak_in_flight, &peak, n))
        ;
}

static void hist_add(struct stats *s, int64_t now_ms)
{
    int64_t sec = now_ms / 1000;
    int slot = (int)(sec % STATS_SECONDS);
    pthread_mutex_lock(&s->hist_lock);
    if (s->hist_sec[slot] != sec) {
        s->hist_sec[slot] = sec;   /* a second STATS_SECONDS ago, or none: start over */
        s->hist_n[slot] = 0;
    }
    s->hist_n[slot]++;
    pthread_mutex_unlock(&s->hist_lock);
}

void stats_begin(struct stats *s, int64_t now_ms)
{
    atomic_fetch_add(&s->requests, 1);
    peak_raise(s, atomic_fetch_add(&s->in_flight, 1) + 1);
    int64_t zero = 0;
    atomic_compare_exchange_strong(&s->first_ms, &zero, now_ms);
    atomic_store(&s->last_ms, now_ms);
    hist_add(s, now_ms);
}

void stats_end(struct stats *s)
{
    atomic_fetch_sub(&s->in_flight, 1);
}

void stats_count_status(struct stats *s, int status)
{
    if (status >= 100 && status < STATS_MAX_STATUS)
        atomic_fetch_add(&s->by_status[status], 1);
}

void stats_count_reset(struct stats *s)
{
    atomic_fetch_add(&s->resets, 1);
}

void stats_count_hang(struct stats *s)
{
    atomic_fetch_add(&s->hangs, 1);
}

void stats_count_throttled(struct stats *s, bool concurrency)
{
    atomic_fetch_add(concurrency ? &s->throttled_concurrency : &s->throttled_rate, 1);
}

void stats_count_refused_connection(struct stats *s)
{
    atomic_fetch_add(&s->refused_connections, 1);
}

void stats_reset(struct stats *s)
{
    atomic_store(&s->requests, 0);
    atomic_store(&s->resets, 0);
    atomic_store(&s->hangs, 0);
    atomic_store(&s->throttled_concurrency, 0);
    atomic_store(&s->throttled_rate, 0);
    atomic_store(&s->refused_connections, 0);
    atomic_store(&s->first_ms, 0);
    atomic_store(&s->last_ms, 0);
    for (int i = 0; i < STATS_MAX_STATUS; i++)
        atomic_store(&s->by_status[i], 0);
    atomic_store(&s->peak_in_flight, 0);
    peak_raise(s, atomic_load(&s->in_flight));
    pthread_mutex_lock(&s->hist_lock);
    hist_clear(s);
    pthread_mutex_unlock(&s->hist_lock);
}

static void put_int(struct buf *out, const char *key, int64_t v)
{
    jsonw_key(out, key);
    jsonw_int(out, v);
}

/* "max_per_second":N,"per_second":[[SEC,N],...] over the window ending at now_ms. */
static void hist_to_json(struct stats *s, int64_t now_ms, struct buf *out)
{
    int64_t now_sec = now_ms / 1000, max = 0;
    struct buf list = {0};
    pthread_mutex_lock(&s->hist_lock);
    for (int64_t sec = now_sec - STATS_SECONDS + 1; sec <= now_sec; sec++) {
        int slot = (int)(((sec % STATS_SECONDS) + STATS_SECONDS) % STATS_SECONDS);
        if (s->hist_sec[slot] != sec || s->hist_n[slot] == 0)
            continue;
        buf_printf(&list, "%s[%lld,%lld]", list.len ? "," : "", (long long)sec, (long long)s->hist_n[slot]);
        if (s->hist_n[slot] > max)
            max = s->hist_n[slot];
    }
    pthread_mutex_unlock(&s->hist_lock);
    put_int(out, "max_per_second", max);
    jsonw_key(out, "per_second");
    buf_putc(out, '[');
    if (list.len)
        buf_append(out, list.data, list.len);
    buf_putc(out, ']');
    buf_free(&list);
}

static void by_status_to_json(struct stats *s, struct buf *out)
{
    jsonw_key(out, "by_status");
    buf_putc(out, '{');
    for (int i = 100; i < STATS_MAX_STATUS; i++) {
        int64_t n = atomic_load(&s->by_status[i]);
        if (n == 0)
            continue;
        char code[8];
        snprintf(code, sizeof code, "%d", i);
        put_int(out, code, n);
    }
    buf_putc(out, '}');
}

void stats_to_json(struct stats *s, const struct stats_account *acct, int64_t now_ms, struct buf *out)
{
    buf_putc(out, '{');
    put_int(out, "requests", atomic_load(&s->requests));
    put_int(out, "in_flight", atomic_load(&s->in_flight));
    put_int(out, "peak_in_flight", atomic_load(&s->peak_in_flight));
    by_status_to_json(s, out);
    put_int(out, "resets", atomic_load(&s->resets));
    put_int(out, "hangs", atomic_load(&s->hangs));
    put_int(out, "throttled_concurrency", atomic_load(&s->throttled_concurrency));
    put_int(out, "throttled_rate", atomic_load(&s->throttled_rate));
    put_int(out, "refused_connections", atomic_load(&s->refused_connections));
    put_int(out, "first_request_ms", atomic_load(&s->first_ms));
    put_int(out, "last_request_ms", atomic_load(&s->last_ms));
    hist_to_json(s, now_ms, out);
    jsonw_key(out, "account");
    buf_putc(out, '{');
    put_int(out, "max_concurrent", acct->max_concurrent);
    jsonw_key(out, "rate");
    buf_printf(out, "%g", acct->rate);
    put_int(out, "in_flight", acct->in_use);
    buf_puts(out, "}}");
}
