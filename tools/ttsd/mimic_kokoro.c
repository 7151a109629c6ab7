/* mimic_kokoro.c - Kokoro-FastAPI's OpenAI-compatible route as it answers: POST /v1/audio/speech.
 *
 * Sources (remsky/Kokoro-FastAPI, read with the project's search tools; no code copied):
 *  - api/src/routers/openai_compatible.py create_speech(): a model missing from
 *    openai_mappings.json is 400 {"detail":{"error":"invalid_model","message":"Unsupported model:
 *    X","type":"invalid_request_error"}}; a voice (after the OpenAI-name mapping, each part of a
 *    "a+b" combination) missing from the loaded voices raises ValueError, answered 400
 *    {"detail":{"error":"validation_error","message":"Voice 'X' not found. Available voices: <sorted,
 *    comma-separated>","type":"invalid_request_error"}}; failures while rendering are 500
 *    {"detail":{"error":"processing_error",...,"type":"server_error"}}. `stream` true (the
 *    default) answers a StreamingResponse with Transfer-Encoding: chunked; false a whole body.
 *  - api/src/core/openai_mappings.json: models tts-1, tts-1-hd, kokoro, gpt-4o-mini-tts; OpenAI
 *    voice names mapped to Kokoro voices (alloy -> am_v0adam, fable -> af_sarah, ...).
 *  - api/src/structures/schemas.py OpenAISpeechRequest: model default "kokoro", voice default
 *    "af_heart", response_format a Literal of mp3 (default), opus, aac, flac, wav, pcm; unknown
 *    fields ignored (pydantic's default). A missing input or a format outside the Literal is
 *    FastAPI's 422 {"detail":[{"type","loc","msg","input",...}]}.
 *  - Kokoro-FastAPI PR #94: streamed WAV carries 0xFFFFFFFF in the RIFF and data sizes, on purpose
 *    (matching OpenAI); audio is 24 kHz mono 16-bit (StreamingAudioWriter(sample_rate=24000)).
 * Departures: opus, aac and flac get Kokoro's 400 validation_error shape saying this server cannot
 * encode them; with "stream": false the WAV header carries the true sizes (a whole file). No API
 * key is checked: Kokoro-FastAPI has none. Kokoro's 422 bodies echo the request as "input"; ours
 * carry null for a missing field. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "jsonw.h"
#include "mimic_provider.h"

static const struct mimic_format formats[] = {
    {"mp3", MIMIC_MP3, 24000, "audio/mpeg", TIER_FREE},
    {"wav", MIMIC_WAV, 24000, "audio/wav", TIER_FREE},
    {"pcm", MIMIC_PCM, 24000, "audio/pcm", TIER_FREE},
    {"opus", MIMIC_UNSUPPORTED, 0, "audio/opus", TIER_FREE},
    {"aac", MIMIC_UNSUPPORTED, 0, "audio/aac", TIER_FREE},
    {"flac", MIMIC_UNSUPPORTED, 0, "audio/flac", TIER_FREE},
};

/* openai_mappings.json "voices". */
static const char *const voice_map[][2] = {
    {"alloy", "am_v0adam"}, {"ash", "af_v0nicole"}, {"coral", "bf_v0emma"},   {"echo", "af_v0bella"}, {"fable", "af_sarah"},
    {"onyx", "bm_george"},  {"nova", "bf_v0isabella"}, {"sage", "am_michael"}, {"shimmer", "af_sky"},
};

#define IRE "invalid_request_error"

static const struct mimic_error errors[] = {
    {"invalid_model", 400, IRE, "invalid_model", NULL, NULL, "Unsupported model: %s"},
    {"voice_not_found", 400, IRE, "validation_error", NULL, NULL, "Voice '%s' not found"},   /* message built */
    {"unsupported_response_format", 400, IRE, "validation_error", NULL, NULL,
     "response_format '%s' is a Kokoro format voxcast-ttsd cannot encode (it makes mp3, wav and pcm)"},
    {"missing_input", 422, "missing", NULL, NULL, "input", "Field required"},
    {"invalid_response_format", 422, "literal_error", NULL, NULL, "response_format",
     "Input should be 'mp3', 'opus', 'aac', 'flac', 'wav' or 'pcm'"},
    {"json_invalid", 422, "json_invalid", NULL, NULL, NULL, "JSON decode error"},
    {"processing_error", 500, "server_error", "processing_error", NULL, NULL, "%s"},
    /* Kokoro-FastAPI limits nothing itself; these are the account's refusals (plan.h) in its
     * detail shape, codes and texts ours. */
    {"too_many_concurrent_requests", 429, IRE, "too_many_concurrent_requests", NULL, NULL,
     "Too many concurrent requests: at most %s at once"},
    {"rate_limit_exceeded", 429, IRE, "rate_limit_exceeded", NULL, NULL,
     "Rate limit exceeded: retry in %s"},
};

/* FastAPI's 422: {"detail":[{"type":T,"loc":["body",P],"msg":M,"input":I[,"ctx":{...}]}]} */
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
    if (strcmp(e->type, "literal_error") == 0)
        buf_puts(out, ",\"ctx\":{\"expected\":\"'mp3', 'opus', 'aac', 'flac', 'wav' or 'pcm'\"}");
    buf_puts(out, "}]}");
}

static void kokoro_body(struct buf *out, const struct mimic_error *e, const char *message, const char *arg)
{
    if (e->status == 422) {
        fastapi_422(out, e, message, arg);
        return;
    }
    buf_puts(out, "{\"detail\":{\"error\":");
    jsonw_cstr(out, e->code ? e->code : "processing_error");
    buf_puts(out, ",\"message\":");
    jsonw_cstr(out, message);
    buf_puts(out, ",\"type\":");
    jsonw_cstr(out, e->type);
    buf_puts(out, "}}");
}

/* FastAPI's answer for a path no route serves. */
static void kokoro_not_found(struct mimic_call *c)
{
    c->a->status = 404;
    c->a->content_type = "application/json";
    buf_puts(&c->a->body, "{\"detail\":\"Not Found\"}");
}

static const char *mapped_voice(const char *name)
{
    for (size_t i = 0; i < sizeof voice_map / sizeof voice_map[0]; i++)
        if (strcmp(voice_map[i][0], name) == 0)
            return voice_map[i][1];
    return name;
}

/* Each voice of a combination ("af_bella+af_sky(0.3)") must exist after the OpenAI mapping. */
static int check_voice(struct mimic_call *c, const char *voice)
{
    const char *list = mimic_list(c->f->voices, c->pv->voices);
    char part[128];
    for (const char *p = voice; *p;) {
        size_t m = strcspn(p, "+-");
        size_t name_len = strcspn(p, "+-(");
        if (name_len > m)
            name_len = m;
        snprintf(part, sizeof part, "%.*s", (int)(name_len < sizeof part ? name_len : sizeof part - 1), p);
        const char *name = mapped_voice(part);
        if (!mimic_list_has(list, name)) {
            struct buf msg = {0};
            buf_printf(&msg, "Voice '%s' not found. Available voices: ", name);
            mimic_list_quoted(list, true, NULL, &msg);
            mimic_raise_msg(c, "voice_not_found", msg.data, name);
            buf_free(&msg);
            return -1;
        }
        p += m + (p[m] != '\0');
    }
    return 0;
}

static int take_format(struct mimic_call *c, json_t *root, struct mimic_speech *sp)
{
    json_t *f = json_object_get(root, "response_format");
    const char *name = f ? (json_is_string(f) ? json_string_value(f) : "") : "mp3";
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        if (strcmp(formats[i].name, name) == 0) {
            sp->format = &formats[i];
            return 0;
        }
    }
    return mimic_raise(c, "invalid_response_format", name);
}

static void kokoro_throttle(struct mimic_call *c, const struct mimic_throttle *t)
{
    char arg[FAULTS_NAME_MAX + 16];
    if (t->concurrency)
        snprintf(arg, sizeof arg, "%ld", t->limit);
    else
        snprintf(arg, sizeof arg, "%s", c->f->ratelimit_reset);
    mimic_raise(c, t->concurrency ? "too_many_concurrent_requests" : "rate_limit_exceeded", arg);
}

/* Kokoro's order: pydantic (JSON, input, response_format) -> model -> voice -> what it cannot make. */
static int kokoro_validate(struct mimic_call *c, struct mimic_speech *sp)
{
    json_t *root = c->rq->too_big ? NULL : json_loadb(c->rq->body ? c->rq->body : "", c->rq->len, 0, NULL);
    int rc = json_is_object(root) ? 0 : mimic_raise(c, "json_invalid", NULL);
    json_t *input = rc == 0 ? json_object_get(root, "input") : NULL;
    if (rc == 0 && !json_is_string(input))
        rc = mimic_raise(c, "missing_input", NULL);
    if (rc == 0)
        rc = take_format(c, root, sp);
    json_t *m = rc == 0 ? json_object_get(root, "model") : NULL;
    const char *model = json_is_string(m) ? json_string_value(m) : "kokoro";
    if (rc == 0 && !mimic_list_has(mimic_list(c->f->models, c->pv->models), model))
        rc = mimic_raise(c, "invalid_model", model);
    json_t *v = rc == 0 ? json_object_get(root, "voice") : NULL;
    const char *voice = json_is_string(v) ? json_string_value(v) : "af_heart";
    if (rc == 0)
        rc = check_voice(c, voice);
    if (rc == 0 && sp->format->audio == MIMIC_UNSUPPORTED)
        rc = mimic_raise(c, "unsupported_response_format", sp->format->name);
    if (rc == 0) {
        sp->text = mimic_strdup(json_string_value(input));
        sp->voice = mimic_strdup(voice);
        sp->model = mimic_strdup(model);
        sp->stream = !json_is_false(json_object_get(root, "stream"));
    }
    json_decref(root);
    return rc;
}

const struct mimic_provider mimic_kokoro = {
    .name = "kokoro",
    .elevenlabs_route = false,
    .key_header = "Authorization",
    .key_prefix = "Bearer ",
    .wav_placeholder = 0xFFFFFFFFu,
    .errors = errors,
    .nerrors = sizeof errors / sizeof errors[0],
    /* The English voices of Kokoro-82M v1.0 that Kokoro-FastAPI loads. */
    .voices = "af_alloy,af_aoede,af_bella,af_heart,af_jessica,af_kore,af_nicole,af_nova,af_river,af_sarah,af_sky,"
              "am_adam,am_echo,am_eric,am_fenrir,am_liam,am_michael,am_onyx,am_puck,bf_alice,bf_emma,bf_isabella,"
              "bf_lily,bm_daniel,bm_fable,bm_george,bm_lewis",
    .models = "tts-1,tts-1-hd,kokoro,gpt-4o-mini-tts",
    .validate = kokoro_validate,
    .error_body = kokoro_body,
    .not_found = kokoro_not_found,
    .throttled = NULL,
    .throttle = kokoro_throttle,
    .plan_concurrency = NULL,
    .keyless = true,
};
