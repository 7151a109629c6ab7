/* breaker_shared.h - one circuit breaker per provider for every consumer sharing redis.url.
 *
 * Each consumer keeps its own struct breaker (breaker.h) and the engine consults only that; this
 * module keeps it in step with the fleet's record in Redis (store_breaker.h), syncing every
 * BREAKER_SHARED_SYNC_MS while a tick runs, and at once when the local breaker has news:
 *   - a breaker this consumer opened (its own failures, or its probe failing) is published with
 *     the time it stays open; every other consumer adopts it at its next sync, so the whole fleet
 *     refuses the provider within about SYNC_MS and fails over;
 *   - when that time is over, a consumer with work for the provider (its calls are refused:
 *     breaker.h `wanted`) asks for the probe lease; exactly one gets it and probes; the others go
 *     on failing over. The lease lives BREAKER_SHARED_LEASE_MS and is refreshed while the holder
 *     probes, so a holder killed mid-probe frees it by itself; a holder with no work gives it back;
 *   - a probe failure re-opens the breaker for all; the probe successes that close it close it
 *     for all.
 * So a dead provider sees about one request per breaker.open_ms from the whole fleet, instead of
 * one per consumer.
 *
 * Redis unreachable: every breaker falls back to this process alone (breaker_set_shared false:
 * probes need no permit), the log says so once, and syncs are retried with a growing delay (up
 * to 5 s); on return the log says so, the breakers are shared again, and what they learnt alone
 * (an open) is published.
 *
 * Threading: the engine's loop thread only. The connection is this module's own. */
#ifndef VOXCAST_BREAKER_SHARED_H
#define VOXCAST_BREAKER_SHARED_H

#include <stdbool.h>
#include <stdint.h>

#include "breaker.h"
#include "store_breaker.h"

#define BREAKER_SHARED_SYNC_MS  250   /* at most this stale while anything is open */
#define BREAKER_SHARED_LEASE_MS 2000  /* probe lease time to live; refreshed every sync */
#define BREAKER_SHARED_MAX      64    /* providers */

struct breaker_shared;

/* What the fleet was last told about one breaker. */
struct breaker_share_mark {
    uint32_t opens, closes;     /* the breaker's counters as last published */
    bool     held;              /* this consumer held the probe lease after the last sync */
};

/* A sharer for the consumers of redis_url; connects lazily (the first tick; one attempt per
 * retry, so a dead Redis costs the loop one connection attempt per back-off step), so it never
 * fails (out of memory aborts, xalloc.h). */
struct breaker_shared *breaker_shared_new(const char *redis_url);
void breaker_shared_free(struct breaker_shared *bs);     /* NULL-safe; breakers stay as they are */

/* Shares provider `name`'s breaker (borrowed: it must outlive bs) and makes it shared.
 * 0, or -1 when BREAKER_SHARED_MAX are registered already or name is not 1-63 bytes. */
int breaker_shared_add(struct breaker_shared *bs, const char *name, struct breaker *b);

/* Syncs with the fleet if due (see above); now_ms is the engine's monotonic clock. NULL-safe. */
void breaker_shared_tick(struct breaker_shared *bs, int64_t now_ms);

/* The time the next tick has something to do while any breaker is not closed (so the loop
 * wakes for it); INT64_MAX when all are closed or bs is NULL. */
int64_t breaker_shared_next_ms(const struct breaker_shared *bs);

/* False while Redis is unreachable and the breakers are per process. */
bool breaker_shared_ok(const struct breaker_shared *bs);

/* ---- the pure halves of a sync, exposed for tests ---- */

/* What to tell the fleet about b (provider left NULL): a report when its counters moved past
 * the mark (OPENED with the time left before its probe; CLOSED), and PROBE when it has work for
 * a fleet probe (HALF_OPEN with a probe out or asked for; OPEN at or past its probe time with
 * calls refused for want of the permit), RELEASE when it holds the lease without such work.
 * Clears b's `wanted`. */
struct store_breaker_op breaker_shared_plan(struct breaker *b, const struct breaker_share_mark *m,
                                            int64_t now_ms);

/* Applies the fleet's answer v to a plan op that went through: closed -> adopt the close; open
 * with our lease -> the probe permit; open otherwise -> adopt open until now_ms + remaining.
 * Moves the mark past what op reported. */
void breaker_shared_apply(struct breaker *b, struct breaker_share_mark *m, const struct store_breaker_op *op,
                          const struct store_breaker_view *v, int64_t now_ms);

#endif
