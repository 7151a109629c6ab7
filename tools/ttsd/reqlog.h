/* reqlog.h - voxcast-ttsd's request log: the last N speech requests, for tests to read.
 *
 * A test of a client checks what it sent as much as what it did with the answer: the JSON fields
 * (OpenAI `model`, `input`, `voice`, `response_format`; ElevenLabs `text`, `model_id`), the query
 * (`output_format`), and whether the API key header carried the right key. The server records
 * every speech request as one JSON object (built by the caller, see server.c) and GET
 * /admin/requests returns them oldest first. Memory is bounded: a ring of the last `cap` entries;
 * older ones are dropped and counted. Thread-safe (one mutex): connection threads add while the
 * admin route reads. */
#ifndef VOXCAST_TTSD_REQLOG_H
#define VOXCAST_TTSD_REQLOG_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct reqlog {
    pthread_mutex_t lock;
    char          **ring;      /* cap slots, each a JSON object text or NULL */
    size_t          cap;
    size_t          next;      /* slot the next entry goes to */
    size_t          count;     /* entries held, <= cap */
    uint64_t        total;     /* entries ever added since start or reset */
};

/* Sets up an empty log keeping cap (>= 1) entries. */
void reqlog_init(struct reqlog *l, size_t cap);

/* Frees every entry and the ring; NULL-safe, and safe on a log whose init failed. */
void reqlog_free(struct reqlog *l);

/* Takes ownership of entry (a malloc'd JSON object text) and appends it, dropping the oldest
 * entry when full. */
void reqlog_add(struct reqlog *l, char *entry);

/* Appends {"total":N,"kept":N,"dropped":N,"requests":[...oldest first...]}. */
void reqlog_to_json(struct reqlog *l, struct buf *out);

/* Forgets every entry; total restarts from 0. */
void reqlog_reset(struct reqlog *l);

#endif
