/* backoff.h - exponential backoff with full jitter, on an injected random source.
 *
 * A retry waits a uniformly random time in [0, min(max, base * 2^(retry-1))]: "full jitter".
 * Without jitter every job that failed in the same second retries in the same second, and a
 * recovering provider is knocked over again by the synchronised wave. The random source is a
 * caller-owned 64-bit state, so tests are reproducible and no global generator is shared. */
#ifndef VOXCAST_BACKOFF_H
#define VOXCAST_BACKOFF_H

#include <stdint.h>

/* Advances *state and returns the next pseudo-random 64-bit value (splitmix64: every state,
 * zero included, is valid; seed it once, e.g. from the clock and pid). Not for cryptography. */
uint64_t backoff_rng_next(uint64_t *state);

/* The upper bound of the delay before retry number `retry` (1 = the first retry):
 * min(max_ms, base_ms * 2^(retry-1)). retry < 1 is taken as 1; no overflow for any retry.
 * base_ms <= 0 or max_ms <= 0 gives 0. */
int64_t backoff_cap_ms(int64_t base_ms, int64_t max_ms, int retry);

/* A delay drawn uniformly from [0, backoff_cap_ms(base_ms, max_ms, retry)], both ends included,
 * without modulo bias. Advances *rng. */
int64_t backoff_delay_ms(int64_t base_ms, int64_t max_ms, int retry, uint64_t *rng);

#endif
