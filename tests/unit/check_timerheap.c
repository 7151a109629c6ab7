/* check_timerheap.c - timer order, FIFO ties, the "due at or before now" edge, and 10k random
 * timers against a sorted reference. */
#include "check_main.h"

#include <stdint.h>
#include <stdlib.h>

#include "../../consumer/timerheap.h"

static struct timerheap *h;

static void setup(void)
{
    h = timerheap_new();
}

static void teardown(void)
{
    timerheap_free(h);
    h = NULL;
}

/* Distinct non-NULL data pointers for timer i. */
static char slots[20000];
#define TAG(i) ((void *)&slots[(i)])
#define UNTAG(p) ((int)((char *)(p) - slots))

START_TEST(test_empty)
{
    int64_t due = 77;
    ck_assert_uint_eq(timerheap_len(h), 0);
    ck_assert(!timerheap_next_due(h, &due));
    ck_assert_int_eq(due, 77);
    ck_assert_ptr_null(timerheap_pop_due(h, INT64_MAX));
    timerheap_free(NULL);
}
END_TEST

START_TEST(test_due_edge)
{
    timerheap_push(h, 1000, TAG(1));
    int64_t due = 0;
    ck_assert(timerheap_next_due(h, &due));
    ck_assert_int_eq(due, 1000);
    ck_assert(timerheap_next_due(h, NULL));
    ck_assert_ptr_null(timerheap_pop_due(h, 999));
    ck_assert_uint_eq(timerheap_len(h), 1);
    ck_assert_ptr_eq(timerheap_pop_due(h, 1000), TAG(1));
    ck_assert_uint_eq(timerheap_len(h), 0);
    ck_assert_ptr_null(timerheap_pop_due(h, 1000));
}
END_TEST

START_TEST(test_order_and_partial_drain)
{
    static const int64_t dues[] = { 50, 10, 40, 30, 20, 60 };
    for (int i = 0; i < 6; i++)
        timerheap_push(h, dues[i], TAG(i));
    int64_t due;
    ck_assert(timerheap_next_due(h, &due) && due == 10);
    ck_assert_ptr_eq(timerheap_pop_due(h, 35), TAG(1));
    ck_assert_ptr_eq(timerheap_pop_due(h, 35), TAG(4));
    ck_assert_ptr_eq(timerheap_pop_due(h, 35), TAG(3));
    ck_assert_ptr_null(timerheap_pop_due(h, 35));
    ck_assert_uint_eq(timerheap_len(h), 3);
    timerheap_push(h, 5, TAG(6));               /* earlier than everything left, and overdue */
    ck_assert_ptr_eq(timerheap_pop_due(h, 35), TAG(6));
    ck_assert_ptr_eq(timerheap_pop_due(h, 100), TAG(2));
    ck_assert_ptr_eq(timerheap_pop_due(h, 100), TAG(0));
    ck_assert_ptr_eq(timerheap_pop_due(h, 100), TAG(5));
    ck_assert_ptr_null(timerheap_pop_due(h, 100));
}
END_TEST

START_TEST(test_equal_times_fifo)
{
    for (int i = 0; i < 1000; i++)
        timerheap_push(h, 42, TAG(i));
    timerheap_push(h, 41, TAG(1000));
    ck_assert_ptr_eq(timerheap_pop_due(h, 42), TAG(1000));
    int out_of_order = 0;
    for (int i = 0; i < 1000; i++)
        out_of_order += timerheap_pop_due(h, 42) != TAG(i);
    ck_assert_int_eq(out_of_order, 0);
    ck_assert_uint_eq(timerheap_len(h), 0);
}
END_TEST

START_TEST(test_extreme_times)
{
    timerheap_push(h, INT64_MAX, TAG(0));
    timerheap_push(h, INT64_MIN, TAG(1));
    timerheap_push(h, 0, TAG(2));
    ck_assert_ptr_eq(timerheap_pop_due(h, INT64_MIN), TAG(1));
    ck_assert_ptr_null(timerheap_pop_due(h, -1));
    ck_assert_ptr_eq(timerheap_pop_due(h, 0), TAG(2));
    ck_assert_ptr_null(timerheap_pop_due(h, INT64_MAX - 1));
    ck_assert_ptr_eq(timerheap_pop_due(h, INT64_MAX), TAG(0));
}
END_TEST

struct ref {
    int64_t due;
    int     idx;                /* push order */
};

static int ref_cmp(const void *a, const void *b)
{
    const struct ref *x = a, *y = b;
    if (x->due != y->due)
        return x->due < y->due ? -1 : 1;
    return x->idx - y->idx;
}

START_TEST(test_10k_random_in_order)
{
    enum { N = 10000 };
    static struct ref ref[N];
    srandom(99);
    for (int i = 0; i < N; i++) {
        ref[i].due = random() % 5000;       /* many ties on purpose */
        ref[i].idx = i;
        timerheap_push(h, ref[i].due, TAG(i));
    }
    ck_assert_uint_eq(timerheap_len(h), N);
    qsort(ref, N, sizeof ref[0], ref_cmp);
    int wrong = 0, early = 0;
    for (int i = 0; i < N; i++) {
        int64_t due = -1;
        timerheap_next_due(h, &due);
        early += due != ref[i].due;
        void *p = timerheap_pop_due(h, ref[i].due);
        wrong += p == NULL || UNTAG(p) != ref[i].idx;
    }
    ck_assert_int_eq(early, 0);
    ck_assert_int_eq(wrong, 0);
    ck_assert_uint_eq(timerheap_len(h), 0);
}
END_TEST

START_TEST(test_interleaved_push_pop)
{
    /* A simulated loop: time moves forward, each tick pushes a few timers and drains what is
     * due; every popped timer must be due, and no due timer may stay behind. */
    srandom(7);
    int64_t now = 0, pushed = 0, popped = 0, bad = 0;
    int64_t last_due = INT64_MIN;
    for (int tick = 0; tick < 5000; tick++) {
        now += random() % 20;
        for (int k = random() % 4; k > 0; k--) {
            int64_t due = now + random() % 500;
            timerheap_push(h, due, TAG(pushed % 20000));
            pushed++;
        }
        int64_t due;
        while (timerheap_next_due(h, &due) && due <= now) {
            bad += due < last_due;          /* non-decreasing across pops */
            last_due = due;
            bad += timerheap_pop_due(h, now) == NULL;
            popped++;
        }
        bad += timerheap_next_due(h, &due) && due <= now;
    }
    ck_assert_int_eq(bad, 0);
    ck_assert_int_eq((int64_t)timerheap_len(h), pushed - popped);
    ck_assert(popped > 0);
}
END_TEST

static Suite *timerheap_suite(void)
{
    Suite *s = suite_create("timerheap");
    TCase *tc = tcase_create("heap");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_due_edge);
    tcase_add_test(tc, test_order_and_partial_drain);
    tcase_add_test(tc, test_equal_times_fifo);
    tcase_add_test(tc, test_extreme_times);
    tcase_add_test(tc, test_10k_random_in_order);
    tcase_add_test(tc, test_interleaved_push_pop);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(timerheap_suite)
