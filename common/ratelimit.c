/* ratelimit.c - token bucket; see ratelimit.h.
 *
 * Tokens are a double refilled by rate * elapsed. Adding 0.2 sixty thousand times drifts by
 * ~1e-11, which would turn an exact "one token at t=5 ms" into 0.99999999999 and a spurious 1 ms
 * wait; comparisons therefore allow TOKEN_EPS, far below any real fraction of a token. */
#include "ratelimit.h"

#include <math.h>

#define TOKEN_EPS 1e-9

static double sanitize_rate(double rate_per_s)
{
    return rate_per_s > 0 && isfinite(rate_per_s) ? rate_per_s : 0;
}

/* Capacity: the configured burst, but never less than one millisecond's worth of tokens. */
static double capacity(const struct ratelimit *r)
{
    double per_ms = r->rate_per_s / 1000.0;
    return r->burst > per_ms ? r->burst : per_ms;
}

/* Brings tokens up to now at the current rate. */
static void refill(struct ratelimit *r, int64_t now_ms)
{
    if (now_ms <= r->last_ms)
        return;                     /* same tick, or a clock that stepped back */
    double cap = capacity(r);
    double t = r->tokens + r->rate_per_s * (double)(now_ms - r->last_ms) / 1000.0;
    r->tokens = t < cap ? t : cap;
    r->last_ms = now_ms;
}

void ratelimit_init(struct ratelimit *r, double rate_per_s, double burst, int64_t now_ms)
{
    r->rate_per_s = sanitize_rate(rate_per_s);
    r->burst = burst >= 1 ? burst : 1;      /* also maps NaN to 1 */
    r->tokens = capacity(r);
    r->last_ms = now_ms;
}

int64_t ratelimit_take(struct ratelimit *r, int64_t now_ms)
{
    if (r->rate_per_s <= 0)
        return 0;
    refill(r, now_ms);
    if (r->tokens + TOKEN_EPS >= 1.0) {
        r->tokens -= 1.0;
        return 0;
    }
    double wait = ceil((1.0 - r->tokens) * 1000.0 / r->rate_per_s - TOKEN_EPS);
    if (!(wait < 9e18))
        return INT64_C(9000000000000000000);   /* an absurdly small rate: do not overflow */
    return wait >= 1 ? (int64_t)wait : 1;
}

void ratelimit_set_rate(struct ratelimit *r, double rate_per_s, int64_t now_ms)
{
    double old = r->rate_per_s;
    if (old > 0)
        refill(r, now_ms);
    r->rate_per_s = sanitize_rate(rate_per_s);
    if (old <= 0)
        r->tokens = capacity(r);            /* was unlimited: nothing was being counted */
    else if (r->tokens > capacity(r))
        r->tokens = capacity(r);
    if (now_ms > r->last_ms)
        r->last_ms = now_ms;
}
