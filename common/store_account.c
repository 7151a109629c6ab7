/* store_account.c - provider accounts shared by a fleet of consumers; see store_account.h.
 *
 * The scripts go out as EVAL with their source rather than EVALSHA: a sync is a few hundred
 * bytes more, and a Redis restarted mid-run (its script cache empty) needs no second round
 * trip and no error path; Redis compiles a source once and reuses it by its hash. */
#include "store_account.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_scripts.h"
#include "xalloc.h"

#define SYNC_KEYS 5
#define SYNC_ARGS 14
#define SYNC_ARGC (3 + SYNC_KEYS + SYNC_ARGS)  /* EVAL src numkeys keys args */
#define NUM_MAX   32

/* KEYS: 1 slots, 2 alive, 3 bucket, 4 limit, 5 paused.
 * ARGV: 1 consumer, 2 now ms ("" = TIME), 3 lease ttl ms, 4 configured limit, 5 slots wanted,
 * 6 in use, 7 rate, 8 bucket capacity, 9 tokens returned, 10 tokens wanted, 11 learn op
 * ("S" | "D" | "U" | ""), 12 learn value, 13 pause ms, 14 "1" to leave.
 * Returns {granted, fleet in flight, learned, tokens, pause left ms, live consumers}. */
static const char lua_sync[] =
    "if redis.replicate_commands then pcall(redis.replicate_commands) end\n"
    "local now = tonumber(ARGV[2])\n"
    "if not now then\n"
    "  local t = redis.call('TIME')\n"
    "  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "end\n"
    "local me, ttl = ARGV[1], tonumber(ARGV[3])\n"
    "local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)\n"
    "for i = 1, #dead, 1000 do\n"
    "  redis.call('HDEL', KEYS[1], unpack(dead, i, math.min(i + 999, #dead)))\n"
    "end\n"
    "if #dead > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) end\n"
    "if ARGV[14] == '1' then\n"
    "  redis.call('HDEL', KEYS[1], me)\n"
    "  redis.call('ZREM', KEYS[2], me)\n"
    "  return {0, 0, 0, 0, 0, 0}\n"
    "end\n"
    "local conf = tonumber(ARGV[4])\n"
    "local learned = tonumber(redis.call('HGET', KEYS[4], 'learned') or '0') or 0\n"
    "local op, v, was = ARGV[11], tonumber(ARGV[12]), learned\n"
    "if op == 'S' then learned = v\n"
    "elseif op == 'D' then if learned == 0 or v < learned then learned = v end\n"
    "elseif op == 'U' then if learned == v - 1 then learned = v end end\n"
    "if learned ~= was or redis.call('HGET', KEYS[4], 'conf') ~= ARGV[4] then\n"
    "  redis.call('HMSET', KEYS[4], 'learned', learned, 'conf', ARGV[4])\n"
    "end\n"
    "local limit = conf\n"
    "if learned > 0 and (limit == 0 or learned < limit) then limit = learned end\n"
    "local want, inuse = tonumber(ARGV[5]), tonumber(ARGV[6])\n"
    "local others, inflight, contenders, peers = 0, inuse, 0, {}\n"
    "if want > 0 then contenders = 1 end\n"
    "local all = redis.call('HGETALL', KEYS[1])\n"
    "for i = 1, #all, 2 do\n"
    "  if all[i] ~= me then\n"
    "    local h, w, u = string.match(all[i + 1], '^(%d+)/(%d+)/(%d+)$')\n"
    "    h, w, u = tonumber(h) or 0, tonumber(w) or 0, tonumber(u) or 0\n"
    "    others, inflight = others + h, inflight + u\n"
    "    if w > 0 then contenders = contenders + 1 end\n"
    "    peers[#peers + 1] = {h, w}\n"
    "  end\n"
    "end\n"
    "local grant = want\n"
    "if limit > 0 then\n"
    "  local share = math.ceil(limit / math.max(contenders, 1))\n"
    "  grant = math.min(want, math.max(limit - others, 0))\n"
    "  for _, p in ipairs(peers) do\n"
    "    if p[2] > p[1] and p[1] < share and grant > share then grant = share end\n"
    "  end\n"
    "  if grant < inuse then grant = inuse end\n"
    "end\n"
    "redis.call('HSET', KEYS[1], me, grant .. '/' .. want .. '/' .. inuse)\n"
    "redis.call('ZADD', KEYS[2], now + ttl, me)\n"
    "redis.call('PEXPIRE', KEYS[1], ttl * 20)\n"
    "redis.call('PEXPIRE', KEYS[2], ttl * 20)\n"
    "local alive = redis.call('ZCARD', KEYS[2])\n"
    "local tokens, rate = 0, tonumber(ARGV[7])\n"
    "if rate > 0 then\n"
    "  local cap = tonumber(ARGV[8])\n"
    "  local b = redis.call('HMGET', KEYS[3], 't', 'ts')\n"
    "  local t, ts = tonumber(b[1]) or cap, tonumber(b[2]) or now\n"
    "  if now > ts then t = t + (now - ts) * rate / 1000; ts = now end\n"
    "  t = math.min(cap, t + tonumber(ARGV[9]))\n"
    "  tokens = math.max(0, math.min(tonumber(ARGV[10]), math.floor(t)))\n"
    "  redis.call('HMSET', KEYS[3], 't', tostring(t - tokens), 'ts', ts)\n"
    "  redis.call('PEXPIRE', KEYS[3], 60000)\n"
    "end\n"
    "local p = tonumber(ARGV[13])\n"
    "local pu = tonumber(redis.call('GET', KEYS[5]) or '0') or 0\n"
    "if p > 0 and now + p > pu then\n"
    "  pu = now + p\n"
    "  redis.call('SET', KEYS[5], pu, 'PX', p)\n"
    "end\n"
    "return {grant, inflight, learned, tokens, math.max(pu - now, 0), alive}\n";

/* KEYS: 1 slots, 2 alive, 3 limit, 4 paused. ARGV: 1 now ms ("" = TIME).
 * Returns {configured, learned, in flight, held, live consumers, pause left ms}; read-only. */
static const char lua_view[] =
    "local now = tonumber(ARGV[1])\n"
    "if not now then\n"
    "  local t = redis.call('TIME')\n"
    "  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "end\n"
    "local l = redis.call('HMGET', KEYS[3], 'conf', 'learned')\n"
    "local inflight, held, alive = 0, 0, 0\n"
    "local all = redis.call('HGETALL', KEYS[1])\n"
    "for i = 1, #all, 2 do\n"
    "  local exp = tonumber(redis.call('ZSCORE', KEYS[2], all[i]) or '0') or 0\n"
    "  if exp > now then\n"
    "    local h, w, u = string.match(all[i + 1], '^(%d+)/(%d+)/(%d+)$')\n"
    "    held, inflight, alive = held + (tonumber(h) or 0), inflight + (tonumber(u) or 0), alive + 1\n"
    "  end\n"
    "end\n"
    "local pu = tonumber(redis.call('GET', KEYS[4]) or '0') or 0\n"
    "return {tonumber(l[1]) or 0, tonumber(l[2]) or 0, inflight, held, alive, math.max(pu - now, 0)}\n";

static const char *const key_suffix[] = {"slots", "alive", "bucket", "limit", "paused"};

static void account_key(char *out, size_t outlen, const char *provider, const char *suffix)
{
    snprintf(out, outlen, "voxcast:account:{%s}:%s", provider, suffix);
}

/* The strings of one provider's sync call. */
struct sync_call {
    char        keys[SYNC_KEYS][STORE_KEY_MAX];
    char        num[SYNC_ARGS][NUM_MAX];
    const char *argv[SYNC_ARGC];
    size_t      lens[SYNC_ARGC];
};

static void set_arg(struct sync_call *c, int i, const char *s)
{
    c->argv[i] = s;
    c->lens[i] = strlen(s);
}

/* Bucket capacity: 200 ms of refill for the fleet (the consumers fetch tokens about that often;
 * at least one token), so a fleet that was idle starts with a small burst, not a second's worth. */
static double bucket_cap(double rate)
{
    double cap = rate / 5.0;
    return cap < 1 ? 1 : cap;
}

static void build_sync(struct sync_call *c, const char *consumer, int64_t ttl_ms, int64_t now_ms,
                       const char *name, const struct store_account_want *w, bool leave)
{
    set_arg(c, 0, "EVAL");
    set_arg(c, 1, lua_sync);
    set_arg(c, 2, "5");
    for (int k = 0; k < SYNC_KEYS; k++) {
        account_key(c->keys[k], sizeof c->keys[k], name, key_suffix[k]);
        set_arg(c, 3 + k, c->keys[k]);
    }
    char(*n)[NUM_MAX] = c->num;
    if (now_ms >= 0)
        snprintf(n[1], NUM_MAX, "%lld", (long long)now_ms);
    snprintf(n[2], NUM_MAX, "%lld", (long long)ttl_ms);
    snprintf(n[3], NUM_MAX, "%d", w->limit > 0 ? w->limit : 0);
    snprintf(n[4], NUM_MAX, "%d", w->slots > 0 ? w->slots : 0);
    snprintf(n[5], NUM_MAX, "%d", w->in_use > 0 ? w->in_use : 0);
    snprintf(n[6], NUM_MAX, "%.6f", w->rate > 0 ? w->rate : 0.0);
    snprintf(n[7], NUM_MAX, "%.6f", bucket_cap(w->rate));
    snprintf(n[8], NUM_MAX, "%d", w->tokens_back > 0 ? w->tokens_back : 0);
    snprintf(n[9], NUM_MAX, "%d", w->tokens > 0 ? w->tokens : 0);
    snprintf(n[10], NUM_MAX, "%s", w->learn_op == 'S' ? "S" : w->learn_op == 'D' ? "D" : w->learn_op == 'U' ? "U" : "");
    snprintf(n[11], NUM_MAX, "%d", w->learn_value);
    snprintf(n[12], NUM_MAX, "%lld", (long long)(w->pause_ms > 0 ? w->pause_ms : 0));
    snprintf(n[13], NUM_MAX, "%s", leave ? "1" : "0");
    set_arg(c, 3 + SYNC_KEYS, consumer);
    for (int i = 1; i < SYNC_ARGS; i++)
        set_arg(c, 3 + SYNC_KEYS + i, n[i]);
}

static int64_t elem_int(const redisReply *r, size_t i)
{
    return i < r->elements && r->element[i]->type == REDIS_REPLY_INTEGER ? r->element[i]->integer : 0;
}

static int read_grant(struct store *s, const redisReply *r, struct store_account_grant *g)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 6) {
        store_fail(s, "account sync: unexpected reply");
        return -1;
    }
    g->slots = (int)elem_int(r, 0);
    g->fleet_in_flight = (int)elem_int(r, 1);
    g->learned = (int)elem_int(r, 2);
    g->tokens = (int)elem_int(r, 3);
    g->paused_ms = elem_int(r, 4);
    g->alive = (int)elem_int(r, 5);
    return 0;
}

static int check_names(struct store *s, const char *consumer, const char *const *names, size_t n)
{
    if (!consumer || !*consumer || strlen(consumer) > 128) {
        store_fail(s, "account: consumer id must be 1 to 128 bytes");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!store_id_valid(names[i])) {
            store_fail(s, "account: invalid provider name");
            return -1;
        }
    }
    return 0;
}

/* The sync calls for n providers, then one SADD naming them; replies read into grant (NULL:
 * leaving). */
static int run_syncs(struct store *s, const char *consumer, int64_t ttl_ms, int64_t now_ms,
                     const char *const *names, const struct store_account_want *want,
                     struct store_account_grant *grant, size_t n)
{
    if (check_names(s, consumer, names, n) != 0)
        return -1;
    if (n == 0)
        return 0;
    struct sync_call *c = xcalloc(n, sizeof *c);
    struct store_call *calls = xcalloc(n + 1, sizeof *calls);
    redisReply **replies = xcalloc(n + 1, sizeof *replies);
    const char **sadd = xcalloc(n + 2, sizeof *sadd);
    size_t *sadd_lens = xcalloc(n + 2, sizeof *sadd_lens);
    int rc = -1;
    static const struct store_account_want none = {0};
    sadd[0] = "SADD", sadd_lens[0] = 4;
    sadd[1] = "voxcast:accounts", sadd_lens[1] = strlen(sadd[1]);
    for (size_t i = 0; i < n; i++) {
        build_sync(&c[i], consumer, ttl_ms, now_ms, names[i], grant ? &want[i] : &none, !grant);
        calls[i] = (struct store_call){.script = -1, .argc = SYNC_ARGC, .argv = c[i].argv, .lens = c[i].lens};
        sadd[2 + i] = names[i], sadd_lens[2 + i] = strlen(names[i]);
    }
    calls[n] = (struct store_call){.script = -1, .argc = (int)n + 2, .argv = sadd, .lens = sadd_lens};
    if (store_pipeline(s, calls, n + 1, replies) != 0)
        goto out;
    rc = 0;
    for (size_t i = 0; i < n && grant && rc == 0; i++)
        rc = read_grant(s, replies[i], &grant[i]);
    for (size_t i = 0; i <= n; i++)
        freeReplyObject(replies[i]);
out:
    free(c);
    free(calls);
    free(replies);
    free(sadd);
    free(sadd_lens);
    return rc;
}

int store_account_sync(struct store *s, const char *consumer, int64_t ttl_ms, int64_t now_ms,
                       const char *const *names, const struct store_account_want *want,
                       struct store_account_grant *grant, size_t n)
{
    return run_syncs(s, consumer, ttl_ms, now_ms, names, want, grant, n);
}

int store_account_leave(struct store *s, const char *consumer, const char *const *names, size_t n)
{
    return run_syncs(s, consumer, 1, -1, names, NULL, NULL, n);
}

static int by_provider(const void *a, const void *b)
{
    return strcmp(((const struct store_account_view *)a)->provider,
                  ((const struct store_account_view *)b)->provider);
}

static int view_one(struct store *s, const char *name, int64_t now_ms, struct store_account_view *v)
{
    static const char *const suffix[] = {"slots", "alive", "limit", "paused"};
    char keys[4][STORE_KEY_MAX], now[NUM_MAX] = "";
    const char *argv[8] = {"EVAL", lua_view, "4"};
    size_t lens[8];
    for (int k = 0; k < 4; k++) {
        account_key(keys[k], sizeof keys[k], name, suffix[k]);
        argv[3 + k] = keys[k];
    }
    if (now_ms >= 0)
        snprintf(now, sizeof now, "%lld", (long long)now_ms);
    argv[7] = now;
    for (int i = 0; i < 8; i++)
        lens[i] = strlen(argv[i]);
    redisReply *r = store_call1(s, -1, 8, argv, lens);
    if (!r)
        return -1;
    int rc = 0;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 6) {
        store_fail(s, "account view: unexpected reply");
        rc = -1;
    } else {
        snprintf(v->provider, sizeof v->provider, "%s", name);
        v->configured = (int)elem_int(r, 0);
        v->learned = (int)elem_int(r, 1);
        v->in_flight = (int)elem_int(r, 2);
        v->held = (int)elem_int(r, 3);
        v->alive = (int)elem_int(r, 4);
        v->paused_ms = elem_int(r, 5);
        v->limit = v->configured;
        if (v->learned > 0 && (v->limit == 0 || v->learned < v->limit))
            v->limit = v->learned;
    }
    freeReplyObject(r);
    return rc;
}

int store_account_list(struct store *s, int64_t now_ms, struct store_account_view **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    redisReply *names = store_command(s, "SMEMBERS voxcast:accounts");
    if (!names)
        return -1;
    struct store_account_view *v = names->elements ? xcalloc(names->elements, sizeof *v) : NULL;
    size_t got = 0;
    int rc = 0;
    for (size_t i = 0; i < names->elements && rc == 0; i++) {
        const redisReply *e = names->element[i];
        if (e->type != REDIS_REPLY_STRING || !store_id_valid(e->str))
            continue;
        rc = view_one(s, e->str, now_ms, &v[got]);
        if (rc == 0)
            got++;
    }
    freeReplyObject(names);
    if (rc != 0) {
        free(v);
        return -1;
    }
    if (got)
        qsort(v, got, sizeof *v, by_provider);
    else {
        free(v);
        v = NULL;
    }
    *out = v;
    *n = got;
    return 0;
}
