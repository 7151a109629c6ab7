/* acker.c - delivery reports to Redis on a second thread; see acker.h. */
#include "acker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

#define ACK_FLUSH 10000

struct acker {
    pthread_t           thread;
    pthread_mutex_t     lock;
    pthread_cond_t      wake;
    struct store       *store;
    struct store_batch *filling, *writing;   /* swapped under the lock */
    char                campaign[72];
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
        while (!a->stop && store_batch_len(a->filling) < ACK_FLUSH)
            pthread_cond_wait(&a->wake, &a->lock);
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

struct acker *acker_start(const char *redis_url, int timeout_ms, const char *campaign, char *err, size_t errlen)
{
    struct acker *a = calloc(1, sizeof *a);
    a->store = store_open(redis_url, timeout_ms, err, errlen);
    if (!a->store) {
        free(a);
        return NULL;
    }
    snprintf(a->campaign, sizeof a->campaign, "%s", campaign);
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

void acker_add(struct acker *a, const void *contact, size_t len, bool ok)
{
    pthread_mutex_lock(&a->lock);
    if (ok)
        store_batch_ack(a->filling, a->campaign, contact, len);
    else
        store_batch_unreserve(a->filling, a->campaign, contact, len);
    if (store_batch_len(a->filling) >= ACK_FLUSH)
        pthread_cond_signal(&a->wake);
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
    store_close(a->store);
    pthread_mutex_destroy(&a->lock);
    pthread_cond_destroy(&a->wake);
    free(a);
    return rc;
}
