/* check_breaker.c - the breaker's state machine, walked on an exact injected clock.
 *
 * Uses the contract defaults (threshold 5, open 60 s, 2 probe successes) unless a test says
 * otherwise, and checks every edge the design relies on: the exact threshold, the exact end of
 * the open period, one probe at a time, and late records that must not corrupt the state.
 * The shared breaker's hooks and breaker_shared.h's plan/apply are walked the same way, and a
 * fleet of four consumers runs against a model of the Redis sync script on one clock. */
#include "check_main.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../consumer/breaker.h"
#include "../../consumer/breaker_shared.h"

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

/* ================================================================ sharing (breaker_shared.h) */

/* Opens a shared default breaker at `at` on its own failures. */
static void open_shared_at(struct breaker *b, int64_t at)
{
    open_at(b, at);
    breaker_set_shared(b, true);
}

START_TEST(test_refuses_matches_open_period_when_not_shared)
{
    struct breaker b;
    open_at(&b, 0);
    ck_assert(breaker_refuses(&b, 0));
    ck_assert(breaker_refuses(&b, 59999));
    ck_assert(!breaker_refuses(&b, 60000));
    ck_assert(!b.wanted);
    ck_assert(breaker_allow(&b, 60000));
    ck_assert(!breaker_refuses(&b, 60001)); /* HALF_OPEN: the caller asks allow() and waits */
    breaker_init(&b, &defaults);
    ck_assert(!breaker_refuses(&b, 0));
}
END_TEST

START_TEST(test_shared_needs_permit_to_probe)
{
    struct breaker b;
    open_shared_at(&b, 0);
    ck_assert(breaker_refuses(&b, 100));
    ck_assert(!b.wanted);                   /* before the probe time nobody needs the probe */
    ck_assert(breaker_refuses(&b, 60000));  /* past it, without the permit: still refused */
    ck_assert(b.wanted);
    ck_assert(!breaker_allow(&b, 60000));
    ck_assert_int_eq(b.state, BREAKER_OPEN);
    ck_assert(breaker_take_wanted(&b));
    ck_assert(!breaker_take_wanted(&b));
    breaker_grant_probe(&b, 60250);
    ck_assert(!breaker_refuses(&b, 60250));
    ck_assert(breaker_allow(&b, 60250));
    ck_assert_int_eq(b.state, BREAKER_HALF_OPEN);
    ck_assert(!breaker_allow(&b, 60251));   /* still one probe at a time */
    ck_assert(b.wanted);                    /* the holder keeps its lease while asked */
}
END_TEST

START_TEST(test_shared_counts_own_transitions_only)
{
    struct breaker b;
    open_shared_at(&b, 0);
    ck_assert_uint_eq(b.opens, 1);
    breaker_grant_probe(&b, 60000);
    call(&b, BREAKER_FAILURE, 60010);       /* the probe fails: re-opened here */
    ck_assert_int_eq(b.state, BREAKER_OPEN);
    ck_assert_uint_eq(b.opens, 2);
    ck_assert(!b.probe_permit);             /* a new open period needs a new permit */
    ck_assert(!breaker_allow(&b, 120010));
    breaker_grant_probe(&b, 120010);
    call(&b, BREAKER_SUCCESS, 120020);
    call(&b, BREAKER_SUCCESS, 120030);
    ck_assert_int_eq(b.state, BREAKER_CLOSED);
    ck_assert_uint_eq(b.closes, 1);
    ck_assert(!b.probe_permit);
    /* adopted transitions move neither counter */
    breaker_adopt_open(&b, 200000);
    breaker_adopt_close(&b);
    ck_assert_uint_eq(b.opens, 2);
    ck_assert_uint_eq(b.closes, 1);
}
END_TEST

START_TEST(test_adopt_open_from_closed_and_half_open)
{
    struct breaker b;
    breaker_init(&b, &defaults);
    breaker_set_shared(&b, true);
    call(&b, BREAKER_FAILURE, 0);
    breaker_adopt_open(&b, 5000);
    ck_assert_int_eq(b.state, BREAKER_OPEN);
    ck_assert_int_eq(breaker_next_probe_ms(&b), 5000);
    ck_assert_int_eq(b.consecutive_failures, 0);
    ck_assert(breaker_refuses(&b, 4999));
    /* an OPEN breaker's probe time only moves later */
    breaker_adopt_open(&b, 3000);
    ck_assert_int_eq(breaker_next_probe_ms(&b), 5000);
    breaker_adopt_open(&b, 7000);
    ck_assert_int_eq(breaker_next_probe_ms(&b), 7000);
    /* our probe is out when another consumer re-opens the fleet: dropped, its record ignored */
    breaker_grant_probe(&b, 7000);
    ck_assert(breaker_allow(&b, 7000));
    breaker_adopt_open(&b, 9000);
    ck_assert_int_eq(b.state, BREAKER_OPEN);
    ck_assert_int_eq(b.probes_in_flight, 0);
    ck_assert(!b.probe_permit);
    breaker_record(&b, BREAKER_SUCCESS, 7100);
    ck_assert_int_eq(b.state, BREAKER_OPEN);
    ck_assert_int_eq(breaker_next_probe_ms(&b), 9000);
}
END_TEST

START_TEST(test_adopt_open_in_the_past_waits_for_the_fleet_probe)
{
    /* A consumer that starts while the fleet is half-open sends nothing until the verdict. */
    struct breaker b;
    breaker_init(&b, &defaults);
    breaker_set_shared(&b, true);
    breaker_adopt_open(&b, 1000);
    ck_assert(breaker_refuses(&b, 2000));
    ck_assert(!breaker_allow(&b, 2000));
    breaker_adopt_close(&b);
    ck_assert_int_eq(b.state, BREAKER_CLOSED);
    ck_assert(breaker_allow(&b, 2001));
}
END_TEST

START_TEST(test_grant_probe_early_and_from_closed)
{
    struct breaker b;
    open_shared_at(&b, 0);
    breaker_grant_probe(&b, 100);           /* the fleet's period ended before ours */
    ck_assert_int_eq(breaker_next_probe_ms(&b), 100);
    ck_assert(breaker_allow(&b, 100));
    breaker_init(&b, &defaults);
    breaker_set_shared(&b, true);
    breaker_grant_probe(&b, 50);
    ck_assert_int_eq(b.state, BREAKER_OPEN);
    ck_assert(breaker_allow(&b, 50));
    ck_assert_int_eq(b.state, BREAKER_HALF_OPEN);
}
END_TEST

START_TEST(test_unshared_fallback_probes_alone)
{
    struct breaker b;
    open_shared_at(&b, 0);
    breaker_grant_probe(&b, 60000);
    breaker_set_shared(&b, false);          /* Redis gone: per process, no permit needed */
    ck_assert(!b.probe_permit);
    ck_assert(breaker_allow(&b, 60000));
    breaker_record(&b, BREAKER_FAILURE, 60001);
    breaker_set_shared(&b, true);           /* back: the permit is needed again */
    ck_assert(!breaker_allow(&b, 120001));
    ck_assert(b.wanted);
}
END_TEST

START_TEST(test_plan_reports_and_wants)
{
    struct breaker b;
    struct breaker_share_mark m = {0};
    breaker_init(&b, &defaults);
    breaker_set_shared(&b, true);
    struct store_breaker_op op = breaker_shared_plan(&b, &m, 0);
    ck_assert_int_eq(op.report, STORE_BREAKER_NONE);
    ck_assert_int_eq(op.want, STORE_BREAKER_IDLE);
    for (int i = 0; i < 5; i++)
        call(&b, BREAKER_FAILURE, 1000);
    op = breaker_shared_plan(&b, &m, 1200);
    ck_assert_int_eq(op.report, STORE_BREAKER_OPENED);
    ck_assert_int_eq(op.open_ms, 59800);    /* what is left of the open period */
    ck_assert_int_eq(op.want, STORE_BREAKER_IDLE);
    struct store_breaker_view v = {.open = true, .remaining_ms = 59800};
    breaker_shared_apply(&b, &m, &op, &v, 1200);
    ck_assert_uint_eq(m.opens, 1);
    ck_assert_int_eq(breaker_next_probe_ms(&b), 61000);
    op = breaker_shared_plan(&b, &m, 1450);
    ck_assert_int_eq(op.report, STORE_BREAKER_NONE);
    /* past the probe time: wants the probe only after a call was refused */
    op = breaker_shared_plan(&b, &m, 61000);
    ck_assert_int_eq(op.want, STORE_BREAKER_IDLE);
    ck_assert(breaker_refuses(&b, 61000));
    op = breaker_shared_plan(&b, &m, 61010);
    ck_assert_int_eq(op.want, STORE_BREAKER_PROBE);
    ck_assert(!b.wanted);
    v = (struct store_breaker_view){.open = true, .remaining_ms = -10, .probe = true};
    breaker_shared_apply(&b, &m, &op, &v, 61010);
    ck_assert(m.held);
    ck_assert(b.probe_permit);
    /* granted but no call came: the lease goes back */
    op = breaker_shared_plan(&b, &m, 61260);
    ck_assert_int_eq(op.want, STORE_BREAKER_RELEASE);
    v = (struct store_breaker_view){.open = true, .remaining_ms = -260, .probe = false};
    breaker_shared_apply(&b, &m, &op, &v, 61260);
    ck_assert(!m.held);
    ck_assert(!b.probe_permit);
    ck_assert(breaker_refuses(&b, 61261));
    /* a probe out keeps the lease; its success closes; the close is reported once */
    breaker_grant_probe(&b, 61300);
    ck_assert(breaker_allow(&b, 61300));
    op = breaker_shared_plan(&b, &m, 61500);
    ck_assert_int_eq(op.want, STORE_BREAKER_PROBE);
    breaker_record(&b, BREAKER_SUCCESS, 61510);
    call(&b, BREAKER_SUCCESS, 61520);
    ck_assert_int_eq(b.state, BREAKER_CLOSED);
    op = breaker_shared_plan(&b, &m, 61600);
    ck_assert_int_eq(op.report, STORE_BREAKER_CLOSED);
    v = (struct store_breaker_view){.open = false};
    breaker_shared_apply(&b, &m, &op, &v, 61600);
    op = breaker_shared_plan(&b, &m, 61850);
    ck_assert_int_eq(op.report, STORE_BREAKER_NONE);
}
END_TEST

START_TEST(test_apply_adopts_fleet_state)
{
    struct breaker b;
    struct breaker_share_mark m = {0};
    breaker_init(&b, &defaults);
    breaker_set_shared(&b, true);
    struct store_breaker_op op = breaker_shared_plan(&b, &m, 0);
    struct store_breaker_view v = {.open = true, .remaining_ms = 700};
    breaker_shared_apply(&b, &m, &op, &v, 100);
    ck_assert_int_eq(b.state, BREAKER_OPEN);
    ck_assert_int_eq(breaker_next_probe_ms(&b), 800);
    ck_assert_uint_eq(b.opens, 0);          /* adopted, so never reported back as ours */
    op = breaker_shared_plan(&b, &m, 350);
    ck_assert_int_eq(op.report, STORE_BREAKER_NONE);
    v = (struct store_breaker_view){.open = false};
    breaker_shared_apply(&b, &m, &op, &v, 350);
    ck_assert_int_eq(b.state, BREAKER_CLOSED);
}
END_TEST

START_TEST(test_shared_redis_unreachable_falls_back)
{
    /* Nothing listens on port 1: the sync fails, and the breakers probe on their own. */
    struct breaker b;
    open_at(&b, 0);
    struct breaker_shared *bs = breaker_shared_new("redis://127.0.0.1:1/0");
    ck_assert_ptr_nonnull(bs);
    ck_assert_int_eq(breaker_shared_add(bs, "primary", &b), 0);
    ck_assert(b.shared);
    breaker_shared_tick(bs, 100);
    ck_assert(!breaker_shared_ok(bs));
    ck_assert(!b.shared);
    ck_assert(breaker_allow(&b, 60000));    /* per process: no permit needed */
    ck_assert_int_eq(breaker_shared_next_ms(bs), 100 + 1000); /* retried after a back-off */
    breaker_shared_tick(bs, 500);           /* not due yet: nothing tried, nothing changes */
    ck_assert(!b.shared);
    breaker_shared_free(bs);
}
END_TEST

START_TEST(test_shared_add_limits)
{
    struct breaker b[BREAKER_SHARED_MAX + 1];
    struct breaker_shared *bs = breaker_shared_new("redis://127.0.0.1:1/0");
    char name[80];
    memset(name, 'x', 64);
    name[64] = '\0';
    breaker_init(&b[0], &defaults);
    ck_assert_int_eq(breaker_shared_add(bs, name, &b[0]), -1);  /* 64 bytes: too long */
    ck_assert_int_eq(breaker_shared_add(bs, "", &b[0]), -1);
    for (int i = 0; i < BREAKER_SHARED_MAX; i++) {
        breaker_init(&b[i], &defaults);
        snprintf(name, sizeof name, "p%d", i);
        ck_assert_int_eq(breaker_shared_add(bs, name, &b[i]), 0);
    }
    breaker_init(&b[BREAKER_SHARED_MAX], &defaults);
    ck_assert_int_eq(breaker_shared_add(bs, "one-too-many", &b[BREAKER_SHARED_MAX]), -1);
    ck_assert_int_eq(breaker_shared_next_ms(bs), INT64_MAX); /* all closed: nothing to wake for */
    breaker_shared_free(bs);
    breaker_shared_free(NULL);
}
END_TEST

/* ---- a fleet on one injected clock ----
 *
 * A model of the sync script of common/store_breaker.c (the real one runs in t_breaker_shared.sh
 * against redis-server): reports first, then the probe lease, then the answer. */
struct fleet {
    bool    open;
    int64_t until;
    int     holder;          /* consumer holding the probe lease, -1 none */
    int64_t lease_until;
};

#define LEASE 2000
#define SYNC  250

static void fleet_sync(struct fleet *f, int who, const struct store_breaker_op *op, struct store_breaker_view *v,
                       int64_t now)
{
    if (f->holder >= 0 && now >= f->lease_until)
        f->holder = -1;
    if (op->report == STORE_BREAKER_OPENED) {
        if (!f->open || now + op->open_ms > f->until)
            f->until = now + op->open_ms;
        f->open = true;
        f->holder = -1;
    } else if (op->report == STORE_BREAKER_CLOSED) {
        f->open = false;
        f->holder = -1;
    }
    v->probe = false;
    if (op->want == STORE_BREAKER_PROBE && f->open && f->until <= now && (f->holder < 0 || f->holder == who)) {
        f->holder = who;
        f->lease_until = now + LEASE;
        v->probe = true;
    } else if (op->want == STORE_BREAKER_RELEASE && f->holder == who) {
        f->holder = -1;
    }
    v->open = f->open;
    v->remaining_ms = f->open ? f->until - now : 0;
}

struct consumer_sim {
    struct breaker            b;
    struct breaker_share_mark m;
    int64_t                   next_sync;
    bool                      dead;      /* killed: no calls, no syncs, a probe never answers */
};

/* Runs n consumers from `from` to `to` (ms): each syncs every SYNC ms (staggered) and at once
 * when its breaker has news, and every millisecond makes one call to the provider unless its
 * breaker refuses (the engine fails over then). healthy(t) says how the provider answers.
 * Returns the calls that reached the provider; *last_caller is the last consumer that called. */
static int run_fleet(struct fleet *f, struct consumer_sim *c, int n, bool shared, int64_t from, int64_t to,
                     bool (*healthy)(int64_t), int *last_caller)
{
    int calls = 0;
    for (int64_t t = from; t < to; t++) {
        for (int i = 0; i < n; i++) {
            struct consumer_sim *s = &c[i];
            if (s->dead)
                continue;
            bool news = s->b.opens != s->m.opens || s->b.closes != s->m.closes;
            if (shared && (t >= s->next_sync || news)) {
                struct store_breaker_op op = breaker_shared_plan(&s->b, &s->m, t);
                struct store_breaker_view v;
                fleet_sync(f, i, &op, &v, t);
                breaker_shared_apply(&s->b, &s->m, &op, &v, t);
                s->next_sync = t + SYNC;
            }
            if (breaker_refuses(&s->b, t) || !breaker_allow(&s->b, t))
                continue;
            calls++;
            *last_caller = i;
            breaker_record(&s->b, healthy(t) ? BREAKER_SUCCESS : BREAKER_FAILURE, t);
        }
    }
    return calls;
}

static bool never(int64_t t)
{
    (void)t;
    return false;
}

static bool from_20s(int64_t t)
{
    return t >= 20000;
}

static void fleet_init(struct fleet *f, struct consumer_sim *c, int n, bool shared)
{
    static const struct breaker_config cfg = {.failure_threshold = 3, .open_ms = 1000, .half_open_successes = 1};
    *f = (struct fleet){.holder = -1};
    for (int i = 0; i < n; i++) {
        memset(&c[i], 0, sizeof c[i]);
        breaker_init(&c[i].b, &cfg);
        breaker_set_shared(&c[i].b, shared);
        c[i].next_sync = i * 61; /* staggered, as real consumers are */
    }
}

START_TEST(test_fleet_one_probe_per_open_period)
{
    struct fleet f;
    struct consumer_sim c[4];
    int last = -1;
    fleet_init(&f, c, 4, true);
    run_fleet(&f, c, 4, true, 0, 2000, never, &last);           /* trips, fails over */
    int calls = run_fleet(&f, c, 4, true, 2000, 12000, never, &last);
    /* one probe per open period (1000 ms + at most a sync to notice and one to get the lease) */
    ck_assert_int_ge(calls, 6);
    ck_assert_int_le(calls, 10);
    struct fleet g;
    struct consumer_sim d[4];
    fleet_init(&g, d, 4, false);
    run_fleet(&g, d, 4, false, 0, 2000, never, &last);
    int alone = run_fleet(&g, d, 4, false, 2000, 12000, never, &last);
    ck_assert_int_ge(alone, 36);                                /* one per consumer per period */
    ck_assert_int_le(alone, 44);
}
END_TEST

START_TEST(test_fleet_survives_a_killed_prober)
{
    struct fleet f;
    struct consumer_sim c[4];
    int last = -1;
    fleet_init(&f, c, 4, true);
    run_fleet(&f, c, 4, true, 0, 5000, never, &last);
    /* kill the consumer that got the lease as soon as it has probed: the fleet never hears the
     * probe's verdict, as when a consumer dies with its probe out */
    int64_t t = 5000;
    while (f.holder < 0) {
        ck_assert_int_lt(t, 10000);
        run_fleet(&f, c, 4, true, t, t + 1, never, &last);
        t++;
    }
    int dead = f.holder;
    c[dead].dead = true;
    int calls = run_fleet(&f, c, 4, true, t, t + LEASE - SYNC, never, &last);
    ck_assert_int_eq(calls, 0);                                 /* the lease still holds */
    calls = run_fleet(&f, c, 4, true, t + LEASE - SYNC, t + LEASE + 2 * SYNC + 1, never, &last);
    ck_assert_int_eq(calls, 1);                                 /* expired: one other consumer probes */
    ck_assert_int_ne(last, dead);
}
END_TEST

START_TEST(test_fleet_closes_for_all_when_healed)
{
    struct fleet f;
    struct consumer_sim c[4];
    int last = -1;
    fleet_init(&f, c, 4, true);
    run_fleet(&f, c, 4, true, 0, 20000, from_20s, &last);
    ck_assert(f.open);
    /* the first probe after the heal succeeds and closes the breaker for every consumer */
    run_fleet(&f, c, 4, true, 20000, 21250 + SYNC + 1, from_20s, &last);
    ck_assert(!f.open);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(c[i].b.state, BREAKER_CLOSED);
    int calls = run_fleet(&f, c, 4, true, 22000, 22100, from_20s, &last);
    ck_assert_int_eq(calls, 400);
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
    TCase *sh = tcase_create("shared");
    tcase_add_test(sh, test_refuses_matches_open_period_when_not_shared);
    tcase_add_test(sh, test_shared_needs_permit_to_probe);
    tcase_add_test(sh, test_shared_counts_own_transitions_only);
    tcase_add_test(sh, test_adopt_open_from_closed_and_half_open);
    tcase_add_test(sh, test_adopt_open_in_the_past_waits_for_the_fleet_probe);
    tcase_add_test(sh, test_grant_probe_early_and_from_closed);
    tcase_add_test(sh, test_unshared_fallback_probes_alone);
    tcase_add_test(sh, test_plan_reports_and_wants);
    tcase_add_test(sh, test_apply_adopts_fleet_state);
    tcase_add_test(sh, test_shared_redis_unreachable_falls_back);
    tcase_add_test(sh, test_shared_add_limits);
    tcase_add_test(sh, test_fleet_one_probe_per_open_period);
    tcase_add_test(sh, test_fleet_survives_a_killed_prober);
    tcase_add_test(sh, test_fleet_closes_for_all_when_healed);
    suite_add_tcase(s, sh);
    return s;
}

CHECK_MAIN(breaker_suite)
