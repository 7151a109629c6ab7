/* timefmt.c - RFC 3339 instants and short durations; see timefmt.h.
 *
 * The calendar arithmetic is done here (days from the civil date) rather than with timegm(),
 * which is not C11 and whose range checks differ between C libraries. */
#include "timefmt.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* Reads exactly n digits at *p into *out and advances *p: 0, or -1. */
static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int expect(const char **p, const char *chars)
{
    if (!**p || !strchr(chars, **p))
        return -1;
    (*p)++;
    return 0;
}

/* "Z", or "+HH:MM" / "-HH:MM": the offset east of UTC in minutes. */
static int parse_offset(const char **p, int *minutes)
{
    if (**p == 'Z' || **p == 'z') {
        (*p)++;
        *minutes = 0;
        return 0;
    }
    int sign = **p == '+' ? 1 : **p == '-' ? -1 : 0, h, m;
    if (!sign)
        return -1;
    (*p)++;
    if (digits(p, 2, &h) < 0 || expect(p, ":") < 0 || digits(p, 2, &m) < 0 || h > 23 || m > 59)
        return -1;
    *minutes = sign * (h * 60 + m);
    return 0;
}

int timefmt_parse_rfc3339(const char *s, int64_t *ms_out)
{
    const char *p = s;
    int y, mo, d, h, mi, sec, off, frac = 0;
    if (!s || digits(&p, 4, &y) < 0 || expect(&p, "-") < 0 || digits(&p, 2, &mo) < 0 ||
        expect(&p, "-") < 0 || digits(&p, 2, &d) < 0 || expect(&p, "Tt ") < 0 ||
        digits(&p, 2, &h) < 0 || expect(&p, ":") < 0 || digits(&p, 2, &mi) < 0 ||
        expect(&p, ":") < 0 || digits(&p, 2, &sec) < 0)
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60)
        return -1;
    if (*p == '.') {
        int n = 0;
        for (p++; isdigit((unsigned char)*p); p++, n++)
            if (n < 3)
                frac = frac * 10 + (*p - '0');
        if (n == 0)
            return -1;
        for (; n < 3; n++)
            frac *= 10;
    }
    if (parse_offset(&p, &off) < 0 || *p)
        return -1;
    if (sec == 60) /* a leap second is read as the next second's start */
        sec = 59, frac = 999;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - (int64_t)off * 60;
    *ms_out = secs * 1000 + frac;
    return 0;
}

void timefmt_format_rfc3339(int64_t ms, char *out)
{
    int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    int frac = (int)(ms - secs * 1000);
    int64_t z = (secs >= 0 ? secs : secs - 86399) / 86400, rem = secs - z * 86400;
    /* civil_from_days, the inverse of days_from_civil */
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097, doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1), m = (int)(mp < 10 ? mp + 3 : mp - 9);
    int64_t y = yoe + era * 400 + (m <= 2);
    snprintf(out, TIMEFMT_RFC3339_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (int)y, m, d,
             (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), frac);
}

int timefmt_parse_duration(const char *s, int64_t *ms_out)
{
    if (!s || !isdigit((unsigned char)*s))
        return -1;
    int64_t n = 0;
    const char *p = s;
    for (; isdigit((unsigned char)*p); p++) {
        n = n * 10 + (*p - '0');
        if (n > 366LL * 86400)
            return -1;
    }
    int64_t unit = *p == 's' ? 1000 : *p == 'm' ? 60000 : *p == 'h' ? 3600000 : *p == 'd' ? 86400000 : 0;
    if (!unit || p[1] || n == 0 || n * unit > 366LL * 86400000)
        return -1;
    *ms_out = n * unit;
    return 0;
}
