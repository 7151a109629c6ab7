/* mimic.h - voxcast-ttsd's provider mimics: OpenAI, Kokoro-FastAPI and ElevenLabs as they answer.
 *
 * Without a mimic, voxcast-ttsd answers textbook WAV files and one error shape per route. A client
 * built against that never meets what the real APIs send: streamed WAV headers whose sizes are
 * placeholders, chunked bodies, raw PCM and µ-law, and each provider's own error bodies, status
 * codes and validation order. `--mimic NAME` (the faults field "mimic") switches the speech routes
 * to one provider's behaviour, so a client can be tested against the bytes it will really get.
 *
 * Each provider is one table (mimic_openai.c, mimic_kokoro.c, mimic_elevenlabs.c, through the ops
 * struct in mimic_provider.h): its route, key header, known voices and models, formats, error
 * catalogue (every body copied from a cited source) and the order in which it validates a
 * request. This module runs the shared part: route check, the provider's validation, the fault
 * draw (fail_code and fail_text rules name catalogue errors), and the audio in the provider's
 * shape. It builds an answer and does no I/O: the server sends it (chunked when `chunked`, cut
 * after `cut_at` bytes without the final chunk when a truncate fault fired).
 *
 * Audio: espeak-ng (or --tone) renders mono 16-bit WAV at its own rate; every format that names a
 * rate (OpenAI/Kokoro wav and pcm at 24 kHz, ElevenLabs pcm_R, wav_R, ulaw_8000) is resampled to
 * that rate by linear interpolation, so the rate in a header or a format name is always the true
 * rate of the samples. MP3 is the same speech resampled to the format's rate (OpenAI and Kokoro
 * mp3 24 kHz, ElevenLabs mp3_R_B R) and encoded by libmp3lame (convert.h: mono, 64 kbit/s). */
#ifndef VOXCAST_TTSD_MIMIC_H
#define VOXCAST_TTSD_MIMIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "faults.h"

#define MIMIC_MAX_HEADERS 12

/* What the server read off the connection for one speech request. */
struct mimic_request {
    const char *method;          /* "POST" */
    const char *url;             /* the path, for "not found" texts */
    bool        elevenlabs;      /* the route: true for /v1/text-to-speech/{id}, false for /v1/audio/speech */
    const char *path_voice;      /* ElevenLabs {voice_id}; NULL on the OpenAI route */
    const char *output_format;   /* ?output_format=, or NULL */
    const char *key_value;       /* value of mimic_key_header()'s header, or NULL when absent */
    const char *body;
    size_t      len;
    bool        too_big;         /* the body passed the server's limit and was dropped */
};

/* What the mimic needs from the server: the key, the fault draw and the synthesiser. */
struct mimic_env {
    void       *ctx;
    const char *api_key;   /* the key requests must carry, or NULL when any (or none) will do */
    void (*decide)(void *ctx, const char *text, struct fault_decision *d);
    int (*render)(void *ctx, const char *text, const char *voice, struct buf *wav, char *err, size_t errlen);
};

struct mimic_header {
    char name[40];
    char value[96];
};

struct mimic_answer {
    enum fault_action   action;        /* FAULT_RESET / FAULT_HANG: send nothing, act instead */
    int                 status;
    const char         *content_type;  /* static */
    struct buf          body;          /* owned */
    bool                chunked;       /* length unknown: chunked transfer encoding */
    size_t              cut_at;        /* > 0: send this many body bytes, then close without the end */
    size_t              nheaders;
    struct mimic_header headers[MIMIC_MAX_HEADERS];   /* extra headers (rate limits, Retry-After) */
};

/* True when f->mimic names a provider (anything but "none"). */
bool mimic_active(const struct faults *f);

/* The header that carries the API key for the active mimic ("Authorization" or "xi-api-key"), or
 * NULL when no mimic is active. The value handed back in mimic_request.key_value is the raw header. */
const char *mimic_key_header(const struct faults *f);

/* Checks what only a mimic can judge: with mimic "none", fail_code and every fail_text code rule
 * must be empty; with a mimic, each must name an error of that provider's catalogue. Returns 0, or
 * -1 with err naming the setting and listing the names the mimic knows. Called on the settings at
 * start and on every /admin/faults change before it takes effect. */
int mimic_check(const struct faults *f, char *err, size_t errlen);

/* Handles one speech request under f (a snapshot whose mimic is active) into a (zeroed by the
 * caller). Never fails: every outcome, internal errors included, is an answer. */
void mimic_handle(const struct faults *f, const struct mimic_env *env, const struct mimic_request *rq,
                  struct mimic_answer *a);

/* Frees the body; NULL-safe. */
void mimic_answer_free(struct mimic_answer *a);

/* Adds a header, or replaces the value of one already there (names compared without case). */
void mimic_set_header(struct mimic_answer *a, const char *name, const char *value);

/* ---- the account (plan.h) in the provider's words ---- */

/* Whether a request on this route (true: /v1/text-to-speech/{id}) is one the active mimic serves;
 * the other route only gets the provider's 404. */
bool mimic_route_ok(const struct faults *f, bool elevenlabs_route);

/* Whether key_value (the raw header of mimic_key_header(), NULL when absent) carries api_key, or
 * the request needs none (no api_key, or a provider with no keys: Kokoro-FastAPI). */
bool mimic_key_accepted(const struct faults *f, const char *api_key, const char *key_value);

/* The concurrency limit of the mimicked plan when max_concurrent sets none: ElevenLabs' tier
 * (free 2, starter 3, creator 5, pro 10); 0 (none) for the other providers. */
long mimic_plan_concurrency(const struct faults *f);

struct mimic_throttle {
    bool    concurrency;   /* over the concurrency limit; else over the rate */
    long    limit;         /* the concurrency limit */
    double  rate;          /* the rate, requests per second */
    int64_t wait_ms;       /* rate: until a token is back */
};

/* Answers (into a, zeroed by the caller) a request the account refused with the provider's own
 * 429: ElevenLabs too_many_concurrent_requests / system_busy, OpenAI rate_limit_exceeded with its
 * x-ratelimit-* headers, Kokoro-FastAPI's detail shape. A rate refusal carries Retry-After (whole
 * seconds, rounded up). */
void mimic_throttle(const struct faults *f, const struct mimic_request *rq, const struct mimic_throttle *t,
                    struct mimic_answer *a);

/* Whether the key a client sent equals want, in time that does not depend on where they differ
 * (no early exit), so timing tells an attacker nothing. Shared by the plain routes and the mimics. */
bool mimic_secret_equal(const char *given, const char *want);

#endif
