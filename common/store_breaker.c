/* store_breaker.c - the fleet's circuit breakers in Redis; see store_breaker.h for keys and meaning.
 *
 * One Lua script does a whole sync, so that "report, then read" is atomic: a consumer that
 * reports an open reads back the merged end time, and two consumers asking for the probe lease
 * at once cannot both get it (SET happens only after GET found it free, inside one script).
 * The script is sent with EVAL: Redis caches it by its SHA, and a sync is a few times a second
 * per consumer, so registering it with the store's SCRIPT LOAD set would buy nothing. */
#include "store_breaker.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_scripts.h"
#include "xalloc.h"

#define KEY_OPEN    "voxcast:{breakers}:open"
#define KEY_PROBE   "voxcast:{breakers}:probe:"
#define PROVIDER_MAX 63

/* KEYS: 1 the open hash, 1+i the probe lease of provider i.
 * ARGV: 1 token, 2 lease ms, then per provider: name, report ("-" | "O" | "C"), open ms,
 *       want ("-" | "P" | "R").
 * Returns per provider {open 0|1, remaining ms (Redis clock), probe lease ours 0|1}.
 * TIME makes the script non-deterministic: replicate_commands() (Redis 3.2-6; a no-op in 7)
 * replicates its effects instead of the script. Times are written with %.0f, never tostring(),
 * which would print 1.7e+12. */
static const char lua_sync[] =
    "redis.replicate_commands()\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local tok, lease, out = ARGV[1], ARGV[2], {}\n"
    "for i = 1, #KEYS - 1 do\n"
    "  local a = 2 + 4 * (i - 1)\n"
    "  local name, rep, ms, want = ARGV[a + 1], ARGV[a + 2], tonumber(ARGV[a + 3]), ARGV[a + 4]\n"
    "  local lk = KEYS[i + 1]\n"
    "  if rep == 'O' then\n"
    "    local u = now + ms\n"
    "    local cur = tonumber(redis.call('HGET', KEYS[1], name) or '0')\n"
    "    if u > cur then redis.call('HSET', KEYS[1], name, string.format('%.0f', u)) end\n"
    "    redis.call('DEL', lk)\n"
    "  elseif rep == 'C' then\n"
    "    redis.call('HDEL', KEYS[1], name)\n"
    "    redis.call('DEL', lk)\n"
    "  end\n"
    "  local u = tonumber(redis.call('HGET', KEYS[1], name) or '0')\n"
    "  local holder, mine = redis.call('GET', lk), 0\n"
    "  if want == 'P' and u > 0 and u <= now then\n"
    "    if not holder then\n"
    "      redis.call('SET', lk, tok, 'PX', lease)\n"
    "      mine = 1\n"
    "    elseif holder == tok then\n"
    "      redis.call('PEXPIRE', lk, lease)\n"
    "      mine = 1\n"
    "    end\n"
    "  elseif want == 'R' and holder == tok then\n"
    "    redis.call('DEL', lk)\n"
    "  end\n"
    "  if u > 0 then out[i] = {1, u - now, mine} else out[i] = {0, 0, 0} end\n"
    "end\n"
    "return out\n";

/* The argument vector of one sync: fixed strings point into static text, the rest into `text`. */
struct sync_args {
    const char **argv;
    size_t      *lens;
    char        *text;      /* keys and numbers, NUL-separated */
    size_t       used, cap;
    int          argc;
};

static void args_add(struct sync_args *a, const char *s, size_t len)
{
    a->argv[a->argc] = s;
    a->lens[a->argc] = len;
    a->argc++;
}

/* Formats into the text arena (sized beforehand, so pointers into it stay valid). */
static void args_addf(struct sync_args *a, const char *fmt, const char *s, int64_t n)
{
    char *p = a->text + a->used;
    int w = s ? snprintf(p, a->cap - a->used, fmt, s) : snprintf(p, a->cap - a->used, fmt, n);
    if (w < 0 || (size_t)w >= a->cap - a->used)
        w = 0;
    a->used += (size_t)w + 1;
    args_add(a, p, (size_t)w);
}

static int ops_valid(struct store *s, const char *token, const struct store_breaker_op *ops, size_t n)
{
    size_t tl = token ? strlen(token) : 0;
    if (tl == 0 || tl > 127) {
        store_fail(s, "breaker sync: token must be 1-127 bytes");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        size_t l = ops[i].provider ? strlen(ops[i].provider) : 0;
        if (l == 0 || l > PROVIDER_MAX) {
            store_fail(s, "breaker sync: provider name must be 1-%d bytes", PROVIDER_MAX);
            return -1;
        }
    }
    return 0;
}

static void build_args(struct sync_args *a, const char *token, int64_t lease_ms,
                       const struct store_breaker_op *ops, size_t n)
{
    static const char report_code[] = {[STORE_BREAKER_NONE] = '-', [STORE_BREAKER_OPENED] = 'O',
                                       [STORE_BREAKER_CLOSED] = 'C'};
    static const char want_code[] = {[STORE_BREAKER_IDLE] = '-', [STORE_BREAKER_PROBE] = 'P',
                                     [STORE_BREAKER_RELEASE] = 'R'};
    args_add(a, "EVAL", 4);
    args_add(a, lua_sync, sizeof lua_sync - 1);
    args_addf(a, "%" PRId64, NULL, (int64_t)(n + 1));
    args_add(a, KEY_OPEN, strlen(KEY_OPEN));
    for (size_t i = 0; i < n; i++)
        args_addf(a, KEY_PROBE "%s", ops[i].provider, 0);
    args_add(a, token, strlen(token));
    args_addf(a, "%" PRId64, NULL, lease_ms > 0 ? lease_ms : 1);
    for (size_t i = 0; i < n; i++) {
        unsigned r = ops[i].report <= STORE_BREAKER_CLOSED ? ops[i].report : STORE_BREAKER_NONE;
        unsigned w = ops[i].want <= STORE_BREAKER_RELEASE ? ops[i].want : STORE_BREAKER_IDLE;
        args_add(a, ops[i].provider, strlen(ops[i].provider));
        args_add(a, &report_code[r], 1);
        args_addf(a, "%" PRId64, NULL, ops[i].open_ms > 0 ? ops[i].open_ms : 0);
        args_add(a, &want_code[w], 1);
    }
}

static int parse_views(struct store *s, const redisReply *r, size_t n, struct store_breaker_view *out)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != n) {
        store_fail(s, "breaker sync: unexpected reply");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 3 || e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER || e->element[2]->type != REDIS_REPLY_INTEGER) {
            store_fail(s, "breaker sync: unexpected reply for provider %zu", i);
            return -1;
        }
        out[i].open = e->element[0]->integer != 0;
        out[i].remaining_ms = e->element[1]->integer;
        out[i].probe = e->element[2]->integer != 0;
    }
    return 0;
}

int store_breaker_sync(struct store *s, const char *token, int64_t lease_ms,
                       const struct store_breaker_op *ops, size_t n, struct store_breaker_view *out)
{
    if (n == 0)
        return 0;
    if (ops_valid(s, token, ops, n) != 0)
        return -1;
    size_t argmax = 6 + 5 * n;
    struct sync_args a = {.argv = xcalloc(argmax, sizeof *a.argv), .lens = xcalloc(argmax, sizeof *a.lens),
                          .cap = 64 + n * (sizeof KEY_PROBE + PROVIDER_MAX + 24)};
    a.text = xmalloc(a.cap);
    build_args(&a, token, lease_ms, ops, n);
    int rc = -1;
    redisReply *r = store_call1(s, -1, a.argc, a.argv, a.lens);
    if (r) {
        rc = parse_views(s, r, n, out);
        freeReplyObject(r);
    }
    free(a.argv);
    free(a.lens);
    free(a.text);
    return rc;
}

int store_breaker_reset(struct store *s, const char *const *providers, size_t n)
{
    redisReply *r = store_command(s, "DEL %s", KEY_OPEN);
    if (!r)
        return -1;
    freeReplyObject(r);
    for (size_t i = 0; i < n; i++) {
        r = store_command(s, "DEL %s%s", KEY_PROBE, providers[i]);
        if (!r)
            return -1;
        freeReplyObject(r);
    }
    return 0;
}
