/* stats.c - lock-free request counters; see stats.h. */
#include "stats.h"

#include <stdio.h>

#include "jsonw.h"

void stats_init(struct stats *s)
{
    atomic_init(&s->requests, 0);
    atomic_init(&s->in_flight, 0);
    atomic_init(&s->peak_in_flight, 0);
    atomic_init(&s->resets, 0);
    atomic_init(&s->hangs, 0);
    for (int i = 0; i < STATS_MAX_STATUS; i++)
        atomic_init(&s->by_status[i], 0);
}

/* Raises the peak to at least n; the compare-exchange loop keeps concurrent raises exact. */
static void peak_raise(struct stats *s, int64_t n)
{
    int64_t peak = atomic_load(&s->peak_in_flight);
    while (peak < n && !atomic_compare_exchange_weak(&s->peak_in_flight, &peak, n))
        ;
}

void stats_begin(struct stats *s)
{
    atomic_fetch_add(&s->requests, 1);
    peak_raise(s, atomic_fetch_add(&s->in_flight, 1) + 1);
}

void stats_end(struct stats *s, int status)
{
    atomic_fetch_sub(&s->in_flight, 1);
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

void stats_reset(struct stats *s)
{
    atomic_store(&s->requests, 0);
    atomic_store(&s->resets, 0);
    atomic_store(&s->hangs, 0);
    for (int i = 0; i < STATS_MAX_STATUS; i++)
        atomic_store(&s->by_status[i], 0);
    atomic_store(&s->peak_in_flight, 0);
    peak_raise(s, atomic_load(&s->in_flight));
}

void stats_to_json(struct stats *s, struct buf *out)
{
    buf_putc(out, '{');
    jsonw_key(out, "requests");
    jsonw_int(out, atomic_load(&s->requests));
    jsonw_key(out, "in_flight");
    jsonw_int(out, atomic_load(&s->in_flight));
    jsonw_key(out, "peak_in_flight");
    jsonw_int(out, atomic_load(&s->peak_in_flight));
    jsonw_key(out, "by_status");
    buf_putc(out, '{');
    for (int i = 100; i < STATS_MAX_STATUS; i++) {
        int64_t n = atomic_load(&s->by_status[i]);
        if (n == 0)
            continue;
        char code[8];
        snprintf(code, sizeof code, "%d", i);
        jsonw_key(out, code);
        jsonw_int(out, n);
    }
    buf_putc(out, '}');
    jsonw_key(out, "resets");
    jsonw_int(out, atomic_load(&s->resets));
    jsonw_key(out, "hangs");
    jsonw_int(out, atomic_load(&s->hangs));
    buf_putc(out, '}');
}
