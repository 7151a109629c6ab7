/* store_wait.c - waits for Redis replicas to hold what this connection wrote (WAIT).
 *
 * A batch acknowledged by the primary alone is lost if the primary fails over before its
 * replicas copied it: the contacts it marked done read as pending again on the new primary,
 * although their Kafka offsets may already be committed. Asking WAIT before the offsets are
 * stored closes that hole for as many replicas as the operator asks (redis.wait_replicas). */
#include <hiredis/hiredis.h>

#include "store.h"
#include "store_scripts.h"

int store_wait_replicas(struct store *s, int n, int timeout_ms)
{
    redisReply *r = store_command(s, "WAIT %d %d", n, timeout_ms);
    if (!r)
        return -1;
    long long acked = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    if (acked < 0) {
        store_fail(s, "WAIT: not an integer reply");
        return -1;
    }
    if (acked < n) {
        store_fail(s, "WAIT: %lld of %d replicas acknowledged within %d ms", acked, n, timeout_ms);
        return -1;
    }
    return 0;
}
