/* espeak.c - libespeak-ng in synchronous mode, serialised, rendered to WAV; see espeak.h.
 *
 * espeak-ng hands audio to one process-wide callback. Because every synthesis holds `lock`, the
 * callback can find the render in progress through `active` instead of trusting the library to
 * copy user_data into every event. The voice is changed only when a call asks for a different
 * one: loading a voice reads and compiles files, which costs more than a short sentence. */
#include "espeak.h"

#include <espeak-ng/speak_lib.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "audio.h"

#define VOICE_DEFAULT   "en"
#define VOICE_NAME_MAX  40
#define BUFFER_MS       200   /* size of the chunks espeak-ng hands to the callback */

struct render {
    struct buf pcm;        /* native int16 samples, appended by the callback */
    size_t     max_bytes;  /* abort past this many bytes of samples */
    bool       too_long;   /* set when the callback aborted synthesis */
};

static pthread_once_t   init_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t  lock = PTHREAD_MUTEX_INITIALIZER;
static int              sample_rate;          /* > 0 after a successful initialisation */
static char             init_error[128];
static char             current_voice[VOICE_NAME_MAX + 1];   /* guarded by lock */
static struct render   *active;               /* guarded by lock */

/* Called by espeak-ng from inside espeak_Synth (same thread, lock held). wav == NULL marks the
 * end; numsamples may be 0 mid-stream. Returning 1 aborts the synthesis. */
static int espeak_collect(short *wav, int numsamples, espeak_EVENT *events)
{
    (void)events;
    struct render *r = active;
    if (!r || !wav || numsamples <= 0)
        return 0;
    size_t bytes = (size_t)numsamples * sizeof(int16_t);
    if (r->pcm.len + bytes > r->max_bytes) {
        r->too_long = true;
        return 1;
    }
    buf_append(&r->pcm, wav, bytes);
    return 0;
}

static void espeak_init(void)
{
    int rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, BUFFER_MS, NULL, espeakINITIALIZE_DONT_EXIT);
    if (rate <= 0) {
        snprintf(init_error, sizeof init_error,
                 "espeak-ng failed to initialise (espeak-ng-data not found?)");
        return;
    }
    espeak_SetSynthCallback(espeak_collect);
    if (espeak_SetVoiceByName(VOICE_DEFAULT) != EE_OK) {
        snprintf(init_error, sizeof init_error, "espeak-ng has no '%s' voice", VOICE_DEFAULT);
        return;
    }
    snprintf(current_voice, sizeof current_voice, "%s", VOICE_DEFAULT);
    sample_rate = rate;
}

/* A name we are willing to hand to espeak-ng: short, no path characters, not MBROLA. */
static bool voice_name_ok(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > VOICE_NAME_MAX || strncmp(v, "mb-", 3) == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '+';
        if (!ok)
            return false;
    }
    return true;
}

/* Makes `voice` current, or "en" when espeak-ng refuses it. A refused name leaves espeak-ng on
 * its previous voice, so the fallback is set explicitly. Called with lock held. */
static int voice_select(const char *voice, char *err, size_t errlen)
{
    const char *want = voice && voice_name_ok(voice) ? voice : VOICE_DEFAULT;
    if (strcmp(want, current_voice) == 0)
        return 0;
    if (espeak_SetVoiceByName(want) != EE_OK) {
        if (strcmp(current_voice, VOICE_DEFAULT) == 0)
            return 0;
        want = VOICE_DEFAULT;
        if (espeak_SetVoiceByName(want) != EE_OK) {
            current_voice[0] = '\0';
            snprintf(err, errlen, "espeak-ng cannot select voice '%s'", want);
            return -1;
        }
    }
    snprintf(current_voice, sizeof current_voice, "%s", want);
    return 0;
}

/* Runs one synthesis into r with lock held. */
static int synth_locked(const char *text, const char *voice, struct render *r, char *err, size_t errlen)
{
    if (voice_select(voice, err, errlen) < 0)
        return -1;
    active = r;
    espeak_ERROR rc = espeak_Synth(text, strlen(text) + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8,
                                   NULL, NULL);
    active = NULL;
    if (r->too_long) {
        snprintf(err, errlen, "espeak-ng: audio longer than %d s", ESPEAK_MAX_SECONDS);
        return -1;
    }
    if (rc != EE_OK) {
        snprintf(err, errlen, "espeak-ng synthesis failed (error %d)", (int)rc);
        return -1;
    }
    return 0;
}

int espeak_render_wav(const char *text, const char *voice, struct buf *out, char *err, size_t errlen)
{
    size_t len = text ? strlen(text) : 0;
    if (len == 0) {
        snprintf(err, errlen, "espeak-ng: empty text");
        return -1;
    }
    if (len > ESPEAK_MAX_TEXT_BYTES) {
        snprintf(err, errlen, "espeak-ng: text of %zu bytes exceeds %d", len, ESPEAK_MAX_TEXT_BYTES);
        return -1;
    }
    pthread_once(&init_once, espeak_init);
    if (sample_rate <= 0) {
        snprintf(err, errlen, "%s", init_error);
        return -1;
    }
    struct render r = {.max_bytes = (size_t)sample_rate * ESPEAK_MAX_SECONDS * sizeof(int16_t)};
    pthread_mutex_lock(&lock);
    int rc = synth_locked(text, voice, &r, err, errlen);
    pthread_mutex_unlock(&lock);
    if (rc == 0 && r.pcm.len < sizeof(int16_t)) {
        snprintf(err, errlen, "espeak-ng produced no audio for this text");
        rc = -1;
    }
    if (rc == 0)
        audio_wav_from_pcm16((const int16_t *)(const void *)r.pcm.data, r.pcm.len / sizeof(int16_t),
                             sample_rate, out);
    buf_free(&r.pcm);
    return rc;
}
