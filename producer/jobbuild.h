/* jobbuild.h - one contact row -> one job message, exactly as `voxcast launch` enqueues it.
 *
 * Launch and the fuzz target for launch-built jobs (tests/fuzz/fuzz_launch.c) share this module,
 * so what is fuzzed is what is enqueued. The row's values come through a slot callback; slots are
 * numbered the way jobbuild_slot_names() lists them: the template's placeholders first (slot i =
 * placeholder i, so the callback doubles as the template lookup), then the id column, then each
 * meta column, then each variant template's placeholders in turn. A row is checked with the reject reasons of launch (jobbuild_row), then encoded
 * (jobbuild_encode), so the caller can put its own checks (a repeated id) in between.
 *
 * Whatever jobbuild_row accepts, job_decode accepts with the same contact, text and meta values.
 * To keep that true by construction, the row's id and text are copied into the builder's own
 * buffers, complete before any pointer into them is taken, and the encoder writes only to the
 * caller's buffer: no pointer into a buffer outlives an append to it. Callers keep offsets into
 * their output buffer, never pointers, until they stop appending to it. */
#ifndef VOXCAST_JOBBUILD_H
#define VOXCAST_JOBBUILD_H

#include <stddef.h>

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "job.h"
#include "template.h"

/* One variant of every job (launch --variant NAME=TEMPLATE): its text is rendered per row. */
struct jobbuild_variant {
    const char            *name;      /* job_variant_name_valid */
    const struct template *tpl;
};

struct jobbuild_spec {                /* all borrowed: they must outlive the builder */
    const char            *campaign;  /* required, a valid campaign id (job_campaign_valid) */
    const char            *id_column; /* required */
    const struct template *tpl;       /* required */
    const char *const     *meta;      /* column names carried in the job's meta object */
    size_t                 nmeta;
    const char            *voice;     /* optional (NULL): the logical voice of every job */
    const char            *lang;      /* optional */
    const char            *model;     /* optional: the logical model of every job */
    const char            *format;    /* one of JOB_FORMATS (job.h); NULL means wav */
    const char            *enqueued_at; /* optional, informational */
    size_t                 max_text_chars; /* job.max_text_chars; 0: no limit */
    enum job_priority      priority;  /* the job's lane; normal is not written */
    int64_t                expires_at_ms; /* epoch ms; 0: none */
    bool                   no_dedup;  /* "dedup": false */
    const struct jobbuild_variant *variants; /* 0-JOB_VARIANTS_MAX (the array is copied, its
                                       * members borrowed); the job's text is then the first
                                       * variant's (tpl should be that one's template) */
    size_t                 nvariants;
};

struct jobbuild;

/* Gives the current row's value for slot `slot` and its length, or NULL when the row has none.
 * The value is only read during the call (it may contain any bytes, NUL included). */
typedef const char *(*jobbuild_slot_fn)(void *ctx, size_t slot, size_t *len);

/* A builder for spec (copied; its strings are borrowed). NULL + err when an option could never
 * make a valid job: a meta name that is empty or not UTF-8 ("--meta: ..."), a voice, lang or
 * model that is not 1-256 bytes of UTF-8 without control characters ("--voice: ..."), a format
 * that is not one of JOB_FORMATS, a variant name that is invalid or repeated, too many variants. */
struct jobbuild *jobbuild_new(const struct jobbuild_spec *spec, char *err, size_t errlen);
void jobbuild_free(struct jobbuild *jb);                        /* NULL-safe */

/* The slot names in slot order (placeholders, id column, meta columns); owned by the builder. */
const char *const *jobbuild_slot_names(const struct jobbuild *jb, size_t *n);

/* Reads and checks the current row: its id (non-empty, UTF-8, at most 256 bytes, no control
 * characters) and its text (every placeholder has a value; UTF-8 without NUL; 1 to
 * max_text_chars characters) and the size of its meta (at most JOB_META_MAX bytes of JSON). 0
 * when the row makes a job, -1 with the reject reason in reason ("empty contact id", "no value
 * for {{first_name}}", "text is 5001 characters, over the limit of 5000", "meta is 20491 bytes
 * of JSON, over the limit of 16384", ...). Each variant's text is checked like the text, its
 * reason prefixed with the variant ("variant voicemail: text is empty"). jobbuild_encode reads
 * the meta values again. */
int jobbuild_row(struct jobbuild *jb, jobbuild_slot_fn slot, void *ctx, char *reason, size_t reasonlen);

/* The current row's contact id as read by the last jobbuild_row (its bytes even when the row was
 * rejected for its id; "" when it had none). Owned by the builder, NUL-terminated, valid until
 * the next jobbuild_row. */
const char *jobbuild_id(const struct jobbuild *jb, size_t *len);

/* The spoken requests of the row jobbuild_row just accepted: the variants' texts when there are
 * variants, else the text (n is 1). Request i's text and its length in bytes; owned by the
 * builder, valid until the next jobbuild_row. For counting what a campaign will be billed. */
size_t jobbuild_nrequests(const struct jobbuild *jb);
const char *jobbuild_request(const struct jobbuild *jb, size_t i, size_t *len);

/* Appends the job of the row jobbuild_row just accepted to out as compact JSON (common/job.h's
 * encoder), reading the meta values through slot now. A meta value that is absent, not UTF-8 or
 * holds a NUL is left out of meta (it could not travel in the job); meta is written only when
 * meta columns were asked for. out must not be one of the builder's buffers. */
void jobbuild_encode(struct jobbuild *jb, jobbuild_slot_fn slot, void *ctx, struct buf *out);

#endif
