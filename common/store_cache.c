/* store_cache.c - render-once entries, render claims and cost counters in Redis; see
 * store_cache.h.
 *
 * A consumer queues a tick's cache work in one batch and sends it as one pipeline. The hot ops
 * are plain commands, since a script call costs Redis several times a plain command and a
 * campaign of distinct texts makes a lookup and a put per contact: a lookup is SET NX, GET and
 * HMGET (see lookup_calls for why that order is exact), a put HSET, EXPIRE and DEL. Only a
 * lookup naming a stale entry runs a script (store_lua_cache_claim: the delete must be
 * conditional), and renewals and releases of a claim the store's lock scripts (same token rule;
 * a claim is a lock on a sound: a token with a time to live). A counter is one HINCRBY. */
#include "store_cache.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_scripts.h"
#include "xalloc.h"

/* Lookup-or-claim. KEYS: 1 entry, 2 claim. ARGV: 1 token, 2 claim ttl ms, 3 stale uri ("" none).
 * Returns {1, uri, duration_ms, bytes, sha256} for an entry, {2} when the claim is (now) this
 * token's, {0} when another token holds it. An entry whose uri is the stale one is deleted
 * first: its audio is gone, and a newer entry (another uri) is left alone. */
const char store_lua_cache_claim[] =
    "local e = redis.call('HMGET', KEYS[1], 'uri', 'duration_ms', 'bytes', 'sha256')\n"
    "if e[1] and ARGV[3] ~= '' and e[1] == ARGV[3] then\n"
    "  redis.call('DEL', KEYS[1]); e[1] = false\n"
    "end\n"
    "if e[1] then return {1, e[1], e[2] or '0', e[3] or '0', e[4] or ''} end\n"
    "local h = redis.call('GET', KEYS[2])\n"
    "if h and h ~= ARGV[1] then return {0} end\n"
    "redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])\n"
    "return {2}\n";

enum op_kind { OP_LOOKUP, OP_PUT, OP_RENEW, OP_RELEASE, OP_DROP, OP_CHARS, OP_HITS };

#define OP_ARGS 10   /* the most arguments one call takes (HSET of an entry) */

struct op {
    enum op_kind             kind;
    enum store_cache_result  result;
    char                     key[STORE_KEY_MAX];       /* entry key, or the counter's hash */
    char                     claim[STORE_KEY_MAX];     /* claim key; counters: the field */
    char                    *token;                    /* owned; lookups, renewals, puts */
    char                    *text;                     /* owned; stale uri (lookup) */
    int64_t                  n;                        /* ttl ms, ttl s, or the count */
    struct store_cache_entry entry;                    /* put: to write; lookup: read */
    bool                     claimed_too;              /* lookup: HIT, and its SET NX took the claim */
};

struct store_cache_batch {
    struct op *ops;
    size_t     n, cap;
};

/* ================================================================ keys */

int store_cache_key_valid(const char *key)
{
    size_t n = key ? strlen(key) : 0;
    if (n == 0 || n > STORE_CACHE_KEY_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = key[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_'))
            return 0;
    }
    return 1;
}

static void entry_keys(struct op *op, const char *key)
{
    snprintf(op->key, sizeof op->key, "voxcast:cache:{%s}", key);
    snprintf(op->claim, sizeof op->claim, "voxcast:cache:{%s}:claim", key);
}

/* ================================================================ the batch */

struct store_cache_batch *store_cache_batch_new(void)
{
    return xcalloc(1, sizeof(struct store_cache_batch));
}

static void entry_clear(struct store_cache_entry *e)
{
    free(e->uri);
    *e = (struct store_cache_entry){0};
}

void store_cache_batch_reset(struct store_cache_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->ops[i].token);
        free(b->ops[i].text);
        entry_clear(&b->ops[i].entry);
    }
    b->n = 0;
}

void store_cache_batch_free(struct store_cache_batch *b)
{
    if (!b)
        return;
    store_cache_batch_reset(b);
    free(b->ops);
    free(b);
}

size_t store_cache_batch_len(const struct store_cache_batch *b)
{
    return b->n;
}

/* A new op; INVALID (never sent) until a valid key or campaign makes it PENDING. */
static struct op *add(struct store_cache_batch *b, enum op_kind kind, size_t *index)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 64;
        b->ops = xrealloc(b->ops, b->cap * sizeof *b->ops);
    }
    *index = b->n;
    struct op *op = &b->ops[b->n++];
    *op = (struct op){.kind = kind, .result = STORE_CACHE_INVALID};
    return op;
}

static size_t add_keyed(struct store_cache_batch *b, enum op_kind kind, const char *key, const char *token,
                        int64_t n)
{
    size_t i;
    struct op *op = add(b, kind, &i);
    if (!store_cache_key_valid(key) || !token)
        return i;
    entry_keys(op, key);
    op->token = xstrdup(token);
    op->n = n;
    op->result = STORE_CACHE_PENDING;
    return i;
}

size_t store_cache_lookup(struct store_cache_batch *b, const char *key, const char *token,
                          int64_t claim_ttl_ms, const char *stale_uri)
{
    size_t i = add_keyed(b, OP_LOOKUP, key, token, claim_ttl_ms > 0 ? claim_ttl_ms : 1);
    b->ops[i].text = xstrdup(stale_uri ? stale_uri : "");
    return i;
}

size_t store_cache_put(struct store_cache_batch *b, const char *key, const struct store_cache_entry *e,
                       int64_t ttl_s, const char *token)
{
    size_t i = add_keyed(b, OP_PUT, key, token, ttl_s > 0 ? ttl_s : 1);
    struct op *op = &b->ops[i];
    if (!e->uri || !e->uri[0])
        op->result = STORE_CACHE_INVALID;
    op->entry = *e;
    op->entry.uri = xstrdup(e->uri ? e->uri : "");
    return i;
}

size_t store_cache_renew(struct store_cache_batch *b, const char *key, const char *token, int64_t claim_ttl_ms)
{
    return add_keyed(b, OP_RENEW, key, token, claim_ttl_ms > 0 ? claim_ttl_ms : 1);
}

size_t store_cache_release(struct store_cache_batch *b, const char *key, const char *token)
{
    return add_keyed(b, OP_RELEASE, key, token, 0);
}

size_t store_cache_drop_claim(struct store_cache_batch *b, const char *key)
{
    return add_keyed(b, OP_DROP, key, "", 0);
}

bool store_cache_hit_claimed(const struct store_cache_batch *b, size_t i)
{
    return i < b->n && b->ops[i].result == STORE_CACHE_HIT && b->ops[i].claimed_too;
}

static size_t add_counter(struct store_cache_batch *b, enum op_kind kind, const char *campaign,
                          const char *suffix, const char *field, int64_t n)
{
    size_t i;
    struct op *op = add(b, kind, &i);
    if (!store_id_valid(campaign) || !field)
        return i;
    store_key(op->key, sizeof op->key, campaign, suffix);
    snprintf(op->claim, sizeof op->claim, "%s", field);
    op->n = n;
    op->result = STORE_CACHE_PENDING;
    return i;
}

size_t store_cache_add_chars(struct store_cache_batch *b, const char *campaign, const char *provider,
                             int64_t n)
{
    return add_counter(b, OP_CHARS, campaign, "chars", provider, n);
}

size_t store_cache_add_hits(struct store_cache_batch *b, const char *campaign, int64_t n)
{
    return add_counter(b, OP_HITS, campaign, "meta", "cache_hits", n);
}

enum store_cache_result store_cache_result(const struct store_cache_batch *b, size_t i)
{
    return i < b->n ? b->ops[i].result : STORE_CACHE_INVALID;
}

const struct store_cache_entry *store_cache_entry(const struct store_cache_batch *b, size_t i)
{
    return i < b->n && b->ops[i].kind == OP_LOOKUP && b->ops[i].result == STORE_CACHE_HIT ? &b->ops[i].entry
                                                                                        : NULL;
}

/* ================================================================ exec */

/* The calls of one op (at most OP_CALLS), their arguments built in place. */
#define OP_CALLS 3

struct call_args {
    const char *argv[OP_ARGS];
    size_t      lens[OP_ARGS];
    char        nums[3][24];
    int         argc;
};

struct op_calls {
    struct call_args args[OP_CALLS];
    int              script[OP_CALLS];
    int              n;
};

static struct call_args *call(struct op_calls *c, int script)
{
    c->script[c->n] = script;
    struct call_args *a = &c->args[c->n++];
    a->argc = 0;
    return a;
}

static void arg(struct call_args *a, const char *s)
{
    a->argv[a->argc] = s;
    a->lens[a->argc] = strlen(s);
    a->argc++;
}

static void arg_num(struct call_args *a, int slot, int64_t v)
{
    snprintf(a->nums[slot], sizeof a->nums[slot], "%" PRId64, v);
    arg(a, a->nums[slot]);
}

/* A script call: two placeholders (store_call), numkeys, the entry and claim keys as needed. */
static struct call_args *script(struct op_calls *c, int id, const struct op *op, int nkeys)
{
    struct call_args *a = call(c, id);
    arg(a, "");
    arg(a, "");
    arg(a, nkeys == 2 ? "2" : "1");
    if (nkeys == 2)
        arg(a, op->key);
    arg(a, op->claim);
    return a;
}

/* A lookup in plain commands: SET NX first, then GET and HMGET, so an entry written and its claim
 * released between them is still seen (the entry wins), and a claim is ours exactly when GET
 * reads our token. The atomic script is used only to delete a stale entry. */
static void lookup_calls(const struct op *op, struct op_calls *c)
{
    if (op->text[0]) {
        struct call_args *a = script(c, SCRIPT_CACHE_CLAIM, op, 2);
        arg(a, op->token);
        arg_num(a, 0, op->n);
        arg(a, op->text);
        return;
    }
    struct call_args *a = call(c, -1);
    arg(a, "SET");
    arg(a, op->claim);
    arg(a, op->token);
    arg(a, "NX");
    arg(a, "PX");
    arg_num(a, 0, op->n);
    a = call(c, -1);
    arg(a, "GET");
    arg(a, op->claim);
    a = call(c, -1);
    arg(a, "HMGET");
    arg(a, op->key);
    arg(a, "uri");
    arg(a, "duration_ms");
    arg(a, "bytes");
    arg(a, "sha256");
}

/* The entry, its expiry, and the claim dropped. Plain commands: a claim deleted that is not ours
 * (ours expired and another consumer took it) does no harm once the entry exists, since every
 * lookup finds the entry first. */
static void put_calls(const struct op *op, struct op_calls *c)
{
    struct call_args *a = call(c, -1);
    arg(a, "HSET");
    arg(a, op->key);
    arg(a, "uri");
    arg(a, op->entry.uri);
    arg(a, "duration_ms");
    arg_num(a, 0, op->entry.duration_ms);
    arg(a, "bytes");
    arg_num(a, 1, (int64_t)op->entry.bytes);
    arg(a, "sha256");
    arg(a, op->entry.sha256);
    a = call(c, -1);
    arg(a, "EXPIRE");
    arg(a, op->key);
    arg_num(a, 0, op->n);
    a = call(c, -1);
    arg(a, "DEL");
    arg(a, op->claim);
}

static void build_calls(const struct op *op, struct op_calls *c)
{
    c->n = 0;
    struct call_args *a;
    switch (op->kind) {
    case OP_LOOKUP:
        lookup_calls(op, c);
        break;
    case OP_PUT:
        put_calls(op, c);
        break;
    case OP_RENEW:
        a = script(c, SCRIPT_LOCK_REFRESH, op, 1);
        arg(a, op->token);
        arg_num(a, 0, op->n);
        break;
    case OP_RELEASE:
        a = script(c, SCRIPT_UNLOCK, op, 1);
        arg(a, op->token);
        break;
    case OP_DROP:
        a = call(c, -1);
        arg(a, "DEL");
        arg(a, op->claim);
        break;
    case OP_CHARS:
    case OP_HITS:
        a = call(c, -1);
        arg(a, "HINCRBY");
        arg(a, op->key);
        arg(a, op->claim);
        arg_num(a, 0, op->n);
        break;
    }
}

static const char *reply_str(const redisReply *r, char *tmp, size_t tmplen)
{
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
        return r->str;
    if (r->type == REDIS_REPLY_INTEGER) {
        snprintf(tmp, tmplen, "%lld", r->integer);
        return tmp;
    }
    return "";
}

/* uri, duration_ms, bytes, sha256 (replies, uri present) into op's entry: HIT. */
static void read_entry(struct op *op, redisReply *const *f)
{
    char tmp[3][32];
    entry_clear(&op->entry);
    op->entry.uri = xstrdup(reply_str(f[0], tmp[0], sizeof tmp[0]));
    op->entry.duration_ms = strtoll(reply_str(f[1], tmp[1], sizeof tmp[1]), NULL, 10);
    op->entry.bytes = strtoull(reply_str(f[2], tmp[2], sizeof tmp[2]), NULL, 10);
    snprintf(op->entry.sha256, sizeof op->entry.sha256, "%s", reply_str(f[3], tmp[0], sizeof tmp[0]));
    op->result = STORE_CACHE_HIT;
}

/* The script's {1, uri, duration_ms, bytes, sha256} | {2} | {0}: 0, or -1 for anything else. */
static int read_script_lookup(struct op *op, const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->element[0]->type != REDIS_REPLY_INTEGER)
        return -1;
    long long code = r->element[0]->integer;
    if (code == 0 || code == 2) {
        op->result = code == 2 ? STORE_CACHE_CLAIMED : STORE_CACHE_HELD;
        return 0;
    }
    if (code != 1 || r->elements < 5)
        return -1;
    read_entry(op, r->element + 1);
    return 0;
}

/* SET NX, GET, HMGET: an entry is a HIT (and a claim SET NX took for it is to be dropped); else
 * CLAIMED when the claim holds our token, HELD when another's. */
static int read_lookup(struct op *op, redisReply **r, int n)
{
    if (n == 1)
        return read_script_lookup(op, r[0]);
    if (r[2]->type != REDIS_REPLY_ARRAY || r[2]->elements != 4)
        return -1;
    bool set = r[0]->type == REDIS_REPLY_STATUS;
    if (r[2]->element[0]->type == REDIS_REPLY_STRING) {
        read_entry(op, r[2]->element);
        op->claimed_too = set;
        return 0;
    }
    bool ours = r[1]->type == REDIS_REPLY_STRING && strcmp(r[1]->str, op->token) == 0;
    op->result = ours ? STORE_CACHE_CLAIMED : STORE_CACHE_HELD;
    return 0;
}

static int read_replies(struct op *op, redisReply **r, int n)
{
    if (op->kind == OP_LOOKUP)
        return read_lookup(op, r, n);
    if (op->kind == OP_RENEW || op->kind == OP_RELEASE) {
        if (r[0]->type != REDIS_REPLY_INTEGER)
            return -1;
        op->result = r[0]->integer == 1 ? STORE_CACHE_OK : STORE_CACHE_NOT_OURS;
        return 0;
    }
    op->result = STORE_CACHE_OK;
    return 0;
}

int store_cache_exec(struct store *s, struct store_cache_batch *b)
{
    size_t nops = 0;
    for (size_t i = 0; i < b->n; i++)
        nops += b->ops[i].result != STORE_CACHE_INVALID;
    if (nops == 0)
        return 0;
    struct op_calls *oc = xcalloc(nops, sizeof *oc);
    struct store_call *calls = xcalloc(nops * OP_CALLS, sizeof *calls);
    redisReply **replies = xcalloc(nops * OP_CALLS, sizeof *replies);
    size_t *which = xcalloc(nops, sizeof *which);
    size_t k = 0, n = 0;
    for (size_t i = 0; i < b->n; i++) {
        struct op *op = &b->ops[i];
        if (op->result == STORE_CACHE_INVALID)
            continue;
        op->result = STORE_CACHE_PENDING;
        op->claimed_too = false;
        which[k] = i;
        build_calls(op, &oc[k]);
        for (int j = 0; j < oc[k].n; j++, n++)
            calls[n] = (struct store_call){.script = oc[k].script[j], .argc = oc[k].args[j].argc,
                                           .argv = oc[k].args[j].argv, .lens = oc[k].args[j].lens};
        k++;
    }
    int rc = store_pipeline(s, calls, n, replies);
    for (size_t j = 0, at = 0; rc == 0 && j < nops; at += (size_t)oc[j].n, j++) {
        if (read_replies(&b->ops[which[j]], replies + at, oc[j].n) != 0) {
            store_fail(s, "render-once cache: unexpected reply");
            rc = -1;
        }
    }
    if (rc == 0)
        store_free_replies(replies, n);
    for (size_t j = 0; rc != 0 && j < nops; j++)
        b->ops[which[j]].result = STORE_CACHE_PENDING;
    free(which);
    free(replies);
    free(calls);
    free(oc);
    return rc;
}

/* ================================================================ costs */

/* qsort order of providers[]: each element starts with its name. */
static int by_name(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* HGETALL chars (name, count, ...) into out, sorted by name. */
static void read_chars(const redisReply *r, struct campaign_cost *out)
{
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
        const redisReply *name = r->element[i], *count = r->element[i + 1];
        if (name->type != REDIS_REPLY_STRING || count->type != REDIS_REPLY_STRING)
            continue;
        int64_t chars = strtoll(count->str, NULL, 10);
        out->chars_total += chars;
        if (out->nproviders == STORE_COST_PROVIDERS_MAX) {
            out->providers_dropped++;
            continue;
        }
        snprintf(out->providers[out->nproviders].name, STORE_COST_NAME_MAX, "%s", name->str);
        out->providers[out->nproviders++].chars = chars;
    }
    qsort(out->providers, out->nproviders, sizeof out->providers[0], by_name);
}

int store_campaign_cost(struct store *s, const char *campaign, struct campaign_cost *out)
{
    *out = (struct campaign_cost){0};
    if (store_check_id(s, campaign) != 0)
        return -1;
    char meta[STORE_KEY_MAX], chars[STORE_KEY_MAX];
    store_key(meta, sizeof meta, campaign, "meta");
    store_key(chars, sizeof chars, campaign, "chars");
    const char *hget[] = {"HGET", meta, "cache_hits"}, *hgetall[] = {"HGETALL", chars};
    size_t hget_lens[] = {4, strlen(meta), 10}, hgetall_lens[] = {7, strlen(chars)};
    struct store_call calls[2] = {
        {.script = -1, .argc = 3, .argv = hget, .lens = hget_lens},
        {.script = -1, .argc = 2, .argv = hgetall, .lens = hgetall_lens},
    };
    redisReply *replies[2];
    if (store_pipeline(s, calls, 2, replies) != 0)
        return -1;
    if (replies[0]->type == REDIS_REPLY_STRING)
        out->cache_hits = strtoll(replies[0]->str, NULL, 10);
    read_chars(replies[1], out);
    store_free_replies(replies, 2);
    return 0;
}
