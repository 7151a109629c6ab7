/* store_results.h - the Redis side of the results stream: the outbox and campaign completions.
 *
 * The batch script (store.h, store_batch_done_result / store_batch_dlq_result) stores a contact's
 * results event in voxcast:{C}:outbox in the same step as its outcome, and the counts of a
 * completed campaign in meta `completion`. These calls read them back for a redelivered job
 * (STORE_UNPUBLISHED: its first event may never have reached Kafka), clear them once Kafka has
 * the event, and claim a completion that the last done saw while the launch was still running.
 * Errors: -1 with store_error(), like every store call. */
#ifndef VOXCAST_STORE_RESULTS_H
#define VOXCAST_STORE_RESULTS_H

#include <stddef.h>

#include "store.h"

/* The outbox's event for a contact: 0 with *json malloc'd, 1 when there is none, -1 error. */
int store_outbox_get(struct store *s, const char *campaign, const char *contact, size_t len, char **json);

/* The campaign's unpublished completion (meta `completion`): 0 with *out filled (COMPLETED),
 * 1 when there is none, -1 error. */
int store_completion_get(struct store *s, const char *campaign, struct store_completion *out);

/* One published event: a contact's (contact != NULL) or the campaign's completion (NULL). */
struct store_published {
    const char *campaign;
    const char *contact;
    size_t      len;
};

/* Forgets n published events (HDEL from the outbox or meta), pipelined in one round trip.
 * Deleting what is already gone is fine. 0 or -1. */
int store_outbox_clear(struct store *s, const struct store_published *p, size_t n);

/* For a campaign drained while its launch was running (STORE_DRAINED_LAUNCHING): atomically,
 * if the launch has finished, pending is 0 and this completion was not told yet, records it as
 * told (completed_mark, completion) and returns 0 with *out COMPLETED. Returns 1 when the launch
 * is still running (ask again later), 2 when there is nothing to claim (pending > 0 again, or
 * told already), -1 error. */
int store_completion_claim(struct store *s, const char *campaign, struct store_completion *out);

#endif
