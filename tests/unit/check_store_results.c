/* check_store_results.c - the results stream's Redis side against a real redis-server: audio_ms
 * counted on a contact's first done only, the outbox written in the outcome's own step and
 * answered UNPUBLISHED until cleared, and campaign completions told once per set of final
 * counts, including a campaign drained while its launch runs (claimed once it has finished) and
 * contacts done before their launch chunk was acknowledged.
 *
 * The fixture starts `redis-server` on a free port once for the suite (as check_store.c does);
 * each test opens its own store, which waits for the server through store_open's retry, and
 * uses campaign ids of its own, so tests share the server without sharing state. */
#include "check_main.h"

#include <stdio.h>
#include <string.h>

#include "check_redis.h"
#include "store.h"
#include "store_results.h"

static struct store *S;
static struct store_batch *B;

static void setup(void)
{
    char url[64], err[512];
    check_redis_url(url, sizeof url);
    S = store_open(url, 10000, err, sizeof err);
    ck_assert_msg(S != NULL, "store_open %s: %s (is redis-server installed?)", url, err);
    B = store_batch_new();
}

static void teardown(void)
{
    store_batch_free(B);
    store_close(S);
}

static void exec_ok(void)
{
    ck_assert_msg(store_batch_exec(S, B) == 0, "exec: %s", store_error(S));
}

static struct campaign_info info(const char *campaign)
{
    struct campaign_info ci;
    ck_assert_int_eq(store_campaign_get(S, campaign, &ci), 0);
    return ci;
}

/* A campaign record whose launch is in launch_state. */
static void campaign(const char *id, const char *launch_state)
{
    ck_assert_int_ge(store_campaign_create(S, id, 1), 0);
    ck_assert_int_eq(store_campaign_set(S, id, "launch_state", launch_state), 0);
}

static const struct store_completion *completion_of(const char *id)
{
    for (size_t k = 0; k < store_batch_ncampaigns(B); k++)
        if (strcmp(store_batch_completion(B, k)->campaign, id) == 0)
            return store_batch_completion(B, k);
    ck_abort_msg("campaign %s not in the batch", id);
    return NULL;
}

static void done(const char *id, const char *contact, int64_t ms, const char *event)
{
    store_batch_done_result(B, id, contact, strlen(contact), "primary", ms, event);
}

/* ================================================================ tests */

START_TEST(test_audio_ms_first_done_only)
{
    campaign("au", "launching");
    store_batch_reset(B);
    done("au", "c1", 1500, NULL);
    done("au", "c2", 500, NULL);
    exec_ok();
    store_batch_reset(B);
    done("au", "c1", 1500, NULL);   /* a redelivery: duplicate, no audio */
    exec_ok();
    ck_assert_int_eq(store_batch_result(B, 0), STORE_DUPLICATE);
    struct campaign_info ci = info("au");
    ck_assert_int_eq(ci.audio_ms, 2000);
    ck_assert_int_eq(ci.done, 2);
    ck_assert_int_eq(ci.duplicates, 1);
    ck_assert_int_eq(store_campaign_set(S, "au", "audio_ms", "1"), -1); /* moves only by transitions */
}
END_TEST

START_TEST(test_outbox)
{
    campaign("ob", "launching");
    store_batch_reset(B);
    done("ob", "c1", 100, "{\"e\":1}");
    store_batch_dlq_result(B, "ob", "c2", 2, "{\"reason\":\"non_retryable\"}", "{\"e\":2}");
    done("ob", "c3", 100, NULL);     /* no stream: nothing kept */
    exec_ok();
    ck_assert_int_eq(store_batch_result(B, 0), STORE_OK);
    ck_assert_int_eq(store_batch_result(B, 1), STORE_PARKED);
    char *json = NULL;
    ck_assert_int_eq(store_outbox_get(S, "ob", "c1", 2, &json), 0);
    ck_assert_str_eq(json, "{\"e\":1}");
    free(json);
    ck_assert_int_eq(store_outbox_get(S, "ob", "c3", 2, &json), 1);
    ck_assert_ptr_null(json);

    /* redeliveries while the events are unpublished: UNPUBLISHED, and the same event */
    store_batch_reset(B);
    done("ob", "c1", 100, "{\"e\":\"other\"}");
    store_batch_dlq_result(B, "ob", "c2", 2, "{}", "{\"e\":\"other\"}");
    done("ob", "c3", 100, NULL);
    exec_ok();
    ck_assert_int_eq(store_batch_result(B, 0), STORE_UNPUBLISHED);
    ck_assert_int_eq(store_batch_result(B, 1), STORE_UNPUBLISHED);
    ck_assert_int_eq(store_batch_result(B, 2), STORE_DUPLICATE);
    ck_assert_int_eq(store_outbox_get(S, "ob", "c2", 2, &json), 0);
    ck_assert_str_eq(json, "{\"e\":2}");   /* the first event, not the repeat's */
    free(json);

    /* once published and cleared, a repeat is a plain duplicate */
    struct store_published p[] = {{"ob", "c1", 2}, {"ob", "c2", 2}};
    ck_assert_int_eq(store_outbox_clear(S, p, 2), 0);
    store_batch_reset(B);
    done("ob", "c1", 100, "{\"e\":1}");
    exec_ok();
    ck_assert_int_eq(store_batch_result(B, 0), STORE_DUPLICATE);
    ck_assert_int_eq(store_outbox_get(S, "ob", "c2", 2, &json), 1);
    ck_assert_int_eq(info("ob").audio_ms, 200);
}
END_TEST

START_TEST(test_completion_once_per_counts)
{
    campaign("cp", "launched");
    store_batch_reset(B);
    store_batch_reserve(B, "cp", "run1", "c1", 2);
    store_batch_reserve(B, "cp", "run1", "c2", 2);
    store_batch_ack(B, "cp", "c1", 2);
    store_batch_ack(B, "cp", "c2", 2);
    exec_ok();
    ck_assert_int_eq(completion_of("cp")->state, STORE_NOT_COMPLETE);

    store_batch_reset(B);
    done("cp", "c1", 700, "{}");
    exec_ok();
    ck_assert_int_eq(completion_of("cp")->state, STORE_NOT_COMPLETE); /* c2 pending */

    store_batch_reset(B);
    store_batch_dlq_result(B, "cp", "c2", 2, "{}", "{}");
    exec_ok();
    const struct store_completion *c = completion_of("cp");
    ck_assert_int_eq(c->state, STORE_COMPLETED);
    ck_assert_int_eq(c->done, 1);
    ck_assert_int_eq(c->dlq, 1);
    ck_assert_int_eq(c->enqueued, 2);
    ck_assert_int_eq(c->audio_ms, 700);
    ck_assert_int_gt(c->at_ms, 1700000000000LL);
    struct store_completion kept;
    ck_assert_int_eq(store_completion_get(S, "cp", &kept), 0);   /* unpublished until cleared */
    ck_assert_int_eq(kept.at_ms, c->at_ms);

    /* an exact retry answers the same, and tells nothing new */
    int64_t at = c->at_ms;
    exec_ok();
    ck_assert_int_eq(completion_of("cp")->state, STORE_COMPLETED);
    ck_assert_int_eq(completion_of("cp")->at_ms, at);
    ck_assert_int_eq(info("cp").dlq, 1);

    /* duplicates finish nothing: no second completion */
    store_batch_reset(B);
    done("cp", "c1", 700, "{}");
    exec_ok();
    ck_assert_int_eq(completion_of("cp")->state, STORE_NOT_COMPLETE);

    /* published: cleared; then the DLQ'd contact is done after all (a replay): new counts, told */
    struct store_published p = {"cp", NULL, 0};
    ck_assert_int_eq(store_outbox_clear(S, &p, 1), 0);
    ck_assert_int_eq(store_completion_get(S, "cp", &kept), 1);
    store_batch_reset(B);
    done("cp", "c2", 300, "{}");
    exec_ok();
    c = completion_of("cp");
    ck_assert_int_eq(c->state, STORE_COMPLETED);
    ck_assert_int_eq(c->done, 2);
    ck_assert_int_eq(c->dlq, 0);
    ck_assert_int_eq(c->audio_ms, 1000);
}
END_TEST

/* Contacts done before their launch chunk was acknowledged leave pending at 0 all along: the
 * campaign drains while launching, and the completion is claimed once the launch finished. */
START_TEST(test_drained_while_launching)
{
    campaign("ln", "launching");
    store_batch_reset(B);
    store_batch_reserve_chunk(B, "ln", "run1", 1, "c1", 2);
    store_batch_reserve_chunk(B, "ln", "run1", 1, "c2", 2);
    exec_ok();
    store_batch_reset(B);
    done("ln", "c1", 100, "{}");
    done("ln", "c2", 100, "{}");
    exec_ok();
    ck_assert_int_eq(completion_of("ln")->state, STORE_DRAINED_LAUNCHING);
    struct store_completion c;
    ck_assert_int_eq(store_completion_claim(S, "ln", &c), 1);      /* still launching */
    store_batch_reset(B);
    store_batch_ack_chunk(B, "ln", "run1", 1);
    exec_ok();
    ck_assert_int_eq(completion_of("ln")->state, STORE_NOT_COMPLETE);
    ck_assert_int_eq(store_campaign_set(S, "ln", "launch_state", "launched"), 0);
    ck_assert_int_eq(store_completion_claim(S, "ln", &c), 0);
    ck_assert_int_eq(c.state, STORE_COMPLETED);
    ck_assert_int_eq(c.done, 2);
    ck_assert_int_eq(c.enqueued, 2);
    ck_assert_int_eq(c.audio_ms, 200);
    ck_assert_int_eq(store_completion_claim(S, "ln", &c), 2);      /* told once */
}
END_TEST

START_TEST(test_claim_pending)
{
    campaign("pd", "launched");
    store_batch_reset(B);
    store_batch_reserve(B, "pd", "run1", "c1", 2);
    store_batch_ack(B, "pd", "c1", 2);
    exec_ok();
    struct store_completion c;
    ck_assert_int_eq(store_completion_claim(S, "pd", &c), 2);      /* pending 1: nothing */
}
END_TEST

static Suite *store_results_suite(void)
{
    Suite *s = suite_create("store_results");
    TCase *tc = tcase_create("redis");
    tcase_add_unchecked_fixture(tc, check_redis_start, check_redis_stop);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_audio_ms_first_done_only);
    tcase_add_test(tc, test_outbox);
    tcase_add_test(tc, test_completion_once_per_counts);
    tcase_add_test(tc, test_drained_while_launching);
    tcase_add_test(tc, test_claim_pending);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(store_results_suite)
