/* provider_elevenlabs.c - the ElevenLabs /v1/text-to-speech/{voice_id} request shape.
 *
 * The voice travels in the URL path, so it is percent-encoded: a job's voice is free text and
 * must not be able to add path segments or a query. The configured url may name the spot with
 * "{voice_id}" (https://api.elevenlabs.io/v1/text-to-speech/{voice_id}) or end where the voice
 * goes. The output format is a query parameter; one already in the url wins, so an operator
 * can ask for, say, wav_22050 without code changes. No length default: the limit depends on
 * the model (10k-40k characters), so max_text_chars is left to the configuration. */
#include <stdio.h>
#include <string.h>

#include "jsonw.h"
#include "provider_ops.h"

#define ELEVENLABS_MODEL   "eleven_multilingual_v2"
#define ELEVENLABS_VOICE   "default"
#define VOICE_PLACEHOLDER  "{voice_id}"

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

/* Adds output_format to the query unless the url already chose one. */
static void put_output_format(struct buf *url, enum audio_format fmt)
{
    const char *q = strchr(url->data, '?');
    if (q) {
        for (const char *p = q; p; p = strchr(p + 1, '&'))
            if (strncmp(p + 1, "output_format=", 14) == 0)
                return;
    }
    if (!q)
        buf_putc(url, '?');
    else if (url->data[url->len - 1] != '?' && url->data[url->len - 1] != '&')
        buf_putc(url, '&');
    buf_puts(url, fmt == AUDIO_MP3 ? "output_format=mp3_44100_128" : "output_format=wav_44100");
}

static int elevenlabs_build(const struct provider *pv, const struct job *job,
                            struct provider_request *req, char *err, size_t errlen)
{
    enum audio_format fmt;
    if (provider_job_format(job, &fmt, err, errlen))
        return -1;
    const char *voice = job->voice ? job->voice : pv->voice ? pv->voice : ELEVENLABS_VOICE;
    put_url_with_voice(&req->url, pv->url, voice);
    put_output_format(&req->url, fmt);
    provider_request_header(req, "Content-Type: application/json");
    provider_request_header(req, "Accept: %s", fmt == AUDIO_MP3 ? "audio/mpeg" : "audio/wav");
    if (pv->api_key)
        provider_request_header(req, "xi-api-key: %s", pv->api_key);
    buf_putc(&req->body, '{');
    jsonw_key(&req->body, "text");
    jsonw_cstr(&req->body, job->text);
    jsonw_key(&req->body, "model_id");
    jsonw_cstr(&req->body, pv->model ? pv->model : ELEVENLABS_MODEL);
    buf_putc(&req->body, '}');
    return 0;
}

const struct provider_ops provider_elevenlabs_ops = {
    .type_name = "elevenlabs",
    .http = true,
    .wav_only = false,
    .default_max_text_chars = 0,
    .max_text_bytes = 0,
    .start = provider_http_start,
    .build = elevenlabs_build,
    .refine_class = NULL,
};
