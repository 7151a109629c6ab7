/* task.h - one Kafka message on its way through the consumer, and what it came to.
 *
 * A task owns its decoded job (or the raw bytes of an invalid one), remembers where it is in the
 * provider chain and how each attempt went (the DLQ entry's history), and ends with exactly one
 * outcome: done (audio), dlq (reason), duplicate, cancelled or set aside. Tasks form intrusive lists: the engine's
 * ready queue and finish list. */
#ifndef VOXCAST_TASK_H
#define VOXCAST_TASK_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "job.h"

enum task_state { TASK_CHECK, TASK_READY, TASK_WAITING, TASK_RUNNING, TASK_FINISHING };
/* OUTCOME_CANCELLED: its campaign was cancelled, the contact becomes cancelled (store_batch_cancel);
 * OUTCOME_ASIDE: its campaign is paused, the job is set aside until resume (store_batch_aside). */
enum task_outcome { OUTCOME_NONE, OUTCOME_DONE, OUTCOME_DLQ, OUTCOME_DUPLICATE, OUTCOME_CANCELLED,
                    OUTCOME_ASIDE };

struct control_entry;

#define TASK_MAX_HISTORY 16

struct task {
    struct task      *next;           /* ready queue / finish list link */
    enum task_state   state;
    bool              revoked;        /* its partition left us: drop instead of starting */
    uint32_t          gen;            /* partition generation when it arrived (see engine.c) */
    int32_t           partition;
    int64_t           offset;
    bool              valid;          /* job decoded and passed every rule */
    struct job        job;
    char             *raw;            /* invalid message: payload, truncated, as text */
    char              key[257];       /* message key (contact for valid jobs) */
    size_t            pidx;           /* provider chain position */
    int               tries;          /* attempts on the current provider */
    int               attempts;       /* attempts on all providers */
    int               throttles;      /* 429 answers in a row on provider throttle_pidx */
    size_t            throttle_pidx;
    int64_t           throttled_since_ms; /* first of those 429s (0: none) */
    uint64_t          skipped_open;   /* providers passed over because their breaker was open */
    uint64_t          refused;        /* providers that refused provider-level (voice, plan...) */
    uint64_t          too_long;       /* providers that answered "too long for this provider" */
    struct buf        history;        /* JSON objects, comma separated */
    int               nhistory;
    /* outcome */
    enum task_outcome outcome;
    const char       *reason;         /* "retry_exhausted" "non_retryable" "invalid_job" */
    char              provider[64];   /* rendering provider, or the last one tried */
    long              http_status;    /* last HTTP status, 0 none */
    char              error[256];
    struct buf        audio;
    /* what was delivered, set by the writer once the audio is in place (results stream) */
    char             *uri;            /* file:///... or s3://..., owned, NULL before */
    int64_t           duration_ms;    /* computed from the delivered audio */
    uint64_t          bytes;          /* size of the delivered object */
    char              sha256[65];     /* hex of the delivered bytes, "" before */
    struct buf        event;          /* its results event as the outcome batch stored it; the
                                         same bytes are published (results.h), built once */
    bool              file_written;
    bool              indexed;        /* counted in the engine's in-flight contact index */
    bool              recheck;        /* waiting for a twin delivery to finish, then re-checked */
    /* campaign lifecycle (control.h, lanes.h) */
    uint8_t           lane;           /* the priority lane (topic) its message came in */
    struct control_entry *ctl;        /* its campaign's control, held while in hand; NULL none */
    /* render once (cache.h) */
    struct cache_slot *cache;         /* the key this task renders for the fleet, NULL none */
    char             *copy_from;      /* a copy: the cached audio's uri, owned (writer.h) */
    bool              copy_gone;      /* the writer found copy_from gone: to be rendered */
    /* one job in several requests: a long text's parts, a job's variants (parts.h) */
    struct task      *parent;         /* a child: the task it renders a part or variant of */
    struct task     **children;       /* a parent: its children in join / file order */
    size_t            nchildren;
    size_t            pending;        /* a parent: children not back yet */
    size_t            child_index;    /* a child: its place among its parent's children */
    char              variant[JOB_VARIANT_NAME_MAX + 1]; /* a variant child: its name, else "" */
    bool              orphan;         /* a child its parent gave up on: dropped, never started */
    bool              back;           /* a child handed to its parent (parts_child_back) */
    char              failed_variant[JOB_VARIANT_NAME_MAX + 1]; /* DLQ: the variant that failed */
    int               failed_part, failed_parts; /* DLQ: part N of M that failed; 0: none */
};

/* Decodes a message into a new task; an invalid job still yields a task (valid = false) whose
 * outcome is set to the DLQ with reason invalid_job and the decoder's message. */
struct task *task_from_message(const void *payload, size_t len, const void *key, size_t key_len,
                               int32_t partition, int64_t offset, size_t max_text_chars);
void task_free(struct task *t);   /* NULL-safe; frees the children it holds (parts.h) too */

/* Appends one attempt to the history kept for the DLQ entry. */
void task_note_attempt(struct task *t, const char *provider, long http_status, const char *cls,
                       const char *error, double latency_s);
void task_set_dlq(struct task *t, const char *reason, const char *error);

/* The campaign the outcome is filed under ("_invalid" when the message named none usable). */
const char *task_campaign(const struct task *t);
/* The contact id (job contact, else message key, else "partition:offset"). */
const char *task_contact(const struct task *t);

#define TASK_STORE_CONTACT_MAX (sizeof ((struct task *)0)->key + 48) /* key + "@p<n>:o<n>" */
/* The contact the outcome is stored under: the job's contact for a valid job. An invalid message
 * has no contact of its own, and its key is only what the producer chose, so two different bad
 * messages may share it: it is stored under "<key>@p<partition>:o<offset>" ("p<partition>:o<offset>"
 * without a key), so each gets its own DLQ entry while a redelivery of the same message stays a
 * duplicate. Returns the job's contact or buf (of TASK_STORE_CONTACT_MAX bytes). */
const char *task_store_contact(const struct task *t, char *buf, size_t len);

/* The DLQ entry JSON of the contract (without "id", which the store assigns); secrets are
 * redacted from error texts. "job" comes first, so a replay can parse just the job (see
 * dlq_replay_job); listings print the contract's order. Caller frees. */
char *task_dlq_entry(const struct task *t, int64_t failed_at_ms);

#endif
