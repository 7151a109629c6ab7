/* check_breaker.c - the breaker's state machine, walked on an exact injected clock.
 *
 * Uses the contract defaults (threshold 5, open 60 s, 2 probe successes) unless a test says
 * otherwise, and checks every edge the design relies on: the exact threshold, the exact end of
 * the open period, one probe at a time, and late records that must not corrupt the state. */
#include "check_main.h"

#include <stdint.h>
#include <string.h>

#include "../../consumer/breaker.h"

static const struct breaker_config defaults = {
    .failure_threshold = 5, .open_ms = 60000, .half_open_successes = 2,
};

/* Lets a call through and records its verdict, as the engine does. */
static void call(struct breaker *b, enum breaker_verdict v, int64_t now)
{
    ck_assert(breaker_allow(b, now));
    breaker_record(b, v, now);
}

/* Opens a default breaker at time `at`. */
static void open_at(struct breaker *b, int64_t at)
{
    breaker_init(b, &defaults);
    for (int i = 0; i < 5; i++)
        call(b, BREAKER_FAILURE, at);
    ck_assert_int_eq(b->state, BREAKER_OPEN);
}

START_TEST(test_init_closed)
{
    struct breaker b;
    memset(&b, 0xff, sizeof b);
    breaker_init(&b, &defaults);
    ck_assert_int_eq(b.state, BREAKER_CLOSED);
    ck_assert_int_eq(b.consecutive_failures, 0);
    ck_assert_int_eq(b.probes_in_flight, 0);
    ck_assert_int_eq(b.probe_successes, 0);
    ck_assert(breaker_allow(&b, 0));
    ck_assert_int_eq(breaker_next_probe_ms(&b), 0);
}
END_TEST

START_TEST(test_threshold_exact)
{
    struct breaker b;
    breaker_init(&b, &defaults);
    for (int i = 0; i < 4; i++)
        call(&b, BREAKER_FAILURE, 100 + i);
    ck_assert_int_eq(b.state, BREAKER_CLOSED);
    ck_assert_int_eq(b.consecutive_failures, 4);
    ck_assert(breaker_allow(&b, 200));
    breaker_record(&b, BREAKER_FAILURE, 200);
    ck_assert_int_eq(b.state, BREAKER_OPEN);
    ck_assert_int_eq(b.opened_at_ms, 200);
    ck_assert_int_eq(breaker_next_probe_ms(&b), 60200);
}
END_TEST

START_TEST(test_success_resets)
{
    struct breaker b;
    breaker_init(&b, &defaults);
    for (int round = 0; round < 10; round++) {
        for (int i = 0; i < 4; i++)
            call(&b, BREAKER_FAILURE, round);
        call(&b, BREAKER_SUCCESS, round);
        ck_assert_int_eq(b.consecutive_failures, 0);
    }
    ck_assert_int_eq(b.state, BREAKER_CLOSED);
}
END_TEST

START_TEST(test_neutral_in_closed_does_not_reset)
{
    /* A 429 between failures neither counts nor forgives. */
    struct breaker b;
    breaker_init(&b, &defaults);
    for (int i = 0; i < 4; i++)
        call(&b, BREAKER_FAILURE, 0);
    for (int i = 0; i < 100; i++)
        call(&b, BREAKER_NEUTRAL, 0);
    ck_assert_int_eq(b.state, BREAKER_CLOSED);
    ck_assert_int_eq(b.consecutive_failures, 4);
    call(&b, BREAKER_FAILURE, 0);
    ck_assert_int_eq(b.state, BREAKER_OPEN);
}
END_TEST

START_TEST(test_open_refuses_until_exactly_open_ms)
{
    struct breaker b;
    open_at(&b, 1000);
    ck_assert(!breaker_allow(&b, 1000));
    ck_assert(!breaker_allow(&b, 30000));
    ck_assert(!breaker_allow(&b, 60999));
    ck_assert_int_eq(b.state, BREAKER_OPEN);
    ck_assert(breaker_allow(&b, 61000));
    ck_assert_int_eq(b.state, BREAKER_HALF_OPEN);
    ck_assert_int_eq(b.probes_in_flight, 1);
    ck_assert_int_eq(breaker_next_probe_ms(&b), 0);
}
END_TEST

START_TEST(test_one_probe_at_a_time)
{
    struct breaker b;
    open_at(&b, 0);
    ck_assert(breaker_allow(&b, 60000));
    for (int i = 0; i < 10; i++)
        ck_assert(!breaker_allow(&b, 60001 + i));
    ck_assert_int_eq(b.probes_in_flight, 1);
    breaker_record(&b, BREAKER_SUCCESS, 60100);
    ck_assert_int_eq(b.state, BREAKER_HALF_OPEN);
    ck_assert_int_eq(b.probes_in_flight, 0);
    ck_assert(breaker_allow(&b, 60100));
    ck_assert(!breaker_allow(&b, 60100));
}
END_TEST

START_TEST(test_probe_failure_reopens)
{
    struct breaker b;
    open_at(&b, 0);
    ck_assert(breaker_allow(&b, 70000));
    breaker_record(&b, BREAKER_FAILURE, 70500);
    ck_assert_int_eq(b.state, BREAKER_OPEN);
    ck_assert_int_eq(b.opened_at_ms, 70500);
    ck_assert_int_eq(b.probes_in_flight, 0);
    ck_assert(!breaker_allow(&b, 130499));
    ck_assert(breaker_allow(&b, 130500));
}
END_TEST

START_TEST(test_failure_after_one_probe_success_reopens)
{
    struct breaker b;
    open_at(&b, 0);
    call(&b, BREAKER_SUCCESS, 60000);
    ck_assert_int_eq(b.probe_successes, 1);
    call(&b, BREAKER_FAILURE, 60001);
    ck_assert_int_eq(b.state, BREAKER_OPEN);
    ck_assert_int_eq(b.probe_successes, 0);
    /* The next half-open period needs its full count again. */
    call(&b, BREAKER_SUCCESS, 120001);
    ck_assert_int_eq(b.state, BREAKER_HALF_OPEN);
    call(&b, BREAKER_SUCCESS, 120002);
    ck_assert_int_eq(b.state, BREAKER_CLOSED);
}
END_TEST

START_TEST(test_closes_after_n_probe_successes)
{
    struct breaker b;
    struct breaker_config cfg = defaults;
    cfg.half_open_successes = 3;
    breaker_init(&b, &cfg);
    for (int i = 0; i < 5; i++)
        call(&b, BREAKER_FAILURE, 0);
    call(&b, BREAKER_SUCCESS, 60000);
    call(&b, BREAKER_SUCCESS, 60001);
    ck_assert_int_eq(b.state, BREAKER_HALF_OPEN);
    ck_assert_int_eq(b.probe_successes, 2);
    call(&b, BREAKER_SUCCESS, 60002);
    ck_assert_int_eq(b.state, BREAKER_CLOSED);
    ck_assert_int_eq(b.consecutive_failures, 0);
    ck_assert_int_eq(b.probes_in_flight, 0);
    /* Closed again: many calls at once, and the full threshold is needed to re-open. */
    ck_assert(breaker_allow(&b, 60003));
    ck_assert(breaker_allow(&b, 60003));
    breaker_record(&b, BREAKER_SUCCESS, 60004);
    breaker_record(&b, BREAKER_SUCCESS, 60004);
    for (int i = 0; i < 4; i++)
        call(&b, BREAKER_FAILURE, 60005);
    ck_assert_int_eq(b.state, BREAKER_CLOSED);
}
END_TEST

START_TEST(test_neutral_probe_frees_slot_only)
{
    struct breaker b;
    open_at(&b, 0);
    call(&b, BREAKER_NEUTRAL, 60000);
    ck_assert_int_eq(b.state, BREAKER_HALF_OPEN);
    ck_assert_int_eq(b.probes_in_flight, 0);
    ck_assert_int_eq(b.probe_successes, 0);
    call(&b, BREAKER_SUCCESS, 60001);
    call(&b, BREAKER_NEUTRAL, 60002);
    ck_assert_int_eq(b.probe_successes, 1);
    ck_assert_int_eq(b.state, BREAKER_HALF_OPEN);
    call(&b, BREAKER_SUCCESS, 60003);
    ck_assert_int_eq(b.state, BREAKER_CLOSED);
}
END_TEST

START_TEST(test_threshold_one)
{
    struct breaker b;
    struct breaker_config cfg = { .failure_threshold = 1, .open_ms = 10, .half_open_successes = 1 };
    breaker_init(&b, &cfg);
    call(&b, BREAKER_SUCCESS, 0);
    call(&b, BREAKER_FAILURE, 1);
    ck_assert_int_eq(b.state, BREAKER_OPEN);
    ck_assert(!breaker_allow(&b, 10));
    call(&b, BREAKER_SUCCESS, 11);
    ck_assert_int_eq(b.state, BREAKER_CLOSED);
    call(&b, BREAKER_FAILURE, 12);
    ck_assert_int_eq(b.state, BREAKER_OPEN);
    ck_assert_int_eq(breaker_next_probe_ms(&b), 22);
}
END_TEST

START_TEST(test_config_clamped)
{
    struct breaker b;
    struct breaker_config cfg = {
        .failure_threshold = 0, .open_ms = -5, .half_open_successes = -1,
    };
    breaker_init(&b, &cfg);
    ck_assert_int_eq(b.cfg.failure_threshold, 1);
    ck_assert_int_eq(b.cfg.open_ms, 0);
    ck_assert_int_eq(b.cfg.half_open_successes, 1);
    call(&b, BREAKER_FAILURE, 5);
    ck_assert_int_eq(b.state, BREAKER_OPEN);
    /* open_ms 0: the very same millisecond may probe. */
    call(&b, BREAKER_SUCCESS, 5);
    ck_assert_int_eq(b.state, BREAKER_CLOSED);
}
END_TEST

START_TEST(test_late_records_while_open_ignored)
{
    /* Six calls go out while CLOSED; five fail and open it; the sixth answers late. */
    struct breaker b;
    breaker_init(&b, &defaults);
    for (int i = 0; i < 6; i++)
        ck_assert(breaker_allow(&b, 0));
    for (int i = 0; i < 5; i++)
        breaker_record(&b, BREAKER_FAILURE, 100);
    ck_assert_int_eq(b.state, BREAKER_OPEN);
    breaker_record(&b, BREAKER_SUCCESS, 200);
    ck_assert_int_eq(b.state, BREAKER_OPEN);
    ck_assert_int_eq(b.opened_at_ms, 100);
    breaker_record(&b, BREAKER_FAILURE, 300);
    ck_assert_int_eq(b.state, BREAKER_OPEN);
    ck_assert_int_eq(b.opened_at_ms, 100);  /* not stretched */
    breaker_record(&b, BREAKER_NEUTRAL, 300);
    ck_assert_int_eq(b.probes_in_flight, 0);
    ck_assert_int_eq(breaker_next_probe_ms(&b), 60100);
}
END_TEST

START_TEST(test_late_record_half_open_without_probe_ignored)
{
    struct breaker b;
    open_at(&b, 0);
    call(&b, BREAKER_SUCCESS, 60000);           /* probe 1 of 2 done, no probe out */
    breaker_record(&b, BREAKER_FAILURE, 60001); /* a late CLOSED-era failure */
    ck_assert_int_eq(b.state, BREAKER_HALF_OPEN);
    breaker_record(&b, BREAKER_SUCCESS, 60002); /* a late success must not close it either */
    ck_assert_int_eq(b.state, BREAKER_HALF_OPEN);
    ck_assert_int_eq(b.probe_successes, 1);
    ck_assert_int_eq(b.probes_in_flight, 0);
    ck_assert(breaker_allow(&b, 60003));
}
END_TEST

START_TEST(test_late_records_in_closed_after_recovery)
{
    /* Records that reach a re-closed breaker count normally and never underflow anything. */
    struct breaker b;
    struct breaker_config cfg = defaults;
    cfg.half_open_successes = 1;
    breaker_init(&b, &cfg);
    for (int i = 0; i < 5; i++)
        call(&b, BREAKER_FAILURE, 0);
    call(&b, BREAKER_SUCCESS, 60000);
    ck_assert_int_eq(b.state, BREAKER_CLOSED);
    breaker_record(&b, BREAKER_NEUTRAL, 60001);
    breaker_record(&b, BREAKER_SUCCESS, 60001);
    ck_assert_int_eq(b.probes_in_flight, 0);
    ck_assert_int_eq(b.consecutive_failures, 0);
    ck_assert_int_eq(b.state, BREAKER_CLOSED);
}
END_TEST

START_TEST(test_huge_open_ms_saturates)
{
    struct breaker b;
    struct breaker_config cfg = {
        .failure_threshold = 1, .open_ms = INT64_MAX, .half_open_successes = 1,
    };
    breaker_init(&b, &cfg);
    call(&b, BREAKER_FAILURE, 1000);
    ck_assert(breaker_next_probe_ms(&b) == INT64_MAX);
    ck_assert(!breaker_allow(&b, INT64_MAX - 1));
}
END_TEST

START_TEST(test_state_names)
{
    ck_assert_str_eq(breaker_state_name(BREAKER_CLOSED), "closed");
    ck_assert_str_eq(breaker_state_name(BREAKER_HALF_OPEN), "half_open");
    ck_assert_str_eq(breaker_state_name(BREAKER_OPEN), "open");
    ck_assert_str_eq(breaker_state_name((enum breaker_state)7), "unknown");
    ck_assert_int_eq(BREAKER_CLOSED, 0);
    ck_assert_int_eq(BREAKER_HALF_OPEN, 1);
    ck_assert_int_eq(BREAKER_OPEN, 2);
}
END_TEST

static Suite *breaker_suite(void)
{
    Suite *s = suite_create("breaker");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_init_closed);
    tcase_add_test(tc, test_threshold_exact);
    tcase_add_test(tc, test_success_resets);
    tcase_add_test(tc, test_neutral_in_closed_does_not_reset);
    tcase_add_test(tc, test_open_refuses_until_exactly_open_ms);
    tcase_add_test(tc, test_one_probe_at_a_time);
    tcase_add_test(tc, test_probe_failure_reopens);
    tcase_add_test(tc, test_failure_after_one_probe_success_reopens);
    tcase_add_test(tc, test_closes_after_n_probe_successes);
    tcase_add_test(tc, test_neutral_probe_frees_slot_only);
    tcase_add_test(tc, test_threshold_one);
    tcase_add_test(tc, test_config_clamped);
    suite_add_tcase(s, tc);
    TCase *late = tcase_create("late_records");
    tcase_add_test(late, test_late_records_while_open_ignored);
    tcase_add_test(late, test_late_record_half_open_without_probe_ignored);
    tcase_add_test(late, test_late_records_in_closed_after_recovery);
    tcase_add_test(late, test_huge_open_ms_saturates);
    tcase_add_test(late, test_state_names);
    suite_add_tcase(s, late);
    return s;
}

CHECK_MAIN(breaker_suite)
