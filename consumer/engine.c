/* engine.c - the consumer's event loop; see engine.h.
 *
 * A tick, in order:
 *   1. Kafka: take messages while there is room (tasks < buffer cap), serving rebalances. Jobs
 *      come in three priority lanes, kafka.topic + ".high", kafka.topic, kafka.topic + ".low"
 *      (lanes.h; a lane whose topic does not exist is simply empty).
 *   1b. Campaign control: the campaigns in hand whose cached control (running, paused,
 *      cancelled) is older than campaign.control_ttl_ms are read in one round trip (control.h).
 *   2. Done-check: ask Redis, in one round trip for the tick, which new contacts are already done
 *      (a redelivered job is counted as a duplicate, not rendered again). Then each job's fate:
 *      a cancelled campaign's contact is cancelled, a paused campaign's job set aside (the
 *      offset moves on; resume produces it again), an expired job dead-lettered ("expired"),
 *      the rest rendered.
 *   2b. Render once (cache.h): the new contacts' spoken requests are looked up in the fleet's
 *      cache, with due polls of requests other consumers render, claim renewals, entries of
 *      renders written and cost counts, in one round trip: a hit is copied by the writer, a
 *      claim won is rendered, a claim held elsewhere waits (never a blocked thread).
 *   2c. Children (parts.h): a job with variants, or whose text is over the smallest text limit
 *      of the chain, is rendered as child tasks (each variant; each part of a long text), each
 *      scheduled, retried and failed over like a job; a child's outcome goes back to its job,
 *      which goes on to the writer (parts joined, one file per variant) once all are back, or
 *      to the DLQ naming the child that failed for good.
 *   3. Timers: tasks whose backoff or pacing delay is over go back to the ready queue.
 *   4. Schedule: start attempts for ready tasks, high lane before normal before low (one ready
 *      queue each), the job's fate checked again before every attempt, under the consumer's
 *      concurrency, each provider's
 *      cap, its token bucket, its 429 pause and its breaker; an open breaker sends the task on to
 *      the next provider at once. With breaker.shared the breakers are first synced with the
 *      fleet's in Redis (breaker_shared.h: at most every 250 ms, one round trip).
 *   5. Drive transfers; finished attempts are classified: retry later, fail over, or finish.
 *   6. Flush: write the finished tasks' audio (files: aside, one sync, rename; S3: one signed PUT
 *      each, concurrently, each answered 200), then their outcomes to Redis in one round trip,
 *      and only then mark their offsets finished and store the contiguous prefix per partition.
 *      Nothing is committed whose outcome is not in Redis. With a results stream (results.h) the
 *      outcome's event rides in the same Redis step, and the offset waits for Kafka to
 *      acknowledge that event.
 *   7. Flow control: pause the assigned partitions when the buffer is full, Redis is down, the
 *      audio store fails (nothing new is rendered either) or every breaker is open; resume below
 *      half the buffer. Within that, while a higher lane has backlog the lower lanes' partitions
 *      are paused too (lanes.h: a floor of kafka.low_lane_share keeps them going). Then sleep
 *      until something happens.
 */
#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"
#include "breaker_shared.h"
#include "cache.h"
#include "clock.h"
#include "control.h"
#include "hash.h"
#include "httpd.h"
#include "idset.h"
#include "kafka.h"
#include "lanes.h"
#include "log.h"
#include "metrics.h"
#include "offsets.h"
#include "parts.h"
#include "provider.h"
#include "results.h"
#include "sink.h"
#include "store.h"
#include "store_results.h"
#include "task.h"
#include "timerheap.h"
#include "writer.h"
#include "xalloc.h"

struct tasklist {
    struct task *head, *tail;
    size_t       n;
    int64_t      since_ms;   /* when the oldest task joined (for batching windows) */
};

/* Redis round trips are batched per list: a list is written when it holds BATCH_MIN tasks or
 * its oldest task has waited BATCH_WAIT_MS. A few milliseconds of latency buy batches large
 * enough that the loop is not paced by round trips. */
#define BATCH_MIN     128
#define BATCH_WAIT_MS 3
#define ENGINE_MAX_PROVIDERS 64 /* the width of a task's provider masks (check_chain) */

struct engine {
    const struct config             *cfg;
    rd_kafka_t                      *rk;
    rd_kafka_queue_t                *queue;
    char                             topic[256];    /* kafka.topic: the normal lane's */
    char                             lane_topic[LANES_N][256]; /* each lane's topic (lanes.h) */
    struct lanes                    *lanes;
    bool                             lane_held[LANES_N];   /* the lanes' decision */
    bool                             lane_paused[LANES_N]; /* what librdkafka was told */
    int64_t                          lanes_fed_ms;
    struct control                  *control;       /* campaign controls (control.h) */
    int64_t                          control_ttl_ms;
    int64_t                          control_reads, control_read_us; /* round trips, their time */
    rd_kafka_topic_partition_list_t *assigned;
    uint32_t                        *gen;           /* per-partition generation, bumped on revoke */
    size_t                           ngen;
    bool                             paused, kafka_ok;
    bool                             kafka_backlog; /* the last poll left messages queued */
    int64_t                          full_since_ms; /* buffer full since (0: not full) */
    int64_t                          kafka_probe_ms;
    int64_t                          redis_probe_ms;
    int                              wake[2];       /* kafka io-event and signal pipe */
    struct store                    *store;
    struct store_batch              *batch;         /* outcomes (kept as is while unconfirmed) */
    struct store_batch              *checks;        /* done-checks, apart so they never touch it */
    bool                             redis_ok;
    int64_t                          redis_retry_at, redis_backoff_ms;
    struct providers                *providers;
    struct breaker_shared           *bshared;       /* NULL: breaker.shared = false */
    struct metrics                  *metrics;
    struct httpd                    *httpd;
    struct offsets                  *offsets;
    struct timerheap                *timers;
    struct writer                   *writer;        /* audio files, on their own thread */
    struct results                  *results;       /* results stream; NULL when disabled */
    struct cache                    *cache;         /* render once (cache.h) */
    int64_t                          write_retry_at; /* a write failed: try again from then */
    bool                             audio_down;    /* the last audio write failed: paused */
    struct tasklist                  checking, finishing;
    struct tasklist                  ready[LANES_N]; /* one per lane, served high to low */
    struct tasklist                  to_write;      /* rendered, audio not handed to the writer */
    struct idset                    *inflight;      /* campaign NUL contact of tasks past the check */
    size_t                           tasks;         /* accepted and not yet released */
    size_t                           running;       /* attempts out */
    size_t                           concurrency, buffer_cap;
    int                              max_attempts;
    int64_t                          base_ms, max_ms, grace_ms, summary_ms;
    int64_t                          throttle_max_wait_ms;
    size_t                           max_text;
    int64_t                          dlq_cap;        /* dlq.max_entries_per_campaign; 0: none */
    uint64_t                         rng;
    volatile sig_atomic_t            stop;
    bool                             stopping;
    int64_t                          stop_deadline;
    int                              breaker_seen[ENGINE_MAX_PROVIDERS];
    int                              wait_replicas;  /* redis.wait_replicas; 0: no WAIT */
    int                              wait_timeout_ms;
    bool                             unconfirmed;    /* E->batch is applied, replicas short */
    bool                             unsent;         /* E->batch failed on the wire: resend it as is */
    int64_t                          batch_wall;     /* the wall time E->batch was built at */
    int64_t                          n_done, n_dlq, n_dup, n_invalid, n_cancelled, n_aside;
    int64_t                          last_summary_ms, last_summary_finished;
    char                             account_id[128]; /* this consumer in the fleet's accounts */
};

/* ---------------------------------------------------------------- task lists */

static void list_push(struct tasklist *l, struct task *t)
{
    t->next = NULL;
    if (l->tail) {
        l->tail->next = t;
    } else {
        l->head = t;
        l->since_ms = clock_mono_ms();
    }
    l->tail = t;
    l->n++;
}

static struct tasklist list_take(struct tasklist *l)
{
    struct tasklist all = *l;
    *l = (struct tasklist){0};
    return all;
}

static uint32_t *gen_slot(struct engine *E, int32_t partition)
{
    if ((size_t)partition >= E->ngen) {
        size_t n = (size_t)partition + 16;
        E->gen = xrealloc(E->gen, n * sizeof *E->gen);
        memset(E->gen + E->ngen, 0, (n - E->ngen) * sizeof *E->gen);
        E->ngen = n;
    }
    return &E->gen[partition];
}

/* A task whose partition was revoked after it arrived: its offset is no longer ours to store. */
/* The job a task renders for: itself, or the top of its tree for a part or variant (parts.h),
 * which is filed where its job's message is (partition, generation, lane). */
static const struct task *job_of(const struct task *t)
{
    while (t->parent)
        t = t->parent;
    return t;
}

/* Per-partition state (generations, commit watermarks) is kept by lane slot (lanes_slot):
 * partitions of the three lanes' topics share numbers. */
static bool task_revoked(struct engine *E, const struct task *t)
{
    return t->revoked || *gen_slot(E, lanes_slot((enum lane)job_of(t)->lane, t->partition)) != t->gen;
}

/* The in-flight index key: campaign, NUL, contact. */
static void inflight_key(const struct task *t, struct buf *key)
{
    buf_reset(key);
    buf_append(key, t->job.campaign, strlen(t->job.campaign) + 1);
    buf_puts(key, t->job.contact);
}

static void drop_child(struct engine *E, struct task *t);

/* t and the children it holds leave the engine: a render of the fleet's among them gives up its
 * claim (cache.h; a variant child may render one). */
static void forget_tree(struct engine *E, struct task *t)
{
    cache_forget(E->cache, t);
    for (size_t i = 0; i < t->nchildren; i++)
        if (t->children[i])
            forget_tree(E, t->children[i]);
}

static void release(struct engine *E, struct task *t)
{
    forget_tree(E, t);
    if (t->parent || t->orphan) {
        drop_child(E, t);
        return;
    }
    if (t->indexed) {
        struct buf key = {0};
        inflight_key(t, &key);
        idset_remove(E->inflight, key.data, key.len);
        buf_free(&key);
    }
    control_release(E->control, t->ctl);
    E->tasks--;
    task_free(t);
}

/* A finished task's outcome goes to Redis; a rendered one's audio is written first. */
static void finish(struct engine *E, struct task *t)
{
    t->state = TASK_FINISHING;
    if (t->orphan) { /* its job gave up on it (parts.h) */
        cache_forget(E->cache, t);
        task_free(t);
        return;
    }
    if (t->parent) { /* back to its job, which finishes once every child is back */
        if (t->outcome != OUTCOME_DONE) {
            cache_forget(E->cache, t); /* a variant's failed render releases its claim (cache.h) */
        } else if (!t->file_written && cache_applies(E->cache, t)) {
            /* A variant rendered once for the fleet is written on its own, and its entry with
             * it, without waiting for its job's other variants: those may wait for entries in
             * turn (two consumers each rendering one of two shared variants would wait for each
             * other). It goes to its job once written (exchange_files). */
            list_push(&E->to_write, t);
            return;
        }
        struct task *job = parts_child_back(t);
        if (job)
            finish(E, job);
        return;
    }
    list_push(t->outcome == OUTCOME_DONE && !t->file_written ? &E->to_write : &E->finishing, t);
}

static void make_ready(struct engine *E, struct task *t)
{
    t->state = TASK_READY;
    list_push(&E->ready[job_of(t)->lane % LANES_N], t);
}

static void defer(struct engine *E, struct task *t, int64_t due_ms)
{
    t->state = TASK_WAITING;
    timerheap_push(E->timers, due_ms, t);
}

/* ---------------------------------------------------------------- jobs in children (parts.h) */

/* The smallest text limit among the chain's providers that have one (0: none), so every part
 * of a text split to it can fail over to any provider. */
static size_t chain_text_limit(struct engine *E, const struct job *job)
{
    int64_t min = 0;
    for (size_t i = 0; i < providers_count(E->providers); i++) {
        int64_t l = provider_text_limit(providers_at(E->providers, i), job);
        if (l > 0 && (min == 0 || l < min))
            min = l;
    }
    return (size_t)min;
}

/* A job past its checks starts rendering: whole, or as children (its variants, a long text's
 * parts), each queued as a task of its own while the job waits in no queue. */
static void start_rendering(struct engine *E, struct task *t)
{
    size_t n = parts_expand(t, chain_text_limit(E, &t->job));
    if (n == 0) {
        make_ready(E, t);
        return;
    }
    t->state = TASK_RUNNING;
    log_debug("job rendered in children", LOGS("campaign", t->job.campaign), LOGS("contact", t->job.contact),
              LOGS("variant", t->variant), LOGN("children", (int64_t)n));
    for (size_t i = 0; i < n; i++) /* a variant is rendered once for all like a job (cache.h) */
        if (!cache_admit(E->cache, t->children[i]))
            start_rendering(E, t->children[i]);
}

/* A child dropped before it came back (its partition was revoked) takes its job with it: the
 * job's other children still out become orphans, and the job is released. */
static void drop_child(struct engine *E, struct task *t)
{
    if (t->orphan) {
        task_free(t);
        return;
    }
    struct task *job = parts_root(t);
    parts_abandon(job); /* t among them */
    task_free(t);
    release(E, job);
}

/* ---------------------------------------------------------------- Kafka */

static void set_kafka_ok(struct engine *E, bool ok)
{
    if (E->kafka_ok != ok)
        log_event(ok ? LOG_INFO : LOG_ERROR, ok ? "kafka reachable" : "kafka unreachable",
                  LOG_FIELDS_(LOGS("bootstrap", config_get(E->cfg, "kafka.bootstrap.servers"))));
    E->kafka_ok = ok;
    metrics_set_health_inputs(E->metrics, E->redis_ok && !E->unconfirmed, E->kafka_ok);
}

static void on_kafka_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    struct engine *E = opaque;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        set_kafka_ok(E, false);
    else
        log_warn("kafka error", LOGS("error", rd_kafka_err2str(err)), LOGS("reason", reason));
}

static void store_offsets(struct engine *E, enum lane lane, int32_t partition)
{
    int64_t next = offsets_advance(E->offsets, lanes_slot(lane, partition));
    if (next < 0)
        return;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, E->lane_topic[lane], partition)->offset = next;
    /* __STATE for a partition no longer assigned: the new owner redoes the job; drop it.
     * Anything else means an outcome in Redis whose offset will not be committed: say so. */
    rd_kafka_resp_err_t e = rd_kafka_offsets_store(E->rk, l);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
        e = l->elems[0].err;
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR__STATE)
        log_error("cannot store an offset; the job will be delivered again", LOGN("partition", partition),
                  LOGN("offset", next), LOGS("error", rd_kafka_err2str(e)));
    rd_kafka_topic_partition_list_destroy(l);
}

/* librdkafka calls of the rebalance path that should not fail: a failure is logged, never lost. */
static void check_kafka_call(rd_kafka_resp_err_t e, const char *what)
{
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        log_error("kafka call failed", LOGS("what", what), LOGS("error", rd_kafka_err2str(e)));
}

/* Pauses or resumes the assigned partitions of one lane's topic; true when librdkafka took it. */
static bool pause_lane(struct engine *E, enum lane lane, bool pause)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(E->assigned->cnt);
    for (int i = 0; i < E->assigned->cnt; i++)
        if (strcmp(E->assigned->elems[i].topic, E->lane_topic[lane]) == 0)
            rd_kafka_topic_partition_list_add(l, E->lane_topic[lane], E->assigned->elems[i].partition);
    rd_kafka_resp_err_t e = l->cnt == 0 ? RD_KAFKA_RESP_ERR_NO_ERROR
                            : pause     ? rd_kafka_pause_partitions(E->rk, l)
                                        : rd_kafka_resume_partitions(E->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        log_warn(pause ? "cannot pause partitions" : "cannot resume partitions", LOGS("lane", lanes_name(lane)),
                 LOGS("error", rd_kafka_err2str(e)));
    return e == RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* A lane's partitions are fetched unless the whole consumer is paused (E->paused: buffer full,
 * Redis or the audio store down, every breaker open, stopping) or the lane is held for a higher
 * one (lanes.h): a partition the whole-consumer pause holds is never resumed for its lane. */
static void apply_pauses(struct engine *E)
{
    if (!E->assigned || E->assigned->cnt == 0)
        return;
    for (int i = 0; i < LANES_N; i++) {
        bool want = E->paused || E->lane_held[i];
        if (want != E->lane_paused[i] && pause_lane(E, (enum lane)i, want))
            E->lane_paused[i] = want;
    }
}

static void set_paused(struct engine *E, bool pause)
{
    if (E->paused == pause || !E->assigned || E->assigned->cnt == 0) {
        E->paused = pause && E->assigned && E->assigned->cnt > 0 ? true : (E->paused && pause);
        return;
    }
    E->paused = pause;
    apply_pauses(E); /* a call librdkafka refused is made again at the next tick */
    log_debug(pause ? "partitions paused" : "partitions resumed", LOGN("tasks", E->tasks));
}

static void flush_finished(struct engine *E, bool force);

static void drop_revoked(struct engine *E, struct tasklist *l)
{
    struct tasklist all = list_take(l);
    for (struct task *t = all.head, *next; t; t = next) {
        next = t->next;
        if (task_revoked(E, t))
            release(E, t);
        else
            list_push(l, t);
    }
}

static void exchange_files(struct engine *E);

static void revoke_partitions(struct engine *E, rd_kafka_topic_partition_list_t *parts)
{
    /* persist what is done, files first, so its offsets go out with this commit and the new
     * owner does not render it again (a second at most: a stuck disk must not stall the group) */
    exchange_files(E);
    writer_wait_idle(E->writer, 1000);
    exchange_files(E);
    if (!E->redis_ok)
        E->redis_retry_at = 0; /* worth a reconnect now rather than at the next back-off step */
    flush_finished(E, true);
    /* their results events get half a second, so their offsets go out with this commit too */
    results_drain(E->results, E->redis_ok ? E->store : NULL, 500);
    rd_kafka_resp_err_t e = rd_kafka_commit(E->rk, NULL, 1 /* async: a sync commit waits forever without brokers */);
    if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
        log_warn("commit on revoke failed", LOGS("error", rd_kafka_err2str(e)));
    for (int i = 0; i < parts->cnt; i++) {
        int lane = lanes_topic_lane(E->topic, parts->elems[i].topic);
        if (lane < 0)
            continue;
        int32_t slot = lanes_slot((enum lane)lane, parts->elems[i].partition);
        (*gen_slot(E, slot))++;
        offsets_forget(E->offsets, slot);
        lanes_revoke(E->lanes, (enum lane)lane, parts->elems[i].partition);
    }
    drop_revoked(E, &E->checking);
    for (int i = 0; i < LANES_N; i++)
        drop_revoked(E, &E->ready[i]);
    check_kafka_call(rd_kafka_assign(E->rk, NULL), "unassigning revoked partitions");
    if (E->assigned)
        rd_kafka_topic_partition_list_destroy(E->assigned);
    E->assigned = NULL;
    E->paused = false;
    memset(E->lane_paused, 0, sizeof E->lane_paused);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct engine *E = opaque;
    log_info(err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? "partitions assigned" : "partitions revoked",
             LOGN("count", parts->cnt));
    if (err != RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        revoke_partitions(E, parts);
        return;
    }
    check_kafka_call(rd_kafka_assign(rk, parts), "assigning partitions");
    /* a pause from before the rebalance must not linger */
    check_kafka_call(rd_kafka_resume_partitions(rk, parts), "resuming assigned partitions");
    if (E->assigned)
        rd_kafka_topic_partition_list_destroy(E->assigned);
    E->assigned = rd_kafka_topic_partition_list_copy(parts);
    E->paused = false;
    memset(E->lane_paused, 0, sizeof E->lane_paused); /* held lanes are paused at the next tick */
    for (int i = 0; i < parts->cnt; i++) {
        int lane = lanes_topic_lane(E->topic, parts->elems[i].topic);
        if (lane >= 0)
            lanes_assign(E->lanes, (enum lane)lane, parts->elems[i].partition);
    }
    set_kafka_ok(E, true);
}

/* A priority lane whose topic does not exist (a deployment from before lanes, or one that never
 * uses that priority) is no error: it is read once it exists (librdkafka sees new topics at its
 * next metadata refresh, topic.metadata.refresh.interval.ms). librdkafka reports it once. */
static bool lane_topic_missing(struct engine *E, const rd_kafka_message_t *m)
{
    const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "";
    int lane = lanes_topic_lane(E->topic, topic);
    if (lane < 0 || lane == LANE_NORMAL)
        return false;
    log_info("priority lane topic does not exist; read once it does", LOGS("topic", topic),
             LOGS("lane", lanes_name((enum lane)lane)));
    return true;
}

/* The lane of a message: the topic it came in. */
static enum lane message_lane(const struct engine *E, const rd_kafka_message_t *m)
{
    int lane = lanes_topic_lane(E->topic, rd_kafka_topic_name(m->rkt));
    return lane < 0 ? LANE_NORMAL : (enum lane)lane;
}

static void take_message(struct engine *E, rd_kafka_message_t *m)
{
    if (m->err) {
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            return;
        if (m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART && lane_topic_missing(E, m))
            return;
        log_event(m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE ? LOG_ERROR : LOG_WARN,
                  "kafka consume error", LOG_FIELDS_(LOGS("error", rd_kafka_message_errstr(m)),
                                                     LOGN("partition", m->partition)));
        return;
    }
    if (!E->kafka_ok)
        set_kafka_ok(E, true);
    enum lane lane = message_lane(E, m);
    int32_t slot = lanes_slot(lane, m->partition);
    int64_t gap = offsets_track(E->offsets, slot, m->offset);
    lanes_taken(E->lanes, lane, m->partition, m->offset);
    if (gap > 0)
        log_error("offset gap: messages vanished before this consumer read them (broker log "
                  "truncation?); run voxcast reconcile for the affected campaigns",
                  LOGS("topic", E->lane_topic[lane]), LOGN("partition", m->partition),
                  LOGN("first_missing", m->offset - gap),
                  LOGN("missing", gap));
    struct task *t = task_from_message(m->payload, m->len, m->key, m->key_len, m->partition,
                                       m->offset, E->max_text);
    t->gen = *gen_slot(E, slot);
    t->lane = (uint8_t)lane;
    E->tasks++;
    if (t->valid) {
        t->ctl = control_hold(E->control, t->job.campaign);
        list_push(&E->checking, t);
        return;
    }
    E->n_invalid++;
    log_warn("invalid job", LOGN("partition", t->partition), LOGN("offset", t->offset),
             LOGS("error", t->error));
    finish(E, t);
}

/* A full buffer first just stops polling: the jobs in hand free room within milliseconds, and
 * pausing is expensive (a resumed partition can take librdkafka a second to fetch again). Only
 * a buffer full for PAUSE_AFTER_MS (a stalled provider, say) pauses the partitions, so polling
 * can go on serving rebalances and the poll interval without taking more jobs. */
#define PAUSE_AFTER_MS 1000
#define CLOSE_TIMEOUT_MS 10000

static void poll_kafka(struct engine *E)
{
    char drain[64];
    while (read(E->wake[0], drain, sizeof drain) > 0)
        ;
    int64_t now = clock_mono_ms();
    if (E->tasks < E->buffer_cap)
        E->full_since_ms = 0;
    else if (E->full_since_ms == 0)
        E->full_since_ms = now;
    if (E->full_since_ms && !E->paused) {
        if (now - E->full_since_ms < PAUSE_AFTER_MS)
            return;
        set_paused(E, true);
    }
    /* librdkafka signals the wake pipe only when its queue goes from empty to not empty, so
     * messages left queued here raise no event: kafka_backlog makes the loop come back for them
     * as soon as there is room (else it would sleep until some other event, up to a second) */
    E->kafka_backlog = true;
    for (int served = 0; served < 1000; served++) {
        bool room = !E->paused && E->tasks < E->buffer_cap;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(E->rk, 0);
        if (!m) {
            E->kafka_backlog = false;
            break;
        }
        take_message(E, m); /* taken even when full: it is ours now, and pausing is async */
        rd_kafka_message_destroy(m);
        if (!room)
            break;
    }
}

/* ---------------------------------------------------------------- Redis */

static void redis_down(struct engine *E, const char *what)
{
    if (E->redis_ok && !E->unconfirmed) /* replicas short: confirm_replicas said so once */
        log_error("redis unreachable: pausing consumption", LOGS("during", what),
                  LOGS("error", store_error(E->store)));
    E->redis_ok = false;
    E->redis_backoff_ms = E->redis_backoff_ms ? E->redis_backoff_ms * 2 : 100;
    if (E->redis_backoff_ms > 5000)
        E->redis_backoff_ms = 5000;
    E->redis_retry_at = clock_mono_ms() + E->redis_backoff_ms;
    metrics_set_health_inputs(E->metrics, E->redis_ok && !E->unconfirmed, E->kafka_ok);
}

/* True when Redis may be used now; reconnects when the back-off allows. */
static bool redis_usable(struct engine *E)
{
    if (E->redis_ok)
        return true;
    if (clock_mono_ms() < E->redis_retry_at)
        return false;
    if (store_reconnect(E->store) != 0) {
        redis_down(E, "reconnect");
        return false;
    }
    E->redis_ok = true;
    if (!E->unconfirmed) { /* else the back-off goes on growing until the replicas confirm */
        log_info("redis reachable again: resuming");
        E->redis_backoff_ms = 0;
    }
    metrics_set_health_inputs(E->metrics, E->redis_ok && !E->unconfirmed, E->kafka_ok);
    return true;
}

/* A contact not done yet is rendered unless another delivery of it is already in flight here
 * (a redelivery racing its original): that twin is checked again once the first has finished,
 * and then counts as a duplicate instead of a second render. */
static void admit(struct engine *E, struct task *t)
{
    struct buf key = {0};
    inflight_key(t, &key);
    if (idset_add(E->inflight, key.data, key.len)) {
        t->indexed = true;
        if (!cache_admit(E->cache, t)) /* else rendered once for all (cache.h) */
            start_rendering(E, t);
    } else {
        t->recheck = true;
        defer(E, t, clock_mono_ms() + 100);
    }
    buf_free(&key);
}

/* True when a list's batch should go out now. */
static bool batch_due(const struct engine *E, const struct tasklist *l, int64_t now)
{
    return l->head && (l->n >= BATCH_MIN || now - l->since_ms >= BATCH_WAIT_MS || E->stopping);
}

/* ---------------------------------------------------------------- campaign lifecycle (control.h) */

static void start_rendering(struct engine *E, struct task *t);

/* A job's fate by its campaign's control and its expiry, decided at dequeue and before each
 * attempt: false when it is to be rendered; else it is finished (cancelled, set aside, or
 * dead-lettered as expired) and true. A part or variant (parts.h) takes its whole job with it:
 * the job's other children become orphans, dropped wherever they are met next. */
static bool settle_fate(struct engine *E, struct task *t)
{
    struct task *job = t;
    while (job->parent)
        job = job->parent;
    int64_t expires = job->job.expires_at_ms;
    enum control_fate f = control_fate(job->ctl, expires, expires > 0 ? clock_wall_ms() : 0);
    if (f == CONTROL_RENDER)
        return false;
    if (job != t) {
        parts_abandon(job);
        release(E, t); /* an orphan now */
    }
    if (f == CONTROL_EXPIRED) {
        char at[32], why[96];
        clock_iso8601(expires, at);
        snprintf(why, sizeof why, "the job expired at %s before it was rendered", at);
        task_set_dlq(job, "expired", why);
    } else {
        job->outcome = f == CONTROL_CANCEL ? OUTCOME_CANCELLED : OUTCOME_ASIDE;
    }
    finish(E, job);
    return true;
}

/* The store answered a cancel or aside op with STORE_NOOP: the campaign was not in that state
 * when the op ran (resumed meanwhile), so the job is rendered after all. Its campaign's control
 * is read again first: the next tick's refresh comes before its schedule. */
static void render_after_all(struct engine *E, struct task *t)
{
    control_invalidate(E->control, t->ctl);
    t->outcome = OUTCOME_NONE;
    t->reason = NULL;
    if (!t->indexed) { /* decided at dequeue */
        admit(E, t);
        return;
    }
    for (size_t i = 0; i < t->nchildren; i++) { /* a child's fate had given up on them */
        if (t->children[i])
            forget_tree(E, t->children[i]);
        task_free(t->children[i]);
    }
    free(t->children);
    t->children = NULL;
    t->nchildren = t->pending = 0;
    start_rendering(E, t);
}

/* A campaign turned paused or cancelled: its tasks waiting on a timer (a backoff, a provider's
 * pause) or in a ready queue meet their fate now rather than when their turn comes, so a
 * cancelled campaign drains at once. The timer heap has no removal: it is rebuilt, which a
 * control change is rare enough to afford. */
static void settle_waiting(struct engine *E)
{
    struct timerheap *keep = timerheap_new();
    int64_t due;
    while (timerheap_next_due(E->timers, &due)) {
        struct task *t = timerheap_pop_due(E->timers, due);
        if (t->recheck || t->orphan || !settle_fate(E, t))
            timerheap_push(keep, due, t);
    }
    timerheap_free(E->timers);
    E->timers = keep;
    for (int i = 0; i < LANES_N; i++) {
        struct tasklist all = list_take(&E->ready[i]);
        for (struct task *t = all.head, *next; t; t = next) {
            next = t->next;
            if (t->orphan || !settle_fate(E, t))
                list_push(&E->ready[i], t);
        }
    }
}

#define CONTROL_READ_MAX 256 /* campaigns read in one round trip; more wait for the next tick */

static int64_t mono_us(void) /* the control reads' cost, in the summary line */
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Once per tick, before any fate is decided: the campaigns in hand whose control reading is
 * stale, in one round trip (none when every reading is fresh). */
static void refresh_controls(struct engine *E, int64_t now)
{
    const char *names[CONTROL_READ_MAX];
    enum store_control got[CONTROL_READ_MAX];
    size_t n = control_due(E->control, now, names, CONTROL_READ_MAX);
    if (n == 0 || !redis_usable(E))
        return;
    int64_t t0 = mono_us();
    int rc = store_campaign_controls(E->store, names, n, got);
    E->control_reads++;
    E->control_read_us += mono_us() - t0;
    if (rc != 0) {
        redis_down(E, "reading campaign controls");
        return;
    }
    size_t turned = control_apply(E->control, got, n, now);
    log_debug("campaign controls read", LOGN("campaigns", (int64_t)n), LOGN("turned", (int64_t)turned));
    if (turned > 0)
        settle_waiting(E);
}

static void run_checks(struct engine *E)
{
    if (!batch_due(E, &E->checking, clock_mono_ms()) || !redis_usable(E))
        return;
    store_batch_reset(E->checks);
    for (struct task *t = E->checking.head; t; t = t->next)
        store_batch_check(E->checks, t->job.campaign, t->job.contact, strlen(t->job.contact));
    if (store_batch_exec(E->store, E->checks) != 0) {
        redis_down(E, "done-check");
        return;
    }
    struct tasklist all = list_take(&E->checking);
    size_t i = 0;
    for (struct task *t = all.head, *next; t; t = next, i++) {
        next = t->next;
        if (store_batch_result(E->checks, i) == STORE_ALREADY_DONE) {
            t->outcome = OUTCOME_DUPLICATE;
            finish(E, t);
        } else if (!settle_fate(E, t)) {
            admit(E, t);
        }
    }
}

/* Render once (cache.h): the tick's lookups, claims, entries and counts in one round trip, when
 * there are any; the tasks it decided go on to be rendered, or to the writer as copies. */
static void run_cache(struct engine *E)
{
    int64_t now = clock_mono_ms();
    if (!cache_due(E->cache, now))
        return;
    struct task *render, *copy;
    if (cache_tick(E->cache, redis_usable(E) ? E->store : NULL, now, &render, &copy) != 0)
        redis_down(E, "render-once cache");
    for (struct task *t = render, *next; t; t = next) {
        next = t->next;
        if (t->orphan) { /* a variant whose job gave up on it while it waited (parts.h) */
            cache_forget(E->cache, t);
            task_free(t);
        } else {
            start_rendering(E, t);
        }
    }
    for (struct task *t = copy, *next; t; t = next) {
        next = t->next;
        t->state = TASK_FINISHING;
        if (t->orphan)
            task_free(t);
        else
            list_push(&E->to_write, t); /* a variant's copy is written alone, then goes to its job */
    }
}

/* ---------------------------------------------------------------- scheduling */

enum start_result { STARTED, BLOCKED, MOVED };

/* ---------------------------------------------------------------- fleet accounts */

static size_t provider_index(struct engine *E, const struct provider *pv);

/* Provider accounts are shared with every consumer on this Redis (account.h, store_account.h):
 * slots, tokens, the 429 pause and the learned limit are synced for all providers in one round
 * trip per ACCOUNT_SYNC_MS, and an attempt starts only within this consumer's share. */

/* An id unique in the fleet: host, pid and a random part (a restarted pid is a new consumer). */
static void account_identity(struct engine *E)
{
    char host[64] = "";
    if (gethostname(host, sizeof host - 1) != 0 || !host[0])
        snprintf(host, sizeof host, "host");
    snprintf(E->account_id, sizeof E->account_id, "%s:%ld:%08llx", host, (long)getpid(),
             (unsigned long long)(E->rng & 0xffffffffULL));
}

static void publish_account(struct engine *E, size_t i, const struct provider *pv)
{
    const struct account *a = &pv->account;
    int limit = account_limit(a);
    bool learned = a->learned > 0 && (a->configured == 0 || a->learned < a->configured);
    int in_flight = !account_active(a) || a->local || a->last_sync_ms == 0 ? pv->in_flight : a->fleet_in_flight;
    metrics_set_account(E->metrics, i, in_flight, limit > 0 ? limit : -1, learned, a->local);
}

static void accounts_local(struct engine *E, int64_t now)
{
    for (size_t i = 0; i < providers_count(E->providers); i++) {
        struct provider *pv = providers_at(E->providers, i);
        if (!account_active(&pv->account))
            continue;
        if (!pv->account.local)
            log_warn("redis unreachable: provider account on a local share", LOGS("provider", pv->name),
                     LOGN("slots", account_local_share(account_limit(&pv->account), pv->account.alive)),
                     LOGN("consumers_seen", pv->account.alive));
        account_go_local(&pv->account, now);
        publish_account(E, i, pv);
    }
}

/* The per-tick call: when any account is due, syncs every active one in one round trip. */
static void sync_accounts(struct engine *E, int64_t now)
{
    size_t n = providers_count(E->providers), k = 0;
    const char *names[ENGINE_MAX_PROVIDERS];
    struct provider *pvs[ENGINE_MAX_PROVIDERS];
    struct store_account_want want[ENGINE_MAX_PROVIDERS];
    struct store_account_grant grant[ENGINE_MAX_PROVIDERS];
    bool due = false;
    for (size_t i = 0; i < n && k < ENGINE_MAX_PROVIDERS; i++) {
        struct provider *pv = providers_at(E->providers, i);
        due = due || account_sync_due(&pv->account, now);
        if (account_active(&pv->account))
            pvs[k++] = pv;
        else
            publish_account(E, i, pv); /* no account: /health shows this consumer's own count */
    }
    if (!due)
        return;
    if (!redis_usable(E)) {
        accounts_local(E, now);
        return;
    }
    for (size_t j = 0; j < k; j++) {
        names[j] = pvs[j]->name;
        account_sync_want(&pvs[j]->account, &want[j]);
    }
    metrics_account_sync(E->metrics);
    if (store_account_sync(E->store, E->account_id, ACCOUNT_LEASE_TTL_MS, -1, names, want, grant, k) != 0) {
        redis_down(E, "account sync");
        accounts_local(E, now);
        return;
    }
    for (size_t j = 0; j < k; j++) {
        if (pvs[j]->account.local)
            log_info("redis reachable again: provider account shared with the fleet",
                     LOGS("provider", pvs[j]->name));
        int learned = pvs[j]->account.learned;
        account_sync_apply(&pvs[j]->account, &want[j], &grant[j], now);
        if (pvs[j]->account.learned != learned)
            log_info("provider account limit learned", LOGS("provider", pvs[j]->name), LOGN("from", learned),
                     LOGN("to", pvs[j]->account.learned), LOGN("configured", pvs[j]->account.configured));
        publish_account(E, provider_index(E, pvs[j]), pvs[j]);
    }
}

/* Wakes the loop for the next sync: tasks waiting for a slot or token start after it. */
static int64_t account_timeout(struct engine *E, int64_t now, int64_t timeout)
{
    for (size_t i = 0; i < providers_count(E->providers); i++) {
        int64_t at = account_next_sync_ms(&providers_at(E->providers, i)->account);
        if (at - now < timeout)
            timeout = at - now;
    }
    return timeout;
}

/* STARTED when the account lets an attempt start now (account_started() follows the start);
 * BLOCKED while this consumer has no slot or token (the task stays ready; the next sync brings
 * more); MOVED when the fleet is paused (the task waits out the pause). */
static enum start_result account_gate(struct engine *E, struct task *t, struct provider *pv, int64_t now)
{
    int64_t wait = account_admit(&pv->account, now);
    if (wait < 0)
        return BLOCKED;
    if (wait > 0) {
        defer(E, t, now + wait);
        return MOVED;
    }
    return STARTED;
}

/* An answer's news for the account: a 429 counts in voxcast_provider_throttled_total, a
 * rate-limit 429 with Retry-After pauses the fleet (a concurrency 429 is answered by the limit,
 * not by waiting), and the answer feeds the learned limit. */
static void account_answer(struct engine *E, struct provider *pv, const struct attempt_result *r, int64_t now)
{
    if (r->http_status == 429)
        metrics_throttled(E->metrics, provider_index(E, pv));
    bool throttled = r->cls == CLASS_THROTTLED;
    account_done(&pv->account, r->cls == CLASS_OK, throttled && !r->concurrency_limited,
                 throttled && r->concurrency_limited, r->max_concurrent, r->retry_after_ms, now);
}

/* A clean stop gives this consumer's slots back at once instead of after the lease expiry. */
static void leave_accounts(struct engine *E)
{
    const char *names[ENGINE_MAX_PROVIDERS];
    size_t k = 0;
    for (size_t i = 0; i < providers_count(E->providers) && k < ENGINE_MAX_PROVIDERS; i++)
        if (account_active(&providers_at(E->providers, i)->account))
            names[k++] = providers_at(E->providers, i)->name;
    if (k && E->redis_ok && store_account_leave(E->store, E->account_id, names, k) != 0)
        log_warn("could not give provider account slots back; they expire by themselves",
                 LOGS("error", store_error(E->store)));
}

static void failover(struct engine *E, struct task *t)
{
    t->pidx++;
    t->tries = 0;
    if (t->pidx < providers_count(E->providers))
        metrics_failover(E->metrics);
}

/* Whether every provider of the chain declined the job: it cannot render it (text length),
 * or it is in one of the masks (open breaker, provider-level refusal, "too long"). */
static bool all_declined(struct engine *E, const struct task *t, uint64_t masks)
{
    for (size_t i = 0; i < providers_count(E->providers); i++)
        if (provider_accepts(providers_at(E->providers, i), &t->job) && (i >= 64 || !(masks >> i & 1)))
            return false;
    return true;
}

/* Waits for the earliest probe among the providers in `wait`, then resumes the chain there. A
 * refusing provider whose breaker has not opened yet has no probe time: the job then waits a
 * backoff, so a refusal cannot spin. Providers before the resume point are not asked again in
 * the next round, so their marks are kept: they still count as declined at its end. */
static void wait_for_probe(struct engine *E, struct task *t, uint64_t wait)
{
    int64_t best = INT64_MAX;
    size_t besti = 0;
    for (size_t i = 0; i < providers_count(E->providers) && i < 64; i++) {
        int64_t at = breaker_next_probe_ms(&providers_at(E->providers, i)->breaker);
        if ((wait >> i & 1) && at < best) {
            best = at;
            besti = i;
        }
    }
    int64_t now = clock_mono_ms();
    if (best <= now)
        best = now + backoff_delay_ms(E->base_ms, E->max_ms, t->attempts, &E->rng);
    uint64_t before = besti >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << besti) - 1;
    t->pidx = besti;
    t->tries = 0;
    t->skipped_open &= before;
    t->refused &= before;
    defer(E, t, best);
}

/* End of the chain. Providers skipped because their breaker was open are waited for (all open
 * must pause the campaign, not empty it into the DLQ). So are providers that refused the job
 * provider-level (a voice, model, plan or account answer: their misconfiguration, not the
 * contact's) when no provider took the job otherwise: every one refused, was open, or cannot
 * take it. Otherwise the job is dead-lettered: non_retryable when no provider would take it
 * (text length, or "too long" answers), else retry_exhausted. */
static void chain_exhausted(struct engine *E, struct task *t)
{
    uint64_t masks = t->skipped_open | t->refused | t->too_long;
    if (t->skipped_open || (t->refused && all_declined(E, t, masks))) {
        wait_for_probe(E, t, t->skipped_open | t->refused);
        return;
    }
    if (t->attempts == 0) {
        task_set_dlq(t, "non_retryable", "no configured provider accepts this job (text length)");
    } else if (t->too_long && all_declined(E, t, t->too_long)) {
        char why[sizeof t->error];
        snprintf(why, sizeof why, "no configured provider accepts this job: %.200s", t->error);
        task_set_dlq(t, "non_retryable", why);
    } else {
        task_set_dlq(t, "retry_exhausted", NULL);
    }
    finish(E, t);
}

static enum start_result start_attempt(struct engine *E, struct task *t, struct provider *pv, int64_t now)
{
    int64_t wait = ratelimit_take(&pv->rate, now);
    if (wait > 0) {
        breaker_record(&pv->breaker, BREAKER_NEUTRAL, now);
        defer(E, t, now + wait);
        return MOVED;
    }
    char err[256];
    t->tries++;
    t->attempts++;
    if (provider_start(pv, &t->job, t, err, sizeof err) != 0) {
        breaker_record(&pv->breaker, BREAKER_FAILURE, now);
        task_note_attempt(t, pv->name, 0, "retry", err, 0);
        defer(E, t, now + backoff_delay_ms(E->base_ms, E->max_ms, t->tries, &E->rng));
        return MOVED;
    }
    pv->in_flight++;
    account_started(&pv->account, now);
    E->running++;
    t->state = TASK_RUNNING;
    return STARTED;
}

static enum start_result try_start(struct engine *E, struct task *t, int64_t now)
{
    if (settle_fate(E, t))
        return MOVED;
    size_t n = providers_count(E->providers);
    while (t->pidx < n) {
        struct provider *pv = providers_at(E->providers, t->pidx);
        if (!provider_accepts(pv, &t->job)) {
            t->pidx++;
            t->tries = 0;
            continue;
        }
        if (breaker_refuses(&pv->breaker, now)) { /* open here, or for the fleet (breaker_shared.h) */
            if (t->pidx < 64)
                t->skipped_open |= (uint64_t)1 << t->pidx;
            failover(E, t);
            continue;
        }
        if (pv->not_before_ms > now) {
            defer(E, t, pv->not_before_ms);
            return MOVED;
        }
        if (pv->concurrency_cap > 0 && pv->in_flight >= pv->concurrency_cap)
            return BLOCKED;
        enum start_result gate = account_gate(E, t, pv, now);
        if (gate != STARTED)
            return gate;
        if (!breaker_allow(&pv->breaker, now))
            return BLOCKED; /* half-open with its probe out: wait for the verdict */
        return start_attempt(E, t, pv, now);
    }
    chain_exhausted(E, t);
    return MOVED;
}

/* Starts ready tasks of one lane while there are free slots, at most max; returns how many
 * started. Called on every turn of the loop, so it stops at the first task that cannot start for
 * lack of a slot and puts the rest back untouched: walking a queue of hundreds of waiting tasks
 * per finished job was a tenth of the CPU. */
static size_t schedule_lane(struct engine *E, struct tasklist *ready, int64_t now, size_t max)
{
    size_t started = 0;
    if (!ready->head || max == 0)
        return 0;
    struct tasklist all = list_take(ready);
    struct task *t = all.head;
    size_t left = all.n;
    while (t && E->running < E->concurrency && started < max) {
        struct task *next = t->next;
        left--;
        if (task_revoked(E, t) || t->orphan) {
            release(E, t);
        } else {
            enum start_result r = try_start(E, t, now);
            if (r == BLOCKED)
                list_push(ready, t);
            started += r == STARTED;
        }
        t = next;
    }
    if (!t)
        return started;
    if (ready->tail)
        ready->tail->next = t;
    else
        ready->head = t;
    ready->tail = all.tail;
    ready->n += left;
    return started;
}

/* The lanes' ready queues in priority order, a lower lane getting the slots a higher one leaves;
 * but first the starts a lower lane has earned by waiting (lanes.h: the start floor). */
static void schedule(struct engine *E, int64_t now)
{
    if (E->audio_down)
        return; /* what is rendered now could not be stored */
    for (int i = LANES_N - 1; i > 0; i--) {
        size_t earned = lanes_floor(E->lanes, (enum lane)i);
        if (earned > 0)
            lanes_floor_used(E->lanes, (enum lane)i, schedule_lane(E, &E->ready[i], now, earned));
    }
    for (int i = 0; i < LANES_N && E->running < E->concurrency; i++) {
        size_t n = schedule_lane(E, &E->ready[i], now, SIZE_MAX);
        if (n > 0 && i < LANES_N - 1) {
            const size_t waiting[LANES_N] = {E->ready[0].n, E->ready[1].n, E->ready[2].n};
            lanes_started(E->lanes, (enum lane)i, n, waiting);
        }
    }
}

static void fire_timers(struct engine *E, int64_t now)
{
    struct task *t;
    while ((t = timerheap_pop_due(E->timers, now)) != NULL) {
        if (task_revoked(E, t)) {
            release(E, t);
        } else if (t->recheck) {
            t->recheck = false;
            t->state = TASK_CHECK;
            list_push(&E->checking, t);
        } else {
            make_ready(E, t);
        }
    }
}

/* ---------------------------------------------------------------- attempt results */

static void note_breaker_change(struct engine *E, size_t i, struct provider *pv)
{
    if (i >= 64 || E->breaker_seen[i] == (int)pv->breaker.state)
        return;
    log_event(pv->breaker.state == BREAKER_OPEN ? LOG_WARN : LOG_INFO, "breaker state change",
              LOG_FIELDS_(LOGS("provider", pv->name),
                          LOGS("from", breaker_state_name((enum breaker_state)E->breaker_seen[i])),
                          LOGS("breaker", breaker_state_name(pv->breaker.state)),
                          LOGN("consecutive_failures", pv->breaker.consecutive_failures)));
    E->breaker_seen[i] = (int)pv->breaker.state;
}

static void publish_breakers(struct engine *E)
{
    for (size_t i = 0; i < providers_count(E->providers); i++) {
        struct provider *pv = providers_at(E->providers, i);
        note_breaker_change(E, i, pv);
        metrics_set_breaker(E->metrics, i, (int)pv->breaker.state, pv->breaker.consecutive_failures);
    }
}

static size_t provider_index(struct engine *E, const struct provider *pv)
{
    for (size_t i = 0; i < providers_count(E->providers); i++)
        if (providers_at(E->providers, i) == pv)
            return i;
    return 0;
}

static void count_request(struct engine *E, struct provider *pv, const struct attempt_result *r)
{
    static const char *const transport_code[] = {[TRANSPORT_OK] = "error", [TRANSPORT_CONNECT] = "connect",
                                                 [TRANSPORT_TIMEOUT] = "timeout", [TRANSPORT_RESET] = "reset",
                                                 [TRANSPORT_OTHER] = "error"};
    char code[16];
    if (r->http_status)
        snprintf(code, sizeof code, "%ld", r->http_status);
    else
        snprintf(code, sizeof code, "%s",
                 (unsigned)r->transport <= TRANSPORT_OTHER ? transport_code[r->transport] : "error");
    metrics_request(E->metrics, provider_index(E, pv), code, r->latency_s);
}

static void retry_or_failover(struct engine *E, struct task *t, struct provider *pv, int64_t due)
{
    if (t->tries >= E->max_attempts) {
        failover(E, t);
        make_ready(E, t);
        return;
    }
    metrics_retry(E->metrics, provider_index(E, pv));
    defer(E, t, due);
}

/* A 429 is the provider saying "wait", not a failed attempt: it does not spend the job's
 * retry.max_attempts on this provider. The job waits as long as the provider asks (Retry-After,
 * else a backoff that grows with each 429) and the whole provider is paced for that long, until
 * it has waited out retry.throttle_max_wait_ms on this provider in all; then it fails over, so
 * an account throttled for good cannot hold a campaign for ever. */
static void wait_out_throttle(struct engine *E, struct task *t, struct provider *pv,
                              const struct attempt_result *r, int64_t now)
{
    if (t->throttle_pidx != t->pidx || t->throttled_since_ms == 0) {
        t->throttle_pidx = t->pidx;
        t->throttled_since_ms = now;
        t->throttles = 0;
    }
    t->tries--;
    t->throttles++;
    int64_t wait = r->retry_after_ms >= 0 ? r->retry_after_ms
                                          : backoff_delay_ms(E->base_ms, E->max_ms, t->throttles, &E->rng);
    if (pv->not_before_ms < now + wait)
        pv->not_before_ms = now + wait; /* slow the whole provider down, not just this job */
    if (now + wait - t->throttled_since_ms > E->throttle_max_wait_ms) {
        log_info("throttled past retry.throttle_max_wait_ms; failing over", LOGS("provider", pv->name),
                 LOGS("campaign", t->job.campaign), LOGS("contact", t->job.contact),
                 LOGN("throttled_ms", now - t->throttled_since_ms));
        t->throttled_since_ms = 0;
        failover(E, t);
        make_ready(E, t);
        return;
    }
    metrics_retry(E->metrics, provider_index(E, pv));
    defer(E, t, now + wait);
}

/* A provider-level refusal names its cause (a missing voice, a model, the plan): shown on
 * /health as last_error, and logged once per provider and cause, not once per contact. The
 * last few causes are remembered, so a campaign whose jobs alternate between two missing
 * voices does not log every answer either. */
static void note_refusal(struct engine *E, struct provider *pv, const struct attempt_result *r)
{
    if (!r->cause[0])
        return;
    if (strcmp(pv->last_error, r->cause) != 0) {
        snprintf(pv->last_error, sizeof pv->last_error, "%s", r->cause);
        metrics_set_last_error(E->metrics, provider_index(E, pv), r->cause);
    }
    uint64_t h = hash_bytes(r->cause, strlen(r->cause));
    size_t ring = sizeof pv->causes_logged / sizeof pv->causes_logged[0];
    for (size_t i = 0; i < ring && i < pv->ncauses_logged; i++)
        if (pv->causes_logged[i] == h)
            return;
    pv->causes_logged[pv->ncauses_logged++ % ring] = h;
    log_warn("provider refuses this configuration; jobs fail over", LOGS("provider", pv->name),
             LOGS("cause", r->cause), LOGN("http_status", r->http_status));
}

static void on_attempt_done(void *ctx, void *task, struct provider *pv, struct attempt_result *r)
{
    struct engine *E = ctx;
    struct task *t = task;
    int64_t now = clock_mono_ms();
    pv->in_flight--;
    account_answer(E, pv, r, now);
    E->running--;
    count_request(E, pv, r);
    breaker_record(&pv->breaker, classify_breaker_verdict(r->cls), now);
    if (r->cls != CLASS_OK)
        task_note_attempt(t, pv->name, r->http_status, classify_name(r->cls),
                          r->cause[0] ? r->cause : r->error, r->latency_s);
    log_debug("attempt", LOGS("campaign", t->job.campaign), LOGS("contact", t->job.contact),
              LOGS("provider", pv->name), LOGN("attempt", t->attempts), LOGN("http_status", r->http_status),
              LOGN("latency_ms", (int64_t)(r->latency_s * 1000)), LOGS("class", classify_name(r->cls)));
    int64_t backoff = backoff_delay_ms(E->base_ms, E->max_ms, t->tries, &E->rng);
    switch (r->cls) {
    case CLASS_OK:
        cache_billed(E->cache, t, provider_index(E, pv), pv->name); /* billed: answered with audio */
        t->outcome = OUTCOME_DONE;
        snprintf(t->provider, sizeof t->provider, "%s", pv->name);
        struct buf tmp = t->audio;
        t->audio = r->audio;
        r->audio = tmp;
        finish(E, t);
        break;
    case CLASS_CONTACT:
        task_set_dlq(t, "non_retryable", r->error);
        finish(E, t);
        break;
    case CLASS_PROVIDER:
        note_refusal(E, pv, r);
        if (t->pidx < 64)
            t->refused |= (uint64_t)1 << t->pidx;   /* waited for if no provider takes the job */
        failover(E, t);
        make_ready(E, t);
        break;
    case CLASS_SKIP:
        if (t->pidx < 64)
            t->too_long |= (uint64_t)1 << t->pidx;
        failover(E, t);
        make_ready(E, t);
        break;
    case CLASS_THROTTLED:
        wait_out_throttle(E, t, pv, r, now);
        break;
    case CLASS_RETRY:
        retry_or_failover(E, t, pv, now + (r->retry_after_ms > backoff ? r->retry_after_ms : backoff));
        break;
    }
}

/* ---------------------------------------------------------------- outcomes */

/* The writer could not convert the provider's answer into the job's format (writer.h): that
 * answer was not usable after all, so it counts as a retryable failure of the provider that
 * rendered it (still t->pidx) and the job is rendered again, here or on the next provider. */
static void render_children_again(struct engine *E, struct task *t);

static void render_again(struct engine *E, struct task *t)
{
    if (t->nchildren > 0) {
        render_children_again(E, t);
        return;
    }
    int64_t now = clock_mono_ms();
    struct provider *pv = providers_at(E->providers, t->pidx);
    t->outcome = OUTCOME_NONE;
    if (!pv) {
        make_ready(E, t);
        return;
    }
    breaker_record(&pv->breaker, BREAKER_FAILURE, now);
    task_note_attempt(t, pv->name, 200, classify_name(CLASS_RETRY), t->error, 0);
    log_warn("provider audio not convertible; rendering again", LOGS("provider", pv->name),
             LOGS("campaign", t->job.campaign), LOGS("error", t->error));
    retry_or_failover(E, t, pv, now + backoff_delay_ms(E->base_ms, E->max_ms, t->tries, &E->rng));
}

/* Some of a job's children answered audio the writer could not use (writer.h): each of them is
 * rendered again on its own, and the job waits for them as it did the first time. */
static void render_children_again(struct engine *E, struct task *t)
{
    struct task *again[PARTS_MAX * JOB_VARIANTS_MAX];
    size_t n = parts_reopen(t, again, sizeof again / sizeof again[0]);
    t->state = TASK_RUNNING;
    if (n == 0) { /* the writer names the children at fault; never wait for none */
        task_set_dlq(t, "non_retryable", NULL);
        finish(E, t);
        return;
    }
    for (size_t i = 0; i < n && i < sizeof again / sizeof again[0]; i++)
        render_again(E, again[i]);
}

/* The audio store (disk or S3) failed a batch: as during a Redis outage, consumption pauses
 * (control_flow) and nothing new is rendered (schedule), while the batch is written again every
 * second; nothing is dead-lettered for it. Logged when the outage starts and when it ends. */
static void note_audio_store(struct engine *E, const char *err, const struct task *back)
{
    bool wrote = false;
    for (; back && !wrote; back = back->next)
        wrote = back->file_written;
    if (err[0]) {
        if (!E->audio_down)
            log_error("cannot write audio; will retry", LOGS("error", err), LOGB("consumption_paused", true));
        else
            log_debug("audio store still failing", LOGS("error", err));
        E->audio_down = true;
        E->write_retry_at = clock_mono_ms() + 1000;
    } else if (wrote && E->audio_down) {
        log_info("audio store works again: resuming");
        E->audio_down = false;
    }
}

/* Hands rendered audio to the writer thread, and takes back what it wrote: written tasks go on
 * to Redis, the others are handed over again a second later. */
static void exchange_files(struct engine *E)
{
    char err[512];
    struct task *t = writer_collect(E->writer, err, sizeof err);
    note_audio_store(E, err, t);
    for (struct task *next; t; t = next) {
        next = t->next;
        if (t->orphan) { /* a variant written alone whose job gave up on it (parts.h) */
            if (t->file_written)
                cache_collected(E->cache, t); /* its entry is good all the same */
            cache_forget(E->cache, t);
            task_free(t);
            continue;
        }
        if (cache_collected(E->cache, t)) /* a copy whose source vanished: looked up again */
            continue;
        if (t->outcome != OUTCOME_DONE)
            render_again(E, t);
        else if (t->file_written && t->parent)
            finish(E, t); /* a variant written alone: back to its job (parts.h) */
        else
            list_push(t->file_written ? &E->finishing : &E->to_write, t);
    }
    if (E->to_write.head && clock_mono_ms() >= E->write_retry_at)
        writer_submit(E->writer, list_take(&E->to_write).head);
}

/* The results event goes into the same Redis step as the outcome (the outbox: results.h). */
static void add_outcome(struct engine *E, struct task *t, int64_t now_wall)
{
    char key[TASK_STORE_CONTACT_MAX];
    const char *campaign = task_campaign(t), *contact = task_store_contact(t, key, sizeof key);
    struct buf *ev = &t->event;   /* kept: publish_outcome sends these very bytes */
    buf_free(ev);
    if (E->results && t->valid && t->outcome != OUTCOME_DUPLICATE && t->outcome != OUTCOME_ASIDE)
        results_event(ev, t, now_wall);
    if (t->outcome == OUTCOME_CANCELLED) {
        store_batch_cancel(E->batch, campaign, contact, strlen(contact), ev->data);
    } else if (t->outcome == OUTCOME_ASIDE) {
        struct buf job = {0};
        job_encode(&t->job, &job);
        store_batch_aside(E->batch, campaign, contact, strlen(contact), job.data);
        buf_free(&job);
    } else if (t->outcome == OUTCOME_DLQ) {
        char *entry = task_dlq_entry(t, now_wall);
        store_batch_dlq_result(E->batch, campaign, contact, strlen(contact), entry, ev->data);
        free(entry);
    } else {
        store_batch_done_result(E->batch, campaign, contact, strlen(contact),
                                t->outcome == OUTCOME_DONE ? t->provider : NULL,
                                t->outcome == OUTCOME_DONE ? t->duration_ms : 0, ev->data);
    }
}

static void count_outcome(struct engine *E, struct task *t, enum store_result r)
{
    bool dup = t->outcome == OUTCOME_DUPLICATE || r == STORE_DUPLICATE || r == STORE_UNPUBLISHED;
    if (dup) {
        E->n_dup++;
        metrics_job(E->metrics, METRICS_DUPLICATE);
    } else if (t->outcome == OUTCOME_DONE) {
        E->n_done++;
        metrics_job(E->metrics, METRICS_DONE);
    } else if (t->outcome == OUTCOME_CANCELLED) {
        E->n_cancelled++;
        metrics_job(E->metrics, METRICS_CANCELLED);
    } else if (t->outcome == OUTCOME_ASIDE) {
        E->n_aside++;
        metrics_job(E->metrics, METRICS_ASIDE);
    } else {
        E->n_dlq++;
        metrics_job(E->metrics, t->valid ? METRICS_DLQ : METRICS_INVALID);
        log_warn("job dead-lettered", LOGS("campaign", task_campaign(t)), LOGS("contact", task_contact(t)),
                 LOGS("reason", t->reason), LOGS("provider", t->provider), LOGN("http_status", t->http_status),
                 LOGN("attempt", t->attempts), LOGS("error", t->error));
    }
}

/* A dlq op found its campaign's DLQ at dlq.max_entries_per_campaign: the contact counts as dlq
 * but its entry is gone (meta dlq_dropped, which voxcast status shows). Never silent, but not a
 * line per contact either: one warning per batch and campaign run. warned (65 bytes) holds the
 * campaign last warned about in this batch (a copy: its task may be freed before the next op). */
static void warn_dlq_full(const struct engine *E, char *warned, const char *campaign)
{
    if (strcmp(warned, campaign) == 0)
        return;
    log_warn("dlq full: dead-lettered contacts still count as dlq, their entries are dropped",
             LOGS("campaign", campaign), LOGN("max_entries_per_campaign", E->dlq_cap));
    snprintf(warned, 65, "%s", campaign);
}

/* ---------------------------------------------------------------- results stream */

/* The outcome is in Redis (and its event delivered, when there is one): the offset may go. */
static void outcome_stored(struct engine *E, struct task *t)
{
    if (!task_revoked(E, t)) {
        offsets_done(E->offsets, lanes_slot((enum lane)t->lane, t->partition), t->offset);
        store_offsets(E, (enum lane)t->lane, t->partition);
    }
    release(E, t);
}

/* Delivery report of a results event: a task's offset is stored only now. */
static void on_published(void *ctx, void *opaque)
{
    if (opaque)
        outcome_stored(ctx, opaque);
}

static void drop_task(void *opaque)
{
    task_free(opaque);
}

/* A redelivered job whose event may never have reached Kafka also republishes its campaign's
 * completion if that is unpublished too (results.h). */
static void republish_completion(struct engine *E, const char *campaign)
{
    struct store_completion c;
    if (store_completion_get(E->store, campaign, &c) == 0)
        results_publish_completion(E->results, &c);
}

/* Hands a task to the results publisher when its outcome is new (the event Redis put in the
 * outbox, kept on the task by add_outcome) or when it is a duplicate whose
 * first event is still in the outbox (that event, read back). Its offset is stored on delivery
 * (on_published). False when there is nothing to publish: the caller stores the offset. */
static bool publish_outcome(struct engine *E, struct task *t, enum store_result r, int64_t now_wall)
{
    if (!E->results || !t->valid || t->outcome == OUTCOME_ASIDE) /* set aside: not terminal */
        return false;
    const char *campaign = task_campaign(t), *contact = task_contact(t);
    struct buf ev = {0};
    bool first = r == STORE_OK || r == STORE_PARKED || r == STORE_PARKED_DROPPED;
    if (first && t->outcome != OUTCOME_DUPLICATE) {
        if (t->event.len == 0)
            results_event(&t->event, t, now_wall);
        results_publish(E->results, campaign, contact, t->event.data, t->event.len, t);
        return true;
    } else if (r == STORE_UNPUBLISHED) {
        char *json = NULL;
        int rc = store_outbox_get(E->store, campaign, contact, strlen(contact), &json);
        if (rc < 0) {
            redis_down(E, "reading the results outbox");
            list_push(&E->finishing, t); /* asked again with the next batch */
            return true;
        }
        if (rc == 1)
            return false; /* delivered and cleared meanwhile */
        buf_puts(&ev, json);
        free(json);
        republish_completion(E, campaign);
    } else {
        return false;
    }
    results_publish(E->results, campaign, contact, ev.data, ev.len, t);
    buf_free(&ev);
    return true;
}

/* After the batch's contact events: a campaign this batch completed is told (key = campaign);
 * one that drained while its launch was running is watched until the launch finishes. */
static void publish_completions(struct engine *E)
{
    for (size_t k = 0; k < store_batch_ncampaigns(E->batch); k++) {
        const struct store_completion *c = store_batch_completion(E->batch, k);
        if (c->state == STORE_COMPLETED && E->results)
            results_publish_completion(E->results, c);
        else if (c->state == STORE_COMPLETED)
            log_info("campaign complete", LOGS("campaign", c->campaign), LOGN("done", c->done),
                     LOGN("dlq", c->dlq), LOGN("audio_ms", c->audio_ms));
        else if (c->state == STORE_DRAINED_LAUNCHING && E->results)
            results_watch(E->results, c->campaign, clock_mono_ms());
    }
}

static void poll_results(struct engine *E, int64_t now)
{
    if (E->results)
        results_poll(E->results, E->redis_ok ? E->store : NULL, now);
}

/* redis.wait_replicas: the batch is on the primary, but a failover before the replicas copied it
 * would lose it after its offsets were committed. So its offsets wait for WAIT; too few replicas
 * in time is a Redis failure (consumption pauses, the batch stays unconfirmed and is retried
 * exactly, store.h). A retry on a new connection writes nothing (the script answers a repeat
 * from its record), so there WAIT counts the replicas online: each came back through a resync
 * with this primary, which carries the batch (a full sync at once, a partial one in its
 * backlog stream that follows). */
static int confirm_replicas(struct engine *E)
{
    if (E->wait_replicas == 0)
        return 0;
    if (store_wait_replicas(E->store, E->wait_replicas, E->wait_timeout_ms) == 0) {
        if (E->unconfirmed)
            log_info("redis replicas caught up: outcome batch confirmed", LOGN("replicas", E->wait_replicas));
        E->unconfirmed = false;
        E->redis_backoff_ms = 0;
        metrics_set_health_inputs(E->metrics, E->redis_ok, E->kafka_ok);
        return 0;
    }
    if (!E->unconfirmed)
        log_error("redis replicas did not confirm an outcome batch: offsets held, pausing",
                  LOGS("error", store_error(E->store)), LOGN("replicas", E->wait_replicas));
    E->unconfirmed = true;
    redis_down(E, "waiting for replicas");
    return -1;
}

/* The first n tasks of l, in order; the rest stay in l. */
static struct tasklist list_take_n(struct tasklist *l, size_t n)
{
    struct tasklist head = {0};
    while (l->head && head.n < n) {
        struct task *t = l->head;
        l->head = t->next;
        l->n--;
        list_push(&head, t);
    }
    if (!l->head)
        *l = (struct tasklist){0};
    return head;
}

static void flush_finished(struct engine *E, bool force)
{
    int64_t now = clock_mono_ms();
    bool due = force || E->unconfirmed || E->unsent || batch_due(E, &E->finishing, now);
    if (!E->finishing.head || !due || !redis_usable(E))
        return;
    /* A batch that failed on the wire may have been applied all the same (the reply was lost):
     * it is sent again as it is, with its token, so the store answers with the first results
     * (done, not duplicate). The same holds for a batch applied but not confirmed by replicas. */
    if (!E->unconfirmed && !E->unsent) {
        E->batch_wall = clock_wall_ms();
        store_batch_reset(E->batch);
        for (struct task *t = E->finishing.head; t; t = t->next)
            add_outcome(E, t, E->batch_wall);
    }
    if (store_batch_exec(E->store, E->batch) != 0) {
        E->unsent = true;
        redis_down(E, "writing outcomes");
        return;
    }
    E->unsent = false;
    if (confirm_replicas(E) != 0)
        return;
    /* the batch holds the first tasks; more may have finished while it waited for replicas */
    struct tasklist all = list_take_n(&E->finishing, store_batch_len(E->batch));
    int64_t now_wall = E->batch_wall;
    size_t i = 0;
    char full[65] = ""; /* campaign last warned about in this batch: warn_dlq_full */
    for (struct task *t = all.head, *next; t; t = next, i++) {
        next = t->next;
        enum store_result r = store_batch_result(E->batch, i);
        if (r == STORE_NOOP && (t->outcome == OUTCOME_CANCELLED || t->outcome == OUTCOME_ASIDE)) {
            render_after_all(E, t);
            continue;
        }
        if (r == STORE_PARKED_DROPPED)
            warn_dlq_full(E, full, task_campaign(t));
        count_outcome(E, t, r);
        if (!publish_outcome(E, t, r, now_wall))
            outcome_stored(E, t);
    }
    publish_completions(E);
}

/* ---------------------------------------------------------------- loop */

static bool all_breakers_open(struct engine *E, int64_t now)
{
    size_t n = providers_count(E->providers);
    for (size_t i = 0; i < n; i++) {
        const struct breaker *b = &providers_at(E->providers, i)->breaker;
        if (b->state != BREAKER_OPEN || now >= breaker_next_probe_ms(b))
            return false;
    }
    return n > 0;
}

static void control_flow(struct engine *E, int64_t now)
{
    bool blocked = E->stopping || !E->redis_ok || E->audio_down || all_breakers_open(E, now);
    if (blocked)
        set_paused(E, true);
    else if (E->tasks <= E->buffer_cap / 2)
        set_paused(E, false);
}

/* What the lanes decide on: the cached watermarks of the assigned partitions (librdkafka's, from
 * its last fetch: no request) and each lane's tasks waiting to start. */
static void feed_lanes(struct engine *E)
{
    for (int i = 0; i < E->assigned->cnt; i++) {
        const rd_kafka_topic_partition_t *p = &E->assigned->elems[i];
        int lane = lanes_topic_lane(E->topic, p->topic);
        int64_t lo, hi;
        if (lane >= 0 && rd_kafka_get_watermark_offsets(E->rk, p->topic, p->partition, &lo, &hi) == 0)
            lanes_watermark(E->lanes, (enum lane)lane, p->partition, lo, hi);
    }
    size_t checking[LANES_N] = {0};
    for (const struct task *t = E->checking.head; t; t = t->next)
        checking[t->lane % LANES_N]++;
    for (int i = 0; i < LANES_N; i++)
        lanes_set_queued(E->lanes, (enum lane)i, E->ready[i].n + checking[i]);
}

/* Priority lanes (lanes.h): at most every LANES_EVAL_MS, feeds the lanes and takes their
 * decision; applies it (every tick, so a call librdkafka refused is made again) under the
 * whole-consumer pause. A single-topic consumer has nothing to decide. */
static void steer_lanes(struct engine *E, int64_t now)
{
    if (!E->assigned || !lanes_mixed(E->lanes)) {
        memset(E->lane_held, 0, sizeof E->lane_held);
    } else if (now - E->lanes_fed_ms >= LANES_EVAL_MS) {
        E->lanes_fed_ms = now;
        feed_lanes(E);
        if (lanes_decide(E->lanes, now, E->lane_held))
            log_debug("priority lanes", LOGB("high_held", E->lane_held[LANE_HIGH]),
                      LOGB("normal_held", E->lane_held[LANE_NORMAL]), LOGB("low_held", E->lane_held[LANE_LOW]),
                      LOGN("high_lag", lanes_lag(E->lanes, LANE_HIGH)),
                      LOGN("normal_lag", lanes_lag(E->lanes, LANE_NORMAL)),
                      LOGN("low_lag", lanes_lag(E->lanes, LANE_LOW)));
    }
    apply_pauses(E);
}

static int next_timeout(struct engine *E, int64_t now)
{
    int64_t timeout = 1000, due;
    if (E->kafka_backlog && !E->paused && E->tasks < E->buffer_cap)
        return 0;
    if (E->full_since_ms && !E->paused && E->full_since_ms + PAUSE_AFTER_MS - now < timeout)
        timeout = E->full_since_ms + PAUSE_AFTER_MS - now;
    if (timerheap_next_due(E->timers, &due))
        timeout = due - now < timeout ? due - now : timeout;
    if (breaker_shared_next_ms(E->bshared) - now < timeout)
        timeout = breaker_shared_next_ms(E->bshared) - now;
    bool lanes_busy = E->lane_held[LANE_NORMAL] || E->lane_held[LANE_LOW] || (E->tasks > 0 && lanes_mixed(E->lanes));
    if (lanes_busy && LANES_EVAL_MS < timeout) /* lag and floors are looked at again */
        timeout = LANES_EVAL_MS;
    if (!E->redis_ok && E->redis_retry_at - now < timeout)
        timeout = E->redis_retry_at - now;
    timeout = account_timeout(E, now, timeout);
    timeout = cache_timeout(E->cache, now, timeout);
    if (E->to_write.head && E->write_retry_at - now < timeout) /* a failed write's retry */
        timeout = E->write_retry_at - now;
    if (results_next_due_ms(E->results) - now < timeout) /* a results retry, claim or clear */
        timeout = results_next_due_ms(E->results) - now;
    const struct tasklist *lists[2] = {&E->checking, &E->finishing};
    for (int i = 0; i < 2; i++) /* batching windows; also retries when Redis failed */
        if (lists[i]->head && lists[i]->since_ms + BATCH_WAIT_MS - now < timeout)
            timeout = lists[i]->since_ms + BATCH_WAIT_MS - now;
    return timeout < 0 ? 0 : (int)timeout;
}

/* librdkafka reports "all brokers down" but not their return: while Kafka is marked down, ask
 * for metadata (200 ms at most) every two seconds, so /health recovers without a rebalance. */
static void probe_kafka(struct engine *E, int64_t now)
{
    if (E->kafka_ok || now - E->kafka_probe_ms < 2000)
        return;
    E->kafka_probe_ms = now;
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(E->rk, 0, NULL, &md, 200) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_metadata_destroy(md);
        set_kafka_ok(E, true);
    }
}

/* Work in flight calls Redis, and retries it, by itself. A consumer with nothing in flight makes
 * no Redis calls, so it would go on reporting a Redis that died as up, or one that came back as
 * down: while idle, PING it every two seconds, and reconnect when the back-off allows. */
static void probe_redis(struct engine *E, int64_t now)
{
    if (E->tasks > 0)
        return;
    if (!E->redis_ok) {
        redis_usable(E);
        return;
    }
    if (now - E->redis_probe_ms < 2000)
        return;
    E->redis_probe_ms = now;
    if (store_ping(E->store) != 0)
        redis_down(E, "idle check");
}

static void summary(struct engine *E, int64_t now)
{
    if (now - E->last_summary_ms < E->summary_ms)
        return;
    int64_t finished = E->n_done + E->n_dlq + E->n_dup + E->n_cancelled + E->n_aside;
    size_t queued = E->ready[LANE_HIGH].n + E->ready[LANE_NORMAL].n + E->ready[LANE_LOW].n;
    double secs = (double)(now - E->last_summary_ms) / 1000.0;
    log_info("summary", LOGN("done", E->n_done), LOGN("dlq", E->n_dlq), LOGN("duplicates", E->n_dup),
             LOGN("cancelled", E->n_cancelled), LOGN("aside", E->n_aside),
             LOGN("invalid", E->n_invalid), LOGN("in_flight", E->tasks), LOGN("rendering", E->running),
             LOGD("rate_per_s", secs > 0 ? (double)(finished - E->last_summary_finished) / secs : 0.0),
             LOGN("queued", queued), LOGN("queued_high", E->ready[LANE_HIGH].n),
             LOGN("retry_waiting", timerheap_len(E->timers)),
             LOGN("checking", E->checking.n), LOGN("finishing", E->finishing.n), LOGB("paused", E->paused),
             LOGB("redis_ok", E->redis_ok), LOGB("audio_ok", !E->audio_down),
             LOGN("control_reads", E->control_reads), LOGN("control_read_us", E->control_read_us));
    E->last_summary_ms = now;
    E->last_summary_finished = finished;
}

static void tick(struct engine *E)
{
    poll_kafka(E);
    refresh_controls(E, clock_mono_ms()); /* before any job's fate is decided */
    run_checks(E);
    run_cache(E);
    int64_t now = clock_mono_ms();
    breaker_shared_tick(E->bshared, now); /* the fleet's breakers, before anything is started */
    fire_timers(E, now);
    sync_accounts(E, now); /* this consumer's share of each provider account */
    schedule(E, now);
    providers_drive(E->providers, on_attempt_done, E);
    schedule(E, clock_mono_ms()); /* slots freed by finished attempts */
    exchange_files(E);
    flush_finished(E, false);
    poll_results(E, clock_mono_ms());
    publish_breakers(E);
    metrics_set_in_flight(E->metrics, (int64_t)E->tasks);
    now = clock_mono_ms();
    control_flow(E, now);
    steer_lanes(E, now);
    probe_kafka(E, now);
    probe_redis(E, now);
    summary(E, now);
}

static bool should_exit(struct engine *E)
{
    int64_t now = clock_mono_ms();
    if (E->stop && !E->stopping) {
        E->stopping = true;
        E->stop_deadline = now + E->grace_ms;
        set_paused(E, true);
        log_info("draining: no new jobs, finishing those in flight", LOGN("in_flight", E->tasks),
                 LOGN("grace_ms", E->grace_ms));
    }
    if (!E->stopping)
        return false;
    if (E->tasks == 0)
        return true;
    if (now >= E->stop_deadline) {
        log_warn("grace period over; unfinished jobs will be redelivered", LOGN("in_flight", E->tasks));
        return true;
    }
    return false;
}

int engine_run(struct engine *E)
{
    E->last_summary_ms = clock_mono_ms();
    while (!should_exit(E)) {
        tick(E);
        providers_wait(E->providers, E->wake[0], next_timeout(E, clock_mono_ms()));
    }
    flush_finished(E, true);
    if (cache_flush(E->cache, E->redis_ok ? E->store : NULL) != 0) /* entries and counts not sent */
        log_warn("render-once entries and counts not sent", LOGS("error", store_error(E->store)));
    int64_t left = E->stop_deadline - clock_mono_ms(); /* results: their offsets come with them */
    if (results_drain(E->results, E->redis_ok ? E->store : NULL, left > 1000 ? (int)left : 1000) > 0)
        log_warn("results events not delivered before stopping; their jobs will be redelivered",
                 LOGN("undelivered", results_in_flight(E->results)));
    leave_accounts(E);
    rd_kafka_resp_err_t e = rd_kafka_commit(E->rk, NULL, 1 /* async: a sync commit waits forever without brokers */);
    if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
        log_warn("final commit failed", LOGS("error", rd_kafka_err2str(e)));
    summary(E, INT64_MAX / 2);
    log_info("stopped", LOGN("unfinished", E->tasks));
    return E->tasks == 0 ? 0 : 1;
}

void engine_stop(struct engine *E)
{
    E->stop = 1;
    ssize_t w = write(E->wake[1], "s", 1);
    (void)w; /* the pipe is non-blocking; a full pipe already means "wake up" */
}

/* ---------------------------------------------------------------- set-up */

static int open_kafka(struct engine *E, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = kafka_conf_new(E->cfg, KAFKA_CONSUMER, err, errlen);
    if (!conf)
        return -1;
    rd_kafka_conf_set_opaque(conf, E);
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_error_cb(conf, on_kafka_error);
    E->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
    if (!E->rk) {
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_poll_set_consumer(E->rk);
    snprintf(E->topic, sizeof E->topic, "%s", config_get(E->cfg, "kafka.topic"));
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(LANES_N);
    for (int i = 0; i < LANES_N; i++) { /* a lane's missing topic is only empty: lane_topic_missing */
        lanes_topic_name(E->topic, (enum lane)i, E->lane_topic[i], sizeof E->lane_topic[i]);
        rd_kafka_topic_partition_list_add(sub, E->lane_topic[i], RD_KAFKA_PARTITION_UA);
    }
    rd_kafka_resp_err_t e = rd_kafka_subscribe(E->rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (e) {
        snprintf(err, errlen, "kafka: subscribe to %s: %s", E->topic, rd_kafka_err2str(e));
        return -1;
    }
    E->queue = rd_kafka_queue_get_consumer(E->rk);
    rd_kafka_queue_io_event_enable(E->queue, E->wake[1], "k", 1);
    return 0;
}

static int read_wait_settings(struct engine *E, char *err, size_t errlen)
{
    int64_t n = config_int(E->cfg, "redis.wait_replicas");
    int64_t ms = config_int(E->cfg, "redis.wait_timeout_ms");
    if (n < 0 || n > 100) {
        snprintf(err, errlen, "redis.wait_replicas must be from 0 to 100");
        return -1;
    }
    if (ms < 1 || ms > 60000) {
        snprintf(err, errlen, "redis.wait_timeout_ms must be from 1 to 60000");
        return -1;
    }
    E->wait_replicas = (int)n;
    E->wait_timeout_ms = (int)ms;
    return 0;
}

static int read_settings(struct engine *E, char *err, size_t errlen)
{
    E->concurrency = (size_t)config_int(E->cfg, "consumer.concurrency");
    if (E->concurrency < 1 || E->concurrency > 100000) {
        snprintf(err, errlen, "consumer.concurrency must be from 1 to 100000");
        return -1;
    }
    /* Room for the batches on their way to Redis as well as the jobs rendering: a resumed
     * partition takes librdkafka up to a second to fetch again, so pausing must be rare. */
    E->buffer_cap = E->concurrency * 4 < E->concurrency + 2 * BATCH_MIN ? E->concurrency + 2 * BATCH_MIN
                                                                       : E->concurrency * 4;
    E->max_attempts = (int)config_int(E->cfg, "retry.max_attempts");
    if (E->max_attempts < 1) {
        snprintf(err, errlen, "retry.max_attempts must be at least 1");
        return -1;
    }
    E->base_ms = config_int(E->cfg, "retry.base_ms");
    E->max_ms = config_int(E->cfg, "retry.max_ms");
    E->throttle_max_wait_ms = config_int(E->cfg, "retry.throttle_max_wait_ms");
    E->grace_ms = config_int(E->cfg, "consumer.shutdown_grace_ms");
    E->summary_ms = config_int(E->cfg, "consumer.summary_interval_ms");
    E->max_text = (size_t)config_int(E->cfg, "job.max_text_chars");
    E->dlq_cap = config_int(E->cfg, "dlq.max_entries_per_campaign");
    E->control_ttl_ms = config_int(E->cfg, "campaign.control_ttl_ms");
    if (E->control_ttl_ms < 1) {
        snprintf(err, errlen, "campaign.control_ttl_ms must be at least 1");
        return -1;
    }
    char *end;
    double share = strtod(config_get(E->cfg, "kafka.low_lane_share"), &end);
    if (*end || !(share >= 0 && share <= 1)) {
        snprintf(err, errlen, "kafka.low_lane_share must be from 0 to 1");
        return -1;
    }
    E->lanes = lanes_new(share);
    E->control = control_new(E->control_ttl_ms);
    E->rng = (uint64_t)clock_wall_ms() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ULL;
    account_identity(E);
    return read_wait_settings(E, err, errlen);
}

static int start_http(struct engine *E, char *err, size_t errlen)
{
    const char *names[ENGINE_MAX_PROVIDERS];
    size_t n = providers_count(E->providers); /* at most ENGINE_MAX_PROVIDERS (check_chain) */
    for (size_t i = 0; i < n; i++)
        names[i] = providers_at(E->providers, i)->name;
    E->metrics = metrics_new(names, n);
    if (!E->metrics) {
        snprintf(err, errlen, "metrics: a provider of the %zu in the chain has no name", n);
        return -1;
    }
    const char *listen = config_get(E->cfg, "http.listen");
    if (!listen || !*listen)
        return 0;
    E->httpd = httpd_start(listen, E->metrics, err, errlen);
    if (!E->httpd)
        return -1;
    log_info("http listening", LOGS("address", listen), LOGN("port", httpd_port(E->httpd)));
    return 0;
}

/* breaker.shared: every provider's breaker is the fleet's (breaker_shared.h), through a Redis
 * connection of its own, so a breaker sync never disturbs a batch in flight. */
static int share_breakers(struct engine *E, char *err, size_t errlen)
{
    if (!config_bool(E->cfg, "breaker.shared"))
        return 0;
    E->bshared = breaker_shared_new(config_get(E->cfg, "redis.url"));
    for (size_t i = 0; i < providers_count(E->providers); i++) {
        struct provider *pv = providers_at(E->providers, i);
        if (breaker_shared_add(E->bshared, pv->name, &pv->breaker) != 0) {
            snprintf(err, errlen, "breaker.shared: cannot share the breaker of provider %s", pv->name);
            return -1;
        }
    }
    return 0;
}

/* The chain's length limit: a task records the providers that declined it (open breaker,
 * refusal, "too long") in 64-bit masks, so a 65th provider could never be marked as declined and
 * a task it refuses would wait for it forever. A configuration error (exit 2), not a crash. */
static int check_chain(const struct engine *E, char *err, size_t errlen)
{
    size_t n = providers_count(E->providers);
    if (n <= ENGINE_MAX_PROVIDERS)
        return 0;
    snprintf(err, errlen, "providers: %zu providers in the chain, at most %d are supported", n,
             ENGINE_MAX_PROVIDERS);
    return -1;
}

struct engine *engine_new(const struct config *cfg, char *err, size_t errlen, int *exit_code)
{
    struct engine *E = xcalloc(1, sizeof *E);
    E->cfg = cfg;
    E->kafka_ok = E->redis_ok = true;
    E->wake[0] = E->wake[1] = -1;
    *exit_code = 2; /* configuration errors first */
    if (read_settings(E, err, errlen) != 0 || sink_check(cfg, err, errlen) != 0)
        goto fail;
    E->providers = providers_new(cfg, err, errlen);
    if (!E->providers || check_chain(E, err, errlen) != 0 || share_breakers(E, err, errlen) != 0)
        goto fail;
    *exit_code = 1;
    if (pipe2(E->wake, O_NONBLOCK | O_CLOEXEC) != 0 || start_http(E, err, errlen) != 0)
        goto fail;
    E->store = store_open_config(cfg, err, errlen);
    if (!E->store || open_kafka(E, err, errlen) != 0)
        goto fail;
    E->batch = store_batch_new();
    store_batch_set_dlq_cap(E->batch, E->dlq_cap);
    E->checks = store_batch_new();
    E->offsets = offsets_new();
    E->timers = timerheap_new();
    E->inflight = idset_new();
    E->cache = cache_new(cfg, E->account_id, E->metrics);
    struct sink *sink = sink_open(cfg, err, errlen); /* output.uri (checked above) */
    E->writer = sink ? writer_new(sink, E->wake[1], err, errlen) : NULL;
    if (!E->writer)
        goto fail;
    E->results = results_new(cfg, E->wake[1], on_published, E, err, errlen);
    if (!E->results && err[0])
        goto fail;
    metrics_set_health_inputs(E->metrics, true, true);
    return E;
fail:
    engine_free(E);
    return NULL;
}

/* Frees a task left at shutdown. A child still out frees its job first (the job is in no list
 * while children are out), its other children out becoming orphans, freed where they are. */
static void free_left(struct task *t)
{
    if (t->parent) {
        struct task *job = parts_root(t);
        parts_abandon(job);
        task_free(job);
    }
    task_free(t);
}

static void free_list(struct tasklist *l)
{
    for (struct task *t = l->head, *next; t; t = next) {
        next = t->next;
        free_left(t);
    }
}

/* Leaves the group, bounded: rd_kafka_consumer_close() waits forever when the brokers are gone,
 * and a consumer told to stop must stop. Returns true when the close completed. */
static bool close_consumer(struct engine *E)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(E->rk);
    rd_kafka_error_t *error = rd_kafka_consumer_close_queue(E->rk, q);
    if (error) {
        log_warn("kafka consumer close", LOGS("error", rd_kafka_error_string(error)));
        rd_kafka_error_destroy(error);
    }
    int64_t deadline = clock_mono_ms() + CLOSE_TIMEOUT_MS;
    while (!error && !rd_kafka_consumer_closed(E->rk) && clock_mono_ms() < deadline) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 100);
        if (ev && rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE)
            rd_kafka_assign(E->rk, NULL); /* eager assignor: a revocation during close */
        if (ev)
            rd_kafka_event_destroy(ev);
    }
    bool closed = rd_kafka_consumer_closed(E->rk);
    if (!closed)
        log_warn("kafka unreachable: left the group without a clean close", LOGN("waited_ms", CLOSE_TIMEOUT_MS));
    rd_kafka_queue_destroy(q);
    return closed;
}

void engine_free(struct engine *E)
{
    if (!E)
        return;
    bool closed = E->rk ? close_consumer(E) : true;
    results_free(E->results, drop_task); /* undelivered: their jobs come back to the group */
    breaker_shared_free(E->bshared); /* borrows the providers' breakers */
    providers_free(E->providers); /* aborts transfers of tasks freed below */
    free_list(&E->checking);
    for (int i = 0; i < LANES_N; i++)
        free_list(&E->ready[i]);
    free_list(&E->finishing);
    free_list(&E->to_write);
    struct task *left;
    writer_free(E->writer, &left);
    free_list(&(struct tasklist){.head = left});
    cache_free(E->cache); /* the tasks waiting there */
    if (E->timers) {
        struct task *t;
        while ((t = timerheap_pop_due(E->timers, INT64_MAX)) != NULL)
            free_left(t);
        timerheap_free(E->timers);
    }
    if (E->queue)
        rd_kafka_queue_destroy(E->queue);
    if (E->assigned)
        rd_kafka_topic_partition_list_destroy(E->assigned);
    if (E->rk)
        rd_kafka_destroy_flags(E->rk, closed ? 0 : RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    httpd_stop(E->httpd);
    metrics_free(E->metrics);
    store_batch_free(E->checks);
    store_batch_free(E->batch);
    store_close(E->store);
    offsets_free(E->offsets);
    for (int i = 0; i < 2; i++)
        if (E->wake[i] >= 0)
            close(E->wake[i]);
    idset_free(E->inflight);
    control_free(E->control);
    lanes_free(E->lanes);
    free(E->gen);
    free(E);
}
