/* mimic.c - the shared part of the provider mimics; see mimic.h.
 *
 * One request goes: route (a request on the other provider's route gets this provider's 404) ->
 * the provider's validate() -> the fault draw on the validated text -> an error from the
 * catalogue (fail_code, a fail_text code rule, or the first catalogue entry with fail_status),
 * HTML, a reset or hang for the server to act on, or audio in the asked format, cut short when a
 * truncate fault fired. */
#include "mimic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audio.h"
#include "convert.h"
#include "mimic_provider.h"
#include "pcm.h"
#include "xalloc.h"

#define WAV_HEADER      44

static const struct mimic_provider *const providers[] = {&mimic_openai, &mimic_kokoro, &mimic_elevenlabs};

static const struct mimic_provider *provider_of(const struct faults *f)
{
    for (size_t i = 0; i < sizeof providers / sizeof providers[0]; i++)
        if (strcmp(f->mimic, providers[i]->name) == 0)
            return providers[i];
    return NULL;
}

bool mimic_active(const struct faults *f)
{
    return provider_of(f) != NULL;
}

const char *mimic_key_header(const struct faults *f)
{
    const struct mimic_provider *pv = provider_of(f);
    return pv ? pv->key_header : NULL;
}

/* ---- helpers for the provider files ------------------------------------------------------ */

char *mimic_strdup(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

void mimic_speech_free(struct mimic_speech *sp)
{
    free(sp->text);
    free(sp->voice);
    free(sp->model);
    sp->text = sp->voice = sp->model = NULL;
}

const char *mimic_list(const char *configured, const char *dflt)
{
    if (!configured || !*configured)
        return dflt;
    return strcmp(configured, "none") == 0 ? "" : configured;
}

bool mimic_list_has(const char *list, const char *name)
{
    size_t n = strlen(name);
    if (n == 0)
        return false;
    for (const char *p = list; *p;) {
        size_t m = strcspn(p, ",");
        if (m == n && strncmp(p, name, n) == 0)
            return true;
        p += m + (p[m] == ',');
    }
    return false;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void mimic_list_quoted(const char *list, bool sort, const char *sep_last, struct buf *out)
{
    char *copy = mimic_strdup(list);
    size_t n = 0, cap = 8;
    char **names = xmalloc(cap * sizeof *names);
    for (char *p = copy; *p;) {
        size_t m = strcspn(p, ",");
        char *next = p + m + (p[m] == ',');
        p[m] = '\0';
        if (n == cap)
            names = xrealloc(names, (cap *= 2) * sizeof *names);
        names[n++] = p;
        p = next;
    }
    if (sort)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            buf_puts(out, i + 1 == n && sep_last ? sep_last : ", ");
        buf_printf(out, sep_last ? "'%s'" : "%s", names[i]);
    }
    free(names);
    free(copy);
}

bool mimic_secret_equal(const char *given, const char *want)
{
    size_t n = strlen(want);
    if (strlen(given) != n)
        return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(given[i] ^ want[i]);   /* no early exit: timing tells nothing */
    return diff == 0;
}

bool mimic_key_ok(const struct mimic_call *c, bool *present)
{
    const char *v = c->rq->key_value;
    size_t pn = strlen(c->pv->key_prefix);
    *present = v && *v;
    if (!c->env->api_key)
        return true;
    return *present && strncasecmp(v, c->pv->key_prefix, pn) == 0 && mimic_secret_equal(v + pn, c->env->api_key);
}

enum mimic_tier mimic_tier_of(const char *tier)
{
    static const char *const names[] = {"free", "starter", "creator", "pro"};
    for (int i = 0; i < 4; i++)
        if (strcmp(tier, names[i]) == 0)
            return (enum mimic_tier)i;
    return TIER_PRO;
}

void mimic_add_header(struct mimic_answer *a, const char *name, const char *value)
{
    if (a->nheaders == MIMIC_MAX_HEADERS)
        return;
    struct mimic_header *h = &a->headers[a->nheaders++];
    snprintf(h->name, sizeof h->name, "%s", name);
    snprintf(h->value, sizeof h->value, "%s", value);
}

const struct mimic_error *mimic_error_find(const struct mimic_provider *pv, const char *name)
{
    for (size_t i = 0; i < pv->nerrors; i++)
        if (strcmp(pv->errors[i].name, name) == 0)
            return &pv->errors[i];
    return NULL;
}

/* Answers e with message, plus Retry-After (when set) and the provider's 429 headers. */
static int answer_error(struct mimic_call *c, const struct mimic_error *e, const char *message, const char *arg)
{
    struct mimic_answer *a = c->a;
    a->status = e->status;
    a->content_type = "application/json";
    a->chunked = false;
    a->cut_at = 0;
    buf_reset(&a->body);
    c->pv->error_body(&a->body, e, message, arg);
    if (c->f->retry_after != FAULTS_UNSET) {
        char v[16];
        snprintf(v, sizeof v, "%d", c->f->retry_after);
        mimic_add_header(a, "Retry-After", v);
    }
    if (e->status == 429 && c->pv->throttled)
        c->pv->throttled(c, e);
    return -1;
}

int mimic_raise_msg(struct mimic_call *c, const char *name, const char *message, const char *arg)
{
    const struct mimic_error *e = mimic_error_find(c->pv, name);
    if (!e)
        abort();   /* a provider raising a name its own catalogue lacks is a bug in the table */
    char text[1024];
    if (!message) {
        snprintf(text, sizeof text, e->message, arg ? arg : "");
        message = text;
    }
    return answer_error(c, e, message, arg);
}

int mimic_raise(struct mimic_call *c, const char *name, const char *arg)
{
    return mimic_raise_msg(c, name, NULL, arg);
}

/* An injected failure by status (fail_status, or a fail_text STATUS rule): the first catalogue
 * entry with that status, else a body of the provider's shape that says which setting fired. */
static void raise_status(struct mimic_call *c, int status, const char *cause, const char *arg)
{
    for (size_t i = 0; i < c->pv->nerrors; i++) {
        if (c->pv->errors[i].status == status && status != 422) {
            mimic_raise(c, c->pv->errors[i].name, arg);
            return;
        }
    }
    const struct mimic_error generic = {"injected", status, status >= 500 ? "server_error" : "invalid_request_error",
                                        NULL, "injected_fault", NULL, cause};
    answer_error(c, &generic, cause, arg);
}

/* ---- checking settings ------------------------------------------------------------------ */

static int check_code(const struct mimic_provider *pv, const char *what, const char *code, char *err, size_t errlen)
{
    if (!*code || (pv && mimic_error_find(pv, code)))
        return 0;
    if (!pv) {
        snprintf(err, errlen, "%s: '%s' names a mimic error, but no --mimic is set", what, code);
        return -1;
    }
    struct buf known = {0};
    for (size_t i = 0; i < pv->nerrors; i++)
        buf_printf(&known, "%s%s", i ? ", " : "", pv->errors[i].name);
    snprintf(err, errlen, "%s: '%s' is not an error the %s mimic answers (known: %s)", what, code, pv->name,
             known.data ? known.data : "");
    buf_free(&known);
    return -1;
}

int mimic_check(const struct faults *f, char *err, size_t errlen)
{
    const struct mimic_provider *pv = provider_of(f);
    if (check_code(pv, "fail_code", f->fail_code, err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < f->ntext; i++)
        if (check_code(pv, "fail_text", f->text[i].code, err, errlen) < 0)
            return -1;
    return 0;
}

/* ---- audio ------------------------------------------------------------------------------ */

/* The samples as MP3 at the format's rate: a WAV of them encoded by libmp3lame (convert_audio:
 * mono, 64 kbit/s whatever bitrate the format's name says). */
static int encode_mp3(const struct buf *pcm, int rate, struct buf *out, char *err, size_t errlen)
{
    struct buf wav = {0};
    pcm_wav_header(&wav, rate, (uint32_t)pcm->len + WAV_HEADER - 8, (uint32_t)pcm->len);
    buf_append(&wav, pcm->data, pcm->len);
    int rc = convert_audio(wav.data, wav.len, CONVERT_IN_WAV, OUT_FORMAT_MP3, out, NULL, err, errlen);
    buf_free(&wav);
    return rc == 0 ? 0 : -1;
}

/* Renders sp->text and appends it in sp->format's shape. 0, or -1 with err. */
static int shape_audio(struct mimic_call *c, const struct mimic_speech *sp, struct buf *out, char *err, size_t errlen)
{
    const struct mimic_format *fmt = sp->format;
    struct buf wav = {0}, pcm = {0};
    const uint8_t *samples;
    size_t n;
    int rate, rc = c->env->render(c->env->ctx, sp->text, sp->voice, &wav, err, errlen);
    if (rc == 0 && pcm_from_wav(wav.data, wav.len, &samples, &n, &rate) < 0) {
        snprintf(err, errlen, "the synthesiser's WAV is not mono 16-bit PCM");
        rc = -1;
    }
    if (rc == 0) {
        pcm_resample(samples, n, rate, fmt->rate, &pcm);
        if (fmt->audio == MIMIC_MP3) {
            rc = encode_mp3(&pcm, fmt->rate, out, err, errlen);
        } else if (fmt->audio == MIMIC_ULAW) {
            pcm_to_ulaw((const uint8_t *)pcm.data, pcm.len / 2, out);
        } else {
            if (fmt->audio == MIMIC_WAV) {
                uint32_t data = (uint32_t)pcm.len;
                if (sp->stream)
                    pcm_wav_header(out, fmt->rate, c->pv->wav_placeholder, c->pv->wav_placeholder);
                else
                    pcm_wav_header(out, fmt->rate, data + WAV_HEADER - 8, data);
            }
            buf_append(out, pcm.data, pcm.len);
        }
    }
    buf_free(&wav);
    buf_free(&pcm);
    return rc;
}

/* Where a truncated answer stops: half-way through the audio after any WAV header, so the header
 * arrives and the body is short, on an odd byte so raw PCM is not a whole number of samples. */
static size_t cut_point(const struct mimic_speech *sp, size_t len)
{
    size_t head = sp->format->audio == MIMIC_WAV ? WAV_HEADER : 0;
    if (len <= head + 2)
        return len > 1 ? len - 1 : 1;
    return (head + (len - head) / 2) | 1;
}

static void answer_audio(struct mimic_call *c, const struct mimic_speech *sp, bool truncate)
{
    char err[256];
    struct mimic_answer *a = c->a;
    buf_reset(&a->body);
    if (shape_audio(c, sp, &a->body, err, sizeof err) < 0) {
        raise_status(c, 500, err, NULL);
        return;
    }
    a->status = 200;
    a->content_type = sp->format->content_type;
    a->chunked = sp->stream;
    a->cut_at = truncate ? cut_point(sp, a->body.len) : 0;
}

static void answer_garbage(struct mimic_answer *a)
{
    a->status = 200;
    a->content_type = "text/html; charset=utf-8";
    buf_reset(&a->body);
    buf_puts(&a->body, "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>"
                       "<body><h1>502 Bad Gateway</h1><p>injected by voxcast-ttsd</p></body></html>\n");
}

/* ---- one request ------------------------------------------------------------------------ */

/* What fills the %s of an injected error's message: the part of the request it is about. */
static const char *injected_arg(const char *name, const struct mimic_speech *sp, const char *cause)
{
    if (strstr(name, "voice"))
        return sp->voice;
    if (strstr(name, "model") || strstr(name, "rate_limit"))
        return sp->model;
    if (strstr(name, "format"))
        return sp->format->name;
    if (strstr(name, "api_key"))
        return "********";
    if (strstr(name, "parameter"))
        return "unknown";
    return cause;
}

static void act(struct mimic_call *c, const struct mimic_speech *sp)
{
    struct fault_decision d;
    char limit[24];   /* an injected concurrency error names the limit in effect, as a real one does */
    long n = c->f->max_concurrent > 0 ? c->f->max_concurrent : mimic_plan_concurrency(c->f);
    snprintf(limit, sizeof limit, "%ld", n);
    c->env->decide(c->env->ctx, sp->text, &d);
    c->a->action = d.action;
    switch (d.action) {
    case FAULT_FAIL:
        if (d.code)
            mimic_raise(c, d.code, strstr(d.code, "concurrent") ? limit : injected_arg(d.code, sp, d.cause));
        else
            raise_status(c, d.status, d.cause, injected_arg("", sp, d.cause));
        break;
    case FAULT_GARBAGE:
        answer_garbage(c->a);
        break;
    case FAULT_NONE:
    case FAULT_TRUNCATE:
        answer_audio(c, sp, d.action == FAULT_TRUNCATE);
        break;
    case FAULT_HANG:
    case FAULT_RESET:
        break;
    }
}

void mimic_handle(const struct faults *f, const struct mimic_env *env, const struct mimic_request *rq,
                  struct mimic_answer *a)
{
    struct mimic_call c = {f, env, rq, provider_of(f), a};
    a->action = FAULT_NONE;
    if (!c.pv) {
        const struct mimic_error none = {"internal", 500, "server_error", NULL, NULL, NULL, "no mimic is active"};
        c.pv = &mimic_openai;
        answer_error(&c, &none, none.message, NULL);
        return;
    }
    if (rq->elevenlabs != c.pv->elevenlabs_route) {
        c.pv->not_found(&c);
        return;
    }
    struct mimic_speech sp = {0};
    if (c.pv->validate(&c, &sp) == 0)
        act(&c, &sp);
    mimic_speech_free(&sp);
}

void mimic_answer_free(struct mimic_answer *a)
{
    if (a)
        buf_free(&a->body);
}

void mimic_set_header(struct mimic_answer *a, const char *name, const char *value)
{
    for (size_t i = 0; i < a->nheaders; i++) {
        if (strcasecmp(a->headers[i].name, name) == 0) {
            snprintf(a->headers[i].value, sizeof a->headers[i].value, "%s", value);
            return;
        }
    }
    mimic_add_header(a, name, value);
}

/* ---- the account ------------------------------------------------------------------------ */

bool mimic_route_ok(const struct faults *f, bool elevenlabs_route)
{
    const struct mimic_provider *pv = provider_of(f);
    return pv && pv->elevenlabs_route == elevenlabs_route;
}

bool mimic_key_accepted(const struct faults *f, const char *api_key, const char *key_value)
{
    const struct mimic_provider *pv = provider_of(f);
    if (!api_key || !pv || pv->keyless)
        return true;
    size_t pn = strlen(pv->key_prefix);
    return key_value && strncasecmp(key_value, pv->key_prefix, pn) == 0 && mimic_secret_equal(key_value + pn, api_key);
}

long mimic_plan_concurrency(const struct faults *f)
{
    const struct mimic_provider *pv = provider_of(f);
    return pv && pv->plan_concurrency ? pv->plan_concurrency(f) : 0;
}

/* A wait as Go prints a duration, which is how OpenAI's x-ratelimit-reset-* read: "350ms",
 * "1.5s", "2m0s". */
static void go_duration(int64_t ms, char *out, size_t outlen)
{
    if (ms < 1000)
        snprintf(out, outlen, "%lldms", (long long)ms);
    else if (ms < 60000)
        snprintf(out, outlen, "%g" "s", (double)ms / 1000.0);
    else
        snprintf(out, outlen, "%lldm%llds", (long long)(ms / 60000), (long long)(ms % 60000 / 1000));
}

void mimic_throttle(const struct faults *f, const struct mimic_request *rq, const struct mimic_throttle *t,
                    struct mimic_answer *a)
{
    struct faults fc = *f;   /* the refusal's own Retry-After and reset time, for answer_error */
    if (!t->concurrency) {
        int64_t s = (t->wait_ms + 999) / 1000;
        fc.retry_after = s < 1 ? 1 : s > 86400 ? 86400 : (int)s;
        go_duration(t->wait_ms, fc.ratelimit_reset, sizeof fc.ratelimit_reset);
    }
    const struct mimic_env env = {0};
    struct mimic_call c = {&fc, &env, rq, provider_of(f), a};
    a->action = FAULT_NONE;
    if (!c.pv) {
        const struct mimic_error none = {"internal", 500, "server_error", NULL, NULL, NULL, "no mimic is active"};
        c.pv = &mimic_openai;
        answer_error(&c, &none, none.message, NULL);
        return;
    }
    c.pv->throttle(&c, t);
}
