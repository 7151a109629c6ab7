/* check_retry_after.c - Retry-After as delta-seconds and as each HTTP-date format.
 *
 * Reference epochs come from an independent implementation (Python's calendar.timegm), not from
 * the code under test. "now" is fixed at 2025-01-01T00:00:00Z unless a test says otherwise. */
#include "check_main.h"

#include <stdint.h>

#include "../../consumer/retry_after.h"

#define NOW     INT64_C(1735689600000)      /* 2025-01-01 00:00:00 GMT */
#define RFC_MS  INT64_C(784111777000)       /* 1994-11-06 08:49:37 GMT */
#define MAX     INT64_C(3600000)

START_TEST(test_delta_seconds)
{
    ck_assert_int_eq(retry_after_parse_ms("120", NOW, MAX), 120000);
    ck_assert_int_eq(retry_after_parse_ms("0", NOW, MAX), 0);
    ck_assert_int_eq(retry_after_parse_ms("1", NOW, MAX), 1000);
    ck_assert_int_eq(retry_after_parse_ms("007", NOW, MAX), 7000);
    ck_assert_int_eq(retry_after_parse_ms("  120  ", NOW, MAX), 120000);
    ck_assert_int_eq(retry_after_parse_ms("\t30\r\n", NOW, MAX), 30000);
    ck_assert_int_eq(retry_after_parse_ms("3600", NOW, MAX), 3600000);
    ck_assert_int_eq(retry_after_parse_ms("3601", NOW, MAX), MAX);       /* clamped */
    ck_assert_int_eq(retry_after_parse_ms("86400", NOW, 0), 0);
    ck_assert_int_eq(retry_after_parse_ms("5", NOW, -10), 0);             /* max < 0 as 0 */
    /* The largest representable number of seconds, and one past it. */
    ck_assert(retry_after_parse_ms("9223372036854775", NOW, INT64_MAX) ==
              INT64_C(9223372036854775000));
    ck_assert_int_eq(retry_after_parse_ms("9223372036854776", NOW, INT64_MAX), -1);
    ck_assert_int_eq(retry_after_parse_ms("99999999999999999999999", NOW, MAX), -1);
}
END_TEST

START_TEST(test_unparseable)
{
    static const char *const bad[] = {
        "", " ", "\t\r\n", "soon", "-5", "+5", "1.", ".5", "1.5.2", "1e3", "12 0", "120s", "0x10",
        "\xd9\xa1\xd9\xa2" /* Arabic-Indic 12 */, "Sun, 06 Nov 1994 08:49:37",
        "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 06 Nov 1994 08:49:37 GMT x",
        "Sun, 6 Nov 1994 08:49:37 GMT", "Sun,06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT", "Sun, 06 November 1994 08:49:37 GMT",
        "Sunday, 06 Nov 1994 08:49:37 GMT", "Sun, 06-Nov-94 08:49:37 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT", "Sunday, 6-Nov-94 08:49:37 GMT",
        "Sun Nov 6 08:49:37 1994", "Sun Nov  6 08:49:37 94", "Sun Nov 06 08:49:37 1994 GMT",
        "Sunday Nov  6 08:49:37 1994", "Xyz, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 8:49:37 GMT",
        "Sun, 06 Nov 1994 08:49 GMT", "Sun, 06 Nov 1994 08-49-37 GMT", "GMT", "Sun", "Sun,",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(retry_after_parse_ms(bad[i], NOW, MAX) == -1, "accepted \"%s\"", bad[i]);
    ck_assert_int_eq(retry_after_parse_ms(NULL, NOW, MAX), -1);
}
END_TEST

/* openai-python reads Retry-After with float(): "1.5" is a second and a half. */
START_TEST(test_decimal_seconds)
{
    ck_assert_int_eq(retry_after_parse_ms("1.5", NOW, MAX), 1500);
    ck_assert_int_eq(retry_after_parse_ms(" 0.25 ", NOW, MAX), 250);
    ck_assert_int_eq(retry_after_parse_ms("0.0001", NOW, MAX), 1);     /* rounded up, never 0 */
    ck_assert_int_eq(retry_after_parse_ms("2.000", NOW, MAX), 2000);
    ck_assert_int_eq(retry_after_parse_ms("20.123456789012345678", NOW, MAX), 20124);
    ck_assert_int_eq(retry_after_parse_ms("7200.5", NOW, MAX), MAX);
}
END_TEST

/* retry-after-ms, as OpenAI sends it beside Retry-After (openai-python _calculate_retry_timeout). */
START_TEST(test_retry_after_ms_header)
{
    ck_assert_int_eq(retry_after_ms_header("20", MAX), 20);
    ck_assert_int_eq(retry_after_ms_header("1500.5", MAX), 1501);
    ck_assert_int_eq(retry_after_ms_header("99999999", MAX), MAX);
    ck_assert_int_eq(retry_after_ms_header("", MAX), -1);
    ck_assert_int_eq(retry_after_ms_header(NULL, MAX), -1);
    ck_assert_int_eq(retry_after_ms_header("-1", MAX), -1);
    ck_assert_int_eq(retry_after_ms_header("20ms", MAX), -1);
}
END_TEST

/* x-ratelimit-reset-requests values as OpenAI's rate-limit guide shows them ("1s", "6m0s"). */
START_TEST(test_reset_duration)
{
    ck_assert_int_eq(retry_after_duration_ms("1s", MAX), 1000);
    ck_assert_int_eq(retry_after_duration_ms("6m0s", MAX), 360000);
    ck_assert_int_eq(retry_after_duration_ms("12ms", MAX), 12);
    ck_assert_int_eq(retry_after_duration_ms("0.5s", MAX), 500);
    ck_assert_int_eq(retry_after_duration_ms("1m30.25s", MAX), 90250);
    ck_assert_int_eq(retry_after_duration_ms("2h", MAX), MAX);
    ck_assert_int_eq(retry_after_duration_ms(" 17ms ", MAX), 17);
    static const char *const bad[] = {"", "1", "s", "1x", "1s2", "-1s", "1.s", "1 s", "ms"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(retry_after_duration_ms(bad[i], MAX) == -1, "accepted \"%s\"", bad[i]);
}
END_TEST

/* The order openai-python trusts them in: retry-after-ms, Retry-After, then the reset header. */
START_TEST(test_choose_order)
{
    struct retry_hints all = {"250", "3", "6m0s"};
    ck_assert_int_eq(retry_after_choose_ms(&all, NOW, MAX), 250);
    struct retry_hints bad_ms = {"soon", "3", "6m0s"};
    ck_assert_int_eq(retry_after_choose_ms(&bad_ms, NOW, MAX), 3000);
    struct retry_hints reset_only = {NULL, "", "12ms"};
    ck_assert_int_eq(retry_after_choose_ms(&reset_only, NOW, MAX), 12);
    struct retry_hints none = {NULL, NULL, NULL};
    ck_assert_int_eq(retry_after_choose_ms(&none, NOW, MAX), -1);
}
END_TEST

START_TEST(test_three_formats_same_instant)
{
    static const char *const forms[] = {
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
        "  sun, 06 NOV 1994 08:49:37 GMT\r\n",      /* case and whitespace leniency */
        "SUNDAY, 06-nov-94 08:49:37 GMT",
        "Mon, 06 Nov 1994 08:49:37 GMT",            /* the day name is not cross-checked */
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        int64_t ms = 0;
        ck_assert_msg(retry_after_parse_date(forms[i], NOW, &ms) == 0, "rejected \"%s\"", forms[i]);
        ck_assert_msg(ms == RFC_MS, "\"%s\" -> %lld", forms[i], (long long)ms);
        /* In the past relative to now: wait 0. */
        ck_assert_int_eq(retry_after_parse_ms(forms[i], NOW, MAX), 0);
        /* Relative to a "now" just before it: the exact difference. */
        ck_assert_int_eq(retry_after_parse_ms(forms[i], RFC_MS - 90500, MAX), 90500);
    }
}
END_TEST

START_TEST(test_asctime_two_digit_day)
{
    int64_t ms = 0;
    ck_assert_int_eq(retry_after_parse_date("Wed Jan 01 00:00:00 2025", NOW, &ms), 0);
    ck_assert(ms == NOW);
    ck_assert_int_eq(retry_after_parse_date("Tue Dec 31 23:59:59 2024", NOW, &ms), 0);
    ck_assert(ms == NOW - 1000);
}
END_TEST

START_TEST(test_future_date_delay_and_clamp)
{
    ck_assert_int_eq(retry_after_parse_ms("Wed, 01 Jan 2025 00:02:00 GMT", NOW, MAX), 120000);
    ck_assert_int_eq(retry_after_parse_ms("Wed, 01 Jan 2025 00:00:00 GMT", NOW, MAX), 0);
    ck_assert_int_eq(retry_after_parse_ms("Wed, 01 Jan 2025 00:00:01 GMT", NOW + 999, MAX), 1);
    ck_assert_int_eq(retry_after_parse_ms("Wed, 01 Jan 2025 00:00:01 GMT", NOW + 1000, MAX), 0);
    ck_assert_int_eq(retry_after_parse_ms("Fri, 31 Dec 9999 23:59:59 GMT", NOW, MAX), MAX);
    ck_assert_int_eq(retry_after_parse_ms("Thu, 01 Jan 1970 00:00:00 GMT", NOW, MAX), 0);
    /* A clock far before 1970 must not wrap the difference. */
    ck_assert(retry_after_parse_ms("Fri, 31 Dec 9999 23:59:59 GMT", INT64_MIN + 5, INT64_MAX) ==
              INT64_MAX);
}
END_TEST

START_TEST(test_rfc850_century)
{
    /* now = 2025: two-digit years up to 75 are 20xx, from 76 on they are 19xx. */
    int64_t ms = 0;
    ck_assert_int_eq(retry_after_parse_date("Wednesday, 01-Jan-25 00:00:00 GMT", NOW, &ms), 0);
    ck_assert(ms == NOW);
    ck_assert_int_eq(retry_after_parse_date("Wednesday, 01-Jan-75 00:00:00 GMT", NOW, &ms), 0);
    ck_assert(ms == INT64_C(3313526400000));                        /* 2075-01-01 */
    ck_assert_int_eq(retry_after_parse_date("Thursday, 01-Jan-76 00:00:00 GMT", NOW, &ms), 0);
    ck_assert(ms == INT64_C(189302400000));                         /* 1976-01-01 */
    ck_assert_int_eq(retry_after_parse_date("Saturday, 01-Jan-00 00:00:00 GMT", NOW, &ms), 0);
    ck_assert(ms == INT64_C(946684800000));                         /* 2000-01-01 */
    /* now = 1999-06-01: "49" is 2049 (within 50 years), "51" is 1951. */
    int64_t now1999 = INT64_C(928195200000);
    ck_assert_int_eq(retry_after_parse_date("Friday, 31-Dec-49 23:59:59 GMT", now1999, &ms), 0);
    ck_assert(ms == INT64_C(2524607999000));
    ck_assert_int_eq(retry_after_parse_date("Sunday, 01-Jan-51 00:00:00 GMT", now1999, &ms), 0);
    ck_assert(ms == INT64_C(-599616000000));                        /* 1951-01-01 */
}
END_TEST

START_TEST(test_calendar_validation)
{
    int64_t ms = 12345;
    ck_assert_int_eq(retry_after_parse_date("Thu, 29 Feb 2024 12:00:00 GMT", NOW, &ms), 0);
    ck_assert(ms == (INT64_C(19782) * 86400 + 12 * 3600) * 1000);
    ck_assert_int_eq(retry_after_parse_date("Tue, 29 Feb 2000 00:00:00 GMT", NOW, &ms), 0);
    /* A leap second. */
    ck_assert_int_eq(retry_after_parse_date("Thu, 30 Jun 2022 23:59:60 GMT", NOW, &ms), 0);
    ms = 12345;
    static const char *const bad[] = {
        "Sat, 29 Feb 2025 00:00:00 GMT", "Thu, 29 Feb 1900 00:00:00 GMT",
        "Mon, 31 Apr 2024 00:00:00 GMT", "Mon, 00 Jan 2024 00:00:00 GMT",
        "Mon, 32 Jan 2024 00:00:00 GMT", "Mon, 01 Jan 2024 24:00:00 GMT",
        "Mon, 01 Jan 2024 23:60:00 GMT", "Mon, 01 Jan 2024 23:59:61 GMT",
        "Mon Jan  0 00:00:00 2024",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(retry_after_parse_date(bad[i], NOW, &ms) == -1, "accepted \"%s\"", bad[i]);
        ck_assert_int_eq(retry_after_parse_ms(bad[i], NOW, MAX), -1);
    }
    ck_assert(ms == 12345);                 /* untouched on failure */
}
END_TEST

START_TEST(test_days_from_civil)
{
    ck_assert_int_eq(retry_after_days_from_civil(1970, 1, 1), 0);
    ck_assert_int_eq(retry_after_days_from_civil(1969, 12, 31), -1);
    ck_assert_int_eq(retry_after_days_from_civil(2000, 2, 29), 11016);
    ck_assert_int_eq(retry_after_days_from_civil(2000, 3, 1), 11017);
    ck_assert_int_eq(retry_after_days_from_civil(1900, 3, 1), -25508);
    ck_assert_int_eq(retry_after_days_from_civil(2024, 2, 29), 19782);
    ck_assert_int_eq(retry_after_days_from_civil(1, 1, 1), -719162);
    ck_assert_int_eq(retry_after_days_from_civil(1600, 1, 1), -135140);
    ck_assert_int_eq(retry_after_days_from_civil(9999, 12, 31), 2932896);
    /* Consecutive days across every month boundary for 400 years. */
    int64_t prev = retry_after_days_from_civil(1899, 12, 31);
    static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    for (int y = 1900; y < 2300; y++) {
        for (int m = 1; m <= 12; m++) {
            int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            int dim = mdays[m - 1] + (m == 2 && leap);
            for (int d = 1; d <= dim; d++) {
                int64_t cur = retry_after_days_from_civil(y, m, d);
                ck_assert(cur == prev + 1);
                prev = cur;
            }
        }
    }
}
END_TEST

static Suite *retry_after_suite(void)
{
    Suite *s = suite_create("retry_after");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_delta_seconds);
    tcase_add_test(tc, test_unparseable);
    tcase_add_test(tc, test_decimal_seconds);
    tcase_add_test(tc, test_retry_after_ms_header);
    tcase_add_test(tc, test_reset_duration);
    tcase_add_test(tc, test_choose_order);
    tcase_add_test(tc, test_three_formats_same_instant);
    tcase_add_test(tc, test_asctime_two_digit_day);
    tcase_add_test(tc, test_future_date_delay_and_clamp);
    tcase_add_test(tc, test_rfc850_century);
    tcase_add_test(tc, test_calendar_validation);
    tcase_add_test(tc, test_days_from_civil);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(retry_after_suite)
