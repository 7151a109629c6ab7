/* provider_openai.c - the OpenAI /v1/audio/speech request shape and how its errors read.
 *
 * The same shape is spoken by Kokoro-FastAPI, voxcast-ttsd and other "OpenAI-compatible"
 * servers, so the defaults are OpenAI's and the key is optional (a local server needs none).
 *
 * Request: {"model","input","voice","response_format"}. The voice and model are the job's
 * logical names translated by provider.NAME.voices / .models (provider_voice_for). MP3 jobs ask
 * for "mp3", which the speech endpoint encodes itself (OpenAI API reference,
 * audio/createSpeech: response_format mp3, opus, aac, flac, wav, pcm). Every other job asks
 * for "wav" (24 kHz mono; OpenAI streams it with 0xFFFFFFFF placeholder sizes, sealed in
 * provider.c) unless provider.NAME.output_format says "pcm": raw 16-bit mono at 24 kHz, wrapped
 * in a WAV header. The endpoint has no 8 kHz or G.711 output, so the telephony formats
 * (ulaw_8000, alaw_8000, wav_8000, wav_16000) are converted from that WAV by the writer.
 *
 * Text limits per model: OpenAI documents 4096 characters for `input`; gpt-4o-mini-tts also
 * stops at 2000 input tokens ("Input of 2132 tokens is over the maximum input limit of 2000
 * tokens"). A token is a few Latin letters but about one CJK character (and rare characters or
 * emoji can take more than one), so the only character count that always fits is 2000: that
 * is its row, and an answer that still says "too long" skips this provider for that job.
 *
 * Errors come as {"error":{"message","type","param","code"}} (OpenAI API reference, "Error
 * codes"; the openai-python client raises them with this body), or from Kokoro-FastAPI as
 * {"detail":{"error","message","type"}} (remsky/Kokoro-FastAPI
 * api/src/routers/openai_compatible.py). The table below reads them; see classify.h for the
 * principle. */
#include <stdio.h>
#include <string.h>

#include "jsonw.h"
#include "provider_ops.h"

#define OPENAI_MODEL       "tts-1"
#define OPENAI_VOICE       "alloy"
#define OPENAI_MAX_CHARS   4096
#define OPENAI_PCM_RATE    24000    /* "pcm": 24 kHz 16-bit signed little-endian, no header */

static const struct provider_model_limit openai_limits[] = {
    { "gpt-4o-mini-tts", 2000 },    /* 2000 input tokens; see the comment at the top */
    { "tts-1", OPENAI_MAX_CHARS },  /* tts-1 and tts-1-hd */
};

#define SRC_OPENAI_CODES "OpenAI API reference, Error codes; help.openai.com article 6614457"
#define SRC_KOKORO "remsky/Kokoro-FastAPI api/src/routers/openai_compatible.py"

/* First match wins: quota before everything, "too long" before the param rows (OpenAI names
 * no param for it), the contact's own field before the catch-all for other fields. */
static const struct classify_rule openai_rules[] = {
    /* billing: waiting or retrying will not bring the credit back */
    { 0, "insufficient_quota", NULL, NULL, NULL, CLASS_PROVIDER, CAUSE_QUOTA, SRC_OPENAI_CODES },
    { 0, NULL, "insufficient_quota", NULL, NULL, CLASS_PROVIDER, CAUSE_QUOTA, SRC_OPENAI_CODES },
    { 0, "credit_balance_exhausted", NULL, NULL, NULL, CLASS_PROVIDER, CAUSE_QUOTA, SRC_OPENAI_CODES },
    { 0, "organization_spend_limit_exceeded", NULL, NULL, NULL, CLASS_PROVIDER, CAUSE_QUOTA,
      SRC_OPENAI_CODES },
    { 0, "project_spend_limit_exceeded", NULL, NULL, NULL, CLASS_PROVIDER, CAUSE_QUOTA,
      SRC_OPENAI_CODES },
    { 0, "billing_hard_limit_reached", NULL, NULL, NULL, CLASS_PROVIDER, CAUSE_QUOTA,
      SRC_OPENAI_CODES },
    { 0, "billing_not_active", NULL, NULL, NULL, CLASS_PROVIDER, CAUSE_QUOTA, SRC_OPENAI_CODES },
    /* the model */
    { 0, "model_not_found", NULL, NULL, NULL, CLASS_PROVIDER, CAUSE_MODEL, SRC_OPENAI_CODES },
    { 0, "invalid_model", NULL, NULL, NULL, CLASS_PROVIDER, CAUSE_MODEL, SRC_KOKORO },
    /* too long for this model: "Input of 2132 tokens is over the maximum input limit of 2000
     * tokens" (troykelly/live-news-break#222), the 4096-character check's "string_too_long",
     * FastAPI servers' 422 string_too_long */
    { 400, NULL, NULL, NULL, "maximum input limit", CLASS_SKIP, CAUSE_TOO_LONG,
      "troykelly/live-news-break issue 222" },
    { 0, "string_too_long", NULL, NULL, NULL, CLASS_SKIP, CAUSE_TOO_LONG, "pydantic string_too_long" },
    { 0, NULL, NULL, NULL, "string_too_long", CLASS_SKIP, CAUSE_TOO_LONG, "pydantic string_too_long" },
    { 400, NULL, NULL, NULL, "too long", CLASS_SKIP, CAUSE_TOO_LONG, "generic" },
    /* the voice: OpenAI 400 param "voice" ("Invalid value: 'x'. Supported values are ...");
     * Kokoro 400 validation_error "Voice 'x' not found. Available voices: ..." */
    { 0, NULL, NULL, "voice", NULL, CLASS_PROVIDER, CAUSE_VOICE, SRC_OPENAI_CODES },
    { 400, NULL, NULL, NULL, "voice '", CLASS_PROVIDER, CAUSE_VOICE, SRC_KOKORO },
    { 400, NULL, NULL, NULL, "voice combination", CLASS_PROVIDER, CAUSE_VOICE, SRC_KOKORO },
    { 0, NULL, NULL, "model", NULL, CLASS_PROVIDER, CAUSE_MODEL, SRC_OPENAI_CODES },
    /* the account */
    { 401, NULL, NULL, NULL, NULL, CLASS_PROVIDER, CAUSE_ACCOUNT, SRC_OPENAI_CODES },
    { 403, NULL, NULL, NULL, NULL, CLASS_PROVIDER, CAUSE_ACCOUNT, SRC_OPENAI_CODES },
    { 402, NULL, NULL, NULL, NULL, CLASS_PROVIDER, CAUSE_PLAN, "RFC 9110 402" },
    /* "Invalid URL (POST /v1/audio/speach)" and any other 404: no text makes a path vanish */
    { 404, NULL, NULL, NULL, NULL, CLASS_PROVIDER, CAUSE_URL, SRC_OPENAI_CODES },
    /* the text itself is the contact's; any other named field is our request's */
    { 0, NULL, NULL, "input", NULL, CLASS_CONTACT, CAUSE_NONE, SRC_OPENAI_CODES },
    { 400, NULL, NULL, "*", NULL, CLASS_PROVIDER, CAUSE_FIELD, SRC_OPENAI_CODES },
    { 422, NULL, NULL, "*", NULL, CLASS_PROVIDER, CAUSE_FIELD, "FastAPI validation errors" },
};

/* The response_format, the kind of answer it makes and, for raw PCM, its rate. */
static void openai_format(const struct provider *pv, enum out_format fmt,
                          struct provider_asked *asked)
{
    bool mp3 = fmt == OUT_FORMAT_MP3;
    const char *name = mp3 ? "mp3" : pv->output_format ? pv->output_format : "wav";
    snprintf(asked->output_format, sizeof asked->output_format, "%s", name);
    asked->pcm_rate = strcmp(name, "pcm") == 0 ? OPENAI_PCM_RATE : 0;
    asked->kind = mp3 ? CONVERT_IN_MP3 : CONVERT_IN_WAV;
}

static int openai_build(const struct provider *pv, const struct job *job,
                        struct provider_request *req, char *err, size_t errlen)
{
    enum out_format fmt;
    struct provider_asked *asked = &req->asked;
    if (provider_job_format(job, &fmt, err, errlen) ||
        provider_voice_for(pv, job, asked->voice, sizeof asked->voice, err, errlen) ||
        provider_model_for(pv, job, asked->model, sizeof asked->model, err, errlen))
        return -1;
    openai_format(pv, fmt, asked);
    buf_puts(&req->url, pv->url);
    provider_request_header(req, "Content-Type: application/json");
    if (pv->api_key)
        provider_request_header(req, "Authorization: Bearer %s", pv->api_key);
    buf_putc(&req->body, '{');
    jsonw_key(&req->body, "model");
    jsonw_cstr(&req->body, asked->model);
    jsonw_key(&req->body, "input");
    jsonw_cstr(&req->body, job->text);
    jsonw_key(&req->body, "voice");
    jsonw_cstr(&req->body, asked->voice);
    jsonw_key(&req->body, "response_format");
    jsonw_cstr(&req->body, asked->output_format);
    buf_putc(&req->body, '}');
    return 0;
}

static enum outcome_class openai_refine(const struct provider *pv, const struct provider_asked *asked,
                                        enum outcome_class cls, long http_status, const char *body,
                                        size_t len, char *cause, size_t causelen)
{
    (void)pv;
    return provider_refine_by_rules(openai_rules, sizeof openai_rules / sizeof openai_rules[0],
                                    asked, cls, http_status, body, len, cause, causelen);
}

/* The WAV-making formats of the speech endpoint: "wav", or "pcm" wrapped here. */
static int openai_check_format(const char *name, const char *format, char *err, size_t errlen)
{
    if (strcmp(format, "wav") == 0 || strcmp(format, "pcm") == 0)
        return 0;
    snprintf(err, errlen, "provider.%s.output_format: \"%.32s\" is not wav or pcm (the formats "
             "voxcast can save as WAV from an openai-type provider)", name, format);
    return -1;
}

const struct provider_ops provider_openai_ops = {
    .type_name = "openai",
    .http = true,
    .default_max_text_chars = OPENAI_MAX_CHARS,
    .model_limits = openai_limits,
    .n_model_limits = sizeof openai_limits / sizeof openai_limits[0],
    .default_model = OPENAI_MODEL,
    .default_voice = OPENAI_VOICE,
    .max_text_bytes = 0,
    .start = provider_http_start,
    .build = openai_build,
    .refine_class = openai_refine,
    .check_output_format = openai_check_format,
};
