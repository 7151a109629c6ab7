/* mimic_provider.h - the ops table one provider mimic fills, and the helpers its file shares.
 *
 * Private to the mimic files (mimic.c and mimic_<provider>.c); the server sees only mimic.h. A
 * provider is data (errors, formats, default names) plus a validate() that checks a request in
 * the order the real API does, answering the first failure through mimic_raise(). */
#ifndef VOXCAST_TTSD_MIMIC_PROVIDER_H
#define VOXCAST_TTSD_MIMIC_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mimic.h"

/* One entry of a provider's error catalogue. Which fields a body shows depends on the provider
 * (error_body); unused ones stay NULL. `message` may hold one %s, filled by mimic_raise's arg. */
struct mimic_error {
    const char *name;          /* what --fail-code / fail_text name; usually the provider's own code */
    int         status;
    const char *type;          /* OpenAI error.type, ElevenLabs detail.type, Kokoro detail.type;
                                * for a 422 the pydantic error type ("missing", "literal_error") */
    const char *code;          /* OpenAI error.code, ElevenLabs detail.code, Kokoro detail.error; NULL: null */
    const char *status_word;   /* ElevenLabs detail.status (its older field, still sent) */
    const char *param;         /* OpenAI error.param; for a 422 the field in loc ["body", param] */
    const char *message;
};

enum mimic_audio { MIMIC_MP3, MIMIC_WAV, MIMIC_PCM, MIMIC_ULAW, MIMIC_UNSUPPORTED };

enum mimic_tier { TIER_FREE, TIER_STARTER, TIER_CREATOR, TIER_PRO };

struct mimic_format {
    const char      *name;           /* as the request names it */
    enum mimic_audio audio;
    int              rate;           /* of the samples (MP3 too: resampled, then encoded) */
    const char      *content_type;
    enum mimic_tier  min_tier;       /* ElevenLabs: lowest plan allowed to ask for it */
};

/* A request that passed validation. Strings are owned (mimic_speech_free). */
struct mimic_speech {
    char                      *text;
    char                      *voice;
    char                      *model;
    const struct mimic_format *format;
    bool                       stream;   /* chunked, with placeholder sizes in a WAV header */
};

struct mimic_call {
    const struct faults          *f;
    const struct mimic_env       *env;
    const struct mimic_request   *rq;
    const struct mimic_provider  *pv;
    struct mimic_answer          *a;
};

struct mimic_provider {
    const char               *name;
    bool                      elevenlabs_route;   /* which of the two speech routes it serves */
    const char               *key_header;
    const char               *key_prefix;        /* "Bearer " or "" */
    uint32_t                  wav_placeholder;   /* RIFF and data size of a streamed WAV */
    const struct mimic_error *errors;
    size_t                    nerrors;
    const char               *voices;            /* defaults, comma-separated */
    const char               *models;
    /* Checks the request in the provider's order. 0 with sp filled, or -1 once an error has been
     * answered (mimic_raise). */
    int (*validate)(struct mimic_call *c, struct mimic_speech *sp);
    /* Appends the body of error e with message (already formatted); arg is the raise's arg (the
     * offending input, for 422 bodies), possibly NULL. */
    void (*error_body)(struct buf *out, const struct mimic_error *e, const char *message, const char *arg);
    /* Answers a request on the other provider's route the way this server would (404). */
    void (*not_found)(struct mimic_call *c);
    /* Adds the provider's headers to a 429 answer (rate-limit headers); may be NULL. */
    void (*throttled)(struct mimic_call *c, const struct mimic_error *e);
    /* Answers the account's refusal (mimic_throttle) with the provider's 429. */
    void (*throttle)(struct mimic_call *c, const struct mimic_throttle *t);
    /* The plan's concurrency limit (mimic_plan_concurrency); NULL: none. */
    long (*plan_concurrency)(const struct faults *f);
    bool keyless;                                /* checks no API key (Kokoro-FastAPI) */
};

extern const struct mimic_provider mimic_openai;
extern const struct mimic_provider mimic_kokoro;
extern const struct mimic_provider mimic_elevenlabs;

/* Answers error `name` of c->pv's catalogue: message is e->message with arg for its %s, or
 * `message` itself when not NULL. Always returns -1, so validate() can `return mimic_raise(...)`. */
int mimic_raise(struct mimic_call *c, const char *name, const char *arg);
int mimic_raise_msg(struct mimic_call *c, const char *name, const char *message, const char *arg);

const struct mimic_error *mimic_error_find(const struct mimic_provider *pv, const char *name);

/* The list in effect: `configured` when set, else the provider's default. "none" is an empty list. */
const char *mimic_list(const char *configured, const char *dflt);

/* True when name is one of the comma-separated names of list (exact, case-sensitive). */
bool mimic_list_has(const char *list, const char *name);

/* Appends the names of list to out as 'a', 'b' or 'c' (pydantic's enum wording), sorted when sort. */
void mimic_list_quoted(const char *list, bool sort, const char *sep_last, struct buf *out);

/* Whether the request's key is acceptable; *present says whether one was sent at all. */
bool mimic_key_ok(const struct mimic_call *c, bool *present);

enum mimic_tier mimic_tier_of(const char *tier);

void mimic_add_header(struct mimic_answer *a, const char *name, const char *value);

/* strdup that aborts on OOM, as buf does. NULL stays NULL. */
char *mimic_strdup(const char *s);

void mimic_speech_free(struct mimic_speech *sp);

#endif
