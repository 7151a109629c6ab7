/* store_url.c - parsing of redis:// URLs (store_url_parse): userinfo, host, port and database,
 * percent-decoded, with a message naming what is wrong. */
#include "store.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* ================================================================ URL */

static void url_error(char *err, size_t errlen, const char *why)
{
    snprintf(err, errlen, "bad redis URL (want redis://[:password@]host[:port][/db]): %s", why);
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Copies src[0..n) into dst decoding %XX; -1 on a bad escape or when it does not fit. */
static int url_decode(char *dst, size_t dstlen, const char *src, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        if (c == '%') {
            int hi = i + 2 < n ? hex_digit(src[i + 1]) : -1;
            int lo = i + 2 < n ? hex_digit(src[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (o + 1 >= dstlen)
            return -1;
        dst[o++] = c;
    }
    dst[o] = '\0';
    return 0;
}

/* Parses a decimal integer in [lo, hi] spanning exactly s[0..n). */
static int parse_range(const char *s, size_t n, long lo, long hi, int *out)
{
    if (n == 0 || n > 10)
        return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_userinfo(const char *p, size_t n, struct store_url *out, char *err, size_t errlen)
{
    const char *colon = memchr(p, ':', n);
    if (!colon) {
        url_error(err, errlen, "credentials must be :password@ or user:password@");
        return -1;
    }
    size_t ulen = (size_t)(colon - p);
    if (url_decode(out->user, sizeof out->user, p, ulen) != 0 ||
        url_decode(out->password, sizeof out->password, colon + 1, n - ulen - 1) != 0) {
        url_error(err, errlen, "bad %-escape or credentials too long");
        return -1;
    }
    /* the password as given (a URL in an error) and decoded (an echo from the server) */
    char raw[sizeof out->password];
    snprintf(raw, sizeof raw, "%.*s", (int)(n - ulen - 1), colon + 1);
    log_add_secret(raw);
    log_add_secret(out->password);
    explicit_bzero(raw, sizeof raw);
    return 0;
}

/* host[:port] or [v6]:port within h[0..n). */
static int parse_hostport(const char *h, size_t n, struct store_url *out, char *err, size_t errlen)
{
    const char *host = h, *rest;
    size_t hlen;
    if (n > 0 && h[0] == '[') {
        const char *close = memchr(h, ']', n);
        if (!close) {
            url_error(err, errlen, "unclosed [ in host");
            return -1;
        }
        host = h + 1;
        hlen = (size_t)(close - host);
        rest = close + 1;
    } else {
        const char *colon = memchr(h, ':', n);
        rest = colon ? colon : h + n;
        hlen = (size_t)(rest - h);
    }
    if (hlen == 0 || hlen >= sizeof out->host) {
        url_error(err, errlen, hlen ? "host name too long" : "no host");
        return -1;
    }
    memcpy(out->host, host, hlen);
    out->host[hlen] = '\0';
    size_t left = (size_t)(h + n - rest);
    if (left == 0)
        return 0;
    if (rest[0] != ':' || parse_range(rest + 1, left - 1, 1, 65535, &out->port) != 0) {
        url_error(err, errlen, "port must be a number from 1 to 65535");
        return -1;
    }
    return 0;
}

int store_url_parse(const char *url, struct store_url *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->port = 6379;
    if (!url || strncmp(url, "redis://", 8) != 0) {
        url_error(err, errlen, "it must start with redis://");
        return -1;
    }
    const char *p = url + 8;
    size_t alen = strcspn(p, "/?#");
    const char *at = memrchr(p, '@', alen);
    if (at && parse_userinfo(p, (size_t)(at - p), out, err, errlen) != 0)
        return -1;
    const char *h = at ? at + 1 : p;
    if (parse_hostport(h, (size_t)(p + alen - h), out, err, errlen) != 0)
        return -1;
    const char *tail = p + alen;
    if (*tail == '\0')
        return 0;
    size_t dlen = strlen(tail + 1);
    if (*tail != '/' || (dlen > 0 && parse_range(tail + 1, dlen, 0, INT_MAX, &out->db) != 0)) {
        url_error(err, errlen, "the path must be a database number (/0, /1, ...)");
        return -1;
    }
    return 0;
}
