/* server.c - voxcast-ttsd's routes on libmicrohttpd; see server.h.
 *
 * A speech request goes: count it in flight -> the key (a wrong one is answered at once) -> the
 * account (a concurrency slot, a token of the rate; a refusal is a 429 at once) -> latency ->
 * parse -> draw a fault -> act (reset, hang, error, HTML, audio cut short, or real audio) ->
 * answer, with the account's headers. The request stays in flight (and holds its slot) until the
 * reader below hands libmicrohttpd the last byte of its body, which is before that byte can reach
 * the client: so the server never sees more requests in flight than the client has outstanding,
 * and a test asserting a client's concurrency cap with peak_in_flight cannot fail through our own
 * bookkeeping. */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
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
#include "convert.h"
#include "espeak.h"
#include "jsonw.h"
#include "log.h"
#include "mimic.h"
#include "plan.h"
#include "reqlog.h"
#include "stats.h"
#include "xalloc.h"

#define MAX_BODY_BYTES      (1024 * 1024)
#define HANG_MS             600000
#define TONE_RATE           22050
#define IDLE_TIMEOUT_S      120       /* keep-alive connections idle longer are closed */
#define WAV_HEADER_BYTES    44        /* the header audio_wav_from_pcm16 writes */
#define REQLOG_KEEP         256       /* speech requests /admin/requests remembers */
#define REQLOG_BODY_MAX     65536     /* larger bodies are recorded by size only */
#define STREAM_PIECE        4096      /* bytes per read of a streamed answer: several chunks */

struct server {
    struct MHD_Daemon *mhd;
    pthread_mutex_t    lock;          /* guards faults and rng */
    struct faults      faults;
    uint64_t           rng;
    struct stats       stats;
    struct plan        plan;          /* the account: concurrency slots, rate */
    struct reqlog      reqlog;
    char              *api_key;       /* NULL: no key required */
    struct buf         tone;          /* --tone's answer, rendered once: a benchmark's provider
                                       * should cost as little per request as it can */
    struct buf         tone_mp3;      /* the same as MP3 */
    int                max_connections;
    _Atomic int        connections;   /* open, as libmicrohttpd reports them */
    int                stop_pipe[2];  /* written once at shutdown; never read, so it stays readable */
};

struct request {                      /* one HTTP request, MHD's req_cls */
    struct buf body;
    bool       too_big;               /* body passed MAX_BODY_BYTES; the rest was dropped */
    bool       counted;               /* in the stats' in_flight: end it once (flight_end) */
    bool       admitted;              /* holds a slot of the account */
};

/* A plain (no mimic) answer while it is built; sent as a struct mimic_answer. */
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

/* The speech as MP3: the WAV encoded by libmp3lame through convert_audio (mono, 64 kbit/s, at
 * the WAV's rate), so its duration is the speech's own. */
static int wav_to_mp3(const struct buf *wav, struct buf *out, char *err, size_t errlen)
{
    int rc = convert_audio(wav->data, wav->len, CONVERT_IN_WAV, OUT_FORMAT_MP3, out, NULL, err, errlen);
    return rc == 0 ? 0 : -1;   /* CONVERT_UNCHANGED cannot happen: a WAV is never an MP3 */
}

/* The audio itself: espeak-ng or the tone, as WAV or encoded to MP3. */
static int render(const struct server *s, const struct faults *f, const struct speech_request *req,
                  struct buf *out, char *err, size_t errlen)
{
    if (f->tone) {
        const struct buf *t = req->format == AUDIO_MP3 ? &s->tone_mp3 : &s->tone;
        buf_append(out, t->data, t->len);
        return 0;
    }
    if (req->format != AUDIO_MP3)
        return espeak_render_wav(req->text, req->voice, out, err, errlen);
    struct buf wav = {0};
    int rc = espeak_render_wav(req->text, req->voice, &wav, err, errlen);
    if (rc == 0)
        rc = wav_to_mp3(&wav, out, err, errlen);
    buf_free(&wav);
    return rc;
}

/* Cuts audio so it promises more than is sent: WAV keeps half its samples, MP3 half of its first
 * frame (a cut between whole frames would still be valid audio; a client checks the first frame).
 * The first frame is the shortest prefix audio_validate accepts. */
static void cut_short(struct buf *audio, enum audio_format fmt)
{
    if (fmt == AUDIO_WAV && audio->len > WAV_HEADER_BYTES) {
        audio->len = WAV_HEADER_BYTES + (audio->len - WAV_HEADER_BYTES) / 2;
    } else if (fmt == AUDIO_MP3) {
        size_t first = 1;
        while (first < audio->len && audio_validate(audio->data, first, AUDIO_MP3, NULL, 0) != 0)
            first++;
        audio->len = first / 2;
    }
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

/* ---- sending a speech answer ----------------------------------------------------------- */

/* The request is done for the counters: out of in_flight, its account slot given back. Called
 * when the reader hands out the body's last byte and again when the request completes (closed
 * without an answer, or a body that never reached its end); only the first call counts. Both run
 * on the connection's own thread. */
static void flight_end(struct server *s, struct request *r)
{
    if (r->counted)
        stats_end(&s->stats);
    if (r->admitted)
        plan_release(&s->plan);
    r->counted = r->admitted = false;
}

struct stream_body {                  /* a speech answer's bytes, owned by its MHD response */
    struct buf      body;
    size_t          limit;            /* bytes to send */
    bool            cut;              /* then close without ending the body */
    struct server  *s;
    struct request *r;                /* flight_end once the last byte is handed out; the reader
                                       * never runs after the request completed */
};

/* libmicrohttpd's reader: pieces of the body; at `limit` either the end of the stream (the final
 * chunk follows) or an error, on which libmicrohttpd closes the connection mid-body. */
static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
    struct stream_body *sb = cls;
    if (pos >= sb->limit) {
        flight_end(sb->s, sb->r);
        return sb->cut ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
    }
    size_t n = sb->limit - (size_t)pos;
    n = n < max ? n : max;
    n = n < STREAM_PIECE ? n : STREAM_PIECE;
    memcpy(out, sb->body.data + pos, n);
    if (pos + n >= sb->limit)
        flight_end(sb->s, sb->r);   /* the last byte: it reaches the client only after this */
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    struct stream_body *sb = cls;
    buf_free(&sb->body);
    free(sb);
}

/* Every speech answer goes through the reader, so its last byte can end the request's flight:
 * chunked (size unknown), sized, or sized and cut. */
static struct MHD_Response *stream_response(struct server *s, struct request *r, struct mimic_answer *a)
{
    struct stream_body *sb = xcalloc(1, sizeof *sb);
    sb->body = a->body;
    a->body = (struct buf){0};
    sb->cut = a->cut_at > 0 && a->cut_at < sb->body.len;
    sb->limit = sb->cut ? a->cut_at : sb->body.len;
    sb->s = s;
    sb->r = r;
    uint64_t size = a->chunked ? MHD_SIZE_UNKNOWN : sb->body.len;
    struct MHD_Response *resp = MHD_create_response_from_callback(size, STREAM_PIECE, stream_read, sb, stream_free);
    if (!resp)
        stream_free(sb);
    return resp;
}

static enum MHD_Result send_speech(struct server *s, struct MHD_Connection *c, struct request *r,
                                   struct mimic_answer *a)
{
    struct MHD_Response *resp = stream_response(s, r, a);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type);
    for (size_t i = 0; i < a->nheaders; i++)
        MHD_add_response_header(resp, a->headers[i].name, a->headers[i].value);
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)a->status, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* A plain answer in the shape send_speech takes. */
static void plain_reply(struct answer *pa, struct mimic_answer *a)
{
    a->status = pa->status;
    a->content_type = pa->content_type;
    a->body = pa->body;
    pa->body = (struct buf){0};
    if (pa->retry_after != FAULTS_UNSET) {
        char v[16];
        snprintf(v, sizeof v, "%d", pa->retry_after);
        mimic_set_header(a, "Retry-After", v);
    }
}

/* ---- one speech request ----------------------------------------------------------------- */

struct speech_call {                  /* one speech request, as the steps below see it */
    struct server         *s;
    struct MHD_Connection *c;
    const struct api_ops  *api;       /* the route's shape, without a mimic */
    const struct faults   *f;         /* snapshot taken when it arrived */
    struct request        *r;
    struct mimic_request   rq;        /* the same, for the mimic */
};

/* The mimic's answer to one speech request; reset and hang as in speech(). */
static enum fault_action mimic_speech(struct speech_call *sc, struct mimic_answer *a)
{
    struct mimic_ctx ctx = {sc->s, sc->f};
    struct mimic_env env = {&ctx, sc->s->api_key, mimic_decide, mimic_render};
    mimic_handle(sc->f, &env, &sc->rq, a);
    return a->action;
}

static enum fault_action plain_speech(struct speech_call *sc, struct mimic_answer *a)
{
    struct api_input in = {sc->r->body.data, sc->r->body.len, sc->rq.path_voice, sc->rq.output_format};
    struct answer pa = {.retry_after = FAULTS_UNSET};
    enum fault_action act = speech_decide(sc->s, sc->c, sc->api, &in, sc->r->too_big, sc->f, &pa);
    plain_reply(&pa, a);
    return act;
}

/* Whether the account judges this request: only one with the right key (on the mimic's own
 * route); the others are answered at once (401, or the mimic's 404/422), with no slot, no token
 * and no latency, so a wrong key learns nothing from timing and costs no thread for long. */
static bool accountable(const struct speech_call *sc)
{
    if (!mimic_active(sc->f))
        return key_ok(sc->s, sc->c, sc->api);
    return mimic_route_ok(sc->f, sc->rq.elevenlabs) && mimic_key_accepted(sc->f, sc->s->api_key, sc->rq.key_value);
}

/* The account's refusal in the route's (or the mimic's) 429 shape. */
static void throttle_answer(struct speech_call *sc, const struct plan_ticket *t, struct mimic_answer *a)
{
    bool concurrency = t->verdict == PLAN_TOO_MANY;
    stats_count_throttled(&sc->s->stats, concurrency);
    if (mimic_active(sc->f)) {
        struct mimic_throttle mt = {concurrency, t->limit, sc->f->rate, t->wait_ms};
        mimic_throttle(sc->f, &sc->rq, &mt, a);
        return;
    }
    char msg[512];
    if (concurrency)   /* ElevenLabs' text (help centre, "API Error Code 429"), with the limit in effect */
        snprintf(msg, sizeof msg, "Too many concurrent requests. Your current subscription is associated with a "
                 "maximum of %ld concurrent requests (running in parallel). This is done such that a single user "
                 "does not overwhelm our systems and affect other users negatively. Please upgrade your "
                 "subscription or contact sales if you want to increase this limit.", t->limit);
    else
        snprintf(msg, sizeof msg, "Rate limit reached: at most %g requests per second. Please try again in %lld ms.",
                 sc->f->rate, (long long)t->wait_ms);
    a->status = 429;
    a->content_type = "application/json";
    sc->api->throttle_body(&a->body, concurrency, msg);
    if (concurrency)
        return;
    char v[32];
    snprintf(v, sizeof v, "%d", plan_retry_after_s(t->wait_ms));
    mimic_set_header(a, "Retry-After", v);
    if (sc->api == &api_openai) {   /* OpenAI's own header for when the request budget is back */
        snprintf(v, sizeof v, "%lldms", (long long)t->wait_ms);
        mimic_set_header(a, "x-ratelimit-reset-requests", v);
    }
}

/* current-concurrent-requests and maximum-concurrent-requests, on every answer while a
 * concurrency limit is in effect (ElevenLabs sends them so clients can size their concurrency:
 * elevenlabs/elevenlabs-docs PR #1021, models page). */
static void account_headers(const struct plan_ticket *t, struct mimic_answer *a)
{
    if (t->limit <= 0)
        return;
    char v[24];
    snprintf(v, sizeof v, "%ld", t->current);
    mimic_set_header(a, "current-concurrent-requests", v);
    snprintf(v, sizeof v, "%ld", t->limit);
    mimic_set_header(a, "maximum-concurrent-requests", v);
}

/* Admits the request or refuses it (into a); true when it goes on to be served. */
static bool admit(struct speech_call *sc, struct plan_ticket *t, struct mimic_answer *a)
{
    long limit = sc->f->max_concurrent > 0 ? sc->f->max_concurrent : mimic_plan_concurrency(sc->f);
    if (!accountable(sc)) {
        *t = (struct plan_ticket){PLAN_ADMITTED, plan_in_use(&sc->s->plan), limit, 0};
        return true;
    }
    plan_admit(&sc->s->plan, limit, sc->f->rate, clock_mono_ms(), t);
    sc->r->admitted = t->verdict == PLAN_ADMITTED;
    if (sc->r->admitted) {
        if (sc->f->latency_ms > 0)
            wait_interruptible(sc->s, -1, sc->f->latency_ms);
        return true;
    }
    throttle_answer(sc, t, a);
    return false;
}

static enum MHD_Result speech(struct server *s, struct MHD_Connection *c, const struct api_ops *api,
                              const char *url, const char *path_voice, struct request *r)
{
    struct faults f;
    pthread_mutex_lock(&s->lock);
    f = s->faults;
    pthread_mutex_unlock(&s->lock);
    record_request(s, c, "POST", url, r);
    stats_begin(&s->stats, clock_wall_ms());
    r->counted = true;
    const char *key_header = mimic_key_header(&f);
    struct speech_call sc = {s, c, api, &f, r, {
        .method = "POST",
        .url = url,
        .elevenlabs = path_voice != NULL,
        .path_voice = path_voice,
        .output_format = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "output_format"),
        .key_value = key_header ? MHD_lookup_connection_value(c, MHD_HEADER_KIND, key_header) : NULL,
        .body = r->body.data,
        .len = r->body.len,
        .too_big = r->too_big,
    }};
    struct plan_ticket t;
    struct mimic_answer a = {0};
    enum fault_action act = FAULT_NONE;
    if (admit(&sc, &t, &a))
        act = mimic_active(&f) ? mimic_speech(&sc, &a) : plain_speech(&sc, &a);
    if (act == FAULT_RESET || act == FAULT_HANG) {
        mimic_answer_free(&a);
        if (act == FAULT_HANG) {
            stats_count_hang(&s->stats);
            wait_interruptible(s, connection_fd(c), HANG_MS);
        } else {
            stats_count_reset(&s->stats);
        }
        arm_reset(c);
        return MHD_NO;   /* libmicrohttpd closes the connection without an answer; on_completed ends it */
    }
    stats_count_status(&s->stats, a.status);
    account_headers(&t, &a);
    enum MHD_Result rc = send_speech(s, c, r, &a);
    mimic_answer_free(&a);
    return rc;
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
    pthread_mutex_lock(&s->lock);
    struct stats_account acct = {s->faults.max_concurrent > 0 ? s->faults.max_concurrent : mimic_plan_concurrency(&s->faults),
                                 s->faults.rate, 0};
    pthread_mutex_unlock(&s->lock);
    acct.in_use = plan_in_use(&s->plan);
    struct buf b = {0};
    stats_to_json(&s->stats, &acct, clock_wall_ms(), &b);
    return send_json(c, 200, &b);
}

/* Zeroes everything recorded: the counters and the request log (not the account's live state). */
static enum MHD_Result route_reset(struct server *s, struct MHD_Connection *c, const char *url, struct request *r)
{
    stats_reset(&s->stats);
    reqlog_reset(&s->reqlog);
    return route_stats(s, c, url, r);
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
    {"POST", "/admin/reset", false, route_reset},
    {"GET", "/admin/faults", false, route_faults_get},
    {"POST", "/admin/faults", false, route_faults_post},
    {"GET", "/admin/requests", false, route_requests},
    {"POST", "/admin/requests/reset", false, route_requests_reset},
};

#define ADMIN_PREFIX "/admin/"

/* With a key, every /admin/ route takes it too, in either header the speech routes read ("Authorization:
 * Bearer KEY" or "xi-api-key: KEY"), compared in constant time: the admin routes change what
 * every client gets and show what they sent. */
static bool admin_key_ok(const struct server *s, struct MHD_Connection *c)
{
    if (!s->api_key)
        return true;
    const char *bearer = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    const char *xi = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "xi-api-key");
    bool ok = bearer && strncasecmp(bearer, "Bearer ", 7) == 0 && mimic_secret_equal(bearer + 7, s->api_key);
    return (xi && mimic_secret_equal(xi, s->api_key)) || ok;
}

static enum MHD_Result dispatch(struct server *s, struct MHD_Connection *c, const char *url, const char *method,
                                struct request *r)
{
    if (strncmp(url, ADMIN_PREFIX, strlen(ADMIN_PREFIX)) == 0 && !admin_key_ok(s, c))
        return send_plain_error(c, 401, "the admin routes need the server's API key (Authorization: Bearer or xi-api-key)");
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
        r = xcalloc(1, sizeof *r);
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
    (void)c, (void)toe;
    struct request *r = *req_cls;
    if (r) {
        flight_end(cls, r);
        buf_free(&r->body);
        free(r);
        *req_cls = NULL;
    }
}

/* --max-connections: counted as libmicrohttpd opens and closes them (both notifications and the
 * accept policy below run in order, the opening ones on its listening thread), refused at accept
 * beyond the cap: the socket is closed before a thread or a byte is spent on it. Answering 503
 * would need a thread per refused connection, the very thing the cap protects. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    (void)c, (void)socket_context;
    struct server *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&s->connections, 1);
    else
        atomic_fetch_sub(&s->connections, 1);
}

static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    (void)addr, (void)addrlen;
    struct server *s = cls;
    if (atomic_load(&s->connections) < s->max_connections)
        return MHD_YES;
    stats_count_refused_connection(&s->stats);
    return MHD_NO;
}

static void server_free(struct server *s)
{
    if (!s)
        return;
    for (int i = 0; i < 2; i++)
        if (s->stop_pipe[i] >= 0)
            close(s->stop_pipe[i]);
    pthread_mutex_destroy(&s->lock);
    stats_free(&s->stats);
    plan_free(&s->plan);
    reqlog_free(&s->reqlog);
    free(s->api_key);
    buf_free(&s->tone);
    buf_free(&s->tone_mp3);
    free(s);
}

/* Renders --tone's answers once: the WAV and its MP3. */
static int tone_init(struct server *s, int tone_ms, char *err, size_t errlen)
{
    audio_tone_wav(tone_ms > 0 ? tone_ms : SERVER_TONE_MS, TONE_RATE, &s->tone);
    return wav_to_mp3(&s->tone, &s->tone_mp3, err, errlen);
}

struct server *server_start(const struct server_conf *conf, char *err, size_t errlen)
{
    struct server *s = xcalloc(1, sizeof *s);
    if (pipe2(s->stop_pipe, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "cannot set up the server: %s", strerror(errno));
        s->stop_pipe[0] = s->stop_pipe[1] = -1;
        server_free(s);
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    stats_init(&s->stats);
    plan_init(&s->plan, clock_mono_ms());
    reqlog_init(&s->reqlog, REQLOG_KEEP);
    s->faults = conf->faults;
    s->rng = conf->seed;
    s->max_connections = conf->max_connections > 0 ? conf->max_connections : SERVER_MAX_CONNECTIONS;
    atomic_init(&s->connections, 0);
    if (tone_init(s, conf->tone_ms, err, errlen) < 0) {
        server_free(s);
        return NULL;
    }
    if (conf->api_key)
        s->api_key = xstrdup(conf->api_key);
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    if (conf->family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* libmicrohttpd's own cap, above ours, only so its default (about 1020) does not bind first;
     * it lags ours because it counts a connection until its thread is joined. */
    unsigned mhd_limit = (unsigned)s->max_connections + 64;
    s->mhd = MHD_start_daemon(flags, 0, on_accept, s, on_request, s, MHD_OPTION_LISTEN_SOCKET, conf->listen_fd,
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION,
                              on_connection, s, MHD_OPTION_CONNECTION_LIMIT, mhd_limit, MHD_OPTION_CONNECTION_TIMEOUT,
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
