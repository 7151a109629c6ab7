/* plan.h - the provider account voxcast-ttsd plays: a concurrency limit and a request rate.
 *
 * A real TTS account refuses work in two ways, and clients must tell them apart: ElevenLabs
 * counts requests in flight per subscription (429 too_many_concurrent_requests above the plan's
 * number, and every answer says `current-concurrent-requests` / `maximum-concurrent-requests`),
 * OpenAI counts requests per unit of time (429 with Retry-After and x-ratelimit-*). The account
 * admits a speech request under both: first a concurrency slot, then a token of the rate's
 * bucket (a request refused for concurrency takes no token; one refused for the rate gives its
 * slot back at once). An admitted request holds its slot until the last byte of its answer has
 * been handed to the network (plan_release), as a provider's own count would.
 *
 * The bucket is common/ratelimit.h's: `rate` tokens per second, a burst of max(1, rate) tokens,
 * full at start; a change of rate starts a new full bucket. Time is an argument (monotonic ms),
 * so tests and callers decide the clock. Thread-safe: one mutex, held for a few instructions. */
#ifndef VOXCAST_TTSD_PLAN_H
#define VOXCAST_TTSD_PLAN_H

#include <pthread.h>
#include <stdint.h>

#include "ratelimit.h"

struct plan {
    pthread_mutex_t  lock;
    long             in_use;   /* admitted requests whose answer is not yet all sent */
    double           rate;     /* the bucket's rate; 0: unlimited */
    struct ratelimit bucket;
};

enum plan_verdict {
    PLAN_ADMITTED,         /* holds a slot: call plan_release once its answer is sent */
    PLAN_TOO_MANY,         /* more than max_concurrent would be in flight */
    PLAN_RATE_LIMITED,     /* no token: wait_ms until one is back */
};

struct plan_ticket {
    enum plan_verdict verdict;
    long                 current;   /* admitted requests in flight after the decision (this one
                                     * included when admitted): current-concurrent-requests */
    long                 limit;     /* max_concurrent in effect (0: none): maximum-concurrent-requests */
    int64_t              wait_ms;   /* PLAN_RATE_LIMITED: ms until the next token (> 0) */
};

void plan_init(struct plan *a, int64_t now_ms);
void plan_free(struct plan *a);

/* Decides one request at now_ms under max_concurrent (0: no limit) and rate (requests/s, 0:
 * unlimited). Fills *t; only an PLAN_ADMITTED ticket holds a slot. */
void plan_admit(struct plan *a, long max_concurrent, double rate, int64_t now_ms, struct plan_ticket *t);

/* Gives back the slot of an admitted request. */
void plan_release(struct plan *a);

/* Admitted requests in flight now. */
long plan_in_use(struct plan *a);

/* Whole seconds a client should wait for a token: wait_ms rounded up, at least 1 (Retry-After). */
int plan_retry_after_s(int64_t wait_ms);

#endif
