/* store_conn.c - the Redis connection: open, handshake, reconnect, ping, the store's error, and
 * the command and pipeline plumbing every store*.c file runs its calls through.
 *
 * The connection keeps its error in the object, hiredis style. Scripts are loaded once per
 * connection (SCRIPT LOAD) and run with EVALSHA; a server that forgot them (restart, SCRIPT
 * FLUSH) answers NOSCRIPT and gets the source with EVAL instead. struct store is defined here
 * and only here: the other files go through the functions of store_scripts.h. */
#include "store.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "clock.h"
#include "config.h"
#include "names.h"
#include "store_scripts.h"
#include "xalloc.h"

struct store {
    redisContext    *c;                     /* NULL while disconnected */
    struct store_url url;
    int              io_timeout_ms;         /* per command */
    char             label[300];            /* "redis HOST:PORT", prefix of every message */
    char             sha[SCRIPT_COUNT][41]; /* SHA1 of each script, from SCRIPT LOAD */
    char             err[1024];
    struct buf       resp;                  /* a pipelined call in Redis's protocol, reused */
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
    [SCRIPT_CACHE_CLAIM] = store_lua_cache_claim,
    [SCRIPT_CONTROL] = store_lua_control,
    [SCRIPT_ASIDE_CLAIM] = store_lua_aside_claim,
    [SCRIPT_ASIDE_UNCLAIM] = store_lua_aside_unclaim,
    [SCRIPT_RETAIN] = store_lua_retain,
    [SCRIPT_UNRETAIN] = store_lua_unretain,
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
    [SCRIPT_CACHE_CLAIM] = "cache claim script",
    [SCRIPT_CONTROL] = "campaign control script",
    [SCRIPT_ASIDE_CLAIM] = "aside claim script",
    [SCRIPT_ASIDE_UNCLAIM] = "aside unclaim script",
    [SCRIPT_RETAIN] = "retention script",
    [SCRIPT_UNRETAIN] = "retention removal script",
};

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
    struct store *s = xcalloc(1, sizeof *s);
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

struct store *store_open_config(const struct config *cfg, char *err, size_t errlen)
{
    return store_open(config_get(cfg, "redis.url"), (int)config_int(cfg, "redis.connect_timeout_ms"), err,
                      errlen);
}

void store_close(struct store *s)
{
    if (!s)
        return;
    if (s->c)
        redisFree(s->c);
    explicit_bzero(s->url.password, sizeof s->url.password);
    buf_free(&s->resp);
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

/* Appends prefix, the digits of n and CRLF: RESP's array ("*N") and bulk ("$N") headers. */
static void put_len(struct buf *b, char prefix, size_t n)
{
    char tmp[24];
    size_t i = sizeof tmp;
    tmp[--i] = '\n';
    tmp[--i] = '\r';
    do
        tmp[--i] = (char)('0' + n % 10);
    while ((n /= 10) > 0);
    tmp[--i] = prefix;
    buf_append(b, tmp + i, sizeof tmp - i);
}

/* The call in Redis's protocol (an array of bulk strings), formatted here and handed to hiredis
 * whole: redisAppendCommandArgv formats through sds printf-style calls, which cost a consumer
 * more than a microsecond per command on its hot path (a render-once lookup and put are six). */
static int append_call(struct store *s, struct store_call *call, int eval)
{
    if (call->script >= 0)
        fill_script(s, call, eval);
    struct buf *b = &s->resp;
    buf_reset(b);
    put_len(b, '*', (size_t)call->argc);
    for (int i = 0; i < call->argc; i++) {
        put_len(b, '$', call->lens[i]);
        buf_append(b, call->argv[i], call->lens[i]);
        buf_append(b, "\r\n", 2);
    }
    return redisAppendFormattedCommand(s->c, b->data, b->len);
}

void store_free_replies(redisReply **replies, size_t n)
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
int store_pipeline_send(struct store *s, struct store_call *calls, size_t n)
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

/* Reads the replies of n calls sent by store_pipeline_send (replies[] all NULL on entry). */
int store_pipeline_recv(struct store *s, struct store_call *calls, size_t n, redisReply **replies)
{
    if (read_replies(s, replies, n) != 0 || resend_forgotten(s, calls, n, replies) != 0 ||
        check_replies(s, calls, n, replies) != 0) {
        store_free_replies(replies, n);
        return -1;
    }
    return 0;
}

int store_pipeline(struct store *s, struct store_call *calls, size_t n, redisReply **replies)
{
    for (size_t i = 0; i < n; i++)
        replies[i] = NULL;
    if (store_pipeline_send(s, calls, n) != 0)
        return -1;
    return store_pipeline_recv(s, calls, n, replies);
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
