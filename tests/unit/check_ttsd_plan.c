/* check_ttsd_plan.c - voxcast-ttsd's account (tools/ttsd/plan.c) and its per-second counters
 * (tools/ttsd/stats.c), on an injected clock: slots up to the limit and back, the order of the two
 * refusals (a concurrency refusal takes no token, a rate refusal gives its slot back), the burst
 * of max(1, rate), Retry-After rounding, a change of rate, and the histogram's window. */
#include "check_main.h"

#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "../../tools/ttsd/plan.h"
#include "../../tools/ttsd/stats.h"

START_TEST(test_slots_up_to_the_limit_and_back)
{
    struct plan p;
    struct plan_ticket t;
    plan_init(&p, 0);
    for (long i = 1; i <= 3; i++) {
        plan_admit(&p, 3, 0, 0, &t);
        ck_assert_int_eq(t.verdict, PLAN_ADMITTED);
        ck_assert_int_eq(t.current, i);
        ck_assert_int_eq(t.limit, 3);
    }
    plan_admit(&p, 3, 0, 0, &t);
    ck_assert_int_eq(t.verdict, PLAN_TOO_MANY);
    ck_assert_int_eq(t.current, 3);   /* the refused request holds nothing */
    ck_assert_int_eq(plan_in_use(&p), 3);
    plan_release(&p);
    plan_admit(&p, 3, 0, 0, &t);
    ck_assert_int_eq(t.verdict, PLAN_ADMITTED);
    plan_admit(&p, 0, 0, 0, &t);      /* no limit: always a slot, and no limit reported */
    ck_assert_int_eq(t.verdict, PLAN_ADMITTED);
    ck_assert_int_eq(t.limit, 0);
    ck_assert_int_eq(plan_in_use(&p), 4);
    plan_free(&p);
}
END_TEST

START_TEST(test_rate_burst_wait_and_recovery)
{
    struct plan p;
    struct plan_ticket t;
    plan_init(&p, 0);
    plan_admit(&p, 0, 2, 1000, &t);   /* burst of max(1, 2) = 2 */
    ck_assert_int_eq(t.verdict, PLAN_ADMITTED);
    plan_admit(&p, 0, 2, 1000, &t);
    ck_assert_int_eq(t.verdict, PLAN_ADMITTED);
    plan_admit(&p, 0, 2, 1000, &t);
    ck_assert_int_eq(t.verdict, PLAN_RATE_LIMITED);
    ck_assert_int_eq(t.wait_ms, 500);
    ck_assert_int_eq(plan_in_use(&p), 2);   /* the refused one gave its slot back */
    plan_admit(&p, 0, 2, 1499, &t);
    ck_assert_int_eq(t.verdict, PLAN_RATE_LIMITED);
    ck_assert_int_eq(t.wait_ms, 1);
    plan_admit(&p, 0, 2, 1500, &t);
    ck_assert_int_eq(t.verdict, PLAN_ADMITTED);
    plan_free(&p);
}
END_TEST

START_TEST(test_concurrency_refusal_takes_no_token)
{
    struct plan p;
    struct plan_ticket t;
    plan_init(&p, 0);
    plan_admit(&p, 1, 1, 0, &t);   /* the slot and the one token */
    ck_assert_int_eq(t.verdict, PLAN_ADMITTED);
    plan_admit(&p, 1, 1, 0, &t);
    ck_assert_int_eq(t.verdict, PLAN_TOO_MANY);
    plan_release(&p);
    plan_admit(&p, 1, 1, 1000, &t);   /* a second later: exactly one token, not spent by the refusal */
    ck_assert_int_eq(t.verdict, PLAN_ADMITTED);
    plan_free(&p);
}
END_TEST

START_TEST(test_slow_rate_has_a_burst_of_one_and_a_change_refills)
{
    struct plan p;
    struct plan_ticket t;
    plan_init(&p, 0);
    plan_admit(&p, 0, 0.25, 0, &t);
    ck_assert_int_eq(t.verdict, PLAN_ADMITTED);
    plan_admit(&p, 0, 0.25, 0, &t);
    ck_assert_int_eq(t.verdict, PLAN_RATE_LIMITED);
    ck_assert_int_eq(t.wait_ms, 4000);
    ck_assert_int_eq(plan_retry_after_s(t.wait_ms), 4);
    plan_admit(&p, 0, 10, 1, &t);   /* a new rate: a new, full bucket */
    ck_assert_int_eq(t.verdict, PLAN_ADMITTED);
    plan_admit(&p, 0, 0, 1, &t);    /* unlimited */
    ck_assert_int_eq(t.verdict, PLAN_ADMITTED);
    plan_free(&p);
}
END_TEST

START_TEST(test_retry_after_rounds_up)
{
    ck_assert_int_eq(plan_retry_after_s(1), 1);
    ck_assert_int_eq(plan_retry_after_s(1000), 1);
    ck_assert_int_eq(plan_retry_after_s(1001), 2);
    ck_assert_int_eq(plan_retry_after_s(0), 1);
}
END_TEST

static json_t *stats_json(struct stats *s, int64_t now_ms)
{
    struct stats_account acct = {3, 2.5, 1};
    struct buf b = {0};
    stats_to_json(s, &acct, now_ms, &b);
    json_t *root = json_loadb(b.data, b.len, 0, NULL);
    buf_free(&b);
    ck_assert_ptr_nonnull(root);
    return root;
}

START_TEST(test_histogram_window_and_times)
{
    struct stats s;
    stats_init(&s);
    int64_t t0 = 1700000000000;
    for (int i = 0; i < 3; i++)
        stats_begin(&s, t0 + 10 * i);       /* 3 in the first second */
    stats_begin(&s, t0 + 2500);             /* 1 two seconds later */
    for (int i = 0; i < 4; i++)
        stats_end(&s);
    json_t *j = stats_json(&s, t0 + 3000);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "requests")), 4);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "peak_in_flight")), 4);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "first_request_ms")), t0);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "last_request_ms")), t0 + 2500);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "max_per_second")), 3);
    json_t *ps = json_object_get(j, "per_second");
    ck_assert_int_eq(json_array_size(ps), 2);
    ck_assert_int_eq(json_integer_value(json_array_get(json_array_get(ps, 0), 0)), t0 / 1000);
    ck_assert_int_eq(json_integer_value(json_array_get(json_array_get(ps, 0), 1)), 3);
    ck_assert_int_eq(json_integer_value(json_array_get(json_array_get(ps, 1), 1)), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "account"), "max_concurrent")), 3);
    json_decref(j);
    /* STATS_SECONDS later the first second has left the window; the ring slot is reused exactly. */
    stats_begin(&s, t0 + (int64_t)STATS_SECONDS * 1000);
    j = stats_json(&s, t0 + (int64_t)STATS_SECONDS * 1000);
    ps = json_object_get(j, "per_second");
    ck_assert_int_eq(json_array_size(ps), 2);   /* t0+2 s and the new one */
    ck_assert_int_eq(json_integer_value(json_array_get(json_array_get(ps, 1), 1)), 1);
    json_decref(j);
    stats_reset(&s);
    j = stats_json(&s, t0 + (int64_t)STATS_SECONDS * 1000);
    ck_assert_int_eq(json_array_size(json_object_get(j, "per_second")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "first_request_ms")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "peak_in_flight")), 1);   /* one still in flight */
    json_decref(j);
    stats_free(&s);
}
END_TEST

static Suite *ttsd_plan_suite(void)
{
    Suite *s = suite_create("ttsd_plan");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_slots_up_to_the_limit_and_back);
    tcase_add_test(tc, test_rate_burst_wait_and_recovery);
    tcase_add_test(tc, test_concurrency_refusal_takes_no_token);
    tcase_add_test(tc, test_slow_rate_has_a_burst_of_one_and_a_change_refills);
    tcase_add_test(tc, test_retry_after_rounds_up);
    tcase_add_test(tc, test_histogram_window_and_times);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(ttsd_plan_suite)
