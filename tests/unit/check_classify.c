/* check_classify.c - every status the design names, every transport failure, and the tables.
 *
 * The expectations are written out as a table here, independently of the code's tables, so a
 * changed row in classify.c fails a test instead of silently changing behaviour. */
#include "check_main.h"

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
    { 402, false, CLASS_CONTACT },
    { 403, false, CLASS_PROVIDER },   { 403, true, CLASS_PROVIDER },
    { 404, false, CLASS_CONTACT },    { 405, false, CLASS_CONTACT },
    { 408, false, CLASS_RETRY },      { 408, true, CLASS_RETRY },
    { 409, false, CLASS_CONTACT },    { 410, false, CLASS_CONTACT },
    { 413, false, CLASS_CONTACT },    { 415, false, CLASS_CONTACT },
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
        if (s == 401 || s == 403)
            ck_assert(with == CLASS_PROVIDER);
        else if (s == 429)
            ck_assert(with == CLASS_THROTTLED);
        else if (s == 408 || s / 100 != 4)
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
    ck_assert_str_eq(classify_name((enum outcome_class)5), "unknown");
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
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(classify_suite)
