/* dlq.h - private to `voxcast dlq`: the subcommands and what they share.
 *
 * dlq.c dispatches `voxcast dlq SUB ...` to one function per subcommand and holds the helpers
 * every subcommand needs (opening the store, parsing counts, an entry with its id). The
 * subcommands live in their own files: dlq_list.c (list, show), dlq_replay.c (replay: options,
 * the window, campaigns, dry run, report) on top of dlq_replayer.c (the claim -> Kafka -> ack
 * engine for one campaign). Each subcommand gets argv with argv[0] = its own name and returns an
 * exit status (EXIT_OK, EXIT_RUNTIME, EXIT_USAGE from cmd.h). */
#ifndef VOXCAST_DLQ_H
#define VOXCAST_DLQ_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "config.h"
#include "job.h"
#include "store.h"

/* Campaign under which consumers file messages that were not valid jobs: never replayable. */
#define DLQ_INVALID_CAMPAIGN "_invalid"

/* ---------------------------------------------------------------- subcommands */

int dlq_list(int argc, char **argv, const struct config *cfg);
int dlq_show(int argc, char **argv, const struct config *cfg);
int dlq_purge(int argc, char **argv, const struct config *cfg);
int dlq_replay(int argc, char **argv, const struct config *cfg);

/* Their --help texts (dlq.c prints all of them for `voxcast dlq --help`). */
void dlq_list_usage(FILE *out);
void dlq_show_usage(FILE *out);
void dlq_purge_usage(FILE *out);
void dlq_replay_usage(FILE *out);

/* ---------------------------------------------------------------- shared helpers (dlq.c) */

/* Connects to redis.url; NULL after printing the error. */
struct store *dlq_open_store(const struct config *cfg);

/* Parses a whole number >= 0 for option `opt` of subcommand `sub` into *out; prints
 * "voxcast: dlq SUB: --OPT must be a whole number, not "X"" and returns -1 otherwise. */
int dlq_parse_count(const char *sub, const char *opt, const char *arg, int64_t *out);

/* Checks a --campaign value; prints the error and returns -1 when it is not a campaign id. */
int dlq_check_campaign(const char *sub, const char *campaign);

/* The entry as a new JSON object with "id" first, then the contract's members in the contract's
 * order, then any others. An entry that
 * is not a JSON object (it should never happen) comes back as {"id":ID,"unparsed":TEXT}, so a
 * listing never stops on one bad entry. The caller owns the reference. */
json_t *dlq_entry_with_id(const char *id, const char *entry_json);

/* ---------------------------------------------------------------- replay job (dlq_replayer.c) */

/* Turns a DLQ entry into the job to produce again: decodes the entry's "job" with the job
 * module's rules (max_text_chars: 0 for no limit), checks it belongs to campaign, adds one to
 * "replay", drops "expires_at" (replaying is the operator's decision to render the job now: an
 * entry parked as expired would otherwise only expire again) and appends the v1 encoding to out. Fills *j (free with job_free; j->contact is the
 * Kafka key). Returns 0, or -1 with the reason in err ("no job: the message was not a valid job",
 * job_decode's message, ...) and nothing to free. */
int dlq_replay_job(const char *entry_json, const char *campaign, size_t max_text_chars,
                   struct job *j, struct buf *out, char *err, size_t errlen);

/* ---------------------------------------------------------------- replay engine (dlq_replayer.c) */

/* Why a replay stopped before its campaigns were exhausted. */
enum dlq_stop {
    DLQ_STOP_NONE,      /* still going, or exhausted */
    DLQ_STOP_LIMIT,     /* --limit reached */
    DLQ_STOP_WINDOW,    /* the --window closed */
    DLQ_STOP_SIGNAL,    /* SIGINT or SIGTERM */
    DLQ_STOP_ERROR      /* Redis or Kafka failed, or the lock was lost (already printed) */
};

/* Asked before every claim: whether to go on. Returns DLQ_STOP_NONE to continue. */
typedef enum dlq_stop (*dlq_should_stop_fn)(void *ctx);
/* Called when the count of replayed entries moved (for a progress line); force: draw now. */
typedef void (*dlq_progress_fn)(void *ctx, const char *campaign, int64_t replayed, int64_t total,
                                bool force);

/* What a replayer re-enqueues: a campaign's DLQ entries (`dlq replay`: each job's replay count
 * + 1, under STORE_LOCK_REPLAY), or the jobs consumers set aside while the campaign was paused
 * (`campaign resume|cancel`: each job as it was, under STORE_LOCK_RESUME, store_aside_*). */
enum dlq_source { DLQ_SOURCE_DLQ, DLQ_SOURCE_ASIDE };

struct dlq_replayer_opts {
    const struct config *cfg;
    enum dlq_source      source;         /* DLQ_SOURCE_DLQ unless set */
    struct store        *store;          /* borrowed */
    double               rate;           /* jobs per second; 0: no cap */
    size_t               max_text_chars; /* job rule applied before producing; 0: none */
    dlq_should_stop_fn   should_stop;
    dlq_progress_fn      progress;
    void                *ctx;            /* for should_stop and progress */
};

/* What one campaign's replay did. */
struct dlq_replay_result {
    int64_t replayed;     /* acknowledged by Kafka and removed from the DLQ */
    int64_t skipped;      /* claimed but not replayable (no or invalid job): put back */
    int64_t failed;       /* not acknowledged by Kafka: put back */
    int64_t recovered;    /* claims of a crashed earlier replay put back at the start */
    char    delivery_error[256]; /* the first delivery failure, "" if none */
};

struct dlq_replayer;

/* A replayer with its own idempotent Kafka producer (kafka_conf_new) on kafka.topic, checked to
 * answer within 10 s, and a token bucket of opts->rate. Every job goes to its priority's lane
 * (lanes.h), whose topic is checked when the first job of that priority comes. opts is copied; its borrowed pointers
 * must outlive the replayer. Returns NULL with err naming Kafka or the topic at fault. Free with
 * dlq_replayer_free. */
struct dlq_replayer *dlq_replayer_new(const struct dlq_replayer_opts *opts, char *err, size_t errlen);
void dlq_replayer_free(struct dlq_replayer *r);   /* NULL-safe */

/* Replays the campaign's entries that exist now, at most `limit` (0: all), oldest first:
 * lock (0 taken, or 1 held by another replay: nothing done), put back a crashed replay's claims,
 * then claim -> produce -> acknowledged -> forget, until done, limit, or should_stop says stop.
 * For DLQ_SOURCE_ASIDE the same with the set-aside jobs (all of them, until a claim finds none;
 * skipped stays 0: every job is produced).
 * Before returning, waits for the deliveries in flight (bounded by message.timeout.ms), forgets
 * the acknowledged entries, puts every other claimed entry back, and unlocks.
 * Returns 0 done (see *res and *stop), 1 locked by another replay, -1 error (printed). */
int dlq_replayer_run(struct dlq_replayer *r, const char *campaign, int64_t limit,
                     struct dlq_replay_result *res, enum dlq_stop *stop);

#endif
