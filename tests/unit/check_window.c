/* check_window.c - window syntax (accepted, rejected, and the message saying why) and the
 * open/close arithmetic, especially around midnight and exactly at the edges. */
#include "check_main.h"

#include <limits.h>
#include <string.h>

#include "window.h"

#define HMS(h, m, s) ((h) * 3600 + (m) * 60 + (s))

static struct window parse_ok(const char *s)
{
    struct window w = { -1, -1 };
    char err[128] = "";
    ck_assert_msg(window_parse(s, &w, err, sizeof err) == 0, "\"%s\": %s", s, err);
    return w;
}

START_TEST(test_parse_valid)
{
    struct window w = parse_ok("09:00-20:00");
    ck_assert_int_eq(w.start_s, HMS(9, 0, 0));
    ck_assert_int_eq(w.end_s, HMS(20, 0, 0));
    w = parse_ok("22:00-06:00");
    ck_assert_int_eq(w.start_s, HMS(22, 0, 0));
    ck_assert_int_eq(w.end_s, HMS(6, 0, 0));
    w = parse_ok("00:00-24:00");
    ck_assert_int_eq(w.start_s, 0);
    ck_assert_int_eq(w.end_s, 86400);
    ck_assert(window_all_day(&w));
    w = parse_ok("9:05-10:00");                 /* one-digit hour accepted */
    ck_assert_int_eq(w.start_s, HMS(9, 5, 0));
    w = parse_ok("0:00-1:59");
    ck_assert_int_eq(w.end_s, HMS(1, 59, 0));
    w = parse_ok("23:59-00:00");
    ck_assert_int_eq(w.start_s, HMS(23, 59, 0));
    ck_assert_int_eq(w.end_s, 0);
    ck_assert(!window_all_day(&w));
    w = parse_ok("12:00-24:00");
    ck_assert_int_eq(w.end_s, 86400);
}
END_TEST

struct bad {
    const char *in;
    const char *msg_part;       /* must appear in the error */
};

START_TEST(test_parse_invalid)
{
    static const struct bad bad[] = {
        { "", "empty" },
        { "12:00-12:00", "start equals end" },
        { "00:00-00:00", "start equals end" },
        { "25:00-26:00", "hour 25" },
        { "12:00-25:00", "end time: hour 25" },
        { "24:00-06:00", "only as the end" },
        { "10:00-24:01", "end time: hour 24" },
        { "12:60-13:00", "minute 60" },
        { "12:00-13:99", "end time: minute 99" },
        { "12:00", "expected '-'" },
        { "12:00-", "end time: expected" },
        { "12:00-13:00x", "unexpected \"x\"" },
        { "12:00-13:00 ", "unexpected" },
        { " 12:00-13:00", "start time: expected" },
        { "12:00 - 13:00", "expected '-'" },
        { "12-13", "start time: expected" },
        { "012:00-13:00", "start time: expected" },
        { "12:0-13:00", "start time: expected" },
        { "12:000-13:00", "expected '-'" },
        { "1200-1300", "start time: expected" },
        { "ab:cd-ef:gh", "start time: expected" },
        { "-1:00-02:00", "start time: expected" },
        { "12:00--13:00", "end time: expected" },
        { "12:00-13:00-14:00", "unexpected \"-14:00\"" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct window w = { 111, 222 };
        char err[128] = "";
        ck_assert_msg(window_parse(bad[i].in, &w, err, sizeof err) == -1, "accepted \"%s\"",
                      bad[i].in);
        ck_assert_msg(strstr(err, bad[i].msg_part) != NULL, "\"%s\": message \"%s\" lacks \"%s\"",
                      bad[i].in, err, bad[i].msg_part);
        ck_assert(w.start_s == 111 && w.end_s == 222);      /* untouched */
    }
}
END_TEST

START_TEST(test_parse_err_buffer_edge)
{
    struct window w;
    ck_assert_int_eq(window_parse(NULL, &w, NULL, 0), -1);
    ck_assert_int_eq(window_parse("25:00-26:00", &w, NULL, 0), -1);
    char tiny[4] = "zzz";
    ck_assert_int_eq(window_parse("25:00-26:00", &w, tiny, sizeof tiny), -1);
    ck_assert_uint_eq(strlen(tiny), 3);                     /* truncated, terminated */
    char untouched[4] = "zzz";
    ck_assert_int_eq(window_parse("25:00-26:00", &w, untouched, 0), -1);
    ck_assert_str_eq(untouched, "zzz");
}
END_TEST

START_TEST(test_contains_plain)
{
    struct window w = parse_ok("09:00-17:30");
    ck_assert(!window_contains(&w, HMS(8, 59, 59)));
    ck_assert(window_contains(&w, HMS(9, 0, 0)));           /* at start: open */
    ck_assert(window_contains(&w, HMS(12, 0, 0)));
    ck_assert(window_contains(&w, HMS(17, 29, 59)));
    ck_assert(!window_contains(&w, HMS(17, 30, 0)));        /* at end: closed */
    ck_assert(!window_contains(&w, 0));
    ck_assert(!window_contains(&w, HMS(23, 59, 59)));
}
END_TEST

START_TEST(test_contains_wrapping)
{
    struct window w = parse_ok("22:00-06:00");
    ck_assert(!window_contains(&w, HMS(21, 59, 59)));
    ck_assert(window_contains(&w, HMS(22, 0, 0)));
    ck_assert(window_contains(&w, HMS(23, 59, 59)));
    ck_assert(window_contains(&w, 0));
    ck_assert(window_contains(&w, HMS(5, 59, 59)));
    ck_assert(!window_contains(&w, HMS(6, 0, 0)));
    ck_assert(!window_contains(&w, HMS(12, 0, 0)));
}
END_TEST

START_TEST(test_contains_to_midnight_and_all_day)
{
    struct window w = parse_ok("22:00-24:00");
    struct window v = parse_ok("22:00-00:00");
    for (int t = 0; t < 86400; t += 7)
        ck_assert(window_contains(&w, t) == window_contains(&v, t));
    ck_assert(window_contains(&w, HMS(23, 59, 59)));
    ck_assert(!window_contains(&w, 0));
    struct window all = parse_ok("00:00-24:00");
    int closed = 0;
    for (int t = 0; t < 86400; t++)
        closed += !window_contains(&all, t);
    ck_assert_int_eq(closed, 0);
}
END_TEST

START_TEST(test_seconds_until_open)
{
    struct window w = parse_ok("09:00-17:00");
    ck_assert_int_eq(window_seconds_until_open(&w, HMS(8, 0, 0)), 3600);
    ck_assert_int_eq(window_seconds_until_open(&w, HMS(8, 59, 59)), 1);
    ck_assert_int_eq(window_seconds_until_open(&w, HMS(9, 0, 0)), 0);
    ck_assert_int_eq(window_seconds_until_open(&w, HMS(16, 59, 59)), 0);
    ck_assert_int_eq(window_seconds_until_open(&w, HMS(17, 0, 0)), HMS(16, 0, 0));
    ck_assert_int_eq(window_seconds_until_open(&w, HMS(23, 59, 59)), HMS(9, 0, 1));
    ck_assert_int_eq(window_seconds_until_open(&w, 0), HMS(9, 0, 0));
    struct window n = parse_ok("22:00-06:00");
    ck_assert_int_eq(window_seconds_until_open(&n, HMS(6, 0, 0)), HMS(16, 0, 0));
    ck_assert_int_eq(window_seconds_until_open(&n, HMS(21, 59, 59)), 1);
    ck_assert_int_eq(window_seconds_until_open(&n, HMS(23, 59, 59)), 0);
    ck_assert_int_eq(window_seconds_until_open(&n, 0), 0);
    struct window m = parse_ok("00:00-06:00");
    ck_assert_int_eq(window_seconds_until_open(&m, HMS(23, 59, 59)), 1);
    ck_assert_int_eq(window_seconds_until_open(&m, HMS(6, 0, 0)), HMS(18, 0, 0));
}
END_TEST

START_TEST(test_seconds_until_close)
{
    struct window w = parse_ok("09:00-17:00");
    ck_assert_int_eq(window_seconds_until_close(&w, HMS(8, 59, 59)), 0);
    ck_assert_int_eq(window_seconds_until_close(&w, HMS(9, 0, 0)), HMS(8, 0, 0));
    ck_assert_int_eq(window_seconds_until_close(&w, HMS(16, 59, 59)), 1);
    ck_assert_int_eq(window_seconds_until_close(&w, HMS(17, 0, 0)), 0);
    struct window n = parse_ok("22:00-06:00");
    ck_assert_int_eq(window_seconds_until_close(&n, HMS(22, 0, 0)), HMS(8, 0, 0));
    ck_assert_int_eq(window_seconds_until_close(&n, HMS(23, 59, 59)), HMS(6, 0, 1));
    ck_assert_int_eq(window_seconds_until_close(&n, 0), HMS(6, 0, 0));
    ck_assert_int_eq(window_seconds_until_close(&n, HMS(5, 59, 59)), 1);
    ck_assert_int_eq(window_seconds_until_close(&n, HMS(6, 0, 0)), 0);
    struct window e = parse_ok("12:00-24:00");
    ck_assert_int_eq(window_seconds_until_close(&e, HMS(23, 59, 59)), 1);
    ck_assert_int_eq(window_seconds_until_close(&e, 0), 0);
    struct window all = parse_ok("00:00-24:00");
    ck_assert_int_eq(window_seconds_until_close(&all, 0), 86400);
    ck_assert_int_eq(window_seconds_until_close(&all, HMS(23, 59, 59)), 1);
    ck_assert_int_eq(window_seconds_until_open(&all, HMS(23, 59, 59)), 0);
}
END_TEST

START_TEST(test_open_close_consistent_every_second)
{
    /* For every second of the day: exactly one of the two waits is zero; stepping by the wait
     * lands on the flip, and one second earlier is still before it. */
    static const char *const specs[] = { "09:00-17:00", "22:00-06:00", "23:59-00:01", "0:00-0:01",
                                         "00:00-24:00", "12:00-24:00", "23:00-00:00" };
    for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++) {
        struct window w = parse_ok(specs[k]);
        int bad = 0;
        for (int t = 0; t < 86400; t++) {
            int o = window_seconds_until_open(&w, t), c = window_seconds_until_close(&w, t);
            bool in = window_contains(&w, t);
            bad += (o == 0) != in || (c == 0) == in || o < 0 || c < 0 || o > 86400 || c > 86400;
            if (!in)
                bad += !window_contains(&w, t + o) || window_contains(&w, t + o - 1);
            else if (!window_all_day(&w))
                bad += window_contains(&w, t + c) || !window_contains(&w, t + c - 1);
        }
        ck_assert_msg(bad == 0, "%s: %d inconsistencies", specs[k], bad);
    }
}
END_TEST

START_TEST(test_seconds_modulo_day)
{
    struct window w = parse_ok("22:00-06:00");
    ck_assert(window_contains(&w, 86400));                  /* = 00:00 */
    ck_assert(window_contains(&w, -1));                     /* = 23:59:59 */
    ck_assert(!window_contains(&w, 86400 + HMS(12, 0, 0)));
    ck_assert_int_eq(window_seconds_until_open(&w, -HMS(12, 0, 0)), HMS(10, 0, 0));
    ck_assert_int_eq(window_seconds_until_close(&w, INT_MIN), 0);
    (void)window_seconds_until_open(&w, INT_MAX);
}
END_TEST

START_TEST(test_format)
{
    char out[32];
    struct window w = parse_ok("9:05-24:00");
    window_format(&w, out, sizeof out);
    ck_assert_str_eq(out, "09:05-24:00");
    w = parse_ok("22:30-06:00");
    window_format(&w, out, sizeof out);
    ck_assert_str_eq(out, "22:30-06:00");
    struct window back = parse_ok(out);
    ck_assert(back.start_s == w.start_s && back.end_s == w.end_s);
    window_format(&w, out, 3);
    ck_assert_str_eq(out, "22");
}
END_TEST

static Suite *window_suite(void)
{
    Suite *s = suite_create("window");
    TCase *p = tcase_create("parse");
    tcase_add_test(p, test_parse_valid);
    tcase_add_test(p, test_parse_invalid);
    tcase_add_test(p, test_parse_err_buffer_edge);
    tcase_add_test(p, test_format);
    suite_add_tcase(s, p);
    TCase *t = tcase_create("time");
    tcase_add_test(t, test_contains_plain);
    tcase_add_test(t, test_contains_wrapping);
    tcase_add_test(t, test_contains_to_midnight_and_all_day);
    tcase_add_test(t, test_seconds_until_open);
    tcase_add_test(t, test_seconds_until_close);
    tcase_add_test(t, test_open_close_consistent_every_second);
    tcase_add_test(t, test_seconds_modulo_day);
    suite_add_tcase(s, t);
    return s;
}

CHECK_MAIN(window_suite)
