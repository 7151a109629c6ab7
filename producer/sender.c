/* sender.c - producing jobs, draining acknowledgements, keeping the lock; see sender.h. */
#include "sender.h"

#include "clock.h"

rd_kafka_resp_err_t sender_produce(rd_kafka_t *rk, rd_kafka_topic_t *rkt, const void *payload,
                                   size_t len, const void *key, size_t key_len, void *opaque)
{
    for (;;) {
        if (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, (void *)payload, len,
                             key, key_len, opaque) == 0)
            return RD_KAFKA_RESP_ERR_NO_ERROR;
        rd_kafka_resp_err_t e = rd_kafka_last_error();
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return e;
        rd_kafka_poll(rk, 10);   /* reports free room in the queue */
    }
}

int sender_drain(rd_kafka_t *rk, int64_t deadline_ms, int purge_wait_ms, sender_tick_fn tick,
                 void *ctx)
{
    while (rd_kafka_outq_len(rk) > 0 && clock_mono_ms() < deadline_ms) {
        rd_kafka_flush(rk, 100);
        if (tick && tick(ctx) != 0)
            break;
    }
    int left = rd_kafka_outq_len(rk);
    if (left > 0) {
        rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(rk, purge_wait_ms);   /* serves the purged messages' failure reports */
    }
    return left;
}

int lock_keeper_refresh(struct lock_keeper *k)
{
    if (k->lost)
        return 1;
    int64_t now = clock_mono_ms();
    if (k->every_ms > 0 && now - k->last_ms < k->every_ms)
        return 0;
    int rc = store_lock_refresh(k->store, k->campaign, k->which, k->token, k->ttl_ms);
    if (rc == 0)
        k->last_ms = now;
    if (rc == 1)
        k->lost = true;
    return rc;
}
