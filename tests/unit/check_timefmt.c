/* check_timefmt.c - unit tests for timefmt.c: RFC 3339 instants both ways, and durations. */
#include <string.h>

#include "check_main.h"
#include "timefmt.h"

static int64_t parsed(const char *s)
{
    int64_t ms = -12345;
    ck_assert_msg(timefmt_parse_rfc3339(s, &ms) == 0, "%s did not parse", s);
    return ms;
}

START_TEST(test_rfc3339_parse)
{
    ck_assert_int_eq(parsed("1970-01-01T00:00:00Z"), 0);
    ck_assert_int_eq(parsed("2026-12-03T17:00:00Z"), 1796317200000LL);
    ck_assert_int_eq(parsed("2026-12-03T18:00:00+01:00"), 1796317200000LL);
    ck_assert_int_eq(parsed("2026-12-03t12:30:00.5-04:30"), 1796317200500LL);
    ck_assert_int_eq(parsed("2026-12-03 17:00:00.123456z"), 1796317200123LL);
    ck_assert_int_eq(parsed("2024-02-29T00:00:00Z"), 1709164800000LL);
    int64_t ms;
    const char *bad[] = {"", "2026-12-03", "2026-12-03T17:00:00", "2026-12-03T17:00Z",
                         "2026-13-03T17:00:00Z", "2026-02-29T00:00:00Z", "2026-12-03T24:00:00Z",
                         "2026-12-03T17:00:00.Z", "2026-12-03T17:00:00Zjunk", "2026-12-03T17:00:00+1:00",
                         "26-12-03T17:00:00Z"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(timefmt_parse_rfc3339(bad[i], &ms) == -1, "%s parsed", bad[i]);
}
END_TEST

START_TEST(test_rfc3339_format)
{
    char out[TIMEFMT_RFC3339_LEN];
    timefmt_format_rfc3339(1796317200123LL, out);
    ck_assert_str_eq(out, "2026-12-03T17:00:00.123Z");
    timefmt_format_rfc3339(0, out);
    ck_assert_str_eq(out, "1970-01-01T00:00:00.000Z");
    for (int64_t ms = 946684800000LL; ms < 4102444800000LL; ms += 86400000LL * 37 + 3723123) {
        timefmt_format_rfc3339(ms, out);
        ck_assert_int_eq(parsed(out), ms);
    }
}
END_TEST

START_TEST(test_duration)
{
    int64_t ms;
    ck_assert_int_eq(timefmt_parse_duration("90s", &ms), 0);
    ck_assert_int_eq(ms, 90000);
    ck_assert_int_eq(timefmt_parse_duration("30m", &ms), 0);
    ck_assert_int_eq(ms, 1800000);
    ck_assert_int_eq(timefmt_parse_duration("6h", &ms), 0);
    ck_assert_int_eq(ms, 21600000);
    ck_assert_int_eq(timefmt_parse_duration("2d", &ms), 0);
    ck_assert_int_eq(ms, 172800000);
    const char *bad[] = {"", "0s", "90", "s", "-5m", "5 m", "5ms", "367d", "99999999999h", "1.5h"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(timefmt_parse_duration(bad[i], &ms) == -1, "%s parsed", bad[i]);
}
END_TEST

static Suite *timefmt_suite(void)
{
    Suite *s = suite_create("timefmt");
    TCase *tc = tcase_create("timefmt");
    tcase_add_test(tc, test_rfc3339_parse);
    tcase_add_test(tc, test_rfc3339_format);
    tcase_add_test(tc, test_duration);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(timefmt_suite)
