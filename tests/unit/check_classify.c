/* check_classify.c - every status the design names, every transport failure, and the tables.
 *
 * The expectations are written out as a table here, independently of the code's tables, so a
 * changed row in classify.c fails a test instead of silently changing behaviour. */
#include "check_main.h"

#include <string.h>

#include "buf.h"
#include "../../consumer/classify.h"

struct expect {
    long               status;
    bool               audio;
    enum outcome_class cls;
};

static const struct expect cases[] = {
    { 200, true, CLASS_OK },          { 200, false, CLASS_RETRY },
    { 201, true, CLASS_OK },          { 204, false, CLASS_RETRY },
    { 206, true, CLASS_OK },          { 299, false, CLASS_RETRY },
    { 100, false, CLASS_RETRY },      { 101, true, CLASS_RETRY },
    { 199, false, CLASS_RETRY },
    { 300, false, CLASS_RETRY },      { 301, false, CLASS_RETRY },
    { 302, true, CLASS_RETRY },       { 304, false, CLASS_RETRY },
    { 400, false, CLASS_CONTACT },    { 400, true, CLASS_CONTACT },
    { 401, false, CLASS_PROVIDER },   { 401, true, CLASS_PROVIDER },
    { 402, false, CLASS_PROVIDER },
    { 403, false, CLASS_PROVIDER },   { 403, true, CLASS_PROVIDER },
    { 404, false, CLASS_PROVIDER },   { 405, false, CLASS_CONTACT },
    { 408, false, CLASS_RETRY },      { 408, true, CLASS_RETRY },
    { 409, false, CLASS_RETRY },      { 410, false, CLASS_CONTACT },
    { 413, false, CLASS_SKIP },       { 415, false, CLASS_CONTACT },
    { 422, false, CLASS_CONTACT },    { 422, true, CLASS_CONTACT },
    { 429, false, CLASS_THROTTLED },  { 429, true, CLASS_THROTTLED },
    { 451, false, CLASS_CONTACT },    { 499, false, CLASS_CONTACT },
    { 500, false, CLASS_RETRY },      { 500, true, CLASS_RETRY },
    { 502, false, CLASS_RETRY },      { 503, false, CLASS_RETRY },
    { 504, false, CLASS_RETRY },      { 599, false, CLASS_RETRY },
    { 0, false, CLASS_RETRY },        { 0, true, CLASS_RETRY },
    { -1, false, CLASS_RETRY },       { 99, true, CLASS_RETRY },
    { 600, true, CLASS_RETRY },       { 999, false, CLASS_RETRY },
    { 2000, true, CLASS_RETRY },      { 20, true, CLASS_RETRY },
};

START_TEST(test_status_table)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct expect *e = &cases[i];
        enum outcome_class got = classify_response(TRANSPORT_OK, e->status, e->audio);
        ck_assert_msg(got == e->cls, "status %ld audio %d: got %s want %s", e->status, e->audio,
                      classify_name(got), classify_name(e->cls));
    }
}
END_TEST

START_TEST(test_transport_failures_retry)
{
    static const enum transport_result fails[] = {
        TRANSPORT_CONNECT, TRANSPORT_TIMEOUT, TRANSPORT_RESET, TRANSPORT_OTHER,
    };
    static const long statuses[] = { 0, 200, 400, 401, 429, 500 };
    for (size_t i = 0; i < sizeof fails / sizeof fails[0]; i++)
        for (size_t j = 0; j < sizeof statuses / sizeof statuses[0]; j++)
            for (int audio = 0; audio < 2; audio++)
                ck_assert_int_eq(classify_response(fails[i], statuses[j], audio), CLASS_RETRY);
}
END_TEST

START_TEST(test_every_status_in_range)
{
    /* Sweep 100..599: only 2xx+audio is OK, and every class agrees with its hundred unless the
     * status is one of the named exceptions. */
    for (long s = 100; s <= 599; s++) {
        enum outcome_class with = classify_response(TRANSPORT_OK, s, true);
        enum outcome_class without = classify_response(TRANSPORT_OK, s, false);
        ck_assert(without != CLASS_OK);
        if (s / 100 == 2) {
            ck_assert(with == CLASS_OK && without == CLASS_RETRY);
            continue;
        }
        ck_assert(with == without);     /* audio matters only for 2xx */
        if (s == 401 || s == 402 || s == 403 || s == 404)
            ck_assert(with == CLASS_PROVIDER);
        else if (s == 413)
            ck_assert(with == CLASS_SKIP);
        else if (s == 429)
            ck_assert(with == CLASS_THROTTLED);
        else if (s == 408 || s == 409 || s / 100 != 4)
            ck_assert(with == CLASS_RETRY);
        else
            ck_assert(with == CLASS_CONTACT);
    }
}
END_TEST

START_TEST(test_breaker_verdicts)
{
    ck_assert_int_eq(classify_breaker_verdict(CLASS_OK), BREAKER_SUCCESS);
    ck_assert_int_eq(classify_breaker_verdict(CLASS_RETRY), BREAKER_FAILURE);
    ck_assert_int_eq(classify_breaker_verdict(CLASS_THROTTLED), BREAKER_NEUTRAL);
    ck_assert_int_eq(classify_breaker_verdict(CLASS_CONTACT), BREAKER_SUCCESS);
    ck_assert_int_eq(classify_breaker_verdict(CLASS_PROVIDER), BREAKER_FAILURE);
    ck_assert_int_eq(classify_breaker_verdict(CLASS_SKIP), BREAKER_SUCCESS);   /* it answered */
    ck_assert_int_eq(classify_breaker_verdict((enum outcome_class)42), BREAKER_FAILURE);
}
END_TEST

START_TEST(test_retryable)
{
    ck_assert(!classify_retryable(CLASS_OK));
    ck_assert(classify_retryable(CLASS_RETRY));
    ck_assert(classify_retryable(CLASS_THROTTLED));
    ck_assert(!classify_retryable(CLASS_CONTACT));
    ck_assert(!classify_retryable(CLASS_PROVIDER));
    ck_assert(!classify_retryable(CLASS_SKIP));
    ck_assert(!classify_retryable((enum outcome_class)-1));
}
END_TEST

START_TEST(test_names)
{
    ck_assert_str_eq(classify_name(CLASS_OK), "ok");
    ck_assert_str_eq(classify_name(CLASS_RETRY), "retry");
    ck_assert_str_eq(classify_name(CLASS_THROTTLED), "throttled");
    ck_assert_str_eq(classify_name(CLASS_CONTACT), "contact");
    ck_assert_str_eq(classify_name(CLASS_PROVIDER), "provider");
    ck_assert_str_eq(classify_name(CLASS_SKIP), "skip");
    ck_assert_str_eq(classify_name((enum outcome_class)6), "unknown");
}
END_TEST

START_TEST(test_throttle_path_keeps_breaker_closed)
{
    /* End to end with the breaker: a storm of 429s never opens it, five 503s do. */
    struct breaker b;
    struct breaker_config cfg = {
        .failure_threshold = 5, .open_ms = 1000, .half_open_successes = 1,
    };
    breaker_init(&b, &cfg);
    for (int i = 0; i < 50; i++) {
        ck_assert(breaker_allow(&b, i));
        enum outcome_class c = classify_response(TRANSPORT_OK, 429, false);
        breaker_record(&b, classify_breaker_verdict(c), i);
    }
    ck_assert_int_eq(b.state, BREAKER_CLOSED);
    for (int i = 0; i < 5; i++) {
        ck_assert(breaker_allow(&b, 100));
        enum outcome_class c = classify_response(TRANSPORT_OK, 503, false);
        breaker_record(&b, classify_breaker_verdict(c), 100);
    }
    ck_assert_int_eq(b.state, BREAKER_OPEN);
}
END_TEST

/* ---- error bodies ---- */

static struct classify_error parsed(const char *body, int want_rc)
{
    struct classify_error e;
    memset(&e, 'x', sizeof e);
    ck_assert_int_eq(classify_error_parse(body, body ? strlen(body) : 0, &e), want_rc);
    return e;
}

START_TEST(test_parse_shapes)
{
    /* OpenAI: {"error":{...}}, code null */
    struct classify_error e = parsed("{\"error\":{\"message\":\"Invalid URL (POST /v1/x)\",\"type\":"
                                     "\"invalid_request_error\",\"param\":null,\"code\":null}}", 0);
    ck_assert_str_eq(e.code, "");
    ck_assert_str_eq(e.type, "invalid_request_error");
    ck_assert_str_eq(e.param, "");
    ck_assert_str_eq(e.message, "Invalid URL (POST /v1/x)");
    /* ElevenLabs: status is the code */
    e = parsed("{\"detail\":{\"status\":\"voice_not_found\",\"message\":\"A voice with the voice_id "
               "alloy was not found.\"}}", 0);
    ck_assert_str_eq(e.code, "voice_not_found");
    ck_assert_str_eq(e.message, "A voice with the voice_id alloy was not found.");
    /* ElevenLabs, newer: code wins over status */
    e = parsed("{\"detail\":{\"type\":\"payment_required\",\"code\":\"paid_plan_required\","
               "\"message\":\"m\",\"status\":\"payment_required\",\"request_id\":\"r\"}}", 0);
    ck_assert_str_eq(e.code, "paid_plan_required");
    ck_assert_str_eq(e.status, "payment_required");
    ck_assert_str_eq(e.type, "payment_required");
    /* Kokoro-FastAPI: error is the code */
    e = parsed("{\"detail\":{\"error\":\"invalid_model\",\"message\":\"Unsupported model: x\","
               "\"type\":\"invalid_request_error\"}}", 0);
    ck_assert_str_eq(e.code, "invalid_model");
    ck_assert_str_eq(e.type, "invalid_request_error");
    /* FastAPI validation list: the first item; param = last of loc */
    e = parsed("{\"detail\":[{\"loc\":[\"body\",\"model_id\"],\"msg\":\"field required\","
               "\"type\":\"value_error.missing\"},{\"loc\":[\"body\",\"text\"]}]}", 0);
    ck_assert_str_eq(e.code, "value_error.missing");
    ck_assert_str_eq(e.param, "model_id");
    ck_assert_str_eq(e.message, "field required");
    e = parsed("{\"detail\":\"Not Found\"}", 0);
    ck_assert_str_eq(e.message, "Not Found");
    ck_assert_str_eq(e.code, "");
    /* integer codes are written out */
    e = parsed("{\"error\":{\"code\":1039,\"message\":\"m\"}}", 0);
    ck_assert_str_eq(e.code, "1039");
    /* not an error shape: all empty */
    static const char *const junk[] = {"<html>404</html>", "", "{", "[1,2]", "{\"error\":\"nope\"}",
                                       "{\"detail\":42}", "RIFF\x01\x02"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        e = parsed(junk[i], -1);
        ck_assert_str_eq(e.code, "");
        ck_assert_str_eq(e.message, "");
    }
    e = parsed(NULL, -1);
}
END_TEST

START_TEST(test_parse_cuts_and_cleans)
{
    /* a long message is cut before a whole character; control characters become spaces */
    struct buf b = {0};
    buf_puts(&b, "{\"error\":{\"message\":\"line1\\nline2 ");
    for (int i = 0; i < 150; i++)
        buf_puts(&b, "\u00e9");   /* 2 bytes each in UTF-8 */
    buf_puts(&b, "\"}}");
    struct classify_error e;
    ck_assert_int_eq(classify_error_parse(b.data, b.len, &e), 0);
    ck_assert_uint_lt(strlen(e.message), CLASSIFY_MESSAGE_MAX);
    ck_assert(strncmp(e.message, "line1 line2 ", 12) == 0);
    ck_assert_uint_eq((strlen(e.message) - 12) % 2, 0);   /* no half of an é */
    buf_free(&b);
}
END_TEST

static const struct classify_rule rules[] = {
    { 0, "voice_not_found", NULL, NULL, NULL, CLASS_PROVIDER, CAUSE_VOICE, "t" },
    { 400, NULL, NULL, NULL, "TOO LONG", CLASS_SKIP, CAUSE_TOO_LONG, "t" },
    { 0, NULL, NULL, "text", NULL, CLASS_CONTACT, CAUSE_NONE, "t" },
    { 0, NULL, NULL, "*", NULL, CLASS_PROVIDER, CAUSE_FIELD, "t" },
    { 200, NULL, NULL, NULL, NULL, CLASS_OK, CAUSE_NONE, "t" },     /* never applied */
};
#define NRULES (sizeof rules / sizeof rules[0])

START_TEST(test_match_rules)
{
    struct classify_asked asked = {"alloy", "eleven_v3", "pcm_24000"};
    struct classify_error e = {.code = "voice_not_found", .message = "m"};
    char cause[128];
    ck_assert_int_eq(classify_error_match(rules, NRULES, CLASS_CONTACT, 404, &e, &asked, cause,
                                          sizeof cause), CLASS_PROVIDER);
    ck_assert_str_eq(cause, "voice 'alloy' not found or not allowed (HTTP 404 voice_not_found)");
    /* a rule's code also matches ElevenLabs' detail.status */
    struct classify_error both = {.code = "not_found_generic", .status = "voice_not_found"};
    ck_assert_int_eq(classify_error_match(rules, NRULES, CLASS_CONTACT, 404, &both, &asked, cause,
                                          sizeof cause), CLASS_PROVIDER);
    /* message: case-insensitive substring, and the status must match */
    struct classify_error longtext = {.message = "Text is too long for this model"};
    ck_assert_int_eq(classify_error_match(rules, NRULES, CLASS_CONTACT, 400, &longtext, &asked, cause,
                                          sizeof cause), CLASS_SKIP);
    ck_assert_str_eq(cause, "text too long for model 'eleven_v3' (HTTP 400): Text is too long for this model");
    ck_assert_int_eq(classify_error_match(rules, NRULES, CLASS_RETRY, 500, &longtext, &asked, cause,
                                          sizeof cause), CLASS_RETRY);
    ck_assert_str_eq(cause, "");
    /* the text param is the contact's; "*" takes any other non-empty param */
    struct classify_error text = {.param = "text", .message = "bad"};
    ck_assert_int_eq(classify_error_match(rules, NRULES, CLASS_CONTACT, 422, &text, &asked, cause,
                                          sizeof cause), CLASS_CONTACT);
    ck_assert_str_eq(cause, "");
    struct classify_error speed = {.param = "speed", .message = "must be <= 4"};
    ck_assert_int_eq(classify_error_match(rules, NRULES, CLASS_CONTACT, 400, &speed, &asked, cause,
                                          sizeof cause), CLASS_PROVIDER);
    ck_assert_str_eq(cause, "request field 'speed' refused (HTTP 400): must be <= 4");
    /* no row: the generic class stays; a generic PROVIDER still gets a cause */
    struct classify_error none = {0};
    ck_assert_int_eq(classify_error_match(rules, NRULES, CLASS_CONTACT, 400, &none, &asked, cause,
                                          sizeof cause), CLASS_CONTACT);
    ck_assert_int_eq(classify_error_match(rules, NRULES, CLASS_PROVIDER, 401, &none, NULL, cause,
                                          sizeof cause), CLASS_PROVIDER);
    ck_assert_str_eq(cause, "HTTP 401");
    ck_assert_int_eq(classify_error_match(rules, NRULES, CLASS_SKIP, 413, &none, &asked, cause,
                                          sizeof cause), CLASS_SKIP);
    ck_assert_str_eq(cause, "text too long for model 'eleven_v3' (HTTP 413)");
    /* an OK class is never re-read, and a row never makes an answer OK */
    ck_assert_int_eq(classify_error_match(rules, NRULES, CLASS_OK, 200, &e, &asked, cause,
                                          sizeof cause), CLASS_OK);
    ck_assert_int_eq(classify_error_match(rules, NRULES, CLASS_RETRY, 200, &none, &asked, cause,
                                          sizeof cause), CLASS_RETRY);
    /* a small cause buffer is cut, not overrun */
    char tiny[8];
    classify_error_match(rules, NRULES, CLASS_CONTACT, 404, &e, &asked, tiny, sizeof tiny);
    ck_assert_str_eq(tiny, "voice '");
}
END_TEST

static Suite *classify_suite(void)
{
    Suite *s = suite_create("classify");
    TCase *tc = tcase_create("tables");
    tcase_add_test(tc, test_status_table);
    tcase_add_test(tc, test_transport_failures_retry);
    tcase_add_test(tc, test_every_status_in_range);
    tcase_add_test(tc, test_breaker_verdicts);
    tcase_add_test(tc, test_retryable);
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_throttle_path_keeps_breaker_closed);
    tcase_add_test(tc, test_parse_shapes);
    tcase_add_test(tc, test_parse_cuts_and_cleans);
    tcase_add_test(tc, test_match_rules);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(classify_suite)
