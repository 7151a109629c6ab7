/* clock.h - time for voxcast.
 *
 * Pure modules (breaker, backoff, rate limiter, accounts, windows) take `now_ms` as an argument,
 * so a test drives hours of their timing in microseconds by passing the times it wants; only the
 * loop reads the real clocks below. */
#ifndef VOXCAST_CLOCK_H
#define VOXCAST_CLOCK_H

#include <stdint.h>

int64_t clock_mono_ms(void);                  /* CLOCK_MONOTONIC in ms */
int64_t clock_wall_ms(void);                  /* Unix epoch ms (CLOCK_REALTIME) */
void clock_iso8601(int64_t epoch_ms, char out[32]);  /* "2026-11-22T18:00:00.123Z" */

#endif
