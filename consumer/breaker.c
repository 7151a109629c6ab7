/* breaker.c - circuit breaker per provider; see breaker.h for the state machine.
 *
 * Kept free of clocks and I/O: every transition happens inside breaker_allow() or
 * breaker_record() at the `now_ms` the caller passes - or inside a sharing hook, with the fleet's
 * answer as an argument - so tests can walk it millisecond by millisecond. The only subtle part
 * is late records (a call let through while CLOSED that answers after the breaker opened): they
 * must not close an open breaker or stretch its open period, so records are only believed in the
 * state that could have produced them. An adopted open drops a probe in flight for the same
 * reason: its record then arrives while OPEN and is ignored. */
#include "breaker.h"

#include <stddef.h>
#include <stdint.h>

void breaker_init(struct breaker *b, const struct breaker_config *cfg)
{
    b->cfg = *cfg;
    if (b->cfg.failure_threshold < 1)
        b->cfg.failure_threshold = 1;
    if (b->cfg.open_ms < 0)
        b->cfg.open_ms = 0;
    if (b->cfg.half_open_successes < 1)
        b->cfg.half_open_successes = 1;
    b->state = BREAKER_CLOSED;
    b->consecutive_failures = 0;
    b->opened_at_ms = 0;
    b->probe_successes = 0;
    b->probes_in_flight = 0;
    b->shared = false;
    b->probe_permit = false;
    b->wanted = false;
    b->opens = 0;
    b->closes = 0;
}

/* Goes OPEN as of opened_at_ms, whoever decided it. */
static void enter_open(struct breaker *b, int64_t opened_at_ms)
{
    b->state = BREAKER_OPEN;
    b->opened_at_ms = opened_at_ms;
    b->consecutive_failures = 0;
    b->probe_successes = 0;
    b->probes_in_flight = 0;
    b->probe_permit = false;
}

static void enter_closed(struct breaker *b)
{
    b->state = BREAKER_CLOSED;
    b->consecutive_failures = 0;
    b->probe_successes = 0;
    b->probes_in_flight = 0;
    b->probe_permit = false;
}

/* This process's own records opened it (published by the fleet layer). */
static void breaker_open(struct breaker *b, int64_t now_ms)
{
    enter_open(b, now_ms);
    b->opens++;
}

static void breaker_close(struct breaker *b)
{
    enter_closed(b);
    b->closes++;
}

/* The opened_at that makes the probe time `at`, saturating instead of wrapping. */
static int64_t opened_for_probe_at(const struct breaker *b, int64_t at)
{
    return at < INT64_MIN + b->cfg.open_ms ? INT64_MIN : at - b->cfg.open_ms;
}

bool breaker_allow(struct breaker *b, int64_t now_ms)
{
    switch (b->state) {
    case BREAKER_CLOSED:
        return true;
    case BREAKER_OPEN:
        if (now_ms < breaker_next_probe_ms(b))
            return false;
        if (b->shared && !b->probe_permit) {
            b->wanted = true;       /* the fleet layer asks for the probe on our behalf */
            return false;
        }
        b->state = BREAKER_HALF_OPEN;
        b->probe_successes = 0;
        b->probes_in_flight = 0;
        break;
    case BREAKER_HALF_OPEN:
        b->wanted = b->shared;      /* still in use: keep the fleet's probe */
        break;
    }
    if (b->probes_in_flight > 0)
        return false;
    b->probes_in_flight = 1;
    return true;
}

static void breaker_record_closed(struct breaker *b, enum breaker_verdict v, int64_t now_ms)
{
    if (v == BREAKER_SUCCESS) {
        b->consecutive_failures = 0;
    } else if (v == BREAKER_FAILURE) {
        if (++b->consecutive_failures >= b->cfg.failure_threshold)
            breaker_open(b, now_ms);
    }
}

/* The one probe answered: the record is its result. */
static void breaker_record_probe(struct breaker *b, enum breaker_verdict v, int64_t now_ms)
{
    b->probes_in_flight = 0;
    if (v == BREAKER_SUCCESS) {
        if (++b->probe_successes >= b->cfg.half_open_successes)
            breaker_close(b);
    } else if (v == BREAKER_FAILURE) {
        breaker_open(b, now_ms);
    }
}

void breaker_record(struct breaker *b, enum breaker_verdict v, int64_t now_ms)
{
    switch (b->state) {
    case BREAKER_CLOSED:
        breaker_record_closed(b, v, now_ms);
        break;
    case BREAKER_HALF_OPEN:
        if (b->probes_in_flight > 0)
            breaker_record_probe(b, v, now_ms);
        break;              /* no probe out: a late record from before the breaker opened */
    case BREAKER_OPEN:
        break;              /* nothing was let through while OPEN: late by definition */
    }
}

int64_t breaker_next_probe_ms(const struct breaker *b)
{
    if (b->state != BREAKER_OPEN)
        return 0;
    if (b->opened_at_ms > INT64_MAX - b->cfg.open_ms)
        return INT64_MAX;       /* an absurd open_ms means "stay open", not a wrapped time */
    return b->opened_at_ms + b->cfg.open_ms;
}

bool breaker_refuses(struct breaker *b, int64_t now_ms)
{
    if (b->state != BREAKER_OPEN)
        return false;
    if (now_ms < breaker_next_probe_ms(b))
        return true;
    if (!b->shared || b->probe_permit)
        return false;
    b->wanted = true;
    return true;
}

/* ---------------------------------------------------------------- fleet sharing */

void breaker_set_shared(struct breaker *b, bool shared)
{
    b->shared = shared;
    b->probe_permit = false;
    b->wanted = false;
}

void breaker_adopt_open(struct breaker *b, int64_t until_ms)
{
    b->probe_permit = false;
    if (b->state == BREAKER_OPEN && breaker_next_probe_ms(b) >= until_ms)
        return;
    enter_open(b, opened_for_probe_at(b, until_ms));
}

void breaker_adopt_close(struct breaker *b)
{
    enter_closed(b);
}

void breaker_grant_probe(struct breaker *b, int64_t now_ms)
{
    if (b->state == BREAKER_CLOSED || (b->state == BREAKER_OPEN && breaker_next_probe_ms(b) > now_ms))
        enter_open(b, opened_for_probe_at(b, now_ms));
    b->probe_permit = true;
}

bool breaker_take_wanted(struct breaker *b)
{
    bool w = b->wanted;
    b->wanted = false;
    return w;
}

const char *breaker_state_name(enum breaker_state s)
{
    switch (s) {
    case BREAKER_CLOSED:
        return "closed";
    case BREAKER_HALF_OPEN:
        return "half_open";
    case BREAKER_OPEN:
        return "open";
    }
    return "unknown";
}
