/* acker.h - records Kafka acknowledgements in Redis on a thread of its own.
 *
 * Launch throughput is bounded by Redis. Contacts are reserved in chunks (see store.h), and a
 * chunk is acknowledged as a whole once Kafka has reported on every job produced from it: one
 * Redis op per chunk instead of a hash read and write per contact. Only the exceptions cost a
 * per-contact op: a failed delivery (unreserve) and a contact an earlier run already knew (its
 * own ack). Reports are queued here and written by a second thread over its own Redis connection
 * (hiredis contexts are not shared between threads), so acknowledging one chunk overlaps the
 * reading, rendering and reserving of the next. */
#ifndef VOXCAST_ACKER_H
#define VOXCAST_ACKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct acker;

/* Connects its own store and starts the thread for run_id's chunks; NULL + err. */
struct acker *acker_start(const char *redis_url, int timeout_ms, const char *campaign, const char *run_id,
                          char *err, size_t errlen);
/* Kafka's report on one job of chunk: delivered (ok) or failed (the contact is unreserved).
 * existing: its reserve answered STORE_EXISTING, so it needs an ack of its own. Thread-safe. */
void acker_add(struct acker *a, uint32_t chunk, const void *contact, size_t len, bool existing, bool ok);
/* Every job of chunk has been produced, `produced` of them: once as many reports came, the chunk
 * is acknowledged. Thread-safe. */
void acker_sealed(struct acker *a, uint32_t chunk, size_t produced);
/* Flushes what is queued, stops the thread and frees; returns 0, or -1 with err when a Redis
 * write failed (the launch must then fail: its record would be short). Chunks still missing
 * reports stay unacknowledged: their contacts count as reserved, never as enqueued. NULL-safe
 * (returns 0). */
int acker_finish(struct acker *a, char *err, size_t errlen);

#endif
