/* results.h - the results stream: one Kafka event per contact reaching a terminal state.
 *
 * A dialer reads results.topic (default voxcast.results; empty disables the stream) to learn
 * which contacts are ready and where their audio is. Events (JSON, key = contact id):
 *   {"v":1,"campaign":…,"contact":…,"outcome":"done"|"dlq"|"cancelled","uri":"file:///…"|"s3://…"|null,
 *    "format":…,"duration_ms":N,"bytes":N,"sha256":"…"|null,"provider":…|null,"attempts":N,
 *    "replay":N,"finished_at":"…","meta":{…}}  plus "reason" and "http_status" for dlq (a
 *    cancelled contact, whose campaign was cancelled before it was rendered, has no audio: uri and
 *    sha256 null, duration_ms and bytes 0);
 *   {"v":1,"campaign":…,"outcome":"campaign_complete","done":N,"dlq":N,"enqueued":N,
 *    "audio_ms":N,"finished_at":"…"}  (key = campaign id) when a campaign's pending reaches 0.
 * Invalid jobs (campaign "_invalid") have no event: no dialer asked for them.
 *
 * Delivery: a second librdkafka producer, idempotent with acks=all. The engine hands over a task
 * once its outcome is in Redis; its offset is stored only from the delivery report (the
 * delivered callback), so a job whose event Kafka does not have is redelivered. A failed
 * delivery is produced again a second later, for ever: the job holds its place in the
 * consumer's buffer meanwhile, so a results topic that stays away pauses consumption rather
 * than losing events. Delivery reports wake the engine's loop through the same pipe as the
 * consumer's queue.
 *
 * At-least-once, and why a repeat is never different. The event is built before the outcome
 * is written and Redis stores it in the campaign's outbox in the same script that moves the
 * contact to done or dlq (store.h, store_batch_done_result). Once Kafka acknowledged it, the
 * publisher deletes it from the outbox (best effort, batched). Then:
 *   - a redelivered job of a contact done before is a duplicate: if its event is gone from the
 *     outbox, Kafka has it (the first copy reported it), and nothing is emitted again;
 *   - if the consumer died after Redis and before Kafka acknowledged the event, the job's offset
 *     was never stored, so the job is redelivered; Redis answers UNPUBLISHED, and the event is
 *     read back from the outbox and published: the same bytes as the first attempt;
 *   - a crash after the delivery but before the outbox entry was deleted publishes that entry a
 *     second time, byte for byte the same. A dialer keys its work on campaign + contact + sha256.
 * A campaign's completion follows the same pattern: the batch script that finishes contacts and
 * leaves pending at 0 with final counts not told before (after the launch finished; once per
 * set of counts, store.h) records it in meta `completion` and tells this consumer, which
 * publishes it after its contact events (in a one-partition topic it is the last event of the
 * campaign that this consumer saw through) and clears it on delivery. A redelivered duplicate
 * with an unpublished event also republishes the campaign's unpublished completion. If the
 * campaign drained while its launch was still running, the consumer that saw it asks Redis
 * every half second until the launch finishes (store_completion_claim), for up to ten minutes.
 * With several consumers a contact event of another consumer, produced just before, can reach
 * the topic after the completion: a dialer takes the completion's counts as final. */
#ifndef VOXCAST_RESULTS_H
#define VOXCAST_RESULTS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "store.h"
#include "task.h"

struct results;

/* Called from results_poll/results_drain for each event Kafka acknowledged, with the opaque
 * given to results_publish (NULL for a campaign completion). */
typedef void (*results_delivered_fn)(void *ctx, void *opaque);

/* A publisher for results.topic, delivery reports signalled by writing to wake_fd. NULL with
 * err empty when results.topic is empty (disabled); NULL with err set when librdkafka refused. */
struct results *results_new(const struct config *cfg, int wake_fd, results_delivered_fn delivered,
                            void *ctx, char *err, size_t errlen);
/* NULL-safe. Passes the opaque of every event still undelivered to drop (the engine frees its
 * tasks), then destroys the producer without waiting. */
void results_free(struct results *r, void (*drop)(void *opaque));

/* The event JSON of a finished valid task (done, dlq or cancelled), appended to out. Pure: the same task
 * and finished_at_ms give the same bytes. A done job with variants (parts.h) adds
 * "variants":[{"name","uri","duration_ms","bytes","sha256"},...] in the job's order; its own
 * "uri" and "sha256" are null and its "duration_ms" and "bytes" the sums. */
void results_event(struct buf *out, const struct task *t, int64_t finished_at_ms);
/* The campaign_complete event of a COMPLETED completion, appended to out. Pure. */
void results_completion_event(struct buf *out, const struct store_completion *c);

/* Queues an event: a contact's (contact != NULL, key = contact) or a completion's (key =
 * campaign). The bytes are copied. opaque comes back through the delivered callback. */
void results_publish(struct results *r, const char *campaign, const char *contact, const char *json,
                     size_t len, void *opaque);
/* Queues the completion's event (no opaque). */
void results_publish_completion(struct results *r, const struct store_completion *c);
/* Remembers a campaign drained while its launch was running, to claim its completion later. */
void results_watch(struct results *r, const char *campaign, int64_t now_ms);

/* Serves delivery reports, produces again what failed and is due, claims watched completions
 * and clears delivered events from the outbox. s may be NULL (Redis unusable now): the Redis
 * parts wait. Never blocks beyond one Redis round trip. */
void results_poll(struct results *r, struct store *s, int64_t now_ms);
/* Events produced and not yet acknowledged (tasks and completions). */
size_t results_in_flight(const struct results *r);
/* The earliest time results_poll has work that no delivery report will announce (a retry, a
 * watched campaign, an outbox clear); INT64_MAX when none. */
int64_t results_next_due_ms(const struct results *r);
/* At a revocation or shutdown: polls (delivered callbacks included) until every event is
 * acknowledged or timeout_ms passed. Returns the number still undelivered. */
size_t results_drain(struct results *r, struct store *s, int timeout_ms);

#endif
