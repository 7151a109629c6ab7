/* check_store_cache.c - render-once entries, claims and cost counters against a real
 * redis-server: a lookup claims a free sound, another token then finds it held, the holder's
 * put turns it into a hit for everyone and drops the claim; a hit that took a free claim along
 * says so; renewals and releases only touch a claim of their own token; an expired claim is taken by the next waiter; a stale entry (its
 * audio gone) is deleted by the lookup that names it, a newer one is not; of many consumers
 * looking up one sound at the same moment exactly one claims it; and the campaign's cost
 * counters read back through store_campaign_cost. Tests use keys of their own on one server. */
#include "check_main.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <string.h>

#include "check_redis.h"
#include "clock.h"
#include "store.h"
#include "store_cache.h"

static struct store *S;
static struct store_cache_batch *B;
static redisContext *R;      /* raw connection for inspection */

static void setup(void)
{
    char url[64], err[512];
    check_redis_url(url, sizeof url);
    S = store_open(url, 10000, err, sizeof err);
    ck_assert_msg(S != NULL, "store_open %s: %s (is redis-server installed?)", url, err);
    R = redisConnect("127.0.0.1", check_redis_port);
    ck_assert(R && !R->err);
    B = store_cache_batch_new();
}

static void teardown(void)
{
    store_cache_batch_free(B);
    redisFree(R);
    store_close(S);
}

static void exec_ok(void)
{
    ck_assert_msg(store_cache_exec(S, B) == 0, "exec: %s", store_error(S));
}

/* One lookup in a fresh batch; its result. */
static enum store_cache_result lookup(const char *key, const char *token, const char *stale)
{
    store_cache_batch_reset(B);
    size_t i = store_cache_lookup(B, key, token, 10000, stale);
    exec_ok();
    return store_cache_result(B, i);
}

static void put(const char *key, const char *uri, const char *token)
{
    struct store_cache_entry e = {.uri = (char *)uri, .duration_ms = 1234, .bytes = 5678};
    snprintf(e.sha256, sizeof e.sha256, "%064d", 7);
    store_cache_batch_reset(B);
    size_t i = store_cache_put(B, key, &e, 600, token);
    exec_ok();
    ck_assert_int_eq(store_cache_result(B, i), STORE_CACHE_OK);
}

static long long raw_int(const char *fmt, const char *key)
{
    redisReply *r = redisCommand(R, fmt, key);
    ck_assert(r && r->type == REDIS_REPLY_INTEGER);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

START_TEST(test_claim_then_hit)
{
    ck_assert_int_eq(lookup("v1-a", "tokA", NULL), STORE_CACHE_CLAIMED);
    ck_assert_int_eq(lookup("v1-a", "tokB", NULL), STORE_CACHE_HELD);
    ck_assert_int_eq(lookup("v1-a", "tokA", NULL), STORE_CACHE_CLAIMED);   /* ours: renewed */
    put("v1-a", "file:///audio/c1/x.wav", "tokA");
    ck_assert_int_eq(raw_int("EXISTS %s", "voxcast:cache:{v1-a}:claim"), 0);   /* released */
    long long ttl = raw_int("TTL %s", "voxcast:cache:{v1-a}");
    ck_assert(ttl > 590 && ttl <= 600);
    store_cache_batch_reset(B);
    size_t i = store_cache_lookup(B, "v1-a", "tokB", 10000, NULL);
    exec_ok();
    ck_assert_int_eq(store_cache_result(B, i), STORE_CACHE_HIT);
    const struct store_cache_entry *e = store_cache_entry(B, i);
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(e->uri, "file:///audio/c1/x.wav");
    ck_assert_int_eq(e->duration_ms, 1234);
    ck_assert_int_eq(e->bytes, 5678);
    ck_assert_int_eq(strlen(e->sha256), 64);
    /* the hit's SET NX took the free claim along: it says so, and the claim is dropped */
    ck_assert(store_cache_hit_claimed(B, i));
    ck_assert_int_eq(raw_int("EXISTS %s", "voxcast:cache:{v1-a}:claim"), 1);
    store_cache_batch_reset(B);
    size_t d = store_cache_drop_claim(B, "v1-a");
    exec_ok();
    ck_assert_int_eq(store_cache_result(B, d), STORE_CACHE_OK);
    ck_assert_int_eq(raw_int("EXISTS %s", "voxcast:cache:{v1-a}:claim"), 0);
    /* a hit while another holds the claim takes nothing */
    ck_assert_int_eq(lookup("v1-a2", "tokA", NULL), STORE_CACHE_CLAIMED);
    put("v1-a2", "file:///audio/c1/y.wav", "tokA");
    ck_assert_int_eq(lookup("v1-a2", "tokA", NULL), STORE_CACHE_HIT);   /* takes the free claim */
    ck_assert(store_cache_hit_claimed(B, 0));
    ck_assert_int_eq(lookup("v1-a2", "tokB", NULL), STORE_CACHE_HIT);   /* tokA's claim stays */
    ck_assert(!store_cache_hit_claimed(B, 0));
}
END_TEST

START_TEST(test_renew_release_only_ours)
{
    ck_assert_int_eq(lookup("v1-r", "tokA", NULL), STORE_CACHE_CLAIMED);
    store_cache_batch_reset(B);
    size_t mine = store_cache_renew(B, "v1-r", "tokA", 60000);
    size_t theirs = store_cache_renew(B, "v1-r", "tokB", 60000);
    size_t steal = store_cache_release(B, "v1-r", "tokB");
    exec_ok();
    ck_assert_int_eq(store_cache_result(B, mine), STORE_CACHE_OK);
    ck_assert_int_eq(store_cache_result(B, theirs), STORE_CACHE_NOT_OURS);
    ck_assert_int_eq(store_cache_result(B, steal), STORE_CACHE_NOT_OURS);
    ck_assert(raw_int("PTTL %s", "voxcast:cache:{v1-r}:claim") > 10000);   /* renewed to 60 s */
    store_cache_batch_reset(B);
    size_t rel = store_cache_release(B, "v1-r", "tokA");
    exec_ok();
    ck_assert_int_eq(store_cache_result(B, rel), STORE_CACHE_OK);
    ck_assert_int_eq(lookup("v1-r", "tokB", NULL), STORE_CACHE_CLAIMED);  /* free again */
    /* a put by a token that lost its claim still writes the entry, and drops the claim: every
     * lookup finds the entry first from now on */
    put("v1-r", "file:///a/late.wav", "tokA");
    ck_assert_int_eq(raw_int("EXISTS %s", "voxcast:cache:{v1-r}:claim"), 0);
    ck_assert_int_eq(lookup("v1-r", "tokC", NULL), STORE_CACHE_HIT);
}
END_TEST

/* A holder that died: its claim expires, and the next lookup of a waiter takes it. */
START_TEST(test_expired_claim_is_taken)
{
    store_cache_batch_reset(B);
    size_t i = store_cache_lookup(B, "v1-x", "dead", 50, NULL);
    exec_ok();
    ck_assert_int_eq(store_cache_result(B, i), STORE_CACHE_CLAIMED);
    ck_assert_int_eq(lookup("v1-x", "alive", NULL), STORE_CACHE_HELD);
    int64_t deadline = clock_mono_ms() + 5000;
    enum store_cache_result r = STORE_CACHE_HELD;
    while (r == STORE_CACHE_HELD && clock_mono_ms() < deadline)
        r = lookup("v1-x", "alive", NULL);
    ck_assert_int_eq(r, STORE_CACHE_CLAIMED);
}
END_TEST

START_TEST(test_stale_entry)
{
    put("v1-s", "file:///a/gone.wav", "t");
    ck_assert_int_eq(lookup("v1-s", "t2", "file:///a/other.wav"), STORE_CACHE_HIT); /* newer: kept */
    ck_assert_int_eq(lookup("v1-s", "t2", "file:///a/gone.wav"), STORE_CACHE_CLAIMED);
    ck_assert_int_eq(raw_int("EXISTS %s", "voxcast:cache:{v1-s}"), 0);
    ck_assert_int_eq(lookup("v1-s", "t3", NULL), STORE_CACHE_HELD);
}
END_TEST

START_TEST(test_invalid_ops_not_sent)
{
    store_cache_batch_reset(B);
    size_t a = store_cache_lookup(B, "v1-{x}", "t", 1000, NULL);    /* would pick a hash slot */
    size_t b = store_cache_lookup(B, "", "t", 1000, NULL);
    size_t c = store_cache_add_hits(B, "bad campaign", 1);
    struct store_cache_entry e = {.uri = NULL};
    size_t d = store_cache_put(B, "v1-ok", &e, 10, "t");             /* no uri */
    exec_ok();
    ck_assert_int_eq(store_cache_result(B, a), STORE_CACHE_INVALID);
    ck_assert_int_eq(store_cache_result(B, b), STORE_CACHE_INVALID);
    ck_assert_int_eq(store_cache_result(B, c), STORE_CACHE_INVALID);
    ck_assert_int_eq(store_cache_result(B, d), STORE_CACHE_INVALID);
    ck_assert_ptr_null(store_cache_entry(B, a));
    ck_assert_int_eq(raw_int("EXISTS %s", "voxcast:cache:{v1-ok}"), 0);
}
END_TEST

START_TEST(test_costs)
{
    struct campaign_cost c;
    ck_assert_int_eq(store_campaign_cost(S, "none", &c), 0);
    ck_assert_int_eq(c.cache_hits, 0);
    ck_assert_int_eq(c.nproviders, 0);
    store_cache_batch_reset(B);
    store_cache_add_chars(B, "cost1", "zeta", 100);
    store_cache_add_chars(B, "cost1", "alpha", 40);
    store_cache_add_chars(B, "cost1", "zeta", 5);
    store_cache_add_hits(B, "cost1", 7);
    store_cache_add_hits(B, "cost1", 3);
    store_cache_add_chars(B, "cost2", "alpha", 1);
    exec_ok();
    ck_assert_int_eq(store_campaign_cost(S, "cost1", &c), 0);
    ck_assert_int_eq(c.cache_hits, 10);
    ck_assert_int_eq(c.chars_total, 145);
    ck_assert_int_eq(c.nproviders, 2);
    ck_assert_str_eq(c.providers[0].name, "alpha");
    ck_assert_int_eq(c.providers[0].chars, 40);
    ck_assert_str_eq(c.providers[1].name, "zeta");
    ck_assert_int_eq(c.providers[1].chars, 105);
    ck_assert_int_eq(store_campaign_cost(S, "bad id!", &c), -1);
}
END_TEST

/* ---------------------------------------------------------------- a race */

#define RACERS 8

struct racer {
    pthread_barrier_t      *start;
    char                    token[16];
    enum store_cache_result result;
    int                     rc;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    char url[64], err[256];
    check_redis_url(url, sizeof url);
    struct store *s = store_open(url, 10000, err, sizeof err);
    struct store_cache_batch *b = store_cache_batch_new();
    size_t i = store_cache_lookup(b, "v1-race", r->token, 10000, NULL);
    pthread_barrier_wait(r->start);
    r->rc = s ? store_cache_exec(s, b) : -1;
    r->result = store_cache_result(b, i);
    store_cache_batch_free(b);
    store_close(s);
    return NULL;
}

/* Consumers meeting the same request at the same moment: exactly one renders it. */
START_TEST(test_one_claim_among_racers)
{
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, RACERS);
    struct racer rs[RACERS];
    pthread_t th[RACERS];
    for (int i = 0; i < RACERS; i++) {
        rs[i] = (struct racer){.start = &start};
        snprintf(rs[i].token, sizeof rs[i].token, "racer%d", i);
        ck_assert_int_eq(pthread_create(&th[i], NULL, race, &rs[i]), 0);
    }
    int claimed = 0, held = 0;
    for (int i = 0; i < RACERS; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(rs[i].rc, 0);
        claimed += rs[i].result == STORE_CACHE_CLAIMED;
        held += rs[i].result == STORE_CACHE_HELD;
    }
    pthread_barrier_destroy(&start);
    ck_assert_int_eq(claimed, 1);
    ck_assert_int_eq(held, RACERS - 1);
}
END_TEST

START_TEST(test_exec_fails_when_down)
{
    char url[64], err[256];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", check_redis_free_port());
    struct store *down = store_open(url, 0, err, sizeof err);
    ck_assert_ptr_null(down); /* nothing listens: open fails at once */
    /* a store whose server went away: the batch fails and stays pending */
    store_cache_batch_reset(B);
    size_t i = store_cache_lookup(B, "v1-d", "t", 1000, NULL);
    redisReply *r = redisCommand(R, "CLIENT KILL TYPE normal SKIPME yes");
    ck_assert_ptr_nonnull(r);
    freeReplyObject(r);
    ck_assert_int_eq(store_cache_exec(S, B), -1);
    ck_assert_int_eq(store_cache_result(B, i), STORE_CACHE_PENDING);
    exec_ok(); /* the next exec reconnects */
    ck_assert_int_eq(store_cache_result(B, i), STORE_CACHE_CLAIMED);
}
END_TEST

static Suite *store_cache_suite(void)
{
    Suite *s = suite_create("store_cache");
    TCase *tc = tcase_create("redis");
    tcase_add_unchecked_fixture(tc, check_redis_start, check_redis_stop);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_claim_then_hit);
    tcase_add_test(tc, test_renew_release_only_ours);
    tcase_add_test(tc, test_expired_claim_is_taken);
    tcase_add_test(tc, test_stale_entry);
    tcase_add_test(tc, test_invalid_ops_not_sent);
    tcase_add_test(tc, test_costs);
    tcase_add_test(tc, test_one_claim_among_racers);
    tcase_add_test(tc, test_exec_fails_when_down);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(store_cache_suite)
