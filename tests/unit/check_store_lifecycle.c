/* check_store_lifecycle.c - campaign control in Redis against a real redis-server: pause, resume
 * and cancel with every refusal; the batch's cancel (X) and set-aside (S) ops, including NOOP
 * once control moved on, duplicates and renders that raced a cancel (c -> d, c -> q); the counts
 * invariant done + dlq + cancelled + pending == enqueued; completion with cancelled contacts;
 * the retention expiry at completion and at cancel; the set-aside jobs' claim / released /
 * unclaim_all with a crash between claim and released; delete; list pruning campaigns whose
 * record expired; exact retries of batches holding X and S ops.
 *
 * One redis-server per suite (check_redis.h); every test flushes it and opens its own store and
 * a raw hiredis connection for inspection. */
#include "check_main.h"

#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <string.h>

#include "check_redis.h"
#include "store.h"
#include "store_results.h"

static struct store *S;
static redisContext *R;
static struct store_batch *B;

/* ================================================================ fixture and helpers */

static void suite_up(void)
{
    check_redis_start();
}

static void suite_down(void)
{
    check_redis_stop();
}

static redisReply *raw(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(R, fmt, ap);
    va_end(ap);
    ck_assert_msg(r != NULL && r->type != REDIS_REPLY_ERROR, "raw %s failed", fmt);
    return r;
}

static long long raw_int(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(R, fmt, ap);
    va_end(ap);
    ck_assert_msg(r != NULL && r->type == REDIS_REPLY_INTEGER, "raw %s: no integer", fmt);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

static void test_up(void)
{
    char url[64], err[512];
    check_redis_url(url, sizeof url);
    S = store_open(url, 10000, err, sizeof err);
    ck_assert_msg(S != NULL, "store_open %s: %s (is redis-server installed?)", url, err);
    R = redisConnect("127.0.0.1", check_redis_port);
    ck_assert_msg(R && !R->err, "raw connect failed");
    freeReplyObject(raw("FLUSHALL"));
    B = store_batch_new();
}

static void test_down(void)
{
    store_batch_free(B);
    store_close(S);
    if (R)
        redisFree(R);
}

static void exec_ok(void)
{
    ck_assert_msg(store_batch_exec(S, B) == 0, "exec: %s", store_error(S));
}

static struct campaign_info info(const char *campaign)
{
    struct campaign_info ci;
    ck_assert_msg(store_campaign_get(S, campaign, &ci) == 0, "get %s: %s", campaign, store_error(S));
    return ci;
}

/* done + dlq + cancelled + pending == enqueued, pending being the contacts in p. */
static void assert_counts(const char *campaign)
{
    struct campaign_info ci = info(campaign);
    redisReply *r = raw("HVALS voxcast:{%s}:state", campaign);
    long long p = 0;
    for (size_t i = 0; i < r->elements; i++)
        p += r->element[i]->str[0] == 'p';
    freeReplyObject(r);
    ck_assert_int_ge(ci.enqueued - ci.done - ci.dlq - ci.cancelled, 0);
    ck_assert_int_eq(ci.enqueued - ci.done - ci.dlq - ci.cancelled, p);
}

/* A launched campaign whose contacts c1..cN are pending (reserved and acknowledged). */
static void launched(const char *campaign, int n)
{
    ck_assert_int_eq(store_campaign_create(S, campaign, 1000), 0);
    char id[16];
    store_batch_reset(B);
    for (int i = 1; i <= n; i++) {
        snprintf(id, sizeof id, "c%d", i);
        store_batch_reserve(B, campaign, "run1", id, strlen(id));
    }
    exec_ok();
    store_batch_reset(B);
    for (int i = 1; i <= n; i++) {
        snprintf(id, sizeof id, "c%d", i);
        store_batch_ack(B, campaign, id, strlen(id));
    }
    exec_ok();
    ck_assert_int_eq(store_campaign_set(S, campaign, "launch_state", "launched"), 0);
    ck_assert_int_eq(info(campaign).enqueued, n);
}

static void control(const char *campaign, enum store_control to)
{
    char why[128];
    ck_assert_msg(store_campaign_control_set(S, campaign, to, why, sizeof why) == 0, "%s %s: %s / %s",
                  store_control_name(to), campaign, why, store_error(S));
}

/* Moving campaign to `to` is refused with exactly `want`. */
static void refused(const char *campaign, enum store_control to, const char *want)
{
    char why[128] = "x";
    ck_assert_int_eq(store_campaign_control_set(S, campaign, to, why, sizeof why), 1);
    ck_assert_str_eq(why, want);
}

static char state_of(const char *campaign, const char *contact)
{
    char st = 'x';
    ck_assert_int_eq(store_contact_state(S, campaign, contact, strlen(contact), &st), 0);
    return st;
}

static size_t x_op(const char *campaign, const char *contact, const char *event)
{
    return store_batch_cancel(B, campaign, contact, strlen(contact), event);
}

static size_t s_op(const char *campaign, const char *contact, const char *job)
{
    return store_batch_aside(B, campaign, contact, strlen(contact), job);
}

/* ================================================================ control */

START_TEST(test_control_transitions)
{
    launched("c1", 2);
    ck_assert_int_eq(info("c1").control, STORE_CONTROL_RUNNING);
    refused("c1", STORE_CONTROL_RUNNING, "campaign c1 is not paused");
    control("c1", STORE_CONTROL_PAUSED);
    ck_assert_int_eq(info("c1").control, STORE_CONTROL_PAUSED);
    refused("c1", STORE_CONTROL_PAUSED, "campaign c1 is paused already");
    control("c1", STORE_CONTROL_RUNNING);
    ck_assert_int_eq(info("c1").control, STORE_CONTROL_RUNNING);
    control("c1", STORE_CONTROL_PAUSED);
    control("c1", STORE_CONTROL_CANCELLED); /* paused -> cancelled */
    ck_assert_int_eq(info("c1").control, STORE_CONTROL_CANCELLED);
    refused("c1", STORE_CONTROL_PAUSED, "campaign c1 is cancelled");
    refused("c1", STORE_CONTROL_RUNNING, "campaign c1 is cancelled");
    refused("c1", STORE_CONTROL_CANCELLED, "campaign c1 is cancelled");

    launched("c2", 1);
    control("c2", STORE_CONTROL_CANCELLED); /* running -> cancelled */
    ck_assert_int_eq(info("c2").control, STORE_CONTROL_CANCELLED);

    /* complete: launched and nothing pending */
    launched("c3", 1);
    store_batch_reset(B);
    store_batch_done(B, "c3", "c1", 2, "espeak");
    exec_ok();
    refused("c3", STORE_CONTROL_PAUSED, "campaign c3 is complete");
    refused("c3", STORE_CONTROL_CANCELLED, "campaign c3 is complete");
    refused("c3", STORE_CONTROL_RUNNING, "campaign c3 is not paused");
    /* drained while still launching is not complete */
    ck_assert_int_eq(store_campaign_set(S, "c3", "launch_state", "launching"), 0);
    control("c3", STORE_CONTROL_PAUSED);

    char why[64] = "x";
    ck_assert_int_eq(store_campaign_control_set(S, "nope", STORE_CONTROL_PAUSED, why, sizeof why), 2);
    ck_assert_int_eq(store_campaign_control_set(S, "bad id", STORE_CONTROL_PAUSED, why, sizeof why), -1);
    ck_assert_ptr_nonnull(strstr(store_error(S), "invalid campaign id"));
    /* control moves only through control_set */
    ck_assert_int_eq(store_campaign_set(S, "c2", "control", "running"), -1);
    ck_assert_int_eq(store_campaign_set(S, "c2", "cancelled", "0"), -1);
    ck_assert_str_eq(store_control_name(STORE_CONTROL_RUNNING), "running");
    ck_assert_str_eq(store_control_name(STORE_CONTROL_PAUSED), "paused");
    ck_assert_str_eq(store_control_name(STORE_CONTROL_CANCELLED), "cancelled");
}
END_TEST

START_TEST(test_controls_pipelined)
{
    launched("a", 1);
    launched("b", 1);
    launched("c", 1);
    control("a", STORE_CONTROL_PAUSED);
    control("c", STORE_CONTROL_CANCELLED);
    const char *ids[] = {"a", "b", "c", "missing", "bad id"};
    enum store_control out[5] = {9, 9, 9, 9, 9};
    ck_assert_int_eq(store_campaign_controls(S, ids, 5, out), 0);
    ck_assert_int_eq(out[0], STORE_CONTROL_PAUSED);
    ck_assert_int_eq(out[1], STORE_CONTROL_RUNNING);
    ck_assert_int_eq(out[2], STORE_CONTROL_CANCELLED);
    ck_assert_int_eq(out[3], STORE_CONTROL_RUNNING);
    ck_assert_int_eq(out[4], STORE_CONTROL_RUNNING);
    ck_assert_int_eq(store_campaign_controls(S, ids, 0, out), 0);
}
END_TEST

/* ================================================================ cancel and aside ops */

START_TEST(test_cancel_ops)
{
    launched("k", 4); /* c1..c4 pending */
    /* c5 reserved but not acknowledged, c6 unknown */
    store_batch_reset(B);
    store_batch_reserve(B, "k", "run1", "c5", 2);
    exec_ok();
    /* not cancelled: NOOP, nothing moves */
    store_batch_reset(B);
    x_op("k", "c1", "{\"e\":1}");
    exec_ok();
    ck_assert_int_eq(store_batch_result(B, 0), STORE_NOOP);
    ck_assert_int_eq(state_of("k", "c1"), 'p');
    /* c3 done and c4 parked before the cancel */
    store_batch_reset(B);
    store_batch_done_result(B, "k", "c3", 2, "espeak", 10, "{\"done\":3}");
    store_batch_dlq(B, "k", "c4", 2, "{}");
    exec_ok();
    control("k", STORE_CONTROL_CANCELLED);
    store_batch_reset(B);
    size_t i1 = x_op("k", "c1", "{\"cancelled\":1}");
    size_t i5 = x_op("k", "c5", "");
    size_t i6 = x_op("k", "c6", "{\"cancelled\":6}");
    size_t i3 = x_op("k", "c3", "{\"cancelled\":3}"); /* done, event still in the outbox */
    size_t i4 = x_op("k", "c4", "");                /* parked */
    size_t i1b = x_op("k", "c1", "");               /* twice in one batch */
    exec_ok();
    ck_assert_int_eq(store_batch_result(B, i1), STORE_OK);
    ck_assert_int_eq(store_batch_result(B, i5), STORE_OK);
    ck_assert_int_eq(store_batch_result(B, i6), STORE_OK);
    ck_assert_int_eq(store_batch_result(B, i3), STORE_UNPUBLISHED);
    ck_assert_int_eq(store_batch_result(B, i4), STORE_DUPLICATE);
    ck_assert_int_eq(store_batch_result(B, i1b), STORE_DUPLICATE);
    ck_assert_int_eq(state_of("k", "c1"), 'c');
    ck_assert_int_eq(state_of("k", "c5"), 'c');
    ck_assert_int_eq(state_of("k", "c6"), 'c');
    ck_assert_int_eq(state_of("k", "c3"), 'd');
    struct campaign_info ci = info("k");
    ck_assert_int_eq(ci.cancelled, 3);
    ck_assert_int_eq(ci.enqueued, 6); /* 4 + c5 + c6 */
    ck_assert_int_eq(ci.done, 1);
    ck_assert_int_eq(ci.dlq, 1);
    assert_counts("k");
    /* the cancel's event went into the outbox with the transition */
    redisReply *r = raw("HGET voxcast:{k}:outbox c1");
    ck_assert_str_eq(r->str, "{\"cancelled\":1}");
    freeReplyObject(r);
    ck_assert_int_eq(raw_int("HEXISTS voxcast:{k}:outbox c5"), 0);
    /* again in a new batch: duplicates (c1's event still unpublished) */
    store_batch_reset(B);
    x_op("k", "c1", "");
    x_op("k", "c5", "");
    exec_ok();
    ck_assert_int_eq(store_batch_result(B, 0), STORE_UNPUBLISHED);
    ck_assert_int_eq(store_batch_result(B, 1), STORE_DUPLICATE);
    ck_assert_int_eq(info("k").cancelled, 3);
    assert_counts("k");
    /* c2 is left pending: a paused campaign's cancel op is a NOOP too */
    launched("pz", 1);
    control("pz", STORE_CONTROL_PAUSED);
    store_batch_reset(B);
    x_op("pz", "c1", "");
    exec_ok();
    ck_assert_int_eq(store_batch_result(B, 0), STORE_NOOP);
    ck_assert_int_eq(state_of("pz", "c1"), 'p');
}
END_TEST

START_TEST(test_cancel_chunk_not_acked)
{
    /* a contact cancelled before its launch chunk was acknowledged counts once */
    ck_assert_int_eq(store_campaign_create(S, "ch", 1), 0);
    store_batch_reserve_chunk(B, "ch", "run1", 1, "a", 1);
    store_batch_reserve_chunk(B, "ch", "run1", 1, "b", 1);
    exec_ok();
    control("ch", STORE_CONTROL_CANCELLED);
    store_batch_reset(B);
    x_op("ch", "a", "");
    exec_ok();
    ck_assert_int_eq(store_batch_result(B, 0), STORE_OK);
    store_batch_reset(B);
    store_batch_ack_chunk(B, "ch", "run1", 1);
    exec_ok();
    struct campaign_info ci = info("ch");
    ck_assert_int_eq(ci.enqueued, 2);
    ck_assert_int_eq(ci.cancelled, 1);
    assert_counts("ch");
}
END_TEST

START_TEST(test_aside_ops)
{
    launched("p", 3);
    store_batch_reset(B);
    store_batch_reserve(B, "p", "run1", "c4", 2); /* reserved, not acknowledged */
    store_batch_done(B, "p", "c3", 2, "espeak");
    exec_ok();
    /* running: NOOP */
    store_batch_reset(B);
    s_op("p", "c1", "{\"job\":1}");
    exec_ok();
    ck_assert_int_eq(store_batch_result(B, 0), STORE_NOOP);
    ck_assert_int_eq(raw_int("EXISTS voxcast:{p}:aside"), 0);
    control("p", STORE_CONTROL_PAUSED);
    store_batch_reset(B);
    size_t i1 = s_op("p", "c1", "{\"job\":1}");
    size_t i4 = s_op("p", "c4", "{\"job\":4}");
    size_t i5 = s_op("p", "c5", "{\"job\":5}"); /* unknown contact */
    size_t i3 = s_op("p", "c3", "{\"job\":3}"); /* done */
    exec_ok();
    ck_assert_int_eq(store_batch_result(B, i1), STORE_OK);
    ck_assert_int_eq(store_batch_result(B, i4), STORE_OK);
    ck_assert_int_eq(store_batch_result(B, i5), STORE_OK);
    ck_assert_int_eq(store_batch_result(B, i3), STORE_DUPLICATE);
    ck_assert_int_eq(state_of("p", "c1"), 'p');
    ck_assert_int_eq(state_of("p", "c4"), 'p');
    ck_assert_int_eq(state_of("p", "c5"), 'p');
    struct campaign_info ci = info("p");
    ck_assert_int_eq(ci.enqueued, 5);
    ck_assert_int_eq(ci.aside, 3);
    ck_assert_int_eq(ci.control, STORE_CONTROL_PAUSED);
    assert_counts("p");
    redisReply *r = raw("HGET voxcast:{p}:aside c4");
    ck_assert_str_eq(r->str, "{\"job\":4}");
    freeReplyObject(r);
    /* the same job set aside again (redelivered): still one entry, nothing counted twice */
    store_batch_reset(B);
    s_op("p", "c1", "{\"job\":1}");
    exec_ok();
    ck_assert_int_eq(store_batch_result(B, 0), STORE_OK);
    ck_assert_int_eq(info("p").aside, 3);
    ck_assert_int_eq(info("p").enqueued, 5);
    /* resumed: NOOP; cancelled: NOOP as well (not paused) */
    control("p", STORE_CONTROL_RUNNING);
    store_batch_reset(B);
    s_op("p", "c2", "{\"job\":2}");
    exec_ok();
    ck_assert_int_eq(store_batch_result(B, 0), STORE_NOOP);
    control("p", STORE_CONTROL_CANCELLED);
    store_batch_reset(B);
    s_op("p", "c2", "{\"job\":2}");
    exec_ok();
    ck_assert_int_eq(store_batch_result(B, 0), STORE_NOOP);
    ck_assert_int_eq(raw_int("HEXISTS voxcast:{p}:aside c2"), 0);
}
END_TEST

START_TEST(test_render_raced_cancel)
{
    launched("r", 3);
    control("r", STORE_CONTROL_CANCELLED);
    store_batch_reset(B);
    x_op("r", "c1", "");
    x_op("r", "c2", "");
    exec_ok();
    ck_assert_int_eq(info("r").cancelled, 2);
    /* renders that were under way finish: c -> d, c -> q */
    store_batch_reset(B);
    size_t d = store_batch_done_result(B, "r", "c1", 2, "espeak", 100, "{\"d\":1}");
    size_t q = store_batch_dlq(B, "r", "c2", 2, "{\"entry\":2}");
    exec_ok();
    ck_assert_int_eq(store_batch_result(B, d), STORE_OK);
    ck_assert_int_eq(store_batch_result(B, q), STORE_PARKED);
    ck_assert_int_eq(state_of("r", "c1"), 'd');
    ck_assert_int_eq(state_of("r", "c2"), 'q');
    struct campaign_info ci = info("r");
    ck_assert_int_eq(ci.cancelled, 0);
    ck_assert_int_eq(ci.done, 1);
    ck_assert_int_eq(ci.dlq, 1);
    ck_assert_int_eq(ci.enqueued, 3);
    ck_assert_int_eq(ci.audio_ms, 100);
    assert_counts("r");
    ck_assert_int_eq(store_dlq_count(S, "r"), 1);
}
END_TEST

/* ================================================================ completion and retention */

static const struct store_completion *completion_of(const char *id)
{
    for (size_t k = 0; k < store_batch_ncampaigns(B); k++)
        if (strcmp(store_batch_completion(B, k)->campaign, id) == 0)
            return store_batch_completion(B, k);
    ck_abort_msg("campaign %s not in the batch", id);
    return NULL;
}

START_TEST(test_completion_with_cancelled)
{
    launched("f", 3);
    ck_assert_int_eq(store_campaign_set(S, "f", "retention_s", "600"), 0);
    store_batch_reset(B);
    store_batch_done(B, "f", "c1", 2, "espeak");
    exec_ok();
    ck_assert_int_eq(completion_of("f")->state, STORE_NOT_COMPLETE);
    control("f", STORE_CONTROL_CANCELLED); /* the cancel starts the retention clock too */
    int64_t ttl = store_campaign_ttl(S, "f");
    ck_assert_int_gt(ttl, 590);
    ck_assert_int_le(ttl, 600);
    freeReplyObject(raw("PERSIST voxcast:{f}:meta"));
    freeReplyObject(raw("PERSIST voxcast:{f}:state"));
    store_batch_reset(B);
    x_op("f", "c2", "");
    exec_ok();
    ck_assert_int_eq(completion_of("f")->state, STORE_NOT_COMPLETE);
    ck_assert_int_eq(store_campaign_ttl(S, "f"), -1);
    store_batch_reset(B);
    x_op("f", "c3", "{\"cancelled\":3}");
    exec_ok();
    const struct store_completion *c = completion_of("f");
    ck_assert_int_eq(c->state, STORE_COMPLETED);
    ck_assert_int_eq(c->done, 1);
    ck_assert_int_eq(c->cancelled, 2);
    ck_assert_int_eq(c->dlq, 0);
    ck_assert_int_eq(c->enqueued, 3);
    /* the completion gave every key the retention expiry */
    ttl = store_campaign_ttl(S, "f");
    ck_assert_int_gt(ttl, 590);
    ck_assert_int_le(ttl, 600);
    ck_assert_int_gt(raw_int("TTL voxcast:{f}:state"), 590);
    ck_assert_int_gt(raw_int("TTL voxcast:{f}:prov"), 590);
    ck_assert_int_gt(raw_int("TTL voxcast:{f}:outbox"), 590); /* not the outbox's week */
    ck_assert_int_le(raw_int("TTL voxcast:{f}:outbox"), 600);
    /* the stored completion carries the cancelled count */
    struct store_completion got;
    char *text = NULL;
    ck_assert_int_eq(store_campaign_field(S, "f", "completion", &text), 0);
    ck_assert_int_eq(store_completion_parse("f", text, &got), 0);
    free(text);
    ck_assert_int_eq(got.cancelled, 2);
    /* told once */
    store_batch_reset(B);
    x_op("f", "c3", "");
    exec_ok();
    ck_assert_int_eq(completion_of("f")->state, STORE_NOT_COMPLETE);
    assert_counts("f");
}
END_TEST

START_TEST(test_retention_default_and_never)
{
    /* no retention_s: 30 days, at completion */
    launched("d30", 1);
    ck_assert_int_eq(store_campaign_ttl(S, "d30"), -1);
    store_batch_reset(B);
    store_batch_done(B, "d30", "c1", 2, "espeak");
    exec_ok();
    ck_assert_int_eq(completion_of("d30")->state, STORE_COMPLETED);
    ck_assert_int_gt(store_campaign_ttl(S, "d30"), 30 * 86400 - 10);
    ck_assert_int_le(store_campaign_ttl(S, "d30"), 30 * 86400);
    /* "0": never, neither at completion nor at cancel */
    launched("keep", 1);
    ck_assert_int_eq(store_campaign_set(S, "keep", "retention_s", "0"), 0);
    store_batch_reset(B);
    store_batch_done(B, "keep", "c1", 2, "espeak");
    exec_ok();
    ck_assert_int_eq(completion_of("keep")->state, STORE_COMPLETED);
    ck_assert_int_eq(store_campaign_ttl(S, "keep"), -1);
    ck_assert_int_eq(raw_int("TTL voxcast:{keep}:state"), -1);
    launched("keep2", 1);
    ck_assert_int_eq(store_campaign_set(S, "keep2", "retention_s", "0"), 0);
    control("keep2", STORE_CONTROL_CANCELLED);
    ck_assert_int_eq(store_campaign_ttl(S, "keep2"), -1);
    ck_assert_int_eq(raw_int("TTL voxcast:{keep2}:state"), -1);
    /* cancel: every key with its own retention */
    launched("gone", 2);
    ck_assert_int_eq(store_campaign_set(S, "gone", "retention_s", "50"), 0);
    store_batch_reset(B);
    store_batch_dlq(B, "gone", "c1", 2, "{}");
    exec_ok();
    control("gone", STORE_CONTROL_CANCELLED);
    const char *keys[] = {"meta", "state", "runs", "dlq", "dlq:e", "dlq:c", "dlq:seq"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        long long t = raw_int("TTL voxcast:{gone}:%s", keys[i]);
        ck_assert_msg(t > 40 && t <= 50, "%s ttl %lld", keys[i], t);
    }
    ck_assert_int_eq(store_campaign_ttl(S, "never"), -2);
    ck_assert_int_eq(store_campaign_ttl(S, "bad id"), -3);
    /* launched again: a complete campaign's keys stop expiring, a cancelled one's do not */
    ck_assert_int_eq(store_campaign_create(S, "d30", 1), 1);
    ck_assert_int_eq(store_campaign_ttl(S, "d30"), -1);
    ck_assert_int_eq(raw_int("TTL voxcast:{d30}:state"), -1);
    ck_assert_int_eq(store_campaign_create(S, "gone", 1), 1);
    ck_assert_int_gt(store_campaign_ttl(S, "gone"), 40);
}
END_TEST

START_TEST(test_completion_claim_counts_cancelled)
{
    /* drained while launching: the launch's claim tells the completion and starts retention */
    launched("lc", 2);
    ck_assert_int_eq(store_campaign_set(S, "lc", "launch_state", "launching"), 0);
    ck_assert_int_eq(store_campaign_set(S, "lc", "retention_s", "77"), 0);
    control("lc", STORE_CONTROL_CANCELLED);
    freeReplyObject(raw("PERSIST voxcast:{lc}:meta"));
    store_batch_reset(B);
    store_batch_done(B, "lc", "c1", 2, "espeak");
    x_op("lc", "c2", "");
    exec_ok();
    ck_assert_int_eq(completion_of("lc")->state, STORE_DRAINED_LAUNCHING);
    ck_assert_int_eq(store_campaign_set(S, "lc", "launch_state", "launched"), 0);
    ck_assert_int_eq(store_campaign_ttl(S, "lc"), -1);
    /* store_results.h: the launch claims the completion once it has finished */
    struct store_completion c;
    ck_assert_int_eq(store_completion_claim(S, "lc", &c), 0);
    ck_assert_int_eq(c.state, STORE_COMPLETED);
    ck_assert_int_eq(c.done, 1);
    ck_assert_int_eq(c.cancelled, 1);
    ck_assert_int_eq(c.enqueued, 2);
    int64_t ttl = store_campaign_ttl(S, "lc");
    ck_assert_int_gt(ttl, 70);
    ck_assert_int_le(ttl, 77);
    ck_assert_int_eq(store_completion_claim(S, "lc", &c), 2); /* told once */
}
END_TEST

/* ================================================================ set-aside jobs */

struct seen {
    char   contacts[16][16];
    size_t n, stop_after;
};

static int collect(void *ctx, const char *contact, size_t len, const char *job)
{
    struct seen *s = ctx;
    ck_assert_ptr_nonnull(strstr(job, "\"job\""));
    ck_assert_uint_lt(len, 16);
    memcpy(s->contacts[s->n], contact, len);
    s->contacts[s->n][len] = '\0';
    s->n++;
    return s->stop_after && s->n >= s->stop_after;
}

static void set_aside(const char *campaign, int n)
{
    control(campaign, STORE_CONTROL_PAUSED);
    store_batch_reset(B);
    char id[16], job[32];
    for (int i = 1; i <= n; i++) {
        snprintf(id, sizeof id, "c%d", i);
        snprintf(job, sizeof job, "{\"job\":%d}", i);
        store_batch_aside(B, campaign, id, strlen(id), job);
    }
    exec_ok();
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(store_batch_result(B, (size_t)i), STORE_OK);
}

START_TEST(test_aside_claim_release)
{
    launched("a", 5);
    set_aside("a", 5);
    control("a", STORE_CONTROL_RUNNING);
    ck_assert_int_eq(store_aside_unclaim_all(S, "a"), 0);
    struct seen seen = {0};
    ck_assert_int_eq(store_aside_claim(S, "a", 2, collect, &seen), 2);
    ck_assert_uint_eq(seen.n, 2);
    ck_assert_int_eq(raw_int("HLEN voxcast:{a}:aside"), 3);
    ck_assert_int_eq(raw_int("HLEN voxcast:{a}:aside:claimed"), 2);
    ck_assert_int_eq(info("a").aside, 5); /* claimed ones still count as set aside */
    /* the resume dies here, before Kafka acknowledged: the next one puts them back */
    ck_assert_int_eq(store_aside_unclaim_all(S, "a"), 2);
    ck_assert_int_eq(raw_int("HLEN voxcast:{a}:aside"), 5);
    ck_assert_int_eq(raw_int("EXISTS voxcast:{a}:aside:claimed"), 0);
    /* c2 got done meanwhile (its job was still in Kafka): dropped at claim */
    store_batch_reset(B);
    store_batch_done(B, "a", "c2", 2, "espeak");
    exec_ok();
    struct seen all = {0};
    ck_assert_int_eq(store_aside_claim(S, "a", 100, collect, &all), 4);
    ck_assert_uint_eq(all.n, 4);
    for (size_t i = 0; i < all.n; i++)
        ck_assert_str_ne(all.contacts[i], "c2");
    ck_assert_int_eq(store_aside_claim(S, "a", 100, collect, &all), 0);
    const char *ids[4];
    size_t lens[4];
    for (size_t i = 0; i < 4; i++) {
        ids[i] = all.contacts[i];
        lens[i] = strlen(ids[i]);
    }
    ck_assert_int_eq(store_aside_released(S, "a", ids, lens, 4), 4);
    ck_assert_int_eq(store_aside_released(S, "a", ids, NULL, 4), 0); /* idempotent */
    ck_assert_int_eq(info("a").aside, 0);
    ck_assert_int_eq(store_aside_unclaim_all(S, "a"), 0);
    assert_counts("a");
}
END_TEST

START_TEST(test_aside_claim_stops_early)
{
    launched("e", 4);
    set_aside("e", 4);
    struct seen seen = {.stop_after = 1};
    ck_assert_int_eq(store_aside_claim(S, "e", 3, collect, &seen), 3);
    ck_assert_uint_eq(seen.n, 1);
    /* the claimed-but-not-passed ones wait in aside:claimed for unclaim_all */
    ck_assert_int_eq(raw_int("HLEN voxcast:{e}:aside:claimed"), 3);
    /* a contact finished while claimed is not put back */
    store_batch_reset(B);
    store_batch_done(B, "e", seen.contacts[0], strlen(seen.contacts[0]), "espeak");
    exec_ok();
    ck_assert_int_eq(store_aside_unclaim_all(S, "e"), 2);
    ck_assert_int_eq(raw_int("HLEN voxcast:{e}:aside"), 3);
    ck_assert_int_eq(store_aside_claim(S, "e", 0, collect, &seen), 0);
    ck_assert_int_eq(store_aside_claim(S, "bad id", 1, collect, &seen), -1);
}
END_TEST

START_TEST(test_aside_claim_many)
{
    /* more than one HSCAN page and a hashtable-encoded hash */
    ck_assert_int_eq(store_campaign_create(S, "m", 1), 0);
    control("m", STORE_CONTROL_PAUSED);
    store_batch_reset(B);
    char id[16];
    for (int i = 0; i < 3000; i++) {
        snprintf(id, sizeof id, "k%d", i);
        store_batch_aside(B, "m", id, strlen(id), "{\"job\":0}");
    }
    exec_ok();
    ck_assert_int_eq(info("m").aside, 3000);
    ck_assert_int_eq(info("m").enqueued, 3000);
    int total = 0, got;
    while ((got = store_aside_claim(S, "m", 1200, NULL, NULL)) > 0) {
        ck_assert_int_le(got, 1200);
        total += got;
    }
    ck_assert_int_eq(got, 0);
    ck_assert_int_eq(total, 3000);
    ck_assert_int_eq(raw_int("HLEN voxcast:{m}:aside:claimed"), 3000);
    ck_assert_int_eq(store_aside_unclaim_all(S, "m"), 3000);
    ck_assert_int_eq(raw_int("HLEN voxcast:{m}:aside"), 3000);
}
END_TEST

/* ================================================================ delete and list */

START_TEST(test_delete)
{
    launched("del", 4);
    launched("other", 1);
    ck_assert_int_eq(store_campaign_set(S, "del", "retention_s", "100"), 0);
    ck_assert_int_eq(store_lock(S, "del", STORE_LOCK_RESUME, "t", 60000), 0);
    ck_assert_int_eq(store_lock(S, "del", STORE_LOCK_REPLAY, "t", 60000), 0);
    ck_assert_int_eq(store_lock(S, "del", STORE_LOCK_LAUNCH, "t", 60000), 0);
    store_batch_reset(B);
    store_batch_dlq(B, "del", "c1", 2, "{}");
    store_batch_done_result(B, "del", "c2", 2, "espeak", 5, "{\"ev\":1}");
    store_batch_reserve_chunk(B, "del", "run2", 1, "c9", 2);
    exec_ok();
    freeReplyObject(raw("HSET voxcast:{del}:chars espeak 100"));
    control("del", STORE_CONTROL_PAUSED);
    store_batch_reset(B);
    s_op("del", "c3", "{\"job\":3}");
    s_op("del", "c4", "{\"job\":4}");
    exec_ok();
    ck_assert_int_eq(store_aside_claim(S, "del", 1, NULL, NULL), 1);
    struct store_batch *b2 = store_batch_new(); /* a second applied:W key */
    store_batch_done(b2, "del", "c3", 2, "espeak");
    ck_assert_int_eq(store_batch_exec(S, b2), 0);
    store_batch_free(b2);
    freeReplyObject(raw("HSET voxcast:{del}:dlq:replaying del:9 {}"));
    ck_assert_int_ge(raw_int("SADD voxcast:dlq:campaigns other"), 0);

    int64_t contacts = -1, entries = -1;
    ck_assert_msg(store_campaign_delete(S, "del", &contacts, &entries) == 0, "%s", store_error(S));
    ck_assert_int_eq(contacts, 5);
    ck_assert_int_eq(entries, 1);
    redisReply *r = raw("KEYS *{del}*");
    for (size_t i = 0; i < r->elements; i++)
        ck_abort_msg("key left: %s", r->element[i]->str);
    freeReplyObject(r);
    r = raw("ZSCORE voxcast:campaigns del");
    ck_assert_int_eq(r->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
    ck_assert_int_eq(raw_int("SISMEMBER voxcast:dlq:campaigns del"), 0);
    ck_assert_int_eq(raw_int("SISMEMBER voxcast:dlq:campaigns other"), 1);
    struct campaign_info ci;
    ck_assert_int_eq(store_campaign_get(S, "del", &ci), 1);
    ck_assert_int_eq(info("other").enqueued, 1);
    ck_assert_int_eq(store_campaign_delete(S, "del", &contacts, &entries), 1);
    ck_assert_int_eq(contacts, 0);
    ck_assert_int_eq(store_campaign_delete(S, "bad id", NULL, NULL), -1);
    ck_assert_int_eq(store_campaign_delete(S, "other", NULL, NULL), 0);
    r = raw("KEYS *");
    ck_assert_uint_eq(r->elements, 0);
    freeReplyObject(r);
}
END_TEST

START_TEST(test_list_prunes_expired)
{
    launched("stay", 1);
    launched("expired", 1);
    control("stay", STORE_CONTROL_PAUSED);
    store_batch_reset(B);
    s_op("stay", "c1", "{\"job\":1}");
    x_op("expired", "c1", "");
    exec_ok();
    freeReplyObject(raw("DEL voxcast:{expired}:meta")); /* what the retention expiry does */
    struct campaign_info *list = NULL;
    size_t n = 0;
    ck_assert_int_eq(store_campaign_list(S, &list, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(list[0].id, "stay");
    ck_assert_int_eq(list[0].control, STORE_CONTROL_PAUSED);
    ck_assert_int_eq(list[0].aside, 1);
    ck_assert_int_eq(list[0].enqueued, 1);
    free(list);
    ck_assert_int_eq(raw_int("ZCARD voxcast:campaigns"), 1);
    freeReplyObject(raw("DEL voxcast:{stay}:meta"));
    ck_assert_int_eq(store_campaign_list(S, &list, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_null(list);
    ck_assert_int_eq(raw_int("ZCARD voxcast:campaigns"), 0);
}
END_TEST

START_TEST(test_list_cancelled_counts)
{
    launched("lc", 2);
    control("lc", STORE_CONTROL_CANCELLED);
    store_batch_reset(B);
    x_op("lc", "c1", "");
    exec_ok();
    struct campaign_info *list = NULL;
    size_t n = 0;
    ck_assert_int_eq(store_campaign_list(S, &list, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(list[0].cancelled, 1);
    ck_assert_int_eq(list[0].control, STORE_CONTROL_CANCELLED);
    ck_assert_int_eq(list[0].aside, 0);
    free(list);
}
END_TEST

/* ================================================================ exact retry */

START_TEST(test_retry_with_lifecycle_ops)
{
    launched("x", 3);
    launched("y", 2);
    control("x", STORE_CONTROL_CANCELLED);
    control("y", STORE_CONTROL_PAUSED);
    store_batch_reset(B);
    x_op("x", "c1", "{\"c\":1}");
    x_op("x", "c1", "");
    store_batch_done(B, "x", "c2", 2, "espeak");
    s_op("y", "c1", "{\"job\":1}");
    s_op("y", "c9", "{\"job\":9}");
    exec_ok();
    enum store_result first[5];
    for (size_t i = 0; i < 5; i++)
        first[i] = store_batch_result(B, i);
    ck_assert_int_eq(first[0], STORE_OK);
    ck_assert_int_eq(first[1], STORE_DUPLICATE);
    ck_assert_int_eq(first[2], STORE_OK);
    ck_assert_int_eq(first[3], STORE_OK);
    ck_assert_int_eq(first[4], STORE_OK);
    struct campaign_info x1 = info("x"), y1 = info("y");
    /* control moved since: a retry still answers what the batch did, and changes nothing */
    control("y", STORE_CONTROL_RUNNING);
    exec_ok();
    for (size_t i = 0; i < 5; i++)
        ck_assert_int_eq(store_batch_result(B, i), first[i]);
    struct campaign_info x2 = info("x"), y2 = info("y");
    ck_assert_int_eq(x2.cancelled, x1.cancelled);
    ck_assert_int_eq(x2.done, x1.done);
    ck_assert_int_eq(x2.duplicates, x1.duplicates);
    ck_assert_int_eq(y2.enqueued, y1.enqueued);
    ck_assert_int_eq(y2.aside, 2);
    assert_counts("x");
    assert_counts("y");
    /* a new batch sees the new control */
    store_batch_reset(B);
    s_op("y", "c2", "{\"job\":2}");
    exec_ok();
    ck_assert_int_eq(store_batch_result(B, 0), STORE_NOOP);
}
END_TEST

START_TEST(test_invalid_campaign_ops)
{
    size_t i = store_batch_cancel(B, "bad id", "c", 1, "");
    size_t j = store_batch_aside(B, "bad id", "c", 1, "{}");
    ck_assert_int_eq(store_batch_result(B, i), STORE_INVALID);
    ck_assert_int_eq(store_batch_result(B, j), STORE_INVALID);
    exec_ok();
    ck_assert_int_eq(store_batch_result(B, i), STORE_INVALID);
}
END_TEST

static Suite *store_lifecycle_suite(void)
{
    Suite *s = suite_create("store_lifecycle");
    TCase *tc = tcase_create("lifecycle");
    tcase_add_unchecked_fixture(tc, suite_up, suite_down);
    tcase_add_checked_fixture(tc, test_up, test_down);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_control_transitions);
    tcase_add_test(tc, test_controls_pipelined);
    tcase_add_test(tc, test_cancel_ops);
    tcase_add_test(tc, test_cancel_chunk_not_acked);
    tcase_add_test(tc, test_aside_ops);
    tcase_add_test(tc, test_render_raced_cancel);
    tcase_add_test(tc, test_completion_with_cancelled);
    tcase_add_test(tc, test_retention_default_and_never);
    tcase_add_test(tc, test_completion_claim_counts_cancelled);
    tcase_add_test(tc, test_aside_claim_release);
    tcase_add_test(tc, test_aside_claim_stops_early);
    tcase_add_test(tc, test_aside_claim_many);
    tcase_add_test(tc, test_delete);
    tcase_add_test(tc, test_list_prunes_expired);
    tcase_add_test(tc, test_list_cancelled_counts);
    tcase_add_test(tc, test_retry_with_lifecycle_ops);
    tcase_add_test(tc, test_invalid_campaign_ops);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(store_lifecycle_suite)
