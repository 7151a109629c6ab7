/* store_results.c - the results stream's outbox and completions in Redis; see store_results.h.
 *
 * None of this is on the hot path: a redelivered job's event is read back once, and clearing
 * is one pipelined round trip per batch of delivery reports. */
#include "store_results.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_scripts.h"
#include "xalloc.h"

int store_outbox_get(struct store *s, const char *campaign, const char *contact, size_t len, char **json)
{
    *json = NULL;
    if (store_check_id(s, campaign) != 0)
        return -1;
    char key[STORE_KEY_MAX];
    store_key(key, sizeof key, campaign, "outbox");
    redisReply *r = store_command(s, "HGET %s %b", key, contact, len);
    if (!r)
        return -1;
    int rc = r->type == REDIS_REPLY_STRING ? 0 : 1;
    if (rc == 0)
        *json = xstrndup(r->str, r->len);
    freeReplyObject(r);
    return rc;
}


int store_completion_get(struct store *s, const char *campaign, struct store_completion *out)
{
    char *text = NULL;
    int rc = store_campaign_field(s, campaign, "completion", &text);
    if (rc == 0 && store_completion_parse(campaign, text, out) != 0) {
        store_fail(s, "campaign %s: malformed completion \"%s\"", campaign, text);
        rc = -1;
    }
    free(text);
    return rc;
}

/* One HDEL per run of events of one campaign and kind (outbox contacts, or meta completion):
 * a batch of delivery reports is usually one campaign, so usually one command. */
int store_outbox_clear(struct store *s, const struct store_published *p, size_t n)
{
    if (n == 0)
        return 0;
    struct store_call *calls = xcalloc(n, sizeof *calls);
    const char **argv = xcalloc(3 * n, sizeof *argv);
    size_t *lens = xcalloc(3 * n, sizeof *lens);
    char (*keys)[STORE_KEY_MAX] = xcalloc(n, sizeof *keys);
    redisReply **replies = xcalloc(n, sizeof *replies);
    size_t ncalls = 0, nargs = 0;
    int rc = -1;
    for (size_t i = 0; i < n; i++) {
        if (!store_id_valid(p[i].campaign))
            continue;
        const char *suffix = p[i].contact ? "outbox" : "meta";
        char key[STORE_KEY_MAX];
        store_key(key, sizeof key, p[i].campaign, suffix);
        if (ncalls == 0 || strcmp(keys[ncalls - 1], key) != 0) {
            memcpy(keys[ncalls], key, sizeof key);
            argv[nargs] = "HDEL";
            lens[nargs] = 4;
            argv[nargs + 1] = keys[ncalls];
            lens[nargs + 1] = strlen(key);
            calls[ncalls++] = (struct store_call){-1, 2, argv + nargs, lens + nargs};
            nargs += 2;
        }
        argv[nargs] = p[i].contact ? p[i].contact : "completion";
        lens[nargs++] = p[i].contact ? p[i].len : strlen("completion");
        calls[ncalls - 1].argc++;
    }
    if (ncalls > 0 && store_pipeline(s, calls, ncalls, replies) != 0)
        goto out;
    for (size_t i = 0; i < ncalls; i++)
        freeReplyObject(replies[i]);
    rc = 0;
out:
    free(calls);
    free(argv);
    free(lens);
    free(keys);
    free(replies);
    return rc;
}

/* KEYS: 1 meta. Returns 1 launching, 2 nothing to claim, or the completion text. The same rule
 * as the batch script's (store_scripts.h): pending 0 and completed_mark not yet "DONE DLQ[
 * CANCELLED]". */
static const char claim_lua[] =
    "redis.replicate_commands()\n"
    "local m = redis.call('HMGET', KEYS[1], 'enqueued', 'done', 'dlq', 'launch_state', "
    "'completed_mark', 'audio_ms', 'cancelled')\n"
    "if m[4] ~= 'launched' then return 1 end\n"
    "local me, md, mq, mc = tonumber(m[1]) or 0, tonumber(m[2]) or 0, tonumber(m[3]) or 0, tonumber(m[7]) or 0\n"
    "local tail = mc ~= 0 and string.format(' %d', mc) or ''\n"
    "local mark = md .. ' ' .. mq .. tail\n"
    "if me - md - mq - mc ~= 0 or m[5] == mark then return 2 end\n"
    "local t = redis.call('TIME')\n"
    "local c = string.format('%d %d %d %d %d', md, mq, me, tonumber(m[6]) or 0, "
    "tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)) .. tail\n"
    "redis.call('HSET', KEYS[1], 'completed_mark', mark, 'completion', c)\n"
    "return c\n";

int store_completion_claim(struct store *s, const char *campaign, struct store_completion *out)
{
    if (store_check_id(s, campaign) != 0)
        return -1;
    char meta[STORE_KEY_MAX];
    store_key(meta, sizeof meta, campaign, "meta");
    redisReply *r = store_command(s, "EVAL %s 1 %s", claim_lua, meta);
    if (!r)
        return -1;
    int rc;
    if (r->type == REDIS_REPLY_INTEGER)
        rc = (int)r->integer;
    else if (r->type == REDIS_REPLY_STRING && store_completion_parse(campaign, r->str, out) == 0)
        rc = store_campaign_retain(s, campaign); /* completed: the retention clock starts */
    else {
        store_fail(s, "completion claim: unexpected reply for campaign %s", campaign);
        rc = -1;
    }
    freeReplyObject(r);
    return rc;
}
