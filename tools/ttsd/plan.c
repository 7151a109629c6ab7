/* plan.c - concurrency slots and a token bucket under one mutex; see plan.h. */
#include "plan.h"

void plan_init(struct plan *a, int64_t now_ms)
{
    pthread_mutex_init(&a->lock, NULL);
    a->in_use = 0;
    a->rate = 0;
    ratelimit_init(&a->bucket, 0, 1, now_ms);
}

void plan_free(struct plan *a)
{
    pthread_mutex_destroy(&a->lock);
}

/* Follows a change of rate with a new full bucket of max(1, rate) tokens. */
static void follow_rate(struct plan *a, double rate, int64_t now_ms)
{
    if (rate == a->rate)
        return;
    a->rate = rate;
    ratelimit_init(&a->bucket, rate, rate < 1 ? 1 : rate, now_ms);
}

void plan_admit(struct plan *a, long max_concurrent, double rate, int64_t now_ms, struct plan_ticket *t)
{
    pthread_mutex_lock(&a->lock);
    t->limit = max_concurrent > 0 ? max_concurrent : 0;
    t->wait_ms = 0;
    if (t->limit > 0 && a->in_use >= t->limit) {
        t->verdict = PLAN_TOO_MANY;
    } else {
        follow_rate(a, rate > 0 ? rate : 0, now_ms);
        t->wait_ms = ratelimit_take(&a->bucket, now_ms);
        t->verdict = t->wait_ms > 0 ? PLAN_RATE_LIMITED : PLAN_ADMITTED;
        if (t->verdict == PLAN_ADMITTED)
            a->in_use++;
    }
    t->current = a->in_use;
    pthread_mutex_unlock(&a->lock);
}

void plan_release(struct plan *a)
{
    pthread_mutex_lock(&a->lock);
    if (a->in_use > 0)
        a->in_use--;
    pthread_mutex_unlock(&a->lock);
}

long plan_in_use(struct plan *a)
{
    pthread_mutex_lock(&a->lock);
    long n = a->in_use;
    pthread_mutex_unlock(&a->lock);
    return n;
}

int plan_retry_after_s(int64_t wait_ms)
{
    int64_t s = (wait_ms + 999) / 1000;
    return s < 1 ? 1 : s > 86400 ? 86400 : (int)s;
}
