/* api.c - request parsing and error bodies of the OpenAI and ElevenLabs shapes; see api.h.
 *
 * Both parsers share the strictness that matters to a client under test: bad JSON, a missing,
 * empty or non-string text, and a format we cannot produce are all 400, as the real APIs answer,
 * so a client's "non-retryable for the contact" path can be exercised. Fields the server cannot
 * honour but that are legal (model, speed, stream, voice_settings) are accepted and ignored. */
#include "api.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "xalloc.h"

void speech_request_free(struct speech_request *req)
{
    if (!req)
        return;
    free(req->text);
    free(req->voice);
    req->text = req->voice = NULL;
}

static json_t *load_object(const struct api_input *in, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(in->body ? in->body : "", in->len, 0, &jerr);
    if (!root)
        snprintf(err, errlen, "bad JSON: %s", jerr.text);
    else if (!json_is_object(root))
        snprintf(err, errlen, "body must be a JSON object");
    else
        return root;
    json_decref(root);
    return NULL;
}

static bool blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
            return false;
    return true;
}

/* Copies the required text field `key` into req->text. 0, or an HTTP status with err. */
static int take_text(json_t *root, const char *key, struct speech_request *req, char *err, size_t errlen)
{
    json_t *v = json_object_get(root, key);
    if (!v) {
        snprintf(err, errlen, "'%s' is required", key);
        return 400;
    }
    if (!json_is_string(v) || blank(json_string_value(v))) {
        snprintf(err, errlen, "'%s' must be a non-empty string", key);
        return 400;
    }
    if (json_string_length(v) > API_MAX_TEXT_BYTES) {
        snprintf(err, errlen, "'%s' is longer than %d bytes", key, API_MAX_TEXT_BYTES);
        return 413;
    }
    req->text = xstrdup(json_string_value(v));
    return 0;
}

static void take_voice(const char *voice, struct speech_request *req)
{
    req->voice = voice && *voice ? xstrdup(voice) : NULL;
}

static int openai_format(json_t *root, struct speech_request *req, char *err, size_t errlen)
{
    json_t *f = json_object_get(root, "response_format");
    json_t *speed = json_object_get(root, "speed");
    req->format = AUDIO_WAV;   /* the real API defaults to mp3; this server's native format is WAV */
    if (f && (!json_is_string(f) || audio_format_parse(json_string_value(f), &req->format) < 0)) {
        snprintf(err, errlen, "unsupported response_format (this server makes wav and mp3)");
        return 400;
    }
    if (speed && (!json_is_number(speed) || json_number_value(speed) < 0.25 || json_number_value(speed) > 4.0)) {
        snprintf(err, errlen, "'speed' must be a number from 0.25 to 4.0");
        return 400;
    }
    return 0;
}

static int openai_parse(const struct api_input *in, struct speech_request *req, char *err, size_t errlen)
{
    memset(req, 0, sizeof *req);
    json_t *root = load_object(in, err, errlen);
    if (!root)
        return 400;
    int rc = take_text(root, "input", req, err, errlen);
    if (rc == 0)
        rc = openai_format(root, req, err, errlen);
    if (rc == 0)
        take_voice(json_string_value(json_object_get(root, "voice")), req);
    json_decref(root);
    if (rc != 0)
        speech_request_free(req);
    return rc;
}

/* ElevenLabs names formats codec_rate[_bitrate]: mp3_44100_128, wav_22050, pcm_16000, ... */
static int elevenlabs_format(const char *of, enum audio_format *out)
{
    *out = AUDIO_WAV;
    if (!of)
        return 0;
    size_t n = strcspn(of, "_");
    if (n == 3 && strncmp(of, "wav", 3) == 0)
        return 0;
    if (n == 3 && strncmp(of, "mp3", 3) == 0) {
        *out = AUDIO_MP3;
        return 0;
    }
    return -1;
}

static int elevenlabs_parse(const struct api_input *in, struct speech_request *req, char *err, size_t errlen)
{
    memset(req, 0, sizeof *req);
    if (elevenlabs_format(in->output_format, &req->format) < 0) {
        snprintf(err, errlen, "unsupported output_format (this server makes wav_* and mp3_*)");
        return 400;
    }
    json_t *root = load_object(in, err, errlen);
    if (!root)
        return 400;
    int rc = take_text(root, "text", req, err, errlen);
    json_decref(root);
    if (rc == 0)
        take_voice(in->path_voice, req);
    return rc;
}

static void openai_error(struct buf *out, int status, const char *message)
{
    const char *type = status >= 500 ? "server_error" : status == 429 ? "requests" : "invalid_request_error";
    const char *code = status == 401 ? "invalid_api_key" : status == 429 ? "rate_limit_exceeded" : NULL;
    buf_puts(out, "{\"error\":{\"message\":");
    jsonw_cstr(out, message);
    buf_puts(out, ",\"type\":");
    jsonw_cstr(out, type);
    buf_puts(out, ",\"param\":null,\"code\":");
    jsonw_cstr(out, code);
    buf_puts(out, "}}");
}

/* OpenAI has no concurrency limit of its own: over the account's, the envelope of its rate limit
 * (type "requests") with code too_many_concurrent_requests, so a client can tell the two apart. */
static void openai_throttle(struct buf *out, bool concurrency, const char *message)
{
    buf_puts(out, "{\"error\":{\"message\":");
    jsonw_cstr(out, message);
    buf_puts(out, ",\"type\":\"requests\",\"param\":null,\"code\":");
    jsonw_cstr(out, concurrency ? "too_many_concurrent_requests" : "rate_limit_exceeded");
    buf_puts(out, "}}");
}

/* {"detail":{"status":S,"message":M}}: ElevenLabs' error shape as its help centre shows it for
 * a 429 (help.elevenlabs.io "API Error Code 429", quoted in haguro/elevenlabs-go PR #25). */
static void elevenlabs_detail(struct buf *out, const char *status_word, const char *message)
{
    buf_puts(out, "{\"detail\":{\"status\":");
    jsonw_cstr(out, status_word);
    buf_puts(out, ",\"message\":");
    jsonw_cstr(out, message);
    buf_puts(out, "}}");
}

static void elevenlabs_error(struct buf *out, int status, const char *message)
{
    const char *s = status == 401   ? "invalid_api_key"
                    : status == 429 ? "too_many_concurrent_requests"
                    : status >= 500 ? "system_busy"
                                    : "invalid_request";
    elevenlabs_detail(out, s, message);
}

/* ElevenLabs' two 429s: too_many_concurrent_requests (the plan's limit) and system_busy (back
 * off and retry), which is the one a rate limit resembles. */
static void elevenlabs_throttle(struct buf *out, bool concurrency, const char *message)
{
    elevenlabs_detail(out, concurrency ? "too_many_concurrent_requests" : "system_busy", message);
}

const struct api_ops api_openai = {
    .name = "openai",
    .key_header = "Authorization",
    .key_prefix = "Bearer ",
    .parse = openai_parse,
    .error_body = openai_error,
    .throttle_body = openai_throttle,
};

const struct api_ops api_elevenlabs = {
    .name = "elevenlabs",
    .key_header = "xi-api-key",
    .key_prefix = "",
    .parse = elevenlabs_parse,
    .error_body = elevenlabs_error,
    .throttle_body = elevenlabs_throttle,
};
