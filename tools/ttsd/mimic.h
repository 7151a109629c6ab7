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
 * rate of the samples. MP3 is the silent frames of audio_silent_mp3() (no encoder to hand). */
#ifndef VOXCAST_TTSD_MIMIC_H
#define VOXCAST_TTSD_MIMIC_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "faults.h"

#define MIMIC_MAX_HEADERS 6

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
    long        in_flight; /* speech requests the server holds now, this one included */
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

/* Whether the key a client sent equals want, in time that does not depend on where they differ
 * (no early exit), so timing tells an attacker nothing. Shared by the plain routes and the mimics. */
bool mimic_secret_equal(const char *given, const char *want);

#endif
