/* store_campaign.c - campaign records (create, fields, counters, listing), a contact's state,
 * campaign-scoped script calls and the replay, launch and resume locks. */
#include "store.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_scripts.h"
#include "xalloc.h"

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
    /* An existing record is being launched again: it is not complete any more, so its keys must
     * not expire under the launch (they get their retention again when it completes). */
    if (!created && store_campaign_unretain(s, campaign) != 0)
        return -1;
    return !created ? 1 : leftovers ? 2 : 0;
}

static const char *const counter_fields[] = {"created_at", "enqueued",   "rejected",       "done",
                                             "dlq",        "duplicates", "audio_ms",       "completion",
                                             "completed_mark", "dlq_dropped", "cancelled", "control"};

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
        *out = xstrndup(r->str, r->len);
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

static const char *const info_fields[] = {"created_at", "launch_state", "enqueued", "rejected",
                                          "done", "dlq", "duplicates", "audio_ms", "dlq_dropped",
                                          "cancelled", "control"};
#define INFO_FIELDS (sizeof info_fields / sizeof *info_fields)

/* Fills *out from an HMGET of info_fields; 1 when the record does not exist. */
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
                       &out->done, &out->dlq, &out->duplicates, &out->audio_ms, &out->dlq_dropped,
                       &out->cancelled, NULL};
    for (size_t i = 0; i < INFO_FIELDS; i++) {
        if (nums[i])
            *nums[i] = reply_int(r->element[i]);
    }
    if (r->element[1]->type == REDIS_REPLY_STRING)
        snprintf(out->launch_state, sizeof out->launch_state, "%s", r->element[1]->str);
    const redisReply *ctl = r->element[INFO_FIELDS - 1];
    if (ctl->type == REDIS_REPLY_STRING)
        out->control = store_control_parse(ctl->str, ctl->len);
    return found ? 0 : 1;
}

/* Fills calls[0..2] (argv/lens of 3, 3 and INFO_FIELDS + 2 slots, keys of STORE_KEY_MAX) with
 * HLEN aside, HLEN aside:claimed and, when meta is set, HMGET meta info_fields. */
static size_t info_calls(struct store_call *calls, const char **argv, size_t *lens,
                         char (*keys)[STORE_KEY_MAX], const char *campaign, int meta)
{
    static const char *const suffix[] = {"aside", "aside:claimed", "meta"};
    size_t ncalls = meta ? 3 : 2;
    for (size_t i = 0; i < ncalls; i++) {
        store_key(keys[i], STORE_KEY_MAX, campaign, suffix[i]);
        const char **a = argv + 2 * i;
        size_t *l = lens + 2 * i;
        a[0] = i < 2 ? "HLEN" : "HMGET";
        a[1] = keys[i];
        calls[i] = (struct store_call){-1, 2, a, l};
    }
    if (meta) {
        for (size_t f = 0; f < INFO_FIELDS; f++)
            argv[6 + f] = info_fields[f];
        calls[2].argc += (int)INFO_FIELDS;
    }
    for (size_t i = 0; i < 6 + (meta ? INFO_FIELDS : 0); i++)
        lens[i] = argv[i] ? strlen(argv[i]) : 0;
    return ncalls;
}

int store_campaign_get(struct store *s, const char *campaign, struct campaign_info *out)
{
    if (store_check_id(s, campaign) != 0)
        return -1;
    struct store_call calls[3];
    const char *argv[6 + INFO_FIELDS];
    size_t lens[6 + INFO_FIELDS];
    char keys[3][STORE_KEY_MAX];
    redisReply *replies[3] = {NULL, NULL, NULL};
    size_t n = info_calls(calls, argv, lens, keys, campaign, 1);
    if (store_pipeline(s, calls, n, replies) != 0)
        return -1;
    int rc = info_from_reply(replies[2], campaign, out);
    out->aside = replies[0]->integer + replies[1]->integer;
    store_free_replies(replies, n);
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

/* Removes campaigns whose record expired (retention) from voxcast:campaigns. 0 or -1. */
static int prune_listed(struct store *s, const char *const *ids, size_t n)
{
    if (n == 0)
        return 0;
    const char **argv = xcalloc(n + 2, sizeof *argv);
    size_t *lens = xcalloc(n + 2, sizeof *lens);
    argv[0] = "ZREM";
    argv[1] = "voxcast:campaigns";
    for (size_t i = 0; i < n; i++)
        argv[2 + i] = ids[i];
    for (size_t i = 0; i < n + 2; i++)
        lens[i] = strlen(argv[i]);
    redisReply *r = store_call1(s, -1, (int)(n + 2), argv, lens);
    free(argv);
    free(lens);
    if (r)
        freeReplyObject(r);
    return r ? 0 : -1;
}

/* Reads the records of the listed campaigns in one round trip (per campaign HGETALL meta, HLEN
 * aside, HLEN aside:claimed); a campaign whose record is gone is left out and pruned. */
static int list_records(struct store *s, const redisReply *names, struct campaign_info *out,
                        size_t *n)
{
    size_t count = names->elements / 2;
    struct store_call *calls = xcalloc(3 * count + 1, sizeof *calls);
    const char **argv = xcalloc(6 * count + 1, sizeof *argv);
    size_t *lens = xcalloc(6 * count + 1, sizeof *lens);
    char (*keys)[STORE_KEY_MAX] = xcalloc(3 * count + 1, sizeof *keys);
    redisReply **replies = xcalloc(3 * count + 1, sizeof *replies);
    const char **expired = xcalloc(count + 1, sizeof *expired);
    size_t used = 0, nexpired = 0;
    int rc = -1;
    for (size_t i = 0; i < count; i++) {
        const char *id = names->element[2 * i]->str;
        if (!store_id_valid(id))
            continue;
        size_t c = 3 * used;
        info_calls(calls + c, argv + 2 * c, lens + 2 * c, keys + c, id, 0);
        store_key(keys[c + 2], STORE_KEY_MAX, id, "meta");
        argv[2 * c + 4] = "HGETALL";
        argv[2 * c + 5] = keys[c + 2];
        lens[2 * c + 4] = 7;
        lens[2 * c + 5] = strlen(keys[c + 2]);
        calls[c + 2] = (struct store_call){-1, 2, argv + 2 * c + 4, lens + 2 * c + 4};
        used++;
    }
    if (store_pipeline(s, calls, 3 * used, replies) != 0)
        goto out;
    size_t j = 0, k3 = 0;
    for (size_t i = 0; i < count; i++) {
        const char *id = names->element[2 * i]->str;
        if (!store_id_valid(id))
            continue;
        const redisReply *h = replies[3 * k3 + 2];
        int64_t aside = replies[3 * k3]->integer + replies[3 * k3 + 1]->integer;
        k3++;
        if (h->type != REDIS_REPLY_ARRAY || h->elements == 0) {
            expired[nexpired++] = id;
            continue;
        }
        struct campaign_info *ci = &out[j++];
        memset(ci, 0, sizeof *ci);
        snprintf(ci->id, sizeof ci->id, "%s", id);
        ci->created_at_ms = reply_int(names->element[2 * i + 1]);
        ci->aside = aside;
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
            else if (strcmp(f, "cancelled") == 0)
                ci->cancelled = reply_int(v);
            else if (strcmp(f, "control") == 0)
                ci->control = store_control_parse(v->str, v->len);
        }
    }
    *n = j;
    store_free_replies(replies, 3 * used);
    rc = prune_listed(s, expired, nexpired);
out:
    free(calls);
    free(argv);
    free(lens);
    free(keys);
    free(replies);
    free(expired);
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
        *out = xcalloc(count, sizeof **out);
        rc = list_records(s, names, *out, n);
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

static const char *const lock_keys[] = {[STORE_LOCK_REPLAY] = "dlq:lock", [STORE_LOCK_LAUNCH] = "launch:lock",
                                        [STORE_LOCK_RESUME] = "resume:lock"};

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
