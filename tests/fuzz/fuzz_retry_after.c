/* fuzz_retry_after.c - libFuzzer target for Retry-After parsing (consumer/retry_after.c).
 *
 * The header comes from a provider's (or a proxy's) response, so it is hostile input. The first
 * 14 bytes choose the clock and the cap: 4 bytes of seconds and 2 of milliseconds give `now`
 * anywhere from 1970 to about 2106, 8 bytes give max_ms over the whole int64 range (negative caps
 * included); the rest, NUL-terminated, is the header value. Checked: the delay is -1 or in
 * [0, max(max_ms, 0)], and whenever the value is an HTTP-date the delay is exactly the date minus
 * now, clamped, so the date parser and the delay computation cannot disagree. The same value is
 * also read as retry-after-ms and as an x-ratelimit-reset-requests duration (each -1 or in range),
 * and retry_after_choose_ms over the three must equal the first of them that parsed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "retry_after.h"

#define FUZZ_PARAM_BYTES 14

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int ok, const char *what, const char *value, int64_t now, int64_t max)
{
    if (!ok) {
        fprintf(stderr, "fuzz_retry_after: %s (value \"%s\", now %lld, max %lld)\n", what, value,
                (long long)now, (long long)max);
        abort();
    }
}

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static int64_t clamp(int64_t v, int64_t max)
{
    if (max < 0)
        max = 0;
    return v < 0 ? 0 : v > max ? max : v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < FUZZ_PARAM_BYTES)
        return 0;
    int64_t now = (int64_t)get_le(data, 4) * 1000 + (int64_t)(get_le(data + 4, 2) % 1000);
    int64_t max = (int64_t)get_le(data + 6, 8);
    size_t n = size - FUZZ_PARAM_BYTES;
    char *value = malloc(n + 1);
    if (!value)
        return 0;
    memcpy(value, data + FUZZ_PARAM_BYTES, n);
    value[n] = '\0';

    int64_t ms = retry_after_parse_ms(value, now, max);
    fuzz_check(ms == -1 || (ms >= 0 && ms <= (max < 0 ? 0 : max)), "delay out of range", value,
               now, max);
    int64_t when = 0;
    if (retry_after_parse_date(value, now, &when) == 0)
        fuzz_check(ms == clamp(when - now, max), "delay is not the date minus now", value, now,
                   max);
    int64_t cap = max < 0 ? 0 : max;
    int64_t as_ms = retry_after_ms_header(value, max);
    int64_t as_dur = retry_after_duration_ms(value, max);
    fuzz_check(as_ms == -1 || (as_ms >= 0 && as_ms <= cap), "retry-after-ms out of range", value, now, max);
    fuzz_check(as_dur == -1 || (as_dur >= 0 && as_dur <= cap), "duration out of range", value, now, max);
    struct retry_hints h = {value, value, value};
    int64_t chosen = retry_after_choose_ms(&h, now, max);
    int64_t want = as_ms >= 0 ? as_ms : ms >= 0 ? ms : as_dur;
    fuzz_check(chosen == want, "choose_ms is not the first hint that parsed", value, now, max);
    free(value);
    return 0;
}
