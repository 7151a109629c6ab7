/* retry_after.c - Retry-After parsing; see retry_after.h for the accepted forms.
 *
 * A small cursor walks the trimmed value with exact-match helpers (a literal, N digits, a name
 * from a table); each date format is then a straight sequence of those steps, which reads like
 * the grammar in RFC 9110. The date is turned into epoch seconds with the days-from-civil
 * formula (Howard Hinnant's derivation: shift the year to start in March so the leap day is
 * last, then count 400-year eras of 146097 days), so no libc time zone state is involved. */
#include "retry_after.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#define MS_PER_S 1000
#define S_PER_DAY 86400

struct cursor {
    const char *p;      /* next unread character */
    const char *end;    /* one past the last character of the trimmed value */
};

static const char *const wkday3[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
static const char *const weekday[] = {
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
};
static const char *const month3[] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

struct civil {
    int64_t year;
    int     month;      /* 1..12 */
    int     day;        /* 1..31 */
    int     hour, min, sec;
};

/* ---- cursor steps: each consumes on success and returns true ------------------------------ */

static bool is_ows(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool cursor_init(struct cursor *c, const char *s)
{
    if (!s)
        return false;
    const char *end = s + strlen(s);
    while (s < end && is_ows(*s))
        s++;
    while (end > s && is_ows(end[-1]))
        end--;
    c->p = s;
    c->end = end;
    return s < end;
}

static bool take_lit(struct cursor *c, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0)
        return false;
    c->p += n;
    return true;
}

/* Exactly n decimal digits. */
static bool take_digits(struct cursor *c, int n, int *out)
{
    if (c->end - c->p < n)
        return false;
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (c->p[i] < '0' || c->p[i] > '9')
            return false;
        v = v * 10 + (c->p[i] - '0');
    }
    c->p += n;
    *out = v;
    return true;
}

/* A whole alphabetic word equal (case-insensitively) to one entry of names[]; *idx = its index. */
static bool take_name(struct cursor *c, const char *const *names, int count, int *idx)
{
    size_t len = 0;
    while (c->p + len < c->end && ((c->p[len] | 0x20) >= 'a' && (c->p[len] | 0x20) <= 'z'))
        len++;
    for (int i = 0; i < count; i++) {
        if (strlen(names[i]) == len && strncasecmp(c->p, names[i], len) == 0) {
            c->p += len;
            *idx = i;
            return true;
        }
    }
    return false;
}

static bool take_month(struct cursor *c, struct civil *t)
{
    int m;
    if (!take_name(c, month3, 12, &m))
        return false;
    t->month = m + 1;
    return true;
}

/* "HH:MM:SS" */
static bool take_time(struct cursor *c, struct civil *t)
{
    return take_digits(c, 2, &t->hour) && take_lit(c, ":") && take_digits(c, 2, &t->min) &&
           take_lit(c, ":") && take_digits(c, 2, &t->sec);
}

static bool at_end(const struct cursor *c)
{
    return c->p == c->end;
}

/* ---- calendar ------------------------------------------------------------------------------ */

int64_t retry_after_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;                                   /* years start in March */
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                   /* [0, 399] */
    int64_t mp = (m + 9) % 12;                     /* March = 0 ... February = 11 */
    int64_t doy = (153 * mp + 2) / 5 + d - 1;      /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;            /* 719468: days from 0000-03-01 to 1970-01-01 */
}

/* The proleptic Gregorian year of a day count from 1970-01-01 (inverse of the above, year only). */
static int64_t year_from_days(int64_t z)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    return yoe + era * 400 + (mp >= 10);           /* January and February belong to the next */
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static bool civil_valid(const struct civil *t)
{
    static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (t->month < 1 || t->month > 12 || t->day < 1)
        return false;
    int dim = mdays[t->month - 1] + (t->month == 2 && is_leap(t->year));
    return t->day <= dim && t->hour <= 23 && t->min <= 59 && t->sec <= 60;
}

static int64_t civil_to_epoch_ms(const struct civil *t)
{
    int64_t days = retry_after_days_from_civil(t->year, t->month, t->day);
    int64_t secs = days * S_PER_DAY + t->hour * 3600 + t->min * 60 + t->sec;
    return secs * MS_PER_S;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* ---- the three date formats, each starting after its day name ------------------------------ */

/* IMF-fixdate: ", 06 Nov 1994 08:49:37 GMT" */
static bool parse_imf_rest(struct cursor *c, struct civil *t)
{
    int year;
    if (!(take_lit(c, ", ") && take_digits(c, 2, &t->day) && take_lit(c, " ") &&
          take_month(c, t) && take_lit(c, " ") && take_digits(c, 4, &year) && take_lit(c, " ") &&
          take_time(c, t) && take_lit(c, " GMT") && at_end(c)))
        return false;
    t->year = year;
    return true;
}

/* RFC 850: ", 06-Nov-94 08:49:37 GMT"; the century comes from now (RFC 9110 section 5.6.7). */
static bool parse_rfc850_rest(struct cursor *c, struct civil *t, int64_t now_epoch_ms)
{
    int yy;
    if (!(take_lit(c, ", ") && take_digits(c, 2, &t->day) && take_lit(c, "-") &&
          take_month(c, t) && take_lit(c, "-") && take_digits(c, 2, &yy) && take_lit(c, " ") &&
          take_time(c, t) && take_lit(c, " GMT") && at_end(c)))
        return false;
    int64_t now_year = year_from_days(floor_div(now_epoch_ms, (int64_t)MS_PER_S * S_PER_DAY));
    /* The latest year ending in yy that is at most 50 years ahead of now. */
    int64_t year = now_year - ((now_year % 100) + 100) % 100 + 100 + yy;
    while (year > now_year + 50)
        year -= 100;
    t->year = year;
    return true;
}

/* asctime: " Nov  6 08:49:37 1994" (day is 2DIGIT or SP 1DIGIT) */
static bool parse_asctime_rest(struct cursor *c, struct civil *t)
{
    int year;
    if (!(take_lit(c, " ") && take_month(c, t) && take_lit(c, " ")))
        return false;
    bool day_ok = take_lit(c, " ") ? take_digits(c, 1, &t->day) : take_digits(c, 2, &t->day);
    if (!(day_ok && take_lit(c, " ") && take_time(c, t) && take_lit(c, " ") &&
          take_digits(c, 4, &year) && at_end(c)))
        return false;
    t->year = year;
    return true;
}

static bool parse_date(struct cursor *c, int64_t now_epoch_ms, struct civil *t)
{
    int idx;
    struct cursor start = *c;
    if (take_name(c, wkday3, 7, &idx)) {
        if (c->p < c->end && *c->p == ',')
            return parse_imf_rest(c, t);
        return parse_asctime_rest(c, t);
    }
    *c = start;
    if (take_name(c, weekday, 7, &idx))
        return parse_rfc850_rest(c, t, now_epoch_ms);
    return false;
}

int retry_after_parse_date(const char *value, int64_t now_epoch_ms, int64_t *epoch_ms)
{
    struct cursor c;
    struct civil t = { 0 };
    if (!cursor_init(&c, value) || !parse_date(&c, now_epoch_ms, &t) || !civil_valid(&t))
        return -1;
    *epoch_ms = civil_to_epoch_ms(&t);
    return 0;
}

/* ---- delta-seconds and durations ---------------------------------------------------------- */

/* A decimal number "DIGITS[.DIGITS]" scaled by unit_ms (1000 for seconds, 1 for milliseconds)
 * into whole ms, rounded up so a fractional wait is never cut short. Consumes the number; false
 * when there is none or it overflows int64 milliseconds. */
static bool take_decimal_ms(struct cursor *c, int64_t unit_ms, int64_t *ms)
{
    int64_t whole = 0;
    const char *start = c->p;
    for (; c->p < c->end && *c->p >= '0' && *c->p <= '9'; c->p++) {
        if (whole > (INT64_MAX / unit_ms - (*c->p - '0')) / 10)
            return false;
        whole = whole * 10 + (*c->p - '0');
    }
    if (c->p == start)
        return false;
    int64_t v = whole * unit_ms, frac_num = 0, frac_den = 1;
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        const char *fs = c->p;
        for (; c->p < c->end && *c->p >= '0' && *c->p <= '9'; c->p++)
            if (frac_den < INT64_C(1000000000000)) {   /* digits past 10^-12 cannot change the ms */
                frac_num = frac_num * 10 + (*c->p - '0');
                frac_den *= 10;
            }
        if (c->p == fs)
            return false;   /* "1." is not a number */
    }
    int64_t frac_ms = (frac_num * unit_ms + frac_den - 1) / frac_den;
    if (v > INT64_MAX - frac_ms)
        return false;
    *ms = v + frac_ms;
    return true;
}

/* The whole trimmed value as a decimal number of unit_ms. */
static bool parse_decimal_ms(const char *value, int64_t unit_ms, int64_t *ms)
{
    struct cursor c;
    return cursor_init(&c, value) && take_decimal_ms(&c, unit_ms, ms) && at_end(&c);
}

static int64_t clamp(int64_t v, int64_t max_ms)
{
    if (max_ms < 0)
        max_ms = 0;
    if (v < 0)
        return 0;
    return v > max_ms ? max_ms : v;
}

int64_t retry_after_parse_ms(const char *value, int64_t now_epoch_ms, int64_t max_ms)
{
    struct cursor c;
    if (!cursor_init(&c, value))
        return -1;
    int64_t ms;
    if (*c.p >= '0' && *c.p <= '9')
        return parse_decimal_ms(value, MS_PER_S, &ms) ? clamp(ms, max_ms) : -1;
    int64_t when;
    if (retry_after_parse_date(value, now_epoch_ms, &when) != 0)
        return -1;
    if (when <= now_epoch_ms)
        return 0;
    if (now_epoch_ms < 0 && when > INT64_MAX + now_epoch_ms)
        return clamp(INT64_MAX, max_ms);    /* a clock before 1970 by centuries: do not wrap */
    return clamp(when - now_epoch_ms, max_ms);
}

int64_t retry_after_ms_header(const char *value, int64_t max_ms)
{
    int64_t ms;
    return parse_decimal_ms(value, 1, &ms) ? clamp(ms, max_ms) : -1;
}

/* Units of a Go duration, longest name first so "ms" is not read as "m" then "s". */
static const struct {
    const char *name;
    int64_t     ms;
} duration_units[] = {{"ms", 1}, {"h", 3600 * MS_PER_S}, {"m", 60 * MS_PER_S}, {"s", MS_PER_S}};

int64_t retry_after_duration_ms(const char *value, int64_t max_ms)
{
    struct cursor c;
    if (!cursor_init(&c, value))
        return -1;
    int64_t total = 0;
    while (!at_end(&c)) {
        struct cursor num = c;
        while (c.p < c.end && ((*c.p >= '0' && *c.p <= '9') || *c.p == '.'))
            c.p++;
        num.end = c.p;
        size_t u = 0, nunits = sizeof duration_units / sizeof duration_units[0];
        while (u < nunits && !take_lit(&c, duration_units[u].name))
            u++;
        int64_t part;
        if (u == nunits || !take_decimal_ms(&num, duration_units[u].ms, &part) || !at_end(&num) ||
            total > INT64_MAX - part)
            return -1;
        total += part;
    }
    return clamp(total, max_ms);
}

int64_t retry_after_choose_ms(const struct retry_hints *h, int64_t now_epoch_ms, int64_t max_ms)
{
    int64_t ms = -1;
    if (h->retry_after_ms && *h->retry_after_ms)
        ms = retry_after_ms_header(h->retry_after_ms, max_ms);
    if (ms < 0 && h->retry_after && *h->retry_after)
        ms = retry_after_parse_ms(h->retry_after, now_epoch_ms, max_ms);
    if (ms < 0 && h->reset_requests && *h->reset_requests)
        ms = retry_after_duration_ms(h->reset_requests, max_ms);
    return ms;
}
