/* check_offsets.c - commit watermarks: order, holes, redelivery, forget, memory, and a random
 * comparison against a brute-force model.
 *
 * The model keeps every tracked offset with a finished flag and computes the watermark by
 * scanning, which is obviously right and far too slow for production. */
#include "check_main.h"

#include <stdint.h>
#include <stdlib.h>

#include "../../consumer/offsets.h"

static struct offsets *o;

static void setup(void)
{
    o = offsets_new();
}

static void teardown(void)
{
    offsets_free(o);
    o = NULL;
}

START_TEST(test_first_offset_is_start)
{
    ck_assert_int_eq(offsets_track(o, 0, 100), 0);
    ck_assert_int_eq(offsets_advance(o, 0), -1);
    ck_assert_uint_eq(offsets_in_flight(o, 0), 1);
    offsets_done(o, 0, 100);
    ck_assert_int_eq(offsets_advance(o, 0), 101);
    ck_assert_int_eq(offsets_advance(o, 0), -1);    /* reported once */
    ck_assert_uint_eq(offsets_in_flight(o, 0), 0);
    ck_assert_uint_eq(offsets_held(o, 0), 0);
}
END_TEST

START_TEST(test_in_order)
{
    for (int64_t i = 0; i < 10; i++)
        ck_assert_int_eq(offsets_track(o, 3, i), 0);
    ck_assert_uint_eq(offsets_in_flight(o, 3), 10);
    for (int64_t i = 0; i < 10; i++) {
        offsets_done(o, 3, i);
        ck_assert_int_eq(offsets_advance(o, 3), i + 1);
        ck_assert_uint_eq(offsets_in_flight(o, 3), (size_t)(9 - i));
    }
}
END_TEST

START_TEST(test_out_of_order_prefix_only)
{
    for (int64_t i = 0; i < 10; i++)
        offsets_track(o, 0, i);
    offsets_done(o, 0, 5);
    ck_assert_int_eq(offsets_advance(o, 0), -1);
    offsets_done(o, 0, 3);
    offsets_done(o, 0, 4);
    ck_assert_int_eq(offsets_advance(o, 0), -1);
    ck_assert_uint_eq(offsets_in_flight(o, 0), 7);
    ck_assert_uint_eq(offsets_held(o, 0), 10);
    offsets_done(o, 0, 0);
    ck_assert_int_eq(offsets_advance(o, 0), 1);
    offsets_done(o, 0, 2);
    ck_assert_int_eq(offsets_advance(o, 0), -1);
    offsets_done(o, 0, 1);
    ck_assert_int_eq(offsets_advance(o, 0), 6);     /* 1..5 all finished */
    ck_assert_uint_eq(offsets_held(o, 0), 4);
    for (int64_t i = 9; i >= 6; i--)
        offsets_done(o, 0, i);
    ck_assert_int_eq(offsets_advance(o, 0), 10);
}
END_TEST

START_TEST(test_gaps_reported)
{
    ck_assert_int_eq(offsets_track(o, 0, 0), 0);
    ck_assert_int_eq(offsets_track(o, 0, 5), 4);
    ck_assert_int_eq(offsets_track(o, 0, 6), 0);
    ck_assert_int_eq(offsets_track(o, 0, 1006), 999);
    ck_assert_uint_eq(offsets_in_flight(o, 0), 4);
}
END_TEST

START_TEST(test_holes_commit_first_unfinished)
{
    offsets_track(o, 0, 10);
    offsets_track(o, 0, 20);
    offsets_track(o, 0, 21);
    offsets_track(o, 0, 30);
    offsets_done(o, 0, 20);     /* behind 10: only flagged (and found by search) */
    ck_assert_int_eq(offsets_advance(o, 0), -1);
    offsets_done(o, 0, 10);
    ck_assert_int_eq(offsets_advance(o, 0), 21);    /* 10 and 20 popped, 21 first unfinished */
    offsets_done(o, 0, 15);                         /* a hole: never tracked, ignored */
    offsets_done(o, 0, 25);
    ck_assert_uint_eq(offsets_in_flight(o, 0), 2);
    offsets_done(o, 0, 30);
    offsets_done(o, 0, 21);
    ck_assert_int_eq(offsets_advance(o, 0), 31);
}
END_TEST

START_TEST(test_unknown_and_repeated_done_ignored)
{
    offsets_done(o, 0, 5);              /* unknown partition */
    offsets_done(o, 99999, 5);
    offsets_done(o, -1, 5);
    ck_assert_int_eq(offsets_advance(o, 0), -1);
    offsets_track(o, 0, 5);
    offsets_track(o, 0, 6);
    offsets_done(o, 0, 4);              /* below the ring */
    offsets_done(o, 0, 7);              /* beyond the newest */
    ck_assert_uint_eq(offsets_in_flight(o, 0), 2);
    offsets_done(o, 0, 6);
    offsets_done(o, 0, 6);              /* twice */
    ck_assert_uint_eq(offsets_in_flight(o, 0), 1);
    offsets_done(o, 0, 5);
    offsets_done(o, 0, 5);              /* after it was popped */
    ck_assert_uint_eq(offsets_in_flight(o, 0), 0);
    ck_assert_int_eq(offsets_advance(o, 0), 7);
}
END_TEST

START_TEST(test_negative_ignored)
{
    ck_assert_int_eq(offsets_track(o, -1, 5), 0);
    ck_assert_int_eq(offsets_track(o, 0, -1001), 0);
    ck_assert_uint_eq(offsets_in_flight(o, -1), 0);
    ck_assert_uint_eq(offsets_in_flight(o, 0), 0);
    ck_assert_int_eq(offsets_advance(o, -1), -1);
    ck_assert_int_eq(offsets_advance(o, 0), -1);
    offsets_forget(o, -3);
    offsets_forget(o, 1 << 30);         /* never seen: nothing to do */
}
END_TEST

START_TEST(test_sparse_partitions_independent)
{
    offsets_track(o, 0, 0);
    offsets_track(o, 7, 500);
    offsets_track(o, 1000, 42);
    offsets_track(o, 7, 501);
    offsets_done(o, 7, 500);
    offsets_done(o, 1000, 42);
    ck_assert_int_eq(offsets_advance(o, 0), -1);
    ck_assert_int_eq(offsets_advance(o, 7), 501);
    ck_assert_int_eq(offsets_advance(o, 1000), 43);
    ck_assert_uint_eq(offsets_in_flight(o, 0), 1);
    ck_assert_uint_eq(offsets_in_flight(o, 7), 1);
    ck_assert_uint_eq(offsets_in_flight(o, 1000), 0);
    ck_assert_uint_eq(offsets_in_flight(o, 500), 0);
    offsets_done(o, 0, 500);            /* another partition's offset: ignored here */
    ck_assert_uint_eq(offsets_in_flight(o, 0), 1);
}
END_TEST

START_TEST(test_forget)
{
    offsets_track(o, 2, 10);
    offsets_track(o, 2, 11);
    offsets_forget(o, 2);
    ck_assert_uint_eq(offsets_in_flight(o, 2), 0);
    ck_assert_uint_eq(offsets_held(o, 2), 0);
    offsets_done(o, 2, 10);             /* a job of the revoked partition finishing late */
    ck_assert_int_eq(offsets_advance(o, 2), -1);
    /* Reassigned later: starts afresh, no gap against the old state. */
    ck_assert_int_eq(offsets_track(o, 2, 50), 0);
    ck_assert_int_eq(offsets_advance(o, 2), -1);
    offsets_done(o, 2, 11);
    ck_assert_int_eq(offsets_advance(o, 2), -1);
    offsets_done(o, 2, 50);
    ck_assert_int_eq(offsets_advance(o, 2), 51);
    offsets_forget(o, 2);
    offsets_forget(o, 2);               /* twice is fine */
}
END_TEST

START_TEST(test_redelivery_rewinds_tail)
{
    for (int64_t i = 0; i < 6; i++)
        offsets_track(o, 0, i);
    offsets_done(o, 0, 0);
    offsets_done(o, 0, 4);
    ck_assert_int_eq(offsets_advance(o, 0), 1);
    /* Seek back to 3: 3, 4, 5 are dropped and come again; 1 and 2 stay in flight. */
    ck_assert_int_eq(offsets_track(o, 0, 3), 0);
    ck_assert_uint_eq(offsets_in_flight(o, 0), 3);  /* 1, 2, new 3 */
    ck_assert_uint_eq(offsets_held(o, 0), 3);
    ck_assert_int_eq(offsets_track(o, 0, 4), 0);    /* no gap after the rewind */
    offsets_done(o, 0, 5);                          /* old delivery, not re-tracked yet: ignored */
    ck_assert_int_eq(offsets_track(o, 0, 5), 0);
    offsets_done(o, 0, 1);
    offsets_done(o, 0, 2);
    ck_assert_int_eq(offsets_advance(o, 0), 3);     /* held by the redelivered 3 */
    offsets_done(o, 0, 3);
    offsets_done(o, 0, 4);
    ck_assert_int_eq(offsets_advance(o, 0), 5);
    offsets_done(o, 0, 5);
    ck_assert_int_eq(offsets_advance(o, 0), 6);
    ck_assert_uint_eq(offsets_in_flight(o, 0), 0);
}
END_TEST

START_TEST(test_redelivery_never_moves_commit_back)
{
    for (int64_t i = 0; i < 10; i++) {
        offsets_track(o, 0, i);
        offsets_done(o, 0, i);
    }
    ck_assert_int_eq(offsets_advance(o, 0), 10);
    ck_assert_int_eq(offsets_track(o, 0, 4), 0);    /* offset reset to 4 */
    ck_assert_int_eq(offsets_advance(o, 0), -1);    /* not back to 4 */
    for (int64_t i = 4; i < 10; i++) {
        if (i > 4)
            offsets_track(o, 0, i);
        offsets_done(o, 0, i);
        ck_assert_int_eq(offsets_advance(o, 0), -1);
    }
    offsets_track(o, 0, 10);
    offsets_done(o, 0, 10);
    ck_assert_int_eq(offsets_advance(o, 0), 11);
    /* Redelivering the very same last offset rewinds nothing before it. */
    offsets_track(o, 0, 11);
    ck_assert_int_eq(offsets_track(o, 0, 11), 0);
    ck_assert_uint_eq(offsets_in_flight(o, 0), 1);
}
END_TEST

START_TEST(test_memory_follows_in_flight)
{
    /* A million offsets through a window of 100 in flight: the ring holds exactly that many. */
    int64_t next_done = 0;
    size_t max_held = 0;
    for (int64_t i = 0; i < 1000000; i++) {
        offsets_track(o, 0, i);
        if (i - next_done >= 100)
            offsets_done(o, 0, next_done++);
        size_t held = offsets_held(o, 0);
        max_held = held > max_held ? held : max_held;   /* ck_assert per step costs a syscall */
    }
    ck_assert_uint_eq(max_held, 100);
    ck_assert_int_eq(offsets_advance(o, 0), next_done);
    /* A burst, then a drain. */
    for (int64_t i = 1000000; i < 1050000; i++)
        offsets_track(o, 0, i);
    ck_assert_uint_eq(offsets_held(o, 0), 50100);
    while (next_done < 1050000)
        offsets_done(o, 0, next_done++);
    ck_assert_uint_eq(offsets_held(o, 0), 0);
    ck_assert_int_eq(offsets_advance(o, 0), 1050000);
}
END_TEST

/* Brute-force model of one partition. */
struct model {
    int64_t  start;
    int64_t  n;             /* offsets start .. start+n-1 may be tracked */
    char    *tracked;
    char    *done;
    int64_t  reported;
};

static int64_t model_watermark(const struct model *m)
{
    int64_t last_done = -1;
    for (int64_t i = 0; i < m->n; i++) {
        if (!m->tracked[i])
            continue;
        if (!m->done[i])
            return m->start + i;
        last_done = m->start + i;
    }
    return last_done >= 0 ? last_done + 1 : m->start;
}

START_TEST(test_random_against_model)
{
    srandom(1234);
    for (int round = 0; round < 50; round++) {
        struct model m = { .start = random() % 1000, .n = 400 };
        m.tracked = calloc((size_t)m.n, 1);
        m.done = calloc((size_t)m.n, 1);
        m.reported = m.start;
        int32_t part = (int32_t)(random() % 5);
        offsets_forget(o, part);
        int64_t last = -1;
        for (int64_t i = 0; i < m.n; i++) {
            if (i > 0 && random() % 4 == 0)
                continue;                           /* a hole */
            int64_t want_gap = last < 0 ? 0 : i - last - 1;
            ck_assert_int_eq(offsets_track(o, part, m.start + i), want_gap);
            m.tracked[i] = 1;
            last = i;
            /* Finish a few random tracked ones, and sometimes a hole or a repeat. */
            for (int k = 0; k < 2; k++) {
                int64_t j = random() % (i + 1);
                offsets_done(o, part, m.start + j);
                if (m.tracked[j])
                    m.done[j] = 1;
            }
            int64_t w = model_watermark(&m);
            int64_t got = offsets_advance(o, part);
            ck_assert_int_eq(got, w > m.reported ? w : -1);
            if (w > m.reported)
                m.reported = w;
            size_t pending = 0;
            for (int64_t j = 0; j <= i; j++)
                pending += m.tracked[j] && !m.done[j];
            ck_assert_uint_eq(offsets_in_flight(o, part), pending);
        }
        free(m.tracked);
        free(m.done);
    }
}
END_TEST

START_TEST(test_free_null)
{
    offsets_free(NULL);
    ck_assert_uint_eq(offsets_in_flight(NULL, 0), 0);
    ck_assert_int_eq(offsets_advance(NULL, 0), -1);
}
END_TEST

static Suite *offsets_suite(void)
{
    Suite *s = suite_create("offsets");
    TCase *tc = tcase_create("watermark");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_first_offset_is_start);
    tcase_add_test(tc, test_in_order);
    tcase_add_test(tc, test_out_of_order_prefix_only);
    tcase_add_test(tc, test_gaps_reported);
    tcase_add_test(tc, test_holes_commit_first_unfinished);
    tcase_add_test(tc, test_unknown_and_repeated_done_ignored);
    tcase_add_test(tc, test_negative_ignored);
    tcase_add_test(tc, test_sparse_partitions_independent);
    tcase_add_test(tc, test_forget);
    tcase_add_test(tc, test_redelivery_rewinds_tail);
    tcase_add_test(tc, test_redelivery_never_moves_commit_back);
    tcase_add_test(tc, test_memory_follows_in_flight);
    tcase_add_test(tc, test_random_against_model);
    tcase_add_test(tc, test_free_null);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(offsets_suite)
