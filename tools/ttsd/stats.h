/* stats.h - voxcast-ttsd's request counters, for /admin/stats.
 *
 * Tests read these to check a client's behaviour from the server's side: how many requests it
 * sent, how they were answered, how many it had in flight at once, how often the account
 * (plan.h) refused it, and how its requests spread over time. Counters are C11 atomics, so the
 * connection threads update them without a lock and peak_in_flight is exact; only the
 * per-second histogram takes a mutex. Only speech requests (the two synthesis routes) are
 * counted; admin and health calls are not.
 *
 * A request is in flight from when the whole of it has arrived until the last byte of its answer
 * is handed to the network (or its connection closes without one). Refused requests (401, 429
 * ...) count too: peak_in_flight measures what the client attempted, so "peak_in_flight <= N"
 * proves a client kept to a limit of N, which the server's own refusals could not. Because the
 * count ends as the last byte leaves (before the client can have read it), the server never
 * counts more in flight than the client has outstanding -- with one exception: a hung request
 * counts until the server notices its client hung up (microseconds, but a client that reuses the
 * slot at once can race it). */
#ifndef VOXCAST_TTSD_STATS_H
#define VOXCAST_TTSD_STATS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

#define STATS_MAX_STATUS 600
#define STATS_SECONDS    600   /* seconds of per-second history kept */

struct stats {
    _Atomic int64_t requests;                /* speech requests received */
    _Atomic int64_t in_flight;               /* between stats_begin and stats_end */
    _Atomic int64_t peak_in_flight;          /* highest in_flight since start or reset */
    _Atomic int64_t resets;                  /* connections dropped on purpose */
    _Atomic int64_t hangs;                   /* requests held without an answer */
    _Atomic int64_t throttled_concurrency;   /* 429s for the account's concurrency limit */
    _Atomic int64_t throttled_rate;          /* 429s for the account's rate */
    _Atomic int64_t refused_connections;     /* connections closed at accept: --max-connections */
    _Atomic int64_t first_ms;                /* wall clock of the first request since reset, 0 */
    _Atomic int64_t last_ms;                 /* wall clock of the latest request, 0 */
    _Atomic int64_t by_status[STATS_MAX_STATUS];   /* answers by HTTP status */
    pthread_mutex_t hist_lock;               /* guards the two arrays below */
    int64_t         hist_sec[STATS_SECONDS];     /* ring by second % STATS_SECONDS: which second */
    int64_t         hist_n[STATS_SECONDS];       /* and its requests */
};

/* The account's settings and state at the time of a stats read, shown beside the counters. */
struct stats_account {
    long   max_concurrent;   /* in effect; 0: none */
    double rate;             /* requests/s; 0: unlimited */
    long   in_use;           /* admitted requests in flight */
};

/* Zero everything and set up the lock. stats_free undoes it. */
void stats_init(struct stats *s);
void stats_free(struct stats *s);

/* A speech request starts at wall clock now_ms: requests + 1, in_flight + 1, the peak raised to
 * match, first/last request time, and its second in the histogram. */
void stats_begin(struct stats *s, int64_t now_ms);

/* A speech request ends (its answer's last byte is sent, or its connection closed): in_flight - 1. */
void stats_end(struct stats *s);

/* The answer's status, when there is one (100-599; others are ignored). */
void stats_count_status(struct stats *s, int status);

void stats_count_reset(struct stats *s);
void stats_count_hang(struct stats *s);
void stats_count_throttled(struct stats *s, bool concurrency);
void stats_count_refused_connection(struct stats *s);

/* Zeroes the counters and the history; in_flight is live state and stays, and the peak restarts
 * from it. */
void stats_reset(struct stats *s);

/* Appends {"requests":N,"in_flight":N,"peak_in_flight":N,"by_status":{"200":N,...},"resets":N,
 * "hangs":N,"throttled_concurrency":N,"throttled_rate":N,"refused_connections":N,
 * "first_request_ms":MS,"last_request_ms":MS,"max_per_second":N,"per_second":[[SEC,N],...],
 * "account":{"max_concurrent":N,"rate":R,"in_flight":N}}: by_status lists only the statuses seen;
 * per_second the seconds (Unix time) of the last STATS_SECONDS before now_ms that had requests,
 * oldest first, and max_per_second the largest of them; times are 0 before any request. */
void stats_to_json(struct stats *s, const struct stats_account *acct, int64_t now_ms, struct buf *out);

#endif
