/* store.c - Redis connection, script plumbing, campaigns and batched contact transitions.
 *
 * The connection keeps its error in the object, hiredis style. Scripts are loaded once per
 * connection (SCRIPT LOAD) and run with EVALSHA; a server that forgot them (restart, SCRIPT
 * FLUSH) answers NOSCRIPT and gets the source with EVAL instead. A batch is split per campaign,
 * because one script may only touch keys of one hash slot, and the per-campaign script calls are
 * pipelined, so a batch costs one round trip whatever it holds. The DLQ lives in store_dlq.c. */
#include "store.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "log.h"
#include "names.h"
#include "store_scripts.h"

struct store {
    redisContext    *c;                     /* NULL while disconnected */
    struct store_url url;
    int              io_timeout_ms;         /* per command */
    char             label[300];            /* "redis HOST:PORT", prefix of every message */
    char             sha[SCRIPT_COUNT][41]; /* SHA1 of each script, from SCRIPT LOAD */
    char             err[1024];
};

static const char *const script_src[SCRIPT_COUNT] = {
    [SCRIPT_BATCH] = store_lua_batch,
    [SCRIPT_CREATE] = store_lua_create,
    [SCRIPT_DLQ_WINDOW] = store_lua_dlq_window,
    [SCRIPT_DLQ_PURGE] = store_lua_dlq_purge,
    [SCRIPT_DLQ_CLAIM] = store_lua_dlq_claim,
    [SCRIPT_DLQ_REPLAYED] = store_lua_dlq_replayed,
    [SCRIPT_DLQ_UNCLAIM] = store_lua_dlq_unclaim,
    [SCRIPT_LOCK_REFRESH] = store_lua_lock_refresh,
    [SCRIPT_UNLOCK] = store_lua_unlock,
};

static const char *const script_name[SCRIPT_COUNT] = {
    [SCRIPT_BATCH] = "batch script",
    [SCRIPT_CREATE] = "create script",
    [SCRIPT_DLQ_WINDOW] = "dlq list script",
    [SCRIPT_DLQ_PURGE] = "dlq purge script",
    [SCRIPT_DLQ_CLAIM] = "dlq claim script",
    [SCRIPT_DLQ_REPLAYED] = "dlq replayed script",
    [SCRIPT_DLQ_UNCLAIM] = "dlq unclaim script",
    [SCRIPT_LOCK_REFRESH] = "lock refresh script",
    [SCRIPT_UNLOCK] = "unlock script",
};

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

/* ================================================================ errors and ids */

void store_fail(struct store *s, const char *fmt, ...)
{
    int n = snprintf(s->err, sizeof s->err, "%s: ", s->label);
    if (n < 0 || (size_t)n >= sizeof s->err)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err + n, sizeof s->err - (size_t)n, fmt, ap);
    va_end(ap);
}

const char *store_error(const struct store *s)
{
    return s ? s->err : "no store";
}

int store_id_valid(const char *campaign)
{
    return names_campaign_valid(campaign);
}

int store_check_id(struct store *s, const char *campaign)
{
    if (store_id_valid(campaign))
        return 0;
    store_fail(s, "invalid campaign id \"%.80s\" (want 1-64 of A-Z a-z 0-9 . _ -)",
               campaign ? campaign : "(null)");
    return -1;
}

void store_key(char *out, size_t outlen, const char *campaign, const char *suffix)
{
    snprintf(out, outlen, "voxcast:{%s}:%s", campaign, suffix);
}

/* ================================================================ connection */

static int reply_is_error(const redisReply *r, const char *prefix)
{
    return r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, prefix, strlen(prefix)) == 0;
}

/* Drops a broken connection, keeping hiredis's reason (a read timeout shows as EAGAIN). */
static void io_fail(struct store *s)
{
    if (s->c && s->c->err == REDIS_ERR_IO && strstr(s->c->errstr, "temporarily unavailable"))
        store_fail(s, "no reply within %d ms", s->io_timeout_ms);
    else
        store_fail(s, "%s", s->c && s->c->errstr[0] ? s->c->errstr : "connection lost");
    if (s->c)
        redisFree(s->c);
    s->c = NULL;
}

/* Sends a handshake command; 0 ok, -1 with *fatal = 1 unless Redis is only still loading. */
static int handshake_cmd(struct store *s, redisReply *r, const char *what, int *fatal)
{
    if (!r) {
        io_fail(s);
        return -1;
    }
    int bad = r->type == REDIS_REPLY_ERROR;
    if (bad) {
        *fatal = !reply_is_error(r, "LOADING");
        store_fail(s, "%s: %s", what, r->str);
    }
    freeReplyObject(r);
    return bad ? -1 : 0;
}

static int load_scripts(struct store *s, int *fatal)
{
    for (int i = 0; i < SCRIPT_COUNT; i++)
        redisAppendCommand(s->c, "SCRIPT LOAD %s", script_src[i]);
    int rc = 0;
    for (int i = 0; i < SCRIPT_COUNT; i++) {
        redisReply *r = NULL;
        if (redisGetReply(s->c, (void **)&r) != REDIS_OK) {
            io_fail(s);
            return -1;
        }
        if (r->type == REDIS_REPLY_STRING && r->len == 40)
            memcpy(s->sha[i], r->str, 41);
        else if (rc == 0 && r->type == REDIS_REPLY_ERROR) {
            *fatal = !reply_is_error(r, "LOADING");
            store_fail(s, "SCRIPT LOAD: %s", r->str);
            rc = -1;
        }
        freeReplyObject(r);
    }
    return rc;
}

static int handshake(struct store *s, int *fatal)
{
    const struct store_url *u = &s->url;
    if (u->user[0] &&
        handshake_cmd(s, redisCommand(s->c, "AUTH %s %s", u->user, u->password), "AUTH", fatal))
        return -1;
    if (!u->user[0] && u->password[0] &&
        handshake_cmd(s, redisCommand(s->c, "AUTH %s", u->password), "AUTH", fatal))
        return -1;
    if (u->db != 0 && handshake_cmd(s, redisCommand(s->c, "SELECT %d", u->db), "SELECT", fatal))
        return -1;
    return load_scripts(s, fatal);
}

static struct timeval tv_ms(int ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    return tv;
}

/* One connection attempt with its handshake; -1 with s->err set, *fatal when retrying is pointless. */
static int connect_once(struct store *s, int connect_ms, int *fatal)
{
    if (s->c)
        redisFree(s->c);
    s->c = redisConnectWithTimeout(s->url.host, s->url.port, tv_ms(connect_ms));
    if (!s->c || s->c->err) {
        store_fail(s, "%s", s->c ? s->c->errstr : "out of memory");
        if (s->c)
            redisFree(s->c);
        s->c = NULL;
        return -1;
    }
    redisSetTimeout(s->c, tv_ms(s->io_timeout_ms));
    redisEnableKeepAlive(s->c);
    if (handshake(s, fatal) != 0) {
        if (s->c)
            redisFree(s->c);
        s->c = NULL;
        return -1;
    }
    return 0;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void make_label(struct store *s)
{
    const char *fmt = strchr(s->url.host, ':') ? "redis [%s]:%d" : "redis %s:%d";
    snprintf(s->label, sizeof s->label, fmt, s->url.host, s->url.port);
}

struct store *store_open(const char *url, int timeout_ms, char *err, size_t errlen)
{
    struct store *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "redis: out of memory");
        return NULL;
    }
    if (store_url_parse(url, &s->url, err, errlen) != 0) {
        free(s);
        return NULL;
    }
    make_label(s);
    if (timeout_ms < 0)
        timeout_ms = 0;
    s->io_timeout_ms = timeout_ms > 1000 ? timeout_ms : 1000;
    int64_t deadline = clock_mono_ms() + timeout_ms, delay = 10;
    int fatal = 0;
    for (;;) {
        int64_t left = deadline - clock_mono_ms();
        int attempt_ms = left > 0 && left < s->io_timeout_ms ? (int)left : s->io_timeout_ms;
        if (connect_once(s, attempt_ms, &fatal) == 0)
            return s;
        left = deadline - clock_mono_ms();
        if (fatal || left <= 0)
            break;
        sleep_ms(delay < left ? delay : left);
        delay = delay * 2 < 250 ? delay * 2 : 250;
    }
    if (fatal || timeout_ms == 0)
        snprintf(err, errlen, "%s", s->err);
    else
        snprintf(err, errlen, "%s (gave up after %d ms)", s->err, timeout_ms);
    store_close(s);
    return NULL;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    if (s->c)
        redisFree(s->c);
    explicit_bzero(s->url.password, sizeof s->url.password);
    free(s);
}

int store_reconnect(struct store *s)
{
    int fatal = 0;
    return connect_once(s, s->io_timeout_ms, &fatal);
}

int store_ping(struct store *s)
{
    redisReply *r = store_command(s, "PING");
    if (!r)
        return -1;
    freeReplyObject(r);
    return 0;
}

/* ================================================================ commands and pipelines */

static void fill_script(struct store *s, struct store_call *call, int eval)
{
    call->argv[0] = eval ? "EVAL" : "EVALSHA";
    call->lens[0] = strlen(call->argv[0]);
    call->argv[1] = eval ? script_src[call->script] : s->sha[call->script];
    call->lens[1] = strlen(call->argv[1]);
}

static int append_call(struct store *s, struct store_call *call, int eval)
{
    if (call->script >= 0)
        fill_script(s, call, eval);
    return redisAppendCommandArgv(s->c, call->argc, call->argv, call->lens);
}

static void free_replies(redisReply **replies, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (replies[i])
            freeReplyObject(replies[i]);
        replies[i] = NULL;
    }
}

/* Reads the reply of every call whose slot is still empty. */
static int read_replies(struct store *s, redisReply **replies, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (replies[i])
            continue;
        if (redisGetReply(s->c, (void **)&replies[i]) != REDIS_OK || !replies[i]) {
            replies[i] = NULL;
            io_fail(s);
            return -1;
        }
    }
    return 0;
}

/* Re-sends with EVAL every script call Redis answered NOSCRIPT, then reads those replies. */
static int resend_forgotten(struct store *s, struct store_call *calls, size_t n, redisReply **replies)
{
    int again = 0;
    for (size_t i = 0; i < n; i++) {
        if (calls[i].script < 0 || !reply_is_error(replies[i], "NOSCRIPT"))
            continue;
        freeReplyObject(replies[i]);
        replies[i] = NULL;
        if (append_call(s, &calls[i], 1) != REDIS_OK) {
            io_fail(s);
            return -1;
        }
        again = 1;
    }
    return again ? read_replies(s, replies, n) : 0;
}

static int check_replies(struct store *s, struct store_call *calls, size_t n, redisReply **replies)
{
    for (size_t i = 0; i < n; i++) {
        if (replies[i]->type != REDIS_REPLY_ERROR)
            continue;
        const char *what = calls[i].script >= 0 ? script_name[calls[i].script] : calls[i].argv[0];
        store_fail(s, "%s: %s", what, replies[i]->str);
        return -1;
    }
    return 0;
}

static int ensure_connected(struct store *s)
{
    return s->c ? 0 : store_reconnect(s);
}

/* Queues n calls and writes them out without reading a reply, so Redis starts on them. */
static int pipeline_send(struct store *s, struct store_call *calls, size_t n)
{
    if (ensure_connected(s) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (append_call(s, &calls[i], 0) != REDIS_OK) {
            io_fail(s);
            return -1;
        }
    }
    int done = 0;
    while (!done) {
        if (redisBufferWrite(s->c, &done) != REDIS_OK) {
            io_fail(s);
            return -1;
        }
    }
    return 0;
}

/* Reads the replies of n calls sent by pipeline_send (replies[] all NULL on entry). */
static int pipeline_recv(struct store *s, struct store_call *calls, size_t n, redisReply **replies)
{
    if (read_replies(s, replies, n) != 0 || resend_forgotten(s, calls, n, replies) != 0 ||
        check_replies(s, calls, n, replies) != 0) {
        free_replies(replies, n);
        return -1;
    }
    return 0;
}

int store_pipeline(struct store *s, struct store_call *calls, size_t n, redisReply **replies)
{
    for (size_t i = 0; i < n; i++)
        replies[i] = NULL;
    if (pipeline_send(s, calls, n) != 0)
        return -1;
    return pipeline_recv(s, calls, n, replies);
}

redisReply *store_call1(struct store *s, int script, int argc, const char **argv, size_t *lens)
{
    struct store_call call = {.script = script, .argc = argc, .argv = argv, .lens = lens};
    redisReply *r;
    return store_pipeline(s, &call, 1, &r) == 0 ? r : NULL;
}

redisReply *store_command(struct store *s, const char *fmt, ...)
{
    if (ensure_connected(s) != 0)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    int rc = redisvAppendCommand(s->c, fmt, ap);
    va_end(ap);
    redisReply *r = NULL;
    if (rc != REDIS_OK || redisGetReply(s->c, (void **)&r) != REDIS_OK || !r) {
        io_fail(s);
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        store_fail(s, "%.*s: %s", (int)strcspn(fmt, " "), fmt, r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* A reply's integer, or its string parsed as one (HGET values); 0 for nil. */
static int64_t reply_int(const redisReply *r)
{
    if (r->type == REDIS_REPLY_INTEGER)
        return r->integer;
    if (r->type == REDIS_REPLY_STRING)
        return strtoll(r->str, NULL, 10);
    return 0;
}

/* ================================================================ campaigns */

int store_campaign_create(struct store *s, const char *campaign, int64_t now_ms)
{
    if (store_check_id(s, campaign) != 0)
        return -1;
    static const char *const keys[] = {"meta", "state"};
    char now[24];
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    const char *args[] = {now};
    redisReply *r = store_campaign_script(s, SCRIPT_CREATE, campaign, keys, 2, args, 1);
    if (!r)
        return -1;
    bool ok = r->type == REDIS_REPLY_ARRAY && r->elements == 3;
    int created = ok && r->element[0]->integer == 1, leftovers = ok && r->element[2]->integer == 1;
    long long created_at = ok ? (long long)reply_int(r->element[1]) : now_ms;
    freeReplyObject(r);
    /* Listed after the record exists, every time: a crash between the two heals on the next try. */
    r = store_command(s, "ZADD voxcast:campaigns %lld %s", created_at, campaign);
    if (!r)
        return -1;
    freeReplyObject(r);
    return !created ? 1 : leftovers ? 2 : 0;
}

static const char *const counter_fields[] = {"created_at", "enqueued",   "rejected",       "done",
                                             "dlq",        "duplicates", "audio_ms",       "completion",
                                             "completed_mark", "dlq_dropped"};

int store_campaign_set(struct store *s, const char *campaign, const char *field, const char *value)
{
    if (store_check_id(s, campaign) != 0)
        return -1;
    if (!field || !value) {
        store_fail(s, "campaign field or value missing");
        return -1;
    }
    for (size_t i = 0; i < sizeof counter_fields / sizeof *counter_fields; i++) {
        if (strcmp(field, counter_fields[i]) == 0) {
            store_fail(s, "campaign field \"%s\" moves only through state transitions", field);
            return -1;
        }
    }
    char meta[STORE_KEY_MAX];
    store_key(meta, sizeof meta, campaign, "meta");
    redisReply *r = store_command(s, "HSET %s %s %s", meta, field, value);
    if (r)
        freeReplyObject(r);
    return r ? 0 : -1;
}

int store_campaign_field(struct store *s, const char *campaign, const char *field, char **out)
{
    *out = NULL;
    if (store_check_id(s, campaign) != 0)
        return -1;
    char meta[STORE_KEY_MAX];
    store_key(meta, sizeof meta, campaign, "meta");
    redisReply *r = store_command(s, "HGET %s %s", meta, field);
    if (!r)
        return -1;
    int rc = r->type == REDIS_REPLY_STRING ? 0 : 1;
    if (rc == 0)
        *out = strndup(r->str, r->len);
    freeReplyObject(r);
    return rc;
}

int store_campaign_add_rejected(struct store *s, const char *campaign, int64_t n)
{
    if (store_check_id(s, campaign) != 0)
        return -1;
    char meta[STORE_KEY_MAX];
    store_key(meta, sizeof meta, campaign, "meta");
    redisReply *r = store_command(s, "HINCRBY %s rejected %lld", meta, (long long)n);
    if (r)
        freeReplyObject(r);
    return r ? 0 : -1;
}

#define INFO_HMGET                                                                                  \
    "HMGET %s created_at launch_state enqueued rejected done dlq duplicates audio_ms dlq_dropped"
#define INFO_FIELDS 9

/* Fills *out from an INFO_HMGET reply; 1 when the record does not exist. */
static int info_from_reply(const redisReply *r, const char *campaign, struct campaign_info *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->id, sizeof out->id, "%s", campaign);
    if (r->type != REDIS_REPLY_ARRAY || r->elements != INFO_FIELDS)
        return 1;
    int found = 0;
    for (size_t i = 0; i < INFO_FIELDS; i++)
        found |= r->element[i]->type != REDIS_REPLY_NIL;
    int64_t *nums[] = {&out->created_at_ms, NULL, &out->enqueued, &out->rejected,
                       &out->done, &out->dlq, &out->duplicates, &out->audio_ms, &out->dlq_dropped};
    for (size_t i = 0; i < INFO_FIELDS; i++) {
        if (nums[i])
            *nums[i] = reply_int(r->element[i]);
    }
    if (r->element[1]->type == REDIS_REPLY_STRING)
        snprintf(out->launch_state, sizeof out->launch_state, "%s", r->element[1]->str);
    return found ? 0 : 1;
}

int store_campaign_get(struct store *s, const char *campaign, struct campaign_info *out)
{
    if (store_check_id(s, campaign) != 0)
        return -1;
    char meta[STORE_KEY_MAX];
    store_key(meta, sizeof meta, campaign, "meta");
    redisReply *r = store_command(s, INFO_HMGET, meta);
    if (!r)
        return -1;
    int rc = info_from_reply(r, campaign, out);
    freeReplyObject(r);
    return rc;
}

int store_campaign_by_provider(struct store *s, const char *campaign, json_t **out)
{
    *out = NULL;
    if (store_check_id(s, campaign) != 0)
        return -1;
    char prov[STORE_KEY_MAX];
    store_key(prov, sizeof prov, campaign, "prov");
    redisReply *r = store_command(s, "HGETALL %s", prov);
    if (!r)
        return -1;
    json_t *obj = json_object();
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2)
        json_object_set_new(obj, r->element[i]->str, json_integer(reply_int(r->element[i + 1])));
    freeReplyObject(r);
    *out = obj;
    return 0;
}

/* Reads the records of the listed campaigns in one round trip. */
static int list_records(struct store *s, const redisReply *names, struct campaign_info *out,
                        size_t *n)
{
    size_t count = names->elements / 2;
    struct store_call *calls = calloc(count, sizeof *calls);
    const char **argv = calloc(count * 2, sizeof *argv);
    size_t *lens = calloc(count * 2, sizeof *lens);
    char (*keys)[STORE_KEY_MAX] = calloc(count, sizeof *keys);
    redisReply **replies = calloc(count, sizeof *replies);
    size_t used = 0;
    int rc = -1;
    if (!calls || !argv || !lens || !keys || !replies) {
        store_fail(s, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        const char *id = names->element[2 * i]->str;
        if (!store_id_valid(id))
            continue;
        store_key(keys[used], STORE_KEY_MAX, id, "meta");
        argv[2 * used] = "HGETALL";
        argv[2 * used + 1] = keys[used];
        calls[used] = (struct store_call){-1, 2, argv + 2 * used, lens + 2 * used};
        lens[2 * used] = 7;
        lens[2 * used + 1] = strlen(keys[used]);
        used++;
    }
    if (store_pipeline(s, calls, used, replies) != 0)
        goto out;
    size_t j = 0;
    for (size_t i = 0; i < count; i++) {
        const char *id = names->element[2 * i]->str;
        if (!store_id_valid(id))
            continue;
        struct campaign_info *ci = &out[j];
        memset(ci, 0, sizeof *ci);
        snprintf(ci->id, sizeof ci->id, "%s", id);
        ci->created_at_ms = reply_int(names->element[2 * i + 1]);
        const redisReply *h = replies[j++];
        for (size_t k = 0; h->type == REDIS_REPLY_ARRAY && k + 1 < h->elements; k += 2) {
            const char *f = h->element[k]->str;
            const redisReply *v = h->element[k + 1];
            if (strcmp(f, "launch_state") == 0)
                snprintf(ci->launch_state, sizeof ci->launch_state, "%s", v->str);
            else if (strcmp(f, "enqueued") == 0)
                ci->enqueued = reply_int(v);
            else if (strcmp(f, "rejected") == 0)
                ci->rejected = reply_int(v);
            else if (strcmp(f, "done") == 0)
                ci->done = reply_int(v);
            else if (strcmp(f, "dlq") == 0)
                ci->dlq = reply_int(v);
            else if (strcmp(f, "duplicates") == 0)
                ci->duplicates = reply_int(v);
            else if (strcmp(f, "audio_ms") == 0)
                ci->audio_ms = reply_int(v);
            else if (strcmp(f, "dlq_dropped") == 0)
                ci->dlq_dropped = reply_int(v);
        }
    }
    *n = j;
    free_replies(replies, used);
    rc = 0;
out:
    free(calls);
    free(argv);
    free(lens);
    free(keys);
    free(replies);
    return rc;
}

int store_campaign_list(struct store *s, struct campaign_info **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    redisReply *names = store_command(s, "ZREVRANGE voxcast:campaigns 0 -1 WITHSCORES");
    if (!names)
        return -1;
    size_t count = names->type == REDIS_REPLY_ARRAY ? names->elements / 2 : 0;
    int rc = 0;
    if (count > 0) {
        *out = calloc(count, sizeof **out);
        rc = *out ? list_records(s, names, *out, n) : -1;
        if (!*out)
            store_fail(s, "out of memory");
        if (rc != 0 || *n == 0) {
            free(*out);
            *out = NULL;
        }
    }
    freeReplyObject(names);
    return rc;
}

int64_t store_contact_state(struct store *s, const char *campaign, const char *contact, size_t len,
                            char *state_out)
{
    *state_out = 0;
    if (store_check_id(s, campaign) != 0)
        return -1;
    char state[STORE_KEY_MAX];
    store_key(state, sizeof state, campaign, "state");
    redisReply *r = store_command(s, "HGET %s %b", state, contact, len);
    if (!r)
        return -1;
    if (r->type == REDIS_REPLY_STRING && r->len >= 1)
        *state_out = r->str[0]; /* the letter; a run tag may follow */
    const char *slash = *state_out == 'p' ? memchr(r->str, '/', r->len) : NULL;
    redisReply *ack = NULL;
    if (slash) { /* pending in a launch chunk: only once the chunk is acknowledged */
        char chunks[STORE_KEY_MAX];
        store_key(chunks, sizeof chunks, campaign, "chunks");
        ack = store_command(s, "HGET %s %b", chunks, r->str + 1, r->len - 1);
        if (ack && !(ack->type == REDIS_REPLY_STRING && strcmp(ack->str, "a") == 0))
            *state_out = 'r';
    }
    freeReplyObject(r);
    if (slash && !ack)
        return -1;
    if (ack)
        freeReplyObject(ack);
    return 0;
}

/* ================================================================ scripts and locks */

redisReply *store_campaign_script(struct store *s, enum store_script_id script, const char *campaign,
                                  const char *const *suffixes, int nkeys, const char *const *args,
                                  int nargs)
{
    char keys[8][STORE_KEY_MAX], numkeys[8];
    const char *argv[3 + 8 + 4];
    size_t lens[3 + 8 + 4];
    snprintf(numkeys, sizeof numkeys, "%d", nkeys);
    argv[2] = numkeys;
    for (int i = 0; i < nkeys; i++) {
        store_key(keys[i], sizeof keys[i], campaign, suffixes[i]);
        argv[3 + i] = keys[i];
    }
    for (int i = 0; i < nargs; i++)
        argv[3 + nkeys + i] = args[i];
    int argc = 3 + nkeys + nargs;
    for (int i = 2; i < argc; i++)
        lens[i] = strlen(argv[i]);
    return store_call1(s, script, argc, argv, lens);
}

/* ---------------------------------------------------------------- locks */

static const char *const lock_keys[] = {[STORE_LOCK_REPLAY] = "dlq:lock", [STORE_LOCK_LAUNCH] = "launch:lock"};

int store_lock(struct store *s, const char *campaign, enum store_lock which, const char *token, int64_t ttl_ms)
{
    if (store_check_id(s, campaign) != 0)
        return -1;
    char lock[STORE_KEY_MAX];
    store_key(lock, sizeof lock, campaign, lock_keys[which]);
    redisReply *r = store_command(s, "SET %s %s NX PX %lld", lock, token, (long long)ttl_ms);
    if (!r)
        return -1;
    int got = r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    return got ? 0 : 1;
}

/* Runs a lock script taking the token (and ttl); 0 when it acted, 1 when the lock is not ours. */
static int lock_script(struct store *s, enum store_script_id script, const char *campaign,
                       enum store_lock which, const char *token, const char *ttl)
{
    if (store_check_id(s, campaign) != 0)
        return -1;
    const char *args[] = {token, ttl};
    redisReply *r = store_campaign_script(s, script, campaign, &lock_keys[which], 1, args, ttl ? 2 : 1);
    if (!r)
        return -1;
    int ours = r->integer == 1;
    freeReplyObject(r);
    return ours ? 0 : 1;
}

int store_lock_refresh(struct store *s, const char *campaign, enum store_lock which, const char *token,
                       int64_t ttl_ms)
{
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_ms);
    return lock_script(s, SCRIPT_LOCK_REFRESH, campaign, which, token, ttl);
}

int store_unlock(struct store *s, const char *campaign, enum store_lock which, const char *token)
{
    return lock_script(s, SCRIPT_UNLOCK, campaign, which, token, NULL);
}

/* ================================================================ batches */

struct store_op {
    size_t  contact, contact_len; /* offsets into the arena */
    size_t  extra, extra_len;     /* provider or entry JSON */
    size_t  event, event_len;     /* done, dlq: results event JSON ("" for none) */
    int64_t audio_ms;             /* done: duration of the delivered audio */
    size_t  group;                /* index into groups */
    size_t  run;                  /* reserve, chunk ack: index into the group's runs */
    uint32_t chunk;               /* reserve, chunk ack: the run's chunk; 0 for none */
    char    kind;                 /* 'R', 'N', 'K', 'A', 'U', 'D', 'Q', 'C' (the script's op codes) */
    uint8_t result;               /* enum store_result */
};

struct store_run {
    char id[65];
};

struct store_group {
    char              campaign[65];
    struct store_run *runs;
    size_t            nruns;
    size_t            nops, nitems; /* ops of this group and the ARGV items they carry */
    int               parks;        /* has dlq ops: list the campaign in voxcast:dlq:campaigns */
    struct store_completion done;   /* after exec: whether this batch completed the campaign */
};

struct exec_plan;

struct store_batch {
    struct store_op    *ops;
    size_t              nops, cap;
    struct store_group *groups;
    size_t              ngroups, gcap;
    size_t              last_group;  /* most batches hold one campaign: try it first */
    struct buf          arena;       /* every copied string */
    char                writer[17];  /* random id of this batch object: its `applied` key */
    unsigned long long  generation;  /* bumped by reset: tells a retry from a new batch */
    int64_t             dlq_cap;     /* dlq.max_entries_per_campaign; 0: no cap */
    struct exec_plan   *sent;        /* the calls store_batch_send wrote, until store_batch_wait */
};

#define GROUP_KEYS 11 /* meta state prov dlq dlq:e dlq:c dlq:seq applied:W runs chunks outbox */

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p) {
        fputs("voxcast: out of memory\n", stderr);
        abort();
    }
    return p;
}

static void random_hex(char *out, size_t nbytes)
{
    unsigned char raw[16] = {0};
    if (nbytes > sizeof raw)
        nbytes = sizeof raw;
    if (getrandom(raw, nbytes, 0) != (ssize_t)nbytes) {
        unsigned long long x = (unsigned long long)clock_mono_ms() * 0x9E3779B97F4A7C15ULL ^
                               (unsigned long long)getpid() ^ (unsigned long long)(uintptr_t)out;
        for (size_t i = 0; i < nbytes; i++, x >>= 8)
            raw[i] ^= (unsigned char)x;
    }
    for (size_t i = 0; i < nbytes; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

struct store_batch *store_batch_new(void)
{
    struct store_batch *b = xrealloc(NULL, sizeof *b);
    memset(b, 0, sizeof *b);
    random_hex(b->writer, 8);
    return b;
}

void store_batch_free(struct store_batch *b)
{
    if (!b)
        return;
    store_batch_reset(b);
    free(b->ops);
    free(b->groups);
    buf_free(&b->arena);
    free(b);
}

static void batch_forget_sent(struct store_batch *b);

void store_batch_reset(struct store_batch *b)
{
    batch_forget_sent(b);
    for (size_t i = 0; i < b->ngroups; i++)
        free(b->groups[i].runs);
    b->nops = 0;
    b->ngroups = 0;
    b->last_group = 0;
    buf_reset(&b->arena);
    b->generation++;
}

void store_batch_set_dlq_cap(struct store_batch *b, int64_t max_entries)
{
    b->dlq_cap = max_entries > 0 ? max_entries : 0;
}

size_t store_batch_len(const struct store_batch *b)
{
    return b->nops;
}

enum store_result store_batch_result(const struct store_batch *b, size_t i)
{
    return i < b->nops ? (enum store_result)b->ops[i].result : STORE_INVALID;
}

static size_t arena_put(struct store_batch *b, const char *p, size_t n)
{
    size_t off = b->arena.len;
    buf_append(&b->arena, p, n);
    buf_putc(&b->arena, '\0'); /* each string ends in NUL: handy when debugging */
    return off;
}

/* The group of campaign, created on first use; SIZE_MAX when the id is invalid. */
static size_t group_of(struct store_batch *b, const char *campaign)
{
    if (b->last_group < b->ngroups && strcmp(b->groups[b->last_group].campaign, campaign) == 0)
        return b->last_group;
    for (size_t i = 0; i < b->ngroups; i++) {
        if (strcmp(b->groups[i].campaign, campaign) == 0)
            return b->last_group = i;
    }
    if (!store_id_valid(campaign))
        return SIZE_MAX;
    if (b->ngroups == b->gcap) {
        b->gcap = b->gcap ? b->gcap * 2 : 4;
        b->groups = xrealloc(b->groups, b->gcap * sizeof *b->groups);
    }
    struct store_group *g = &b->groups[b->ngroups];
    memset(g, 0, sizeof *g);
    snprintf(g->campaign, sizeof g->campaign, "%s", campaign);
    return b->last_group = b->ngroups++;
}

/* Index of run_id among the group's runs, added on first use; SIZE_MAX when invalid. */
static size_t run_of(struct store_group *g, const char *run_id)
{
    for (size_t i = 0; i < g->nruns; i++) {
        if (strcmp(g->runs[i].id, run_id) == 0)
            return i;
    }
    if (!store_id_valid(run_id))
        return SIZE_MAX;
    g->runs = xrealloc(g->runs, (g->nruns + 1) * sizeof *g->runs);
    struct store_run *r = &g->runs[g->nruns];
    snprintf(r->id, sizeof r->id, "%s", run_id);
    return g->nruns++;
}

static size_t add_op(struct store_batch *b, char kind, const char *campaign, const char *run_id,
                     uint32_t chunk, const char *contact, size_t len, const char *extra)
{
    if (b->nops == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 256;
        b->ops = xrealloc(b->ops, b->cap * sizeof *b->ops);
    }
    struct store_op *op = &b->ops[b->nops];
    memset(op, 0, sizeof *op);
    op->kind = kind;
    op->chunk = chunk;
    op->result = STORE_PENDING;
    op->group = group_of(b, campaign);
    if (op->group != SIZE_MAX && run_id)
        op->run = run_of(&b->groups[op->group], run_id);
    if (op->group == SIZE_MAX || op->run == SIZE_MAX) {
        op->group = SIZE_MAX;
        op->result = STORE_INVALID;
        return b->nops++;
    }
    op->contact = arena_put(b, contact, len);
    op->contact_len = len;
    if (kind == 'D' || kind == 'Q') {
        op->extra_len = extra ? strlen(extra) : 0;
        op->extra = arena_put(b, extra ? extra : "", op->extra_len);
        op->event = arena_put(b, "", 0);
    }
    struct store_group *g = &b->groups[op->group];
    g->nops++;
    g->nitems += kind == 'D' ? 4 : kind == 'Q' ? 3 : 1;
    g->parks |= kind == 'Q';
    return b->nops++;
}

size_t store_batch_reserve(struct store_batch *b, const char *campaign, const char *run_id,
                           const char *contact, size_t len)
{
    return add_op(b, 'R', campaign, run_id ? run_id : "", 0, contact, len, NULL);
}

size_t store_batch_reserve_chunk(struct store_batch *b, const char *campaign, const char *run_id,
                                 uint32_t chunk, const char *contact, size_t len)
{
    return add_op(b, 'R', campaign, chunk && run_id ? run_id : "", chunk, contact, len, NULL);
}

size_t store_batch_reserve_new(struct store_batch *b, const char *campaign, const char *run_id,
                               uint32_t chunk, const char *contact, size_t len)
{
    return add_op(b, 'N', campaign, chunk && run_id ? run_id : "", chunk, contact, len, NULL);
}

size_t store_batch_ack_chunk(struct store_batch *b, const char *campaign, const char *run_id, uint32_t chunk)
{
    return add_op(b, 'K', campaign, chunk && run_id ? run_id : "", chunk, "", 0, NULL);
}

size_t store_batch_ack(struct store_batch *b, const char *campaign, const char *contact, size_t len)
{
    return add_op(b, 'A', campaign, NULL, 0, contact, len, NULL);
}

size_t store_batch_unreserve(struct store_batch *b, const char *campaign, const char *contact,
                             size_t len)
{
    return add_op(b, 'U', campaign, NULL, 0, contact, len, NULL);
}

size_t store_batch_check(struct store_batch *b, const char *campaign, const char *contact, size_t len)
{
    return add_op(b, 'C', campaign, NULL, 0, contact, len, NULL);
}

size_t store_batch_done(struct store_batch *b, const char *campaign, const char *contact, size_t len,
                        const char *provider)
{
    return add_op(b, 'D', campaign, NULL, 0, contact, len, provider);
}

size_t store_batch_dlq(struct store_batch *b, const char *campaign, const char *contact, size_t len,
                       const char *entry_json)
{
    return add_op(b, 'Q', campaign, NULL, 0, contact, len, entry_json);
}

/* Attaches a results event (and the audio's duration) to the done or dlq op just added. */
static size_t set_result(struct store_batch *b, size_t i, int64_t audio_ms, const char *event)
{
    struct store_op *op = &b->ops[i];
    if (op->group == SIZE_MAX)
        return i;
    op->audio_ms = audio_ms;
    if (event && *event) {
        op->event_len = strlen(event);
        op->event = arena_put(b, event, op->event_len);
    }
    return i;
}

size_t store_batch_done_result(struct store_batch *b, const char *campaign, const char *contact,
                               size_t len, const char *provider, int64_t audio_ms, const char *event_json)
{
    return set_result(b, store_batch_done(b, campaign, contact, len, provider), audio_ms, event_json);
}

size_t store_batch_dlq_result(struct store_batch *b, const char *campaign, const char *contact,
                              size_t len, const char *entry_json, const char *event_json)
{
    return set_result(b, store_batch_dlq(b, campaign, contact, len, entry_json), 0, event_json);
}

/* The argument vectors of one exec: per group a script call, plus one SADD for parking groups.
 * Every string the vectors point to lives in the batch's arena or in the plan. */
struct exec_plan {
    struct store_call *calls;
    size_t             ncalls;
    size_t            *call_group; /* group of each call; SIZE_MAX for a SADD */
    const char       **argv;
    size_t            *lens;
    size_t             nargs;      /* used */
    char             (*strs)[STORE_KEY_MAX]; /* keys, numbers and tokens */
    size_t             nstrs;      /* used */
    char             (*small)[40]; /* op kinds and counts of the runs of one kind */
    size_t             nsmall;     /* used */
};

static void plan_arg(struct exec_plan *p, const char *s, size_t len)
{
    p->argv[p->nargs] = s;
    p->lens[p->nargs++] = len;
}

/* Formats a plan-owned string and appends it as an argument. */
static void plan_argf(struct exec_plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void plan_argf(struct exec_plan *p, const char *fmt, ...)
{
    char *str = p->strs[p->nstrs++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(str, STORE_KEY_MAX, fmt, ap);
    va_end(ap);
    plan_arg(p, str, strlen(str));
}

/* Ends a run of ops of one kind: its count argument gets the number of ops. */
static void plan_close_run(struct exec_plan *p, size_t count_arg, size_t count)
{
    char *str = p->small[p->nsmall++];
    p->argv[count_arg] = str;
    p->lens[count_arg] = (size_t)snprintf(str, sizeof *p->small, "%zu", count);
}

/* The kind argument of a run starting with op: its letter, and for reserves and chunk acks the
 * 1-based run number and the chunk ("R2", "R2/17", "K2/17"). */
static void plan_kind(struct exec_plan *p, const struct store_op *op)
{
    char *str = p->small[p->nsmall++];
    size_t len;
    if (op->kind != 'R' && op->kind != 'N' && op->kind != 'K')
        len = (size_t)snprintf(str, sizeof *p->small, "%c", op->kind);
    else if (op->chunk == 0)
        len = (size_t)snprintf(str, sizeof *p->small, "%c%zu", op->kind, op->run + 1);
    else
        len = (size_t)snprintf(str, sizeof *p->small, "%c%zu/%" PRIu32, op->kind, op->run + 1, op->chunk);
    plan_arg(p, str, len);
}

/* The group's ops as runs of one kind: kind, count, items (see store_lua_batch). */
static void plan_ops(struct exec_plan *p, const struct store_batch *b, size_t gi)
{
    const char *arena = b->arena.data;
    size_t count_arg = 0, count = 0;
    const struct store_op *head = NULL; /* the first op of the current run */
    for (size_t i = 0; i < b->nops; i++) {
        const struct store_op *op = &b->ops[i];
        if (op->group != gi)
            continue;
        if (!head || op->kind != head->kind || op->run != head->run || op->chunk != head->chunk) {
            if (count)
                plan_close_run(p, count_arg, count);
            head = op;
            count = 0;
            plan_kind(p, op);
            count_arg = p->nargs;
            plan_arg(p, NULL, 0);
        }
        count++;
        plan_arg(p, arena + op->contact, op->contact_len);
        if (op->kind == 'D' || op->kind == 'Q')
            plan_arg(p, arena + op->extra, op->extra_len);
        if (op->kind == 'D') {
            char *ms = p->small[p->nsmall++];
            plan_arg(p, ms, (size_t)snprintf(ms, sizeof *p->small, "%" PRId64, op->audio_ms));
        }
        if (op->kind == 'D' || op->kind == 'Q')
            plan_arg(p, arena + op->event, op->event_len);
    }
    if (count)
        plan_close_run(p, count_arg, count);
}

static void plan_group(struct exec_plan *p, const struct store_batch *b, size_t gi)
{
    static const char *const suffix[] = {"meta", "state", "prov", "dlq", "dlq:e", "dlq:c", "dlq:seq"};
    const struct store_group *g = &b->groups[gi];
    size_t first = p->nargs;
    p->call_group[p->ncalls] = gi;
    plan_arg(p, NULL, 0); /* EVALSHA sha, filled by store_pipeline */
    plan_arg(p, NULL, 0);
    plan_argf(p, "%d", GROUP_KEYS);
    for (size_t k = 0; k < sizeof suffix / sizeof *suffix; k++)
        plan_argf(p, "voxcast:{%s}:%s", g->campaign, suffix[k]);
    plan_argf(p, "voxcast:{%s}:applied:%s", g->campaign, b->writer);
    plan_argf(p, "voxcast:{%s}:runs", g->campaign);
    plan_argf(p, "voxcast:{%s}:chunks", g->campaign);
    plan_argf(p, "voxcast:{%s}:outbox", g->campaign);
    if (b->dlq_cap > 0) /* the script reads the cap from the token (store_lua_batch) */
        plan_argf(p, "%llu.%zu.%" PRId64 "|", b->generation, g->nops, b->dlq_cap);
    else
        plan_argf(p, "%llu.%zu|", b->generation, g->nops);
    plan_arg(p, g->campaign, strlen(g->campaign));
    plan_argf(p, "%zu", g->nruns);
    for (size_t r = 0; r < g->nruns; r++)
        plan_arg(p, g->runs[r].id, strlen(g->runs[r].id));
    plan_ops(p, b, gi);
    p->calls[p->ncalls++] = (struct store_call){SCRIPT_BATCH, (int)(p->nargs - first),
                                                p->argv + first, p->lens + first};
}

static void plan_parking(struct exec_plan *p, const struct store_group *g)
{
    size_t first = p->nargs;
    p->call_group[p->ncalls] = SIZE_MAX;
    plan_arg(p, "SADD", 4);
    plan_arg(p, "voxcast:dlq:campaigns", strlen("voxcast:dlq:campaigns"));
    plan_arg(p, g->campaign, strlen(g->campaign));
    p->calls[p->ncalls++] = (struct store_call){-1, 3, p->argv + first, p->lens + first};
}

static void plan_free(struct exec_plan *p)
{
    free(p->calls);
    free(p->call_group);
    free(p->argv);
    free(p->lens);
    free(p->strs);
    free(p->small);
}

static void plan_build(struct exec_plan *p, const struct store_batch *b)
{
    /* per group: EVALSHA sha numkeys, keys, token campaign nruns, run ids, per op at most a
     * kind and a count plus its items; and SADD's 3 */
    size_t args = 1, strs = 1;
    for (size_t i = 0; i < b->ngroups; i++) {
        const struct store_group *g = &b->groups[i];
        args += 3 + GROUP_KEYS + 3 + g->nruns + 2 * g->nops + g->nitems + 3;
        strs += 1 + GROUP_KEYS + 2;
    }
    memset(p, 0, sizeof *p);
    p->calls = xrealloc(NULL, (2 * b->ngroups + 1) * sizeof *p->calls);
    p->call_group = xrealloc(NULL, (2 * b->ngroups + 1) * sizeof *p->call_group);
    p->argv = xrealloc(NULL, args * sizeof *p->argv);
    p->lens = xrealloc(NULL, args * sizeof *p->lens);
    p->strs = xrealloc(NULL, strs * sizeof *p->strs);
    p->small = xrealloc(NULL, (3 * b->nops + 1) * sizeof *p->small); /* kind, count, audio ms */
    for (size_t gi = 0; gi < b->ngroups; gi++) {
        if (b->groups[gi].nops == 0)
            continue;
        plan_group(p, b, gi);
        if (b->groups[gi].parks)
            plan_parking(p, &b->groups[gi]);
    }
}

/* Reads the script's completion suffix ("|L", or "|C" and four counts) into g->done. */
static int take_completion(struct store_group *g, const char *suffix, size_t len)
{
    memset(&g->done, 0, sizeof g->done);
    snprintf(g->done.campaign, sizeof g->done.campaign, "%s", g->campaign);
    if (len == 0)
        return 0;
    if (len == 2 && memcmp(suffix, "|L", 2) == 0) {
        g->done.state = STORE_DRAINED_LAUNCHING;
        return 0;
    }
    char text[128];
    if (len < 3 || len - 2 >= sizeof text || memcmp(suffix, "|C", 2) != 0)
        return -1;
    memcpy(text, suffix + 2, len - 2);
    text[len - 2] = '\0';
    return store_completion_parse(g->campaign, text, &g->done);
}

int store_completion_parse(const char *campaign, const char *text, struct store_completion *out)
{
    long long d, q, e, ms, at;
    if (sscanf(text, "%lld %lld %lld %lld %lld", &d, &q, &e, &ms, &at) != 5)
        return -1;
    *out = (struct store_completion){.state = STORE_COMPLETED, .done = d, .dlq = q, .enqueued = e,
                                     .audio_ms = ms, .at_ms = at};
    snprintf(out->campaign, sizeof out->campaign, "%s", campaign);
    return 0;
}

/* Copies a group's result characters into its ops, and its completion. */
static int take_results(struct store *s, struct store_batch *b, size_t gi, const redisReply *r)
{
    struct store_group *g = &b->groups[gi];
    if (r->type != REDIS_REPLY_STRING || r->len < g->nops ||
        take_completion(g, r->str + g->nops, r->len - g->nops) != 0) {
        store_fail(s, "batch script: unexpected reply for campaign %s", g->campaign);
        return -1;
    }
    size_t j = 0;
    for (size_t i = 0; i < b->nops; i++) {
        if (b->ops[i].group == gi)
            b->ops[i].result = (uint8_t)(r->str[j++] - '0');
    }
    return 0;
}

size_t store_batch_ncampaigns(const struct store_batch *b)
{
    return b->ngroups;
}

const struct store_completion *store_batch_completion(const struct store_batch *b, size_t k)
{
    return k < b->ngroups ? &b->groups[k].done : NULL;
}

static void batch_forget_sent(struct store_batch *b)
{
    if (b->sent) {
        plan_free(b->sent);
        free(b->sent);
        b->sent = NULL;
    }
}

int store_batch_send(struct store *s, struct store_batch *b)
{
    batch_forget_sent(b);
    for (size_t i = 0; i < b->nops; i++) {
        if (b->ops[i].group != SIZE_MAX)
            b->ops[i].result = STORE_PENDING;
    }
    b->sent = xrealloc(NULL, sizeof *b->sent);
    plan_build(b->sent, b);
    if (b->sent->ncalls > 0 && pipeline_send(s, b->sent->calls, b->sent->ncalls) != 0) {
        batch_forget_sent(b);
        return -1;
    }
    return 0;
}

int store_batch_wait(struct store *s, struct store_batch *b)
{
    if (!b->sent) {
        store_fail(s, "batch: waiting for a batch that was not sent");
        return -1;
    }
    struct exec_plan *p = b->sent;
    redisReply **replies = xrealloc(NULL, (p->ncalls + 1) * sizeof *replies);
    for (size_t i = 0; i < p->ncalls; i++)
        replies[i] = NULL;
    int rc = p->ncalls > 0 ? pipeline_recv(s, p->calls, p->ncalls, replies) : 0;
    for (size_t i = 0; rc == 0 && i < p->ncalls; i++) {
        if (p->call_group[i] != SIZE_MAX)
            rc = take_results(s, b, p->call_group[i], replies[i]);
    }
    free_replies(replies, p->ncalls); /* NULL-safe: a failed pipeline already freed them */
    free(replies);
    batch_forget_sent(b);
    return rc;
}

int store_batch_exec(struct store *s, struct store_batch *b)
{
    if (store_batch_send(s, b) != 0)
        return -1;
    return store_batch_wait(s, b);
}
