/* mimic_openai.c - the OpenAI speech API as it answers: POST /v1/audio/speech.
 *
 * Sources (read with the project's search tools; no code copied):
 *  - OpenAI API reference, audio/createSpeech (as quoted in lidge-jun/opencodex PR #5374): fields
 *    model, input (at most 4096 characters), voice, instructions, response_format (mp3 default,
 *    opus, aac, flac, wav, pcm), speed (0.25-4.0), stream_format; voices alloy ash ballad coral
 *    echo fable nova onyx sage shimmer verse marin cedar; models tts-1, tts-1-hd,
 *    gpt-4o-mini-tts.
 *  - speaches-ai/speaches issue #493 (hexdump of a real answer) and remsky/Kokoro-FastAPI PR #94:
 *    response_format wav is streamed with 0xFFFFFFFF in the RIFF and data sizes, 24 kHz mono
 *    16-bit; pcm is the same samples with no header.
 *  - The error envelope {"error":{"message","type","param","code"}} and its texts: openai-python's
 *    error handling and many reported bodies (invalid_api_key "Incorrect API key provided",
 *    model_not_found "The model `x` does not exist or you do not have access to it.", 429
 *    rate_limit_exceeded with type "requests", insufficient_quota with type "insufficient_quota",
 *    "Unrecognized request argument supplied: x"). Invalid voices and over-long input come back
 *    as 400 with pydantic's error list as the message ("Input should be 'nova', 'shimmer', ...",
 *    reported in many client changelogs; string_too_long with max_length 4096).
 *  - credit_balance_exhausted, organization_spend_limit_exceeded, project_spend_limit_exceeded:
 *    codes reported by clients as 429s with billing meaning; their message texts are not public,
 *    so ours say what they mean (marked below).
 * Departures: opus, aac and flac are real formats this server cannot encode: they get a 400
 * naming that (unsupported_response_format) rather than a body in the wrong codec. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "jsonw.h"
#include "mimic_provider.h"
#include "utf8.h"

#define OPENAI_MAX_INPUT_CHARS 4096

static const struct mimic_format formats[] = {
    {"mp3", MIMIC_MP3, 24000, "audio/mpeg", TIER_FREE},
    {"wav", MIMIC_WAV, 24000, "audio/wav", TIER_FREE},
    {"pcm", MIMIC_PCM, 24000, "audio/pcm", TIER_FREE},
    {"opus", MIMIC_UNSUPPORTED, 0, "audio/opus", TIER_FREE},
    {"aac", MIMIC_UNSUPPORTED, 0, "audio/aac", TIER_FREE},
    {"flac", MIMIC_UNSUPPORTED, 0, "audio/flac", TIER_FREE},
};

static const char *const known_fields[] = {"model", "input", "voice", "instructions", "response_format", "speed",
                                           "stream_format"};

#define IRE "invalid_request_error"

static const struct mimic_error errors[] = {
    {"invalid_api_key", 401, IRE, "invalid_api_key", NULL, NULL,
     "Incorrect API key provided: %s. You can find your API key at https://platform.openai.com/account/api-keys."},
    {"missing_api_key", 401, IRE, NULL, NULL, NULL,
     "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer "
     "auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're "
     "accessing the API from your browser and are prompted for a username and password. You can obtain an API "
     "key from https://platform.openai.com/account/api-keys."},
    {"invalid_json", 400, IRE, NULL, NULL, NULL,
     "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP "
     "library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have "
     "trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)"},
    {"unknown_parameter", 400, IRE, NULL, NULL, NULL, "Unrecognized request argument supplied: %s"},
    {"missing_model", 400, IRE, NULL, NULL, NULL, "you must provide a model parameter"},
    {"model_not_found", 404, IRE, "model_not_found", NULL, NULL,
     "The model `%s` does not exist or you do not have access to it."},
    {"missing_input", 400, IRE, NULL, NULL, "input",
     "[{'type': 'missing', 'loc': ('body', 'input'), 'msg': 'Field required', 'input': None}]"},
    {"input_too_long", 400, IRE, NULL, NULL, "input",
     "[{'type': 'string_too_long', 'loc': ('body', 'input'), 'msg': 'String should have at most 4096 "
     "characters', 'ctx': {'max_length': 4096}}]"},
    {"missing_voice", 400, IRE, NULL, NULL, "voice",
     "[{'type': 'missing', 'loc': ('body', 'voice'), 'msg': 'Field required', 'input': None}]"},
    {"invalid_voice", 400, IRE, NULL, NULL, "voice", "Input should be one of the voices"},   /* message built */
    {"invalid_response_format", 400, IRE, NULL, NULL, "response_format",
     "[{'type': 'enum', 'loc': ('body', 'response_format'), 'msg': \"Input should be 'mp3', 'opus', 'aac', "
     "'flac', 'wav' or 'pcm'\", 'input': '%s'}]"},
    {"unsupported_response_format", 400, IRE, NULL, NULL, "response_format",
     "response_format '%s' is an OpenAI format voxcast-ttsd cannot encode (it makes mp3, wav and pcm)"},
    {"invalid_speed", 400, IRE, NULL, NULL, "speed", "speed must be a number from 0.25 to 4.0"},
    {"rate_limit_exceeded", 429, "requests", "rate_limit_exceeded", NULL, NULL,
     "Rate limit reached for %s in organization org-voxcastttsd on requests per min (RPM): Limit 3, Used 3, "
     "Requested 1. Please try again in 20s. Visit https://platform.openai.com/account/rate-limits to learn more."},
    {"insufficient_quota", 429, "insufficient_quota", "insufficient_quota", NULL, NULL,
     "You exceeded your current quota, please check your plan and billing details. For more information on this "
     "error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors."},
    /* The next three texts are ours (the codes are real, their wording is not public). */
    {"credit_balance_exhausted", 429, "insufficient_quota", "credit_balance_exhausted", NULL, NULL,
     "Your credit balance is exhausted. Add credits to your organization's billing to continue."},
    {"organization_spend_limit_exceeded", 429, "insufficient_quota", "organization_spend_limit_exceeded", NULL, NULL,
     "Your organization has reached its spend limit. Raise it in your organization's limits to continue."},
    {"project_spend_limit_exceeded", 429, "insufficient_quota", "project_spend_limit_exceeded", NULL, NULL,
     "Your project has reached its spend limit. Raise it in the project's limits to continue."},
    {"conflict", 409, IRE, "conflict", NULL, NULL, "The request conflicts with another request in progress."},
    {"server_error", 500, "server_error", NULL, NULL, NULL,
     "The server had an error while processing your request. Sorry about that!"},
    {"engine_overloaded", 503, "server_error", NULL, NULL, NULL,
     "The engine is currently overloaded, please try again later."},
};

/* {"error":{"message":M,"type":T,"param":P,"code":C}} */
static void openai_body(struct buf *out, const struct mimic_error *e, const char *message, const char *arg)
{
    (void)arg;
    buf_puts(out, "{\"error\":{\"message\":");
    jsonw_cstr(out, message);
    buf_puts(out, ",\"type\":");
    jsonw_cstr(out, e->type);
    buf_puts(out, ",\"param\":");
    jsonw_cstr(out, e->param);
    buf_puts(out, ",\"code\":");
    jsonw_cstr(out, e->code);
    buf_puts(out, "}}");
}

/* OpenAI's answer for a path it does not serve. */
static void openai_not_found(struct mimic_call *c)
{
    const struct mimic_error e = {"not_found", 404, IRE, NULL, NULL, NULL, NULL};
    char msg[512];
    snprintf(msg, sizeof msg, "Invalid URL (%s %s)", c->rq->method, c->rq->url);
    c->a->status = 404;
    c->a->content_type = "application/json";
    openai_body(&c->a->body, &e, msg, NULL);
}

/* x-ratelimit-* as OpenAI sends them on every answer; on a 429 of type "requests" they say the
 * window is spent and when it resets (ratelimit_reset, e.g. "1s", "6m0s", "12ms"). */
static void openai_throttled(struct mimic_call *c, const struct mimic_error *e)
{
    if (strcmp(e->type, "requests") != 0)
        return;
    mimic_add_header(c->a, "x-ratelimit-limit-requests", "3");
    mimic_add_header(c->a, "x-ratelimit-remaining-requests", "0");
    mimic_add_header(c->a, "x-ratelimit-reset-requests", c->f->ratelimit_reset);
    if (c->f->retry_after_ms != FAULTS_UNSET) {
        char v[16];
        snprintf(v, sizeof v, "%d", c->f->retry_after_ms);
        mimic_add_header(c->a, "retry-after-ms", v);
    }
}

/* The account's refusal. OpenAI limits requests per minute, not requests in flight: both refusals
 * are rate_limit_exceeded (type "requests") with x-ratelimit-limit-requests the limit per minute
 * (rate x 60), x-ratelimit-reset-requests and Retry-After until a token is back; a concurrency
 * refusal (a limit OpenAI does not have: ours) says so in its message. */
static void openai_throttle(struct mimic_call *c, const struct mimic_throttle *t)
{
    char msg[512], limit[32];
    if (t->concurrency) {
        snprintf(msg, sizeof msg, "Rate limit reached for concurrent requests in organization org-voxcastttsd: "
                 "Limit %ld, Used %ld, Requested 1. Please try again once a request has finished.", t->limit, t->limit);
        mimic_raise_msg(c, "rate_limit_exceeded", msg, NULL);
        return;
    }
    long rpm = (long)(t->rate * 60.0 + 0.5);
    snprintf(msg, sizeof msg, "Rate limit reached for requests in organization org-voxcastttsd on requests per min "
             "(RPM): Limit %ld, Used %ld, Requested 1. Please try again in %s. Visit "
             "https://platform.openai.com/account/rate-limits to learn more.", rpm, rpm, c->f->ratelimit_reset);
    mimic_raise_msg(c, "rate_limit_exceeded", msg, NULL);
    snprintf(limit, sizeof limit, "%ld", rpm);
    mimic_set_header(c->a, "x-ratelimit-limit-requests", limit);
}

/* The key as OpenAI echoes a wrong one: its first 3 and last 4 characters. */
static void masked_key(const char *v, char *out, size_t outlen)
{
    if (v && strncasecmp(v, "Bearer ", 7) == 0)
        v += 7;
    size_t n = v ? strlen(v) : 0;
    if (n <= 8) {
        snprintf(out, outlen, "%s", "********");
        return;
    }
    snprintf(out, outlen, "%.3s%.*s%s", v, (int)(n - 7 > 40 ? 40 : n - 7), "****************************************",
             v + n - 4);
}

static int check_fields(struct mimic_call *c, json_t *root)
{
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        bool known = false;
        for (size_t i = 0; i < sizeof known_fields / sizeof known_fields[0]; i++)
            known = known || strcmp(key, known_fields[i]) == 0;
        if (!known)
            return mimic_raise(c, "unknown_parameter", key);
    }
    return 0;
}

static int take_model(struct mimic_call *c, json_t *root, struct mimic_speech *sp)
{
    json_t *m = json_object_get(root, "model");
    if (!m)
        return mimic_raise(c, "missing_model", NULL);
    const char *name = json_is_string(m) ? json_string_value(m) : "";
    if (!mimic_list_has(mimic_list(c->f->models, c->pv->models), name))
        return mimic_raise(c, "model_not_found", name);
    sp->model = mimic_strdup(name);
    return 0;
}

static int take_input(struct mimic_call *c, json_t *root, struct mimic_speech *sp)
{
    json_t *in = json_object_get(root, "input");
    if (!json_is_string(in))
        return mimic_raise(c, "missing_input", NULL);
    if (utf8_count(json_string_value(in), json_string_length(in)) > OPENAI_MAX_INPUT_CHARS)
        return mimic_raise(c, "input_too_long", NULL);
    sp->text = mimic_strdup(json_string_value(in));
    return 0;
}

static int take_voice(struct mimic_call *c, json_t *root, struct mimic_speech *sp)
{
    json_t *v = json_object_get(root, "voice");
    if (!v)
        return mimic_raise(c, "missing_voice", NULL);
    const char *list = mimic_list(c->f->voices, c->pv->voices);
    const char *name = json_is_string(v) ? json_string_value(v) : "";
    if (mimic_list_has(list, name)) {
        sp->voice = mimic_strdup(name);
        return 0;
    }
    struct buf msg = {0};
    buf_puts(&msg, "[{'type': 'enum', 'loc': ('body', 'voice'), 'msg': \"Input should be ");
    mimic_list_quoted(list, false, " or ", &msg);
    buf_printf(&msg, "\", 'input': '%s'}]", name);
    mimic_raise_msg(c, "invalid_voice", msg.data, name);
    buf_free(&msg);
    return -1;
}

static int take_format(struct mimic_call *c, json_t *root, struct mimic_speech *sp)
{
    json_t *f = json_object_get(root, "response_format");
    const char *name = f ? (json_is_string(f) ? json_string_value(f) : "") : "mp3";
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        if (strcmp(formats[i].name, name) == 0) {
            if (formats[i].audio == MIMIC_UNSUPPORTED)
                return mimic_raise(c, "unsupported_response_format", name);
            sp->format = &formats[i];
            return 0;
        }
    }
    return mimic_raise(c, "invalid_response_format", name);
}

static int take_speed(struct mimic_call *c, json_t *root)
{
    json_t *s = json_object_get(root, "speed");
    if (s && (!json_is_number(s) || json_number_value(s) < 0.25 || json_number_value(s) > 4.0))
        return mimic_raise(c, "invalid_speed", NULL);
    return 0;
}

/* OpenAI's order: the key, the JSON, unknown fields, model, input, voice, format, speed. */
static int openai_validate(struct mimic_call *c, struct mimic_speech *sp)
{
    bool present;
    if (!mimic_key_ok(c, &present)) {
        char masked[64];
        masked_key(c->rq->key_value, masked, sizeof masked);
        return mimic_raise(c, present ? "invalid_api_key" : "missing_api_key", masked);
    }
    json_t *root = c->rq->too_big ? NULL : json_loadb(c->rq->body ? c->rq->body : "", c->rq->len, 0, NULL);
    int rc = json_is_object(root) ? 0 : mimic_raise(c, "invalid_json", NULL);
    if (rc == 0)
        rc = check_fields(c, root);
    if (rc == 0)
        rc = take_model(c, root, sp);
    if (rc == 0)
        rc = take_input(c, root, sp);
    if (rc == 0)
        rc = take_voice(c, root, sp);
    if (rc == 0)
        rc = take_format(c, root, sp);
    if (rc == 0)
        rc = take_speed(c, root);
    sp->stream = true;   /* every OpenAI speech answer is chunked */
    json_decref(root);
    return rc;
}

const struct mimic_provider mimic_openai = {
    .name = "openai",
    .elevenlabs_route = false,
    .key_header = "Authorization",
    .key_prefix = "Bearer ",
    .wav_placeholder = 0xFFFFFFFFu,
    .errors = errors,
    .nerrors = sizeof errors / sizeof errors[0],
    .voices = "alloy,ash,ballad,coral,echo,fable,nova,onyx,sage,shimmer,verse,marin,cedar",
    .models = "tts-1,tts-1-hd,gpt-4o-mini-tts",
    .validate = openai_validate,
    .error_body = openai_body,
    .not_found = openai_not_found,
    .throttled = openai_throttled,
    .throttle = openai_throttle,
    .plan_concurrency = NULL,
    .keyless = false,
};
