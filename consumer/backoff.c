/* backoff.c - exponential backoff with full jitter; see backoff.h.
 *
 * The cap doubles per retry, which overflows int64 after ~53 doublings of one second: the shift
 * is checked against the headroom before it is done, so a job on its 1000th retry still gets
 * max_ms. The random draw rejects the few top values that would make `r % n` favour small
 * delays. */
#include "backoff.h"

uint64_t backoff_rng_next(uint64_t *state)
{
    /* splitmix64 (Steele, Lea, Flood 2014): a Weyl sequence put through a 64-bit mixer. */
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

int64_t backoff_cap_ms(int64_t base_ms, int64_t max_ms, int retry)
{
    if (base_ms <= 0 || max_ms <= 0)
        return 0;
    if (retry < 1)
        retry = 1;
    int shift = retry - 1;
    if (shift >= 63 || base_ms > (max_ms >> shift))
        return max_ms;          /* base * 2^shift > max (or would not fit): the cap wins */
    int64_t v = base_ms << shift;
    return v < max_ms ? v : max_ms;
}

/* Uniform in [0, n) for n > 0. The 2^64 mod n lowest values are drawn again, so that the
 * accepted range holds a whole multiple of n values and every remainder is equally likely. */
static uint64_t backoff_uniform(uint64_t n, uint64_t *rng)
{
    uint64_t reject_below = (0 - n) % n;    /* (2^64 - n) mod n == 2^64 mod n */
    uint64_t r;
    do {
        r = backoff_rng_next(rng);
    } while (r < reject_below);
    return r % n;
}

int64_t backoff_delay_ms(int64_t base_ms, int64_t max_ms, int retry, uint64_t *rng)
{
    int64_t cap = backoff_cap_ms(base_ms, max_ms, retry);
    if (cap <= 0)
        return 0;
    return (int64_t)backoff_uniform((uint64_t)cap + 1, rng);
}
