/* provider_elevenlabs.c - the ElevenLabs /v1/text-to-speech/{voice_id} request shape and how
 * its errors read.
 *
 * Voices are ids of one account ("21m00Tcm4TlvDq8ikWAM"), so the type has no default voice:
 * provider.NAME.voice is required and the job's logical voice goes through provider.NAME.voices
 * (provider_voice_for); a logical name such as "alloy" is never sent. The voice travels in the
 * URL path, so it is percent-encoded: it must not be able to add path segments or a query. The
 * configured url may name the spot with "{voice_id}"
 * (https://api.elevenlabs.io/v1/text-to-speech/{voice_id}) or end where the voice goes.
 *
 * The output format is a query parameter (elevenlabs/elevenlabs-python
 * src/elevenlabs/text_to_speech/types/text_to_speech_convert_request_output_format.py lists
 * mp3_<rate>_<kbps>, pcm_8000 ... pcm_48000, ulaw_8000, alaw_8000, opus_48000_<kbps>). A job's
 * format is asked for natively where the API has it: mp3 as mp3_44100_128, ulaw_8000 as
 * ulaw_8000 (raw µ-law bytes, no header, wrapped in a µ-law WAV header in provider.c), wav_8000
 * and wav_16000 as pcm_8000 and pcm_16000. alaw_8000 asks for pcm_8000 and the writer encodes
 * A-law from it: the same rate, so nothing is resampled. Plain WAV jobs ask for pcm_24000, raw
 * 16-bit mono PCM that every tier may request (wav_44100 and pcm_44100 need the Pro tier; lower
 * tiers get 403 subscription_required), wrapped in a WAV header in provider.c; 24 kHz is also
 * OpenAI's rate, so a failover chain writes files of one rate. provider.NAME.output_format
 * (pcm_<rate> or wav_<rate>) overrides that for plain WAV jobs, and an output_format already in
 * the url wins over everything (the writer converts what it makes into the job's format).
 *
 * Text limits per model, from ElevenLabs' model documentation: eleven_v3 3,000 characters
 * (elevenlabs/elevenlabs-docs PR 1458), eleven_multilingual_v2 10,000, eleven_flash_v2_5 and
 * eleven_turbo_v2_5 40,000, their v2 forerunners 30,000; an unknown model is held to 10,000.
 * Beyond the limit ElevenLabs answers 400 max_character_limit_exceeded: skip, not the contact's.
 *
 * Errors come as {"detail":{"status","message"}} (elevenlabs/elevenlabs-docs PR 1317), newer
 * ones as {"detail":{"type","code","message","status","request_id"}} (dograh-hq/dograh issue
 * 290), and FastAPI's validation list {"detail":[{"loc","msg","type"}]}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "provider_ops.h"

#define ELEVENLABS_MODEL   "eleven_multilingual_v2"
#define ELEVENLABS_WAV     "pcm_24000"
#define ELEVENLABS_MAX     10000
#define VOICE_PLACEHOLDER  "{voice_id}"

static const struct provider_model_limit elevenlabs_limits[] = {
    { "eleven_v3", 3000 },
    { "eleven_multilingual_v2", 10000 },
    { "eleven_flash_v2_5", 40000 },     /* before eleven_flash_v2: rows match by prefix */
    { "eleven_turbo_v2_5", 40000 },
    { "eleven_flash_v2", 30000 },
    { "eleven_turbo_v2", 30000 },
};

#define SRC_VOICE404 "elevenlabs/elevenlabs-docs PR 1317 (404 voice_not_found)"
#define SRC_VOICE400 "skapadia3214/groq-voice issue 1 (400 voice_not_found)"
#define SRC_PLAN     "dograh-hq/dograh issue 290, OWASP/Nest issue 3859 (402 paid_plan_required)"
#define SRC_EL_ERR   "ElevenLabs API reference, errors"

/* First match wins; see classify.h for the principle. */
static const struct classify_rule elevenlabs_rules[] = {
    { 0, "voice_not_found", NULL, NULL, NULL, CLASS_PROVIDER, CAUSE_VOICE, SRC_VOICE404 },
    { 0, "voice_does_not_exist", NULL, NULL, NULL, CLASS_PROVIDER, CAUSE_VOICE, SRC_EL_ERR },
    { 0, "model_not_found", NULL, NULL, NULL, CLASS_PROVIDER, CAUSE_MODEL, SRC_EL_ERR },
    { 0, "invalid_model_id", NULL, NULL, NULL, CLASS_PROVIDER, CAUSE_MODEL, SRC_EL_ERR },
    { 0, "max_character_limit_exceeded", NULL, NULL, NULL, CLASS_SKIP, CAUSE_TOO_LONG, SRC_EL_ERR },
    { 0, "text_too_long", NULL, NULL, NULL, CLASS_SKIP, CAUSE_TOO_LONG, SRC_EL_ERR },
    { 0, "invalid_output_format", NULL, NULL, NULL, CLASS_PROVIDER, CAUSE_FORMAT, SRC_EL_ERR },
    { 0, "paid_plan_required", NULL, NULL, NULL, CLASS_PROVIDER, CAUSE_PLAN, SRC_PLAN },
    { 0, "payment_required", NULL, NULL, NULL, CLASS_PROVIDER, CAUSE_PLAN, SRC_PLAN },
    { 0, "subscription_required", NULL, NULL, NULL, CLASS_PROVIDER, CAUSE_PLAN, SRC_EL_ERR },
    { 0, "quota_exceeded", NULL, NULL, NULL, CLASS_PROVIDER, CAUSE_QUOTA,
      "elevenlabs/elevenlabs-python issue 13" },
    { 0, "insufficient_credits", NULL, NULL, NULL, CLASS_PROVIDER, CAUSE_QUOTA, SRC_EL_ERR },
    { 0, "invalid_api_key", NULL, NULL, NULL, CLASS_PROVIDER, CAUSE_ACCOUNT, SRC_EL_ERR },
    { 0, "detected_unusual_activity", NULL, NULL, NULL, CLASS_PROVIDER, CAUSE_ACCOUNT,
      "OWASP/Nest PR 3861" },
    { 0, "missing_permissions", NULL, NULL, NULL, CLASS_PROVIDER, CAUSE_ACCOUNT, SRC_EL_ERR },
    { 0, "needs_authorization", NULL, NULL, NULL, CLASS_PROVIDER, CAUSE_ACCOUNT, SRC_EL_ERR },
    { 401, NULL, NULL, NULL, NULL, CLASS_PROVIDER, CAUSE_ACCOUNT, SRC_EL_ERR },
    { 403, NULL, NULL, NULL, NULL, CLASS_PROVIDER, CAUSE_PLAN, SRC_EL_ERR },
    { 402, NULL, NULL, NULL, NULL, CLASS_PROVIDER, CAUSE_PLAN, SRC_PLAN },
    /* a 404 that names no voice or model: the path is wrong */
    { 404, NULL, NULL, NULL, NULL, CLASS_PROVIDER, CAUSE_URL, SRC_EL_ERR },
    /* FastAPI validation: loc names the field; the text is the contact's, model_id ours */
    { 0, NULL, NULL, "text", NULL, CLASS_CONTACT, CAUSE_NONE, "FastAPI validation errors" },
    { 0, NULL, NULL, "model_id", NULL, CLASS_PROVIDER, CAUSE_MODEL, "FastAPI validation errors" },
    { 0, NULL, NULL, "voice_id", NULL, CLASS_PROVIDER, CAUSE_VOICE, "FastAPI validation errors" },
    { 400, NULL, NULL, "*", NULL, CLASS_PROVIDER, CAUSE_FIELD, "FastAPI validation errors" },
    { 422, NULL, NULL, "*", NULL, CLASS_PROVIDER, CAUSE_FIELD, "FastAPI validation errors" },
};

/* RFC 3986 unreserved characters stay, every other byte becomes %XX. */
static void put_escaped(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '.' || c == '_' || c == '~';
        if (plain) {
            buf_putc(b, (char)c);
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            buf_append(b, esc, sizeof esc);
        }
    }
}

/* url with the voice in place: at "{voice_id}", or as a last path segment before any query. */
static void put_url_with_voice(struct buf *out, const char *url, const char *voice)
{
    const char *ph = strstr(url, VOICE_PLACEHOLDER);
    const char *cut = ph ? ph : url + strcspn(url, "?");
    buf_append(out, url, (size_t)(cut - url));
    if (!ph && (cut == url || cut[-1] != '/'))
        buf_putc(out, '/');
    put_escaped(out, voice);
    buf_puts(out, ph ? ph + strlen(VOICE_PLACEHOLDER) : cut);
}

/* The value of output_format in url's query, or NULL. */
static const char *url_output_format(const char *url)
{
    const char *q = strchr(url, '?');
    for (const char *p = q; p; p = strchr(p + 1, '&'))
        if (strncmp(p + 1, "output_format=", 14) == 0)
            return p + 15;
    return NULL;
}

/* The output_format that answers a job of format fmt with the least work left to the writer. */
static const char *native_format(const struct provider *pv, enum out_format fmt)
{
    switch (fmt) {
    case OUT_FORMAT_MP3:       return "mp3_44100_128";
    case OUT_FORMAT_ULAW_8000: return "ulaw_8000";
    case OUT_FORMAT_ALAW_8000: /* A-law is encoded from 8 kHz PCM: no resampling */
    case OUT_FORMAT_WAV_8000:  return "pcm_8000";
    case OUT_FORMAT_WAV_16000: return "pcm_16000";
    case OUT_FORMAT_WAV:       break;
    }
    return pv->output_format ? pv->output_format : ELEVENLABS_WAV;
}

/* What an answer in output format `name` holds: mp3_*, raw µ-law, raw PCM (pcm_rate) or WAV. */
static void answer_kind(const char *name, struct provider_asked *asked)
{
    asked->pcm_rate = strncmp(name, "pcm_", 4) == 0 ? atoi(name + 4) : 0;
    if (strncmp(name, "mp3_", 4) == 0)
        asked->kind = CONVERT_IN_MP3;
    else if (strcmp(name, "ulaw_8000") == 0)
        asked->kind = CONVERT_IN_ULAW_8000;
    else
        asked->kind = CONVERT_IN_WAV;
}

/* Decides the format (the url's, else the job's native one, see native_format) and adds it to
 * the query unless the url already chose one. */
static void put_output_format(struct buf *url, const struct provider *pv, enum out_format fmt,
                              struct provider_asked *asked)
{
    const char *in_url = url_output_format(url->data);
    const char *name = native_format(pv, fmt);
    if (in_url)
        snprintf(asked->output_format, sizeof asked->output_format, "%.*s",
                 (int)strcspn(in_url, "&#"), in_url);
    else
        snprintf(asked->output_format, sizeof asked->output_format, "%s", name);
    answer_kind(asked->output_format, asked);
    if (in_url)
        return;
    if (!strchr(url->data, '?'))
        buf_putc(url, '?');
    else if (url->data[url->len - 1] != '?' && url->data[url->len - 1] != '&')
        buf_putc(url, '&');
    buf_printf(url, "output_format=%s", name);
}

static const char *accept_for(const struct provider_asked *asked)
{
    if (asked->kind == CONVERT_IN_MP3)
        return "audio/mpeg";
    if (asked->kind == CONVERT_IN_ULAW_8000)
        return "audio/basic";   /* µ-law's media type (RFC 2046) */
    return asked->pcm_rate > 0 ? "*/*" : "audio/wav";
}

static int elevenlabs_build(const struct provider *pv, const struct job *job,
                            struct provider_request *req, char *err, size_t errlen)
{
    enum out_format fmt;
    struct provider_asked *asked = &req->asked;
    if (provider_job_format(job, &fmt, err, errlen) ||
        provider_voice_for(pv, job, asked->voice, sizeof asked->voice, err, errlen) ||
        provider_model_for(pv, job, asked->model, sizeof asked->model, err, errlen))
        return -1;
    put_url_with_voice(&req->url, pv->url, asked->voice);
    put_output_format(&req->url, pv, fmt, asked);
    provider_request_header(req, "Content-Type: application/json");
    provider_request_header(req, "Accept: %s", accept_for(asked));
    if (pv->api_key)
        provider_request_header(req, "xi-api-key: %s", pv->api_key);
    buf_putc(&req->body, '{');
    jsonw_key(&req->body, "text");
    jsonw_cstr(&req->body, job->text);
    jsonw_key(&req->body, "model_id");
    jsonw_cstr(&req->body, asked->model);
    buf_putc(&req->body, '}');
    return 0;
}

static enum outcome_class elevenlabs_refine(const struct provider *pv,
                                            const struct provider_asked *asked,
                                            enum outcome_class cls, long http_status,
                                            const char *body, size_t len, char *cause,
                                            size_t causelen)
{
    (void)pv;
    return provider_refine_by_rules(elevenlabs_rules,
                                    sizeof elevenlabs_rules / sizeof elevenlabs_rules[0], asked,
                                    cls, http_status, body, len, cause, causelen);
}

/* pcm_<rate> or wav_<rate>, rate 8000-48000: what can be saved as a WAV file. */
static int elevenlabs_check_format(const char *name, const char *format, char *err, size_t errlen)
{
    bool kind = strncmp(format, "pcm_", 4) == 0 || strncmp(format, "wav_", 4) == 0;
    const char *digits = format + (kind ? 4 : 0);
    char *end = NULL;
    long rate = kind ? strtol(digits, &end, 10) : 0;
    if (kind && end != digits && *end == '\0' && rate >= 8000 && rate <= 48000)
        return 0;
    snprintf(err, errlen, "provider.%s.output_format: \"%.32s\" is not pcm_<rate> or wav_<rate> "
             "(e.g. pcm_24000, wav_22050)", name, format);
    return -1;
}

const struct provider_ops provider_elevenlabs_ops = {
    .type_name = "elevenlabs",
    .http = true,
    .default_max_text_chars = ELEVENLABS_MAX,
    .model_limits = elevenlabs_limits,
    .n_model_limits = sizeof elevenlabs_limits / sizeof elevenlabs_limits[0],
    .default_model = ELEVENLABS_MODEL,
    .default_voice = NULL,              /* voice ids are per account: provider.NAME.voice */
    .max_text_bytes = 0,
    .start = provider_http_start,
    .build = elevenlabs_build,
    .refine_class = elevenlabs_refine,
    .check_output_format = elevenlabs_check_format,
};
