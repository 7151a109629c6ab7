/* ratelimit.h - a token bucket: at most `rate_per_s` calls per second, bursts up to `burst`.
 *
 * Providers sell quotas in requests per second; exceeding them earns 429s that waste attempts.
 * The bucket refills continuously at rate_per_s tokens per second up to its capacity; a call
 * takes one token or learns how long to wait. Time is an argument, so a simulated minute in a
 * test is exact. Time moves in whole milliseconds, so the capacity is never below
 * rate_per_s / 1000 (otherwise a rate above 1000/s could not be reached) nor below one token.
 * The struct is public so it can sit inside a provider; change it only through these calls.
 * Per process; the fleet's account rate (provider.NAME.account_rate) is one bucket kept in
 * Redis (common/store_account.h), which hands consumers tokens in small batches. */
#ifndef VOXCAST_RATELIMIT_H
#define VOXCAST_RATELIMIT_H

#include <stdint.h>

struct ratelimit {
    double  rate_per_s; /* tokens per second; 0 = unlimited */
    double  burst;      /* configured capacity (>= 1) */
    double  tokens;     /* available now (as of last_ms) */
    int64_t last_ms;    /* when tokens was last brought up to date */
};

/* Starts a full bucket at now_ms. rate_per_s <= 0 (or not finite) means unlimited;
 * burst < 1 is taken as 1. */
void ratelimit_init(struct ratelimit *r, double rate_per_s, double burst, int64_t now_ms);

/* Takes one token and returns 0, or takes nothing and returns the ms to wait (> 0) until one is
 * available at the current rate. Always 0 when unlimited. A clock that steps back refills
 * nothing. */
int64_t ratelimit_take(struct ratelimit *r, int64_t now_ms);

/* Changes the rate at now_ms (e.g. slowing down after a 429), keeping the tokens earned so far
 * at the old rate; leaving unlimited starts with a full bucket. Same conventions as init. */
void ratelimit_set_rate(struct ratelimit *r, double rate_per_s, int64_t now_ms);

#endif
