/* acker.h - records Kafka acknowledgements in Redis on a thread of its own.
 *
 * Launch throughput is bounded by Redis: every contact costs a reserve before its produce and an
 * ack after its delivery report. The reserve must finish before the produce, but acks need not
 * hold up the reader: delivery reports are queued here and written by a second thread over its
 * own Redis connection (hiredis contexts are not shared between threads), so the acks of one
 * chunk overlap the reading, rendering and reserving of the next. */
#ifndef VOXCAST_ACKER_H
#define VOXCAST_ACKER_H

#include <stdbool.h>
#include <stddef.h>

struct acker;

/* Connects its own store and starts the thread; NULL + err. */
struct acker *acker_start(const char *redis_url, int timeout_ms, const char *campaign, char *err, size_t errlen);
/* Queues "Kafka acknowledged contact" (ok) or "delivery failed: unreserve it". Thread-safe. */
void acker_add(struct acker *a, const void *contact, size_t len, bool ok);
/* Flushes what is queued, stops the thread and frees; returns 0, or -1 with err when a Redis
 * write failed (the launch must then fail: its record would be short). NULL-safe (returns 0). */
int acker_finish(struct acker *a, char *err, size_t errlen);

#endif
