/* check_bloom.c - the Bloom filter: never a false "absent", few false "maybe"s while it has room,
 * and every answer a "maybe" once it is full. */
#include <check.h>
#include <stdio.h>

#include "bloom.h"
#include "check_main.h"

START_TEST(test_added_never_absent)
{
    struct bloom *b = bloom_new(20);
    char id[32];
    int fresh = 0, again = 0;
    for (int i = 0; i < 50000; i++) {
        int n = snprintf(id, sizeof id, "c-%08d", i);
        fresh += bloom_add(b, id, (size_t)n);
    }
    for (int i = 0; i < 50000; i++) {
        int n = snprintf(id, sizeof id, "c-%08d", i);
        again += bloom_add(b, id, (size_t)n); /* must answer "maybe" for every one */
    }
    ck_assert_int_eq(again, 0);
    /* 2^20 bits, two probes: about 1% of the first 50k already collide; far fewer than 5% */
    ck_assert_int_gt(fresh, 47500);
    ck_assert(bloom_add(b, "c-\0x", 4)); /* bytes, not C strings: differs from "c-" */
    ck_assert(!bloom_add(b, "c-\0x", 4));
    bloom_free(b);
}
END_TEST

START_TEST(test_full_says_maybe)
{
    struct bloom *b = bloom_new(6); /* 64 bits */
    char id[32];
    for (int i = 0; i < 2000; i++) {
        int n = snprintf(id, sizeof id, "%d", i);
        bloom_add(b, id, (size_t)n);
    }
    int fresh = 0;
    for (int i = 2000; i < 3000; i++) {
        int n = snprintf(id, sizeof id, "%d", i);
        fresh += bloom_add(b, id, (size_t)n);
    }
    ck_assert_int_eq(fresh, 0);
    bloom_free(NULL);
    bloom_free(b);
}
END_TEST

static Suite *bloom_suite(void)
{
    Suite *s = suite_create("bloom");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_added_never_absent);
    tcase_add_test(tc, test_full_says_maybe);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(bloom_suite)
