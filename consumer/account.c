/* account.c - the local side of a fleet-shared provider account; see account.h. */
#include "account.h"

#include <math.h>
#include <string.h>

/* A raise needs this many successes per slot of the current limit: about two full windows
 * without a 429, so the limit creeps up slowly and a 429 soon takes it back down. */
#define RAISE_WINDOWS 2
/* A decrease keeps this fraction of what was in flight. */
#define DECREASE_FACTOR 0.75

void account_init(struct account *a, int configured, double rate, bool adaptive, int64_t now_ms)
{
    memset(a, 0, sizeof *a);
    a->configured = configured > 0 ? configured : 0;
    a->rate = isfinite(rate) && rate > 0 ? rate : 0;
    a->adaptive = adaptive;
    a->alive = 1;
    a->steady_ms = ACCOUNT_SYNC_MS;
    ratelimit_init(&a->local_rate, 0, 1, now_ms);
}

int account_limit(const struct account *a)
{
    int limit = a->configured;
    if (a->learned > 0 && (limit == 0 || a->learned < limit))
        limit = a->learned;
    return limit;
}

bool account_active(const struct account *a)
{
    return a->configured > 0 || a->rate > 0 || a->adaptive;
}

int64_t account_admit(struct account *a, int64_t now_ms)
{
    if (!account_active(a))
        return 0;
    if (a->paused_until_ms > now_ms)
        return a->paused_until_ms - now_ms;
    if (account_limit(a) > 0 && a->in_use >= a->held) {
        a->blocked++;
        return -1;
    }
    if (a->rate <= 0)
        return 0;
    if (a->local)
        return ratelimit_take(&a->local_rate, now_ms);
    if (a->tokens <= 0) {
        a->tokens_blocked++;
        return -1;
    }
    return 0;
}

void account_started(struct account *a, int64_t now_ms)
{
    (void)now_ms;
    if (!account_active(a))
        return;
    a->in_use++;
    if (a->rate > 0 && !a->local && a->tokens > 0)
        a->tokens--;
}

/* Proposes a learned limit; a pending lower proposal wins over a higher one. */
static void propose(struct account *a, char op, int value)
{
    if (value < 1)
        value = 1;
    if (a->configured > 0 && value > a->configured)
        value = a->configured;
    if (op == 'U' && (a->learn_op || (a->header_max > 0 && value > a->header_max)))
        return; /* any pending change wins over a raise */
    if (a->learn_op == 'D' && value >= a->learn_value)
        return; /* so does a pending lowering over anything higher */
    a->learn_op = op;
    a->learn_value = value;
}

static void learn_from(struct account *a, bool success, bool concurrency, int header_max, int64_t now_ms)
{
    if (header_max > 0) {
        a->header_max = header_max; /* the account's own word: a ceiling for raises */
        if ((a->learned == 0 || a->learned > header_max) && (a->configured == 0 || header_max < a->configured))
            propose(a, 'S', header_max);
    }
    if (concurrency && now_ms - a->last_decrease_ms >= ACCOUNT_DECREASE_GAP_MS) {
        int base = a->learned;
        if (base == 0) /* what was out when the account said "too many": the fleet's, or ours */
            base = a->fleet_in_flight > a->in_use + 1 ? a->fleet_in_flight : a->in_use + 1;
        a->last_decrease_ms = now_ms;
        a->successes = 0;
        propose(a, 'D', (int)floor(base * DECREASE_FACTOR));
        return;
    }
    if (!success || a->learned <= 0)
        return;
    if (++a->successes >= a->learned * RAISE_WINDOWS && (a->configured == 0 || a->learned < a->configured)) {
        a->successes = 0;
        propose(a, 'U', a->learned + 1);
    }
}

void account_done(struct account *a, bool success, bool throttled, bool concurrency, int header_max,
                  int64_t retry_after_ms, int64_t now_ms)
{
    if (!account_active(a))
        return;
    if (a->in_use > 0)
        a->in_use--;
    if (a->adaptive)
        learn_from(a, success, concurrency, header_max, now_ms);
    if (throttled && retry_after_ms > 0 && retry_after_ms > a->pause_ms)
        a->pause_ms = retry_after_ms;
    if (throttled && retry_after_ms > 0 && a->paused_until_ms < now_ms + retry_after_ms)
        a->paused_until_ms = now_ms + retry_after_ms; /* here at once; the fleet at the sync */
}

static bool busy(const struct account *a)
{
    return a->held > 0 || a->in_use > 0 || a->blocked > 0 || a->tokens > 0 || a->tokens_blocked > 0 ||
           a->learn_op || a->pause_ms > 0;
}

/* Slots to ask for: those in use and the starts refused since the last sync, within the limit. */
static int slots_wanted(const struct account *a)
{
    int slots = a->in_use + a->blocked;
    int limit = account_limit(a);
    if (limit > 0 && slots > limit)
        slots = limit;
    return slots > a->in_use ? slots : a->in_use;
}

int64_t account_next_sync_ms(const struct account *a)
{
    if (!account_active(a))
        return INT64_MAX;
    if (a->last_sync_ms == 0)
        return 0;
    if (!busy(a))
        return a->last_sync_ms + ACCOUNT_IDLE_SYNC_MS;
    /* a changed demand matters only where slots are counted (a limit) */
    bool moved = account_limit(a) > 0 && slots_wanted(a) != a->last_want;
    if (a->learn_op || a->pause_ms > 0 || moved)
        return a->last_sync_ms + ACCOUNT_SYNC_MS;
    int64_t period = a->steady_ms > ACCOUNT_SYNC_MS ? a->steady_ms : ACCOUNT_SYNC_MS;
    if (a->starved && period > ACCOUNT_STARVED_MS)
        period = ACCOUNT_STARVED_MS;
    if (a->rate > 0 && period > ACCOUNT_TOKEN_MS)
        period = ACCOUNT_TOKEN_MS;
    return a->last_sync_ms + period;
}

bool account_sync_due(const struct account *a, int64_t now_ms)
{
    return account_active(a) && now_ms >= account_next_sync_ms(a);
}

/* Tokens to fetch per sync: what was used or wanted since the last one, bounded by twice this
 * consumer's share of one period's refill, so one consumer cannot drain the bucket. */
static int tokens_wanted(const struct account *a)
{
    if (a->rate <= 0)
        return 0;
    int used = a->tokens_asked - a->tokens;
    int want = (used > 0 ? used : 0) + a->tokens_blocked;
    int alive = a->alive > 0 ? a->alive : 1;
    int cap = (int)ceil(a->rate * ACCOUNT_TOKEN_MS / 1000.0 * 2 / alive);
    if (cap < 1)
        cap = 1;
    return want > cap ? cap : want;
}

void account_sync_want(struct account *a, struct store_account_want *w)
{
    memset(w, 0, sizeof *w);
    w->limit = a->configured;
    w->adaptive = a->adaptive;
    w->in_use = a->in_use;
    w->slots = slots_wanted(a);
    w->rate = a->rate;
    w->tokens_back = a->local ? 0 : a->tokens;
    w->tokens = tokens_wanted(a);
    w->learn_op = a->learn_op;
    w->learn_value = a->learn_value;
    w->pause_ms = a->pause_ms;
    a->learn_op = 0;
    a->pause_ms = 0;
}

void account_sync_apply(struct account *a, const struct store_account_want *w, const struct store_account_grant *g,
                        int64_t now_ms)
{
    /* nothing moved (the same ask, the same grant): the next sync may wait twice as long */
    bool steady = !a->local && w->slots == a->last_want && g->slots == a->held;
    a->steady_ms = steady ? (a->steady_ms * 2 > ACCOUNT_STEADY_MS ? ACCOUNT_STEADY_MS : a->steady_ms * 2)
                          : ACCOUNT_SYNC_MS;
    a->last_want = w->slots;
    a->starved = g->slots < w->slots;
    a->local = false;
    a->held = g->slots > a->in_use ? g->slots : a->in_use;
    a->blocked = 0;
    a->tokens = g->tokens;
    a->tokens_asked = g->tokens;
    a->tokens_blocked = 0;
    a->fleet_in_flight = g->fleet_in_flight;
    if (a->learned != g->learned)
        a->successes = 0;
    a->learned = g->learned;
    a->alive = g->alive > 0 ? g->alive : 1;
    if (g->paused_ms > 0 && a->paused_until_ms < now_ms + g->paused_ms)
        a->paused_until_ms = now_ms + g->paused_ms;
    a->last_sync_ms = now_ms > 0 ? now_ms : 1;
}

int account_local_share(int limit, int alive)
{
    if (limit <= 0)
        return 0;
    int share = limit / (alive > 0 ? alive : 1);
    return share > 0 ? share : 1;
}

void account_go_local(struct account *a, int64_t now_ms)
{
    int alive = a->alive > 0 ? a->alive : 1;
    if (!a->local && a->rate > 0)
        ratelimit_init(&a->local_rate, a->rate / alive, 1, now_ms);
    a->local = true;
    a->held = account_local_share(account_limit(a), alive);
    a->blocked = 0;
    a->tokens = 0;
    a->tokens_asked = 0;
    a->tokens_blocked = 0;
    a->last_sync_ms = now_ms > 0 ? now_ms : 1; /* try the fleet again a period later */
}
