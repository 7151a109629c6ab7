/* server.c - voxcast-ttsd's routes on libmicrohttpd; see server.h.
 *
 * A speech request goes: count it in flight -> latency -> key -> parse -> draw a fault -> act
 * (reset, hang, error, HTML, audio cut short, or real audio) -> count it out -> answer. The
 * in-flight count ends before the answer is queued, so the server never sees more requests in
 * flight than the client has outstanding: a test asserting a client's concurrency cap with
 * peak_in_flight cannot fail through our own bookkeeping. */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api.h"
#include "audio.h"
#include "clock.h"
#include "espeak.h"
#include "jsonw.h"
#include "log.h"
#include "mimic.h"
#include "reqlog.h"
#include "stats.h"
#include "utf8.h"

#define MAX_BODY_BYTES      (1024 * 1024)
#define HANG_MS             600000
#define TONE_MS             200
#define TONE_RATE           22050
#define MP3_MS_PER_CHAR     70        /* roughly espeak-ng's speaking rate */
#define MP3_MIN_MS          200
#define MP3_MAX_MS          600000
#define IDLE_TIMEOUT_S      120       /* keep-alive connections idle longer are closed */
#define WAV_HEADER_BYTES    44        /* the header audio_wav_from_pcm16 writes */
#define MP3_FRAME_BYTES     417       /* one frame of audio_silent_mp3 */
#define REQLOG_KEEP         256       /* speech requests /admin/requests remembers */
#define REQLOG_BODY_MAX     65536     /* larger bodies are recorded by size only */
#define STREAM_PIECE        4096      /* bytes per read of a streamed answer: several chunks */

struct server {
    struct MHD_Daemon *mhd;
    pthread_mutex_t    lock;          /* guards faults and rng */
    struct faults      faults;
    uint64_t           rng;
    struct stats       stats;
    struct reqlog      reqlog;
    char              *api_key;       /* NULL: no key required */
    struct buf         tone;          /* --tone's answer, rendered once: a benchmark's provider
                                       * should cost as little per request as it can */
    int                stop_pipe[2];  /* written once at shutdown; never read, so it stays readable */
};

struct request {                      /* one HTTP request, MHD's req_cls */
    struct buf body;
    bool       too_big;               /* body passed MAX_BODY_BYTES; the rest was dropped */
};

struct answer {
    int         status;
    const char *content_type;
    struct buf  body;
    int         retry_after;          /* FAULTS_UNSET: no Retry-After header */
};

/* ---- answering -------------------------------------------------------------------------- */

static enum MHD_Result send_answer(struct MHD_Connection *c, struct answer *a)
{
    size_t len = a->body.len;
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, buf_steal(&a->body), MHD_RESPMEM_MUST_FREE);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type);
    if (a->retry_after != FAULTS_UNSET) {
        char v[16];
        snprintf(v, sizeof v, "%d", a->retry_after);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, v);
    }
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)a->status, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* Answers status with `json` (built by the caller) as application/json. */
static enum MHD_Result send_json(struct MHD_Connection *c, int status, struct buf *json)
{
    struct answer a = {status, "application/json", *json, FAULTS_UNSET};
    *json = (struct buf){0};
    return send_answer(c, &a);
}

/* {"error":"message"} for the admin and routing answers, which follow no provider's shape. */
static enum MHD_Result send_plain_error(struct MHD_Connection *c, int status, const char *message)
{
    struct buf b = {0};
    buf_puts(&b, "{\"error\":");
    jsonw_cstr(&b, message);
    buf_putc(&b, '}');
    return send_json(c, status, &b);
}

static void api_error(struct answer *a, const struct api_ops *api, int status, const char *message)
{
    a->status = status;
    a->content_type = "application/json";
    buf_reset(&a->body);
    api->error_body(&a->body, status, message);
}

/* ---- waiting ---------------------------------------------------------------------------- */

/* Waits up to ms or until shutdown; with conn_fd >= 0, also until the peer hangs up (a client
 * whose timeout fired has closed its end: holding on would only pin a thread). */
static void wait_interruptible(struct server *s, int conn_fd, int ms)
{
    struct pollfd p[2] = {{.fd = s->stop_pipe[0], .events = POLLIN}, {.fd = conn_fd, .events = POLLRDHUP}};
    int64_t deadline = clock_mono_ms() + ms;
    for (;;) {
        int64_t left = deadline - clock_mono_ms();
        if (left <= 0)
            return;
        int n = poll(p, conn_fd >= 0 ? 2 : 1, (int)left);
        if (n > 0 || (n < 0 && errno != EINTR))
            return;
    }
}

static int connection_fd(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci ? ci->connect_fd : -1;
}

/* Makes the coming close send a TCP RST instead of a FIN: the client sees "connection reset". */
static void arm_reset(struct MHD_Connection *c)
{
    int fd = connection_fd(c);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    if (fd >= 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);   /* best effort: a FIN also fails the client */
}

/* ---- speech ----------------------------------------------------------------------------- */

static bool key_ok(const struct server *s, struct MHD_Connection *c, const struct api_ops *api)
{
    if (!s->api_key)
        return true;
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, api->key_header);
    size_t pn = strlen(api->key_prefix);
    return v && strncasecmp(v, api->key_prefix, pn) == 0 && mimic_secret_equal(v + pn, s->api_key);
}

static int mp3_duration_ms(const char *text)
{
    size_t chars = utf8_count(text, strlen(text));
    size_t ms = chars * MP3_MS_PER_CHAR;
    return ms < MP3_MIN_MS ? MP3_MIN_MS : ms > MP3_MAX_MS ? MP3_MAX_MS : (int)ms;
}

/* The audio itself. MP3 is silence of a plausible length: there is no MP3 encoder to hand. */
static int render(const struct server *s, const struct faults *f, const struct speech_request *req,
                  struct buf *out, char *err, size_t errlen)
{
    if (req->format == AUDIO_MP3) {
        audio_silent_mp3(mp3_duration_ms(req->text), out);
        return 0;
    }
    if (f->tone) {
        buf_append(out, s->tone.data, s->tone.len);
        return 0;
    }
    return espeak_render_wav(req->text, req->voice, out, err, errlen);
}

/* Cuts audio so its header promises more than is sent: WAV keeps half its samples, MP3 half of
 * its first frame (a cut between whole frames would still be valid audio). */
static void cut_short(struct buf *audio, enum audio_format fmt)
{
    if (fmt == AUDIO_WAV && audio->len > WAV_HEADER_BYTES)
        audio->len = WAV_HEADER_BYTES + (audio->len - WAV_HEADER_BYTES) / 2;
    else if (fmt == AUDIO_MP3)
        audio->len = (audio->len < MP3_FRAME_BYTES ? audio->len : MP3_FRAME_BYTES) / 2;
}

static void answer_audio(const struct server *s, const struct faults *f, const struct api_ops *api,
                         const struct speech_request *req, bool truncate, struct answer *a)
{
    char err[256];
    if (render(s, f, req, &a->body, err, sizeof err) < 0) {
        log_warn("synthesis failed", LOGS("api", api->name), LOGS("error", err));
        api_error(a, api, 500, err);
        return;
    }
    if (truncate)
        cut_short(&a->body, req->format);
    a->status = 200;
    a->content_type = req->format == AUDIO_MP3 ? "audio/mpeg" : "audio/wav";
}

static void answer_fault(const struct faults *f, const struct api_ops *api, const struct fault_decision *d,
                         struct answer *a)
{
    if (d->action == FAULT_GARBAGE) {
        a->status = 200;
        a->content_type = "text/html; charset=utf-8";
        buf_puts(&a->body, "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>"
                           "<body><h1>502 Bad Gateway</h1><p>injected by voxcast-ttsd</p></body></html>\n");
        return;
    }
    api_error(a, api, d->status, d->cause);
    a->retry_after = f->retry_after;
    if (d->status == 429 && a->retry_after == FAULTS_UNSET)
        a->retry_after = 1;   /* a 429 without Retry-After would teach clients nothing */
}

/* Draws from the request's own snapshot of the faults (taken when it arrived), so the decision
 * and the answer (Retry-After, tone) agree even when /admin/faults changes them meanwhile. */
static void draw_fault(struct server *s, const struct faults *f, const char *text, struct fault_decision *d)
{
    pthread_mutex_lock(&s->lock);
    faults_decide(f, text, &s->rng, d);
    pthread_mutex_unlock(&s->lock);
}

struct mimic_ctx {                    /* what the mimic's callbacks need */
    struct server       *s;
    const struct faults *f;
};

static void mimic_decide(void *ctx, const char *text, struct fault_decision *d)
{
    struct mimic_ctx *m = ctx;
    draw_fault(m->s, m->f, text, d);
}

/* Everything between the latency and the answer; returns the fault drawn (FAULT_NONE for
 * requests refused before the draw) with the answer filled for the ones that get one. */
static enum fault_action speech_decide(struct server *s, struct MHD_Connection *c, const struct api_ops *api,
                                       const struct api_input *in, bool too_big, const struct faults *f,
                                       struct answer *a)
{
    char err[256];
    struct speech_request req;
    if (!key_ok(s, c, api)) {
        api_error(a, api, 401, "invalid API key");
        return FAULT_NONE;
    }
    if (too_big) {
        api_error(a, api, 413, "request body too large");
        return FAULT_NONE;
    }
    int status = api->parse(in, &req, err, sizeof err);
    if (status != 0) {
        api_error(a, api, status, err);
        return FAULT_NONE;
    }
    struct fault_decision d;
    draw_fault(s, f, req.text, &d);
    if (d.action == FAULT_FAIL || d.action == FAULT_GARBAGE)
        answer_fault(f, api, &d, a);
    else if (d.action == FAULT_NONE || d.action == FAULT_TRUNCATE)
        answer_audio(s, f, api, &req, d.action == FAULT_TRUNCATE, a);
    speech_request_free(&req);
    return d.action;
}

/* ---- the request log ------------------------------------------------------------------- */

/* How a key header compares with the server's key: "matched", "mismatched", or "present" when the
 * server requires none. The value itself is never recorded. */
static const char *key_state(const struct server *s, const char *value, const char *prefix)
{
    size_t pn = strlen(prefix);
    if (!s->api_key)
        return "present";
    return strncasecmp(value, prefix, pn) == 0 && mimic_secret_equal(value + pn, s->api_key) ? "matched" : "mismatched";
}

static enum MHD_Result record_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    jsonw_key(cls, key);
    jsonw_cstr(cls, value ? value : "");
    return MHD_YES;
}

static void record_headers(const struct server *s, struct MHD_Connection *c, struct buf *e)
{
    static const char *const plain[] = {"content-type", "accept"};
    static const char *const keys[][2] = {{"authorization", "Bearer "}, {"xi-api-key", ""}};
    buf_putc(e, '{');
    for (size_t i = 0; i < 2; i++) {
        const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, plain[i]);
        if (v) {
            jsonw_key(e, plain[i]);
            jsonw_cstr(e, v);
        }
    }
    for (size_t i = 0; i < 2; i++) {
        const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, keys[i][0]);
        if (v) {
            jsonw_key(e, keys[i][0]);
            jsonw_cstr(e, key_state(s, v, keys[i][1]));
        }
    }
    buf_putc(e, '}');
}

/* The body as JSON when it is JSON ("body"), else as text ("body_text"); by size when large. */
static void record_body(const struct request *r, struct buf *e)
{
    if (r->too_big || r->body.len > REQLOG_BODY_MAX) {
        jsonw_key(e, "body_bytes");
        jsonw_int(e, (int64_t)r->body.len);
        return;
    }
    json_t *root = json_loadb(r->body.data ? r->body.data : "", r->body.len, JSON_DECODE_ANY, NULL);
    char *text = root ? json_dumps(root, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (text) {
        jsonw_key(e, "body");
        buf_puts(e, text);
    } else {
        jsonw_key(e, "body_text");
        jsonw_str(e, r->body.data ? r->body.data : "", r->body.len);
    }
    free(text);
    json_decref(root);
}

/* Adds {"method","path","query":{},"headers":{},"body"|"body_text"|"body_bytes"} to the log. */
static void record_request(struct server *s, struct MHD_Connection *c, const char *method, const char *url,
                           const struct request *r)
{
    struct buf e = {0};
    buf_putc(&e, '{');
    jsonw_key(&e, "method");
    jsonw_cstr(&e, method);
    jsonw_key(&e, "path");
    jsonw_cstr(&e, url);
    jsonw_key(&e, "query");
    buf_putc(&e, '{');
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, record_arg, &e);
    buf_putc(&e, '}');
    jsonw_key(&e, "headers");
    record_headers(s, c, &e);
    record_body(r, &e);
    buf_putc(&e, '}');
    reqlog_add(&s->reqlog, buf_steal(&e));
}

/* ---- mimic answers ---------------------------------------------------------------------- */

static int mimic_render(void *ctx, const char *text, const char *voice, struct buf *wav, char *err, size_t errlen)
{
    struct mimic_ctx *m = ctx;
    (void)voice;   /* provider voice ids mean nothing to espeak-ng: speak them all with "en" */
    if (m->f->tone) {
        buf_append(wav, m->s->tone.data, m->s->tone.len);
        return 0;
    }
    return espeak_render_wav(text, NULL, wav, err, errlen);
}

struct stream_body {                  /* a streamed answer's bytes, owned by its MHD response */
    struct buf body;
    size_t     limit;                 /* bytes to send */
    bool       cut;                   /* then close without ending the body */
};

/* libmicrohttpd's reader: pieces of the body; at `limit` either the end of the stream (the final
 * chunk follows) or an error, on which libmicrohttpd closes the connection mid-body. */
static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
    struct stream_body *sb = cls;
    if (pos >= sb->limit)
        return sb->cut ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = sb->limit - (size_t)pos;
    n = n < max ? n : max;
    n = n < STREAM_PIECE ? n : STREAM_PIECE;
    memcpy(out, sb->body.data + pos, n);
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    struct stream_body *sb = cls;
    buf_free(&sb->body);
    free(sb);
}

/* A chunked answer (size unknown), or a sized one that is cut: both through the reader. */
static struct MHD_Response *stream_response(struct mimic_answer *a)
{
    struct stream_body *sb = calloc(1, sizeof *sb);
    if (!sb)
        return NULL;
    sb->body = a->body;
    a->body = (struct buf){0};
    sb->cut = a->cut_at > 0 && a->cut_at < sb->body.len;
    sb->limit = sb->cut ? a->cut_at : sb->body.len;
    uint64_t size = a->chunked ? MHD_SIZE_UNKNOWN : sb->body.len;
    struct MHD_Response *resp = MHD_create_response_from_callback(size, STREAM_PIECE, stream_read, sb, stream_free);
    if (!resp)
        stream_free(sb);
    return resp;
}

static enum MHD_Result send_mimic(struct MHD_Connection *c, struct mimic_answer *a)
{
    struct MHD_Response *resp;
    if (a->chunked || a->cut_at > 0) {
        resp = stream_response(a);
    } else {
        size_t len = a->body.len;
        resp = MHD_create_response_from_buffer(len, buf_steal(&a->body), MHD_RESPMEM_MUST_FREE);
    }
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type);
    for (size_t i = 0; i < a->nheaders; i++)
        MHD_add_response_header(resp, a->headers[i].name, a->headers[i].value);
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)a->status, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* The mimic's answer to one speech request; reset and hang as in speech(). */
static enum fault_action mimic_speech(struct server *s, struct MHD_Connection *c, const char *url,
                                      const char *path_voice, const struct request *r, const struct faults *f,
                                      struct mimic_answer *a)
{
    struct mimic_ctx ctx = {s, f};
    struct mimic_env env = {&ctx, s->api_key, (long)atomic_load(&s->stats.in_flight), mimic_decide, mimic_render};
    struct mimic_request rq = {
        .method = "POST",
        .url = url,
        .elevenlabs = path_voice != NULL,
        .path_voice = path_voice,
        .output_format = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "output_format"),
        .key_value = MHD_lookup_connection_value(c, MHD_HEADER_KIND, mimic_key_header(f)),
        .body = r->body.data,
        .len = r->body.len,
        .too_big = r->too_big,
    };
    mimic_handle(f, &env, &rq, a);
    return a->action;
}

static enum MHD_Result speech(struct server *s, struct MHD_Connection *c, const struct api_ops *api,
                              const char *url, const char *path_voice, struct request *r)
{
    struct faults f;
    pthread_mutex_lock(&s->lock);
    f = s->faults;
    pthread_mutex_unlock(&s->lock);
    record_request(s, c, "POST", url, r);
    stats_begin(&s->stats);
    if (f.latency_ms > 0)
        wait_interruptible(s, -1, f.latency_ms);
    const char *of = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "output_format");
    struct api_input in = {r->body.data, r->body.len, path_voice, of};
    struct answer a = {.retry_after = FAULTS_UNSET};
    struct mimic_answer ma = {0};
    bool mimic = mimic_active(&f);
    enum fault_action act = mimic ? mimic_speech(s, c, url, path_voice, r, &f, &ma)
                                  : speech_decide(s, c, api, &in, r->too_big, &f, &a);
    if (act == FAULT_RESET || act == FAULT_HANG) {
        mimic_answer_free(&ma);
        if (act == FAULT_HANG) {
            stats_count_hang(&s->stats);
            wait_interruptible(s, connection_fd(c), HANG_MS);
        } else {
            stats_count_reset(&s->stats);
        }
        arm_reset(c);
        stats_end(&s->stats, 0);
        return MHD_NO;   /* libmicrohttpd closes the connection without an answer */
    }
    if (mimic) {
        stats_end(&s->stats, ma.status);
        enum MHD_Result rc = send_mimic(c, &ma);
        mimic_answer_free(&ma);
        return rc;
    }
    stats_end(&s->stats, a.status);
    return send_answer(c, &a);
}

/* ---- routes ----------------------------------------------------------------------------- */

typedef enum MHD_Result (*route_fn)(struct server *s, struct MHD_Connection *c, const char *url, struct request *r);

#define ELEVENLABS_PREFIX "/v1/text-to-speech/"

static enum MHD_Result route_openai(struct server *s, struct MHD_Connection *c, const char *url, struct request *r)
{
    return speech(s, c, &api_openai, url, NULL, r);
}

static enum MHD_Result route_elevenlabs(struct server *s, struct MHD_Connection *c, const char *url, struct request *r)
{
    const char *voice = url + strlen(ELEVENLABS_PREFIX);
    if (*voice == '\0' || strchr(voice, '/'))
        return send_plain_error(c, 404, "expected /v1/text-to-speech/{voice_id}");
    return speech(s, c, &api_elevenlabs, url, voice, r);
}

static enum MHD_Result route_health(struct server *s, struct MHD_Connection *c, const char *url, struct request *r)
{
    (void)s, (void)url, (void)r;
    struct buf b = {0};
    buf_puts(&b, "{\"status\":\"ok\"}");
    return send_json(c, 200, &b);
}

static enum MHD_Result route_stats(struct server *s, struct MHD_Connection *c, const char *url, struct request *r)
{
    (void)url, (void)r;
    struct buf b = {0};
    stats_to_json(&s->stats, &b);
    return send_json(c, 200, &b);
}

static enum MHD_Result route_stats_reset(struct server *s, struct MHD_Connection *c, const char *url, struct request *r)
{
    stats_reset(&s->stats);
    return route_stats(s, c, url, r);
}

static enum MHD_Result route_faults_get(struct server *s, struct MHD_Connection *c, const char *url, struct request *r)
{
    (void)url, (void)r;
    struct buf b = {0};
    pthread_mutex_lock(&s->lock);
    faults_to_json(&s->faults, &b);
    pthread_mutex_unlock(&s->lock);
    return send_json(c, 200, &b);
}

static enum MHD_Result route_faults_post(struct server *s, struct MHD_Connection *c, const char *url, struct request *r)
{
    (void)url;
    if (r->too_big)
        return send_plain_error(c, 413, "request body too large");
    char err[1024];
    struct buf b = {0};
    pthread_mutex_lock(&s->lock);
    struct faults next = s->faults;
    int rc = faults_apply_json(&next, r->body.data ? r->body.data : "", r->body.len, err, sizeof err);
    if (rc == 0)
        rc = mimic_check(&next, err, sizeof err);
    if (rc == 0)
        s->faults = next;   /* all or nothing: a change the mimic refuses leaves the faults as they were */
    faults_to_json(&s->faults, &b);
    pthread_mutex_unlock(&s->lock);
    if (rc < 0) {
        buf_free(&b);
        return send_plain_error(c, 400, err);
    }
    log_info("faults changed", LOGS("faults", b.data));
    return send_json(c, 200, &b);
}

static enum MHD_Result route_requests(struct server *s, struct MHD_Connection *c, const char *url, struct request *r)
{
    (void)url, (void)r;
    struct buf b = {0};
    reqlog_to_json(&s->reqlog, &b);
    return send_json(c, 200, &b);
}

static enum MHD_Result route_requests_reset(struct server *s, struct MHD_Connection *c, const char *url,
                                            struct request *r)
{
    reqlog_reset(&s->reqlog);
    return route_requests(s, c, url, r);
}

struct route {
    const char *method;
    const char *path;
    bool        prefix;   /* path is a prefix of the URL, not the whole of it */
    route_fn    fn;
};

static const struct route routes[] = {
    {"POST", "/v1/audio/speech", false, route_openai},
    {"POST", ELEVENLABS_PREFIX, true, route_elevenlabs},
    {"GET", "/health", false, route_health},
    {"GET", "/admin/stats", false, route_stats},
    {"POST", "/admin/stats/reset", false, route_stats_reset},
    {"GET", "/admin/faults", false, route_faults_get},
    {"POST", "/admin/faults", false, route_faults_post},
    {"GET", "/admin/requests", false, route_requests},
    {"POST", "/admin/requests/reset", false, route_requests_reset},
};

static enum MHD_Result dispatch(struct server *s, struct MHD_Connection *c, const char *url, const char *method,
                                struct request *r)
{
    bool path_known = false;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const struct route *rt = &routes[i];
        bool match = rt->prefix ? strncmp(url, rt->path, strlen(rt->path)) == 0 : strcmp(url, rt->path) == 0;
        if (!match)
            continue;
        if (strcmp(method, rt->method) == 0)
            return rt->fn(s, c, url, r);
        path_known = true;
    }
    return path_known ? send_plain_error(c, 405, "method not allowed") : send_plain_error(c, 404, "not found");
}

/* ---- libmicrohttpd glue ----------------------------------------------------------------- */

/* Called first with the headers (allocate the request), then per chunk of body (collect it,
 * bounded), then once more with no data (answer). */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **req_cls)
{
    (void)version;
    struct request *r = *req_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        *req_cls = r;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (r->body.len + *upload_size > MAX_BODY_BYTES)
            r->too_big = true;
        else
            buf_append(&r->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    return dispatch(cls, c, url, method, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    struct request *r = *req_cls;
    if (r) {
        buf_free(&r->body);
        free(r);
        *req_cls = NULL;
    }
}

static void server_free(struct server *s)
{
    if (!s)
        return;
    for (int i = 0; i < 2; i++)
        if (s->stop_pipe[i] >= 0)
            close(s->stop_pipe[i]);
    pthread_mutex_destroy(&s->lock);
    reqlog_free(&s->reqlog);
    free(s->api_key);
    buf_free(&s->tone);
    free(s);
}

struct server *server_start(const struct server_conf *conf, char *err, size_t errlen)
{
    struct server *s = calloc(1, sizeof *s);
    if (!s || pipe2(s->stop_pipe, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "cannot set up the server: %s", strerror(errno));
        if (s)
            s->stop_pipe[0] = s->stop_pipe[1] = -1;
        server_free(s);
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    if (reqlog_init(&s->reqlog, REQLOG_KEEP) < 0) {
        snprintf(err, errlen, "out of memory");
        server_free(s);
        return NULL;
    }
    s->faults = conf->faults;
    s->rng = conf->seed;
    stats_init(&s->stats);
    audio_tone_wav(TONE_MS, TONE_RATE, &s->tone);
    if (conf->api_key && !(s->api_key = strdup(conf->api_key))) {
        snprintf(err, errlen, "out of memory");
        server_free(s);
        return NULL;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    if (conf->family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, conf->listen_fd,
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_TIMEOUT,
                              (unsigned)IDLE_TIMEOUT_S, MHD_OPTION_END);
    if (!s->mhd) {
        snprintf(err, errlen, "libmicrohttpd failed to start");
        server_free(s);
        return NULL;
    }
    return s;
}

void server_stop(struct server *s)
{
    if (!s)
        return;
    char byte = 1;
    if (write(s->stop_pipe[1], &byte, 1) != 1)
        log_warn("cannot wake held requests", LOGS("error", strerror(errno)));
    MHD_stop_daemon(s->mhd);
    server_free(s);
}
