/* store_batch.c - batched contact transitions: the outcome and reserve batch builders, the exec
 * plan that turns them into script calls, send/wait and the per-op results and completions.
 *
 * A batch is split per campaign, because one script may only touch keys of one hash slot, and
 * the per-campaign script calls are pipelined, so a batch costs one round trip whatever it
 * holds. */
#include "store.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "store_scripts.h"
#include "xalloc.h"

/* ================================================================ batches */

struct store_op {
    size_t  contact, contact_len; /* offsets into the arena */
    size_t  extra, extra_len;     /* provider, entry JSON or (aside) job JSON */
    size_t  event, event_len;     /* done, dlq, cancel: results event JSON ("" for none) */
    int64_t audio_ms;             /* done: duration of the delivered audio */
    size_t  group;                /* index into groups */
    size_t  run;                  /* reserve, chunk ack: index into the group's runs */
    uint32_t chunk;               /* reserve, chunk ack: the run's chunk; 0 for none */
    char    kind;                 /* 'R', 'N', 'K', 'A', 'U', 'D', 'Q', 'C', 'X', 'S' (the script's op codes) */
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

#define GROUP_KEYS 15 /* meta state prov dlq dlq:e dlq:c dlq:seq applied:W runs chunks outbox
                       * aside aside:claimed chars dlq:replaying */

/* ARGV items per op of kind (store_lua_batch). */
static size_t op_width(char kind)
{
    return kind == 'D' ? 4 : kind == 'Q' ? 3 : kind == 'X' || kind == 'S' ? 2 : 1;
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
    if (kind == 'D' || kind == 'Q' || kind == 'S') {
        op->extra_len = extra ? strlen(extra) : 0;
        op->extra = arena_put(b, extra ? extra : "", op->extra_len);
    }
    if (kind == 'D' || kind == 'Q' || kind == 'X')
        op->event = arena_put(b, "", 0);
    struct store_group *g = &b->groups[op->group];
    g->nops++;
    g->nitems += op_width(kind);
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

size_t store_batch_cancel(struct store_batch *b, const char *campaign, const char *contact,
                          size_t len, const char *event_json)
{
    return set_result(b, add_op(b, 'X', campaign, NULL, 0, contact, len, NULL), 0, event_json);
}

size_t store_batch_aside(struct store_batch *b, const char *campaign, const char *contact,
                         size_t len, const char *job_json)
{
    return add_op(b, 'S', campaign, NULL, 0, contact, len, job_json);
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
        if (op->kind == 'D' || op->kind == 'Q' || op->kind == 'S')
            plan_arg(p, arena + op->extra, op->extra_len);
        if (op->kind == 'D') {
            char *ms = p->small[p->nsmall++];
            plan_arg(p, ms, (size_t)snprintf(ms, sizeof *p->small, "%" PRId64, op->audio_ms));
        }
        if (op->kind == 'D' || op->kind == 'Q' || op->kind == 'X')
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
    plan_argf(p, "voxcast:{%s}:aside", g->campaign);
    plan_argf(p, "voxcast:{%s}:aside:claimed", g->campaign);
    plan_argf(p, "voxcast:{%s}:chars", g->campaign);
    plan_argf(p, "voxcast:{%s}:dlq:replaying", g->campaign);
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

/* Reads the script's completion suffix ("|L", or "|C" and the completion text) into g->done. */
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
    long long d, q, e, ms, at, c = 0;
    int got = sscanf(text, "%lld %lld %lld %lld %lld %lld", &d, &q, &e, &ms, &at, &c);
    if (got != 5 && got != 6)
        return -1;
    *out = (struct store_completion){.state = STORE_COMPLETED, .done = d, .dlq = q, .enqueued = e,
                                     .audio_ms = ms, .at_ms = at, .cancelled = c};
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
    if (b->sent->ncalls > 0 && store_pipeline_send(s, b->sent->calls, b->sent->ncalls) != 0) {
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
    int rc = p->ncalls > 0 ? store_pipeline_recv(s, p->calls, p->ncalls, replies) : 0;
    for (size_t i = 0; rc == 0 && i < p->ncalls; i++) {
        if (p->call_group[i] != SIZE_MAX)
            rc = take_results(s, b, p->call_group[i], replies[i]);
    }
    store_free_replies(replies, p->ncalls); /* NULL-safe: a failed pipeline already freed them */
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
