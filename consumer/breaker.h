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
 * The struct is public so it can live inside a provider's struct; treat its fields as read-only.
 *
 * Sharing. Consumers of one account share each provider's breaker through Redis
 * (breaker_shared.h does the I/O and calls the hooks below; this file stays pure). A shared
 * breaker differs in one transition only: OPEN -> HALF_OPEN needs the fleet's probe permit
 * (breaker_grant_probe), so one consumer probes for all; the others keep refusing - their callers
 * fail over as from any open breaker - until the fleet's verdict comes back as
 * breaker_adopt_open (the probe failed, or someone else is still probing) or breaker_adopt_close
 * (it succeeded). A refusal for want of the permit is noted (`wanted`), so only a consumer with
 * work for the provider asks the fleet for the probe. Adopted transitions are not counted in
 * `opens`/`closes`: those count what this process saw itself, which is what it publishes. */
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
    /* fleet sharing; all false / 0 for a breaker of one process */
    bool     shared;              /* OPEN -> HALF_OPEN needs probe_permit */
    bool     probe_permit;        /* shared: this process holds the fleet's probe */
    bool     wanted;              /* shared: a call was refused for want of the permit, or asked
                                     while HALF_OPEN, since the last breaker_take_wanted() */
    uint32_t opens;               /* times it opened on its own records (probe failures too) */
    uint32_t closes;              /* times its own probes closed it */
};

/* Starts CLOSED with the given config (copied; out-of-range values clamped as noted above). */
void breaker_init(struct breaker *b, const struct breaker_config *cfg);

/* May a call go to this provider now? CLOSED: always. OPEN: no until open_ms have elapsed since
 * it opened; the first call at or after that moment moves it to HALF_OPEN and is the probe.
 * HALF_OPEN: yes for one probe at a time, no while a probe is out. A shared breaker moves to
 * HALF_OPEN only with the probe permit (without it: no, and `wanted` is set). A true return
 * obliges the caller to call breaker_record() exactly once for that call (NEUTRAL if it is
 * cancelled). */
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

/* Should a caller skip this provider now (fail over) rather than wait for it? True when OPEN
 * before its probe time, and, for a shared breaker, when OPEN past it without the probe permit
 * (the fleet's probe belongs to another consumer, or has not been asked for yet: this case sets
 * `wanted`). False otherwise: the caller then asks breaker_allow(). */
bool breaker_refuses(struct breaker *b, int64_t now_ms);

/* ---- fleet sharing hooks (called by breaker_shared.c) ---- */

/* Makes probes need the fleet's permit (true) or not (false: a breaker of one process, also
 * the fallback while Redis is unreachable). Either way the permit is dropped. */
void breaker_set_shared(struct breaker *b, bool shared);

/* The fleet says the provider is open until `until_ms` (this process's clock; a time already
 * past means the fleet is half-open with the probe elsewhere) and this process holds no probe
 * permit. CLOSED and HALF_OPEN become OPEN with breaker_next_probe_ms() == until_ms (a local
 * probe out is dropped: its record arrives while OPEN and is ignored); an OPEN breaker's probe
 * time only moves later. Drops the permit; `opens` does not move. */
void breaker_adopt_open(struct breaker *b, int64_t until_ms);

/* The fleet's probes closed the breaker: CLOSED with no failures counted; `closes` does not move. */
void breaker_adopt_close(struct breaker *b);

/* This process holds the fleet's probe: grants the permit, and an OPEN breaker may probe at once
 * (its probe time becomes now_ms if it was later; a CLOSED one becomes OPEN so). HALF_OPEN goes
 * on probing. */
void breaker_grant_probe(struct breaker *b, int64_t now_ms);

/* Returns `wanted` and clears it. */
bool breaker_take_wanted(struct breaker *b);

/* "closed", "half_open", "open" (static strings); "unknown" for a value outside the enum. */
const char *breaker_state_name(enum breaker_state s);

#endif
