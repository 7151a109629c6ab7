/* dlq_replayer.c - the engine of `voxcast dlq replay` (DLQ entries -> Kafka -> forgotten) and
 * of `voxcast campaign resume|cancel` (set-aside jobs -> Kafka -> forgotten).
 *
 * One campaign at a time, under its replay lock (for set-aside jobs: its resume lock, with
 * store_aside_unclaim_all, store_aside_claim and store_aside_released in the same places):
 *   1. store_dlq_unclaim_all puts back whatever a crashed replay had claimed;
 *   2. store_dlq_max_seq marks the newest entry that exists now: entries parked while we run
 *      (a replayed job failing again) wait for the next run, so a replay always ends;
 *   3. loop: claim a batch no bigger than the token bucket allows, produce each entry's job
 *      (replay + 1) keyed by contact, and when Kafka's delivery report says a job is stored,
 *      forget its entry (store_dlq_replayed, batched);
 *   4. at the end, wait for the deliveries in flight, forget the acknowledged entries and put
 *      every other claimed entry (delivery failed, not replayable) back, then unlock.
 * Every crash point loses nothing: an entry leaves dlq:replaying only after Kafka acknowledged
 * its job, and the next run puts back the claims left over. The price of a crash is a job that
 * may reach Kafka twice (acknowledged, then killed before it was forgotten); a consumer skips
 * a contact that is already done, so a duplicate costs one lookup. */
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "clock.h"
#include "cmd.h"
#include "dlq.h"
#include "kafka.h"
#include "lanes.h"
#include "ratelimit.h"
#include "sender.h"
#include "xalloc.h"

#define LOCK_TTL_MS     15000 /* a killed replay blocks the next one this long at most */
#define LOCK_REFRESH_MS 5000
#define CLAIM_BATCH     1000  /* entries per claim (the store allows up to 10000) */
#define MAX_IN_FLIGHT   20000 /* produced, not yet reported: bounds memory and re-sends */
#define ACK_BATCH       1000  /* acknowledged ids per store_dlq_replayed */
#define ACK_FLUSH_MS    200   /* ... or at least this often */

struct dlq_replayer {
    struct dlq_replayer_opts  o;
    rd_kafka_t               *rk;
    struct lanes              lanes;          /* one topic per job priority */
    struct ratelimit          bucket;
    char                      token[40];      /* this run's lock token */
    int64_t                   ack_wait_ms;    /* longest a delivery report can take */
    struct buf                payload;        /* the job being produced */
    /* the campaign being replayed */
    const char               *campaign;
    struct dlq_replay_result *res;
    int64_t                   max_seq;
    int64_t                   total;          /* entries to replay, for progress */
    int64_t                   produced;       /* jobs handed to librdkafka */
    int64_t                   in_flight;      /* produced, no delivery report yet */
    char                    **acked;          /* ids (DLQ) or contacts (aside) Kafka
                                               * acknowledged, not yet forgotten */
    size_t                    nacked, capacked;
    int64_t                   last_flush_ms;
    struct lock_keeper        lock;           /* the campaign's replay lock, refreshed */
    bool                      error;          /* printed; stop */
    bool                      lock_lost;      /* another run holds the lock: touch nothing more */
};

/* ---------------------------------------------------------------- the job */

#define JOB_FIRST "{\"job\":{"

/* The entry's "job" member (a new reference), or NULL when the entry has none or is not an
 * object (*not_object set). Consumers store the job first, so the parse usually stops at the
 * job's closing brace and never builds the rest of the entry (its history, its raw payload):
 * that is most of a replay's CPU. Other entries get a full parse. */
static json_t *entry_job(const char *entry_json, bool *not_object)
{
    *not_object = false;
    size_t skip = strlen(JOB_FIRST) - 1; /* up to the job's opening brace */
    if (strncmp(entry_json, JOB_FIRST, skip + 1) == 0) {
        json_t *job = json_loads(entry_json + skip, JSON_DISABLE_EOF_CHECK, NULL);
        if (job)
            return job;
    }
    json_t *entry = json_loads(entry_json, 0, NULL);
    *not_object = !json_is_object(entry);
    json_t *job = json_incref(json_object_get(entry, "job"));
    json_decref(entry);
    return job;
}

int dlq_replay_job(const char *entry_json, const char *campaign, size_t max_text_chars,
                   struct job *j, struct buf *out, char *err, size_t errlen)
{
    memset(j, 0, sizeof *j);
    bool not_object;
    json_t *job = entry_job(entry_json, &not_object);
    int rc = -1;
    char why[256];
    if (not_object) {
        snprintf(err, errlen, "the entry is not a JSON object");
    } else if (!json_is_object(job)) {
        snprintf(err, errlen, "no job: the message was not a valid job");
    } else if (job_decode_object(job, max_text_chars, j, why, sizeof why) != 0) {
        snprintf(err, errlen, "invalid job: %s", why);
    } else if (strcmp(j->campaign, campaign) != 0) {
        snprintf(err, errlen, "the job belongs to campaign %s", j->campaign);
        job_free(j);
    } else if (j->replay == INT_MAX) {
        snprintf(err, errlen, "the job's replay count is at its maximum");
        job_free(j);
    } else {
        j->replay++;
        j->expires_at_ms = 0; /* see dlq.h */
        job_encode(j, out);
        rc = 0;
    }
    json_decref(job);
    return rc;
}

/* ---------------------------------------------------------------- Kafka */

/* Delivery report: an acknowledged job's id joins the ids to forget; a failed one's entry stays
 * claimed and goes back to the DLQ at the end of the campaign. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct dlq_replayer *r = opaque;
    char *id = m->_private;
    r->in_flight--;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (r->res->failed++ == 0)
            snprintf(r->res->delivery_error, sizeof r->res->delivery_error, "%s", rd_kafka_err2str(m->err));
        free(id);
        return;
    }
    if (r->nacked == r->capacked) {
        size_t cap = r->capacked ? 2 * r->capacked : 1024;
        r->acked = xrealloc(r->acked, cap * sizeof *r->acked);
        r->capacked = cap;
    }
    r->acked[r->nacked++] = id;
}

/* Reads back how long librdkafka may take to report a delivery (message.timeout.ms). */
static int64_t message_timeout_ms(rd_kafka_conf_t *conf)
{
    char value[32];
    size_t len = sizeof value;
    if (rd_kafka_conf_get(conf, "message.timeout.ms", value, &len) != RD_KAFKA_CONF_OK)
        return 300000;
    long long ms = strtoll(value, NULL, 10);
    return ms > 0 ? ms : 300000;
}

static int open_kafka(struct dlq_replayer *r, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = kafka_conf_new(r->o.cfg, KAFKA_PRODUCER, err, errlen);
    if (!conf)
        return -1;
    r->ack_wait_ms = message_timeout_ms(conf) + 5000;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, r);
    char rkerr[512];
    r->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, rkerr, sizeof rkerr);
    if (!r->rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errlen, "kafka: %s", rkerr);
        return -1;
    }
    /* the normal lane now, so an unreachable Kafka fails before anything is claimed; the
     * other lanes when a job needs them */
    lanes_init(&r->lanes, r->rk, r->o.cfg, 10000);
    return lanes_topic(&r->lanes, JOB_PRIORITY_NORMAL, err, errlen) ? 0 : -1;
}

/* A token no other replay will hold: 16 random bytes in hex (pid and time if getrandom fails). */
static void make_token(char out[40])
{
    unsigned char raw[16];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        snprintf(out, 40, "%d-%lld", (int)getpid(), (long long)clock_wall_ms());
        return;
    }
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

struct dlq_replayer *dlq_replayer_new(const struct dlq_replayer_opts *opts, char *err, size_t errlen)
{
    struct dlq_replayer *r = xcalloc(1, sizeof *r);
    r->o = *opts;
    make_token(r->token);
    /* a burst of 1/20 s of jobs: smooth enough that a provider sees the rate, big enough that a
     * high rate does not cost a claim per job */
    ratelimit_init(&r->bucket, opts->rate, opts->rate / 20, clock_mono_ms());
    if (open_kafka(r, err, errlen) != 0) {
        dlq_replayer_free(r);
        return NULL;
    }
    return r;
}

void dlq_replayer_free(struct dlq_replayer *r)
{
    if (!r)
        return;
    lanes_close(&r->lanes);
    if (r->rk)
        rd_kafka_destroy(r->rk);
    for (size_t i = 0; i < r->nacked; i++)
        free(r->acked[i]);
    free(r->acked);
    buf_free(&r->payload);
    free(r);
}

/* ---------------------------------------------------------------- claims -> Kafka */

/* Counts a job that could not be produced; the first reason is kept. */
static void produce_failed(struct dlq_replayer *r, const char *why)
{
    if (r->res->failed++ == 0)
        snprintf(r->res->delivery_error, sizeof r->res->delivery_error, "%.255s", why);
}

/* Produces r->payload keyed by contact to the lane of priority (the id to forget rides along
 * to its delivery report, which owns it from here). */
static int produce(struct dlq_replayer *r, enum job_priority priority, const char *contact,
                   size_t len, char *id)
{
    char err[512];
    rd_kafka_topic_t *rkt = lanes_topic(&r->lanes, priority, err, sizeof err);
    if (!rkt) {
        produce_failed(r, err);
        free(id);
        return -1;
    }
    rd_kafka_resp_err_t e = sender_produce(r->rk, rkt, r->payload.data, r->payload.len, contact,
                                           len, id);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
        r->in_flight++;
        r->produced++;
        return 0;
    }
    produce_failed(r, rd_kafka_err2str(e));
    free(id);
    return -1;
}

/* store_dlq_fn for claims: each claimed entry's job goes to Kafka; an entry without a usable
 * job stays claimed (put back at the end) and counts as skipped. */
static int on_claimed(void *ctx, const char *id, const char *entry_json)
{
    struct dlq_replayer *r = ctx;
    struct job j;
    char why[320];
    buf_reset(&r->payload);
    if (dlq_replay_job(entry_json, r->campaign, r->o.max_text_chars, &j, &r->payload, why, sizeof why) != 0) {
        r->res->skipped++;
        return 0;
    }
    produce(r, j.priority, j.contact, strlen(j.contact), xstrdup(id)); /* its own lane */
    job_free(&j);
    return 0;
}

/* store_aside_fn: a set-aside job goes back to Kafka as it was set aside, in its priority's lane.
 * A consumer decoded it before setting it aside, so it decodes; should it not, it goes to the
 * normal lane, where a consumer files it as an invalid job rather than it staying aside forever. */
static int on_aside(void *ctx, const char *contact, size_t len, const char *job_json)
{
    struct dlq_replayer *r = ctx;
    struct job j;
    char why[256];
    enum job_priority priority = JOB_PRIORITY_NORMAL;
    if (job_decode(job_json, strlen(job_json), 0, &j, why, sizeof why) == 0) {
        priority = j.priority;
        job_free(&j);
    }
    buf_reset(&r->payload);
    buf_append(&r->payload, job_json, strlen(job_json));
    produce(r, priority, contact, len, xstrndup(contact, len));
    return 0;
}

static const char *source_name(const struct dlq_replayer *r)
{
    return r->o.source == DLQ_SOURCE_ASIDE ? "set-aside jobs" : "DLQ entries";
}

static enum store_lock source_lock(const struct dlq_replayer *r)
{
    return r->o.source == DLQ_SOURCE_ASIDE ? STORE_LOCK_RESUME : STORE_LOCK_REPLAY;
}

/* Forgets n acknowledged ids (DLQ) or contacts (aside): the count, or -1. */
static int forget(struct dlq_replayer *r, const char *const *ids, size_t n)
{
    if (r->o.source == DLQ_SOURCE_DLQ)
        return store_dlq_replayed(r->o.store, r->campaign, ids, n);
    size_t lens[ACK_BATCH];
    for (size_t i = 0; i < n; i++)
        lens[i] = strlen(ids[i]); /* a contact holds no NUL (job_contact_valid) */
    return store_aside_released(r->o.store, r->campaign, ids, lens, n);
}

static int unclaim_all(struct dlq_replayer *r)
{
    return r->o.source == DLQ_SOURCE_ASIDE ? store_aside_unclaim_all(r->o.store, r->campaign)
                                           : store_dlq_unclaim_all(r->o.store, r->campaign);
}

/* Forgets the acknowledged entries: in batches, or all of them when force. */
static void flush_acked(struct dlq_replayer *r, bool force)
{
    int64_t now = clock_mono_ms();
    if (r->nacked == 0 || (!force && r->nacked < ACK_BATCH && now - r->last_flush_ms < ACK_FLUSH_MS))
        return;
    r->last_flush_ms = now;
    bool first = r->res->replayed == 0;
    for (size_t i = 0; i < r->nacked && !r->error; i += ACK_BATCH) {
        size_t n = r->nacked - i < ACK_BATCH ? r->nacked - i : ACK_BATCH;
        if (forget(r, (const char *const *)r->acked + i, n) < 0) {
            /* they stay claimed: the next run puts them back and sends them again */
            cmd_error("redis: recording re-enqueued %s of %s: %s", source_name(r), r->campaign,
                      store_error(r->o.store));
            r->error = true;
        }
    }
    r->res->replayed += (int64_t)r->nacked; /* on Kafka either way */
    for (size_t i = 0; i < r->nacked; i++)
        free(r->acked[i]);
    r->nacked = 0;
    if (r->o.progress)
        r->o.progress(r->o.ctx, r->campaign, r->res->replayed, r->total, first);
}

/* Keeps the lock alive; losing it means another replay took the campaign over (ours was
 * presumed dead), so this one must stop and leave the claims to it. */
static void refresh_lock(struct dlq_replayer *r)
{
    if (r->lock_lost)
        return;
    int rc = lock_keeper_refresh(&r->lock);
    if (rc < 0) {
        cmd_error("redis: refreshing the lock of %s: %s", r->campaign, store_error(r->o.store));
        r->error = true;
    } else if (rc == 1) {
        cmd_error("lost the lock of %s to another run re-enqueueing its %s; stopping", r->campaign,
                  source_name(r));
        r->error = r->lock_lost = true;
    }
}

/* Serves delivery reports (waiting up to timeout_ms for one), records acks, keeps the lock. */
static void serve(struct dlq_replayer *r, int timeout_ms)
{
    rd_kafka_poll(r->rk, timeout_ms);
    flush_acked(r, false);
    refresh_lock(r);
}

/* How many entries the token bucket allows now, up to want; 0 with *wait_ms set when none. */
static size_t take_budget(struct dlq_replayer *r, size_t want, int64_t *wait_ms)
{
    size_t budget = 0;
    *wait_ms = 0;
    while (budget < want) {
        int64_t wait = ratelimit_take(&r->bucket, clock_mono_ms());
        if (wait > 0) {
            *wait_ms = wait;
            break;
        }
        budget++;
    }
    return budget;
}

/* Claims and produces until the campaign is exhausted (up to max_seq), limit jobs were
 * produced, or something says stop. */
static enum dlq_stop pump(struct dlq_replayer *r, int64_t limit)
{
    for (;;) {
        serve(r, 0);
        if (r->error)
            return DLQ_STOP_ERROR;
        enum dlq_stop stop = r->o.should_stop ? r->o.should_stop(r->o.ctx) : DLQ_STOP_NONE;
        if (stop != DLQ_STOP_NONE)
            return stop;
        if (limit > 0 && r->produced >= limit)
            return DLQ_STOP_LIMIT;
        if (r->in_flight >= MAX_IN_FLIGHT) {
            serve(r, 10);
            continue;
        }
        size_t want = CLAIM_BATCH;
        if (limit > 0 && (int64_t)want > limit - r->produced)
            want = (size_t)(limit - r->produced);
        int64_t wait_ms;
        size_t budget = take_budget(r, want, &wait_ms);
        if (budget == 0) {
            serve(r, (int)(wait_ms < 100 ? wait_ms : 100));
            continue;
        }
        int n = r->o.source == DLQ_SOURCE_ASIDE
                    ? store_aside_claim(r->o.store, r->campaign, budget, on_aside, r)
                    : store_dlq_claim(r->o.store, r->campaign, r->max_seq, budget, on_claimed, r);
        if (n < 0) {
            cmd_error("redis: claiming %s of %s: %s", source_name(r), r->campaign, store_error(r->o.store));
            r->error = true;
            return DLQ_STOP_ERROR;
        }
        if (n == 0)
            return DLQ_STOP_NONE;
    }
}

/* Waits for the reports of every job in flight (librdkafka reports each within
 * message.timeout.ms); what is still queued after that is purged, so that nothing is sent
 * after its entry went back to the DLQ. */
static int drain_tick(void *ctx)
{
    struct dlq_replayer *r = ctx;
    flush_acked(r, false);
    refresh_lock(r);
    return 0;   /* even with the lock lost, what Kafka acknowledged is forgotten */
}

static void drain(struct dlq_replayer *r)
{
    sender_drain(r->rk, clock_mono_ms() + r->ack_wait_ms, 5000, drain_tick, r);
    flush_acked(r, true);
}

/* Puts the campaign's remaining claims back and releases the lock (unless another run has
 * taken it: then the claims are its business). */
static void release(struct dlq_replayer *r)
{
    if (r->lock_lost)
        return;
    if (unclaim_all(r) < 0) {
        cmd_error("redis: putting unsent %s of %s back: %s (the next run will)", source_name(r),
                  r->campaign, store_error(r->o.store));
        r->error = true;
    }
    if (store_unlock(r->o.store, r->campaign, source_lock(r), r->token) < 0)
        r->error = true; /* it expires by itself within LOCK_TTL_MS */
}

/* What waits to be re-enqueued now (for progress): DLQ entries, or set-aside jobs; -1 error. */
static int64_t waiting_count(struct dlq_replayer *r)
{
    if (r->o.source == DLQ_SOURCE_DLQ)
        return store_dlq_count(r->o.store, r->campaign);
    struct campaign_info ci;
    int rc = store_campaign_get(r->o.store, r->campaign, &ci);
    return rc < 0 ? -1 : rc == 1 ? 0 : ci.aside;
}

/* Lock, recover, mark: 0 ready, 1 locked by another run, -1 error (printed). */
static int begin(struct dlq_replayer *r, int64_t limit)
{
    int rc = store_lock(r->o.store, r->campaign, source_lock(r), r->token, LOCK_TTL_MS);
    if (rc != 0) {
        if (rc < 0)
            cmd_error("redis: locking the %s of %s: %s", source_name(r), r->campaign, store_error(r->o.store));
        return rc;
    }
    r->lock = (struct lock_keeper){.store = r->o.store, .campaign = r->campaign,
                                   .which = source_lock(r), .token = r->token,
                                   .ttl_ms = LOCK_TTL_MS, .every_ms = LOCK_REFRESH_MS,
                                   .last_ms = clock_mono_ms()};
    int back = unclaim_all(r);
    int64_t waiting = back < 0 ? -1 : waiting_count(r);
    if (back < 0 || waiting < 0 ||
        (r->o.source == DLQ_SOURCE_DLQ && store_dlq_max_seq(r->o.store, r->campaign, &r->max_seq) != 0)) {
        cmd_error("redis: preparing to re-enqueue the %s of %s: %s", source_name(r), r->campaign,
                  store_error(r->o.store));
        store_unlock(r->o.store, r->campaign, source_lock(r), r->token);
        return -1;
    }
    r->res->recovered = back;
    r->total = limit > 0 && waiting > limit ? limit : waiting;
    return 0;
}

int dlq_replayer_run(struct dlq_replayer *r, const char *campaign, int64_t limit,
                     struct dlq_replay_result *res, enum dlq_stop *stop)
{
    memset(res, 0, sizeof *res);
    *stop = DLQ_STOP_NONE;
    r->campaign = campaign;
    r->res = res;
    r->produced = r->in_flight = 0;
    r->error = r->lock_lost = false;
    int rc = begin(r, limit);
    if (rc != 0)
        return rc;
    if (r->o.progress)
        r->o.progress(r->o.ctx, campaign, 0, r->total, true);
    *stop = pump(r, limit);
    drain(r);
    release(r);
    if (r->o.progress)
        r->o.progress(r->o.ctx, campaign, res->replayed, r->total, true);
    if (r->error)
        *stop = DLQ_STOP_ERROR;
    return r->error ? -1 : 0;
}
