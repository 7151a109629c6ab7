/* store_breaker.h - the fleet's circuit breakers in Redis: one record per provider, one probe lease.
 *
 * Consumers that share redis.url share each provider's breaker (consumer/breaker_shared.h is
 * the only caller). Keys (one hash tag, so the sync script may touch them all on Redis Cluster):
 *   voxcast:{breakers}:open           HASH    provider -> open until (ms on Redis's clock); no
 *                                             field: closed. A time already past: half-open, the
 *                                             fleet waits for one consumer's probe.
 *   voxcast:{breakers}:probe:NAME     STRING  token of the consumer holding the half-open probe,
 *                                             with a time to live (PX), refreshed while it probes:
 *                                             a consumer killed mid-probe frees it by itself.
 * Times are Redis's (TIME inside the script): consumers exchange durations ("open for 1000 ms
 * more"), never their own clock readings, so clock skew between hosts does not matter.
 *
 * One call per sync carries every provider: what this consumer has to report (it opened the
 * breaker, or its probes closed it) and whether it wants the probe, and returns what the fleet
 * says now. One script, so a report and the read that follows are atomic, and it is one round
 * trip whatever the number of providers.
 *
 * Errors: -1 with the message in store_error(). Uses one store connection (not thread-safe). */
#ifndef VOXCAST_STORE_BREAKER_H
#define VOXCAST_STORE_BREAKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

enum store_breaker_report {
    STORE_BREAKER_NONE,     /* nothing new */
    STORE_BREAKER_OPENED,   /* opened here: open for open_ms more (the later end wins); the
                               probe lease, whoever holds it, is dropped */
    STORE_BREAKER_CLOSED    /* this consumer's probes closed it: closed for all, lease dropped */
};

enum store_breaker_want {
    STORE_BREAKER_IDLE,     /* no interest in the probe */
    STORE_BREAKER_PROBE,    /* take the probe lease if the fleet is half-open and it is free,
                               or refresh it if it is already ours */
    STORE_BREAKER_RELEASE   /* give the lease back if it is ours (no work to probe with) */
};

struct store_breaker_op {
    const char                *provider;  /* 1-63 bytes, no NUL */
    enum store_breaker_report  report;
    int64_t                    open_ms;   /* STORE_BREAKER_OPENED: remaining open time (>= 0) */
    enum store_breaker_want    want;
};

struct store_breaker_view {
    bool    open;           /* the fleet's breaker is open or half-open */
    int64_t remaining_ms;   /* open: time left until half-open; <= 0 once half-open */
    bool    probe;          /* this consumer holds the probe lease (PROBE granted or refreshed) */
};

/* Applies n ops (reports, then lease requests, provider by provider) and reads each provider's
 * fleet state into out[i], in one round trip. token names this consumer (1-127 bytes); lease_ms
 * is the probe lease's time to live. n may be 0 (nothing sent). Returns 0 or -1. */
int store_breaker_sync(struct store *s, const char *token, int64_t lease_ms,
                       const struct store_breaker_op *ops, size_t n, struct store_breaker_view *out);

/* Forgets every provider's record and lease (tests and operators). Returns 0 or -1. */
int store_breaker_reset(struct store *s, const char *const *providers, size_t n);

#endif
