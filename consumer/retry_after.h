/* retry_after.h - the HTTP Retry-After header (RFC 9110 section 10.2.3), as a delay.
 *
 * A throttling provider says how long to wait either as delta-seconds ("120") or as an
 * HTTP-date in any of the three formats a recipient must accept:
 *   IMF-fixdate  "Sun, 06 Nov 1994 08:49:37 GMT"
 *   RFC 850      "Sunday, 06-Nov-94 08:49:37 GMT"   (two-digit year: see below)
 *   asctime      "Sun Nov  6 08:49:37 1994"
 * Parsing depends on no locale, time zone or timegm(): the calendar arithmetic is done here.
 * Leniency, decided once: surrounding whitespace (SP, HTAB, CR, LF) is ignored; day and month
 * names match case-insensitively; the day name is not checked against the date. Everything else
 * is exact: two-digit days, "GMT", ranges checked (Feb 29 only in leap years, second 60 allowed
 * for a leap second). */
#ifndef VOXCAST_RETRY_AFTER_H
#define VOXCAST_RETRY_AFTER_H

#include <stdint.h>

/* The delay a Retry-After value asks for, in ms, clamped to [0, max_ms] (a date in the past gives
 * 0; max_ms < 0 is taken as 0). Delta-seconds may carry a decimal fraction ("1.5"), as
 * openai-python reads it (float), rounded up to the next ms. -1 when the value is NULL, empty or
 * unparseable ("soon", "-5", "+5", "1.", "1e3", a number too large for int64 milliseconds).
 * `now_epoch_ms` is the wall clock (Unix epoch, ms); it anchors HTTP-dates and RFC 850's
 * two-digit years. */
int64_t retry_after_parse_ms(const char *value, int64_t now_epoch_ms, int64_t max_ms);

/* `retry-after-ms` (OpenAI and Azure OpenAI send it beside Retry-After): a decimal number of
 * milliseconds, rounded up and clamped to [0, max_ms]; -1 when absent or unparseable. */
int64_t retry_after_ms_header(const char *value, int64_t max_ms);

/* OpenAI's `x-ratelimit-reset-requests` / `-tokens`: a Go duration such as "1s", "6m0s",
 * "12ms", "1h2m3.5s" (units h, m, s, ms; each number may have a fraction), as ms rounded up
 * and clamped to [0, max_ms]; -1 when absent or unparseable. */
int64_t retry_after_duration_ms(const char *value, int64_t max_ms);

/* The headers of one answer that say how long to wait (each may be NULL or ""). */
struct retry_hints {
    const char *retry_after_ms;   /* retry-after-ms */
    const char *retry_after;      /* Retry-After */
    const char *reset_requests;   /* x-ratelimit-reset-requests */
};

/* The wait they ask for, in the order openai-python trusts them: retry-after-ms, then
 * Retry-After (seconds, decimal seconds or an HTTP-date), then x-ratelimit-reset-requests.
 * -1 when none gives a usable value. */
int64_t retry_after_choose_ms(const struct retry_hints *h, int64_t now_epoch_ms, int64_t max_ms);

/* Parses just an HTTP-date (whitespace-trimmed, any of the three formats) into Unix epoch ms in
 * *epoch_ms. Returns 0, or -1 (leaving *epoch_ms alone) when it is not a valid HTTP-date.
 * An RFC 850 two-digit year is the latest year with those digits that is at most 50 years after
 * the year of `now_epoch_ms` (RFC 9110 section 5.6.7: "appears to be more than 50 years in the
 * future" means the past). */
int retry_after_parse_date(const char *value, int64_t now_epoch_ms, int64_t *epoch_ms);

/* Days from 1970-01-01 to the proleptic Gregorian date y-m-d (m 1..12, d 1..31); negative
 * before 1970. No range check: the caller validates. */
int64_t retry_after_days_from_civil(int64_t y, int m, int d);

#endif
