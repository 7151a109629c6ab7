/* faults.h - voxcast-ttsd's fault settings and the per-request draw.
 *
 * The server injects the failures a real TTS provider produces (errors with or without
 * Retry-After, latency, requests that never answer, connection resets, HTML bodies with status
 * 200, WAVs cut short) so that retries, breakers and failover can be drilled and tested. A
 * struct faults is plain data: the server keeps one under its lock, copies it per request and
 * replaces it whole when /admin/faults changes it. The same field names serve the command line
 * (--fail-rate), -X/-c (fail_rate=...) and the admin JSON ({"fail_rate":...}), through one table
 * in faults.c, so the three can never disagree on a name or a range.
 *
 * Nothing here locks or does I/O: faults_decide() takes the caller's RNG state. */
#ifndef VOXCAST_TTSD_FAULTS_H
#define VOXCAST_TTSD_FAULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define FAULTS_MAX_TEXT_RULES 16
#define FAULTS_TEXT_MAX       64    /* bytes of one fail_text substring */
#define FAULTS_UNSET          (-1)  /* retry_after: send no Retry-After header */
#define FAULTS_NAME_MAX       48    /* bytes of a word setting (mimic, fail_code, tier), with NUL */
#define FAULTS_LIST_MAX       1024  /* bytes of a list setting (voices, models), with NUL */
#define FAULTS_MAX_COUNT      1000000   /* max_concurrent's ceiling */
#define FAULTS_MAX_RATE       1000000.0 /* rate's ceiling, requests per second */

struct fault_text_rule {
    char substr[FAULTS_TEXT_MAX + 1];   /* a request whose text contains this ... */
    int  status;                        /* ... is answered with this status (0 with a code) */
    char code[FAULTS_NAME_MAX];         /* ... or with this mimic error ("" with a status) */
};

struct faults {
    double fail_rate;       /* chance of answering fail_status */
    int    fail_status;     /* 100-599, 503 by default */
    int    latency_ms;      /* added before every speech answer, 0-600000 */
    int    retry_after;     /* seconds for Retry-After on injected failures, or FAULTS_UNSET */
    double hang_rate;       /* chance of never answering */
    double reset_rate;      /* chance of closing the connection without an answer */
    double garbage_rate;    /* chance of a 200 with an HTML body */
    double truncate_rate;   /* chance of a 200 whose audio is cut short */
    bool   tone;            /* answer a generated tone instead of synthesising */
    /* Provider mimics (mimic.h); all inert while mimic is "none". */
    char   mimic[FAULTS_NAME_MAX];            /* none, openai, kokoro or elevenlabs */
    char   fail_code[FAULTS_NAME_MAX];        /* mimic error that fail_rate answers; "" = by fail_status */
    char   tier[FAULTS_NAME_MAX];             /* ElevenLabs plan: free, starter, creator, pro (default) */
    char   voices[FAULTS_LIST_MAX];           /* known voice ids, comma-separated; "" = the mimic's own */
    char   models[FAULTS_LIST_MAX];           /* known models, same rule */
    char   library_voices[FAULTS_LIST_MAX];   /* ElevenLabs voices the free tier may not use; same rule */
    char   ratelimit_reset[FAULTS_NAME_MAX];  /* OpenAI x-ratelimit-reset-requests on 429s ("1s") */
    int    retry_after_ms;                    /* OpenAI retry-after-ms on 429s, or FAULTS_UNSET */
    /* The account (plan.h): limits every speech request with the right key is admitted under. */
    int    max_concurrent;  /* requests in flight at once; 0 = the mimic's plan limit, or none */
    double rate;            /* requests per second, token bucket; 0 = unlimited */
    size_t ntext;           /* rules in use */
    struct fault_text_rule text[FAULTS_MAX_TEXT_RULES];   /* checked in order, first match wins */
};

enum fault_action {
    FAULT_NONE,       /* answer normally */
    FAULT_FAIL,       /* answer decision.status with an error body */
    FAULT_HANG,       /* hold the request without answering */
    FAULT_RESET,      /* drop the connection without an answer */
    FAULT_GARBAGE,    /* 200 with text/html */
    FAULT_TRUNCATE,   /* 200 with audio whose header promises more than is sent */
};

struct fault_decision {
    enum fault_action action;
    int               status;   /* for FAULT_FAIL */
    const char       *cause;    /* static text for the error body: which setting fired */
    const char       *code;     /* FAULT_FAIL: the mimic error to answer (points into the struct
                                 * faults decided from), or NULL to answer by status */
};

/* No faults: every rate 0, fail_status 503, no latency, no Retry-After, no rules, no tone, no
 * account limits;
 * mimic "none", tier "pro", ratelimit_reset "1s", lists empty (the mimic's defaults). */
void faults_init(struct faults *f);

/* Sets the field `name` (underscores or dashes: "fail_rate", "fail-rate") from text, as given on
 * the command line or in `name=value`. fail_text takes "SUBSTR=STATUS" or "SUBSTR=CODE" (a mimic
 * error name) and appends a rule; tone takes true/false/yes/no/on/off/1/0; mimic and tier take one
 * of their names; voices, models and library_voices take "ID,ID,..." (blanks dropped; "none" for an
 * empty list). Names are not checked against a mimic here: see mimic_check(). Returns 0, or -1 with err saying what was expected
 * ("expected a number from 0 to 1"; the caller names the flag or line) and f unchanged. An
 * unknown name is -1 with *known = false when known is not NULL. */
int faults_set(struct faults *f, const char *name, const char *value, bool *known, char *err, size_t errlen);

/* Applies an /admin/faults JSON object to f: fields absent keep their value, "clear": true resets
 * to faults_init() before the other fields apply, "fail_text": {"SUBSTR": STATUS, ...} replaces
 * every rule (a value is a status or a mimic error name), "retry_after": null unsets it, list
 * settings take "A,B" or ["A","B"]. All or nothing: on -1 (bad JSON, unknown field,
 * wrong type, out of range) err names the field and the reason, and f is unchanged. */
int faults_apply_json(struct faults *f, const char *json, size_t len, char *err, size_t errlen);

/* Appends f as the JSON object /admin/faults answers (same field names). */
void faults_to_json(const struct faults *f, struct buf *out);

/* Decides this request's fault. `text` (may be NULL) is matched against the fail_text rules
 * first, deterministically; then reset, hang, fail, garbage and truncate each get their own draw
 * from *rng, in that order, and the first that fires wins (so a rate is the chance that fault
 * fires when no earlier one did). */
void faults_decide(const struct faults *f, const char *text, uint64_t *rng, struct fault_decision *d);

#endif
