/* job.h - the Kafka job, schema v1: decode + validate, encode.
 *
 * Launch encodes one job per contact, the consumer decodes each message it receives and DLQ
 * replay re-encodes. This module is the one place that knows the schema (docs/contract.md, "The
 * job"), so every side applies exactly the same rules:
 *
 *   v            required, the integer 1
 *   campaign     required string, 1-64 of [A-Za-z0-9._-], not "." or ".." (names.h)
 *   contact      required string, 1-256 bytes of UTF-8 without control characters
 *   text         required string, non-empty, at most max_text_chars code points
 *   voice, lang  optional strings, 1-256 bytes without control characters (they travel into
 *                HTTP requests, so a line break must never get that far)
 *   model        optional, the same rule: a logical model (`launch --model`), which each
 *                provider translates through provider.NAME.models, as it does voices
 *   format       optional, one of the output formats of convert.h: "wav" (the default: the
 *                provider's own WAV), "mp3", "ulaw_8000", "alaw_8000" (G.711 WAV, 8 kHz mono),
 *                "wav_8000", "wav_16000" (16-bit PCM WAV, mono, at that rate)
 *   meta         optional object, carried through untouched; any other type is an invalid job
 *                (a list or a number cannot be extended later without breaking readers); at
 *                most JOB_META_MAX bytes as compact JSON (job_meta_size)
 *   enqueued_at  optional string (no format check: it is informational)
 *   replay       optional integer >= 0, default 0
 *   priority     optional, "high", "normal" (the default) or "low": the lane (topic) the job
 *                travels in, kept by DLQ replay (launch --priority)
 *   expires_at   optional RFC 3339 instant with its offset (timefmt.h): a job a consumer takes
 *                after it is not rendered but parked with reason "expired" (launch --ttl)
 *   dedup        optional boolean, default true: false opts the job out of the render-once
 *                cache (launch --no-dedup)
 *   variants     optional array of 1-JOB_VARIANTS_MAX objects {"name","text"}: each contact
 *                gets one file per variant instead of one for "text" (launch --variant). name is
 *                1-32 of [a-z0-9_-], unique in the job; text follows the rules of "text". A job
 *                with variants still carries "text" (the first variant's), so v1 readers work.
 *
 * An optional field given as JSON null counts as absent. Unknown fields are ignored (a newer
 * producer may add some), a repeated key is an error (which copy would win is not obvious), and
 * the message must be valid UTF-8 with no NUL character in any string. */
#ifndef VOXCAST_JOB_H
#define VOXCAST_JOB_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define JOB_CAMPAIGN_MAX 64          /* bytes */
#define JOB_CONTACT_MAX 256          /* bytes */
#define JOB_OPTION_MAX 256           /* bytes of voice, lang and model */
/* Bytes of meta as compact JSON. meta is for a dialer's correlation fields (a phone number, an
 * order id), not payloads, yet it is copied into every DLQ entry kept in Redis and every results
 * event: 16 KiB is far more than such fields need and keeps a job with the largest text well
 * inside Kafka's default 1 MB message.max.bytes. */
#define JOB_META_MAX 16384
/* The format names a job may carry (out_format_parse), as error messages list them. */
#define JOB_FORMATS "wav, mp3, ulaw_8000, alaw_8000, wav_8000, wav_16000"

#define JOB_VARIANTS_MAX 8            /* variants per job */
#define JOB_VARIANT_NAME_MAX 32       /* bytes of a variant name */

enum job_priority { JOB_PRIORITY_NORMAL, JOB_PRIORITY_HIGH, JOB_PRIORITY_LOW };

struct job_variant {
    char *name;                      /* owned */
    char *text;                      /* owned */
};

struct job {
    int     v;                       /* 1 */
    char   *campaign;                /* required, owned */
    char   *contact;                 /* required, owned */
    char   *text;                    /* required, owned */
    char   *voice;                   /* optional, owned, NULL if absent */
    char   *lang;                    /* optional, owned, NULL if absent */
    char   *model;                   /* optional logical model, owned, NULL if absent */
    char   *format;                  /* one of JOB_FORMATS, "wav" when absent, owned */
    json_t *meta;                    /* optional object (owned reference) or NULL */
    char   *enqueued_at;             /* optional, owned, NULL if absent */
    int     replay;                  /* >= 0, default 0 */
    enum job_priority priority;      /* JOB_PRIORITY_NORMAL when absent */
    int64_t expires_at_ms;           /* epoch ms; 0 when absent */
    bool    no_dedup;                /* "dedup": false */
    struct job_variant *variants;    /* owned array of nvariants, NULL when absent */
    size_t  nvariants;
};

/* "high", "normal", "low" <-> enum job_priority: 0, or -1 for any other name. */
int job_priority_parse(const char *s, enum job_priority *out);
const char *job_priority_name(enum job_priority p);

/* True when s is a valid variant name: 1-32 of [a-z0-9_-]. */
bool job_variant_name_valid(const char *s);

/* True when s (NUL-terminated, may be NULL) is 1-64 of [A-Za-z0-9._-]. */
bool job_campaign_valid(const char *s);

/* True when s[0..len) is 1-256 bytes of valid UTF-8 without control characters (C0, DEL, C1). */
bool job_contact_valid(const char *s, size_t len);

/* The size of meta (borrowed, an object) as compact JSON, the measure JOB_META_MAX applies to;
 * 0 for NULL. */
size_t job_meta_size(const json_t *meta);

/* Parses and validates the JSON message data[0..len). max_text_chars is the limit on text in
 * code points (0: no limit). On success fills *out (overwritten, not freed first; the caller
 * frees it with job_free) and returns 0. On failure returns -1, leaves *out zeroed (nothing to
 * free) and writes to err which rule broke, e.g. `missing field "text"`, `"v" must be 1`,
 * `"campaign" must be 1-64 of [A-Za-z0-9._-]`, `"text" is 5001 characters, over the limit of
 * 5000`, `"meta" is 20000 bytes of JSON, over the limit of 16384`, `"format" must be one of wav, mp3, ulaw_8000, ...` (all of JOB_FORMATS), `not valid
 * UTF-8`, `invalid JSON at line 1 column 7: ...`. */
int job_decode(const char *data, size_t len, size_t max_text_chars, struct job *out, char *err,
               size_t errlen);

/* job_decode for a job already parsed by jansson (a DLQ entry's "job" member): the same rules
 * except UTF-8 (jansson checked it) and duplicate keys (the caller's parse flags decide). o is
 * borrowed; *out takes its own reference to meta. */
int job_decode_object(json_t *o, size_t max_text_chars, struct job *out, char *err, size_t errlen);

/* Appends j as compact JSON to out, keys in the contract's order: v, campaign, contact, text,
 * voice, lang, model, format, meta, enqueued_at, replay, then priority (unless normal),
 * expires_at (RFC 3339 UTC, unless 0), dedup (false only) and variants (when any). Writes "v":1 whatever j->v holds (this is the
 * v1 encoder) and always writes replay; NULL optionals are omitted. meta is written by jansson
 * (same members and order; a number may be respelled, 1E2 as 100.0). Does not validate: encode
 * only jobs that were decoded or checked field by field. */
void job_encode(const struct job *j, struct buf *out);

/* Frees the members of j (not j itself) and zeroes it. NULL-safe. */
void job_free(struct job *j);

#endif
