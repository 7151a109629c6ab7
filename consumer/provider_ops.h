/* provider_ops.h - what differs between provider types, private to the provider_*.c files.
 *
 * provider.h is the engine's view: a chain of providers that start attempts and report results.
 * Behind it each type is one `struct provider_ops` (hiredis-adapter style): how an attempt
 * starts, and for HTTP types how the request is built and whether an answer means something
 * else for this provider than the generic HTTP table says (OpenAI's 429 insufficient_quota is
 * an exhausted account, not a pause). A new HTTP provider is one more file with one table; the
 * transport, the classification and the result plumbing in provider.c stay as they are.
 *
 * A type that produces results off the HTTP path (espeak's worker thread) says so through the
 * optional fd, drain and free hooks, and keeps its state in its slot of struct providers, so
 * provider.c drives every type through the table and names none of them; provider_types.c is
 * the one list of types.
 *
 * Also private: struct providers itself, so that a type's state can hang off it and count its
 * attempts as the HTTP side does. Tests include this header to exercise request building
 * without a network. */
#ifndef VOXCAST_PROVIDER_OPS_H
#define VOXCAST_PROVIDER_OPS_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audio.h"
#include "buf.h"
#include "classify.h"
#include "convert.h"
#include "job.h"
#include "provider.h"

struct http_transport;

#define PROVIDER_NAME_MAX 257      /* a voice or model name: JOB_OPTION_MAX bytes and a NUL */

/* What an attempt asked the provider for, kept with the transfer until its answer is read: the
 * answer is judged by it (the voice a "voice not found" names, the model whose text limit was
 * passed, the kind of audio it must be) and, for raw PCM or µ-law, made into a WAV file at the
 * rate that was asked. The job's own format is the writer's business (writer.h): it converts
 * whatever file the answer makes into it, so a provider is asked for the job's format natively
 * where it has it and for its own WAV otherwise. */
struct provider_asked {
    char voice[PROVIDER_NAME_MAX];  /* as sent, after the voices map; "" when none */
    char model[PROVIDER_NAME_MAX];  /* as sent, after the models map */
    char output_format[32];         /* the provider's own format name: "wav", "pcm", "pcm_24000" */
    int  pcm_rate;                  /* > 0: the answer is raw 16-bit mono PCM at this rate */
    enum convert_input kind;        /* CONVERT_IN_WAV (also raw PCM, see pcm_rate),
                                     * CONVERT_IN_MP3, or CONVERT_IN_ULAW_8000: raw µ-law at
                                     * 8 kHz, wrapped in a µ-law WAV header */
};

/* One HTTP request as a provider wants it sent: always a POST. */
struct provider_request {
    struct buf            url;      /* full URL, query included */
    struct curl_slist    *headers;  /* "Name: value" lines; may carry the API key */
    struct buf            body;     /* JSON */
    struct provider_asked asked;    /* filled by build */
};

/* A text limit per model: the first row whose model is a prefix of the resolved model wins
 * (so dated variants such as gpt-4o-mini-tts-2025-12-15 share their family's row). */
struct provider_model_limit {
    const char *model;
    int64_t     max_chars;
};

struct provider_ops {
    const char *type_name;               /* "openai", ... (the provider.NAME.type value) */
    bool        http;                    /* needs provider.NAME.url; runs on the curl multi */
    int64_t     default_max_text_chars;  /* when max_text_chars is 0 and no model row fits */
    const struct provider_model_limit *model_limits;  /* per model; NULL: none */
    size_t      n_model_limits;
    const char *default_model;           /* sent when neither job nor config names one */
    const char *default_voice;           /* likewise for voices; NULL: the type needs one set */
    size_t      max_text_bytes;          /* hard limit of the engine in bytes; 0: none */
    bool        implied_by_name;         /* a provider named type_name needs no .type */

    /* Starts one attempt (the caller counts it as active on 0). -1 + err when it cannot. */
    int (*start)(struct provider *pv, const struct job *job, void *task, char *err, size_t errlen);

    /* HTTP types: fills an empty *req for job, req->asked included. -1 + err (and *req left
     * for provider_request_free) when the job cannot be expressed as a request. */
    int (*build)(const struct provider *pv, const struct job *job, struct provider_request *req,
                 char *err, size_t errlen);

    /* Optional: the class of an HTTP answer for this provider, given the generic one, what was
     * asked and the answer itself (body NUL-terminated, len bytes, may be binary). For a
     * PROVIDER or SKIP class it writes the cause ("voice 'alloy' not found ...") to cause. */
    enum outcome_class (*refine_class)(const struct provider *pv, const struct provider_asked *asked,
                                       enum outcome_class cls, long http_status, const char *body,
                                       size_t len, char *cause, size_t causelen);

    /* Optional: checks provider.NAME.output_format (non-empty) for this type at start-up.
     * -1 + err naming the key when it is not a format the type can turn into WAV. */
    int (*check_output_format)(const char *name, const char *format, char *err, size_t errlen);

    /* Optional, for a type that finishes attempts off the HTTP path: a descriptor that is
     * readable while finished attempts wait for drain, or -1 while the type has none. */
    int (*fd)(const struct providers *ps);
    /* Optional: delivers every attempt of this type finished off the HTTP path to done, on
     * the loop thread, each counted out of ps->active. */
    void (*drain)(struct providers *ps, attempt_done_fn done, void *ctx);
    /* Optional: releases the type's state in ps (NULL-safe), dropping queued and finished
     * attempts without callbacks. */
    void (*free)(struct providers *ps);
};

extern const struct provider_ops provider_openai_ops;
extern const struct provider_ops provider_elevenlabs_ops;
extern const struct provider_ops provider_espeak_ops;

/* Every type, indexed by enum provider_type (provider_types.c). */
extern const struct provider_ops *const provider_types[PROVIDER_NTYPES];

struct providers {
    struct provider       *list;     /* n providers, failover order */
    size_t                 n;
    struct http_transport *http;     /* always present: its poll is also the loop's wait */
    void                  *type_state[PROVIDER_NTYPES];  /* a type's own, NULL until it
                                                           * needs one; freed by its hook */
    size_t                 active;   /* started, not yet delivered to a done callback */
};

/* ---- shared by the provider files ---- */

/* The `start` of every HTTP type (provider.c): build, then hand to the curl multi. */
int provider_http_start(struct provider *pv, const struct job *job, void *task, char *err,
                        size_t errlen);

/* Parses job->format (NULL means wav). -1 + err for a name out_format_parse() does not know. */
int provider_job_format(const struct job *job, enum out_format *out, char *err, size_t errlen);

/* The voice and model to send for job, by the voicemap resolution rule (voicemap.h): the map's
 * entry, else provider.NAME.voice/.model, else the job's name when the provider declares
 * neither, else the type's default. -1 + err when the result does not fit in out. */
int provider_voice_for(const struct provider *pv, const struct job *job, char *out, size_t outlen,
                       char *err, size_t errlen);
int provider_model_for(const struct provider *pv, const struct job *job, char *out, size_t outlen,
                       char *err, size_t errlen);

/* The classification every HTTP type shares: parse the error body, run it through the type's
 * rules. For the refine_class hooks. */
enum outcome_class provider_refine_by_rules(const struct classify_rule *rules, size_t n,
                                            const struct provider_asked *asked,
                                            enum outcome_class cls, long http_status,
                                            const char *body, size_t len, char *cause,
                                            size_t causelen);

/* Appends one header line built from fmt (the line is copied into req->headers). */
void provider_request_header(struct provider_request *req, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Releases everything in req (wiping the header lines, which may hold a key); NULL-safe. */
void provider_request_free(struct provider_request *req);
/* The value of header `name` (case-insensitive) in req, or NULL. For tests and logging. */
const char *provider_request_find(const struct provider_request *req, const char *name);

#endif
