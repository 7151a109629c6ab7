/* provider_openai.c - the OpenAI /v1/audio/speech request shape and its one quirk.
 *
 * The same shape is spoken by Kokoro-FastAPI, voxcast-ttsd and other "OpenAI-compatible"
 * servers, so the defaults are OpenAI's and the key is optional (a local server needs none).
 * OpenAI refuses inputs over 4096 characters, hence the default max_text_chars: such a job
 * skips this provider instead of failing on it. The quirk: a 429 whose body says
 * "insufficient_quota" is an exhausted account, which waiting will not fix, so it is a
 * provider-level failure (fail over) rather than throttling (pause and retry). */
#include <stdio.h>
#include <string.h>

#include "jsonw.h"
#include "provider_ops.h"

#define OPENAI_MODEL       "tts-1"
#define OPENAI_VOICE       "alloy"
#define OPENAI_MAX_CHARS   4096

static int openai_build(const struct provider *pv, const struct job *job,
                        struct provider_request *req, char *err, size_t errlen)
{
    enum audio_format fmt;
    if (provider_job_format(job, &fmt, err, errlen))
        return -1;
    buf_puts(&req->url, pv->url);
    provider_request_header(req, "Content-Type: application/json");
    if (pv->api_key)
        provider_request_header(req, "Authorization: Bearer %s", pv->api_key);
    const char *voice = job->voice ? job->voice : pv->voice ? pv->voice : OPENAI_VOICE;
    buf_putc(&req->body, '{');
    jsonw_key(&req->body, "model");
    jsonw_cstr(&req->body, pv->model ? pv->model : OPENAI_MODEL);
    jsonw_key(&req->body, "input");
    jsonw_cstr(&req->body, job->text);
    jsonw_key(&req->body, "voice");
    jsonw_cstr(&req->body, voice);
    jsonw_key(&req->body, "response_format");
    jsonw_cstr(&req->body, audio_format_name(fmt));
    buf_putc(&req->body, '}');
    return 0;
}

/* body is NUL-terminated (the transport's buf), so strstr is safe; an error JSON that big is
 * only searched as far as its first NUL, which is all the text there is. */
static enum outcome_class openai_refine(const struct provider *pv, enum outcome_class cls,
                                        long http_status, const char *body, size_t len)
{
    (void)pv;
    (void)len;
    if (http_status == 429 && strstr(body, "insufficient_quota"))
        return CLASS_PROVIDER;
    return cls;
}

const struct provider_ops provider_openai_ops = {
    .type_name = "openai",
    .http = true,
    .wav_only = false,
    .default_max_text_chars = OPENAI_MAX_CHARS,
    .max_text_bytes = 0,
    .start = provider_http_start,
    .build = openai_build,
    .refine_class = openai_refine,
};
