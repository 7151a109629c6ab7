/* check_backoff.c - backoff caps, jitter bounds and spread, overflow safety.
 *
 * The random source is seeded explicitly, so every run draws the same numbers; the statistical
 * checks have wide margins (many standard deviations) and still fail on a biased or constant
 * generator. */
#include "check_main.h"

#include <stdint.h>

#include "../../consumer/backoff.h"

START_TEST(test_cap_doubles_then_caps)
{
    static const int64_t want[] = { 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000 };
    for (int i = 0; i < (int)(sizeof want / sizeof want[0]); i++)
        ck_assert_int_eq(backoff_cap_ms(1000, 60000, i + 1), want[i]);
}
END_TEST

START_TEST(test_cap_exact_power_at_max)
{
    ck_assert_int_eq(backoff_cap_ms(1000, 64000, 7), 64000);
    ck_assert_int_eq(backoff_cap_ms(1000, 64000, 8), 64000);
    ck_assert_int_eq(backoff_cap_ms(1000, 63999, 7), 63999);
    ck_assert_int_eq(backoff_cap_ms(1000, 64001, 7), 64000);
}
END_TEST

START_TEST(test_cap_edge_inputs)
{
    ck_assert_int_eq(backoff_cap_ms(1000, 60000, 0), 1000);     /* retry < 1 taken as 1 */
    ck_assert_int_eq(backoff_cap_ms(1000, 60000, -7), 1000);
    ck_assert_int_eq(backoff_cap_ms(0, 60000, 3), 0);
    ck_assert_int_eq(backoff_cap_ms(-5, 60000, 3), 0);
    ck_assert_int_eq(backoff_cap_ms(1000, 0, 3), 0);
    ck_assert_int_eq(backoff_cap_ms(1000, 500, 1), 500);        /* max below base */
    ck_assert_int_eq(backoff_cap_ms(1, INT64_MAX, 63), INT64_C(1) << 62);
    ck_assert(backoff_cap_ms(1, INT64_MAX, 64) == INT64_MAX);
}
END_TEST

START_TEST(test_cap_huge_retry_no_overflow)
{
    for (int retry = 1; retry <= 1000; retry++) {
        int64_t c = backoff_cap_ms(1000, 60000, retry);
        ck_assert(c >= 1000 && c <= 60000);
        int64_t big = backoff_cap_ms(INT64_MAX / 3, INT64_MAX, retry);
        ck_assert(big >= INT64_MAX / 3);
    }
    ck_assert_int_eq(backoff_cap_ms(1000, 60000, 1000), 60000);
    ck_assert_int_eq(backoff_cap_ms(1000, 60000, INT32_MAX), 60000);
    ck_assert(backoff_cap_ms(INT64_MAX, INT64_MAX, 2) == INT64_MAX);
}
END_TEST

START_TEST(test_delay_bounds_10k)
{
    uint64_t rng = 42;
    for (int retry = 1; retry <= 10; retry++) {
        int64_t cap = backoff_cap_ms(1000, 60000, retry);
        for (int i = 0; i < 10000; i++) {
            int64_t d = backoff_delay_ms(1000, 60000, retry, &rng);
            ck_assert(d >= 0 && d <= cap);
        }
    }
}
END_TEST

START_TEST(test_delay_mean_and_spread)
{
    /* Uniform on [0, 4000]: mean 2000, sd ~1155, so the mean of 10k draws has sd ~11.5. */
    uint64_t rng = 7;
    int64_t sum = 0, lo = INT64_MAX, hi = 0;
    int below_quarter = 0;
    for (int i = 0; i < 10000; i++) {
        int64_t d = backoff_delay_ms(1000, 60000, 3, &rng);
        sum += d;
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
        below_quarter += d < 1000;
    }
    double mean = (double)sum / 10000.0;
    ck_assert_msg(mean > 1900 && mean < 2100, "mean %f", mean);
    ck_assert(lo < 50);                 /* full jitter reaches down to 0 ... */
    ck_assert(hi > 3950);               /* ... and up to the cap */
    ck_assert_msg(below_quarter > 2200 && below_quarter < 2800, "quarter %d", below_quarter);
}
END_TEST

START_TEST(test_delay_both_ends_reachable)
{
    /* cap 1: values 0 and 1 each about half the time. */
    uint64_t rng = 1;
    int ones = 0;
    for (int i = 0; i < 10000; i++) {
        int64_t d = backoff_delay_ms(1, 1, 1, &rng);
        ck_assert(d == 0 || d == 1);
        ones += (int)d;
    }
    ck_assert_msg(ones > 4700 && ones < 5300, "ones %d", ones);
}
END_TEST

START_TEST(test_delay_zero_cap)
{
    uint64_t rng = 9;
    ck_assert_int_eq(backoff_delay_ms(0, 60000, 5, &rng), 0);
    ck_assert_int_eq(backoff_delay_ms(1000, 0, 5, &rng), 0);
    ck_assert(rng == 9);                /* nothing drawn */
}
END_TEST

START_TEST(test_delay_huge_cap)
{
    uint64_t rng = 3;
    for (int i = 0; i < 1000; i++) {
        int64_t d = backoff_delay_ms(INT64_MAX, INT64_MAX, 1000, &rng);
        ck_assert(d >= 0);
    }
}
END_TEST

START_TEST(test_rng_reproducible_and_moving)
{
    uint64_t a = 0, b = 0;              /* zero is a valid splitmix64 state */
    uint64_t first = backoff_rng_next(&a);
    ck_assert(first == backoff_rng_next(&b));
    ck_assert(a == b && a != 0);
    uint64_t second = backoff_rng_next(&a);
    ck_assert(first != second);
    /* Known splitmix64 output for seed 0 guards against an accidental change of generator. */
    ck_assert(first == UINT64_C(0xE220A8397B1DCDAF));
    /* Rough bit balance over 10k draws: each bit set ~50% of the time. */
    uint64_t s = 12345;
    int counts[64] = { 0 };
    for (int i = 0; i < 10000; i++) {
        uint64_t r = backoff_rng_next(&s);
        for (int bit = 0; bit < 64; bit++)
            counts[bit] += (int)((r >> bit) & 1);
    }
    for (int bit = 0; bit < 64; bit++)
        ck_assert_msg(counts[bit] > 4700 && counts[bit] < 5300, "bit %d: %d", bit, counts[bit]);
}
END_TEST

static Suite *backoff_suite(void)
{
    Suite *s = suite_create("backoff");
    TCase *cap = tcase_create("cap");
    tcase_add_test(cap, test_cap_doubles_then_caps);
    tcase_add_test(cap, test_cap_exact_power_at_max);
    tcase_add_test(cap, test_cap_edge_inputs);
    tcase_add_test(cap, test_cap_huge_retry_no_overflow);
    suite_add_tcase(s, cap);
    TCase *jit = tcase_create("jitter");
    tcase_add_test(jit, test_delay_bounds_10k);
    tcase_add_test(jit, test_delay_mean_and_spread);
    tcase_add_test(jit, test_delay_both_ends_reachable);
    tcase_add_test(jit, test_delay_zero_cap);
    tcase_add_test(jit, test_delay_huge_cap);
    tcase_add_test(jit, test_rng_reproducible_and_moving);
    suite_add_tcase(s, jit);
    return s;
}

CHECK_MAIN(backoff_suite)
