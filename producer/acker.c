/* acker.c - delivery reports to Redis on a second thread; see acker.h. */
#include "acker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "xalloc.h"

#define ACK_FLUSH 10000

/* A chunk Kafka has not reported on in full yet. */
struct open_chunk {
    uint32_t seq;
    bool     sealed;     /* every job produced: `produced` is final */
    size_t   produced, reported;
};

struct acker {
    pthread_t           thread;
    pthread_mutex_t     lock;
    pthread_cond_t      wake;
    struct store       *store;
    struct store_batch *filling, *writing;   /* swapped under the lock */
    char                campaign[72], run_id[72];
    struct open_chunk  *open;                /* few: chunks in librdkafka's queue */
    size_t              nopen, capopen;
    bool                ready;               /* a chunk is acknowledged: write without waiting */
    bool                stop;
    bool                failed;
    char                err[512];
};

/* Writes one batch, retrying once on a dropped connection (a retried batch is exact). */
static void write_batch(struct acker *a, struct store_batch *b)
{
    if (store_batch_len(b) == 0 || a->failed)
        return;
    if (store_batch_exec(a->store, b) != 0 && store_batch_exec(a->store, b) != 0) {
        snprintf(a->err, sizeof a->err, "redis: recording acknowledged jobs: %s", store_error(a->store));
        a->failed = true;
    }
    store_batch_reset(b);
}

static void *run(void *arg)
{
    struct acker *a = arg;
    pthread_mutex_lock(&a->lock);
    for (;;) {
        while (!a->stop && !a->ready && store_batch_len(a->filling) < ACK_FLUSH)
            pthread_cond_wait(&a->wake, &a->lock);
        a->ready = false;
        bool last = a->stop;
        struct store_batch *b = a->filling;
        a->filling = a->writing;
        a->writing = b;
        pthread_mutex_unlock(&a->lock);
        write_batch(a, b);
        pthread_mutex_lock(&a->lock);
        if (last && store_batch_len(a->filling) == 0)
            break;
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

struct acker *acker_start(const char *redis_url, int timeout_ms, const char *campaign, const char *run_id,
                          char *err, size_t errlen)
{
    struct acker *a = xcalloc(1, sizeof *a);
    a->store = store_open(redis_url, timeout_ms, err, errlen);
    if (!a->store) {
        free(a);
        return NULL;
    }
    snprintf(a->campaign, sizeof a->campaign, "%s", campaign);
    snprintf(a->run_id, sizeof a->run_id, "%s", run_id);
    a->filling = store_batch_new();
    a->writing = store_batch_new();
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->wake, NULL);
    if (pthread_create(&a->thread, NULL, run, a) != 0) {
        snprintf(err, errlen, "cannot start the ack thread");
        store_batch_free(a->filling);
        store_batch_free(a->writing);
        store_close(a->store);
        free(a);
        return NULL;
    }
    return a;
}

/* The open chunk seq, added on first use (reports may come before the seal). Under the lock. */
static struct open_chunk *open_chunk(struct acker *a, uint32_t seq)
{
    for (size_t i = a->nopen; i-- > 0;) {
        if (a->open[i].seq == seq)
            return &a->open[i];
    }
    if (a->nopen == a->capopen) {
        a->capopen = a->capopen ? 2 * a->capopen : 16;
        a->open = xrealloc(a->open, a->capopen * sizeof *a->open);
    }
    a->open[a->nopen] = (struct open_chunk){.seq = seq};
    return &a->open[a->nopen++];
}

/* Acknowledges chunk c once it is sealed and fully reported, and forgets it. Under the lock. */
static void close_if_complete(struct acker *a, struct open_chunk *c)
{
    if (!c->sealed || c->reported < c->produced)
        return;
    store_batch_ack_chunk(a->filling, a->campaign, a->run_id, c->seq);
    *c = a->open[--a->nopen];
    a->ready = true;
    pthread_cond_signal(&a->wake);
}

void acker_add(struct acker *a, uint32_t chunk, const void *contact, size_t len, bool existing, bool ok)
{
    pthread_mutex_lock(&a->lock);
    if (!ok)
        store_batch_unreserve(a->filling, a->campaign, contact, len);
    else if (existing)
        store_batch_ack(a->filling, a->campaign, contact, len);
    struct open_chunk *c = open_chunk(a, chunk);
    c->reported++;
    close_if_complete(a, c);
    if (store_batch_len(a->filling) >= ACK_FLUSH)
        pthread_cond_signal(&a->wake);
    pthread_mutex_unlock(&a->lock);
}

void acker_sealed(struct acker *a, uint32_t chunk, size_t produced)
{
    pthread_mutex_lock(&a->lock);
    struct open_chunk *c = open_chunk(a, chunk);
    c->sealed = true;
    c->produced = produced;
    close_if_complete(a, c);
    pthread_mutex_unlock(&a->lock);
}

int acker_finish(struct acker *a, char *err, size_t errlen)
{
    if (!a)
        return 0;
    pthread_mutex_lock(&a->lock);
    a->stop = true;
    pthread_cond_signal(&a->wake);
    pthread_mutex_unlock(&a->lock);
    pthread_join(a->thread, NULL);
    int rc = a->failed ? -1 : 0;
    if (rc)
        snprintf(err, errlen, "%s", a->err);
    store_batch_free(a->filling);
    store_batch_free(a->writing);
    free(a->open);
    store_close(a->store);
    pthread_mutex_destroy(&a->lock);
    pthread_cond_destroy(&a->wake);
    free(a);
    return rc;
}
