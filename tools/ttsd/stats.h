/* stats.h - voxcast-ttsd's request counters, for /admin/stats.
 *
 * Tests read these to check a client's behaviour from the server's side: how many requests it
 * sent, how they were answered, and above all how many it had in flight at once. Every counter is
 * a C11 atomic, so the connection threads update them without a lock and peak_in_flight is exact.
 * Only speech requests (the two synthesis routes) are counted; admin and health calls are not. */
#ifndef VOXCAST_TTSD_STATS_H
#define VOXCAST_TTSD_STATS_H

#include <stdatomic.h>
#include <stdint.h>

#include "buf.h"

#define STATS_MAX_STATUS 600

struct stats {
    _Atomic int64_t requests;         /* speech requests received */
    _Atomic int64_t in_flight;        /* between stats_begin and stats_end */
    _Atomic int64_t peak_in_flight;   /* highest in_flight since start or reset */
    _Atomic int64_t resets;           /* connections dropped on purpose */
    _Atomic int64_t hangs;            /* requests held without an answer */
    _Atomic int64_t by_status[STATS_MAX_STATUS];   /* answers by HTTP status */
};

/* Zero everything (also the initialiser: a static or calloc'd struct stats is ready too). */
void stats_init(struct stats *s);

/* A speech request starts: requests + 1, in_flight + 1, and the peak raised to match. Called
 * after the whole request has arrived and before any waiting; stats_end runs before the answer
 * is sent. So the server never counts more in flight than the client has outstanding -- with one
 * exception: a hung request counts until the server notices its client hung up (microseconds,
 * but a client that reuses the slot at once can race it). */
void stats_begin(struct stats *s);

/* A speech request ends: in_flight - 1, and by_status[status] + 1 when status is 100-599 (pass 0
 * for a request that got no answer: a reset or a hang). */
void stats_end(struct stats *s, int status);

void stats_count_reset(struct stats *s);
void stats_count_hang(struct stats *s);

/* Zeroes the counters; in_flight is live state and stays, and the peak restarts from it. */
void stats_reset(struct stats *s);

/* Appends {"requests":N,"in_flight":N,"peak_in_flight":N,"by_status":{"200":N,...},"resets":N,
 * "hangs":N}; by_status lists only the statuses seen. */
void stats_to_json(struct stats *s, struct buf *out);

#endif
