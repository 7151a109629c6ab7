/* clock.c - real and fake clocks; see clock.h. */
#include "clock.h"

#include <stdio.h>
#include <time.h>

int64_t clock_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void clock_iso8601(int64_t epoch_ms, char out[32])
{
    time_t secs = (time_t)(epoch_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03uZ", (unsigned)(epoch_ms % 1000));
}

static int64_t real_now(struct clock *self)
{
    (void)self;
    return clock_mono_ms();
}

static int64_t fake_now(struct clock *self)
{
    return self->fake_ms;
}

struct clock clock_real(void)
{
    return (struct clock){real_now, 0};
}

struct clock clock_fake(int64_t start_ms)
{
    return (struct clock){fake_now, start_ms};
}

void clock_advance(struct clock *c, int64_t ms)
{
    c->fake_ms += ms;
}
