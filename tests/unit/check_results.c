/* check_results.c - the results stream's events: the exact bytes of a done, a dlq, a cancelled
 * and a campaign_complete event (the contract's field order), JSON that survives any contact id,
 * determinism (a rebuilt event equals the one Redis keeps in the outbox), the completion text
 * the store scripts write, and a disabled stream. The Kafka side is in t_results.sh. */
#include "check_main.h"

#include <jansson.h>
#include <string.h>

#include "../../common/clock.h"
#include "../../common/config.h"
#include "../../consumer/results.h"

#define AT_MS 1795000000123LL /* 2026-11-18T... : any fixed instant */

static struct task *job_task(const char *job_json)
{
    struct task *t = task_from_message(job_json, strlen(job_json), "k", 1, 0, 7, 0);
    ck_assert_ptr_nonnull(t);
    ck_assert(t->valid);
    return t;
}

static char *event_of(const struct task *t)
{
    struct buf b = {0};
    results_event(&b, t, AT_MS);
    return buf_steal(&b);
}

static void set_done(struct task *t)
{
    t->outcome = OUTCOME_DONE;
    snprintf(t->provider, sizeof t->provider, "primary");
    t->uri = strdup("file:///var/voxcast/spring/c1.wav");
    t->duration_ms = 1234;
    t->bytes = 19788;
    memset(t->sha256, 'a', 64);
    t->sha256[64] = '\0';
    t->attempts = 2;
}

START_TEST(test_done_event_exact)
{
    struct task *t = job_task("{\"v\":1,\"campaign\":\"spring\",\"contact\":\"c1\",\"text\":\"hi\","
                              "\"format\":\"ulaw_8000\",\"meta\":{\"order\":\"A1\",\"n\":3},\"replay\":1}");
    set_done(t);
    char at[32];
    clock_iso8601(AT_MS, at);
    char want[1024];
    snprintf(want, sizeof want,
             "{\"v\":1,\"campaign\":\"spring\",\"contact\":\"c1\",\"outcome\":\"done\","
             "\"uri\":\"file:///var/voxcast/spring/c1.wav\",\"format\":\"ulaw_8000\",\"duration_ms\":1234,"
             "\"bytes\":19788,\"sha256\":\"%s\",\"provider\":\"primary\",\"attempts\":2,\"replay\":1,"
             "\"finished_at\":\"%s\",\"meta\":{\"order\":\"A1\",\"n\":3}}",
             t->sha256, at);
    char *got = event_of(t);
    ck_assert_str_eq(got, want);
    free(got);
    task_free(t);
}
END_TEST

START_TEST(test_dlq_event_exact)
{
    struct task *t = job_task("{\"v\":1,\"campaign\":\"spring\",\"contact\":\"c2\",\"text\":\"hi\"}");
    snprintf(t->provider, sizeof t->provider, "secondary");
    t->http_status = 400;
    t->attempts = 1;
    task_set_dlq(t, "non_retryable", "bad input");
    char at[32];
    clock_iso8601(AT_MS, at);
    char want[1024];
    snprintf(want, sizeof want,
             "{\"v\":1,\"campaign\":\"spring\",\"contact\":\"c2\",\"outcome\":\"dlq\",\"uri\":null,"
             "\"format\":\"wav\",\"duration_ms\":0,\"bytes\":0,\"sha256\":null,\"provider\":\"secondary\","
             "\"attempts\":1,\"replay\":0,\"finished_at\":\"%s\",\"meta\":{},\"reason\":\"non_retryable\","
             "\"http_status\":400}",
             at);
    char *got = event_of(t);
    ck_assert_str_eq(got, want);
    free(got);
    task_free(t);
}
END_TEST

/* A contact whose campaign was cancelled before it was rendered: "cancelled", no audio, and none
 * of the DLQ's fields (reason, http_status), even when an attempt had failed before. */
START_TEST(test_cancelled_event_exact)
{
    struct task *t = job_task("{\"v\":1,\"campaign\":\"spring\",\"contact\":\"c3\",\"text\":\"hi\"}");
    snprintf(t->provider, sizeof t->provider, "primary");
    t->http_status = 503;
    t->attempts = 1;
    t->outcome = OUTCOME_CANCELLED;
    char at[32];
    clock_iso8601(AT_MS, at);
    char want[1024];
    snprintf(want, sizeof want,
             "{\"v\":1,\"campaign\":\"spring\",\"contact\":\"c3\",\"outcome\":\"cancelled\",\"uri\":null,"
             "\"format\":\"wav\",\"duration_ms\":0,\"bytes\":0,\"sha256\":null,\"provider\":\"primary\","
             "\"attempts\":1,\"replay\":0,\"finished_at\":\"%s\",\"meta\":{}}",
             at);
    char *got = event_of(t);
    ck_assert_str_eq(got, want);
    free(got);
    task_free(t);
}
END_TEST

/* A transport failure has no HTTP status: null, not 0; a done task not yet given its delivered
 * fields (uri NULL, sha256 "") says null rather than an empty string. */
START_TEST(test_nulls)
{
    struct task *t = job_task("{\"v\":1,\"campaign\":\"s\",\"contact\":\"c\",\"text\":\"hi\"}");
    task_set_dlq(t, "retry_exhausted", NULL);
    char *got = event_of(t);
    json_t *o = json_loads(got, 0, NULL);
    ck_assert_ptr_nonnull(o);
    ck_assert(json_is_null(json_object_get(o, "http_status")));
    ck_assert(json_is_null(json_object_get(o, "provider")));
    json_decref(o);
    free(got);
    task_free(t);

    t = job_task("{\"v\":1,\"campaign\":\"s\",\"contact\":\"c\",\"text\":\"hi\"}");
    t->outcome = OUTCOME_DONE;
    got = event_of(t);
    o = json_loads(got, 0, NULL);
    ck_assert(json_is_null(json_object_get(o, "uri")));
    ck_assert(json_is_null(json_object_get(o, "sha256")));
    ck_assert_int_eq(json_integer_value(json_object_get(o, "duration_ms")), 0);
    ck_assert_ptr_null(json_object_get(o, "reason"));
    json_decref(o);
    free(got);
    task_free(t);
}
END_TEST

/* Contact ids and meta values are the user's: quotes, backslashes and non-ASCII must come out
 * as valid JSON carrying the same strings. */
START_TEST(test_escaping)
{
    struct task *t = job_task("{\"v\":1,\"campaign\":\"s\",\"contact\":\"a\\\"b\\\\c é\",\"text\":\"hi\","
                              "\"meta\":{\"q\":\"x\\\"y\\n\"}}");
    set_done(t);
    char *got = event_of(t);
    json_error_t e;
    json_t *o = json_loads(got, 0, &e);
    ck_assert_msg(o != NULL, "%s: %s", got, e.text);
    ck_assert_str_eq(json_string_value(json_object_get(o, "contact")), "a\"b\\c é");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(o, "meta"), "q")), "x\"y\n");
    json_decref(o);
    free(got);
    task_free(t);
}
END_TEST

/* The engine rebuilds the event it put in the outbox after Redis answered: same task, same time,
 * same bytes; another time is another event. */
START_TEST(test_deterministic)
{
    struct task *t = job_task("{\"v\":1,\"campaign\":\"s\",\"contact\":\"c\",\"text\":\"hi\",\"meta\":{\"b\":1,\"a\":2}}");
    set_done(t);
    char *a = event_of(t), *b = event_of(t);
    ck_assert_str_eq(a, b);
    struct buf later = {0};
    results_event(&later, t, AT_MS + 1);
    ck_assert_str_ne(a, later.data);
    buf_free(&later);
    free(a);
    free(b);
    task_free(t);
}
END_TEST

START_TEST(test_completion_event_exact)
{
    struct store_completion c;
    ck_assert_int_eq(store_completion_parse("spring", "300 3 303 451200 1795000000123", &c), 0);
    ck_assert_int_eq(c.state, STORE_COMPLETED);
    struct buf b = {0};
    results_completion_event(&b, &c);
    char at[32], want[512];
    clock_iso8601(AT_MS, at);
    snprintf(want, sizeof want,
             "{\"v\":1,\"campaign\":\"spring\",\"outcome\":\"campaign_complete\",\"done\":300,\"dlq\":3,"
             "\"enqueued\":303,\"audio_ms\":451200,\"finished_at\":\"%s\"}",
             at);
    ck_assert_str_eq(b.data, want);
    buf_free(&b);
}
END_TEST

START_TEST(test_completion_parse_rejects)
{
    struct store_completion c;
    ck_assert_int_eq(store_completion_parse("s", "", &c), -1);
    ck_assert_int_eq(store_completion_parse("s", "1 2 3 4", &c), -1); /* no time */
    ck_assert_int_eq(store_completion_parse("s", "x 2 3 4 5", &c), -1);
}
END_TEST

START_TEST(test_disabled)
{
    struct config *cfg = config_new();
    char err[256];
    ck_assert_int_eq(config_set(cfg, "results.topic", "", "test", err, sizeof err), 0);
    err[0] = 'x';
    ck_assert_ptr_null(results_new(cfg, -1, NULL, NULL, err, sizeof err));
    ck_assert_str_eq(err, "");                  /* disabled is not an error */
    ck_assert_uint_eq(results_in_flight(NULL), 0);
    ck_assert(results_next_due_ms(NULL) == INT64_MAX);
    results_free(NULL, NULL);
    config_free(cfg);
}
END_TEST

static Suite *results_suite(void)
{
    Suite *s = suite_create("results");
    TCase *tc = tcase_create("events");
    tcase_add_test(tc, test_done_event_exact);
    tcase_add_test(tc, test_dlq_event_exact);
    tcase_add_test(tc, test_cancelled_event_exact);
    tcase_add_test(tc, test_nulls);
    tcase_add_test(tc, test_escaping);
    tcase_add_test(tc, test_deterministic);
    tcase_add_test(tc, test_completion_event_exact);
    tcase_add_test(tc, test_completion_parse_rejects);
    tcase_add_test(tc, test_disabled);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(results_suite)
