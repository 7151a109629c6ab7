/* store_account.h - provider accounts shared by a fleet of consumers, in Redis.
 *
 * Consumers that share redis.url and a provider name share that provider's account: its
 * concurrency, its request rate, a 429's pause and the limit learned from its answers. One
 * script per provider does a consumer's whole exchange with the fleet (a "sync"), and one
 * store_account_sync() sends the scripts of every provider in a single round trip, so Redis
 * sees a round trip per consumer every few tens of milliseconds, not one per request.
 *
 * Keys (P is a provider name, [A-Za-z0-9._-]{1,64}; one hash tag per provider):
 *   voxcast:accounts              SET    provider names that ever synced (for `voxcast status`)
 *   voxcast:account:{P}:slots     HASH   consumer -> "held/wanted/in_use" at its last sync
 *   voxcast:account:{P}:alive     ZSET   consumer -> lease expiry (ms); an expired consumer's
 *                                        slots are dropped by the next sync of any consumer
 *   voxcast:account:{P}:bucket    HASH   t (tokens), ts (ms): the fleet's token bucket
 *   voxcast:account:{P}:limit     HASH   conf (the configured limit last synced), learned
 *   voxcast:account:{P}:paused    STRING paused until (ms), expiring then
 *
 * Grants. A sync drops expired consumers, applies the learned-limit proposal, and grants
 * min(wanted, limit - slots held by the others), never less than the caller's in_use (those
 * requests are out already). While another consumer holds fewer slots than it wants and than
 * its fair share (limit / consumers wanting any), the grant is capped at that share too, so a
 * consumer that came first cannot keep the whole account. Tokens: the bucket refills at the
 * rate up to its capacity; returned tokens go back in; the grant is min(asked, whole tokens).
 * Time is Redis's (TIME) unless the caller passes one (tests), so consumers' clocks may differ. */
#ifndef VOXCAST_STORE_ACCOUNT_H
#define VOXCAST_STORE_ACCOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* What a consumer asks of one provider's account. */
struct store_account_want {
    int     limit;          /* the configured limit (0: none) */
    bool    adaptive;
    int     slots;          /* slots to hold after the sync */
    int     in_use;         /* of which busy now (never taken away) */
    double  rate;           /* requests/s for the fleet (0: none) */
    int     tokens_back;    /* tokens of the last sync not used */
    int     tokens;         /* tokens to fetch */
    char    learn_op;       /* 'S' set, 'D' lower to, 'U' raise to (only from value - 1), 0 none */
    int     learn_value;
    int64_t pause_ms;       /* a 429's wait to publish to the fleet (0: none) */
};

/* What the fleet answered. */
struct store_account_grant {
    int     slots;           /* granted slots (>= in_use asked) */
    int     fleet_in_flight; /* in_use summed over the live consumers, this one's as asked */
    int     learned;         /* the fleet's learned limit (0: none) */
    int     tokens;
    int64_t paused_ms;       /* the fleet's pause left (0: none) */
    int     alive;           /* consumers with a live lease, this one included */
};

/* One sync of `consumer` (an id unique in the fleet, at most 128 bytes) for n providers:
 * names[i] asks want[i] and gets grant[i]. The lease lasts ttl_ms. now_ms < 0: Redis's clock.
 * One round trip. Returns 0, or -1 (store_error; an invalid provider name is an error). */
int store_account_sync(struct store *s, const char *consumer, int64_t ttl_ms, int64_t now_ms,
                       const char *const *names, const struct store_account_want *want,
                       struct store_account_grant *grant, size_t n);

/* Gives back every slot `consumer` holds for the n providers (a clean shutdown). 0 or -1. */
int store_account_leave(struct store *s, const char *consumer, const char *const *names, size_t n);

/* The fleet's view of one provider's account. */
struct store_account_view {
    char    provider[65];
    int     limit;           /* the limit in force: configured, lowered by learned; 0: none */
    int     configured;      /* 0: none */
    int     learned;         /* 0: none */
    int     in_flight;       /* across live consumers, as of their last syncs */
    int     held;            /* slots leased across live consumers */
    int     alive;           /* live consumers */
    int64_t paused_ms;       /* pause left; 0: none */
};

/* Every provider account that ever synced, sorted by name: *out is malloc'd (free() it; NULL
 * when *n is 0). now_ms < 0: Redis's clock. 0 or -1. */
int store_account_list(struct store *s, int64_t now_ms, struct store_account_view **out, size_t *n);

#endif
