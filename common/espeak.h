/* espeak.h - in-process speech synthesis with libespeak-ng, rendered to WAV.
 *
 * The `espeak` provider of the consumer and voxcast-ttsd both synthesise through this one
 * function. libespeak-ng keeps global state (one current voice, one callback, one output
 * buffer), so every call here is serialised by an internal mutex and the library is initialised
 * once, on first use (pthread_once), in synchronous mode: the call returns when the audio is
 * complete. Calls are thread-safe, but they do not run in parallel: a long text delays the next
 * caller, which is why the consumer keeps this on a small thread pool apart from its event loop.
 *
 * Voices: `voice` is an espeak-ng voice name ("en", "en-us", "fr", "de", "en+f3", ...). NULL, "",
 * a name espeak-ng does not know (such as OpenAI's "alloy" or an ElevenLabs voice id) and a name
 * with characters outside [A-Za-z0-9_+-] all fall back to "en": callers pass provider-shaped
 * voice names through unchanged and still get speech, not an error. MBROLA voices ("mb-...") are
 * refused the same way because without the mbrola program they leave espeak-ng broken for every
 * later call. Text is UTF-8, read as plain text (no SSML). */
#ifndef VOXCAST_ESPEAK_H
#define VOXCAST_ESPEAK_H

#include <stddef.h>

#include "buf.h"

#define ESPEAK_MAX_TEXT_BYTES 32768   /* longer input is refused (job texts are far shorter) */
#define ESPEAK_MAX_SECONDS    1200    /* synthesis producing more audio than this is aborted */

/* Synthesises `text` with `voice` (see above) and appends a mono 16-bit PCM WAV at espeak-ng's
 * rate (22050 Hz) to out. Returns 0, or -1 with err and out unchanged when: text is NULL, empty
 * or longer than ESPEAK_MAX_TEXT_BYTES; the library cannot initialise (data files missing; the
 * reason is kept and returned by every later call); synthesis fails or yields not one sample; or
 * the audio would exceed ESPEAK_MAX_SECONDS. (Text of only spaces still yields a short silence.) */
int espeak_render_wav(const char *text, const char *voice, struct buf *out, char *err, size_t errlen);

#endif
