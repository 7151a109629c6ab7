/* account.h - one provider account shared by many consumers: the local side of the fleet's
 * concurrency leases, rate tokens, 429 pause and learned limit.
 *
 * Provider quotas belong to an account, not to a process. The fleet's state lives in Redis
 * (store_account.h): a lease count per consumer with an expiry, one token bucket, a "paused
 * until" and the learned limit. This module is the arithmetic around it, pure and on an
 * injected clock (monotonic ms), so every rule is exact in a test:
 *
 *   - Admission. An attempt starts only while this consumer holds a free slot (held > in_use)
 *     and, with a rate, a token. Slots and tokens come from a sync: one round trip for every
 *     provider together, not one per request; a finished attempt's slot is reused here without
 *     asking. A start refused for lack of a slot is counted as demand, so the next sync asks for
 *     more; a consumer with no demand hands its spare slots back at the next sync. A sync
 *     follows a change within ACCOUNT_SYNC_MS; while nothing moves (a saturated consumer asking
 *     the same and granted the same) the period doubles up to ACCOUNT_STEADY_MS (ACCOUNT_STARVED_MS
 *     while granted less than asked, to take slots others free soon), so a busy fleet costs
 *     Redis a few round trips per second per consumer. Leases live
 *     ACCOUNT_LEASE_TTL_MS: a consumer that stops syncing (SIGKILL) frees its slots by then.
 *   - Pause. A 429 with Retry-After pauses the provider for the whole fleet: the wait is sent with
 *     the next sync and every consumer reads the fleet's pause back.
 *   - Learned limit (adaptive, no configured one, or a lower one found): a 429
 *     too_many_concurrent_requests lowers it multiplicatively (at most once per
 *     ACCOUNT_DECREASE_GAP_MS, as one burst brings many), the provider's
 *     maximum-concurrent-requests header sets it, and sustained success raises it by one
 *     (AIMD). Proposals go to Redis, which keeps one value for the fleet; a learned limit never
 *     exceeds a configured one, nor a header's maximum.
 *   - Local share. With Redis away, the consumer keeps going on limit / (consumers last seen
 *     alive) slots and rate / alive tokens per second, so nothing stalls and the fleet stays
 *     near its limit; the next successful sync ends it.
 *
 * The engine calls account_admit() before a start, account_started() after one, account_done()
 * with each answer, and account_sync_want()/account_sync_apply() (or account_go_local()) when
 * account_sync_due() says so. */
#ifndef VOXCAST_ACCOUNT_H
#define VOXCAST_ACCOUNT_H

#include <stdbool.h>
#include <stdint.h>

#include "ratelimit.h"
#include "store_account.h"

#define ACCOUNT_SYNC_MS          50   /* a sync after a change (demand, a proposal) */
#define ACCOUNT_STEADY_MS        400  /* the longest period of a busy consumer while nothing moves */
#define ACCOUNT_STARVED_MS       100  /* ... while granted less than asked (others may free slots) */
#define ACCOUNT_TOKEN_MS         200  /* the longest period while a rate applies (token batches) */
#define ACCOUNT_IDLE_SYNC_MS     1000 /* heartbeat and lease refresh of an idle one */
#define ACCOUNT_LEASE_TTL_MS     3000 /* a consumer silent this long gives its slots back */
#define ACCOUNT_DECREASE_GAP_MS  1000 /* one multiplicative decrease per burst of 429s */

struct account {
    /* configuration */
    int              configured;      /* provider.NAME.account_concurrency; 0: unknown */
    double           rate;            /* provider.NAME.account_rate; 0: unlimited */
    bool             adaptive;        /* provider.NAME.adaptive */
    /* this consumer */
    int              held;            /* slots held (granted at the last sync, or the local share) */
    int              in_use;          /* attempts out under the account */
    int              blocked;         /* starts refused for lack of a slot since the last sync */
    int              tokens;          /* rate tokens in hand */
    int              tokens_blocked;  /* starts refused for lack of a token since the last sync */
    int              tokens_asked;    /* tokens fetched at the last sync (to hand back the rest) */
    int64_t          paused_until_ms; /* the fleet's pause, on this consumer's clock */
    int64_t          last_sync_ms;    /* 0: never */
    int              last_want;       /* slots asked for at the last sync */
    bool             starved;         /* granted fewer slots than asked at the last sync */
    int64_t          steady_ms;       /* the sync period while nothing moves: doubles up to
                                         ACCOUNT_STEADY_MS, back to ACCOUNT_SYNC_MS on a change */
    /* the fleet, as of the last sync */
    int              learned;         /* 0: nothing learned */
    int              header_max;      /* the provider's maximum-concurrent-requests (0: unseen) */
    int              fleet_in_flight;
    int              alive;
    /* proposals for the next sync */
    char             learn_op;
    int              learn_value;
    int64_t          pause_ms;
    int64_t          last_decrease_ms;
    int              successes;       /* since the last raise or decrease */
    /* Redis away */
    bool             local;
    struct ratelimit local_rate;
};

/* Starts an account at now_ms. configured <= 0: unknown; rate <= 0: unlimited. */
void account_init(struct account *a, int configured, double rate, bool adaptive, int64_t now_ms);

/* The limit in force: the configured one, lowered by a learned one; 0 when there is none
 * (unlimited). */
int account_limit(const struct account *a);

/* True when the account constrains starts or must talk to the fleet: a limit (configured or
 * learned), a rate, or adaptive learning that may bring one. */
bool account_active(const struct account *a);

/* Whether one attempt may start at now_ms: 0 yes (call account_started() once it did), -1 no
 * slot or token yet (the task waits in the ready queue; counted as demand), or > 0 the ms to
 * wait (the fleet is paused, or the local share's bucket is empty). */
int64_t account_admit(struct account *a, int64_t now_ms);
void account_started(struct account *a, int64_t now_ms);

/* One attempt's answer. throttled: the answer said "too many requests" (a rate signal, 429
 * classified throttled); concurrency: it named concurrency (ElevenLabs
 * too_many_concurrent_requests); header_max: maximum-concurrent-requests (0: absent);
 * retry_after_ms: -1 when none. A success counts toward raising a learned limit. */
void account_done(struct account *a, bool success, bool throttled, bool concurrency, int header_max,
                  int64_t retry_after_ms, int64_t now_ms);

/* Whether a sync is due at now_ms: ACCOUNT_SYNC_MS after the last one when the demand changed or
 * a proposal waits; the steady period (at most ACCOUNT_STEADY_MS, ACCOUNT_TOKEN_MS with a rate)
 * while slots are held or in use and nothing moved; ACCOUNT_IDLE_SYNC_MS when idle. Inactive
 * accounts never. */
bool account_sync_due(const struct account *a, int64_t now_ms);
/* The next time a sync will be due (INT64_MAX for an inactive account). */
int64_t account_next_sync_ms(const struct account *a);

/* Fills what to ask the fleet for; clears the proposals it carries. */
void account_sync_want(struct account *a, struct store_account_want *w);
/* Applies the fleet's answer at now_ms; ends a local share. */
void account_sync_apply(struct account *a, const struct store_account_want *w, const struct store_account_grant *g,
                        int64_t now_ms);

/* Redis is unreachable: run on a share of limit / alive slots and rate / alive per second
 * (alive as last seen; at least one slot) until the next successful sync. */
void account_go_local(struct account *a, int64_t now_ms);

/* The share a consumer takes alone: limit / alive, rounded down, at least 1; 0 when unlimited. */
int account_local_share(int limit, int alive);

#endif
