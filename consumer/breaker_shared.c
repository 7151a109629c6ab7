/* breaker_shared.c - keeps each provider's breaker in step with the fleet's; see breaker_shared.h.
 *
 * A sync is plan (what this consumer has to say, per breaker), one store_breaker_sync round trip
 * for all breakers, then apply (what the fleet says). Plan and apply are pure, so the protocol is
 * unit-tested on an injected clock; this file's I/O is the connection, its back-off and the two
 * log lines that tell an operator whether the breakers are shared. A failed sync moves no mark,
 * so what was to be reported is reported by the next sync that goes through. */
#include "breaker_shared.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "log.h"
#include "store.h"
#include "xalloc.h"

#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS 5000

struct shared_slot {
    char                      name[64];
    struct breaker           *b;        /* borrowed from the provider */
    struct breaker_share_mark mark;
};

struct breaker_shared {
    char              *url;
    struct store      *store;           /* NULL until connected (and after a failed connect) */
    char               token[96];       /* names this consumer's probe leases */
    struct shared_slot slot[BREAKER_SHARED_MAX];
    size_t             n;
    bool               ok;              /* the last sync went through (or none was tried yet) */
    bool               tried;           /* a sync was tried */
    int64_t            next_sync_ms;
    int64_t            retry_ms;        /* current back-off while Redis is unreachable */
};

/* ---------------------------------------------------------------- plan and apply (pure) */

static enum store_breaker_want plan_want(struct breaker *b, const struct breaker_share_mark *m, int64_t now_ms)
{
    bool wanted = breaker_take_wanted(b);
    if (b->state == BREAKER_HALF_OPEN && (b->probes_in_flight > 0 || wanted))
        return STORE_BREAKER_PROBE;
    if (b->state == BREAKER_OPEN && !b->probe_permit && wanted && now_ms >= breaker_next_probe_ms(b))
        return STORE_BREAKER_PROBE;
    if (m->held || b->probe_permit || b->state == BREAKER_HALF_OPEN)
        return STORE_BREAKER_RELEASE;
    return STORE_BREAKER_IDLE;
}

struct store_breaker_op breaker_shared_plan(struct breaker *b, const struct breaker_share_mark *m, int64_t now_ms)
{
    struct store_breaker_op op = {.report = STORE_BREAKER_NONE, .want = plan_want(b, m, now_ms)};
    if (b->opens != m->opens && b->state != BREAKER_CLOSED) {
        int64_t left = breaker_next_probe_ms(b) - now_ms; /* HALF_OPEN: 0 - now, clamped below */
        op.report = STORE_BREAKER_OPENED;
        op.open_ms = b->state == BREAKER_OPEN && left > 0 ? left : 0;
    } else if (b->closes != m->closes && b->state == BREAKER_CLOSED) {
        op.report = STORE_BREAKER_CLOSED;
        op.want = STORE_BREAKER_IDLE;
    }
    return op;
}

void breaker_shared_apply(struct breaker *b, struct breaker_share_mark *m, const struct store_breaker_op *op,
                          const struct store_breaker_view *v, int64_t now_ms)
{
    (void)op;
    m->opens = b->opens;
    m->closes = b->closes;
    m->held = v->open && v->probe;
    if (!v->open) {
        if (b->state != BREAKER_CLOSED)
            breaker_adopt_close(b);
    } else if (v->probe) {
        breaker_grant_probe(b, now_ms);
    } else {
        breaker_adopt_open(b, now_ms + v->remaining_ms);
    }
}

/* ---------------------------------------------------------------- set-up */

static void make_token(struct breaker_shared *bs)
{
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        r = (uint64_t)(uintptr_t)bs ^ (uint64_t)getpid() << 32;
    char host[64] = "";
    if (gethostname(host, sizeof host) != 0)
        host[0] = '\0';
    host[sizeof host - 1] = '\0';
    snprintf(bs->token, sizeof bs->token, "%.48s:%ld:%016" PRIx64, host, (long)getpid(), r);
}

struct breaker_shared *breaker_shared_new(const char *redis_url)
{
    struct breaker_shared *bs = xcalloc(1, sizeof *bs);
    bs->url = xstrdup(redis_url ? redis_url : "");
    bs->ok = true;
    bs->retry_ms = RETRY_MIN_MS;
    make_token(bs);
    return bs;
}

void breaker_shared_free(struct breaker_shared *bs)
{
    if (!bs)
        return;
    store_close(bs->store);
    free(bs->url);
    free(bs);
}

int breaker_shared_add(struct breaker_shared *bs, const char *name, struct breaker *b)
{
    size_t len = strlen(name);
    if (bs->n >= BREAKER_SHARED_MAX || len == 0 || len >= sizeof bs->slot[0].name)
        return -1;
    struct shared_slot *s = &bs->slot[bs->n++];
    memcpy(s->name, name, len + 1);
    s->b = b;
    s->mark = (struct breaker_share_mark){.opens = b->opens, .closes = b->closes};
    breaker_set_shared(b, true);
    return 0;
}

bool breaker_shared_ok(const struct breaker_shared *bs)
{
    return bs && bs->ok;
}

/* ---------------------------------------------------------------- syncing */

static void set_all_shared(struct breaker_shared *bs, bool shared)
{
    for (size_t i = 0; i < bs->n; i++)
        breaker_set_shared(bs->slot[i].b, shared);
}

/* A sync failed: the breakers are this process's own until one goes through again. */
static void sync_failed(struct breaker_shared *bs, const char *error, int64_t now_ms)
{
    if (bs->ok || !bs->tried)
        log_warn("shared breaker: redis unreachable; each consumer keeps its own breakers until it returns",
                 LOGS("error", error), LOGN("retry_ms", bs->retry_ms));
    if (bs->ok || !bs->tried)
        set_all_shared(bs, false);
    bs->ok = false;
    bs->tried = true;
    bs->next_sync_ms = now_ms + bs->retry_ms;
    bs->retry_ms = bs->retry_ms * 2 < RETRY_MAX_MS ? bs->retry_ms * 2 : RETRY_MAX_MS;
}

static void sync_recovered(struct breaker_shared *bs)
{
    if (!bs->ok)
        log_info("shared breaker: redis reachable; breakers are shared again", LOGN("providers", bs->n));
    bs->ok = true;
    bs->tried = true;
    bs->retry_ms = RETRY_MIN_MS;
}

static bool connected(struct breaker_shared *bs, char *err, size_t errlen)
{
    if (bs->store)
        return true;
    bs->store = store_open(bs->url, 0, err, errlen); /* one attempt: the loop must not wait */
    return bs->store != NULL;
}

static bool has_news(const struct breaker_shared *bs)
{
    for (size_t i = 0; i < bs->n; i++) {
        const struct breaker *b = bs->slot[i].b;
        if (b->opens != bs->slot[i].mark.opens || b->closes != bs->slot[i].mark.closes)
            return true;
    }
    return false;
}

/* A returning Redis makes the breakers shared again before planning, so the plan asks for
 * permits; if the sync fails after all they go back to being this process's. */
static void sync_now(struct breaker_shared *bs, int64_t now_ms)
{
    bool was_ok = bs->ok;
    struct store_breaker_op ops[BREAKER_SHARED_MAX];
    struct store_breaker_view views[BREAKER_SHARED_MAX];
    char err[512] = "";
    if (!connected(bs, err, sizeof err)) {
        sync_failed(bs, err, now_ms);
        return;
    }
    if (!was_ok)
        set_all_shared(bs, true);
    for (size_t i = 0; i < bs->n; i++) {
        ops[i] = breaker_shared_plan(bs->slot[i].b, &bs->slot[i].mark, now_ms);
        ops[i].provider = bs->slot[i].name;
    }
    if (store_breaker_sync(bs->store, bs->token, BREAKER_SHARED_LEASE_MS, ops, bs->n, views) != 0) {
        snprintf(err, sizeof err, "%s", store_error(bs->store));
        store_close(bs->store);
        bs->store = NULL;
        bs->ok = was_ok;
        if (!was_ok)
            set_all_shared(bs, false);
        sync_failed(bs, err, now_ms);
        return;
    }
    for (size_t i = 0; i < bs->n; i++)
        breaker_shared_apply(bs->slot[i].b, &bs->slot[i].mark, &ops[i], &views[i], now_ms);
    sync_recovered(bs);
    bs->next_sync_ms = now_ms + BREAKER_SHARED_SYNC_MS;
}

void breaker_shared_tick(struct breaker_shared *bs, int64_t now_ms)
{
    if (!bs || bs->n == 0)
        return;
    bool due = now_ms >= bs->next_sync_ms || (bs->ok && has_news(bs));
    if (due)
        sync_now(bs, now_ms);
}

int64_t breaker_shared_next_ms(const struct breaker_shared *bs)
{
    if (!bs)
        return INT64_MAX;
    for (size_t i = 0; i < bs->n; i++)
        if (bs->slot[i].b->state != BREAKER_CLOSED || bs->slot[i].mark.held)
            return bs->next_sync_ms;
    return INT64_MAX;
}
