/* breaker.h - a circuit breaker per provider, on an injected clock.
 *
 * A provider that keeps failing should stop receiving calls for a while, so that jobs fail over
 * at once instead of each spending its retries on a dead endpoint. The breaker counts
 * *consecutive* failures (a quiet provider must be able to trip it, which a ratio over a
 * 100-call window never does), refuses calls for `open_ms`, then lets one probe through at a
 * time until `half_open_successes` probes succeed.
 *
 *   CLOSED --failure_threshold consecutive failures--> OPEN
 *   OPEN --open_ms elapsed, on the next breaker_allow()--> HALF_OPEN
 *   HALF_OPEN --any probe failure--> OPEN (the open period restarts)
 *   HALF_OPEN --half_open_successes probe successes--> CLOSED
 *
 * Time is an argument (milliseconds on a monotonic clock), so the state machine is exact in tests.
 * The struct is public so it can live inside a provider's struct; treat its fields as read-only. */
#ifndef VOXCAST_BREAKER_H
#define VOXCAST_BREAKER_H

#include <stdbool.h>
#include <stdint.h>

enum breaker_state {            /* values are the voxcast_breaker_state metric */
    BREAKER_CLOSED = 0,
    BREAKER_HALF_OPEN = 1,
    BREAKER_OPEN = 2
};

enum breaker_verdict {
    BREAKER_SUCCESS,            /* the provider answered sensibly (even "bad request") */
    BREAKER_FAILURE,            /* the provider is unwell: 5xx, timeout, connect error, 401/403 */
    BREAKER_NEUTRAL             /* says nothing about health: 429 throttling, a cancelled call */
};

struct breaker_config {
    int     failure_threshold;   /* consecutive failures that open; < 1 is taken as 1 */
    int64_t open_ms;             /* time OPEN before a probe; < 0 is taken as 0 */
    int     half_open_successes; /* probe successes that close; < 1 is taken as 1 */
};

struct breaker {
    struct breaker_config cfg;
    enum breaker_state state;
    int     consecutive_failures; /* in CLOSED: failures since the last success */
    int64_t opened_at_ms;         /* when it last went OPEN */
    int     probe_successes;      /* in HALF_OPEN: probes that succeeded so far */
    int     probes_in_flight;     /* in HALF_OPEN: 0 or 1 */
};

/* Starts CLOSED with the given config (copied; out-of-range values clamped as noted above). */
void breaker_init(struct breaker *b, const struct breaker_config *cfg);

/* May a call go to this provider now? CLOSED: always. OPEN: no until open_ms have elapsed since
 * it opened; the first call at or after that moment moves it to HALF_OPEN and is the probe.
 * HALF_OPEN: yes for one probe at a time, no while a probe is out. A true return obliges the
 * caller to call breaker_record() exactly once for that call (NEUTRAL if it is cancelled). */
bool breaker_allow(struct breaker *b, int64_t now_ms);

/* Reports the outcome of a call that breaker_allow() let through.
 * CLOSED: SUCCESS resets the failure count; FAILURE counts, and the failure_threshold-th
 * consecutive one opens (opened_at = now). HALF_OPEN: the record is the probe's result; it frees
 * the probe slot; SUCCESS counts toward closing, FAILURE re-opens at once (opened_at = now).
 * NEUTRAL only frees the probe slot.
 * Late records - from calls let through before the state moved on - are ignored: any record while
 * OPEN (a slow call from the CLOSED era must neither close nor extend the open period), and any
 * record in HALF_OPEN while no probe is out. Without a per-call ticket a late record that arrives
 * while a probe is out cannot be told from the probe's own and is taken as the probe's result. */
void breaker_record(struct breaker *b, enum breaker_verdict v, int64_t now_ms);

/* When OPEN, the earliest time breaker_allow() can let a probe through (opened_at + open_ms);
 * 0 in any other state. Lets an event loop sleep until then when every provider is open. */
int64_t breaker_next_probe_ms(const struct breaker *b);

/* "closed", "half_open", "open" (static strings); "unknown" for a value outside the enum. */
const char *breaker_state_name(enum breaker_state s);

#endif
