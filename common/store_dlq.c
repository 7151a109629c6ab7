/* store_dlq.c - the dead-letter queue in Redis: listing, lookup, purge and replay claims.
 *
 * Entries are parked by the batch script (store_batch.c); this file reads and removes them. Listing
 * reads bounded windows (ZREVRANGE + HMGET in one script) so it stays fast with millions of
 * entries; all-campaign listing merges the campaigns' windows by failed_at. Replay moves
 * entries through dlq:replaying so that a crash at any point leaves every entry either waiting,
 * claimed (put back by the next replay) or delivered to Kafka. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"
#include "store_scripts.h"
#include "xalloc.h"

#define WINDOW_MAX 1000  /* ids per list window (Lua unpack limit) */
#define CLAIM_MAX  10000 /* entries per claim: bounds the time Redis spends in one script */
#define WINDOW_ARGC 7    /* EVALSHA sha 2 dlq dlq:e start stop */

/* ================================================================ failed_at */

/* Milliseconds of an ISO-8601 time ("2026-11-22T18:00:00.123Z"; "+02:00" offsets allowed), or
 * INT64_MIN when it does not parse. */
static int64_t iso_ms(const char *s)
{
    int y, mo, d, h, mi, sec, n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n == 0)
        return INT64_MIN;
    const char *p = s + n;
    int64_t frac = 0;
    if (*p == '.') {
        int digits = 0;
        for (p++; isdigit((unsigned char)*p); p++, digits++) {
            if (digits < 3)
                frac = frac * 10 + (*p - '0');
        }
        for (; digits < 3; digits++)
            frac *= 10;
    }
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                    .tm_hour = h, .tm_min = mi, .tm_sec = sec};
    int64_t ms = (int64_t)timegm(&tm) * 1000 + frac;
    int oh, om;
    if ((*p == '+' || *p == '-') && sscanf(p + 1, "%2d:%2d", &oh, &om) == 2)
        ms -= (*p == '+' ? 1 : -1) * ((int64_t)oh * 3600 + om * 60) * 1000;
    return ms;
}

/* The entry's "failed_at" in epoch ms (a number, or an ISO-8601 string); INT64_MIN if none. */
static int64_t entry_failed_at(const char *json, size_t len)
{
    json_t *root = json_loadb(json, len, 0, NULL);
    json_t *v = json_object_get(root, "failed_at");
    int64_t ms = INT64_MIN;
    if (json_is_integer(v))
        ms = json_integer_value(v);
    else if (json_is_real(v))
        ms = (int64_t)json_real_value(v);
    else if (json_is_string(v))
        ms = iso_ms(json_string_value(v));
    json_decref(root);
    return ms;
}

/* ================================================================ listing */

/* One campaign's entries, read newest first a window at a time. */
struct dlq_stream {
    char        dlq[STORE_KEY_MAX], dlqe[STORE_KEY_MAX];
    char        start[24], stop[24];
    redisReply *win;        /* {scanned, id, json, id, json, ...} */
    size_t      pos;        /* element index of the head id in win */
    size_t      next;       /* rank of the next window's first id */
    size_t      wsize;      /* ids per window */
    int         more;       /* the last window was full: more may follow */
    int         head_known; /* head_ms is computed */
    int64_t     head_ms;    /* failed_at of the head entry */
};

static void stream_init(struct dlq_stream *st, const char *campaign, size_t first, size_t wsize)
{
    memset(st, 0, sizeof *st);
    store_key(st->dlq, sizeof st->dlq, campaign, "dlq");
    store_key(st->dlqe, sizeof st->dlqe, campaign, "dlq:e");
    st->next = first;
    st->wsize = wsize;
    st->more = 1;
}

static void stream_free(struct dlq_stream *st)
{
    if (st->win)
        freeReplyObject(st->win);
    st->win = NULL;
}

/* Installs a window reply; takes ownership of r. */
static void stream_take(struct dlq_stream *st, redisReply *r)
{
    stream_free(st);
    st->win = r;
    size_t scanned = 0;
    if (r->type == REDIS_REPLY_ARRAY && r->elements > 0)
        scanned = (size_t)r->element[0]->integer;
    st->next += scanned;
    st->more = scanned == st->wsize;
    st->pos = 1;
    st->head_known = 0;
}

/* Fetches the next window of each of the n streams in one round trip. */
static int stream_fetch(struct store *s, struct dlq_stream *sts, size_t n)
{
    struct store_call *calls = xcalloc(n, sizeof *calls);
    const char **argv = xcalloc(n * WINDOW_ARGC, sizeof *argv);
    size_t *lens = xcalloc(n * WINDOW_ARGC, sizeof *lens);
    redisReply **replies = xcalloc(n, sizeof *replies);
    int rc = -1;
    for (size_t i = 0; i < n; i++) {
        struct dlq_stream *st = &sts[i];
        snprintf(st->start, sizeof st->start, "%zu", st->next);
        snprintf(st->stop, sizeof st->stop, "%zu", st->next + st->wsize - 1);
        const char **a = argv + WINDOW_ARGC * i;
        size_t *l = lens + WINDOW_ARGC * i;
        a[2] = "2";
        a[3] = st->dlq;
        a[4] = st->dlqe;
        a[5] = st->start;
        a[6] = st->stop;
        for (int k = 2; k < WINDOW_ARGC; k++)
            l[k] = strlen(a[k]);
        calls[i] = (struct store_call){SCRIPT_DLQ_WINDOW, WINDOW_ARGC, a, l};
    }
    if (store_pipeline(s, calls, n, replies) == 0) {
        for (size_t i = 0; i < n; i++)
            stream_take(&sts[i], replies[i]);
        rc = 0;
    }
    free(calls);
    free(argv);
    free(lens);
    free(replies);
    return rc;
}

/* 1 when the stream has a head entry (reading its next window if needed), 0 when exhausted,
 * -1 on error. */
static int stream_has_head(struct store *s, struct dlq_stream *st)
{
    while (st->pos + 1 >= (st->win ? st->win->elements : 0)) {
        if (!st->more)
            return 0;
        if (stream_fetch(s, st, 1) != 0)
            return -1;
    }
    return 1;
}

/* The stream whose head entry failed last (ties: the first), NULL when all are exhausted. */
static struct dlq_stream *newest_head(struct store *s, struct dlq_stream *sts, size_t n, int *err)
{
    struct dlq_stream *best = NULL;
    for (size_t i = 0; i < n; i++) {
        struct dlq_stream *st = &sts[i];
        int has = stream_has_head(s, st);
        if (has < 0) {
            *err = 1;
            return NULL;
        }
        if (!has)
            continue;
        if (n > 1 && !st->head_known) {
            const redisReply *json = st->win->element[st->pos + 1];
            st->head_ms = entry_failed_at(json->str, json->len);
            st->head_known = 1;
        }
        if (!best || st->head_ms > best->head_ms)
            best = st;
    }
    return best;
}

/* Merges the streams newest first, skipping `skip` entries and passing up to limit to fn. */
static int merge(struct store *s, struct dlq_stream *sts, size_t n, size_t skip, size_t limit,
                 store_dlq_fn fn, void *ctx)
{
    if (stream_fetch(s, sts, n) != 0)
        return -1;
    int emitted = 0, err = 0;
    while (limit == 0 || (size_t)emitted < limit) {
        struct dlq_stream *st = newest_head(s, sts, n, &err);
        if (!st)
            break;
        const redisReply *id = st->win->element[st->pos], *json = st->win->element[st->pos + 1];
        st->pos += 2;
        st->head_known = 0;
        if (skip > 0) {
            skip--;
            continue;
        }
        emitted++;
        if (fn(ctx, id->str, json->str) != 0)
            break;
    }
    return err ? -1 : emitted;
}

static size_t window_size(size_t want)
{
    if (want == 0 || want > WINDOW_MAX)
        return WINDOW_MAX;
    return want < 16 ? 16 : want;
}

/* Campaigns that ever parked an entry (reply of SMEMBERS, or NULL). */
static redisReply *dlq_campaigns(struct store *s)
{
    return store_command(s, "SMEMBERS voxcast:dlq:campaigns");
}

static int by_name(const void *a, const void *b)
{
    const redisReply *x = *(redisReply *const *)a, *y = *(redisReply *const *)b;
    return strcmp(x->str, y->str);
}

static int list_all(struct store *s, size_t offset, size_t limit, store_dlq_fn fn, void *ctx)
{
    redisReply *names = dlq_campaigns(s);
    if (!names)
        return -1;
    size_t n = names->type == REDIS_REPLY_ARRAY ? names->elements : 0;
    struct dlq_stream *sts = xcalloc(n, sizeof *sts);
    /* sorted, so that entries failed at the same ms come in the same order every time */
    if (n > 1)
        qsort(names->element, n, sizeof *names->element, by_name);
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        if (store_id_valid(names->element[i]->str))
            stream_init(&sts[used++], names->element[i]->str, 0,
                        window_size(limit ? offset + limit : 0));
    }
    freeReplyObject(names);
    int rc = used ? merge(s, sts, used, offset, limit, fn, ctx) : 0;
    for (size_t i = 0; i < used; i++)
        stream_free(&sts[i]);
    free(sts);
    return rc;
}

int store_dlq_list(struct store *s, const char *campaign, size_t offset, size_t limit,
                   store_dlq_fn fn, void *ctx)
{
    if (!campaign)
        return list_all(s, offset, limit, fn, ctx);
    if (store_check_id(s, campaign) != 0)
        return -1;
    struct dlq_stream st;
    stream_init(&st, campaign, offset, window_size(limit));
    int rc = merge(s, &st, 1, 0, limit, fn, ctx);
    stream_free(&st);
    return rc;
}

/* ================================================================ lookup, count, purge */

/* Splits "C:seq" into campaign; 0, or -1 when malformed. */
static int id_campaign(const char *id, char campaign[65])
{
    const char *colon = strchr(id, ':');
    size_t n = colon ? (size_t)(colon - id) : 0;
    if (n == 0 || n > 64 || colon[1] == '\0' || strspn(colon + 1, "0123456789") != strlen(colon + 1))
        return -1;
    memcpy(campaign, id, n);
    campaign[n] = '\0';
    return store_id_valid(campaign) ? 0 : -1;
}

int store_dlq_get(struct store *s, const char *id, char **entry_json_out)
{
    *entry_json_out = NULL;
    char campaign[65], dlqe[STORE_KEY_MAX], replaying[STORE_KEY_MAX];
    if (!id || id_campaign(id, campaign) != 0)
        return 1;
    store_key(dlqe, sizeof dlqe, campaign, "dlq:e");
    store_key(replaying, sizeof replaying, campaign, "dlq:replaying");
    const char *a1[] = {"HGET", dlqe, id}, *a2[] = {"HGET", replaying, id};
    size_t l1[] = {4, strlen(dlqe), strlen(id)}, l2[] = {4, strlen(replaying), strlen(id)};
    struct store_call calls[2] = {{-1, 3, a1, l1}, {-1, 3, a2, l2}};
    redisReply *r[2];
    if (store_pipeline(s, calls, 2, r) != 0)
        return -1;
    const redisReply *hit = r[0]->type == REDIS_REPLY_STRING ? r[0]
                          : r[1]->type == REDIS_REPLY_STRING ? r[1] : NULL;
    if (hit)
        *entry_json_out = xstrndup(hit->str, hit->len);
    freeReplyObject(r[0]);
    freeReplyObject(r[1]);
    return hit ? 0 : 1;
}

static int64_t count_one(struct store *s, const char *campaign)
{
    char dlq[STORE_KEY_MAX];
    store_key(dlq, sizeof dlq, campaign, "dlq");
    redisReply *r = store_command(s, "ZCARD %s", dlq);
    if (!r)
        return -1;
    int64_t n = r->integer;
    freeReplyObject(r);
    return n;
}

int64_t store_dlq_count(struct store *s, const char *campaign)
{
    if (campaign)
        return store_check_id(s, campaign) == 0 ? count_one(s, campaign) : -1;
    redisReply *names = dlq_campaigns(s);
    if (!names)
        return -1;
    int64_t total = 0;
    for (size_t i = 0; total >= 0 && i < names->elements; i++) {
        if (store_id_valid(names->element[i]->str)) {
            int64_t n = count_one(s, names->element[i]->str);
            total = n < 0 ? -1 : total + n;
        }
    }
    freeReplyObject(names);
    return total;
}

int64_t store_dlq_purge(struct store *s, const char *campaign, size_t batch)
{
    if (store_check_id(s, campaign) != 0)
        return -1;
    static const char *const keys[] = {"dlq", "dlq:e", "dlq:c"};
    char n[24];
    snprintf(n, sizeof n, "%zu", batch == 0 || batch > WINDOW_MAX ? (size_t)WINDOW_MAX : batch);
    const char *args[] = {n};
    int64_t total = 0;
    for (;;) {
        redisReply *r = store_campaign_script(s, SCRIPT_DLQ_PURGE, campaign, keys, 3, args, 1);
        if (!r)
            return -1;
        long long got = r->integer;
        freeReplyObject(r);
        if (got <= 0)
            return total;
        total += got;
    }
}

/* ================================================================ replay */

int store_dlq_max_seq(struct store *s, const char *campaign, int64_t *out)
{
    *out = 0;
    if (store_check_id(s, campaign) != 0)
        return -1;
    char seq[STORE_KEY_MAX];
    store_key(seq, sizeof seq, campaign, "dlq:seq");
    redisReply *r = store_command(s, "GET %s", seq);
    if (!r)
        return -1;
    if (r->type == REDIS_REPLY_STRING)
        *out = strtoll(r->str, NULL, 10);
    freeReplyObject(r);
    return 0;
}

/* Passes the claimed (id, json) pairs of a claim reply to fn until it asks to stop. */
static void claimed_each(const redisReply *r, store_dlq_fn fn, void *ctx)
{
    for (size_t i = 1; fn && i + 1 < r->elements; i += 2) {
        if (fn(ctx, r->element[i]->str, r->element[i + 1]->str) != 0)
            return;
    }
}

int store_dlq_claim(struct store *s, const char *campaign, int64_t max_seq, size_t n,
                    store_dlq_fn fn, void *ctx)
{
    if (store_check_id(s, campaign) != 0)
        return -1;
    static const char *const keys[] = {"dlq", "dlq:e", "dlq:c", "state", "dlq:replaying", "meta"};
    char max[24], count[24];
    snprintf(max, sizeof max, "%lld", (long long)max_seq);
    snprintf(count, sizeof count, "%zu", n > CLAIM_MAX ? (size_t)CLAIM_MAX : n);
    const char *args[] = {max, count};
    if (n == 0)
        return 0;
    /* A window holding only entries of done contacts claims nothing but deletes them: go on
     * until something is claimed or nothing is left, so 0 always means "nothing left". */
    for (;;) {
        redisReply *r = store_campaign_script(s, SCRIPT_DLQ_CLAIM, campaign, keys, 6, args, 2);
        if (!r)
            return -1;
        if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
            freeReplyObject(r);
            store_fail(s, "dlq claim script: unexpected reply");
            return -1;
        }
        int claimed = (int)((r->elements - 1) / 2);
        long long deleted = r->element[0]->integer;
        claimed_each(r, fn, ctx);
        freeReplyObject(r);
        if (claimed > 0 || deleted == 0)
            return claimed;
    }
}

int store_dlq_replayed(struct store *s, const char *campaign, const char *const *ids, size_t n)
{
    if (store_check_id(s, campaign) != 0)
        return -1;
    if (n == 0)
        return 0;
    char replaying[STORE_KEY_MAX], dlqc[STORE_KEY_MAX];
    store_key(replaying, sizeof replaying, campaign, "dlq:replaying");
    store_key(dlqc, sizeof dlqc, campaign, "dlq:c");
    const char **argv = xcalloc(n + 5, sizeof *argv);
    size_t *lens = xcalloc(n + 5, sizeof *lens);
    argv[2] = "2";
    argv[3] = replaying;
    argv[4] = dlqc;
    for (size_t i = 0; i < n; i++)
        argv[5 + i] = ids[i];
    for (size_t i = 2; i < n + 5; i++)
        lens[i] = strlen(argv[i]);
    redisReply *r = store_call1(s, SCRIPT_DLQ_REPLAYED, (int)(n + 5), argv, lens);
    free(argv);
    free(lens);
    if (!r)
        return -1;
    int got = (int)r->integer;
    freeReplyObject(r);
    return got;
}

int store_dlq_unclaim_all(struct store *s, const char *campaign)
{
    if (store_check_id(s, campaign) != 0)
        return -1;
    static const char *const keys[] = {"dlq:replaying", "dlq", "dlq:e", "dlq:c", "state", "meta"};
    redisReply *r = store_campaign_script(s, SCRIPT_DLQ_UNCLAIM, campaign, keys, 6, NULL, 0);
    if (!r)
        return -1;
    int back = (int)r->integer;
    freeReplyObject(r);
    return back;
}
