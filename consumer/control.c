/* control.c - the campaign control cache; see control.h.
 *
 * A chained hash table keyed by campaign id (hash.h), grown when it averages two entries per
 * bucket. control_due remembers the earliest moment a held entry goes stale, so the tick's call
 * costs one comparison until then, and keeps the entries it named in `asked` for control_apply:
 * entries are freed only inside control_due, so those pointers stay valid in between. */
#include "control.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "xalloc.h"

struct control_entry {
    struct control_entry *next;      /* bucket chain */
    uint64_t              hash;
    char                 *campaign;  /* owned */
    enum store_control    state;
    int64_t               read_ms;   /* when the reading was taken; -1: never */
    size_t                holders;
};

struct control {
    int64_t                ttl_ms;
    struct control_entry **buckets;
    size_t                 nbuckets;  /* a power of two */
    size_t                 n;
    int64_t                next_due_ms; /* no held entry is stale before this */
    struct control_entry **asked;    /* named by the last control_due */
    size_t                 nasked, asked_cap;
};

#define CONTROL_BUCKETS_MIN 16

struct control *control_new(int64_t ttl_ms)
{
    struct control *c = xcalloc(1, sizeof *c);
    c->ttl_ms = ttl_ms > 0 ? ttl_ms : 1;
    c->nbuckets = CONTROL_BUCKETS_MIN;
    c->buckets = xcalloc(c->nbuckets, sizeof *c->buckets);
    return c;
}

static void entry_free(struct control_entry *e)
{
    free(e->campaign);
    free(e);
}

void control_free(struct control *c)
{
    if (!c)
        return;
    for (size_t b = 0; b < c->nbuckets; b++)
        for (struct control_entry *e = c->buckets[b], *next; e; e = next) {
            next = e->next;
            entry_free(e);
        }
    free(c->buckets);
    free(c->asked);
    free(c);
}

static void grow(struct control *c)
{
    size_t n = c->nbuckets * 2;
    struct control_entry **b = xcalloc(n, sizeof *b);
    for (size_t i = 0; i < c->nbuckets; i++)
        for (struct control_entry *e = c->buckets[i], *next; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    free(c->buckets);
    c->buckets = b;
    c->nbuckets = n;
}

struct control_entry *control_hold(struct control *c, const char *campaign)
{
    size_t len = strlen(campaign);
    uint64_t h = hash_bytes(campaign, len);
    for (struct control_entry *e = c->buckets[h & (c->nbuckets - 1)]; e; e = e->next)
        if (e->hash == h && strcmp(e->campaign, campaign) == 0) {
            if (e->holders++ == 0 && e->read_ms + c->ttl_ms < c->next_due_ms)
                c->next_due_ms = e->read_ms + c->ttl_ms; /* held again: refreshed again */
            return e;
        }
    if (c->n >= 2 * c->nbuckets)
        grow(c);
    struct control_entry *e = xcalloc(1, sizeof *e);
    e->hash = h;
    e->campaign = xmalloc(len + 1);
    memcpy(e->campaign, campaign, len + 1);
    e->state = STORE_CONTROL_RUNNING;
    e->read_ms = -1;
    e->holders = 1;
    e->next = c->buckets[h & (c->nbuckets - 1)];
    c->buckets[h & (c->nbuckets - 1)] = e;
    c->n++;
    c->next_due_ms = INT64_MIN; /* unread: due at once */
    return e;
}

void control_release(struct control *c, struct control_entry *e)
{
    (void)c;
    if (e && e->holders > 0)
        e->holders--;
}

enum store_control control_state(const struct control_entry *e)
{
    return e ? e->state : STORE_CONTROL_RUNNING;
}

const char *control_campaign(const struct control_entry *e)
{
    return e ? e->campaign : "";
}

size_t control_len(const struct control *c)
{
    return c->n;
}

static bool stale(const struct control_entry *e, int64_t now_ms, int64_t age)
{
    return e->read_ms < 0 || now_ms - e->read_ms >= age;
}

/* Drops the entries nobody holds whose reading is stale: they would be read again anyway. */
static void sweep(struct control *c, int64_t now_ms)
{
    for (size_t b = 0; b < c->nbuckets; b++)
        for (struct control_entry **p = &c->buckets[b]; *p;) {
            struct control_entry *e = *p;
            if (e->holders == 0 && stale(e, now_ms, c->ttl_ms)) {
                *p = e->next;
                entry_free(e);
                c->n--;
            } else {
                p = &e->next;
            }
        }
}

size_t control_due(struct control *c, int64_t now_ms, const char **names, size_t max)
{
    c->nasked = 0;
    if (now_ms < c->next_due_ms)
        return 0;
    sweep(c, now_ms);
    if (c->asked_cap < max) {
        c->asked = xrealloc(c->asked, max * sizeof *c->asked);
        c->asked_cap = max;
    }
    int64_t next = INT64_MAX;
    for (size_t b = 0; b < c->nbuckets; b++)
        for (struct control_entry *e = c->buckets[b]; e; e = e->next) {
            if (e->holders == 0)
                continue;
            if (stale(e, now_ms, c->ttl_ms / 2) && c->nasked < max) {
                names[c->nasked] = e->campaign;
                c->asked[c->nasked++] = e;
                continue; /* read now: its next due time comes with the reading */
            }
            int64_t due = e->read_ms < 0 ? INT64_MIN : e->read_ms + c->ttl_ms;
            if (due < next)
                next = due;
        }
    c->next_due_ms = c->nasked > 0 && now_ms + c->ttl_ms < next ? now_ms + c->ttl_ms : next;
    return c->nasked;
}

size_t control_apply(struct control *c, const enum store_control *values, size_t n, int64_t now_ms)
{
    size_t turned = 0;
    for (size_t i = 0; i < n && i < c->nasked; i++) {
        struct control_entry *e = c->asked[i];
        if (values[i] != e->state && values[i] != STORE_CONTROL_RUNNING)
            turned++;
        e->state = values[i];
        e->read_ms = now_ms;
    }
    c->nasked = 0;
    return turned;
}

void control_invalidate(struct control *c, struct control_entry *e)
{
    if (!e)
        return;
    e->state = STORE_CONTROL_RUNNING;
    e->read_ms = -1;
    c->next_due_ms = INT64_MIN;
}

enum control_fate control_fate(const struct control_entry *e, int64_t expires_at_ms, int64_t now_wall_ms)
{
    enum store_control s = control_state(e);
    if (s == STORE_CONTROL_CANCELLED)
        return CONTROL_CANCEL;
    if (expires_at_ms > 0 && now_wall_ms >= expires_at_ms)
        return CONTROL_EXPIRED;
    return s == STORE_CONTROL_PAUSED ? CONTROL_ASIDE : CONTROL_RENDER;
}
