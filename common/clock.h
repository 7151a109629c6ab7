/* clock.h - time for voxcast: real clocks and a fake one for tests.
 *
 * Pure modules take `now_ms` as an argument; the loop asks a struct clock for it, so a test can
 * drive hours of backoff and breaker timing in microseconds by moving a fake clock. */
#ifndef VOXCAST_CLOCK_H
#define VOXCAST_CLOCK_H

#include <stdint.h>

struct clock {
    int64_t (*now_ms)(struct clock *self);   /* monotonic milliseconds */
    int64_t fake_ms;                          /* the fake clock's time */
};

int64_t clock_mono_ms(void);                  /* CLOCK_MONOTONIC in ms */
int64_t clock_wall_ms(void);                  /* Unix epoch ms (CLOCK_REALTIME) */
void clock_iso8601(int64_t epoch_ms, char out[32]);  /* "2026-11-22T18:00:00.123Z" */

struct clock clock_real(void);                /* now_ms = clock_mono_ms */
struct clock clock_fake(int64_t start_ms);    /* now_ms = fake_ms; move with clock_advance */
void clock_advance(struct clock *c, int64_t ms);
static inline int64_t clock_now(struct clock *c) { return c->now_ms(c); }

#endif
