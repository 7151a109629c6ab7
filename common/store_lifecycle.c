/* store_lifecycle.c - campaign control (pause, resume, cancel), the jobs set aside while paused,
 * deleting a campaign and its retention; see the "lifecycle" section of store.h.
 *
 * Control lives in meta `control` and moves only through one script, so two operators racing
 * (a pause against a cancel, say) see one consistent order. Consumers never read it per job:
 * they ask store_campaign_controls once per tick and act through the batch's X and S ops, which
 * re-check control inside their own script (store_lua_batch). */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_scripts.h"
#include "xalloc.h"

/* Every key of a campaign that has no expiry of its own, meta first: what cancel's retention and
 * delete cover (plus applied:* for delete, found by SCAN; the locks expire by themselves). */
static const char *const campaign_keys[] = {"meta",  "state",   "prov",          "dlq",
                                            "dlq:e", "dlq:c",   "dlq:seq",       "runs",
                                            "chunks", "outbox", "aside",         "aside:claimed",
                                            "chars", "dlq:replaying"};
#define NCAMPAIGN_KEYS (sizeof campaign_keys / sizeof *campaign_keys)
static const char *const lock_keys[] = {"dlq:lock", "launch:lock", "resume:lock"};
#define NLOCK_KEYS (sizeof lock_keys / sizeof *lock_keys)

/* Moves control. KEYS: campaign_keys (1 meta). ARGV: 1 target control, 2 campaign id.
 * Returns {0, ""} done, {1, why} refused, {2, ""} no such campaign. */
const char store_lua_control[] =
    STORE_LUA_RETAIN
    "if redis.call('EXISTS', KEYS[1]) == 0 then return {2, ''} end\n"
    "local m = redis.call('HMGET', KEYS[1], 'control', 'launch_state', 'enqueued', 'done', 'dlq',\n"
    "                     'cancelled', 'retention_s')\n"
    "local ctl, to = m[1] or 'running', ARGV[1]\n"
    "local function no(why) return {1, 'campaign ' .. ARGV[2] .. ' is ' .. why} end\n"
    "if ctl == 'cancelled' then return no('cancelled') end\n"
    "if to == 'running' then\n"
    "  if ctl ~= 'paused' then return no('not paused') end\n"
    "  redis.call('HDEL', KEYS[1], 'control')\n"
    "  return {0, ''}\n"
    "end\n"
    "local pending = (tonumber(m[3]) or 0) - (tonumber(m[4]) or 0) - (tonumber(m[5]) or 0)\n"
    "                - (tonumber(m[6]) or 0)\n"
    "if m[2] == 'launched' and pending == 0 then return no('complete') end\n"
    "if to == 'paused' then\n"
    "  if ctl == 'paused' then return no('paused already') end\n"
    "  redis.call('HSET', KEYS[1], 'control', 'paused')\n"
    "  return {0, ''}\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'control', 'cancelled')\n"
    "retain(m[7])\n"
    "return {0, ''}\n";

/* Claims up to ARGV[1] set-aside jobs. KEYS: 1 aside, 2 aside:claimed, 3 state.
 * Returns {dropped, contact, job, ...}: jobs of contacts already d|q|c are dropped (deleted,
 * not claimed); the others move to aside:claimed. HSCAN, not HGETALL: a paused campaign may
 * hold millions of jobs, and one call reads only what it claims. */
const char store_lua_aside_claim[] =
    "redis.replicate_commands()\n"
    "local want, cursor, seen, names, jobs = tonumber(ARGV[1]), '0', {}, {}, {}\n"
    "repeat\n"
    "  local r = redis.call('HSCAN', KEYS[1], cursor, 'COUNT', math.min(want - #names, 1000))\n"
    "  cursor = r[1]\n"
    "  local kv = r[2]\n"
    "  for i = 1, #kv, 2 do\n"
    "    if #names < want and not seen[kv[i]] then\n"
    "      seen[kv[i]] = true; names[#names + 1] = kv[i]; jobs[#names] = kv[i + 1]\n"
    "    end\n"
    "  end\n"
    "until #names >= want or cursor == '0'\n"
    "local out, put = {0}, {}\n"
    "for j = 1, #names, 1000 do\n"
    "  local last = math.min(j + 999, #names)\n"
    "  local ss = redis.call('HMGET', KEYS[3], unpack(names, j, last))\n"
    "  redis.call('HDEL', KEYS[1], unpack(names, j, last))\n"
    "  for i = j, last do\n"
    "    local b = ss[i - j + 1] and string.byte(ss[i - j + 1])\n"
    "    if b == 100 or b == 113 or b == 99 then out[1] = out[1] + 1\n"
    "    else\n"
    "      put[#put + 1] = names[i]; put[#put + 1] = jobs[i]\n"
    "      out[#out + 1] = names[i]; out[#out + 1] = jobs[i]\n"
    "    end\n"
    "  end\n"
    "end\n"
    "for j = 1, #put, 1000 do redis.call('HSET', KEYS[2], unpack(put, j, math.min(j + 999, #put))) end\n"
    "return out\n";

/* Puts every claimed job back. KEYS: 1 aside:claimed, 2 aside, 3 state. Returns the number put
 * back; jobs whose contact got d|q|c meanwhile are dropped. */
const char store_lua_aside_unclaim[] =
    "local all = redis.call('HGETALL', KEYS[1])\n"
    "local back = {}\n"
    "for j = 1, #all, 2000 do\n"
    "  local names = {}\n"
    "  for i = j, math.min(j + 1999, #all), 2 do names[#names + 1] = all[i] end\n"
    "  local ss = redis.call('HMGET', KEYS[3], unpack(names))\n"
    "  for m = 1, #names do\n"
    "    local b = ss[m] and string.byte(ss[m])\n"
    "    if not (b == 100 or b == 113 or b == 99) then\n"
    "      back[#back + 1] = names[m]; back[#back + 1] = all[j + 2 * m - 1]\n"
    "    end\n"
    "  end\n"
    "end\n"
    "for j = 1, #back, 1000 do redis.call('HSET', KEYS[2], unpack(back, j, math.min(j + 999, #back))) end\n"
    "redis.call('DEL', KEYS[1])\n"
    "return #back / 2\n";

/* KEYS: campaign_keys (1 meta). Gives them the expiry of meta retention_s. */
const char store_lua_retain[] =
    STORE_LUA_RETAIN
    "retain(redis.call('HGET', KEYS[1], 'retention_s'))\n"
    "return 0\n";

/* KEYS: campaign_keys (1 meta). Removes their expiry unless the campaign is cancelled: a
 * campaign launched again is not complete any more, so its retention clock stops until it
 * completes again. */
const char store_lua_unretain[] =
    "if redis.call('HGET', KEYS[1], 'control') == 'cancelled' then return 0 end\n"
    "for i = 1, #KEYS do redis.call('PERSIST', KEYS[i]) end\n"
    "return 1\n";

#define ASIDE_CLAIM_MAX 10000

const char *store_control_name(enum store_control c)
{
    switch (c) {
    case STORE_CONTROL_PAUSED: return "paused";
    case STORE_CONTROL_CANCELLED: return "cancelled";
    default: return "running";
    }
}

/* The control named by meta `control` (NULL or anything unknown: running). */
enum store_control store_control_parse(const char *text, size_t len)
{
    if (text && len == 6 && memcmp(text, "paused", 6) == 0)
        return STORE_CONTROL_PAUSED;
    if (text && len == 9 && memcmp(text, "cancelled", 9) == 0)
        return STORE_CONTROL_CANCELLED;
    return STORE_CONTROL_RUNNING;
}

/* Runs a script over nkeys of the campaign's keys (suffixes) and nargs args: the reply or NULL. */
static redisReply *keys_script(struct store *s, enum store_script_id script, const char *campaign,
                               const char *const *suffixes, size_t nkeys, const char *const *args,
                               size_t nargs)
{
    char keys[NCAMPAIGN_KEYS][STORE_KEY_MAX], numkeys[8];
    const char *argv[3 + NCAMPAIGN_KEYS + 4];
    size_t lens[3 + NCAMPAIGN_KEYS + 4];
    snprintf(numkeys, sizeof numkeys, "%zu", nkeys);
    argv[2] = numkeys;
    for (size_t i = 0; i < nkeys; i++) {
        store_key(keys[i], sizeof keys[i], campaign, suffixes[i]);
        argv[3 + i] = keys[i];
    }
    for (size_t i = 0; i < nargs; i++)
        argv[3 + nkeys + i] = args[i];
    size_t argc = 3 + nkeys + nargs;
    for (size_t i = 2; i < argc; i++)
        lens[i] = strlen(argv[i]);
    return store_call1(s, script, (int)argc, argv, lens);
}

int store_campaign_control_set(struct store *s, const char *campaign, enum store_control to,
                               char *why, size_t whylen)
{
    if (whylen)
        why[0] = '\0';
    if (store_check_id(s, campaign) != 0)
        return -1;
    const char *args[] = {store_control_name(to), campaign};
    redisReply *r = keys_script(s, SCRIPT_CONTROL, campaign, campaign_keys, NCAMPAIGN_KEYS, args, 2);
    if (!r)
        return -1;
    int rc = -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_INTEGER &&
        r->element[1]->type == REDIS_REPLY_STRING) {
        rc = (int)r->element[0]->integer;
        if (whylen)
            snprintf(why, whylen, "%s", r->element[1]->str);
    } else {
        store_fail(s, "control script: unexpected reply for campaign %s", campaign);
    }
    freeReplyObject(r);
    return rc;
}

int store_campaign_controls(struct store *s, const char *const *campaigns, size_t n,
                            enum store_control *out)
{
    struct store_call *calls = xcalloc(n + 1, sizeof *calls);
    const char **argv = xcalloc(3 * n + 1, sizeof *argv);
    size_t *lens = xcalloc(3 * n + 1, sizeof *lens);
    char (*keys)[STORE_KEY_MAX] = xcalloc(n + 1, sizeof *keys);
    redisReply **replies = xcalloc(n + 1, sizeof *replies);
    size_t *at = xcalloc(n + 1, sizeof *at); /* call of campaign i, or SIZE_MAX */
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        out[i] = STORE_CONTROL_RUNNING;
        at[i] = (size_t)-1;
        if (!store_id_valid(campaigns[i]))
            continue; /* no record can exist under an invalid id */
        store_key(keys[used], STORE_KEY_MAX, campaigns[i], "meta");
        const char **a = argv + 3 * used;
        size_t *l = lens + 3 * used;
        a[0] = "HGET", l[0] = 4;
        a[1] = keys[used], l[1] = strlen(keys[used]);
        a[2] = "control", l[2] = 7;
        calls[used] = (struct store_call){-1, 3, a, l};
        at[i] = used++;
    }
    int rc = used ? store_pipeline(s, calls, used, replies) : 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const redisReply *r = at[i] == (size_t)-1 ? NULL : replies[at[i]];
        if (r && r->type == REDIS_REPLY_STRING)
            out[i] = store_control_parse(r->str, r->len);
    }
    if (rc == 0)
        store_free_replies(replies, used);
    free(calls);
    free(argv);
    free(lens);
    free(keys);
    free(replies);
    free(at);
    return rc;
}

/* ================================================================ jobs set aside */

int store_aside_claim(struct store *s, const char *campaign, size_t n, store_aside_fn fn, void *ctx)
{
    if (store_check_id(s, campaign) != 0)
        return -1;
    if (n == 0)
        return 0;
    static const char *const keys[] = {"aside", "aside:claimed", "state"};
    char count[24];
    snprintf(count, sizeof count, "%zu", n > ASIDE_CLAIM_MAX ? (size_t)ASIDE_CLAIM_MAX : n);
    const char *args[] = {count};
    /* A window of only finished contacts claims nothing but drops them: go on until something
     * is claimed or nothing is left, so 0 always means "nothing left". */
    for (;;) {
        redisReply *r = keys_script(s, SCRIPT_ASIDE_CLAIM, campaign, keys, 3, args, 1);
        if (!r)
            return -1;
        if (r->type != REDIS_REPLY_ARRAY || r->elements == 0 || r->element[0]->type != REDIS_REPLY_INTEGER) {
            freeReplyObject(r);
            store_fail(s, "aside claim script: unexpected reply");
            return -1;
        }
        int claimed = (int)((r->elements - 1) / 2);
        long long dropped = r->element[0]->integer;
        for (size_t i = 1; fn && i + 1 < r->elements; i += 2) {
            const redisReply *c = r->element[i];
            if (fn(ctx, c->str, c->len, r->element[i + 1]->str) != 0)
                break;
        }
        freeReplyObject(r);
        if (claimed > 0 || dropped == 0)
            return claimed;
    }
}

int store_aside_released(struct store *s, const char *campaign, const char *const *contacts,
                         const size_t *lens, size_t n)
{
    if (store_check_id(s, campaign) != 0)
        return -1;
    char claimed[STORE_KEY_MAX];
    store_key(claimed, sizeof claimed, campaign, "aside:claimed");
    int total = 0;
    /* HDEL is variadic and idempotent: no script needed; windows keep each command small. */
    for (size_t first = 0; first < n; first += 1000) {
        size_t k = n - first < 1000 ? n - first : 1000;
        const char **argv = xcalloc(k + 2, sizeof *argv);
        size_t *alens = xcalloc(k + 2, sizeof *alens);
        argv[0] = "HDEL", alens[0] = 4;
        argv[1] = claimed, alens[1] = strlen(claimed);
        for (size_t i = 0; i < k; i++) {
            argv[2 + i] = contacts[first + i];
            alens[2 + i] = lens ? lens[first + i] : strlen(contacts[first + i]);
        }
        redisReply *r = store_call1(s, -1, (int)(k + 2), argv, alens);
        free(argv);
        free(alens);
        if (!r)
            return -1;
        total += (int)r->integer;
        freeReplyObject(r);
    }
    return total;
}

int store_aside_unclaim_all(struct store *s, const char *campaign)
{
    if (store_check_id(s, campaign) != 0)
        return -1;
    static const char *const keys[] = {"aside:claimed", "aside", "state"};
    redisReply *r = keys_script(s, SCRIPT_ASIDE_UNCLAIM, campaign, keys, 3, NULL, 0);
    if (!r)
        return -1;
    int back = (int)r->integer;
    freeReplyObject(r);
    return back;
}

/* ================================================================ delete and retention */

/* Appends to *list (growing *cap) every applied:* key of the campaign, by SCAN. 0 or -1. */
static int scan_applied(struct store *s, const char *campaign, char ***list, size_t *n, size_t *cap)
{
    char pattern[STORE_KEY_MAX];
    store_key(pattern, sizeof pattern, campaign, "applied:*");
    char cursor[32] = "0";
    do {
        redisReply *r = store_command(s, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
        if (!r)
            return -1;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            freeReplyObject(r);
            store_fail(s, "SCAN: unexpected reply");
            return -1;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        const redisReply *keys = r->element[1];
        for (size_t i = 0; i < keys->elements; i++) {
            if (*n == *cap) {
                *cap = *cap ? *cap * 2 : 16;
                *list = xrealloc(*list, *cap * sizeof **list);
            }
            (*list)[(*n)++] = xstrndup(keys->element[i]->str, keys->element[i]->len);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    return 0;
}

/* UNLINKs keys (all of one campaign, so one hash slot) and drops the campaign from both lists;
 * *gone counts what existed. UNLINK frees big hashes off Redis's main thread. 0 or -1. */
static int unlink_all(struct store *s, const char *campaign, char **keys, size_t nkeys, long long *gone)
{
    const char **argv = xcalloc(nkeys + 1, sizeof *argv);
    size_t *lens = xcalloc(nkeys + 1, sizeof *lens);
    argv[0] = "UNLINK", lens[0] = 6;
    for (size_t i = 0; i < nkeys; i++)
        argv[1 + i] = keys[i], lens[1 + i] = strlen(keys[i]);
    const char *zrem[] = {"ZREM", "voxcast:campaigns", campaign};
    const char *srem[] = {"SREM", "voxcast:dlq:campaigns", campaign};
    size_t zl[] = {4, strlen(zrem[1]), strlen(campaign)}, sl[] = {4, strlen(srem[1]), strlen(campaign)};
    struct store_call calls[] = {{-1, (int)(nkeys + 1), argv, lens}, {-1, 3, zrem, zl}, {-1, 3, srem, sl}};
    redisReply *replies[3] = {NULL, NULL, NULL};
    int rc = store_pipeline(s, calls, 3, replies);
    free(argv);
    free(lens);
    if (rc != 0)
        return -1;
    *gone = replies[0]->integer + replies[1]->integer + replies[2]->integer;
    store_free_replies(replies, 3);
    return 0;
}

/* HLEN state, ZCARD dlq and EXISTS meta of the campaign in one round trip. */
static int delete_counts(struct store *s, const char *campaign, int64_t out[3])
{
    static const char *const cmd[] = {"HLEN", "ZCARD", "EXISTS"};
    static const char *const suffix[] = {"state", "dlq", "meta"};
    char keys[3][STORE_KEY_MAX];
    const char *argv[3][2];
    size_t lens[3][2];
    struct store_call calls[3];
    for (int i = 0; i < 3; i++) {
        store_key(keys[i], sizeof keys[i], campaign, suffix[i]);
        argv[i][0] = cmd[i], lens[i][0] = strlen(cmd[i]);
        argv[i][1] = keys[i], lens[i][1] = strlen(keys[i]);
        calls[i] = (struct store_call){-1, 2, argv[i], lens[i]};
    }
    redisReply *replies[3] = {NULL, NULL, NULL};
    if (store_pipeline(s, calls, 3, replies) != 0)
        return -1;
    for (int i = 0; i < 3; i++)
        out[i] = replies[i]->integer;
    store_free_replies(replies, 3);
    return 0;
}

int store_campaign_delete(struct store *s, const char *campaign, int64_t *contacts,
                          int64_t *dlq_entries)
{
    if (contacts)
        *contacts = 0;
    if (dlq_entries)
        *dlq_entries = 0;
    if (store_check_id(s, campaign) != 0)
        return -1;
    int64_t counts[3];
    if (delete_counts(s, campaign, counts) != 0)
        return -1;
    size_t n = 0, cap = NCAMPAIGN_KEYS + NLOCK_KEYS + 16;
    char **keys = xcalloc(cap, sizeof *keys);
    for (size_t i = 0; i < NCAMPAIGN_KEYS; i++) {
        keys[n] = xrealloc(NULL, STORE_KEY_MAX);
        store_key(keys[n++], STORE_KEY_MAX, campaign, campaign_keys[i]);
    }
    for (size_t i = 0; i < NLOCK_KEYS; i++) {
        keys[n] = xrealloc(NULL, STORE_KEY_MAX);
        store_key(keys[n++], STORE_KEY_MAX, campaign, lock_keys[i]);
    }
    long long gone = 0;
    int rc = scan_applied(s, campaign, &keys, &n, &cap) == 0 &&
                     unlink_all(s, campaign, keys, n, &gone) == 0
                 ? 0
                 : -1;
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
    if (rc != 0)
        return -1;
    if (contacts)
        *contacts = counts[0];
    if (dlq_entries)
        *dlq_entries = counts[1];
    return counts[2] == 0 && gone == 0 ? 1 : 0;
}

int store_campaign_retain(struct store *s, const char *campaign)
{
    redisReply *r = keys_script(s, SCRIPT_RETAIN, campaign, campaign_keys, NCAMPAIGN_KEYS, NULL, 0);
    if (r)
        freeReplyObject(r);
    return r ? 0 : -1;
}

int store_campaign_unretain(struct store *s, const char *campaign)
{
    redisReply *r = keys_script(s, SCRIPT_UNRETAIN, campaign, campaign_keys, NCAMPAIGN_KEYS, NULL, 0);
    if (r)
        freeReplyObject(r);
    return r ? 0 : -1;
}

int64_t store_campaign_ttl(struct store *s, const char *campaign)
{
    if (store_check_id(s, campaign) != 0)
        return -3;
    char meta[STORE_KEY_MAX];
    store_key(meta, sizeof meta, campaign, "meta");
    redisReply *r = store_command(s, "TTL %s", meta);
    if (!r)
        return -3;
    int64_t ttl = r->type == REDIS_REPLY_INTEGER ? r->integer : -3;
    freeReplyObject(r);
    return ttl;
}
