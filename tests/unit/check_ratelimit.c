/* check_ratelimit.c - token bucket: exact grants over a simulated minute, bursts, waits,
 * unlimited, fractional and very high rates, rate changes, and clock oddities. */
#include "check_main.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "ratelimit.h"

/* Greedy caller: every millisecond from `from` to `to` inclusive, takes all it can. */
static long drain_every_ms(struct ratelimit *r, int64_t from, int64_t to)
{
    long granted = 0;
    for (int64_t t = from; t <= to; t++)
        while (ratelimit_take(r, t) == 0)
            granted++;
    return granted;
}

/* Obedient caller: sleeps exactly the returned wait; counts grants up to `to` inclusive. */
static long follow_waits(struct ratelimit *r, int64_t from, int64_t to)
{
    long granted = 0;
    int64_t t = from;
    while (t <= to) {
        int64_t w = ratelimit_take(r, t);
        if (w == 0)
            granted++;
        else
            t += w;
    }
    return granted;
}

START_TEST(test_minute_at_200_greedy)
{
    struct ratelimit r;
    ratelimit_init(&r, 200, 10, 0);
    ck_assert_int_eq(drain_every_ms(&r, 0, 60000), 200 * 60 + 10);
}
END_TEST

START_TEST(test_minute_at_200_following_waits)
{
    struct ratelimit r;
    ratelimit_init(&r, 200, 1, 0);
    ck_assert_int_eq(follow_waits(&r, 0, 60000), 200 * 60 + 1);
}
END_TEST

START_TEST(test_minute_odd_rate)
{
    /* 7/s does not divide 1000 ms: 420 in a minute, +burst, within one. */
    struct ratelimit r;
    ratelimit_init(&r, 7, 3, 0);
    long g = drain_every_ms(&r, 0, 60000);
    ck_assert_msg(labs(g - (7 * 60 + 3)) <= 1, "granted %ld", g);
    ratelimit_init(&r, 7, 1, 0);
    g = follow_waits(&r, 0, 60000);
    ck_assert_msg(labs(g - (7 * 60 + 1)) <= 1, "granted %ld", g);
}
END_TEST

START_TEST(test_waits_exact)
{
    struct ratelimit r;
    ratelimit_init(&r, 200, 1, 1000);
    ck_assert_int_eq(ratelimit_take(&r, 1000), 0);
    ck_assert_int_eq(ratelimit_take(&r, 1000), 5);
    ck_assert_int_eq(ratelimit_take(&r, 1003), 2);      /* 0.6 token earned */
    ck_assert_int_eq(ratelimit_take(&r, 1004), 1);
    ck_assert_int_eq(ratelimit_take(&r, 1005), 0);
    ck_assert_int_eq(ratelimit_take(&r, 1005), 5);
}
END_TEST

START_TEST(test_float_drift_absorbed)
{
    /* At 100/s each ms adds 0.1, and ten of those make 0.99999999999999989 in binary floating
     * point: the token must still be there at exactly 10 ms, and every wait must be exact. */
    struct ratelimit r;
    ratelimit_init(&r, 100, 1, 0);
    ck_assert_int_eq(ratelimit_take(&r, 0), 0);
    int wrong = 0;
    for (int64_t t = 1; t <= 60000; t++) {
        int64_t want = t % 10 == 0 ? 0 : 10 - t % 10;
        wrong += ratelimit_take(&r, t) != want;
    }
    ck_assert_int_eq(wrong, 0);
}
END_TEST

START_TEST(test_burst)
{
    struct ratelimit r;
    ratelimit_init(&r, 10, 5, 0);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(ratelimit_take(&r, 0), 0);
    ck_assert_int_eq(ratelimit_take(&r, 0), 100);
    /* An idle hour refills to the burst, not beyond. */
    ck_assert_int_eq(drain_every_ms(&r, 3600000, 3600000), 5);
    ck_assert_int_eq(ratelimit_take(&r, 3600000), 100);
}
END_TEST

START_TEST(test_burst_below_one)
{
    struct ratelimit r;
    ratelimit_init(&r, 10, 0, 0);
    ck_assert(r.burst == 1);
    ck_assert_int_eq(ratelimit_take(&r, 0), 0);
    ck_assert_int_eq(ratelimit_take(&r, 0), 100);
    ratelimit_init(&r, 10, NAN, 0);
    ck_assert(r.burst == 1);
}
END_TEST

START_TEST(test_unlimited)
{
    struct ratelimit r;
    static const double rates[] = { 0, -5, NAN, INFINITY };
    for (size_t k = 0; k < sizeof rates / sizeof rates[0]; k++) {
        ratelimit_init(&r, rates[k], 1, 0);
        ck_assert(r.rate_per_s == 0);
        long zeros = 0;
        for (int i = 0; i < 100000; i++)
            zeros += ratelimit_take(&r, 0) == 0;
        ck_assert_int_eq(zeros, 100000);
    }
}
END_TEST

START_TEST(test_half_per_second)
{
    struct ratelimit r;
    ratelimit_init(&r, 0.5, 1, 0);
    ck_assert_int_eq(ratelimit_take(&r, 0), 0);
    ck_assert_int_eq(ratelimit_take(&r, 0), 2000);
    ck_assert_int_eq(ratelimit_take(&r, 1999), 1);
    ck_assert_int_eq(ratelimit_take(&r, 2000), 0);
    ck_assert_int_eq(ratelimit_take(&r, 2500), 1500);
    ratelimit_init(&r, 0.5, 1, 0);
    ck_assert_int_eq(follow_waits(&r, 0, 60000), 31);
}
END_TEST

START_TEST(test_high_rate_beyond_ms)
{
    /* 5000/s with burst 1 still reaches 5000/s: capacity is at least one ms of tokens. */
    struct ratelimit r;
    ratelimit_init(&r, 5000, 1, 0);
    long g = drain_every_ms(&r, 1, 1000);
    ck_assert_int_eq(g, 5000);
}
END_TEST

START_TEST(test_set_rate_keeps_earned_tokens)
{
    struct ratelimit r;
    ratelimit_init(&r, 100, 1, 0);
    ck_assert_int_eq(ratelimit_take(&r, 0), 0);
    /* 5 ms at 100/s = 0.5 token earned, then slow to 10/s: 0.5 more takes 50 ms. */
    ratelimit_set_rate(&r, 10, 5);
    ck_assert_int_eq(ratelimit_take(&r, 5), 50);
    ck_assert_int_eq(ratelimit_take(&r, 55), 0);
    /* Speed up again. */
    ratelimit_set_rate(&r, 1000, 55);
    ck_assert_int_eq(ratelimit_take(&r, 55), 1);
    ck_assert_int_eq(ratelimit_take(&r, 56), 0);
}
END_TEST

START_TEST(test_set_rate_unlimited_transitions)
{
    struct ratelimit r;
    ratelimit_init(&r, 0, 3, 0);
    ck_assert_int_eq(ratelimit_take(&r, 0), 0);
    ratelimit_set_rate(&r, 1, 100);           /* leaving unlimited: a full bucket */
    ck_assert_int_eq(drain_every_ms(&r, 100, 100), 3);
    ck_assert_int_eq(ratelimit_take(&r, 100), 1000);
    ratelimit_set_rate(&r, 0, 200);           /* back to unlimited */
    ck_assert_int_eq(ratelimit_take(&r, 200), 0);
    ck_assert_int_eq(ratelimit_take(&r, 200), 0);
    ratelimit_set_rate(&r, 1, 300);           /* limited again: full, not the old empty bucket */
    ck_assert_int_eq(drain_every_ms(&r, 300, 300), 3);
}
END_TEST

START_TEST(test_set_rate_caps_tokens)
{
    /* A high rate's one-ms capacity does not survive a drop to a low rate. */
    struct ratelimit r;
    ratelimit_init(&r, 10000, 1, 0);          /* capacity 10 */
    ratelimit_set_rate(&r, 1, 0);             /* capacity 1 */
    ck_assert_int_eq(ratelimit_take(&r, 0), 0);
    ck_assert_int_eq(ratelimit_take(&r, 0), 1000);
}
END_TEST

START_TEST(test_clock_oddities)
{
    struct ratelimit r;
    ratelimit_init(&r, 10, 1, 1000);
    ck_assert_int_eq(ratelimit_take(&r, 1000), 0);
    ck_assert(ratelimit_take(&r, 500) > 0);   /* stepped back: nothing refilled */
    ck_assert_int_eq(ratelimit_take(&r, 1100), 0);
    ratelimit_init(&r, 1e-300, 1, 0);
    ck_assert_int_eq(ratelimit_take(&r, 0), 0);
    ck_assert(ratelimit_take(&r, 0) > INT64_C(1000000000000000));
}
END_TEST

static Suite *ratelimit_suite(void)
{
    Suite *s = suite_create("ratelimit");
    TCase *tc = tcase_create("bucket");
    tcase_add_test(tc, test_minute_at_200_greedy);
    tcase_add_test(tc, test_minute_at_200_following_waits);
    tcase_add_test(tc, test_minute_odd_rate);
    tcase_add_test(tc, test_waits_exact);
    tcase_add_test(tc, test_float_drift_absorbed);
    tcase_add_test(tc, test_burst);
    tcase_add_test(tc, test_burst_below_one);
    tcase_add_test(tc, test_unlimited);
    tcase_add_test(tc, test_half_per_second);
    tcase_add_test(tc, test_high_rate_beyond_ms);
    tcase_add_test(tc, test_set_rate_keeps_earned_tokens);
    tcase_add_test(tc, test_set_rate_unlimited_transitions);
    tcase_add_test(tc, test_set_rate_caps_tokens);
    tcase_add_test(tc, test_clock_oddities);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(ratelimit_suite)
