/* check_lanes.c - priority lanes: topic names, lag, holds, the fetch and start floors, stalls.
 *
 * Every decision takes its time as an argument, so the clock here is a plain counter stepped
 * by LANES_EVAL_MS: a minute of a busy consumer runs in microseconds. */
#include "check_main.h"

#include <stdint.h>

#include "../../consumer/lanes.h"

/* One decision at now; returns held[lane]. */
static bool held_at(struct lanes *l, int64_t now, enum lane lane)
{
    bool held[LANES_N];
    lanes_decide(l, now, held);
    return held[lane];
}

/* Takes n messages of (lane, partition 0) from offset *next on. */
static void take(struct lanes *l, enum lane lane, int64_t *next, int n)
{
    for (int i = 0; i < n; i++)
        lanes_taken(l, lane, 0, (*next)++);
}

START_TEST(test_topic_names)
{
    char name[64];
    lanes_topic_name("voxcast.jobs", LANE_HIGH, name, sizeof name);
    ck_assert_str_eq(name, "voxcast.jobs.high");
    lanes_topic_name("voxcast.jobs", LANE_NORMAL, name, sizeof name);
    ck_assert_str_eq(name, "voxcast.jobs");
    lanes_topic_name("voxcast.jobs", LANE_LOW, name, sizeof name);
    ck_assert_str_eq(name, "voxcast.jobs.low");
    ck_assert_int_eq(lanes_topic_lane("voxcast.jobs", "voxcast.jobs.high"), LANE_HIGH);
    ck_assert_int_eq(lanes_topic_lane("voxcast.jobs", "voxcast.jobs"), LANE_NORMAL);
    ck_assert_int_eq(lanes_topic_lane("voxcast.jobs", "voxcast.jobs.low"), LANE_LOW);
    ck_assert_int_eq(lanes_topic_lane("voxcast.jobs", "voxcast.jobs.higher"), -1);
    ck_assert_int_eq(lanes_topic_lane("voxcast.jobs", "voxcast.job"), -1);
    ck_assert_int_eq(lanes_topic_lane("voxcast.jobs", "voxcast.results"), -1);
    ck_assert_str_eq(lanes_name(LANE_LOW), "low");
}
END_TEST

START_TEST(test_slots_unique_and_dense)
{
    bool seen[3 * 40] = {false};
    for (int p = 0; p < 40; p++)
        for (int lane = 0; lane < LANES_N; lane++) {
            int32_t s = lanes_slot((enum lane)lane, p);
            ck_assert_int_ge(s, 0);
            ck_assert_int_lt(s, 3 * 40);
            ck_assert(!seen[s]);
            seen[s] = true;
        }
}
END_TEST

/* Nothing taken yet: nothing is held, whatever the backlog (there is no intake to share). */
START_TEST(test_nothing_held_before_any_intake)
{
    struct lanes *l = lanes_new(0.05);
    lanes_assign(l, LANE_HIGH, 0);
    lanes_assign(l, LANE_NORMAL, 0);
    lanes_set_queued(l, LANE_HIGH, 50);
    bool held[LANES_N];
    ck_assert(!lanes_decide(l, 0, held));
    ck_assert(!held[LANE_HIGH] && !held[LANE_NORMAL] && !held[LANE_LOW]);
    lanes_free(l);
}
END_TEST

/* Tasks of a higher lane waiting to start hold every lane below it; the top lane never is. */
START_TEST(test_queued_tasks_hold_lower_lanes)
{
    struct lanes *l = lanes_new(0.05);
    int64_t next = 0, low = 0;
    lanes_assign(l, LANE_NORMAL, 0);
    lanes_assign(l, LANE_LOW, 0);
    take(l, LANE_NORMAL, &next, 100); /* both took plenty lately: no floor is due */
    take(l, LANE_LOW, &low, 100);
    lanes_set_queued(l, LANE_NORMAL, 10);
    bool held[LANES_N];
    ck_assert(lanes_decide(l, 0, held));
    ck_assert(!held[LANE_HIGH] && !held[LANE_NORMAL] && held[LANE_LOW]);
    lanes_set_queued(l, LANE_HIGH, 3);
    ck_assert(lanes_decide(l, LANES_EVAL_MS, held));
    ck_assert(!held[LANE_HIGH] && held[LANE_NORMAL] && held[LANE_LOW]);
    lanes_set_queued(l, LANE_HIGH, 0);
    lanes_set_queued(l, LANE_NORMAL, 0);
    ck_assert(lanes_decide(l, 2 * LANES_EVAL_MS, held));
    ck_assert(!held[LANE_HIGH] && !held[LANE_NORMAL] && !held[LANE_LOW]);
    lanes_free(l);
}
END_TEST

/* Lag: the cached high watermark past the next offset to take. Before the first message taken,
 * the watermark first seen is the start: old messages committed before are not backlog. */
START_TEST(test_lag_from_watermarks)
{
    struct lanes *l = lanes_new(0.05);
    lanes_assign(l, LANE_HIGH, 2);
    lanes_watermark(l, LANE_HIGH, 2, -1, -1); /* unknown yet: ignored */
    ck_assert_int_eq(lanes_lag(l, LANE_HIGH), 0);
    lanes_watermark(l, LANE_HIGH, 2, -1, 500); /* first seen: everything before it is not backlog */
    ck_assert_int_eq(lanes_lag(l, LANE_HIGH), 0);
    lanes_watermark(l, LANE_HIGH, 2, -1, 520); /* 20 urgent jobs produced */
    ck_assert_int_eq(lanes_lag(l, LANE_HIGH), 20);
    for (int64_t o = 500; o < 515; o++)
        lanes_taken(l, LANE_HIGH, 2, o);
    ck_assert_int_eq(lanes_lag(l, LANE_HIGH), 5);
    for (int64_t o = 515; o < 520; o++)
        lanes_taken(l, LANE_HIGH, 2, o);
    ck_assert_int_eq(lanes_lag(l, LANE_HIGH), 0);
    /* a message taken before any watermark: the taken position counts, not the baseline */
    lanes_assign(l, LANE_HIGH, 3);
    lanes_taken(l, LANE_HIGH, 3, 7);
    lanes_watermark(l, LANE_HIGH, 3, -1, 30);
    ck_assert_int_eq(lanes_lag(l, LANE_HIGH), 22);
    /* other lanes and unassigned partitions are apart */
    ck_assert_int_eq(lanes_lag(l, LANE_NORMAL), 0);
    lanes_watermark(l, LANE_HIGH, 9, -1, 1000);
    lanes_taken(l, LANE_HIGH, 9, 1);
    ck_assert_int_eq(lanes_lag(l, LANE_HIGH), 22);
    lanes_revoke(l, LANE_HIGH, 3);
    ck_assert_int_eq(lanes_lag(l, LANE_HIGH), 0);
    /* a new assignment starts afresh */
    lanes_assign(l, LANE_HIGH, 2);
    lanes_watermark(l, LANE_HIGH, 2, -1, 600);
    ck_assert_int_eq(lanes_lag(l, LANE_HIGH), 0);
    lanes_free(l);
}
END_TEST

/* Lag on the high lane (jobs still in librdkafka's queue, behind bulk) holds the normal lane. */
START_TEST(test_high_lag_holds_normal)
{
    struct lanes *l = lanes_new(0.05);
    int64_t next = 0;
    lanes_assign(l, LANE_HIGH, 0);
    lanes_assign(l, LANE_NORMAL, 0);
    lanes_watermark(l, LANE_HIGH, 0, -1, 0);
    take(l, LANE_NORMAL, &next, 500);
    ck_assert(!held_at(l, 0, LANE_NORMAL));
    lanes_watermark(l, LANE_HIGH, 0, -1, 20);
    ck_assert(held_at(l, LANES_EVAL_MS, LANE_NORMAL));
    ck_assert(!held_at(l, LANES_EVAL_MS, LANE_HIGH));
    for (int64_t o = 0; o < 20; o++)
        lanes_taken(l, LANE_HIGH, 0, o);
    ck_assert(!held_at(l, 2 * LANES_EVAL_MS, LANE_NORMAL));
    lanes_free(l);
}
END_TEST

/* A decision stands for LANES_EVAL_MS; the return value says when it changed. */
START_TEST(test_decides_at_most_every_eval_interval)
{
    struct lanes *l = lanes_new(0.05);
    int64_t next = 0;
    lanes_assign(l, LANE_NORMAL, 0);
    take(l, LANE_NORMAL, &next, 100);
    bool held[LANES_N];
    ck_assert(!lanes_decide(l, 1000, held));
    lanes_set_queued(l, LANE_HIGH, 1);
    ck_assert(!lanes_decide(l, 1000 + LANES_EVAL_MS - 1, held));
    ck_assert(!held[LANE_NORMAL]);
    ck_assert(lanes_decide(l, 1000 + LANES_EVAL_MS, held));
    ck_assert(held[LANE_NORMAL]);
    ck_assert(!lanes_decide(l, 1000 + 2 * LANES_EVAL_MS, held)); /* unchanged */
    ck_assert(held[LANE_NORMAL]);
    lanes_free(l);
}
END_TEST

/* A busy minute with the high lane always backlogged: high takes 100 messages per interval, the
 * normal lane 100 in each interval it is let through. Its share of the intake stays near
 * kafka.low_lane_share: never zero (no starvation), never much more. */
static double normal_share_over_a_minute(double share)
{
    struct lanes *l = lanes_new(share);
    int64_t hi = 0, no = 0, taken_high = 0, taken_normal = 0;
    lanes_assign(l, LANE_HIGH, 0);
    lanes_assign(l, LANE_NORMAL, 0);
    lanes_set_queued(l, LANE_HIGH, 40);
    for (int64_t now = 0; now < 60000; now += LANES_EVAL_MS) {
        bool held[LANES_N];
        lanes_decide(l, now, held);
        take(l, LANE_HIGH, &hi, 100);
        taken_high += 100;
        if (!held[LANE_NORMAL]) {
            take(l, LANE_NORMAL, &no, 100);
            taken_normal += 100;
        }
    }
    lanes_free(l);
    return (double)taken_normal / (double)(taken_high + taken_normal);
}

START_TEST(test_floor_share_kept)
{
    double got = normal_share_over_a_minute(0.05);
    ck_assert_msg(got > 0.025 && got < 0.10, "normal lane's share %.3f, want about 0.05", got);
    got = normal_share_over_a_minute(0.2);
    ck_assert_msg(got > 0.12 && got < 0.30, "normal lane's share %.3f, want about 0.2", got);
    got = normal_share_over_a_minute(0.0);
    ck_assert_msg(got < 0.01, "share 0: normal lane took %.3f", got); /* the first interval only */
}
END_TEST

/* Messages deleted by retention before they were taken (below the low watermark) are no lag. */
START_TEST(test_lag_above_low_watermark)
{
    struct lanes *l = lanes_new(0.05);
    lanes_assign(l, LANE_LOW, 0);
    lanes_taken(l, LANE_LOW, 0, 99);
    lanes_watermark(l, LANE_LOW, 0, 50, 400);
    ck_assert_int_eq(lanes_lag(l, LANE_LOW), 300);
    lanes_watermark(l, LANE_LOW, 0, 400, 400); /* 100..399 deleted unread */
    ck_assert_int_eq(lanes_lag(l, LANE_LOW), 0);
    lanes_watermark(l, LANE_LOW, 0, 400, 410);
    ck_assert_int_eq(lanes_lag(l, LANE_LOW), 10);
    lanes_free(l);
}
END_TEST

/* The low lane's messages wait in Kafka behind the normal lane's prefetched ones: once its floor
 * is due the normal lane is held for a decision, and let go once the low lane took its share. */
START_TEST(test_floor_brings_lagging_lane_forward)
{
    struct lanes *l = lanes_new(0.05);
    int64_t normal = 0, low = 0, now = 0;
    lanes_assign(l, LANE_NORMAL, 0);
    lanes_assign(l, LANE_LOW, 0);
    lanes_watermark(l, LANE_LOW, 0, 0, 0);
    take(l, LANE_NORMAL, &normal, 1000);
    lanes_set_queued(l, LANE_NORMAL, 200);
    bool held[LANES_N];
    lanes_decide(l, now, held);
    ck_assert(!held[LANE_NORMAL]);
    lanes_watermark(l, LANE_LOW, 0, 0, 10); /* 10 low jobs produced */
    now += LANES_EVAL_MS;
    lanes_decide(l, now, held);
    ck_assert(held[LANE_NORMAL]); /* low's floor is due (it took nothing): normal steps back */
    ck_assert(!held[LANE_LOW]);
    ck_assert(!held[LANE_HIGH]);  /* no backlog there: nothing to hold */
    take(l, LANE_LOW, &low, 10);  /* they came forward */
    now += LANES_EVAL_MS;
    lanes_decide(l, now, held);
    ck_assert(!held[LANE_NORMAL]);
    lanes_free(l);
}
END_TEST

/* Nothing taken for LANES_STALL_MS (a higher lane's backlog cannot be taken): nothing is held. */
START_TEST(test_stall_releases_holds)
{
    struct lanes *l = lanes_new(0.05);
    int64_t next = 0, high = 0;
    lanes_assign(l, LANE_HIGH, 0);
    lanes_assign(l, LANE_NORMAL, 0);
    take(l, LANE_NORMAL, &next, 100);
    lanes_watermark(l, LANE_HIGH, 0, -1, 0);
    lanes_watermark(l, LANE_HIGH, 0, -1, 5); /* phantom lag that never arrives */
    ck_assert(held_at(l, 0, LANE_NORMAL));
    ck_assert(held_at(l, LANES_STALL_MS - LANES_EVAL_MS, LANE_NORMAL));
    ck_assert(!held_at(l, LANES_STALL_MS, LANE_NORMAL));
    take(l, LANE_HIGH, &high, 1); /* intake again (lag 4 left): the hold is back */
    ck_assert(held_at(l, LANES_STALL_MS + LANES_EVAL_MS, LANE_NORMAL));
    lanes_free(l);
}
END_TEST

/* The start floor: a low lane with tasks waiting behind a never-ending normal backlog gets about
 * kafka.low_lane_share of the starts, ahead of the normal lane; nothing is earned while it has
 * nothing waiting, and what it earns is capped. */
static double low_share_of_starts(double share, size_t slots_per_round)
{
    struct lanes *l = lanes_new(share);
    size_t low = 0, all = 0;
    for (int round = 0; round < 10000; round++) {
        size_t free_slots = slots_per_round, n = lanes_floor(l, LANE_LOW);
        n = n < free_slots ? n : free_slots;
        lanes_floor_used(l, LANE_LOW, n); /* the earned starts go first */
        low += n;
        free_slots -= n;
        const size_t ready[LANES_N] = {0, 1000, 1000};
        lanes_started(l, LANE_NORMAL, free_slots, ready); /* the rest go to the normal lane */
        all += slots_per_round;
    }
    lanes_free(l);
    return (double)low / (double)all;
}

START_TEST(test_start_floor)
{
    double got = low_share_of_starts(0.05, 16);
    ck_assert_msg(got > 0.045 && got < 0.055, "low lane's share of starts %.4f, want 0.05", got);
    got = low_share_of_starts(0.05, 1);
    ck_assert_msg(got > 0.045 && got < 0.055, "one slot: low lane's share of starts %.4f", got);
    ck_assert(low_share_of_starts(0.0, 16) == 0.0);
    struct lanes *l = lanes_new(0.5);
    const size_t none_waiting[LANES_N] = {0, 10, 0};
    lanes_started(l, LANE_NORMAL, 100, none_waiting);
    ck_assert_uint_eq(lanes_floor(l, LANE_LOW), 0); /* nothing waited: nothing earned */
    const size_t waiting[LANES_N] = {0, 10, 5};
    lanes_started(l, LANE_HIGH, 1000, waiting);
    ck_assert_uint_eq(lanes_floor(l, LANE_NORMAL), LANES_FLOOR_CAP);
    ck_assert_uint_eq(lanes_floor(l, LANE_LOW), LANES_FLOOR_CAP);
    ck_assert_uint_eq(lanes_floor(l, LANE_HIGH), 0); /* the top lane needs none */
    lanes_floor_used(l, LANE_LOW, 40);
    ck_assert_uint_eq(lanes_floor(l, LANE_LOW), 0);
    lanes_started(l, LANE_NORMAL, 3, waiting); /* 1.5: one start */
    ck_assert_uint_eq(lanes_floor(l, LANE_LOW), 1);
    lanes_free(l);
}
END_TEST

START_TEST(test_mixed)
{
    struct lanes *l = lanes_new(0.05);
    ck_assert(!lanes_mixed(l));
    for (int p = 0; p < 4; p++)
        lanes_assign(l, LANE_NORMAL, p); /* a single-topic deployment */
    ck_assert(!lanes_mixed(l));
    lanes_assign(l, LANE_LOW, 1);
    ck_assert(lanes_mixed(l));
    lanes_revoke(l, LANE_LOW, 1);
    ck_assert(!lanes_mixed(l));
    lanes_free(l);
    lanes_free(NULL);
}
END_TEST

static Suite *lanes_suite(void)
{
    Suite *s = suite_create("lanes");
    TCase *names = tcase_create("names");
    tcase_add_test(names, test_topic_names);
    tcase_add_test(names, test_slots_unique_and_dense);
    suite_add_tcase(s, names);
    TCase *hold = tcase_create("hold");
    tcase_add_test(hold, test_nothing_held_before_any_intake);
    tcase_add_test(hold, test_queued_tasks_hold_lower_lanes);
    tcase_add_test(hold, test_lag_from_watermarks);
    tcase_add_test(hold, test_lag_above_low_watermark);
    tcase_add_test(hold, test_high_lag_holds_normal);
    tcase_add_test(hold, test_decides_at_most_every_eval_interval);
    tcase_add_test(hold, test_stall_releases_holds);
    tcase_add_test(hold, test_mixed);
    suite_add_tcase(s, hold);
    TCase *floor = tcase_create("floor");
    tcase_add_test(floor, test_floor_share_kept);
    tcase_add_test(floor, test_start_floor);
    tcase_add_test(floor, test_floor_brings_lagging_lane_forward);
    suite_add_tcase(s, floor);
    return s;
}

CHECK_MAIN(lanes_suite)
