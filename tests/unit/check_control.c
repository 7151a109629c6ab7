/* check_control.c - the campaign control cache: what is read when, holders, fates.
 *
 * The cache is pure (times are arguments), so these tests play a consumer's ticks against a
 * pretend store: an array of campaign controls the test sets as an operator would. */
#include "check_main.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../consumer/control.h"

#define TTL 500

/* The campaigns control_due names at now, into names (borrowed); how many. */
static size_t due(struct control *c, int64_t now, const char **names, size_t max)
{
    return control_due(c, now, names, max);
}

static bool named(const char **names, size_t n, const char *campaign)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], campaign) == 0)
            return true;
    return false;
}

/* One refresh round: what control_due names is "read" from the pretend store. */
static size_t refresh(struct control *c, int64_t now, const char *paused, const char *cancelled)
{
    const char *names[16];
    enum store_control v[16];
    size_t n = due(c, now, names, 16);
    for (size_t i = 0; i < n; i++)
        v[i] = paused && strcmp(names[i], paused) == 0         ? STORE_CONTROL_PAUSED
               : cancelled && strcmp(names[i], cancelled) == 0 ? STORE_CONTROL_CANCELLED
                                                               : STORE_CONTROL_RUNNING;
    control_apply(c, v, n, now);
    return n;
}

/* A new campaign is due at once and believed running until read. */
START_TEST(test_new_entry_due_at_once)
{
    struct control *c = control_new(TTL);
    struct control_entry *e = control_hold(c, "spring");
    ck_assert_int_eq(control_state(e), STORE_CONTROL_RUNNING);
    ck_assert_str_eq(control_campaign(e), "spring");
    const char *names[4];
    ck_assert_uint_eq(due(c, 1000, names, 4), 1);
    ck_assert_str_eq(names[0], "spring");
    enum store_control v = STORE_CONTROL_PAUSED;
    ck_assert_uint_eq(control_apply(c, &v, 1, 1000), 1); /* turned paused */
    ck_assert_int_eq(control_state(e), STORE_CONTROL_PAUSED);
    control_free(c);
}
END_TEST

/* Holding a campaign twice shares one entry; nothing is read again before the TTL. */
START_TEST(test_read_once_per_ttl)
{
    struct control *c = control_new(TTL);
    struct control_entry *a = control_hold(c, "spring");
    ck_assert_ptr_eq(control_hold(c, "spring"), a);
    ck_assert_uint_eq(control_len(c), 1);
    ck_assert_uint_eq(refresh(c, 0, NULL, NULL), 1);
    int64_t reads = 0;
    for (int64_t now = 1; now < 10 * TTL; now++) /* a tick every millisecond for 5 s */
        reads += (int64_t)refresh(c, now, NULL, NULL);
    ck_assert_int_eq(reads, 9); /* at 500, 1000, ... 4500 */
    control_free(c);
}
END_TEST

/* Campaigns read at different moments fall into one round trip: when one is due, those past
 * half the TTL come along. */
START_TEST(test_due_entries_coalesce)
{
    struct control *c = control_new(TTL);
    control_hold(c, "a");
    refresh(c, 0, NULL, NULL);
    control_hold(c, "b");
    const char *names[4];
    size_t n = due(c, 200, names, 4); /* b, new; a is 200 ms old: not past half the TTL */
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(names[0], "b");
    control_apply(c, (enum store_control[]){STORE_CONTROL_RUNNING}, 1, 200);
    ck_assert_uint_eq(due(c, 499, names, 4), 0);
    n = due(c, 500, names, 4); /* a is due; b (300 ms old) comes along */
    ck_assert_uint_eq(n, 2);
    ck_assert(named(names, n, "a") && named(names, n, "b"));
    control_apply(c, (enum store_control[]){STORE_CONTROL_RUNNING, STORE_CONTROL_RUNNING}, 2, 500);
    ck_assert_uint_eq(due(c, 999, names, 4), 0);
    ck_assert_uint_eq(due(c, 1000, names, 4), 2); /* in step from now on */
    control_free(c);
}
END_TEST

/* Only the campaigns of tasks in hand are read; one nobody holds is dropped once stale, and
 * held again it is read again. */
START_TEST(test_released_entries_not_read_then_dropped)
{
    struct control *c = control_new(TTL);
    struct control_entry *a = control_hold(c, "a");
    struct control_entry *b = control_hold(c, "b");
    refresh(c, 0, NULL, NULL);
    control_release(c, b);
    const char *names[4];
    size_t n = due(c, 600, names, 4);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(names[0], "a");
    ck_assert_uint_eq(control_len(c), 1); /* b was stale and unheld: dropped */
    control_apply(c, (enum store_control[]){STORE_CONTROL_RUNNING}, 1, 600);
    control_release(c, a);
    control_release(c, a); /* more releases than holds: harmless */
    control_release(c, NULL);
    ck_assert_uint_eq(due(c, 800, names, 4), 0); /* nothing held: nothing read */
    ck_assert_uint_eq(control_len(c), 1);        /* a's reading is still fresh */
    ck_assert_ptr_eq(control_hold(c, "a"), a);   /* held again while fresh: same entry */
    ck_assert_uint_eq(due(c, 1100, names, 4), 1);
    control_free(c);
}
END_TEST

/* More campaigns due than fit: the rest are named in the next round. */
START_TEST(test_due_limited_by_max)
{
    struct control *c = control_new(TTL);
    char name[8];
    for (int i = 0; i < 10; i++) {
        snprintf(name, sizeof name, "c%d", i);
        control_hold(c, name);
    }
    ck_assert_uint_eq(refresh(c, 0, NULL, NULL), 10);
    const char *names[4];
    enum store_control v[4] = {0};
    size_t first = due(c, 1000, names, 4);
    ck_assert_uint_eq(first, 4);
    control_apply(c, v, 4, 1000);
    ck_assert_uint_eq(due(c, 1001, names, 4), 4);
    control_apply(c, v, 4, 1001);
    ck_assert_uint_eq(due(c, 1002, names, 4), 2);
    control_apply(c, v, 2, 1002);
    ck_assert_uint_eq(due(c, 1003, names, 4), 0);
    control_free(c);
}
END_TEST

/* A failed round trip (no control_apply) is tried again after the TTL, not every tick. */
START_TEST(test_failed_read_retried_after_ttl)
{
    struct control *c = control_new(TTL);
    control_hold(c, "a");
    const char *names[4];
    ck_assert_uint_eq(due(c, 0, names, 4), 1); /* the store failed: nothing applied */
    ck_assert_uint_eq(due(c, 1, names, 4), 0);
    ck_assert_uint_eq(due(c, TTL, names, 4), 1);
    control_free(c);
}
END_TEST

/* A growing table keeps every entry (more campaigns than buckets). */
START_TEST(test_many_campaigns)
{
    struct control *c = control_new(TTL);
    struct control_entry *e[300];
    char name[16];
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "camp-%d", i);
        e[i] = control_hold(c, name);
    }
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "camp-%d", i);
        ck_assert_ptr_eq(control_hold(c, name), e[i]);
        ck_assert_str_eq(control_campaign(e[i]), name);
    }
    ck_assert_uint_eq(control_len(c), 300);
    control_free(c);
}
END_TEST

/* The STORE_NOOP answer: believe running, and read again at the next refresh. */
START_TEST(test_invalidate)
{
    struct control *c = control_new(TTL);
    struct control_entry *e = control_hold(c, "a");
    refresh(c, 0, "a", NULL);
    ck_assert_int_eq(control_state(e), STORE_CONTROL_PAUSED);
    control_invalidate(c, e);
    control_invalidate(c, NULL);
    ck_assert_int_eq(control_state(e), STORE_CONTROL_RUNNING);
    const char *names[4];
    ck_assert_uint_eq(due(c, 10, names, 4), 1);
    control_free(c);
}
END_TEST

/* Turning paused or cancelled is counted (the engine sweeps its timers then); back to running
 * or unchanged is not. */
START_TEST(test_apply_counts_turns)
{
    struct control *c = control_new(TTL);
    control_hold(c, "a");
    control_hold(c, "b");
    const char *names[4];
    ck_assert_uint_eq(due(c, 0, names, 4), 2);
    enum store_control v[2] = {STORE_CONTROL_RUNNING, STORE_CONTROL_RUNNING};
    ck_assert_uint_eq(control_apply(c, v, 2, 0), 0);
    ck_assert_uint_eq(due(c, TTL, names, 4), 2);
    v[0] = v[1] = STORE_CONTROL_PAUSED;
    ck_assert_uint_eq(control_apply(c, v, 2, TTL), 2);
    ck_assert_uint_eq(due(c, 2 * TTL, names, 4), 2);
    v[0] = STORE_CONTROL_CANCELLED; /* paused -> cancelled turns; paused -> paused does not */
    ck_assert_uint_eq(control_apply(c, v, 2, 2 * TTL), 1);
    ck_assert_uint_eq(due(c, 3 * TTL, names, 4), 2);
    v[0] = v[1] = STORE_CONTROL_RUNNING;
    ck_assert_uint_eq(control_apply(c, v, 2, 3 * TTL), 0);
    control_free(c);
    control_free(NULL);
}
END_TEST

START_TEST(test_fates)
{
    struct control *c = control_new(TTL);
    struct control_entry *e = control_hold(c, "a");
    ck_assert_int_eq(control_fate(NULL, 0, 5000), CONTROL_RENDER);
    ck_assert_int_eq(control_fate(e, 0, 5000), CONTROL_RENDER);       /* unread: running */
    ck_assert_int_eq(control_fate(e, 6000, 5000), CONTROL_RENDER);    /* expires later */
    ck_assert_int_eq(control_fate(e, 5000, 5000), CONTROL_EXPIRED);   /* at its expiry */
    ck_assert_int_eq(control_fate(e, 4000, 5000), CONTROL_EXPIRED);
    refresh(c, 0, "a", NULL);
    ck_assert_int_eq(control_fate(e, 0, 5000), CONTROL_ASIDE);
    ck_assert_int_eq(control_fate(e, 4000, 5000), CONTROL_EXPIRED);   /* expiry before pause */
    refresh(c, TTL, NULL, "a");
    ck_assert_int_eq(control_fate(e, 0, 5000), CONTROL_CANCEL);
    ck_assert_int_eq(control_fate(e, 4000, 5000), CONTROL_CANCEL);    /* cancel first */
    refresh(c, 2 * TTL, NULL, NULL);
    ck_assert_int_eq(control_fate(e, 0, 5000), CONTROL_RENDER);
    control_free(c);
}
END_TEST

static Suite *control_suite(void)
{
    Suite *s = suite_create("control");
    TCase *cache = tcase_create("cache");
    tcase_add_test(cache, test_new_entry_due_at_once);
    tcase_add_test(cache, test_read_once_per_ttl);
    tcase_add_test(cache, test_due_entries_coalesce);
    tcase_add_test(cache, test_released_entries_not_read_then_dropped);
    tcase_add_test(cache, test_due_limited_by_max);
    tcase_add_test(cache, test_failed_read_retried_after_ttl);
    tcase_add_test(cache, test_many_campaigns);
    tcase_add_test(cache, test_invalidate);
    tcase_add_test(cache, test_apply_counts_turns);
    suite_add_tcase(s, cache);
    TCase *fate = tcase_create("fate");
    tcase_add_test(fate, test_fates);
    suite_add_tcase(s, fate);
    return s;
}

CHECK_MAIN(control_suite)
