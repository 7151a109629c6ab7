/* provider.c - the provider chain: configuration, dispatch, and HTTP answers made results.
 *
 * Everything type-specific sits behind struct provider_ops (provider_ops.h); this file owns
 * what every type shares. providers_new() reads the chain from the config once and refuses
 * anything doubtful (an unknown type, a missing URL, a name listed twice) with the key at fault
 * in the message, because a typo here would otherwise surface as every job failing over. The
 * HTTP half turns a finished transfer into a struct attempt_result: classify the answer with
 * the shared table, let the provider refine it, and keep a short error text that is safe to
 * store in a DLQ entry (body excerpt sanitised, registered secrets redacted). */
#include "provider.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audio.h"
#include "clock.h"
#include "http_transport.h"
#include "log.h"
#include "provider_ops.h"
#include "retry_after.h"
#include "utf8.h"
#include "voicemap.h"
#include "xalloc.h"

#define NAME_MAX_LEN        ((int)sizeof ((struct provider *)0)->name - 1)
#define RETRY_AFTER_MAX_MS  3600000   /* a provider asking for more than an hour is misbehaving */
#define BODY_EXCERPT_BYTES  200
/* Audio a provider may send per character of text: 16-bit 48 kHz stereo is 192 KB/s, and speech
 * runs at 10-20 characters a second, so 16 KiB a character bounds any sane format with room. */
#define BODY_BYTES_PER_CHAR ((size_t)16 << 10)
#define BODY_BASE_BYTES     ((size_t)1 << 20)

const char *provider_type_name(enum provider_type t)
{
    return (size_t)t < PROVIDER_NTYPES ? provider_types[t]->type_name : "unknown";
}

/* ---- configuration ---- */

static bool name_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* Checks one trimmed name against the config's provider.NAME rule and the chain so far. */
static int check_name(const struct providers *ps, const char *s, size_t len, char *err, size_t errlen)
{
    if (len == 0) {
        snprintf(err, errlen, "providers: empty name in the list");
        return -1;
    }
    bool ok = len <= (size_t)NAME_MAX_LEN;
    for (size_t i = 0; ok && i < len; i++)
        ok = name_char_ok(s[i]);
    if (!ok) {
        snprintf(err, errlen, "providers: \"%.*s\" is not a provider name (1-%d of [a-z0-9_-])",
                 (int)(len > 80 ? 80 : len), s, NAME_MAX_LEN);
        return -1;
    }
    for (size_t i = 0; i < ps->n; i++)
        if (strlen(ps->list[i].name) == len && memcmp(ps->list[i].name, s, len) == 0) {
            snprintf(err, errlen, "providers: \"%.*s\" is listed twice", (int)len, s);
            return -1;
        }
    return 0;
}

/* "a, b or c": every type name, for the messages of parse_type. */
static void type_names(char *out, size_t outlen)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < PROVIDER_NTYPES && len < outlen; i++) {
        const char *sep = i == 0 ? "" : i + 1 == PROVIDER_NTYPES ? " or " : ", ";
        int n = snprintf(out + len, outlen - len, "%s%s", sep, provider_types[i]->type_name);
        len += n > 0 ? (size_t)n : 0;
    }
}

/* provider.NAME.type to a type; an empty one is allowed for a provider named like a type that
 * is implied_by_name (a provider called espeak). */
static int parse_type(const char *name, const char *type, enum provider_type *out, char *err,
                      size_t errlen)
{
    bool given = type && *type;
    for (size_t i = 0; i < PROVIDER_NTYPES; i++) {
        const struct provider_ops *ops = provider_types[i];
        if (strcmp(given ? type : name, ops->type_name) == 0 && (given || ops->implied_by_name)) {
            *out = (enum provider_type)i;
            return 0;
        }
    }
    char names[128];
    type_names(names, sizeof names);
    if (!given)
        snprintf(err, errlen, "provider.%s.type: required (%s)", name, names);
    else
        snprintf(err, errlen, "provider.%s.type: unknown type \"%s\" (%s)", name, type, names);
    return -1;
}

/* provider.NAME.FIELD as an integer in [min, max]. */
static int int_field(const struct config *cfg, const char *name, const char *field, int64_t min,
                     int64_t max, int64_t *out, char *err, size_t errlen)
{
    int64_t v = config_provider_int(cfg, name, field);
    if (v < min) {
        snprintf(err, errlen, "provider.%s.%s: must be at least %lld", name, field, (long long)min);
        return -1;
    }
    if (v > max) {
        snprintf(err, errlen, "provider.%s.%s: must be at most %lld", name, field, (long long)max);
        return -1;
    }
    *out = v;
    return 0;
}

static char *dup_or_null(const char *s)
{
    return s && *s ? xstrdup(s) : NULL;
}

/* URL and key: what an HTTP type needs to be reachable. The key itself never goes into an
 * error or a log line, and is registered for redaction before anything else can print it. */
static int init_endpoint(struct provider *pv, const struct config *cfg, char *err, size_t errlen)
{
    const char *url = config_provider(cfg, pv->name, "url");
    if (!url || !*url) {
        snprintf(err, errlen, "provider.%s.url: required for type %s", pv->name, pv->ops->type_name);
        return -1;
    }
    if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0) {
        snprintf(err, errlen, "provider.%s.url: must start with http:// or https://", pv->name);
        return -1;
    }
    pv->url = xstrdup(url);
    const char *env = config_provider(cfg, pv->name, "api_key_env");
    if (!env || !*env)
        return 0;   /* a local server (Kokoro-FastAPI, voxcast-ttsd) needs no key */
    const char *key = getenv(env);
    if (!key || !*key) {
        log_warn("API key variable is unset or empty; requests go without a key",
                 LOGS("provider", pv->name), LOGS("variable", env));
        return 0;
    }
    log_add_secret(key);
    pv->api_key = xstrdup(key);
    return 0;
}

/* The account shared with the fleet: provider.NAME.account_concurrency, .account_rate and
 * .adaptive. espeak runs in process and has no account. */
static int init_account(struct provider *pv, const struct config *cfg, char *err, size_t errlen)
{
    int64_t limit;
    if (int_field(cfg, pv->name, "account_concurrency", 0, 1000000, &limit, err, errlen))
        return -1;
    double rate = config_provider_double(cfg, pv->name, "account_rate");
    if (!isfinite(rate) || rate < 0) {
        snprintf(err, errlen, "provider.%s.account_rate: must be >= 0 (0: unlimited)", pv->name);
        return -1;
    }
    const char *ad = config_provider(cfg, pv->name, "adaptive");
    bool adaptive = ad && (strcmp(ad, "true") == 0 || strcmp(ad, "1") == 0 || strcmp(ad, "yes") == 0);
    if (pv->type == PROVIDER_ESPEAK)
        limit = 0, rate = 0, adaptive = false;
    account_init(&pv->account, (int)limit, rate, adaptive, clock_mono_ms());
    return 0;
}

/* Limits and policy state: timeouts, caps, rate, breaker. */
static int init_policy(struct provider *pv, const struct config *cfg, char *err, size_t errlen)
{
    int64_t timeout, per_char, connect, cap, max_chars;
    if (int_field(cfg, pv->name, "timeout_ms", 1, LONG_MAX, &timeout, err, errlen) ||
        int_field(cfg, pv->name, "timeout_per_char_ms", 0, 60000, &per_char, err, errlen) ||
        int_field(cfg, pv->name, "connect_timeout_ms", 1, LONG_MAX, &connect, err, errlen) ||
        int_field(cfg, pv->name, "concurrency", 0, INT_MAX, &cap, err, errlen) ||
        int_field(cfg, pv->name, "max_text_chars", 0, INT64_MAX, &max_chars, err, errlen) ||
        init_account(pv, cfg, err, errlen) != 0)
        return -1;
    double rate = config_provider_double(cfg, pv->name, "rate");
    if (!isfinite(rate) || rate < 0) {
        snprintf(err, errlen, "provider.%s.rate: must be >= 0 (0: unlimited)", pv->name);
        return -1;
    }
    pv->timeout_ms = (long)timeout;
    pv->timeout_per_char_ms = (int)per_char;
    pv->connect_timeout_ms = (long)connect;
    pv->concurrency_cap = (int)cap;
    pv->max_text_chars = max_chars;   /* 0: the type's per-model limit (provider_text_limit) */
    ratelimit_init(&pv->rate, rate, rate > 1 ? rate : 1, clock_mono_ms());
    struct breaker_config bc = {
        .failure_threshold = (int)config_int(cfg, "breaker.failure_threshold"),
        .open_ms = config_int(cfg, "breaker.open_ms"),
        .half_open_successes = (int)config_int(cfg, "breaker.half_open_successes"),
    };
    breaker_init(&pv->breaker, &bc);
    return 0;
}

/* provider.NAME.voices or .models: NULL when empty, -1 + err naming the key when malformed. */
static int init_map(struct provider *pv, const struct config *cfg, const char *field, char **out,
                    char *err, size_t errlen)
{
    char why[160];
    const char *map = config_provider(cfg, pv->name, field);
    if (voicemap_check(map, why, sizeof why) != 0) {
        snprintf(err, errlen, "provider.%s.%s: %s (want LOGICAL=PROVIDER, ...)", pv->name, field, why);
        return -1;
    }
    *out = map && map[strspn(map, " \t")] ? xstrdup(map) : NULL;
    return 0;
}

/* Voices, models and the output format: what the provider is asked for. A type without a
 * default voice (ElevenLabs: voice ids are per account) needs provider.NAME.voice, because a
 * logical voice without a map entry must never be sent as it is. */
static int init_names(struct provider *pv, const struct config *cfg, char *err, size_t errlen)
{
    pv->model = dup_or_null(config_provider(cfg, pv->name, "model"));
    pv->voice = dup_or_null(config_provider(cfg, pv->name, "voice"));
    pv->output_format = dup_or_null(config_provider(cfg, pv->name, "output_format"));
    if (init_map(pv, cfg, "voices", &pv->voices, err, errlen) ||
        init_map(pv, cfg, "models", &pv->models, err, errlen))
        return -1;
    if (pv->ops->http && !pv->ops->default_voice && !pv->voice) {
        snprintf(err, errlen,
                 "provider.%s.voice: required for type %s (the voice id used for logical voices "
                 "without an entry in provider.%s.voices)", pv->name, pv->ops->type_name, pv->name);
        return -1;
    }
    if (pv->output_format && pv->ops->check_output_format)
        return pv->ops->check_output_format(pv->name, pv->output_format, err, errlen);
    return 0;
}

static int provider_init(struct provider *pv, struct providers *ps, const struct config *cfg,
                         char *err, size_t errlen)
{
    enum provider_type type;
    pv->owner = ps;
    if (parse_type(pv->name, config_provider(cfg, pv->name, "type"), &type, err, errlen))
        return -1;
    pv->type = type;
    pv->ops = provider_types[type];
    if (pv->ops->http && init_endpoint(pv, cfg, err, errlen))
        return -1;
    if (init_names(pv, cfg, err, errlen))
        return -1;
    return init_policy(pv, cfg, err, errlen);
}

/* Appends the provider named s[0..len) to the chain and configures it. */
static int add_provider(struct providers *ps, const struct config *cfg, const char *s, size_t len,
                        char *err, size_t errlen)
{
    if (check_name(ps, s, len, err, errlen))
        return -1;
    ps->list = xrealloc(ps->list, (ps->n + 1) * sizeof *ps->list);
    struct provider *pv = &ps->list[ps->n++];   /* counted at once, so providers_free cleans it */
    memset(pv, 0, sizeof *pv);
    memcpy(pv->name, s, len);
    return provider_init(pv, ps, cfg, err, errlen);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Walks the comma-separated `providers` value, trimming blanks around each name. */
static int parse_chain(struct providers *ps, const struct config *cfg, char *err, size_t errlen)
{
    const char *list = config_get(cfg, "providers");
    if (!list)
        list = "";
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        while (p < end && is_space(*p))
            p++;
        while (end > p && is_space(end[-1]))
            end--;
        if (p == end && !comma && ps->n == 0) {
            snprintf(err, errlen, "providers: the list is empty");
            return -1;
        }
        if (add_provider(ps, cfg, p, (size_t)(end - p), err, errlen))
            return -1;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

/* Enough kept-alive connections for every HTTP provider to serve the consumer's whole
 * concurrency, so a lull in the load does not cost a round of new TLS handshakes. */
static long idle_connections(const struct providers *ps, const struct config *cfg)
{
    int64_t per = config_int(cfg, "consumer.concurrency");
    long n_http = 0;
    for (size_t i = 0; i < ps->n; i++)
        n_http += ps->list[i].ops->http;
    if (per < 1 || per > 100000)
        per = 16;
    return n_http ? n_http * (long)per : 0;
}

/* consumer.http_client: "auto" (the default) or "curl" (http_transport.h). */
static int curl_only(const struct config *cfg, bool *out, char *err, size_t errlen)
{
    const char *v = config_get(cfg, "consumer.http_client");
    *out = v && strcmp(v, "curl") == 0;
    if (*out || (v && strcmp(v, "auto") == 0))
        return 0;
    snprintf(err, errlen, "consumer.http_client: unknown client \"%s\" (auto, curl)", v ? v : "");
    return -1;
}

struct providers *providers_new(const struct config *cfg, char *err, size_t errlen)
{
    struct providers *ps = xcalloc(1, sizeof *ps);
    bool curl = false;
    if (parse_chain(ps, cfg, err, errlen) != 0 || curl_only(cfg, &curl, err, errlen) != 0 ||
        !(ps->http = http_transport_new(idle_connections(ps, cfg), curl, err, errlen))) {
        providers_free(ps);
        return NULL;
    }
    return ps;
}

static void wipe_free(char *s)
{
    if (s)
        explicit_bzero(s, strlen(s));
    free(s);
}

void providers_free(struct providers *ps)
{
    if (!ps)
        return;
    http_transport_free(ps->http, free);   /* each ctx is a malloc'd struct http_attempt */
    for (size_t i = 0; i < PROVIDER_NTYPES; i++)
        if (provider_types[i]->free)
            provider_types[i]->free(ps);
    for (size_t i = 0; i < ps->n; i++) {
        struct provider *pv = &ps->list[i];
        free(pv->url);
        wipe_free(pv->api_key);
        free(pv->model);
        free(pv->voice);
        free(pv->models);
        free(pv->voices);
        free(pv->output_format);
    }
    free(ps->list);
    free(ps);
}

size_t providers_count(const struct providers *ps)
{
    return ps ? ps->n : 0;
}

struct provider *providers_at(struct providers *ps, size_t i)
{
    return ps && i < ps->n ? &ps->list[i] : NULL;
}

size_t providers_active(const struct providers *ps)
{
    return ps ? ps->active : 0;
}

/* ---- attempts ---- */

int provider_job_format(const struct job *job, enum out_format *out, char *err, size_t errlen)
{
    if (!job->format) {
        *out = OUT_FORMAT_WAV;
        return 0;
    }
    if (out_format_parse(job->format, out) != 0) {
        snprintf(err, errlen, "unknown audio format \"%.16s\"", job->format);
        return -1;
    }
    return 0;
}

int provider_voice_for(const struct provider *pv, const struct job *job, char *out, size_t outlen,
                       char *err, size_t errlen)
{
    if (voicemap_resolve(pv->voices, pv->voice, job->voice, pv->ops->default_voice, out, outlen) < 0) {
        snprintf(err, errlen, "provider.%s: the voice for \"%.64s\" does not fit", pv->name,
                 job->voice ? job->voice : "");
        return -1;
    }
    return 0;
}

int provider_model_for(const struct provider *pv, const struct job *job, char *out, size_t outlen,
                       char *err, size_t errlen)
{
    if (voicemap_resolve(pv->models, pv->model, job->model, pv->ops->default_model, out, outlen) < 0) {
        snprintf(err, errlen, "provider.%s: the model for \"%.64s\" does not fit", pv->name,
                 job->model ? job->model : "");
        return -1;
    }
    return 0;
}

int64_t provider_text_limit(const struct provider *pv, const struct job *job)
{
    if (pv->max_text_chars > 0)
        return pv->max_text_chars;
    const struct provider_ops *ops = pv->ops;
    char model[PROVIDER_NAME_MAX];
    if (ops->n_model_limits > 0 && provider_model_for(pv, job, model, sizeof model, NULL, 0) == 0)
        for (size_t i = 0; i < ops->n_model_limits; i++)
            if (strncmp(model, ops->model_limits[i].model, strlen(ops->model_limits[i].model)) == 0)
                return ops->model_limits[i].max_chars;
    return ops->default_max_text_chars;
}

bool provider_accepts(const struct provider *pv, const struct job *job)
{
    enum out_format f;   /* any provider serves any format: the writer converts (writer.h) */
    if (!job->text || provider_job_format(job, &f, NULL, 0) != 0)
        return false;
    size_t bytes = strlen(job->text);
    if (pv->ops->max_text_bytes && bytes > pv->ops->max_text_bytes)
        return false;
    int64_t limit = provider_text_limit(pv, job);
    return limit <= 0 || utf8_count(job->text, bytes) <= (size_t)limit;
}

int provider_start(struct provider *pv, const struct job *job, void *task, char *err, size_t errlen)
{
    if (pv->ops->start(pv, job, task, err, errlen) != 0)
        return -1;
    pv->owner->active++;
    return 0;
}

/* ---- requests (shared by the HTTP types) ---- */

void provider_request_header(struct provider_request *req, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    size_t len = strlen(line);
    struct curl_slist *n = curl_slist_append(req->headers, line);
    explicit_bzero(line, sizeof line);   /* it may have held a key */
    if (!n)
        xalloc_fail(len + 1 + sizeof *n);
    req->headers = n;
}

void provider_request_free(struct provider_request *req)
{
    if (!req)
        return;
    for (struct curl_slist *h = req->headers; h; h = h->next)
        explicit_bzero(h->data, strlen(h->data));
    http_headers_free(req->headers);
    req->headers = NULL;
    buf_free(&req->url);
    buf_free(&req->body);
}

const char *provider_request_find(const struct provider_request *req, const char *name)
{
    size_t n = strlen(name);
    for (const struct curl_slist *h = req->headers; h; h = h->next)
        if (strncasecmp(h->data, name, n) == 0 && h->data[n] == ':') {
            const char *v = h->data + n + 1;
            while (is_space(*v))
                v++;
            return v;
        }
    return NULL;
}

/* ---- HTTP attempts ---- */

struct http_attempt {              /* the transfer's ctx; freed when it is delivered or dropped */
    struct provider      *pv;
    void                 *task;
    struct provider_asked asked;   /* what build asked for: judges and shapes the answer */
};

struct drive {                     /* what providers_drive() hands to the transport callback */
    struct providers *ps;
    attempt_done_fn   done;
    void             *ctx;
};

long provider_timeout_ms(const struct provider *pv, size_t chars)
{
    int64_t ms = (int64_t)pv->timeout_ms + (int64_t)pv->timeout_per_char_ms * (int64_t)chars;
    return ms > LONG_MAX ? LONG_MAX : (long)ms;
}

size_t provider_max_body(size_t chars)
{
    if (chars > (SIZE_MAX - BODY_BASE_BYTES) / BODY_BYTES_PER_CHAR)
        return SIZE_MAX;
    size_t scaled = BODY_BASE_BYTES + chars * BODY_BYTES_PER_CHAR;
    return scaled > HTTP_MAX_BODY ? scaled : HTTP_MAX_BODY;
}

int provider_http_start(struct provider *pv, const struct job *job, void *task, char *err,
                        size_t errlen)
{
    enum out_format fmt;
    if (provider_job_format(job, &fmt, err, errlen))
        return -1;
    struct provider_request req = {0};
    struct http_attempt *a = xmalloc(sizeof *a);
    int rc = pv->ops->build(pv, job, &req, err, errlen);
    if (rc == 0) {
        *a = (struct http_attempt){.pv = pv, .task = task, .asked = req.asked};
        size_t chars = utf8_count(job->text, strlen(job->text));
        struct http_request hr = {
            .url = req.url.data, .headers = req.headers,
            .body = req.body.data, .body_len = req.body.len,
            .timeout_ms = provider_timeout_ms(pv, chars),
            .connect_timeout_ms = pv->connect_timeout_ms,
            .max_body = provider_max_body(chars),
        };
        rc = http_transport_post(pv->owner->http, &hr, a, err, errlen);
    }
    provider_request_free(&req);
    if (rc != 0)
        free(a);
    return rc;
}

/* Copies up to `max` bytes of body into out as one clean line: runs of control characters and
 * whitespace become one space, bytes that are not valid UTF-8 become '?', and a character is
 * never cut in half. Error texts end up in JSON (DLQ entries, logs), so they must be text. */
static void body_excerpt(const char *s, size_t len, size_t max, struct buf *out)
{
    static const unsigned char lead_len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 2, 2, 3, 4};
    size_t start = out->len;
    bool space = false;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        size_t n = lead_len[c >> 4];
        bool valid = n > 0 && i + n <= len && utf8_valid(s + i, n);
        if (valid && (c == ' ' || utf8_has_control(s + i, n))) {
            space = out->len > start;   /* leading blanks are dropped */
            i += n;
            continue;
        }
        size_t take = valid ? n : 1;
        if (out->len - start + (space ? 1 : 0) + take > max)
            break;
        if (space)
            buf_putc(out, ' ');
        space = false;
        if (valid)
            buf_append(out, s + i, n);
        else
            buf_putc(out, '?');
        i += take;
    }
}

/* The error text of an HTTP answer that is not a success. */
static void describe_answer(const struct http_response *resp, const char *verr, char *out,
                            size_t outlen)
{
    struct buf b = {0};
    buf_printf(&b, "HTTP %ld", resp->status);
    if (resp->status / 100 == 2) {
        buf_printf(&b, ": %s", verr[0] ? verr : "not audio");
        if (resp->content_type[0])
            buf_printf(&b, " (Content-Type %s)", resp->content_type);
    } else if (resp->body.len > 0) {
        buf_puts(&b, ": ");
        /* redacted before it is cut: a key echoed near the cut would otherwise leave a prefix */
        char *clean = log_redact_mem(resp->body.data, resp->body.len);
        body_excerpt(clean, strlen(clean), BODY_EXCERPT_BYTES, &b);
        free(clean);
    }
    snprintf(out, outlen, "%s", b.data);
    buf_free(&b);
}

/* Secrets registered with the logger never reach an error text, whatever the server echoed. */
static void redact_error(char *error, size_t size)
{
    char *clean = log_redact(error);
    if (clean)
        snprintf(error, size, "%s", clean);
    free(clean);
}

static bool is_text_type(const char *content_type)
{
    return strncasecmp(content_type, "application/json", 16) == 0 ||
           strncasecmp(content_type, "text/", 5) == 0;
}

/* The audio of a 2xx answer as the file will hold it, in *out; false + verr when the body is
 * not whole audio. Raw PCM (asked.pcm_rate) and raw µ-law (CONVERT_IN_ULAW_8000) are wrapped
 * in a WAV header at the rate that was asked, unless the server sent a WAV after all; a WAV's
 * streamed placeholder sizes are sealed to the true ones, so strict readers see its real
 * length. The body is moved, not copied, when it is kept as it is. So the audio of a result is
 * always a whole WAV or MP3 file, whatever the job's format: that is the writer's to make. */
static bool answer_audio(const struct http_attempt *a, struct http_response *resp, struct buf *out,
                         char *verr, size_t verrlen)
{
    const char *body = resp->body.data ? resp->body.data : "";
    bool riff = resp->body.len >= 4 && memcmp(body, "RIFF", 4) == 0;
    enum convert_input kind = a->asked.kind;
    bool raw = kind == CONVERT_IN_ULAW_8000 || (kind == CONVERT_IN_WAV && a->asked.pcm_rate > 0);
    if (raw && !riff) {
        if (is_text_type(resp->content_type)) {
            snprintf(verr, verrlen, "not audio");
            return false;
        }
        if (kind == CONVERT_IN_ULAW_8000)
            return audio_wav_from_ulaw(body, resp->body.len, 8000, out, verr, verrlen) == 0;
        return audio_wav_from_pcm(body, resp->body.len, a->asked.pcm_rate, 1, out, verr,
                                  verrlen) == 0;
    }
    enum audio_format format = kind == CONVERT_IN_MP3 ? AUDIO_MP3 : AUDIO_WAV;
    if (audio_validate(body, resp->body.len, format, verr, verrlen) != 0)
        return false;
    if (format == AUDIO_WAV && audio_wav_seal(&resp->body, verr, verrlen) != 0)
        return false;
    *out = resp->body;
    resp->body = (struct buf){0};
    return true;
}

/* What an answer says about the account's concurrency, for the fleet's learned limit:
 * ElevenLabs sends maximum-concurrent-requests (and current-concurrent-requests) on its answers,
 * and names a 429 for concurrency too_many_concurrent_requests in detail.status
 * (concurrent_limit_exceeded in its newer error shape; ElevenLabs API reference, errors). Other
 * 429s are a rate signal only; OpenAI's insufficient_quota is neither (classify.h). */
static void account_signals(const struct http_response *resp, struct attempt_result *r)
{
    char *end;
    long max = strtol(resp->max_concurrent, &end, 10);
    r->max_concurrent = end != resp->max_concurrent && max > 0 && max <= 1000000 ? (int)max : 0;
    const char *body = resp->body.data;
    r->concurrency_limited = resp->status == 429 && body &&
                             (memmem(body, resp->body.len, "too_many_concurrent_requests", 28) ||
                              memmem(body, resp->body.len, "concurrent_limit_exceeded", 25));
}

static void http_result(const struct http_attempt *a, struct http_response *resp,
                        struct attempt_result *r)
{
    memset(r, 0, sizeof *r);
    r->retry_after_ms = -1;
    r->latency_s = resp->total_s;
    r->transport = resp->transport;
    if (resp->transport != TRANSPORT_OK) {
        r->cls = classify_response(resp->transport, 0, false);
        snprintf(r->error, sizeof r->error, "%s", resp->error);
        redact_error(r->error, sizeof r->error);
        return;
    }
    r->http_status = resp->status;
    account_signals(resp, r);
    struct retry_hints hints = {
        .retry_after_ms = resp->retry_after_ms,
        .retry_after = resp->retry_after,
        /* sent on every OpenAI answer: it says when the request window resets, which is a
         * wait only when the answer is a 429 */
        .reset_requests = resp->status == 429 ? resp->reset_requests : NULL,
    };
    r->retry_after_ms = retry_after_choose_ms(&hints, clock_wall_ms(), RETRY_AFTER_MAX_MS);
    char verr[128] = "";
    struct buf sound = {0};
    bool audio = resp->status / 100 == 2 && answer_audio(a, resp, &sound, verr, sizeof verr);
    r->cls = classify_response(TRANSPORT_OK, resp->status, audio);
    if (a->pv->ops->refine_class)
        r->cls = a->pv->ops->refine_class(a->pv, &a->asked, r->cls, resp->status,
                                          resp->body.data ? resp->body.data : "", resp->body.len,
                                          r->cause, sizeof r->cause);
    if (r->cls == CLASS_OK && audio) {
        r->audio = sound;
        return;
    }
    buf_free(&sound);
    if (r->cls == CLASS_OK)   /* a refinement may not bless a body that is not audio */
        r->cls = CLASS_RETRY;
    describe_answer(resp, verr, r->error, sizeof r->error);
    redact_error(r->error, sizeof r->error);
    redact_error(r->cause, sizeof r->cause);
}

static void on_http_done(void *arg, struct http_response *resp)
{
    struct drive *d = arg;
    struct http_attempt *a = resp->ctx;
    struct attempt_result r;
    http_result(a, resp, &r);
    d->ps->active--;
    d->done(d->ctx, a->task, a->pv, &r);
    buf_free(&r.audio);
    free(a);
}

/* ---- the loop's side ---- */

void providers_drive(struct providers *ps, attempt_done_fn done, void *ctx)
{
    struct drive d = {.ps = ps, .done = done, .ctx = ctx};
    http_transport_perform(ps->http, on_http_done, &d);
    for (size_t i = 0; i < PROVIDER_NTYPES; i++)
        if (provider_types[i]->drain)
            provider_types[i]->drain(ps, done, ctx);
}

int providers_wait(struct providers *ps, int extra_fd, int timeout_ms)
{
    int fds[PROVIDER_NTYPES + 1];
    size_t n = 0;
    for (size_t i = 0; i < PROVIDER_NTYPES; i++) {
        int fd = provider_types[i]->fd ? provider_types[i]->fd(ps) : -1;
        if (fd >= 0)
            fds[n++] = fd;
    }
    if (extra_fd >= 0)
        fds[n++] = extra_fd;
    return http_transport_wait(ps->http, fds, n, timeout_ms);
}

/* ---- error answers (shared by the HTTP types) ---- */

enum outcome_class provider_refine_by_rules(const struct classify_rule *rules, size_t n,
                                            const struct provider_asked *asked,
                                            enum outcome_class cls, long http_status,
                                            const char *body, size_t len, char *cause,
                                            size_t causelen)
{
    struct classify_error e;
    classify_error_parse(body, len, &e);   /* unparsed: all "", and only status rules match */
    struct classify_asked ca = {asked->voice, asked->model, asked->output_format};
    return classify_error_match(rules, n, cls, http_status, &e, &ca, cause, causelen);
}
