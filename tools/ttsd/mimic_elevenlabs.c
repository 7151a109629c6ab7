/* mimic_elevenlabs.c - ElevenLabs text-to-speech as it answers: POST /v1/text-to-speech/{voice_id}.
 *
 * Sources (read with the project's search tools; no code copied):
 *  - ElevenLabs API reference, text-to-speech convert (as summarised with live captures in public
 *    integration notes) and elevenlabs-python's convert() docstring: key in xi-api-key;
 *    ?output_format= mp3_22050_32, mp3_44100_{32,64,96,128,192} (128 the default, 192 Creator tier
 *    and above), pcm_{8000,16000,22050,24000,44100,48000} (raw 16-bit LE mono), ulaw_8000 (raw
 *    µ-law), wav_<rate>; 44.1 kHz (and 48 kHz) PCM and WAV need the Pro tier; model_id default
 *    eleven_multilingual_v2. alaw_8000, mp3_24000_48 and opus_48000_* are real formats this server
 *    cannot encode: refused with a 400 that says so (a departure).
 *  - Error bodies as the API sends them today (live captures; dograh-hq/dograh issue #290 for
 *    402): {"detail":{"type","code","message","status","request_id"}}, where "status" is the older
 *    field (the shape {"detail":{"status","message"}} of the help centre and of
 *    elevenlabs/elevenlabs-docs PR #1317) and still present, so a client reading either finds it.
 *    401 needs_authorization "Neither authorization header nor xi-api-key received, please provide
 *    one." (no key) and invalid_api_key "Invalid API key"; 402 paid_plan_required "Free users
 *    cannot use library voices via the API. ..."; 404 voice_not_found "A voice with the voice_id X
 *    was not found."; 400 max_character_limit_exceeded; 401 quota_exceeded (legacy, a 401 not a
 *    402); 429 too_many_concurrent_requests and system_busy ("We are sorry, the system is
 *    experiencing heavy traffic, please try again. Higher subscriptions have higher priority.").
 *  - 422 before authentication for a missing or non-string text: FastAPI's
 *    {"detail":[{"type":"missing","loc":["body","text"],"msg":"Field required","input":null}]}
 *    (SubtitleEdit/subtitleedit issue #9649 and live captures).
 *  - Character limits per request: eleven_multilingual_v2 10,000, eleven_v3 3,000
 *    (elevenlabs/elevenlabs-docs PR #1458), eleven_flash_v2_5 / eleven_turbo_v2_5 40,000,
 *    eleven_flash_v2 / eleven_turbo_v2 30,000.
 *  - pollinations/pollinations PR #11457 (and #12061): streamed wav_<rate> carries 0x7FFFFFFF
 *    placeholders in the RIFF and data sizes.
 *  - indexable-inc/index PR #339: Rachel (21m00Tcm4TlvDq8ikWAM) is now a library voice, 402 on the
 *    free tier; the default library_voices list is that one id.
 *  - 429 too_many_concurrent_requests: the help centre's "API Error Code 429" body
 *    {"detail":{"status":"too_many_concurrent_requests","message":"Too many concurrent requests. Your
 *    current subscription is associated with a maximum of 5 concurrent requests (running in
 *    parallel). ..."}} as quoted in haguro/elevenlabs-go PR #25 (same text in rogeriochaves/bmo
 *    issue #5 for the free plan's 2); the limit in the text is the one in effect. Every answer's
 *    current-concurrent-requests and maximum-concurrent-requests headers: elevenlabs/elevenlabs-docs
 *    PR #1021 (fern/docs/pages/models.mdx), sent by the server for every provider (server.c).
 * Unverified wording (codes are documented, the texts are ours): model_not_found,
 * subscription_required, invalid_output_format. */
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "jsonw.h"
#include "mimic_provider.h"
#include "utf8.h"

static const struct mimic_format formats[] = {
    {"mp3_22050_32", MIMIC_MP3, 22050, "audio/mpeg", TIER_FREE},     {"mp3_44100_32", MIMIC_MP3, 44100, "audio/mpeg", TIER_FREE},
    {"mp3_44100_64", MIMIC_MP3, 44100, "audio/mpeg", TIER_FREE},     {"mp3_44100_96", MIMIC_MP3, 44100, "audio/mpeg", TIER_FREE},
    {"mp3_44100_128", MIMIC_MP3, 44100, "audio/mpeg", TIER_FREE},    {"mp3_44100_192", MIMIC_MP3, 44100, "audio/mpeg", TIER_CREATOR},
    {"pcm_8000", MIMIC_PCM, 8000, "audio/pcm", TIER_FREE},       {"pcm_16000", MIMIC_PCM, 16000, "audio/pcm", TIER_FREE},
    {"pcm_22050", MIMIC_PCM, 22050, "audio/pcm", TIER_FREE},     {"pcm_24000", MIMIC_PCM, 24000, "audio/pcm", TIER_FREE},
    {"pcm_44100", MIMIC_PCM, 44100, "audio/pcm", TIER_PRO},      {"pcm_48000", MIMIC_PCM, 48000, "audio/pcm", TIER_PRO},
    {"ulaw_8000", MIMIC_ULAW, 8000, "audio/basic", TIER_FREE},   {"wav_8000", MIMIC_WAV, 8000, "audio/wav", TIER_FREE},
    {"wav_16000", MIMIC_WAV, 16000, "audio/wav", TIER_FREE},     {"wav_22050", MIMIC_WAV, 22050, "audio/wav", TIER_FREE},
    {"wav_24000", MIMIC_WAV, 24000, "audio/wav", TIER_FREE},     {"wav_44100", MIMIC_WAV, 44100, "audio/wav", TIER_PRO},
    {"wav_48000", MIMIC_WAV, 48000, "audio/wav", TIER_PRO},
    /* Real formats this server cannot encode: refused with unsupported_output_format. */
    {"alaw_8000", MIMIC_UNSUPPORTED, 8000, "audio/basic", TIER_FREE},
    {"mp3_24000_48", MIMIC_UNSUPPORTED, 0, "audio/mpeg", TIER_FREE},
    {"opus_48000_32", MIMIC_UNSUPPORTED, 0, "audio/opus", TIER_FREE},
    {"opus_48000_64", MIMIC_UNSUPPORTED, 0, "audio/opus", TIER_FREE},
    {"opus_48000_96", MIMIC_UNSUPPORTED, 0, "audio/opus", TIER_FREE},
    {"opus_48000_128", MIMIC_UNSUPPORTED, 0, "audio/opus", TIER_FREE},
    {"opus_48000_192", MIMIC_UNSUPPORTED, 0, "audio/opus", TIER_FREE},
};

static const struct {
    const char *model;
    size_t      max_chars;
} limits[] = {
    {"eleven_multilingual_v2", 10000}, {"eleven_v3", 3000},       {"eleven_flash_v2_5", 40000},
    {"eleven_turbo_v2_5", 40000},      {"eleven_flash_v2", 30000}, {"eleven_turbo_v2", 30000},
};
#define DEFAULT_MAX_CHARS 10000

static const struct mimic_error errors[] = {
    {"missing_text", 422, "missing", NULL, NULL, "text", "Field required"},
    {"text_not_string", 422, "string_type", NULL, NULL, "text", "Input should be a valid string"},
    {"json_invalid", 422, "json_invalid", NULL, NULL, NULL, "JSON decode error"},
    {"missing_api_key", 401, "authentication_error", "unauthorized", "needs_authorization", NULL,
     "Neither authorization header nor xi-api-key received, please provide one."},
    {"invalid_api_key", 401, "authentication_error", "unauthorized", "invalid_api_key", NULL, "Invalid API key"},
    {"quota_exceeded", 401, "payment_required", "insufficient_credits", "quota_exceeded", NULL,
     "This request exceeds your quota of 10000. You have 0 credits remaining, while 27 credits are required for "
     "this request."},
    {"invalid_output_format", 400, "validation_error", "invalid_output_format", "invalid_output_format", NULL,
     "Invalid output format: %s"},
    {"unsupported_output_format", 400, "validation_error", "invalid_output_format", "invalid_output_format", NULL,
     "output_format %s is an ElevenLabs format voxcast-ttsd cannot encode"},
    {"voice_not_found", 404, "not_found", "voice_not_found", "voice_not_found", NULL,
     "A voice with the voice_id %s was not found."},
    {"model_not_found", 404, "not_found", "model_not_found", "model_not_found", NULL,
     "A model with the model_id %s was not found."},
    {"subscription_required", 403, "authorization_error", "subscription_required", "subscription_required", NULL,
     "The output format %s requires a higher subscription tier."},   /* message built */
    {"paid_plan_required", 402, "payment_required", "paid_plan_required", "payment_required", NULL,
     "Free users cannot use library voices via the API. Please upgrade your subscription to use this voice."},
    {"max_character_limit_exceeded", 400, "validation_error", "text_too_long", "max_character_limit_exceeded", NULL,
     "%s"},   /* message built */
    {"too_many_concurrent_requests", 429, "rate_limit_error", "concurrent_limit_exceeded",
     "too_many_concurrent_requests", NULL,
     "Too many concurrent requests. Your current subscription is associated with a maximum of %s concurrent "
     "requests (running in parallel). This is done such that a single user does not overwhelm our systems and "
     "affect other users negatively. Please upgrade your subscription or contact sales if you want to increase "
     "this limit."},
    {"system_busy", 429, "rate_limit_error", "system_busy", "system_busy", NULL,
     "We are sorry, the system is experiencing heavy traffic, please try again. Higher subscriptions have higher "
     "priority."},
    {"internal_error", 500, "internal_error", "internal_error", "internal_error", NULL, "%s"},
    {"service_unavailable", 503, "service_unavailable", "service_unavailable", "service_unavailable", NULL,
     "The service is temporarily unavailable."},
};

/* Requests in flight each plan may hold (ElevenLabs help centre, as quoted in public integration
 * notes: Free 2, Starter 3, Creator 5, Pro 10); one more is 429 too_many_concurrent_requests. */
static const long concurrency[] = {[TIER_FREE] = 2, [TIER_STARTER] = 3, [TIER_CREATOR] = 5, [TIER_PRO] = 10};

static atomic_uint_fast64_t next_request_id = 1;

static void fastapi_422(struct buf *out, const struct mimic_error *e, const char *message, const char *arg)
{
    buf_puts(out, "{\"detail\":[{\"type\":");
    jsonw_cstr(out, e->type);
    buf_puts(out, ",\"loc\":[\"body\"");
    if (e->param) {
        buf_putc(out, ',');
        jsonw_cstr(out, e->param);
    }
    buf_puts(out, "],\"msg\":");
    jsonw_cstr(out, message);
    buf_puts(out, ",\"input\":");
    jsonw_cstr(out, strcmp(e->type, "missing") == 0 ? NULL : arg);
    buf_puts(out, "}]}");
}

/* {"detail":{"type","code","message","status","request_id"}}, or FastAPI's array for a 422. */
static void elevenlabs_body(struct buf *out, const struct mimic_error *e, const char *message, const char *arg)
{
    if (e->status == 422) {
        fastapi_422(out, e, message, arg);
        return;
    }
    char rid[40];
    snprintf(rid, sizeof rid, "%032llx", (unsigned long long)atomic_fetch_add(&next_request_id, 1));
    buf_puts(out, "{\"detail\":{\"type\":");
    jsonw_cstr(out, e->type);
    buf_puts(out, ",\"code\":");
    jsonw_cstr(out, e->code ? e->code : e->status_word);
    buf_puts(out, ",\"message\":");
    jsonw_cstr(out, message);
    buf_puts(out, ",\"status\":");
    jsonw_cstr(out, e->status_word ? e->status_word : e->code);
    buf_puts(out, ",\"request_id\":");
    jsonw_cstr(out, rid);
    buf_puts(out, "}}");
}

static void elevenlabs_not_found(struct mimic_call *c)
{
    c->a->status = 404;
    c->a->content_type = "application/json";
    buf_puts(&c->a->body, "{\"detail\":\"Not Found\"}");
}

static size_t max_chars(const char *model)
{
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++)
        if (strcmp(limits[i].model, model) == 0)
            return limits[i].max_chars;
    return DEFAULT_MAX_CHARS;
}

static const struct mimic_format *find_format(const char *name)
{
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (strcmp(formats[i].name, name) == 0)
            return &formats[i];
    return NULL;
}

/* pydantic runs before authentication: bad JSON and a missing or non-string text are 422 with
 * any key or none. */
static int parse_body(struct mimic_call *c, json_t **root)
{
    *root = c->rq->too_big ? NULL : json_loadb(c->rq->body ? c->rq->body : "", c->rq->len, 0, NULL);
    if (!json_is_object(*root))
        return mimic_raise(c, "json_invalid", NULL);
    json_t *text = json_object_get(*root, "text");
    if (!text)
        return mimic_raise(c, "missing_text", NULL);
    if (!json_is_string(text))
        return mimic_raise(c, "text_not_string", NULL);
    return 0;
}

static int check_tier(struct mimic_call *c, const struct mimic_format *fmt)
{
    enum mimic_tier tier = mimic_tier_of(c->f->tier);
    if (tier >= fmt->min_tier)
        return 0;
    char msg[256];
    snprintf(msg, sizeof msg, "The output format %s requires you to be subscribed to %s tier or above.", fmt->name,
             fmt->min_tier == TIER_PRO ? "Pro" : "Creator");
    return mimic_raise_msg(c, "subscription_required", msg, fmt->name);
}

static int check_length(struct mimic_call *c, const char *text, const char *model)
{
    size_t n = utf8_count(text, strlen(text)), max = max_chars(model);
    if (n <= max)
        return 0;
    char msg[256];
    snprintf(msg, sizeof msg, "This request's text has %zu characters and exceeds the character limit of %zu "
             "characters for model %s.", n, max, model);
    return mimic_raise_msg(c, "max_character_limit_exceeded", msg, NULL);
}

/* The plan's limit when --max-concurrent sets none; the server enforces it (plan.h) and
 * sends current-concurrent-requests / maximum-concurrent-requests on every answer. */
static long elevenlabs_plan_concurrency(const struct faults *f)
{
    return concurrency[mimic_tier_of(f->tier)];
}

/* Over the limit: too_many_concurrent_requests with the help centre's text naming the limit; over
 * the rate (ElevenLabs sells no request rate): system_busy, its 429 that means "back off". */
static void elevenlabs_throttle(struct mimic_call *c, const struct mimic_throttle *t)
{
    if (!t->concurrency) {
        mimic_raise(c, "system_busy", NULL);
        return;
    }
    char n[24];
    snprintf(n, sizeof n, "%ld", t->limit);
    mimic_raise(c, "too_many_concurrent_requests", n);
}

/* ElevenLabs' order: body (422) -> key -> output_format -> voice -> model -> plan -> length. The
 * concurrency limit is the server's (plan.h), judged before any of this. */
static int elevenlabs_validate(struct mimic_call *c, struct mimic_speech *sp)
{
    json_t *root;
    bool present;
    int rc = parse_body(c, &root);
    if (rc == 0 && !mimic_key_ok(c, &present))
        rc = mimic_raise(c, present ? "invalid_api_key" : "missing_api_key", NULL);
    const char *of = c->rq->output_format ? c->rq->output_format : "mp3_44100_128";
    const struct mimic_format *fmt = find_format(of);
    if (rc == 0 && !fmt)
        rc = mimic_raise(c, "invalid_output_format", of);
    if (rc == 0 && fmt->audio == MIMIC_UNSUPPORTED)
        rc = mimic_raise(c, "unsupported_output_format", of);
    const char *voice = c->rq->path_voice ? c->rq->path_voice : "";
    if (rc == 0 && !mimic_list_has(mimic_list(c->f->voices, c->pv->voices), voice))
        rc = mimic_raise(c, "voice_not_found", voice);
    json_t *m = rc == 0 ? json_object_get(root, "model_id") : NULL;
    const char *model = json_is_string(m) ? json_string_value(m) : m ? "" : "eleven_multilingual_v2";
    if (rc == 0 && !mimic_list_has(mimic_list(c->f->models, c->pv->models), model))
        rc = mimic_raise(c, "model_not_found", model);
    if (rc == 0)
        rc = check_tier(c, fmt);
    if (rc == 0 && mimic_tier_of(c->f->tier) == TIER_FREE &&
        mimic_list_has(mimic_list(c->f->library_voices, "21m00Tcm4TlvDq8ikWAM"), voice))
        rc = mimic_raise(c, "paid_plan_required", voice);
    const char *text = rc == 0 ? json_string_value(json_object_get(root, "text")) : NULL;
    if (rc == 0)
        rc = check_length(c, text, model);
    if (rc == 0) {
        sp->text = mimic_strdup(text);
        sp->voice = mimic_strdup(voice);
        sp->model = mimic_strdup(model);
        sp->format = fmt;
        sp->stream = true;
    }
    json_decref(root);
    return rc;
}

const struct mimic_provider mimic_elevenlabs = {
    .name = "elevenlabs",
    .elevenlabs_route = true,
    .key_header = "xi-api-key",
    .key_prefix = "",
    .wav_placeholder = 0x7FFFFFFFu,
    .errors = errors,
    .nerrors = sizeof errors / sizeof errors[0],
    /* Premade voice ids: Rachel, Sarah, George, Adam, Antoni, Josh, Roger, Laura. */
    .voices = "21m00Tcm4TlvDq8ikWAM,EXAVITQu4vr4xnSDxMaL,JBFqnCBsd6RMkjVDRZzb,pNInz6obpgDQGcFmaJgB,"
              "ErXwobaYiN019PkySvjV,TxGEqnHWrfWFTfGW9XjX,CwhRBWXzGAHq8TQ4Fs17,FGY2WhTYpPnrIDTdsKH5",
    .models = "eleven_multilingual_v2,eleven_v3,eleven_flash_v2_5,eleven_turbo_v2_5,eleven_flash_v2,eleven_turbo_v2",
    .validate = elevenlabs_validate,
    .error_body = elevenlabs_body,
    .not_found = elevenlabs_not_found,
    .throttled = NULL,
    .throttle = elevenlabs_throttle,
    .plan_concurrency = elevenlabs_plan_concurrency,
    .keyless = false,
};
