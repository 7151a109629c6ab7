/* window.c - daily time windows; see window.h for the syntax and the [start, end) rule.
 *
 * All arithmetic is modulo one day: "how long until X" is (X - t) mod 86400, which covers the
 * wrapping and the non-wrapping window alike once "now is inside" has been ruled out. The
 * parser reports the first thing wrong, naming which half of the window it is in. */
#include "window.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Parses "H:MM" or "HH:MM" at *p into seconds of the day, advancing *p.
 * `what` is "start" or "end" for messages; 24:00 is accepted only when `is_end`. */
static int parse_hm(const char **p, bool is_end, int *secs, char *err, size_t errlen)
{
    const char *s = *p;
    const char *what = is_end ? "end" : "start";
    int hour = 0, ndig = 0;
    while (is_digit(s[ndig]) && ndig < 3)
        hour = hour * 10 + (s[ndig++] - '0');
    if (ndig == 0 || ndig > 2 || s[ndig] != ':' || !is_digit(s[ndig + 1]) ||
        !is_digit(s[ndig + 2])) {
        set_err(err, errlen, "%s time: expected H:MM or HH:MM", what);
        return -1;
    }
    int minute = (s[ndig + 1] - '0') * 10 + (s[ndig + 2] - '0');
    if (hour == 24 && minute == 0 && !is_end) {
        set_err(err, errlen, "start time: 24:00 is allowed only as the end");
        return -1;
    }
    if (hour > 24 || (hour == 24 && minute != 0)) {
        set_err(err, errlen, "%s time: hour %d out of range (0-23, or 24:00 as the end)", what,
                hour);
        return -1;
    }
    if (minute > 59) {
        set_err(err, errlen, "%s time: minute %d out of range (00-59)", what, minute);
        return -1;
    }
    *secs = hour * 3600 + minute * 60;
    *p = s + ndig + 3;
    return 0;
}

int window_parse(const char *s, struct window *w, char *err, size_t errlen)
{
    if (!s || !*s) {
        set_err(err, errlen, "empty window: expected HH:MM-HH:MM");
        return -1;
    }
    int start, end;
    const char *p = s;
    if (parse_hm(&p, false, &start, err, errlen) != 0)
        return -1;
    if (*p != '-') {
        set_err(err, errlen, "expected '-' and an end time after the start time");
        return -1;
    }
    p++;
    if (parse_hm(&p, true, &end, err, errlen) != 0)
        return -1;
    if (*p) {
        set_err(err, errlen, "unexpected \"%.20s\" after the end time", p);
        return -1;
    }
    if (end == start) {
        set_err(err, errlen, "empty window: start equals end (00:00-24:00 is all day)");
        return -1;
    }
    w->start_s = start;
    w->end_s = end;
    return 0;
}

static int day_mod(int t)
{
    int m = t % WINDOW_DAY_S;
    return m < 0 ? m + WINDOW_DAY_S : m;
}

bool window_contains(const struct window *w, int sec_of_day)
{
    int t = day_mod(sec_of_day);
    if (w->start_s < w->end_s)
        return t >= w->start_s && t < w->end_s;
    return t >= w->start_s || t < w->end_s;         /* wraps midnight */
}

int window_seconds_until_open(const struct window *w, int sec_of_day)
{
    if (window_contains(w, sec_of_day))
        return 0;
    return day_mod(w->start_s - day_mod(sec_of_day));   /* > 0: t == start would be open */
}

int window_seconds_until_close(const struct window *w, int sec_of_day)
{
    if (!window_contains(w, sec_of_day))
        return 0;
    int left = day_mod(w->end_s - day_mod(sec_of_day));
    return left > 0 ? left : WINDOW_DAY_S;  /* only all-day at midnight: a full day to go */
}

bool window_all_day(const struct window *w)
{
    return w->start_s == 0 && w->end_s == WINDOW_DAY_S;
}

void window_format(const struct window *w, char *out, size_t outlen)
{
    if (!out || outlen == 0)
        return;
    snprintf(out, outlen, "%02d:%02d-%02d:%02d", w->start_s / 3600, w->start_s % 3600 / 60,
             w->end_s / 3600, w->end_s % 3600 / 60);
}
