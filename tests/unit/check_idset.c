/* check_idset.c - the string set: adds, repeats, removals with tombstones, growth. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "idset.h"

START_TEST(test_add_repeat_remove)
{
    struct idset *s = idset_new();
    ck_assert(idset_add(s, "a", 1));
    ck_assert(!idset_add(s, "a", 1));
    ck_assert(idset_add(s, "a\0b", 3)); /* bytes, not C strings */
    ck_assert_uint_eq(idset_len(s), 2);
    ck_assert(idset_remove(s, "a", 1));
    ck_assert(!idset_remove(s, "a", 1));
    ck_assert(idset_add(s, "a", 1));
    ck_assert(idset_add(s, "", 0));
    ck_assert(!idset_add(s, "", 0));
    idset_free(s);
}
END_TEST

/* Churn through far more ids than the table holds at once: tombstones must be reused or
 * rebuilt away, and every live id stays findable behind removed ones. */
START_TEST(test_churn)
{
    struct idset *s = idset_new();
    char id[32];
    int bad = 0;
    for (int i = 0; i < 200000; i++) {
        int n = snprintf(id, sizeof id, "c-%d", i);
        bad += !idset_add(s, id, (size_t)n);
        if (i >= 100) {
            n = snprintf(id, sizeof id, "c-%d", i - 100);
            bad += !idset_remove(s, id, (size_t)n);
        }
    }
    ck_assert_int_eq(bad, 0);
    ck_assert_uint_eq(idset_len(s), 100);
    for (int i = 199900; i < 200000; i++) {
        int n = snprintf(id, sizeof id, "c-%d", i);
        bad += idset_add(s, id, (size_t)n); /* present: add must refuse */
    }
    ck_assert_int_eq(bad, 0);
    idset_free(s);
}
END_TEST

static Suite *idset_suite(void)
{
    Suite *s = suite_create("idset");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_add_repeat_remove);
    tcase_add_test(tc, test_churn);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(idset_suite)
