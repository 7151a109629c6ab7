/* api.h - the two provider shapes voxcast-ttsd speaks: OpenAI and ElevenLabs.
 *
 * Each shape is a small ops struct (hiredis-adapter style): where its key travels, how its
 * request body reads, how its errors look. The server's speech path is written once against
 * struct api_ops; a third shape would be one more instance here, not a branch in server.c.
 * Parsing is pure: no connection, no locks. */
#ifndef VOXCAST_TTSD_API_H
#define VOXCAST_TTSD_API_H

#include <stdbool.h>
#include <stddef.h>

#include "audio.h"
#include "buf.h"

#define API_MAX_TEXT_BYTES 32768   /* longer texts are answered 413 */

struct speech_request {
    char             *text;     /* owned, UTF-8, non-empty */
    char             *voice;    /* owned; NULL when the request names none */
    enum audio_format format;
};

/* What the server hands a parser: the body and the bits of the URL that matter. */
struct api_input {
    const char *body;
    size_t      len;
    const char *path_voice;      /* ElevenLabs: the {voice_id} segment; NULL for OpenAI */
    const char *output_format;   /* ElevenLabs: ?output_format=; NULL when absent */
};

struct api_ops {
    const char *name;          /* "openai" or "elevenlabs", for logs */
    const char *key_header;    /* header carrying the API key */
    const char *key_prefix;    /* what precedes the key in it ("Bearer " or "") */
    /* Fills req from in. Returns 0, or the HTTP status to answer (400 bad JSON, missing or empty
     * text, unsupported format; 413 text too long) with the reason in err. req is left empty on
     * failure. */
    int (*parse)(const struct api_input *in, struct speech_request *req, char *err, size_t errlen);
    /* Appends this API's JSON error body for status and message. */
    void (*error_body)(struct buf *out, int status, const char *message);
    /* Appends this API's body for a 429 of the account (plan.h): over its concurrency limit
     * when `concurrency`, else over its rate. */
    void (*throttle_body)(struct buf *out, bool concurrency, const char *message);
};

extern const struct api_ops api_openai;       /* POST /v1/audio/speech */
extern const struct api_ops api_elevenlabs;   /* POST /v1/text-to-speech/{voice_id} */

void speech_request_free(struct speech_request *req);   /* frees the strings; NULL-safe */

#endif
