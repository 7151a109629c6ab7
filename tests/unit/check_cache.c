/* check_cache.c - render once, the consumer's side (cache.h): which jobs the cache takes, keys,
 * and the protocol between consumers driven through cache_tick against a real redis-server (two
 * caches with their own tokens stand for two consumers): one render per key per consumer and
 * per fleet, its waiters turned into copies when its audio is written, a failed render handing
 * its waiters back to be rendered, a vanished copy source looked up again as stale, a dead
 * holder's claim taken over once it expires, and billed characters counted in Redis and in
 * /metrics alike; a job's variants looked up each like a job (a long variant whole, never its
 * parts), the same variant text of two jobs rendered once. Time: the polls wait on conditions with a deadline, never a fixed sleep. */
#include "check_main.h"

#include <string.h>

#include "cache.h"
#include "check_redis.h"
#include "clock.h"
#include "config.h"
#include "metrics.h"
#include "parts.h"
#include "store.h"
#include "store_cache.h"
#include "task.h"

static struct store *S;
static struct config *CFG;
static int g_seq;            /* keeps texts apart between tests sharing the server */

static void setup(void)
{
    char url[64], err[512];
    check_redis_url(url, sizeof url);
    S = store_open(url, 10000, err, sizeof err);
    ck_assert_msg(S != NULL, "store_open %s: %s (is redis-server installed?)", url, err);
    CFG = config_new();
}

static void teardown(void)
{
    config_free(CFG);
    store_close(S);
}

static void set(const char *kv)
{
    char err[256];
    ck_assert_msg(config_set_arg(CFG, kv, "test", err, sizeof err) == 0, "%s", err);
}

static struct task *job(const char *campaign, const char *contact, const char *text, const char *extra)
{
    char json[1024];
    snprintf(json, sizeof json, "{\"v\":1,\"campaign\":\"%s\",\"contact\":\"%s\",\"text\":\"%s\"%s}", campaign,
             contact, text, extra ? extra : "");
    struct task *t = task_from_message(json, strlen(json), contact, strlen(contact), 0, 0, 20000);
    ck_assert_msg(t->valid, "job: %s", t->error);
    return t;
}

static size_t count_list(struct task *t)
{
    size_t n = 0;
    for (; t; t = t->next)
        n++;
    return n;
}

/* One tick; the lists it handed back. */
static void tick(struct cache *C, struct task **render, struct task **copy)
{
    ck_assert_msg(cache_tick(C, S, clock_mono_ms(), render, copy) == 0, "tick: %s", store_error(S));
}

/* Ticks C until it hands back something (deadline 5 s). */
static void tick_until(struct cache *C, struct task **render, struct task **copy)
{
    int64_t deadline = clock_mono_ms() + 5000;
    do
        tick(C, render, copy);
    while (!*render && !*copy && clock_mono_ms() < deadline);
}

/* The leader delivered its audio: what the writer fills in. */
static void written(struct task *t, const char *uri)
{
    t->outcome = OUTCOME_DONE;
    t->file_written = true;
    t->uri = strdup(uri);
    t->duration_ms = 1500;
    t->bytes = 4242;
    snprintf(t->sha256, sizeof t->sha256, "%064d", 5);
}

static void free_list(struct task *t)
{
    for (struct task *next; t; t = next) {
        next = t->next;
        task_free(t);
    }
}

static const char *text(const char *base)
{
    static char buf[128];
    snprintf(buf, sizeof buf, "%s %d-%ld", base, ++g_seq, (long)clock_wall_ms());
    return buf;
}

START_TEST(test_applies)
{
    struct cache *C = cache_new(CFG, "tok", NULL);
    struct task *plain = job("c", "1", "Hello", NULL);
    struct task *opt_out = job("c", "2", "Hello", ",\"dedup\":false");
    ck_assert(cache_applies(C, plain));
    ck_assert(!cache_applies(C, opt_out));
    cache_free(C);
    set("cache.ttl_s=0");
    C = cache_new(CFG, "tok", NULL);
    ck_assert(!cache_applies(C, plain));
    ck_assert(!cache_admit(C, plain));
    cache_free(C);
    task_free(plain);
    task_free(opt_out);
}
END_TEST

/* A job with variants is not looked up itself; each variant child is, like a job; the parts of
 * a long variant are not (the variant is, before it is split). */
START_TEST(test_variants_apply_each)
{
    struct cache *C = cache_new(CFG, "tok", NULL);
    struct task *t = job("c", "1", "Hi Ann", ",\"variants\":[{\"name\":\"live\",\"text\":\"Hi Ann\"},"
                                             "{\"name\":\"voicemail\",\"text\":\"Call us. Back soon.\"}]");
    ck_assert(!cache_applies(C, t));
    ck_assert_uint_eq(parts_expand(t, 12), 2);
    struct task *live = t->children[0], *vm = t->children[1];
    ck_assert(cache_applies(C, live));
    ck_assert(cache_applies(C, vm));
    ck_assert_uint_eq(parts_expand(vm, 12), 2); /* "Call us." "Back soon." */
    ck_assert(cache_applies(C, vm));
    ck_assert(!cache_applies(C, vm->children[0]));
    ck_assert(!cache_applies(C, vm->children[1]));
    char k_vm[CACHEKEY_LEN + 1], k_whole[CACHEKEY_LEN + 1];
    struct task *whole = job("c", "2", "Call us. Back soon.", NULL);
    cache_task_key(vm, k_vm);
    cache_task_key(whole, k_whole);
    ck_assert_str_eq(k_vm, k_whole); /* the variant's text is its spoken request */
    task_free(whole);
    task_free(t);
    cache_free(C);
}
END_TEST

/* The voicemail variant of two contacts: one render, the other a copy of it; a variant child
 * still held when the cache is freed frees its job (no leak under the sanitizers). */
START_TEST(test_shared_variant_rendered_once)
{
    struct cache *C = cache_new(CFG, "tokV", NULL);
    const char *tx = text("voicemail");
    char extra[512];
    snprintf(extra, sizeof extra, ",\"variants\":[{\"name\":\"live\",\"text\":\"Hi\"},"
                                  "{\"name\":\"voicemail\",\"text\":\"%s\"}]", tx);
    struct task *a = job("camp", "a", "Hi", extra), *b = job("camp", "b", "Hi", extra);
    ck_assert_uint_eq(parts_expand(a, 0), 2);
    ck_assert_uint_eq(parts_expand(b, 0), 2);
    ck_assert(cache_admit(C, a->children[1]));
    ck_assert(cache_admit(C, b->children[1]));
    struct task *render, *copy;
    tick(C, &render, &copy);
    ck_assert_ptr_eq(render, a->children[1]);
    ck_assert_ptr_null(render->next);
    ck_assert_ptr_null(copy);
    written(render, "file:///audio/camp/a.voicemail.wav");
    ck_assert(!cache_collected(C, render));
    tick(C, &render, &copy);
    ck_assert_ptr_null(render);
    ck_assert_ptr_eq(copy, b->children[1]);
    ck_assert_str_eq(copy->copy_from, "file:///audio/camp/a.voicemail.wav");
    ck_assert_str_eq(copy->variant, "voicemail");
    ck_assert_ptr_eq(copy->parent, b);
    /* a third contact's voicemail waits in the cache when it is freed */
    struct task *c = job("camp", "c", "Hi", extra);
    ck_assert_uint_eq(parts_expand(c, 0), 2);
    ck_assert(cache_admit(C, c->children[1]));
    ck_assert_int_eq(cache_holding(C), 1);
    struct task *c_live = c->children[0]; /* out (the engine's): an orphan once c goes */
    cache_free(C); /* frees c->children[1], and c with it */
    ck_assert(c_live->orphan);
    task_free(c_live);
    task_free(a);
    task_free(b);
}
END_TEST

START_TEST(test_key_is_the_spoken_request)
{
    char a[CACHEKEY_LEN + 1], b[CACHEKEY_LEN + 1], c[CACHEKEY_LEN + 1], d[CACHEKEY_LEN + 1];
    struct task *t1 = job("c1", "1", "Hi", ",\"voice\":\"alloy\"");
    struct task *t2 = job("c2", "2", "Hi", ",\"voice\":\"alloy\"");       /* other campaign, contact */
    struct task *t3 = job("c1", "3", "Hi", ",\"voice\":\"nova\"");
    struct task *t4 = job("c1", "4", "Hi", ",\"voice\":\"alloy\",\"format\":\"mp3\"");
    cache_task_key(t1, a);
    cache_task_key(t2, b);
    cache_task_key(t3, c);
    cache_task_key(t4, d);
    ck_assert_str_eq(a, b);
    ck_assert_str_ne(a, c);
    ck_assert_str_ne(a, d);
    task_free(t1);
    task_free(t2);
    task_free(t3);
    task_free(t4);
}
END_TEST

/* One consumer, three contacts of one text: one render, the two others copies of it. */
START_TEST(test_one_render_per_key_here)
{
    struct cache *C = cache_new(CFG, "tokL", NULL);
    const char *tx = text("local");
    for (int i = 0; i < 3; i++) {
        char contact[8];
        snprintf(contact, sizeof contact, "c%d", i);
        ck_assert(cache_admit(C, job("camp", contact, tx, NULL)));
    }
    ck_assert_int_eq(cache_holding(C), 3);
    struct task *render, *copy;
    tick(C, &render, &copy);
    ck_assert_int_eq(count_list(render), 1);
    ck_assert_ptr_null(copy);
    ck_assert_int_eq(cache_holding(C), 2);
    struct task *leader = render;
    written(leader, "file:///audio/camp/c0.wav");
    ck_assert(!cache_collected(C, leader));
    tick(C, &render, &copy);
    ck_assert_ptr_null(render);
    ck_assert_int_eq(count_list(copy), 2);
    for (struct task *t = copy; t; t = t->next) {
        ck_assert_str_eq(t->copy_from, "file:///audio/camp/c0.wav");
        ck_assert_int_eq(t->duration_ms, 1500);
        ck_assert_int_eq(t->bytes, 4242);
        ck_assert_int_eq(t->outcome, OUTCOME_DONE);
        ck_assert_str_eq(t->provider, "cache");
    }
    /* a later contact of the same text: a hit straight from Redis */
    ck_assert(cache_admit(C, job("camp", "c9", tx, NULL)));
    struct task *copy2;
    tick(C, &render, &copy2);
    ck_assert_int_eq(count_list(copy2), 1);
    ck_assert_str_eq(copy2->copy_from, "file:///audio/camp/c0.wav");
    free_list(copy);
    free_list(copy2);
    task_free(leader);
    cache_free(C);
}
END_TEST

/* Two consumers: one renders, the other waits and copies. */
START_TEST(test_two_consumers_one_render)
{
    struct cache *A = cache_new(CFG, "tokA", NULL), *B = cache_new(CFG, "tokB", NULL);
    const char *tx = text("fleet");
    cache_admit(A, job("camp", "a1", tx, NULL));
    cache_admit(B, job("camp", "b1", tx, NULL));
    struct task *ra, *ca, *rb, *cb;
    tick(A, &ra, &ca);
    tick(B, &rb, &cb);
    ck_assert_int_eq(count_list(ra), 1);
    ck_assert_ptr_null(rb);
    ck_assert_ptr_null(cb);
    ck_assert_int_eq(cache_holding(B), 1);
    written(ra, "file:///audio/camp/a1.wav");
    cache_collected(A, ra);
    ck_assert_int_eq(cache_flush(A, S), 0); /* the entry goes out */
    tick_until(B, &rb, &cb);
    ck_assert_ptr_null(rb);
    ck_assert_int_eq(count_list(cb), 1);
    ck_assert_str_eq(cb->copy_from, "file:///audio/camp/a1.wav");
    task_free(ra);
    free_list(cb);
    cache_free(A);
    cache_free(B);
}
END_TEST

/* The render failed: its waiters here render each on its own, and the fleet's claim is free. */
START_TEST(test_failed_render_hands_back)
{
    struct cache *A = cache_new(CFG, "tokF", NULL), *B = cache_new(CFG, "tokG", NULL);
    const char *tx = text("fails");
    cache_admit(A, job("camp", "f1", tx, NULL));
    cache_admit(A, job("camp", "f2", tx, NULL));
    cache_admit(B, job("camp", "g1", tx, NULL));
    struct task *r, *c, *rb, *cb;
    tick(A, &r, &c);
    tick(B, &rb, &cb);
    ck_assert_int_eq(count_list(r), 1);
    ck_assert_ptr_null(rb);
    task_set_dlq(r, "non_retryable", "bad text");
    cache_forget(A, r);
    task_free(r);
    struct task *r2;
    tick(A, &r2, &c);
    ck_assert_int_eq(count_list(r2), 1); /* f2, rendered on its own */
    ck_assert_int_eq(cache_flush(A, S), 0); /* the release */
    ck_assert_ptr_null(r2->cache);
    tick_until(B, &rb, &cb);             /* g1 claims it in turn */
    ck_assert_int_eq(count_list(rb), 1);
    ck_assert_ptr_nonnull(rb->cache);
    free_list(r2);
    cache_forget(B, rb);
    free_list(rb);
    cache_free(A);
    cache_free(B);
}
END_TEST

/* A copy whose source vanished is looked up again naming it stale: the entry goes, it renders. */
START_TEST(test_vanished_source_rendered_again)
{
    struct cache *A = cache_new(CFG, "tokV", NULL);
    const char *tx = text("vanish");
    cache_admit(A, job("camp", "v1", tx, NULL));
    struct task *r, *c;
    tick(A, &r, &c);
    written(r, "file:///audio/camp/v1.wav");
    cache_collected(A, r);
    cache_admit(A, job("camp", "v2", tx, NULL));
    struct task *none;
    tick(A, &none, &c);
    ck_assert_ptr_null(none);
    ck_assert_int_eq(count_list(c), 1);
    c->copy_gone = true;   /* the writer found the source gone */
    ck_assert(cache_collected(A, c));
    struct task *r2, *c2;
    tick(A, &r2, &c2);
    ck_assert_ptr_null(c2);
    ck_assert_int_eq(count_list(r2), 1);
    ck_assert_ptr_null(r2->copy_from);
    ck_assert_int_eq(r2->outcome, OUTCOME_NONE);
    task_free(r);
    cache_forget(A, r2);
    task_free(r2);
    cache_free(A);
}
END_TEST

/* A holder that dies keeps its claim until it expires; then a waiter renders. */
START_TEST(test_dead_holder_claim_expires)
{
    set("cache.claim_ttl_ms=200");
    struct cache *dead = cache_new(CFG, "tokDead", NULL), *B = cache_new(CFG, "tokB2", NULL);
    const char *tx = text("dead");
    cache_admit(dead, job("camp", "d1", tx, NULL));
    cache_admit(B, job("camp", "b1", tx, NULL));
    struct task *r, *c, *rb, *cb;
    tick(dead, &r, &c);
    ck_assert_int_eq(count_list(r), 1);
    task_free(r);
    cache_free(dead); /* killed: no release, no renewal */
    tick(B, &rb, &cb);
    ck_assert_ptr_null(rb);
    int64_t t0 = clock_mono_ms();
    tick_until(B, &rb, &cb);
    ck_assert_int_eq(count_list(rb), 1);
    ck_assert(clock_mono_ms() - t0 >= 100); /* not before the claim expired */
    cache_forget(B, rb);
    free_list(rb);
    cache_free(B);
}
END_TEST

/* A claim is renewed while its render lasts longer than the claim. */
START_TEST(test_claim_renewed)
{
    set("cache.claim_ttl_ms=150");
    struct cache *A = cache_new(CFG, "tokR", NULL), *B = cache_new(CFG, "tokR2", NULL);
    const char *tx = text("renew");
    cache_admit(A, job("camp", "r1", tx, NULL));
    cache_admit(B, job("camp", "r2", tx, NULL));
    struct task *r, *c, *rb, *cb;
    tick(A, &r, &c);
    ck_assert_int_eq(count_list(r), 1);
    int64_t until = clock_mono_ms() + 600; /* four claim lifetimes, A ticking all along */
    while (clock_mono_ms() < until) {
        struct task *x, *y;
        tick(A, &x, &y);
        tick(B, &rb, &cb);
        ck_assert_ptr_null(rb);
        ck_assert_ptr_null(cb);
    }
    cache_forget(A, r);
    task_free(r);
    cache_free(A);
    cache_free(B);
}
END_TEST

/* A key held elsewhere is looked up again after 50 ms, then 100, 200, 400, 400: no faster. */
START_TEST(test_waiting_polls_back_off)
{
    struct cache *A = cache_new(CFG, "tokP", NULL), *B = cache_new(CFG, "tokQ", NULL);
    const char *tx = text("backoff");
    cache_admit(A, job("camp", "p1", tx, NULL));
    cache_admit(B, job("camp", "q1", tx, NULL));
    struct task *r, *c, *rb, *cb;
    tick(A, &r, &c);
    ck_assert_int_eq(count_list(r), 1);
    const int64_t want[] = {50, 100, 200, 400, 400};
    int64_t now = clock_mono_ms(); /* B's clock, passed in: the waits are counted exactly */
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        ck_assert_int_eq(cache_tick(B, S, now, &rb, &cb), 0); /* a lookup: HELD */
        ck_assert_ptr_null(rb);
        ck_assert_ptr_null(cb);
        ck_assert_int_eq(cache_timeout(B, now, 10000), want[i]);
        ck_assert(!cache_due(B, now + want[i] - 1));
        now += want[i];
        ck_assert(cache_due(B, now));
    }
    cache_forget(A, r);
    task_free(r);
    cache_free(A);
    cache_free(B);
}
END_TEST

START_TEST(test_billed_characters)
{
    const char *names[] = {"primary", "backup"};
    struct metrics *m = metrics_new(names, 2);
    struct cache *A = cache_new(CFG, "tokB", m);
    struct task *t = job("billed", "1", "h\\u00e9llo", NULL); /* 5 characters, 6 bytes */
    cache_billed(A, t, 1, "backup");
    cache_billed(A, t, 1, "backup");
    cache_billed(A, t, 0, "primary");
    struct task *r, *c;
    struct campaign_cost cost;
    tick(A, &r, &c); /* counts alone wait for a round trip that goes anyway, 25 ms at most */
    ck_assert_int_eq(store_campaign_cost(S, "billed", &cost), 0);
    ck_assert_int_eq(cost.chars_total, 0);
    int64_t deadline = clock_mono_ms() + 5000;
    while (cost.chars_total == 0 && clock_mono_ms() < deadline) {
        tick(A, &r, &c);
        ck_assert_int_eq(store_campaign_cost(S, "billed", &cost), 0);
    }
    ck_assert_int_eq(cost.chars_total, 15);
    ck_assert_int_eq(cost.nproviders, 2);
    ck_assert_str_eq(cost.providers[0].name, "backup");
    ck_assert_int_eq(cost.providers[0].chars, 10);
    struct buf out = {0};
    metrics_render(m, &out);
    ck_assert_ptr_nonnull(strstr(out.data, "voxcast_provider_characters_total{provider=\"backup\"} 10\n"));
    ck_assert_ptr_nonnull(strstr(out.data, "voxcast_provider_characters_total{provider=\"primary\"} 5\n"));
    ck_assert_ptr_nonnull(strstr(out.data, "voxcast_cache_hits_total 0\n"));
    buf_free(&out);
    tick(A, &r, &c); /* counted once: nothing left to send */
    ck_assert_int_eq(store_campaign_cost(S, "billed", &cost), 0);
    ck_assert_int_eq(cost.chars_total, 15);
    task_free(t);
    cache_free(A);
    metrics_free(m);
}
END_TEST

static Suite *cache_suite(void)
{
    Suite *s = suite_create("cache");
    TCase *tc = tcase_create("redis");
    tcase_add_unchecked_fixture(tc, check_redis_start, check_redis_stop);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_applies);
    tcase_add_test(tc, test_variants_apply_each);
    tcase_add_test(tc, test_shared_variant_rendered_once);
    tcase_add_test(tc, test_key_is_the_spoken_request);
    tcase_add_test(tc, test_one_render_per_key_here);
    tcase_add_test(tc, test_two_consumers_one_render);
    tcase_add_test(tc, test_failed_render_hands_back);
    tcase_add_test(tc, test_vanished_source_rendered_again);
    tcase_add_test(tc, test_dead_holder_claim_expires);
    tcase_add_test(tc, test_claim_renewed);
    tcase_add_test(tc, test_waiting_polls_back_off);
    tcase_add_test(tc, test_billed_characters);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(cache_suite)
