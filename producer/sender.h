/* sender.h - putting jobs on Kafka, for `launch` and `dlq replay` alike.
 *
 * Both commands produce jobs whose record in Redis must follow Kafka's answer (a launch counts
 * a contact enqueued, a replay forgets a DLQ entry, only once its job is acknowledged), while
 * holding a campaign lock that must stay theirs. The three steps they share live here, so the
 * two cannot drift apart:
 *   - sender_produce: one message, serving delivery reports while librdkafka's queue is full;
 *   - sender_drain: wait for every report up to a deadline, then purge what is left, so that
 *     nothing is sent after its contact was given up (a purged message reports a failure);
 *   - lock_keeper: refresh the campaign lock on the way, and say when it was lost. */
#ifndef VOXCAST_SENDER_H
#define VOXCAST_SENDER_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* Produces payload (copied) with key to rkt's topic, partition by key; opaque reaches the delivery
 * report. Serves reports while the queue is full. RD_KAFKA_RESP_ERR_NO_ERROR, or the error that
 * refused the message (too large, unknown topic...). */
rd_kafka_resp_err_t sender_produce(rd_kafka_t *rk, rd_kafka_topic_t *rkt, const void *payload,
                                   size_t len, const void *key, size_t key_len, void *opaque);

/* Called about every 100 ms while draining (progress, the lock); nonzero stops the wait. */
typedef int (*sender_tick_fn)(void *ctx);

/* Serves delivery reports until none is outstanding or deadline_ms (clock_mono_ms) has passed,
 * calling tick between waits. Whatever is still unreported then is purged and its (failure)
 * reports served for up to purge_wait_ms. Returns how many messages were still unreported when
 * the wait ended (0: every message was reported, delivered or not). */
int sender_drain(rd_kafka_t *rk, int64_t deadline_ms, int purge_wait_ms, sender_tick_fn tick,
                 void *ctx);

/* A campaign lock held while sending. */
struct lock_keeper {
    struct store    *store;
    const char      *campaign;
    enum store_lock  which;
    const char      *token;
    int64_t          ttl_ms;      /* the lock's lifetime from each refresh */
    int64_t          every_ms;    /* refresh at most this often (0: every call) */
    int64_t          last_ms;     /* clock_mono_ms of the last refresh */
    bool             lost;
};

/* Refreshes the lock when every_ms has passed since the last refresh. 0 still held, 1 lost
 * (it lapsed while the sender stalled, or another run took it: stop, and leave its work to
 * it), -1 Redis error (store_error). Once lost, always 1. */
int lock_keeper_refresh(struct lock_keeper *k);

#endif
