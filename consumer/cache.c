/* cache.c - render once, the consumer's side; see cache.h.
 *
 * Every key in hand has one slot, in one of three queues:
 *   lookup     to be looked up in the next round trip (new, or its claim given back);
 *   waiting    another consumer renders it: looked up again at due_ms (50 ms, growing to 400);
 *   rendering  a task here renders it (the leader): its claim renewed at due_ms.
 * A slot holds the tasks waiting for its key (linked by next). The waiting and rendering queues
 * are kept in due order, so a tick only looks at their heads: a renewal joins at the tail (a
 * fixed interval), a waiting slot is placed walking back from the tail (its interval grows, so
 * it lands at or near the tail). Slots are found by key in a chained hash table.
 *
 * The batch of a round trip is rebuilt from this state each time (entries and releases first,
 * so a lookup in the same round trip sees them, then renewals, counts and lookups): a round
 * trip that failed leaves the state as it was and is simply made again. */
#include "cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "hash.h"
#include "log.h"
#include "metrics.h"
#include "parts.h"
#include "store.h"
#include "store_cache.h"
#include "utf8.h"
#include "xalloc.h"

/* A key another consumer renders is looked up again after CACHE_POLL_MS, then twice as long
 * each time it is still held, up to CACHE_POLL_MAX_MS: a fleet waiting for a slow render does
 * not ask Redis twenty times a second per key and consumer. */
#define CACHE_POLL_MS     50
#define CACHE_POLL_MAX_MS 400
/* Entries, releases and counts wait this long for a round trip that goes anyway (lookups), so a
 * busy consumer does not make one just for them every tick; waiters elsewhere poll at
 * CACHE_POLL_MS, so an entry is not much later for it. */
#define CACHE_FLUSH_MS 25

enum slot_state { SLOT_LOOKUP, SLOT_WAITING, SLOT_RENDERING };

struct cache_slot {
    char               key[CACHEKEY_LEN + 1];
    struct cache_slot *chain;          /* hash bucket */
    struct cache_slot *prev, *next;    /* its queue */
    enum slot_state    state;
    int64_t            due_ms;         /* waiting: next lookup; rendering: next renewal */
    struct task       *leader;         /* rendering: the task rendering the key here */
    struct task       *head, *tail;    /* tasks waiting for the key */
    char              *stale;          /* uri of an entry whose audio is gone (next lookup) */
    size_t             op;             /* its op in the round trip being decided */
    int                polls;          /* lookups answered HELD in a row */
};

struct queue {
    struct cache_slot *head, *tail;
};

struct tlist {
    struct task *head, *tail;
};

/* An entry to write (and its claim to drop), or a claim to release alone (no uri), or a claim
 * a HIT took along to drop (drop). */
struct outgoing {
    char                     key[CACHEKEY_LEN + 1];
    struct store_cache_entry entry;    /* uri NULL: a release or drop */
    bool                     drop;
};

/* A count to add: billed characters of (campaign, provider), or cache hits (provider ""). */
struct counter {
    char    campaign[72];
    char    provider[64];
    int64_t n;
};

struct cache {
    int64_t                   ttl_s, claim_ttl_ms, poll_ms;
    char                      token[160];
    struct metrics           *metrics;
    struct cache_slot       **buckets;
    size_t                    nbuckets, nslots, held;
    struct queue              lookup, waiting, rendering;
    struct tlist              render, copy;      /* decided, to hand back */
    struct outgoing          *out;
    size_t                    nout, capout;
    struct counter           *counts;
    size_t                    ncounts, capcounts;
    int64_t                   pending_since_ms;  /* oldest entry, release or count not sent */
    struct store_cache_batch *batch;
};

/* ================================================================ lists */

static void tpush(struct tlist *l, struct task *t)
{
    t->next = NULL;
    if (l->tail)
        l->tail->next = t;
    else
        l->head = t;
    l->tail = t;
}

static struct task *ttake(struct tlist *l)
{
    struct task *h = l->head;
    *l = (struct tlist){0};
    return h;
}

static void qpush(struct queue *q, struct cache_slot *s)
{
    s->next = NULL;
    s->prev = q->tail;
    if (q->tail)
        q->tail->next = s;
    else
        q->head = s;
    q->tail = s;
}

static void qremove(struct queue *q, struct cache_slot *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        q->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        q->tail = s->prev;
    s->prev = s->next = NULL;
}

static struct queue *queue_of(struct cache *C, enum slot_state st)
{
    return st == SLOT_LOOKUP ? &C->lookup : st == SLOT_WAITING ? &C->waiting : &C->rendering;
}

/* Places s in q by due_ms, walking back from the tail. */
static void qinsert(struct queue *q, struct cache_slot *s)
{
    struct cache_slot *after = q->tail;
    while (after && after->due_ms > s->due_ms)
        after = after->prev;
    if (!after) {
        s->prev = NULL;
        s->next = q->head;
        if (q->head)
            q->head->prev = s;
        else
            q->tail = s;
        q->head = s;
        return;
    }
    s->prev = after;
    s->next = after->next;
    if (after->next)
        after->next->prev = s;
    else
        q->tail = s;
    after->next = s;
}

static void move_to(struct cache *C, struct cache_slot *s, enum slot_state st, int64_t due_ms)
{
    qremove(queue_of(C, s->state), s);
    s->state = st;
    s->due_ms = due_ms;
    qinsert(queue_of(C, st), s);
}

/* ================================================================ slots by key */

static size_t bucket_of(const struct cache *C, const char *key)
{
    return (size_t)(hash_bytes(key, CACHEKEY_LEN) & (C->nbuckets - 1));
}

static void grow(struct cache *C)
{
    size_t n = C->nbuckets ? 2 * C->nbuckets : 256;
    struct cache_slot **old = C->buckets;
    size_t oldn = C->nbuckets;
    C->buckets = xcalloc(n, sizeof *C->buckets);
    C->nbuckets = n;
    for (size_t i = 0; i < oldn; i++) {
        for (struct cache_slot *s = old[i], *next; s; s = next) {
            next = s->chain;
            size_t b = bucket_of(C, s->key);
            s->chain = C->buckets[b];
            C->buckets[b] = s;
        }
    }
    free(old);
}

static struct cache_slot *slot_find(const struct cache *C, const char *key)
{
    if (!C->nbuckets)
        return NULL;
    for (struct cache_slot *s = C->buckets[bucket_of(C, key)]; s; s = s->chain)
        if (memcmp(s->key, key, CACHEKEY_LEN) == 0)
            return s;
    return NULL;
}

/* A new slot for key, in the lookup queue. */
static struct cache_slot *slot_new(struct cache *C, const char *key)
{
    if (C->nslots + 1 > C->nbuckets)
        grow(C);
    struct cache_slot *s = xcalloc(1, sizeof *s);
    memcpy(s->key, key, CACHEKEY_LEN + 1);
    size_t b = bucket_of(C, key);
    s->chain = C->buckets[b];
    C->buckets[b] = s;
    C->nslots++;
    s->state = SLOT_LOOKUP;
    qpush(&C->lookup, s);
    return s;
}

static void slot_free(struct cache *C, struct cache_slot *s)
{
    qremove(queue_of(C, s->state), s);
    struct cache_slot **p = &C->buckets[bucket_of(C, s->key)];
    while (*p != s)
        p = &(*p)->chain;
    *p = s->chain;
    C->nslots--;
    free(s->stale);
    free(s);
}

static void slot_add_task(struct cache *C, struct cache_slot *s, struct task *t)
{
    t->next = NULL;
    if (s->tail)
        s->tail->next = t;
    else
        s->head = t;
    s->tail = t;
    C->held++;
}

static struct task *slot_pop(struct cache *C, struct cache_slot *s)
{
    struct task *t = s->head;
    if (t) {
        s->head = t->next;
        if (!s->head)
            s->tail = NULL;
        t->next = NULL;
        C->held--;
    }
    return t;
}

/* ================================================================ life */

struct cache *cache_new(const struct config *cfg, const char *token, struct metrics *metrics)
{
    struct cache *C = xcalloc(1, sizeof *C);
    C->ttl_s = config_int(cfg, "cache.ttl_s");
    C->claim_ttl_ms = config_int(cfg, "cache.claim_ttl_ms");
    if (C->claim_ttl_ms < 30)
        C->claim_ttl_ms = 30; /* renewed every third: a shorter claim could not be kept */
    C->poll_ms = CACHE_POLL_MS;
    snprintf(C->token, sizeof C->token, "%s", token ? token : "voxcast");
    C->metrics = metrics;
    C->batch = store_cache_batch_new();
    return C;
}

/* A variant child held here frees its job too (the job is in no list while children are out),
 * the job's other children out becoming orphans, freed wherever they are (parts.h). */
static void free_tasks(struct task *t)
{
    for (struct task *next; t; t = next) {
        next = t->next;
        if (t->parent) {
            struct task *job = parts_root(t);
            parts_abandon(job);
            task_free(job);
        }
        task_free(t);
    }
}

void cache_free(struct cache *C)
{
    if (!C)
        return;
    for (size_t i = 0; i < C->nbuckets; i++) {
        for (struct cache_slot *s = C->buckets[i], *next; s; s = next) {
            next = s->chain;
            free_tasks(s->head); /* (its leader, if any, is the engine's) */
            free(s->stale);
            free(s);
        }
    }
    free_tasks(ttake(&C->render));
    free_tasks(ttake(&C->copy));
    for (size_t i = 0; i < C->nout; i++)
        free(C->out[i].entry.uri);
    free(C->out);
    free(C->counts);
    free(C->buckets);
    store_cache_batch_free(C->batch);
    free(C);
}

/* ================================================================ admission */

bool cache_applies(const struct cache *C, const struct task *t)
{
    return C && C->ttl_s > 0 && t->valid && !t->job.no_dedup && t->job.nvariants == 0 && t->job.text &&
           (!parts_is_child(t) || t->variant[0]); /* a part: its job or variant is the request */
}

void cache_task_key(const struct task *t, char out[CACHEKEY_LEN + 1])
{
    struct cachekey_req r = {.text = t->job.text, .voice = t->job.voice, .lang = t->job.lang,
                             .format = t->job.format, .model = t->job.model};
    cachekey(&r, out);
}

/* Joins t to its key's slot (a new one is looked up with the next round trip). */
static void hold(struct cache *C, struct task *t, const char *stale)
{
    char key[CACHEKEY_LEN + 1];
    cache_task_key(t, key);
    struct cache_slot *s = slot_find(C, key);
    if (!s)
        s = slot_new(C, key);
    if (stale && s->state != SLOT_RENDERING) {
        free(s->stale);
        s->stale = xstrdup(stale);
    }
    t->cache = NULL;
    slot_add_task(C, s, t);
}

bool cache_admit(struct cache *C, struct task *t)
{
    if (!cache_applies(C, t))
        return false;
    hold(C, t, NULL);
    return true;
}

/* ================================================================ decisions */

/* t gets its audio by copying e: the writer links or copies it under t's own name. */
static void make_copy(struct cache *C, struct task *t, const struct store_cache_entry *e)
{
    t->cache = NULL;
    free(t->copy_from);
    t->copy_from = xstrdup(e->uri);
    t->copy_gone = false;
    t->outcome = OUTCOME_DONE;
    t->file_written = false;
    t->duration_ms = e->duration_ms;
    t->bytes = e->bytes;
    snprintf(t->sha256, sizeof t->sha256, "%s", e->sha256);
    snprintf(t->provider, sizeof t->provider, "cache");
    tpush(&C->copy, t);
}

/* Every task waiting in s becomes a copy of e; the slot goes. */
static void all_copy(struct cache *C, struct cache_slot *s, const struct store_cache_entry *e)
{
    struct task *t;
    while ((t = slot_pop(C, s)) != NULL)
        make_copy(C, t, e);
    slot_free(C, s);
}

static struct outgoing *queue_out(struct cache *C, const char *key, const struct task *t)
{
    if (C->nout == C->capout) {
        C->capout = C->capout ? 2 * C->capout : 32;
        C->out = xrealloc(C->out, C->capout * sizeof *C->out);
    }
    if (!C->nout && !C->ncounts)
        C->pending_since_ms = clock_mono_ms();
    struct outgoing *o = &C->out[C->nout++];
    memcpy(o->key, key, CACHEKEY_LEN + 1);
    o->entry = (struct store_cache_entry){0};
    o->drop = false;
    if (t) {
        o->entry.uri = xstrdup(t->uri);
        o->entry.duration_ms = t->duration_ms;
        o->entry.bytes = t->bytes;
        snprintf(o->entry.sha256, sizeof o->entry.sha256, "%s", t->sha256);
    }
    return o;
}

static void count(struct cache *C, const char *campaign, const char *provider, int64_t n)
{
    for (size_t i = 0; i < C->ncounts; i++) {
        struct counter *c = &C->counts[i];
        if (strcmp(c->campaign, campaign) == 0 && strcmp(c->provider, provider) == 0) {
            c->n += n;
            return;
        }
    }
    if (!C->nout && !C->ncounts)
        C->pending_since_ms = clock_mono_ms();
    if (C->ncounts == C->capcounts) {
        C->capcounts = C->capcounts ? 2 * C->capcounts : 16;
        C->counts = xrealloc(C->counts, C->capcounts * sizeof *C->counts);
    }
    struct counter *c = &C->counts[C->ncounts++];
    snprintf(c->campaign, sizeof c->campaign, "%s", campaign);
    snprintf(c->provider, sizeof c->provider, "%s", provider);
    c->n = n;
}

/* The leader of s delivered its audio: the entry goes out, the waiters here become copies. */
static void leader_written(struct cache *C, struct cache_slot *s, struct task *t)
{
    t->cache = NULL;
    s->leader = NULL;
    if (!t->uri || !t->uri[0]) { /* no name a reader could use: release, render the rest */
        queue_out(C, s->key, NULL);
        struct task *w;
        while ((w = slot_pop(C, s)) != NULL)
            tpush(&C->render, w);
        slot_free(C, s);
        return;
    }
    queue_out(C, s->key, t);
    struct store_cache_entry e = {.uri = t->uri, .duration_ms = t->duration_ms, .bytes = t->bytes};
    snprintf(e.sha256, sizeof e.sha256, "%s", t->sha256);
    all_copy(C, s, &e);
}

bool cache_collected(struct cache *C, struct task *t)
{
    if (t->copy_gone) {
        log_info("cached audio gone; looking the request up again", LOGS("campaign", t->job.campaign),
                 LOGS("contact", t->job.contact), LOGS("uri", t->copy_from));
        char *stale = t->copy_from;
        t->copy_from = NULL;
        t->copy_gone = false;
        t->outcome = OUTCOME_NONE;
        t->provider[0] = '\0';
        t->sha256[0] = '\0';
        t->duration_ms = 0;
        t->bytes = 0;
        hold(C, t, stale);
        free(stale);
        return true;
    }
    if (!t->file_written)
        return false;
    if (t->cache && t->cache->leader == t)
        leader_written(C, t->cache, t);
    else if (t->copy_from) {
        count(C, t->job.campaign, "", 1);
        if (C->metrics)
            metrics_cache_hit(C->metrics);
    }
    return false;
}

void cache_forget(struct cache *C, struct task *t)
{
    struct cache_slot *s = t->cache;
    if (!C || !s || s->leader != t)
        return;
    t->cache = NULL;
    s->leader = NULL;
    if (t->outcome == OUTCOME_DLQ || !s->head) {
        /* the render failed (or nobody waits): release; the waiters render each on its own */
        queue_out(C, s->key, NULL);
        struct task *w;
        while ((w = slot_pop(C, s)) != NULL)
            tpush(&C->render, w);
        slot_free(C, s);
        return;
    }
    move_to(C, s, SLOT_LOOKUP, 0); /* dropped: the claim is still ours; a waiter takes it over */
}

void cache_billed(struct cache *C, const struct task *t, size_t provider, const char *name)
{
    if (!C || !t->job.text)
        return;
    size_t n = utf8_count(t->job.text, strlen(t->job.text));
    if (C->metrics)
        metrics_provider_characters(C->metrics, provider, n);
    count(C, t->job.campaign, name, (int64_t)n);
}

/* ================================================================ the round trip */

/* Whether a round trip is due: lookups and renewals at once, the rest after CACHE_FLUSH_MS. */
static bool trip_due(const struct cache *C, int64_t now)
{
    return C->lookup.head || (C->waiting.head && C->waiting.head->due_ms <= now) ||
           (C->rendering.head && C->rendering.head->due_ms <= now) ||
           ((C->nout || C->ncounts) && now - C->pending_since_ms >= CACHE_FLUSH_MS);
}

bool cache_due(const struct cache *C, int64_t now)
{
    return C->render.head || C->copy.head || trip_due(C, now);
}

int64_t cache_timeout(const struct cache *C, int64_t now, int64_t timeout)
{
    if (cache_due(C, now))
        return 0;
    const struct cache_slot *heads[2] = {C->waiting.head, C->rendering.head};
    for (int i = 0; i < 2; i++)
        if (heads[i] && heads[i]->due_ms - now < timeout)
            timeout = heads[i]->due_ms - now;
    if ((C->nout || C->ncounts) && C->pending_since_ms + CACHE_FLUSH_MS - now < timeout)
        timeout = C->pending_since_ms + CACHE_FLUSH_MS - now;
    return timeout < 0 ? 0 : timeout;
}

static void build(struct cache *C, int64_t now)
{
    struct store_cache_batch *b = C->batch;
    store_cache_batch_reset(b);
    for (size_t i = 0; i < C->nout; i++) {
        if (C->out[i].entry.uri)
            store_cache_put(b, C->out[i].key, &C->out[i].entry, C->ttl_s, C->token);
        else if (C->out[i].drop)
            store_cache_drop_claim(b, C->out[i].key);
        else
            store_cache_release(b, C->out[i].key, C->token);
    }
    for (struct cache_slot *s = C->rendering.head; s && s->due_ms <= now; s = s->next)
        s->op = store_cache_renew(b, s->key, C->token, C->claim_ttl_ms);
    for (size_t i = 0; i < C->ncounts; i++) {
        const struct counter *c = &C->counts[i];
        if (c->provider[0])
            store_cache_add_chars(b, c->campaign, c->provider, c->n);
        else
            store_cache_add_hits(b, c->campaign, c->n);
    }
    for (struct cache_slot *s = C->lookup.head; s; s = s->next)
        s->op = store_cache_lookup(b, s->key, C->token, C->claim_ttl_ms, s->stale);
    for (struct cache_slot *s = C->waiting.head; s && s->due_ms <= now; s = s->next)
        s->op = store_cache_lookup(b, s->key, C->token, C->claim_ttl_ms, s->stale);
}

/* A lookup's answer for s. */
static void decide(struct cache *C, struct cache_slot *s, int64_t now)
{
    enum store_cache_result r = store_cache_result(C->batch, s->op);
    free(s->stale);
    s->stale = NULL;
    if (r == STORE_CACHE_HIT) {
        if (store_cache_hit_claimed(C->batch, s->op))
            queue_out(C, s->key, NULL)->drop = true; /* the lookup's SET NX took it along */
        all_copy(C, s, store_cache_entry(C->batch, s->op));
    } else if (r == STORE_CACHE_CLAIMED && s->head) {
        struct task *t = slot_pop(C, s);
        t->cache = s;
        s->leader = t;
        move_to(C, s, SLOT_RENDERING, now + C->claim_ttl_ms / 3);
        tpush(&C->render, t);
    } else if (r == STORE_CACHE_CLAIMED) {
        queue_out(C, s->key, NULL); /* nobody left to render it */
        slot_free(C, s);
    } else if (r == STORE_CACHE_HELD) {
        int64_t wait = C->poll_ms << (s->polls < 4 ? s->polls : 4);
        s->polls++;
        move_to(C, s, SLOT_WAITING, now + (wait < CACHE_POLL_MAX_MS ? wait : CACHE_POLL_MAX_MS));
    } else { /* INVALID: not a key Redis takes; render without the cache */
        struct task *t;
        while ((t = slot_pop(C, s)) != NULL)
            tpush(&C->render, t);
        slot_free(C, s);
    }
}

/* Applies the answers. Each step takes the head of a queue and moves it on (to a later due
 * time, another queue, or away), exactly the slots build() put in the batch, in its order. */
static void apply(struct cache *C, int64_t now)
{
    for (size_t i = 0; i < C->nout; i++) /* sent: what decide() queues below goes next time */
        free(C->out[i].entry.uri);
    C->nout = 0;
    C->ncounts = 0;
    struct cache_slot *s;
    while ((s = C->rendering.head) != NULL && s->due_ms <= now) {
        if (store_cache_result(C->batch, s->op) == STORE_CACHE_NOT_OURS)
            log_warn("render-once claim lost while rendering (it outlived cache.claim_ttl_ms); "
                     "another consumer may render the same request", LOGS("key", s->key));
        move_to(C, s, SLOT_RENDERING, now + C->claim_ttl_ms / 3);
    }
    /* waiting slots due before this round trip; those the lookups below move there are due later */
    while ((s = C->waiting.head) != NULL && s->due_ms <= now)
        decide(C, s, now);
    while ((s = C->lookup.head) != NULL)
        decide(C, s, now);
}

/* One round trip with whatever is due (and everything pending, forced or not). */
static int trip(struct cache *C, struct store *s, int64_t now)
{
    build(C, now);
    if (store_cache_batch_len(C->batch) == 0)
        return 0;
    if (store_cache_exec(s, C->batch) != 0)
        return -1;
    apply(C, now);
    return 0;
}

int cache_flush(struct cache *C, struct store *s)
{
    if (!C || !s || (!C->nout && !C->ncounts))
        return 0;
    return trip(C, s, clock_mono_ms());
}

int cache_tick(struct cache *C, struct store *s, int64_t now, struct task **render, struct task **copy)
{
    *render = *copy = NULL;
    int rc = s && trip_due(C, now) ? trip(C, s, now) : 0;
    *render = ttake(&C->render);
    *copy = ttake(&C->copy);
    return rc;
}

size_t cache_holding(const struct cache *C)
{
    return C ? C->held : 0;
}
