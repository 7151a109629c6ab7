/* utf8.c - strict UTF-8 validation and counting; see utf8.h.
 *
 * The validator follows the table of well-formed byte sequences in the Unicode Standard (ch. 3,
 * table 3-7): the allowed range of the second byte depends on the first byte, which is how
 * overlongs (E0 80..9F, F0 80..8F), surrogates (ED A0..BF) and values past U+10FFFF (F4 90..,
 * F5..FF) are excluded without decoding. ASCII runs take a fast path because almost every byte a
 * campaign carries is ASCII. */
#include "utf8.h"


/* Length of the sequence that starts with lead byte c, or 0 when c cannot start one. Also sets
 * the allowed range of the second byte; later bytes are always 80..BF. */
static size_t utf8_lead(unsigned char c, unsigned char *lo, unsigned char *hi)
{
    *lo = 0x80;
    *hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        return 2;
    if (c >= 0xE0 && c <= 0xEF) {
        if (c == 0xE0)
            *lo = 0xA0;     /* below is overlong */
        else if (c == 0xED)
            *hi = 0x9F;     /* above is a surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (c == 0xF0)
            *lo = 0x90;     /* below is overlong */
        else if (c == 0xF4)
            *hi = 0x8F;     /* above is past U+10FFFF */
        return 4;
    }
    return 0;               /* 80..C1 (continuation or overlong lead), F5..FF */
}

bool utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        unsigned char lo, hi;
        size_t n = utf8_lead(p[i], &lo, &hi);
        if (n == 0 || len - i < n)
            return false;
        if (p[i + 1] < lo || p[i + 1] > hi)
            return false;
        for (size_t k = 2; k < n; k++)
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
        i += n;
    }
    return true;
}

bool utf8_has_control(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < 0x20 || p[i] == 0x7F)
            return true;
        /* C1 controls are U+0080..U+009F, encoded C2 80..C2 9F. */
        if (p[i] == 0xC2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F)
            return true;
    }
    return false;
}

size_t utf8_count(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += (p[i] & 0xC0) != 0x80;
    return n;
}
