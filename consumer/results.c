/* results.c - the results stream's producer and events; see results.h.
 *
 * Every event in flight is a `struct pending` that owns its bytes (librdkafka is told not to
 * copy them) and sits on a doubly-linked list until its delivery report: acknowledged ones go to
 * the delivered callback and to the outbox clear list, failed ones to the retry list. */
#include "results.h"

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "jsonw.h"
#include "kafka.h"
#include "log.h"
#include "parts.h"
#include "store_results.h"
#include "xalloc.h"

#define RETRY_MS        1000     /* a failed delivery is produced again this much later */
#define WATCH_EVERY_MS  500      /* a drained campaign's completion is claimed this often */
#define WATCH_FOR_MS    600000   /* ... for up to ten minutes */
#define WATCH_MAX       64
#define CLEAR_MAX       100000   /* outbox deletions kept while Redis is away */

struct pending {
    struct pending *prev, *next;        /* every event in flight */
    struct pending *retry_next;         /* retry list link */
    void           *opaque;             /* the engine's task, NULL for a completion */
    char            campaign[65];
    char           *contact;            /* NULL for a completion */
    size_t          contact_len;
    char           *payload;
    size_t          len;
    int64_t         retry_at;
};

struct watched {
    char    campaign[65];
    int64_t since_ms, next_ms;
};

struct cleared {
    char   campaign[65];
    char  *contact;                     /* owned; NULL for a completion */
    size_t len;
};

struct results {
    rd_kafka_t          *rk;
    rd_kafka_topic_t    *rkt;
    rd_kafka_queue_t    *mainq;
    results_delivered_fn delivered;
    void                *ctx;
    struct pending      *all;           /* in flight */
    size_t               in_flight;
    struct pending      *retry;         /* failed, waiting for retry_at */
    struct cleared      *clear;         /* delivered, to delete from the outbox */
    size_t               nclear, clear_cap;
    struct watched       watch[WATCH_MAX];
    size_t               nwatch;
    int64_t              failures_logged_ms;
};

/* ---------------------------------------------------------------- events */

static void put_str_or_null(struct buf *b, const char *key, const char *s)
{
    jsonw_key(b, key);
    jsonw_cstr(b, s && *s ? s : NULL);
}

static void put_meta(struct buf *b, const json_t *meta)
{
    jsonw_key(b, "meta");
    char *m = meta ? json_dumps(meta, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    buf_puts(b, m ? m : "{}");
    free(m);
}

/* A job with variants: one file each (parts.h), in the job's order. */
static void put_variants(struct buf *b, const struct task *t)
{
    jsonw_key(b, "variants");
    buf_putc(b, '[');
    for (size_t i = 0; i < t->nchildren; i++) {
        const struct task *v = t->children[i];
        buf_puts(b, i ? ",{" : "{");
        put_str_or_null(b, "name", v->variant);
        put_str_or_null(b, "uri", v->uri);
        jsonw_key(b, "duration_ms");
        jsonw_int(b, v->duration_ms);
        jsonw_key(b, "bytes");
        jsonw_int(b, (int64_t)v->bytes);
        put_str_or_null(b, "sha256", v->sha256);
        buf_putc(b, '}');
    }
    buf_putc(b, ']');
}

/* The contract's outcome names: a cancelled contact's event says so; anything else not done is
 * the DLQ's. */
static const char *outcome_name(const struct task *t)
{
    return t->outcome == OUTCOME_DONE ? "done" : t->outcome == OUTCOME_CANCELLED ? "cancelled" : "dlq";
}

void results_event(struct buf *out, const struct task *t, int64_t finished_at_ms)
{
    bool done = t->outcome == OUTCOME_DONE, dlq = !done && t->outcome != OUTCOME_CANCELLED;
    char at[32];
    clock_iso8601(finished_at_ms, at);
    buf_putc(out, '{');
    jsonw_key(out, "v");
    jsonw_int(out, 1);
    put_str_or_null(out, "campaign", task_campaign(t));
    put_str_or_null(out, "contact", task_contact(t));
    put_str_or_null(out, "outcome", outcome_name(t));
    put_str_or_null(out, "uri", done ? t->uri : NULL);
    put_str_or_null(out, "format", t->job.format);
    jsonw_key(out, "duration_ms");
    jsonw_int(out, done ? t->duration_ms : 0);
    jsonw_key(out, "bytes");
    jsonw_int(out, done ? (int64_t)t->bytes : 0);
    put_str_or_null(out, "sha256", done ? t->sha256 : NULL);
    put_str_or_null(out, "provider", t->provider);
    jsonw_key(out, "attempts");
    jsonw_int(out, t->attempts);
    jsonw_key(out, "replay");
    jsonw_int(out, t->job.replay);
    put_str_or_null(out, "finished_at", at);
    put_meta(out, t->job.meta);
    if (done && parts_has_variants(t))
        put_variants(out, t);
    if (dlq) {
        put_str_or_null(out, "reason", t->reason);
        jsonw_key(out, "http_status");
        if (t->http_status > 0)
            jsonw_int(out, t->http_status);
        else
            buf_puts(out, "null");
    }
    buf_putc(out, '}');
}

void results_completion_event(struct buf *out, const struct store_completion *c)
{
    char at[32];
    clock_iso8601(c->at_ms, at);
    buf_putc(out, '{');
    jsonw_key(out, "v");
    jsonw_int(out, 1);
    put_str_or_null(out, "campaign", c->campaign);
    put_str_or_null(out, "outcome", "campaign_complete");
    jsonw_key(out, "done");
    jsonw_int(out, c->done);
    jsonw_key(out, "dlq");
    jsonw_int(out, c->dlq);
    jsonw_key(out, "enqueued");
    jsonw_int(out, c->enqueued);
    jsonw_key(out, "audio_ms");
    jsonw_int(out, c->audio_ms);
    put_str_or_null(out, "finished_at", at);
    buf_putc(out, '}');
}

/* ---------------------------------------------------------------- producing */

static void pending_free(struct pending *p)
{
    free(p->contact);
    free(p->payload);
    free(p);
}

static void unlink_pending(struct results *r, struct pending *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        r->all = p->next;
    if (p->next)
        p->next->prev = p->prev;
    r->in_flight--;
}

static void schedule_retry(struct results *r, struct pending *p, int64_t at)
{
    p->retry_at = at;
    p->retry_next = r->retry;
    r->retry = p;
}

static void produce(struct results *r, struct pending *p)
{
    const char *key = p->contact ? p->contact : p->campaign;
    size_t klen = p->contact ? p->contact_len : strlen(p->campaign);
    if (rd_kafka_produce(r->rkt, RD_KAFKA_PARTITION_UA, 0, p->payload, p->len, key, klen, p) == -1) {
        /* queue full or the producer refused: try again shortly, never block the loop */
        schedule_retry(r, p, clock_mono_ms() + 100);
    }
}

static void note_cleared(struct results *r, const struct pending *p)
{
    if (r->nclear >= CLEAR_MAX)
        return; /* Redis away for long: the entries expire with the outbox key */
    if (r->nclear == r->clear_cap) {
        r->clear_cap = r->clear_cap ? 2 * r->clear_cap : 256;
        r->clear = xrealloc(r->clear, r->clear_cap * sizeof *r->clear);
    }
    struct cleared *c = &r->clear[r->nclear++];
    snprintf(c->campaign, sizeof c->campaign, "%s", p->campaign);
    c->contact = p->contact ? xstrndup(p->contact, p->contact_len) : NULL;
    c->len = p->contact_len;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct results *r = opaque;
    struct pending *p = m->_private;
    if (m->err) {
        int64_t now = clock_mono_ms();
        if (now - r->failures_logged_ms >= 5000) {
            log_warn("results event not delivered; producing it again", LOGS("error", rd_kafka_err2str(m->err)),
                     LOGS("topic", rd_kafka_topic_name(r->rkt)), LOGS("campaign", p->campaign),
                     LOGN("in_flight", r->in_flight));
            r->failures_logged_ms = now;
        }
        schedule_retry(r, p, now + RETRY_MS);
        return;
    }
    unlink_pending(r, p);
    note_cleared(r, p);
    r->delivered(r->ctx, p->opaque);
    pending_free(p);
}

void results_publish(struct results *r, const char *campaign, const char *contact, const char *json,
                     size_t len, void *opaque)
{
    struct pending *p = xcalloc(1, sizeof *p);
    snprintf(p->campaign, sizeof p->campaign, "%s", campaign);
    if (contact) {
        p->contact_len = strlen(contact);
        p->contact = xstrndup(contact, p->contact_len);
    }
    p->payload = xmalloc(len ? len : 1);
    memcpy(p->payload, json, len);
    p->len = len;
    p->opaque = opaque;
    p->next = r->all;
    if (r->all)
        r->all->prev = p;
    r->all = p;
    r->in_flight++;
    produce(r, p);
}

void results_publish_completion(struct results *r, const struct store_completion *c)
{
    struct buf ev = {0};
    results_completion_event(&ev, c);
    results_publish(r, c->campaign, NULL, ev.data, ev.len, NULL);
    buf_free(&ev);
    log_info("campaign complete", LOGS("campaign", c->campaign), LOGN("done", c->done), LOGN("dlq", c->dlq),
             LOGN("audio_ms", c->audio_ms));
}

/* ---------------------------------------------------------------- the loop's side */

void results_watch(struct results *r, const char *campaign, int64_t now_ms)
{
    for (size_t i = 0; i < r->nwatch; i++)
        if (strcmp(r->watch[i].campaign, campaign) == 0)
            return;
    if (r->nwatch == WATCH_MAX) {
        log_warn("too many campaigns drained while launching; one completion may go untold",
                 LOGS("campaign", campaign));
        return;
    }
    struct watched *w = &r->watch[r->nwatch++];
    snprintf(w->campaign, sizeof w->campaign, "%s", campaign);
    w->since_ms = now_ms;
    w->next_ms = now_ms + WATCH_EVERY_MS;
}

static void claim_watched(struct results *r, struct store *s, int64_t now)
{
    for (size_t i = 0; i < r->nwatch;) {
        struct watched *w = &r->watch[i];
        if (now < w->next_ms) {
            i++;
            continue;
        }
        struct store_completion c;
        int rc = store_completion_claim(s, w->campaign, &c);
        if (rc < 0)
            return; /* Redis trouble: the engine notices on its own next call */
        if (rc == 0)
            results_publish_completion(r, &c);
        if (rc == 1 && now - w->since_ms < WATCH_FOR_MS) {
            w->next_ms = now + WATCH_EVERY_MS;
            i++;
            continue;
        }
        *w = r->watch[--r->nwatch];
    }
}

static void clear_outbox(struct results *r, struct store *s)
{
    if (r->nclear == 0)
        return;
    struct store_published *p = xcalloc(r->nclear, sizeof *p);
    for (size_t i = 0; i < r->nclear; i++)
        p[i] = (struct store_published){r->clear[i].campaign, r->clear[i].contact, r->clear[i].len};
    int rc = store_outbox_clear(s, p, r->nclear);
    free(p);
    if (rc != 0)
        return; /* kept for the next poll; a redelivery meanwhile republishes the same bytes */
    for (size_t i = 0; i < r->nclear; i++)
        free(r->clear[i].contact);
    r->nclear = 0;
}

static void retry_due(struct results *r, int64_t now)
{
    struct pending *due = NULL, **pp = &r->retry;
    while (*pp) {
        struct pending *p = *pp;
        if (p->retry_at <= now) {
            *pp = p->retry_next;
            p->retry_next = due;
            due = p;
        } else {
            pp = &p->retry_next;
        }
    }
    for (struct pending *p = due, *next; p; p = next) {
        next = p->retry_next;
        produce(r, p);
    }
}

void results_poll(struct results *r, struct store *s, int64_t now_ms)
{
    for (int i = 0; i < 100 && rd_kafka_poll(r->rk, 0) > 0; i++)
        ;
    retry_due(r, now_ms);
    if (!s)
        return;
    claim_watched(r, s, now_ms);
    clear_outbox(r, s);
}

size_t results_in_flight(const struct results *r)
{
    return r ? r->in_flight : 0;
}

int64_t results_next_due_ms(const struct results *r)
{
    int64_t due = INT64_MAX;
    if (!r)
        return due;
    /* results_poll serves a bounded number of reports; the pipe only signals an empty queue
     * turning non-empty, so reports left queued must bring the loop back by themselves */
    if (rd_kafka_queue_length(r->mainq) > 0)
        return clock_mono_ms();
    for (const struct pending *p = r->retry; p; p = p->retry_next)
        if (p->retry_at < due)
            due = p->retry_at;
    for (size_t i = 0; i < r->nwatch; i++)
        if (r->watch[i].next_ms < due)
            due = r->watch[i].next_ms;
    if (r->nclear > 0) {
        int64_t soon = clock_mono_ms() + 100; /* a failed clear is tried again, not spun on */
        if (soon < due)
            due = soon;
    }
    return due;
}

size_t results_drain(struct results *r, struct store *s, int timeout_ms)
{
    if (!r)
        return 0;
    int64_t deadline = clock_mono_ms() + timeout_ms;
    while (r->in_flight > 0 && clock_mono_ms() < deadline) {
        rd_kafka_poll(r->rk, 50);
        results_poll(r, s, clock_mono_ms());
    }
    if (s)
        clear_outbox(r, s);
    return r->in_flight;
}

/* ---------------------------------------------------------------- set-up */

struct results *results_new(const struct config *cfg, int wake_fd, results_delivered_fn delivered,
                            void *ctx, char *err, size_t errlen)
{
    err[0] = '\0';
    const char *topic = config_get(cfg, "results.topic");
    if (!topic || !*topic)
        return NULL;
    rd_kafka_conf_t *conf = kafka_conf_new(cfg, KAFKA_PRODUCER, err, errlen);
    if (!conf)
        return NULL;
    /* what the stream promises does not bend to kafka.* overrides meant for the jobs producer */
    char rk_err[256];
    if (rd_kafka_conf_set(conf, "enable.idempotence", "true", rk_err, sizeof rk_err) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "acks", "all", rk_err, sizeof rk_err) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "linger.ms", "5", rk_err, sizeof rk_err) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "results producer: %s", rk_err);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    struct results *r = xcalloc(1, sizeof *r);
    r->delivered = delivered;
    r->ctx = ctx;
    rd_kafka_conf_set_opaque(conf, r);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    r->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, rk_err, sizeof rk_err);
    if (!r->rk) {
        snprintf(err, errlen, "results producer: %s", rk_err);
        rd_kafka_conf_destroy(conf);
        free(r);
        return NULL;
    }
    conf = NULL; /* rd_kafka_new took it */
    r->rkt = rd_kafka_topic_new(r->rk, topic, NULL);
    r->mainq = rd_kafka_queue_get_main(r->rk);
    rd_kafka_queue_io_event_enable(r->mainq, wake_fd, "r", 1);
    return r;
}

void results_free(struct results *r, void (*drop)(void *opaque))
{
    if (!r)
        return;
    rd_kafka_queue_io_event_enable(r->mainq, -1, NULL, 0);
    rd_kafka_queue_destroy(r->mainq);
    rd_kafka_topic_destroy(r->rkt);
    /* undelivered events stay in the outbox (and their jobs unstored): nothing is waited for */
    rd_kafka_purge(r->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_destroy(r->rk);
    for (struct pending *p = r->all, *next; p; p = next) {
        next = p->next;
        if (p->opaque && drop)
            drop(p->opaque);
        pending_free(p);
    }
    for (size_t i = 0; i < r->nclear; i++)
        free(r->clear[i].contact);
    free(r->clear);
    free(r);
}
