/* metrics.h - the consumer's process-wide counters, /metrics text and /health JSON.
 *
 * The loop thread counts (jobs, provider requests, retries, failovers) and sets gauges (in-flight,
 * breaker state, Redis/Kafka health); the HTTP thread renders. Every update is one or two relaxed
 * atomic operations on preallocated slots, so counting costs nothing measurable at thousands of
 * jobs per second, and a scrape never blocks the loop. The only lock is taken the first time a
 * provider sees a new response code, to add it to that provider's small code table.
 *
 * Counters live as long as the struct, which lives as long as the process: they survive Kafka
 * rebalances by construction, as Prometheus expects of a counter.
 *
 * Provider indexes are the positions in the name list given to metrics_new() (the failover
 * order); an index out of range is ignored rather than trusted. */
#ifndef VOXCAST_METRICS_H
#define VOXCAST_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define METRICS_MAX_CODES     32 /* distinct code labels per provider; more count as "other" */
#define METRICS_CODE_MAX      31 /* longest code label kept; longer ones count as "other" */

enum metrics_outcome {           /* a job's outcome, voxcast_jobs_total{outcome} */
    METRICS_DONE,
    METRICS_DLQ,
    METRICS_DUPLICATE,
    METRICS_INVALID,
    METRICS_CANCELLED,           /* its campaign was cancelled: not rendered */
    METRICS_ASIDE                /* its campaign was paused: set aside until resume */
};

enum metrics_status {            /* the /health verdict */
    METRICS_OK,
    METRICS_DEGRADED,
    METRICS_DOWN
};

struct metrics;

/* Allocates the registry for `n` providers named `provider_names[0..n)` (copied). Redis and Kafka
 * start as "down" until metrics_set_health_inputs() says otherwise, so /health does not claim a
 * consumer is healthy before it has connected. Any n works (one slot per provider, sized here).
 * Returns NULL when a name is NULL (out of memory aborts, as everywhere: xalloc.h). Free with metrics_free() (NULL-safe)
 * after the HTTP server has stopped. */
struct metrics *metrics_new(const char *const *provider_names, size_t n);
void metrics_free(struct metrics *m);

/* Counts one job reaching `o`. An unknown outcome is ignored. */
void metrics_job(struct metrics *m, enum metrics_outcome o);

/* Counts one request to `provider` that ended with `code` (HTTP status as text, "200", or a
 * transport class: "timeout", "connect", "reset", "error") after `latency_s` seconds, in
 * voxcast_provider_requests_total{provider,code} and voxcast_provider_latency_seconds{provider}.
 * Past METRICS_MAX_CODES distinct codes (or for a NULL, empty or over-long code) the request is
 * counted under code="other". A negative or NaN latency is observed as 0. */
void metrics_request(struct metrics *m, size_t provider, const char *code, double latency_s);

/* Counts one retry of a request to `provider` (voxcast_retries_total{provider}). */
void metrics_retry(struct metrics *m, size_t provider);

/* Adds n billed characters (Unicode code points of a request `provider` answered with audio;
 * store_cache.h's definition) to voxcast_provider_characters_total{provider}. */
void metrics_provider_characters(struct metrics *m, size_t provider, uint64_t n);

/* Counts one contact whose audio was a copy of a cached render (voxcast_cache_hits_total). */
void metrics_cache_hit(struct metrics *m);

/* Counts one failover of a job from one provider to the next (voxcast_failovers_total). */
void metrics_failover(struct metrics *m);

/* Sets the number of jobs being rendered now (voxcast_in_flight). */
void metrics_set_in_flight(struct metrics *m, int64_t n);

/* Sets `provider`'s breaker gauges: state 0 closed, 1 half-open, 2 open (enum breaker_state's
 * values); any other state is ignored. */
void metrics_set_breaker(struct metrics *m, size_t provider, int state, int consecutive_failures);

/* Sets the text /health shows as `provider`'s "last_error": the cause of its last provider-level
 * refusal ("voice 'alloy' not found ..."), copied and cut to METRICS_ERROR_MAX bytes. */
#define METRICS_ERROR_MAX 255
void metrics_set_last_error(struct metrics *m, size_t provider, const char *cause);

/* Counts one 429 answer of `provider` (voxcast_provider_throttled_total{provider}). */
void metrics_throttled(struct metrics *m, size_t provider);

/* Sets `provider`'s account view (account.h): requests in flight across the fleet
 * (voxcast_account_in_flight), the limit in force (voxcast_account_limit; < 0: none, null on
 * /health), whether it was learned, and whether Redis is away and the consumer runs on a local
 * share. /health shows them as the provider's "account" object. */
void metrics_set_account(struct metrics *m, size_t provider, int64_t in_flight, int64_t limit, bool learned,
                         bool local);

/* Counts one Redis round trip syncing the provider accounts (voxcast_account_syncs_total). */
void metrics_account_sync(struct metrics *m);

/* Tells /health whether Redis and Kafka are reachable now. */
void metrics_set_health_inputs(struct metrics *m, bool redis_ok, bool kafka_ok);

/* Appends every family in Prometheus text exposition format 0.0.4 to `out`: each with # HELP and
 * # TYPE, all four job outcomes and every provider's histogram present even at zero, label
 * values escaped (\\ \" \n). Safe to call while other threads update. */
void metrics_render(struct metrics *m, struct buf *out);

/* Appends the /health JSON object to `out` and returns the status it wrote: down when every
 * breaker is open (given at least one provider) or Redis or Kafka is down; degraded when some
 * breaker is open or half-open; ok otherwise. Each provider carries "last_error" (a string, or
 * null before any provider-level refusal). */
enum metrics_status metrics_health(struct metrics *m, struct buf *out);

#endif
