/* provider.h - TTS providers: one interface over HTTP services and in-process espeak-ng.
 *
 * A provider is configured by provider.NAME.* keys and is one of three types:
 *   openai      POST {"model","input","voice","response_format"} with Authorization: Bearer
 *   elevenlabs  POST {url with {voice_id}}?output_format= {"text","model_id"} with xi-api-key
 *   espeak      libespeak-ng in process, on a worker thread (its own WAV)
 * The job's voice and model are logical names, translated per provider (provider.NAME.voices /
 * .models, voicemap.h); raw PCM and µ-law answers are wrapped and streamed WAVs sealed, so the
 * audio of a result is always a whole WAV or MP3 file, which the writer converts into the job's
 * format (writer.h). Variation lives in a small ops table per type
 * (build the request, refine the classification from the error body), not in switches. HTTP attempts run concurrently in the caller's thread through one curl multi
 * handle (keep-alive, connection reuse); espeak attempts run on a worker thread that wakes the
 * loop through an eventfd. Either way an attempt ends in exactly one call of the done callback,
 * from providers_drive(), on the loop thread.
 *
 * Policy (breakers, caps, rate, retries) is the engine's; the fields for it live here so that
 * each provider carries its own state. */
#ifndef VOXCAST_PROVIDER_H
#define VOXCAST_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "account.h"
#include "breaker.h"
#include "buf.h"
#include "classify.h"
#include "config.h"
#include "job.h"
#include "ratelimit.h"

enum provider_type {
    PROVIDER_OPENAI,
    PROVIDER_ELEVENLABS,
    PROVIDER_ESPEAK,
    PROVIDER_NTYPES   /* the number of types, not a type */
};

struct provider_ops;
struct providers;

struct provider {
    char                       name[64];
    enum provider_type         type;
    const struct provider_ops *ops;
    struct providers          *owner;
    char                      *url;             /* HTTP types */
    char                      *api_key;         /* from $api_key_env; never logged */
    char                      *model, *voice;   /* for logical names without a map entry */
    char                      *models, *voices; /* LOGICAL=PROVIDER maps (voicemap.h); NULL: none */
    char                      *output_format;   /* provider's format name for WAV jobs; NULL: type's */
    long                       timeout_ms, connect_timeout_ms;
    int                        timeout_per_char_ms; /* added to timeout_ms per character */
    int64_t                    max_text_chars;  /* configured; 0: the type's per-model limit */
    /* engine policy state */
    int                        concurrency_cap; /* 0: none beyond the consumer's */
    int                        in_flight;
    struct ratelimit           rate;
    struct breaker             breaker;
    int64_t                    not_before_ms;   /* 429 pacing: start nothing before this */
    struct account             account;         /* the fleet's share of the provider account */
    char                       last_error[256]; /* the last provider-level cause; "" none yet */
    uint64_t                   causes_logged[8]; /* hashes of causes already logged (a ring) */
    unsigned                   ncauses_logged;
};

/* What one attempt came to. `audio` is owned by the result: the done callback may take it
 * (swap it out) or leave it to be freed after the callback returns. */
struct attempt_result {
    enum outcome_class cls;
    enum transport_result transport;    /* TRANSPORT_OK when an answer (or local audio) came */
    long               http_status;     /* 0 when no HTTP answer */
    int64_t            retry_after_ms;  /* -1 when the answer gave none */
    double             latency_s;
    char               error[256];      /* short, secret-free description; "" on success */
    char               cause[256];      /* PROVIDER/SKIP: what the answer names, secret-free
                                           ("voice 'alloy' not found ..."); "" otherwise */
    struct buf         audio;           /* validated audio on CLASS_OK */
    bool               concurrency_limited; /* a 429 naming concurrency (too_many_concurrent_requests) */
    int                max_concurrent;  /* maximum-concurrent-requests header; 0 when absent */
};

typedef void (*attempt_done_fn)(void *ctx, void *task, struct provider *pv, struct attempt_result *r);

/* Builds the chain from `providers` (failover order) and provider.NAME.* keys; a name without
 * provider.NAME.type is an error unless it is "espeak". breaker.* and retry settings come from
 * the config too. API keys are read from the environment and registered with the logger for
 * redaction. NULL + err naming the key at fault. */
struct providers *providers_new(const struct config *cfg, char *err, size_t errlen);
void providers_free(struct providers *ps);           /* cancels transfers, joins the worker; NULL-safe */

size_t providers_count(const struct providers *ps);
struct provider *providers_at(struct providers *ps, size_t i);

/* False when this provider cannot render the job at all (text longer than its limit): the
 * engine skips it without counting a failure. Any provider serves any format: what it answers
 * is converted into the job's format by the writer (writer.h). */
bool provider_accepts(const struct provider *pv, const struct job *job);

/* The text limit in characters for job on this provider: provider.NAME.max_text_chars when set,
 * else the type's limit for the model the job resolves to (see provider_ops.h); 0: none. */
int64_t provider_text_limit(const struct provider *pv, const struct job *job);

/* Starts one attempt for `task` (opaque to providers). Returns 0, or -1 when it could not even
 * start (err set; the engine treats it as a retryable failure). Does not touch policy state. */
int provider_start(struct provider *pv, const struct job *job, void *task, char *err, size_t errlen);

/* Advances transfers and calls done(ctx, task, pv, result) for each finished attempt. */
void providers_drive(struct providers *ps, attempt_done_fn done, void *ctx);

/* Waits up to timeout_ms for transfer activity, a finished espeak attempt or `extra_fd`
 * (-1: none) becoming readable. Returns early on any of them (curl may also shorten the wait
 * for its own timers): the number of ready descriptors, 0 on timeout, -1 on a curl error. */
int providers_wait(struct providers *ps, int extra_fd, int timeout_ms);

/* The time one attempt of a text of `chars` characters may take, connection included:
 * timeout_ms plus timeout_per_char_ms per character, because a provider renders a long text
 * for longer before (or while) it answers. A fixed limit timed out long texts and paid for them
 * again on every retry. */
long provider_timeout_ms(const struct provider *pv, size_t chars);

/* The largest answer accepted for a text of `chars` characters: HTTP_MAX_BODY, raised with the
 * text so a long text's audio is never cut off by the cap. */
size_t provider_max_body(size_t chars);

/* Attempts started and not yet delivered to the done callback. */
size_t providers_active(const struct providers *ps);

const char *provider_type_name(enum provider_type t);

#endif
