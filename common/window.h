/* window.h - a daily time window "HH:MM-HH:MM" in local time, which may wrap midnight.
 *
 * DLQ replays and campaigns can be limited to hours when calls are welcome ("09:00-20:00") or
 * when a provider is cheap ("22:00-06:00", wrapping midnight). A window is two second-of-day
 * marks, open on [start, end): at `start` it is open, at `end` it is closed. This module does no
 * clock or time zone work: the caller turns the local time into a second of the day (0..86399),
 * so DST is the caller's business and tests are exact.
 *
 * Syntax, decided once: the hour takes one or two digits ("9:00" = "09:00"), the minute exactly
 * two; hours 0-23 and minutes 0-59, plus "24:00" as an end only; no spaces. "00:00-24:00" is all
 * day; "22:00-00:00" is the same as "22:00-24:00"; start == end is rejected as empty. */
#ifndef VOXCAST_WINDOW_H
#define VOXCAST_WINDOW_H

#include <stdbool.h>
#include <stddef.h>

#define WINDOW_DAY_S 86400

struct window {
    int start_s;    /* seconds since midnight, 0..86399 */
    int end_s;      /* seconds since midnight, 0..86400 (86400 = "24:00") */
};

/* Parses "HH:MM-HH:MM" into *w. Returns 0, or -1 with *w untouched and a message naming the
 * problem in err (when err is not NULL and errlen > 0). */
int window_parse(const char *s, struct window *w, char *err, size_t errlen);

/* Whether the window is open at `sec_of_day` (taken modulo one day): start <= t < end, or for a
 * wrapping window t >= start || t < end. */
bool window_contains(const struct window *w, int sec_of_day);

/* Seconds from `sec_of_day` until the window next opens; 0 when it is open now. */
int window_seconds_until_open(const struct window *w, int sec_of_day);

/* Seconds from `sec_of_day` until the window's next end; 0 when it is closed now. For an
 * all-day window this is the time to midnight, where it opens again at once: see
 * window_all_day() to tell "never closes". */
int window_seconds_until_close(const struct window *w, int sec_of_day);

/* True for 00:00-24:00, the window that never closes. */
bool window_all_day(const struct window *w);

/* Writes the window as "HH:MM-HH:MM" (always two-digit hours) into out (NUL-terminated,
 * truncated to outlen). */
void window_format(const struct window *w, char *out, size_t outlen);

#endif
