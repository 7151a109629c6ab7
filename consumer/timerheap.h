/* timerheap.h - the event loop's timers: a binary min-heap keyed by due time.
 *
 * Retries waiting out a backoff, Retry-After pauses, request deadlines and breaker probes all
 * become "wake me at T" entries here; the loop sleeps until timerheap_next_due() and pops what
 * is due. Equal due times pop in insertion order (each push gets a sequence number), so timers
 * set in one tick fire in the order they were set. There is no cancel: a timer's data should
 * carry its own "still wanted?" check (a generation number), which costs less than a heap
 * index in every job. Allocation failure aborts, as buf.h does. */
#ifndef VOXCAST_TIMERHEAP_H
#define VOXCAST_TIMERHEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct timerheap;

/* An empty heap, owned by the caller (timerheap_free). Never NULL. */
struct timerheap *timerheap_new(void);

/* Frees the heap, not the data pointers it still holds. NULL-safe. */
void timerheap_free(struct timerheap *h);

/* Adds a timer due at `due_ms` carrying `data` (borrowed; must not be NULL, since NULL is
 * timerheap_pop_due()'s "nothing due"). O(log n). */
void timerheap_push(struct timerheap *h, int64_t due_ms, void *data);

/* The earliest due time into *due_ms (when due_ms is not NULL); false when the heap is empty. */
bool timerheap_next_due(const struct timerheap *h, int64_t *due_ms);

/* Removes and returns the data of the earliest timer if it is due at or before `now_ms`, else
 * NULL (nothing due, or empty). Call in a loop to drain everything due. O(log n). */
void *timerheap_pop_due(struct timerheap *h, int64_t now_ms);

/* How many timers are pending. */
size_t timerheap_len(const struct timerheap *h);

#endif
