/* check_provider.c - the provider chain: configuration, request shapes, and real attempts.
 *
 * Configuration and request building are checked exactly, without a network. Attempts go to a
 * real HTTP server started inside the test (libmicrohttpd on a loopback port chosen by the
 * kernel) that answers by path: a valid WAV, a 503 with Retry-After, JSON instead of audio,
 * OpenAI's quota 429, and a request it never answers (the connection is suspended) so that
 * the client's timeout is what ends it. The espeak provider renders real speech on its worker
 * thread. Every wait is providers_wait() with a 10 s deadline: no sleeps. */
#include "check_main.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "audio.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "job.h"
#include "../../consumer/http_transport.h"
#include "../../consumer/provider.h"
#include "../../consumer/provider_ops.h"

#define KEY_VAR   "H7_CHECK_PROVIDER_KEY"
#define KEY       "sk-test-0123456789abcdef"
#define MAX_HUNG  4

/* ---- helpers: config, jobs ---- */

/* A config from "key=value" strings (NULL-terminated). */
static struct config *cfg_of(const char *const *kv)
{
    struct config *c = config_new();
    char err[256];
    for (; *kv; kv++)
        ck_assert_msg(config_set_arg(c, *kv, "test", err, sizeof err) == 0, "%s: %s", *kv, err);
    return c;
}

/* providers_new() must fail; returns its message (static storage). */
static const char *new_error(const char *const *kv)
{
    static char err[256];
    struct config *c = cfg_of(kv);
    err[0] = '\0';
    struct providers *ps = providers_new(c, err, sizeof err);
    ck_assert_ptr_null(ps);
    ck_assert_msg(err[0] != '\0', "no error message");
    config_free(c);
    return err;
}

static struct providers *new_ok(const char *const *kv)
{
    char err[256] = "";
    struct config *c = cfg_of(kv);
    struct providers *ps = providers_new(c, err, sizeof err);
    ck_assert_msg(ps != NULL, "providers_new: %s", err);
    config_free(c);
    return ps;
}

static void job_of(struct job *j, const char *json)
{
    char err[256];
    ck_assert_msg(job_decode(json, strlen(json), 0, j, err, sizeof err) == 0, "%s", err);
}

/* ---- helpers: collecting results ---- */

struct outcome {
    void                 *task;
    struct provider      *pv;
    struct attempt_result r;
};

struct collector {
    struct outcome out[8];
    size_t         n;
};

/* The done callback: keeps the result and takes its audio, as the engine's sink would. */
static void on_done(void *ctx, void *task, struct provider *pv, struct attempt_result *r)
{
    struct collector *c = ctx;
    ck_assert_uint_lt(c->n, 8);
    c->out[c->n++] = (struct outcome){.task = task, .pv = pv, .r = *r};
    r->audio = (struct buf){0};
}

static void collector_free(struct collector *c)
{
    for (size_t i = 0; i < c->n; i++)
        buf_free(&c->out[i].r.audio);
}

static const struct attempt_result *result_of(const struct collector *c, const void *task)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->out[i].task == task)
            return &c->out[i].r;
    ck_abort_msg("no result for task %p", task);
    return NULL;
}

/* Waits and drives until `want` results arrived; fails after 10 s. */
static void run_until(struct providers *ps, struct collector *c, size_t want)
{
    int64_t deadline = clock_mono_ms() + 10000;
    while (c->n < want) {
        int64_t left = deadline - clock_mono_ms();
        ck_assert_msg(left > 0, "only %zu of %zu results within 10 s", c->n, want);
        ck_assert_int_ge(providers_wait(ps, -1, (int)(left < 1000 ? left : 1000)), 0);
        providers_drive(ps, on_done, c);
    }
}

static void start_ok(struct provider *pv, const struct job *j, void *task)
{
    char err[256] = "";
    ck_assert_msg(provider_start(pv, j, task, err, sizeof err) == 0, "start: %s", err);
}

/* ---- the test server ---- */

struct server {
    struct MHD_Daemon     *d;
    int                    port;
    struct buf             wav;           /* what /wav answers */
    pthread_mutex_t        lock;          /* guards everything below */
    char                   auth[256];     /* last Authorization header */
    char                   xi_key[256];   /* last xi-api-key header */
    char                   accept[64];    /* last Accept header */
    char                   path[256];     /* last URL path */
    char                   output_format[64];
    struct buf             body;          /* last request body */
    int                    connections;   /* TCP connections accepted so far */
    struct MHD_Connection *hung[MAX_HUNG];
    int                    nhung;
    int                    hung_done[2];  /* a byte per suspended request that ended */
};

struct request {                          /* per-request state of the server */
    struct buf body;
    bool       suspended;
};

static void copy_header(struct MHD_Connection *c, enum MHD_ValueKind kind, const char *name,
                        char *out, size_t outlen)
{
    const char *v = MHD_lookup_connection_value(c, kind, name);
    snprintf(out, outlen, "%s", v ? v : "");
}

static void record(struct server *s, struct MHD_Connection *c, const char *url, const struct buf *body)
{
    pthread_mutex_lock(&s->lock);
    copy_header(c, MHD_HEADER_KIND, "Authorization", s->auth, sizeof s->auth);
    copy_header(c, MHD_HEADER_KIND, "xi-api-key", s->xi_key, sizeof s->xi_key);
    copy_header(c, MHD_HEADER_KIND, "Accept", s->accept, sizeof s->accept);
    copy_header(c, MHD_GET_ARGUMENT_KIND, "output_format", s->output_format, sizeof s->output_format);
    snprintf(s->path, sizeof s->path, "%s", url);
    buf_reset(&s->body);
    buf_append(&s->body, body->data ? body->data : "", body->len);
    pthread_mutex_unlock(&s->lock);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype,
                             const void *data, size_t len, const char *retry_after)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)data, MHD_RESPMEM_MUST_COPY);
    if (ctype)
        MHD_add_response_header(resp, "Content-Type", ctype);
    if (retry_after)
        MHD_add_response_header(resp, "Retry-After", retry_after);
    enum MHD_Result rc = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *ctype,
                                  const char *text, const char *retry_after)
{
    return reply(c, status, ctype, text, strlen(text), retry_after);
}

/* Never answers: the request is parked until server_stop() resumes it. */
static enum MHD_Result hang(struct server *s, struct MHD_Connection *c, struct request *r)
{
    pthread_mutex_lock(&s->lock);
    bool room = s->nhung < MAX_HUNG;   /* no ck_assert here: this is the server's thread */
    if (room)
        s->hung[s->nhung++] = c;
    pthread_mutex_unlock(&s->lock);
    if (!room)
        return MHD_NO;
    r->suspended = true;
    MHD_suspend_connection(c);
    return MHD_YES;
}

static enum MHD_Result route(struct server *s, struct MHD_Connection *c, const char *url,
                             struct request *r)
{
    if (strcmp(url, "/wav") == 0 || strncmp(url, "/v1/text-to-speech/", 19) == 0)
        return reply(c, 200, "audio/wav", s->wav.data, s->wav.len, NULL);
    if (strcmp(url, "/busy") == 0) {
        char text[512];
        pthread_mutex_lock(&s->lock);
        snprintf(text, sizeof text, "overloaded\r\n\t retry later;\x01 auth=%s\n", s->auth);
        pthread_mutex_unlock(&s->lock);
        return reply_text(c, 503, "text/plain", text, "2");
    }
    if (strcmp(url, "/pcm") == 0 || strncmp(url, "/pcm/", 5) == 0) {
        static const int16_t pcm[240] = {0, 1000, -1000, 2000, -2000};  /* 10 ms at 24 kHz */
        return reply(c, 200, "audio/pcm", pcm, sizeof pcm, NULL);
    }
    if (strncmp(url, "/ulaw/", 6) == 0) {
        /* ElevenLabs output_format=ulaw_8000: raw G.711 µ-law, no header, audio/basic
         * (elevenlabs-python text_to_speech_convert_request_output_format.py) */
        static const uint8_t ulaw[80] = {0xFF, 0x7F, 0x80, 0x00, 0x3C, 0xBC};   /* 10 ms */
        return reply(c, 200, "audio/basic", ulaw, sizeof ulaw, NULL);
    }
    if (strncmp(url, "/ulawjson/", 10) == 0)
        return reply_text(c, 200, "application/json", "{\"detail\":\"not audio\"}", NULL);
    if (strcmp(url, "/stream") == 0) {
        /* as OpenAI and Kokoro stream a WAV: RIFF and data sizes 0xFFFFFFFF */
        struct buf w = {0};
        buf_append(&w, s->wav.data, s->wav.len);
        memset(w.data + 4, 0xFF, 4);
        memset(w.data + 40, 0xFF, 4);
        enum MHD_Result rc = reply(c, 200, "audio/wav", w.data, w.len, NULL);
        buf_free(&w);
        return rc;
    }
    if (strncmp(url, "/nosuchvoice/", 13) == 0)   /* elevenlabs/elevenlabs-docs PR 1317 */
        return reply_text(c, 404, "application/json",
                          "{\"detail\":{\"status\":\"voice_not_found\",\"message\":\"A voice with the "
                          "voice_id alloy was not found.\"}}", NULL);
    if (strcmp(url, "/json") == 0)
        return reply_text(c, 200, "application/json", "{\"error\":\"nope\"}", NULL);
    if (strcmp(url, "/quota") == 0)
        return reply_text(c, 429, "application/json",
                          "{\"error\":{\"type\":\"insufficient_quota\",\"code\":\"insufficient_quota\"}}", NULL);
    if (strcmp(url, "/throttle") == 0)
        return reply_text(c, 429, "application/json", "{\"error\":{\"code\":\"rate_limit_exceeded\"}}", "7");
    if (strcmp(url, "/hang") == 0)
        return hang(s, c, r);
    if (strcmp(url, "/slow") == 0) {   /* a slow provider: the answer takes 600 ms */
        nanosleep(&(struct timespec){.tv_nsec = 600 * 1000000L}, NULL);
        return reply(c, 200, "audio/wav", s->wav.data, s->wav.len, NULL);
    }
    return reply_text(c, 404, "text/plain", "no such path", NULL);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    struct server *s = cls;
    struct request *r = *con_cls;
    (void)method;
    (void)version;
    if (!r) {
        *con_cls = r = calloc(1, sizeof *r);
        return r ? MHD_YES : MHD_NO;
    }
    if (*upload_data_size) {
        buf_append(&r->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->suspended)   /* resumed by server_stop(): just drop the connection */
        return MHD_NO;
    record(s, c, url, &r->body);
    return route(s, c, url, r);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct server *s = cls;
    struct request *r = *con_cls;
    (void)c;
    (void)toe;
    if (!r)
        return;
    if (r->suspended) {
        char one = 1;
        if (write(s->hung_done[1], &one, 1) != 1)
            abort();   /* the server's thread: a failed test cannot be reported from here */
    }
    buf_free(&r->body);
    free(r);
    *con_cls = NULL;
}

static void connection_event(void *cls, struct MHD_Connection *c, void **socket_context,
                             enum MHD_ConnectionNotificationCode toe)
{
    struct server *s = cls;
    (void)c;
    (void)socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        pthread_mutex_lock(&s->lock);
        s->connections++;
        pthread_mutex_unlock(&s->lock);
    }
}

static void server_start(struct server *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    ck_assert_int_eq(pipe(s->hung_done), 0);
    audio_tone_wav(40, 8000, &s->wav);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                                MHD_USE_ERROR_LOG,
                            0, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR, &sa,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, s,
                            MHD_OPTION_NOTIFY_CONNECTION, connection_event, s, MHD_OPTION_END);
    ck_assert_ptr_nonnull(s->d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    ck_assert_ptr_nonnull(info);
    s->port = info->port;
    ck_assert_int_gt(s->port, 0);
}

/* MHD must not be stopped with suspended requests: resume each and wait until it ended. */
static void server_stop(struct server *s)
{
    pthread_mutex_lock(&s->lock);
    int n = s->nhung;
    for (int i = 0; i < n; i++)
        MHD_resume_connection(s->hung[i]);
    s->nhung = 0;
    pthread_mutex_unlock(&s->lock);
    for (int i = 0; i < n; i++) {
        struct pollfd p = {.fd = s->hung_done[0], .events = POLLIN};
        char one;
        ck_assert_int_eq(poll(&p, 1, 5000), 1);
        ck_assert_int_eq(read(s->hung_done[0], &one, 1), 1);
    }
    MHD_stop_daemon(s->d);
    close(s->hung_done[0]);
    close(s->hung_done[1]);
    buf_free(&s->wav);
    buf_free(&s->body);
    pthread_mutex_destroy(&s->lock);
}

/* "provider.NAME.url=http://127.0.0.1:PORT/PATH" in static storage (slot 0-3). */
static const char *url_kv(const char *name, const struct server *s, const char *path, int slot)
{
    static char kv[4][256];
    snprintf(kv[slot], sizeof kv[slot], "provider.%s.url=http://127.0.0.1:%d%s", name, s->port, path);
    return kv[slot];
}

/* ================= configuration ================= */

START_TEST(test_config_empty_list)
{
    ck_assert_str_eq(new_error((const char *[]){"providers=", NULL}), "providers: the list is empty");
    ck_assert_str_eq(new_error((const char *[]){"providers=  ", NULL}), "providers: the list is empty");
    ck_assert_str_eq(new_error((const char *[]){"providers=espeak,,x", NULL}),
                     "providers: empty name in the list");
    ck_assert_str_eq(new_error((const char *[]){"providers=espeak, ", NULL}),
                     "providers: empty name in the list");
    ck_assert_str_eq(new_error((const char *[]){"providers= , espeak", NULL}),
                     "providers: empty name in the list");
}
END_TEST

START_TEST(test_config_repeated_name)
{
    ck_assert_str_eq(new_error((const char *[]){"providers=espeak, espeak", NULL}),
                     "providers: \"espeak\" is listed twice");
}
END_TEST

START_TEST(test_config_bad_name)
{
    const char *e = new_error((const char *[]){"providers=Primary", NULL});
    ck_assert_msg(strstr(e, "\"Primary\" is not a provider name"), "%s", e);
    e = new_error((const char *[]){"providers=a b", NULL});
    ck_assert_msg(strstr(e, "\"a b\" is not a provider name"), "%s", e);
}
END_TEST

START_TEST(test_config_unknown_type)
{
    ck_assert_str_eq(new_error((const char *[]){"providers=tts", "provider.tts.type=polly", NULL}),
                     "provider.tts.type: unknown type \"polly\" (openai, elevenlabs or espeak)");
}
END_TEST

START_TEST(test_config_missing_type)
{
    ck_assert_str_eq(new_error((const char *[]){"providers=espeak,tts", NULL}),
                     "provider.tts.type: required (openai, elevenlabs or espeak)");
}
END_TEST

START_TEST(test_config_missing_url)
{
    ck_assert_str_eq(new_error((const char *[]){"providers=tts", "provider.tts.type=openai", NULL}),
                     "provider.tts.url: required for type openai");
    ck_assert_str_eq(new_error((const char *[]){"providers=el", "provider.el.type=elevenlabs", NULL}),
                     "provider.el.url: required for type elevenlabs");
    ck_assert_str_eq(new_error((const char *[]){"providers=tts", "provider.tts.type=openai",
                                                "provider.tts.url=ftp://h/x", NULL}),
                     "provider.tts.url: must start with http:// or https://");
}
END_TEST

/* The config already refuses negative numbers; zero timeouts are ours to refuse. */
START_TEST(test_config_bad_numbers)
{
    ck_assert_str_eq(new_error((const char *[]){"providers=espeak", "provider.espeak.timeout_ms=0", NULL}),
                     "provider.espeak.timeout_ms: must be at least 1");
    ck_assert_str_eq(new_error((const char *[]){"providers=espeak", "provider.espeak.connect_timeout_ms=0", NULL}),
                     "provider.espeak.connect_timeout_ms: must be at least 1");
    ck_assert_str_eq(new_error((const char *[]){"providers=espeak", "provider.espeak.concurrency=3000000000", NULL}),
                     "provider.espeak.concurrency: must be at most 2147483647");
}
END_TEST

/* The key never appears in an error, whatever else is wrong. */
START_TEST(test_config_error_has_no_key)
{
    setenv(KEY_VAR, KEY, 1);
    const char *e = new_error((const char *[]){"providers=a,b", "provider.a.type=openai",
                                               "provider.a.url=http://h/", "provider.a.api_key_env=" KEY_VAR,
                                               "provider.b.type=nope", NULL});
    ck_assert_ptr_null(strstr(e, KEY));
    ck_assert_str_eq(e, "provider.b.type: unknown type \"nope\" (openai, elevenlabs or espeak)");
}
END_TEST

START_TEST(test_config_chain)
{
    setenv(KEY_VAR, KEY, 1);
    struct providers *ps = new_ok((const char *[]){
        "providers= main ,\tel, espeak ", "provider.main.type=openai",
        "provider.main.url=https://api.openai.com/v1/audio/speech", "provider.main.api_key_env=" KEY_VAR,
        "provider.main.rate=2.5", "provider.main.concurrency=4", "provider.main.model=tts-1-hd",
        "provider.el.type=elevenlabs", "provider.el.url=https://api.elevenlabs.io/v1/text-to-speech/{voice_id}",
        "provider.el.rate=0.5", "provider.el.timeout_ms=1500", "provider.el.connect_timeout_ms=700",
        "provider.el.voice=Rachel", "breaker.failure_threshold=3", "breaker.open_ms=1234", NULL});
    ck_assert_uint_eq(providers_count(ps), 3);
    ck_assert_uint_eq(providers_active(ps), 0);
    struct provider *m = providers_at(ps, 0), *el = providers_at(ps, 1), *es = providers_at(ps, 2);
    ck_assert_ptr_null(providers_at(ps, 3));
    ck_assert_str_eq(m->name, "main");
    ck_assert_str_eq(el->name, "el");
    ck_assert_str_eq(es->name, "espeak");
    ck_assert_int_eq(m->type, PROVIDER_OPENAI);
    ck_assert_int_eq(el->type, PROVIDER_ELEVENLABS);
    ck_assert_int_eq(es->type, PROVIDER_ESPEAK);
    ck_assert_ptr_eq(m->owner, ps);
    ck_assert_str_eq(m->api_key, KEY);
    ck_assert_ptr_null(el->api_key);
    ck_assert_str_eq(m->model, "tts-1-hd");
    ck_assert_ptr_null(m->voice);
    ck_assert_str_eq(el->voice, "Rachel");
    ck_assert_int_eq(m->max_text_chars, 0);      /* not configured: the per-model limit */
    ck_assert_int_eq(el->max_text_chars, 0);
    ck_assert_int_eq(es->max_text_chars, 0);
    ck_assert_int_eq(m->timeout_ms, 60000);
    ck_assert_int_eq(m->connect_timeout_ms, 5000);
    ck_assert_int_eq(el->timeout_ms, 1500);
    ck_assert_int_eq(el->connect_timeout_ms, 700);
    ck_assert_int_eq(m->concurrency_cap, 4);
    ck_assert_int_eq(el->concurrency_cap, 0);
    ck_assert_double_eq(m->rate.rate_per_s, 2.5);
    ck_assert_double_eq(m->rate.burst, 2.5);
    ck_assert_double_eq(el->rate.burst, 1.0);    /* burst = max(1, rate) */
    ck_assert_double_eq(es->rate.rate_per_s, 0.0);
    ck_assert_int_eq(m->breaker.cfg.failure_threshold, 3);
    ck_assert_int_eq(es->breaker.cfg.open_ms, 1234);
    ck_assert_int_eq(es->breaker.cfg.half_open_successes, 2);
    ck_assert_int_eq(m->breaker.state, BREAKER_CLOSED);
    ck_assert_int_eq(m->in_flight, 0);
    ck_assert_int_eq(m->not_before_ms, 0);
    ck_assert_str_eq(provider_type_name(PROVIDER_ELEVENLABS), "elevenlabs");
    ck_assert_str_eq(provider_type_name((enum provider_type)9), "unknown");
    providers_free(ps);
    providers_free(NULL);
}
END_TEST

START_TEST(test_config_key_unset)
{
    unsetenv(KEY_VAR);
    struct providers *ps = new_ok((const char *[]){"providers=tts", "provider.tts.type=openai",
                                                   "provider.tts.url=http://127.0.0.1:1/",
                                                   "provider.tts.api_key_env=" KEY_VAR,
                                                   "provider.tts.max_text_chars=100", NULL});
    ck_assert_ptr_null(providers_at(ps, 0)->api_key);
    ck_assert_int_eq(providers_at(ps, 0)->max_text_chars, 100);
    providers_free(ps);
    setenv(KEY_VAR, "", 1);
    ps = new_ok((const char *[]){"providers=tts", "provider.tts.type=openai",
                                 "provider.tts.url=http://127.0.0.1:1/",
                                 "provider.tts.api_key_env=" KEY_VAR, NULL});
    ck_assert_ptr_null(providers_at(ps, 0)->api_key);
    providers_free(ps);
}
END_TEST

/* ================= provider_accepts ================= */

START_TEST(test_accepts)
{
    struct providers *ps = new_ok((const char *[]){"providers=tts,small,espeak", "provider.tts.type=openai",
                                                   "provider.tts.url=http://h/", "provider.small.type=openai",
                                                   "provider.small.url=http://h/", "provider.small.max_text_chars=3",
                                                   NULL});
    struct provider *tts = providers_at(ps, 0), *small = providers_at(ps, 1), *es = providers_at(ps, 2);
    struct job wav, mp3, three, four;
    job_of(&wav, "{\"v\":1,\"campaign\":\"c\",\"contact\":\"1\",\"text\":\"hello\"}");
    job_of(&mp3, "{\"v\":1,\"campaign\":\"c\",\"contact\":\"1\",\"text\":\"hello\",\"format\":\"mp3\"}");
    job_of(&three, "{\"v\":1,\"campaign\":\"c\",\"contact\":\"1\",\"text\":\"h\\u00e9\\u20ac\"}");
    job_of(&four, "{\"v\":1,\"campaign\":\"c\",\"contact\":\"1\",\"text\":\"h\\u00e9\\u20acx\"}");
    ck_assert(provider_accepts(es, &wav));
    ck_assert(provider_accepts(es, &mp3));        /* espeak's WAV is encoded by the writer */
    ck_assert(provider_accepts(tts, &mp3));
    ck_assert(provider_accepts(small, &three));   /* 3 characters, 6 bytes */
    ck_assert(!provider_accepts(small, &four));
    /* OpenAI's default limit: 4096 characters pass, 4097 do not. */
    struct buf t = {0};
    for (int i = 0; i < 4096; i++)
        buf_putc(&t, 'a');
    free(wav.text);
    wav.text = strdup(t.data);
    ck_assert(provider_accepts(tts, &wav));
    buf_putc(&t, 'a');
    free(wav.text);
    wav.text = buf_steal(&t);
    ck_assert(!provider_accepts(tts, &wav));
    ck_assert(provider_accepts(es, &wav));
    job_free(&wav);
    job_free(&mp3);
    job_free(&three);
    job_free(&four);
    providers_free(ps);
}
END_TEST

/* ================= request building ================= */

static struct providers *openai_chain(const char *model, const char *voice, bool key)
{
    static char m[64], v[64];
    snprintf(m, sizeof m, "provider.tts.model=%s", model);
    snprintf(v, sizeof v, "provider.tts.voice=%s", voice);
    if (key)
        setenv(KEY_VAR, KEY, 1);
    else
        unsetenv(KEY_VAR);
    return new_ok((const char *[]){"providers=tts", "provider.tts.type=openai",
                                   "provider.tts.url=https://api.openai.com/v1/audio/speech",
                                   "provider.tts.api_key_env=" KEY_VAR, m, v, NULL});
}

static void build(const struct provider *pv, const char *job_json, struct provider_request *req)
{
    struct job j;
    char err[256] = "";
    job_of(&j, job_json);
    memset(req, 0, sizeof *req);
    ck_assert_msg(pv->ops->build(pv, &j, req, err, sizeof err) == 0, "build: %s", err);
    job_free(&j);
}

START_TEST(test_openai_build_defaults)
{
    struct providers *ps = openai_chain("", "", true);
    struct provider_request req;
    build(providers_at(ps, 0), "{\"v\":1,\"campaign\":\"c\",\"contact\":\"1\",\"text\":\"Hi \\\"there\\\"\\n\"}", &req);
    ck_assert_str_eq(req.url.data, "https://api.openai.com/v1/audio/speech");
    ck_assert_str_eq(provider_request_find(&req, "Authorization"), "Bearer " KEY);
    ck_assert_str_eq(provider_request_find(&req, "content-type"), "application/json");
    ck_assert_str_eq(req.body.data, "{\"model\":\"tts-1\",\"input\":\"Hi \\\"there\\\"\\n\","
                                    "\"voice\":\"alloy\",\"response_format\":\"wav\"}");
    provider_request_free(&req);
    ck_assert_ptr_null(req.headers);
    providers_free(ps);
}
END_TEST

START_TEST(test_openai_build_voices)
{
    struct providers *ps = openai_chain("tts-1-hd", "nova", false);
    struct provider_request req;
    /* the provider's own voice wins over a logical voice it has no entry for: a foreign
     * name is never sent */
    build(providers_at(ps, 0), "{\"v\":1,\"campaign\":\"c\",\"contact\":\"1\",\"text\":\"x\","
                               "\"voice\":\"echo\",\"format\":\"mp3\"}", &req);
    ck_assert_ptr_null(provider_request_find(&req, "Authorization"));   /* no key, no header */
    ck_assert_str_eq(req.body.data, "{\"model\":\"tts-1-hd\",\"input\":\"x\",\"voice\":\"nova\","
                                    "\"response_format\":\"mp3\"}");
    ck_assert_str_eq(req.asked.voice, "nova");
    ck_assert_str_eq(req.asked.model, "tts-1-hd");
    ck_assert_str_eq(req.asked.output_format, "mp3");
    ck_assert_int_eq(req.asked.pcm_rate, 0);
    provider_request_free(&req);
    build(providers_at(ps, 0), "{\"v\":1,\"campaign\":\"c\",\"contact\":\"1\",\"text\":\"y\",\"lang\":\"fr\"}", &req);
    ck_assert_str_eq(req.body.data, "{\"model\":\"tts-1-hd\",\"input\":\"y\",\"voice\":\"nova\","
                                    "\"response_format\":\"wav\"}");
    provider_request_free(&req);
    providers_free(ps);
}
END_TEST

/* An elevenlabs provider "el" at url, voice Rachel (or "R id/1?x" with odd_voice), model
 * eleven_turbo_v2 with `model`, else the type's. */
static struct providers *eleven_chain(const char *url, const char *model)
{
    static char u[256];
    snprintf(u, sizeof u, "provider.el.url=%s", url);
    setenv(KEY_VAR, KEY, 1);
    return new_ok((const char *[]){"providers=el", "provider.el.type=elevenlabs", u,
                                   "provider.el.api_key_env=" KEY_VAR,
                                   model && strcmp(model, "odd") == 0 ? "provider.el.voice=R id/1?x"
                                                                      : "provider.el.voice=Rachel",
                                   model && strcmp(model, "y") == 0 ? "provider.el.model=eleven_turbo_v2"
                                                                    : "provider.el.model=",
                                   NULL});
}

static const char *eleven_url(const char *url, const char *job_json, bool voice_model)
{
    static char out[512];
    struct providers *ps = eleven_chain(url, voice_model ? "y" : "odd");
    struct provider_request req;
    build(providers_at(ps, 0), job_json, &req);
    snprintf(out, sizeof out, "%s", req.url.data);
    provider_request_free(&req);
    providers_free(ps);
    return out;
}

#define JOB_PLAIN "{\"v\":1,\"campaign\":\"c\",\"contact\":\"1\",\"text\":\"Hello\"}"
#define JOB_MP3   "{\"v\":1,\"campaign\":\"c\",\"contact\":\"1\",\"text\":\"Hello\",\"format\":\"mp3\"}"
#define JOB_ODD_VOICE "{\"v\":1,\"campaign\":\"c\",\"contact\":\"1\",\"text\":\"Hello\",\"voice\":\"R id/1?x\"}"

START_TEST(test_elevenlabs_build)
{
    struct providers *ps = eleven_chain("https://api.elevenlabs.io/v1/text-to-speech/{voice_id}", "odd");
    struct provider_request req;
    /* the job's logical voice "alloy" has no entry: the provider's voice id is sent, escaped */
    build(providers_at(ps, 0), "{\"v\":1,\"campaign\":\"c\",\"contact\":\"1\",\"text\":\"Hello\","
                               "\"voice\":\"alloy\"}", &req);
    ck_assert_str_eq(req.url.data,
                     "https://api.elevenlabs.io/v1/text-to-speech/R%20id%2F1%3Fx?output_format=pcm_24000");
    ck_assert_str_eq(req.asked.voice, "R id/1?x");
    ck_assert_str_eq(req.asked.output_format, "pcm_24000");
    ck_assert_int_eq(req.asked.pcm_rate, 24000);
    ck_assert_str_eq(provider_request_find(&req, "xi-api-key"), KEY);
    ck_assert_str_eq(provider_request_find(&req, "Accept"), "*/*");
    ck_assert_str_eq(provider_request_find(&req, "Content-Type"), "application/json");
    ck_assert_ptr_null(provider_request_find(&req, "Authorization"));
    ck_assert_str_eq(req.body.data, "{\"text\":\"Hello\",\"model_id\":\"eleven_multilingual_v2\"}");
    provider_request_free(&req);
    build(providers_at(ps, 0), JOB_MP3, &req);
    ck_assert_str_eq(req.url.data,
                     "https://api.elevenlabs.io/v1/text-to-speech/R%20id%2F1%3Fx?output_format=mp3_44100_128");
    ck_assert_str_eq(provider_request_find(&req, "Accept"), "audio/mpeg");
    provider_request_free(&req);
    providers_free(ps);
}
END_TEST

/* Each job format asks ElevenLabs for its native output_format (µ-law raw, telephony rates as
 * PCM, MP3); plain WAV keeps pcm_24000. */
START_TEST(test_elevenlabs_native_formats)
{
    static const struct { const char *format, *asked, *accept; int pcm_rate; enum convert_input kind; } rows[] = {
        {"wav", "pcm_24000", "*/*", 24000, CONVERT_IN_WAV},
        {"mp3", "mp3_44100_128", "audio/mpeg", 0, CONVERT_IN_MP3},
        {"ulaw_8000", "ulaw_8000", "audio/basic", 0, CONVERT_IN_ULAW_8000},
        {"alaw_8000", "pcm_8000", "*/*", 8000, CONVERT_IN_WAV},
        {"wav_8000", "pcm_8000", "*/*", 8000, CONVERT_IN_WAV},
        {"wav_16000", "pcm_16000", "*/*", 16000, CONVERT_IN_WAV},
    };
    struct providers *ps = eleven_chain("http://h/v/{voice_id}", "y");
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char job[160], url[128];
        snprintf(job, sizeof job, "{\"v\":1,\"campaign\":\"c\",\"contact\":\"1\",\"text\":\"Hello\","
                 "\"format\":\"%s\"}", rows[i].format);
        snprintf(url, sizeof url, "http://h/v/Rachel?output_format=%s", rows[i].asked);
        struct provider_request req;
        build(providers_at(ps, 0), job, &req);
        ck_assert_str_eq(req.url.data, url);
        ck_assert_str_eq(req.asked.output_format, rows[i].asked);
        ck_assert_int_eq(req.asked.pcm_rate, rows[i].pcm_rate);
        ck_assert_int_eq(req.asked.kind, rows[i].kind);
        ck_assert_str_eq(provider_request_find(&req, "Accept"), rows[i].accept);
        provider_request_free(&req);
    }
    providers_free(ps);
}
END_TEST

START_TEST(test_elevenlabs_urls)
{
    /* no placeholder: the voice becomes the last path segment, before any query */
    ck_assert_str_eq(eleven_url("http://h/v1/text-to-speech", JOB_PLAIN, true),
                     "http://h/v1/text-to-speech/Rachel?output_format=pcm_24000");
    ck_assert_str_eq(eleven_url("http://h/v1/text-to-speech/", JOB_PLAIN, true),
                     "http://h/v1/text-to-speech/Rachel?output_format=pcm_24000");
    ck_assert_str_eq(eleven_url("http://h/tts?optimize_streaming_latency=0", JOB_MP3, false),
                     "http://h/tts/R%20id%2F1%3Fx?optimize_streaming_latency=0&output_format=mp3_44100_128");
    /* an output_format in the url wins */
    ck_assert_str_eq(eleven_url("http://h/v/{voice_id}?output_format=pcm_16000", JOB_PLAIN, true),
                     "http://h/v/Rachel?output_format=pcm_16000");
    ck_assert_str_eq(eleven_url("http://h/v/{voice_id}/stream?a=1&output_format=wav_22050", JOB_ODD_VOICE, false),
                     "http://h/v/R%20id%2F1%3Fx/stream?a=1&output_format=wav_22050");
    /* a parameter that merely ends in output_format does not count */
    ck_assert_str_eq(eleven_url("http://h/v/{voice_id}?xoutput_format=1", JOB_PLAIN, true),
                     "http://h/v/Rachel?xoutput_format=1&output_format=pcm_24000");

    struct providers *ps = eleven_chain("http://h/v/{voice_id}", "y");
    struct provider_request req;
    build(providers_at(ps, 0), JOB_PLAIN, &req);
    ck_assert_str_eq(req.body.data, "{\"text\":\"Hello\",\"model_id\":\"eleven_turbo_v2\"}");
    provider_request_free(&req);
    providers_free(ps);
}
END_TEST

START_TEST(test_openai_quota_quirk)
{
    struct providers *ps = openai_chain("", "", false);
    const struct provider *pv = providers_at(ps, 0);
    const char *quota = "{\"error\":{\"message\":\"You exceeded your current quota\",\"type\":\"insufficient_quota\"}}";
    const char *rate = "{\"error\":{\"code\":\"rate_limit_exceeded\"}}";
    struct provider_asked asked = {.voice = "alloy", .model = "tts-1"};
    char cause[256];
    ck_assert_ptr_nonnull(pv->ops->refine_class);
    ck_assert_int_eq(pv->ops->refine_class(pv, &asked, CLASS_THROTTLED, 429, quota, strlen(quota),
                                           cause, sizeof cause), CLASS_PROVIDER);
    ck_assert_str_eq(cause, "quota or credit exhausted (HTTP 429 insufficient_quota): You exceeded "
                            "your current quota");
    ck_assert_int_eq(pv->ops->refine_class(pv, &asked, CLASS_THROTTLED, 429, rate, strlen(rate),
                                           cause, sizeof cause), CLASS_THROTTLED);
    ck_assert_str_eq(cause, "");
    ck_assert_int_eq(pv->ops->refine_class(pv, &asked, CLASS_THROTTLED, 429, "", 0, cause,
                                           sizeof cause), CLASS_THROTTLED);
    ck_assert_int_eq(pv->ops->refine_class(pv, &asked, CLASS_RETRY, 500, "{}", 2, cause,
                                           sizeof cause), CLASS_RETRY);
    ck_assert_ptr_nonnull(provider_elevenlabs_ops.refine_class);
    providers_free(ps);
}
END_TEST

START_TEST(test_start_bad_format)
{
    struct providers *ps = new_ok((const char *[]){"providers=espeak", NULL});
    struct job j;
    char err[128] = "";
    job_of(&j, JOB_PLAIN);
    free(j.format);
    j.format = strdup("ogg");
    ck_assert_int_eq(provider_start(providers_at(ps, 0), &j, &j, err, sizeof err), -1);
    ck_assert_str_eq(err, "unknown audio format \"ogg\"");
    ck_assert(!provider_accepts(providers_at(ps, 0), &j));
    ck_assert_uint_eq(providers_active(ps), 0);
    job_free(&j);
    providers_free(ps);
}
END_TEST

/* ================= real attempts over HTTP ================= */

/* One openai-type provider "tts" at PATH on the test server. */
static struct providers *http_chain(const struct server *s, const char *path, const char *timeout)
{
    setenv(KEY_VAR, KEY, 1);
    return new_ok((const char *[]){"providers=tts", "provider.tts.type=openai", url_kv("tts", s, path, 0),
                                   "provider.tts.api_key_env=" KEY_VAR, timeout, NULL});
}

START_TEST(test_http_wav)
{
    struct server s;
    server_start(&s);
    struct providers *ps = http_chain(&s, "/wav", "provider.tts.timeout_ms=10000");
    struct provider *pv = providers_at(ps, 0);
    struct job j;
    job_of(&j, "{\"v\":1,\"campaign\":\"c\",\"contact\":\"1\",\"text\":\"Hello there\",\"voice\":\"nova\"}");
    struct collector col = {0};
    int tasks[3];
    for (int i = 0; i < 3; i++)
        start_ok(pv, &j, &tasks[i]);
    ck_assert_uint_eq(providers_active(ps), 3);
    run_until(ps, &col, 3);
    ck_assert_uint_eq(providers_active(ps), 0);
    for (int i = 0; i < 3; i++) {
        const struct attempt_result *r = result_of(&col, &tasks[i]);
        ck_assert_int_eq(r->cls, CLASS_OK);
        ck_assert_int_eq(r->http_status, 200);
        ck_assert_int_eq(r->retry_after_ms, -1);
        ck_assert_str_eq(r->error, "");
        ck_assert(r->latency_s > 0);
        ck_assert_uint_eq(r->audio.len, s.wav.len);
        ck_assert_mem_eq(r->audio.data, s.wav.data, s.wav.len);
        ck_assert_ptr_eq(col.out[i].pv, pv);
    }
    pthread_mutex_lock(&s.lock);
    ck_assert_str_eq(s.auth, "Bearer " KEY);
    ck_assert_str_eq(s.body.data, "{\"model\":\"tts-1\",\"input\":\"Hello there\",\"voice\":\"nova\","
                                  "\"response_format\":\"wav\"}");
    pthread_mutex_unlock(&s.lock);
    collector_free(&col);
    job_free(&j);
    providers_free(ps);
    server_stop(&s);
}
END_TEST

/* Sequential attempts to one host share one kept-alive connection. */
START_TEST(test_http_connection_reuse)
{
    struct server s;
    server_start(&s);
    struct providers *ps = http_chain(&s, "/wav", "provider.tts.timeout_ms=10000");
    struct job j;
    job_of(&j, JOB_PLAIN);
    struct collector col = {0};
    int tasks[3];
    for (int i = 0; i < 3; i++) {
        start_ok(providers_at(ps, 0), &j, &tasks[i]);
        run_until(ps, &col, (size_t)i + 1);
        ck_assert_int_eq(col.out[i].r.cls, CLASS_OK);
    }
    pthread_mutex_lock(&s.lock);
    ck_assert_int_eq(s.connections, 1);
    pthread_mutex_unlock(&s.lock);
    collector_free(&col);
    job_free(&j);
    providers_free(ps);
    server_stop(&s);
}
END_TEST

START_TEST(test_http_503_retry_after)
{
    struct server s;
    server_start(&s);
    struct providers *ps = http_chain(&s, "/busy", "provider.tts.timeout_ms=10000");
    struct job j;
    job_of(&j, JOB_PLAIN);
    struct collector col = {0};
    start_ok(providers_at(ps, 0), &j, &j);
    run_until(ps, &col, 1);
    const struct attempt_result *r = result_of(&col, &j);
    ck_assert_int_eq(r->cls, CLASS_RETRY);
    ck_assert_int_eq(r->http_status, 503);
    ck_assert_int_eq(r->retry_after_ms, 2000);
    ck_assert_uint_eq(r->audio.len, 0);
    /* control characters collapsed, the key the server echoed redacted */
    ck_assert_str_eq(r->error, "HTTP 503: overloaded retry later; auth=Bearer [REDACTED]");
    ck_assert_ptr_null(strstr(r->error, KEY));
    collector_free(&col);
    job_free(&j);
    providers_free(ps);
    server_stop(&s);
}
END_TEST

START_TEST(test_http_timeout)
{
    struct server s;
    server_start(&s);
    struct providers *ps = http_chain(&s, "/hang", "provider.tts.timeout_ms=200");
    providers_at(ps, 0)->timeout_per_char_ms = 0;   /* the time a text's length adds: see below */
    struct job j;
    job_of(&j, JOB_PLAIN);
    struct collector col = {0};
    int64_t t0 = clock_mono_ms();
    start_ok(providers_at(ps, 0), &j, &j);
    run_until(ps, &col, 1);
    const struct attempt_result *r = result_of(&col, &j);
    ck_assert_int_eq(r->cls, CLASS_RETRY);
    ck_assert_int_eq(r->http_status, 0);
    ck_assert_int_eq(r->retry_after_ms, -1);
    ck_assert_str_eq(r->error, "timeout after 200 ms");
    ck_assert_int_ge(clock_mono_ms() - t0, 190);
    ck_assert(r->latency_s >= 0.19);
    collector_free(&col);
    job_free(&j);
    providers_free(ps);
    server_stop(&s);
}
END_TEST

/* A long text is given longer: rendering it takes longer before (and while) the answer comes. */
START_TEST(test_timeout_grows_with_text)
{
    struct provider pv = {.timeout_ms = 60000, .timeout_per_char_ms = 25};
    ck_assert_int_eq(provider_timeout_ms(&pv, 0), 60000);
    ck_assert_int_eq(provider_timeout_ms(&pv, 4096), 60000 + 4096 * 25);
    pv.timeout_per_char_ms = 0;
    ck_assert_int_eq(provider_timeout_ms(&pv, 40000), 60000);
    /* the body cap never falls below the transport's and grows with the text */
    ck_assert_uint_eq(provider_max_body(0), HTTP_MAX_BODY);
    ck_assert_uint_ge(provider_max_body(40000), (size_t)40000 * 6000);
    ck_assert_uint_eq(provider_max_body(SIZE_MAX), SIZE_MAX);
}
END_TEST

START_TEST(test_http_connect_refused)
{
    /* A port that was just free: bind, learn it, close. Nothing listens there now. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    char url[128];
    snprintf(url, sizeof url, "provider.tts.url=http://127.0.0.1:%d/", ntohs(sa.sin_port));
    struct providers *ps = new_ok((const char *[]){"providers=tts", "provider.tts.type=openai", url, NULL});
    struct job j;
    job_of(&j, JOB_PLAIN);
    struct collector col = {0};
    start_ok(providers_at(ps, 0), &j, &j);
    run_until(ps, &col, 1);
    const struct attempt_result *r = result_of(&col, &j);
    ck_assert_int_eq(r->cls, CLASS_RETRY);
    ck_assert_int_eq(r->http_status, 0);
    ck_assert_str_eq(r->error, "connect: Connection refused");
    collector_free(&col);
    job_free(&j);
    providers_free(ps);
}
END_TEST

START_TEST(test_http_not_audio)
{
    struct server s;
    server_start(&s);
    struct providers *ps = http_chain(&s, "/json", "provider.tts.timeout_ms=10000");
    struct job j;
    job_of(&j, JOB_PLAIN);
    struct collector col = {0};
    start_ok(providers_at(ps, 0), &j, &j);
    run_until(ps, &col, 1);
    const struct attempt_result *r = result_of(&col, &j);
    ck_assert_int_eq(r->cls, CLASS_RETRY);
    ck_assert_int_eq(r->http_status, 200);
    ck_assert_uint_eq(r->audio.len, 0);
    ck_assert_msg(strncmp(r->error, "HTTP 200: ", 10) == 0, "%s", r->error);
    ck_assert_msg(strstr(r->error, "(Content-Type application/json)"), "%s", r->error);
    collector_free(&col);
    job_free(&j);
    providers_free(ps);
    server_stop(&s);
}
END_TEST

/* OpenAI's exhausted quota fails over; a plain 429 is throttling with its Retry-After. */
START_TEST(test_http_429s)
{
    struct server s;
    server_start(&s);
    setenv(KEY_VAR, KEY, 1);
    struct providers *ps = new_ok((const char *[]){"providers=quota,slow", "provider.quota.type=openai",
                                                   url_kv("quota", &s, "/quota", 0), "provider.slow.type=openai",
                                                   url_kv("slow", &s, "/throttle", 1), NULL});
    struct job j;
    job_of(&j, JOB_PLAIN);
    struct collector col = {0};
    int a, b;
    start_ok(providers_at(ps, 0), &j, &a);
    start_ok(providers_at(ps, 1), &j, &b);
    run_until(ps, &col, 2);
    const struct attempt_result *ra = result_of(&col, &a), *rb = result_of(&col, &b);
    ck_assert_int_eq(ra->cls, CLASS_PROVIDER);
    ck_assert_int_eq(ra->http_status, 429);
    ck_assert_int_eq(ra->retry_after_ms, -1);
    ck_assert_msg(strstr(ra->error, "insufficient_quota"), "%s", ra->error);
    ck_assert_int_eq(rb->cls, CLASS_THROTTLED);
    ck_assert_int_eq(rb->retry_after_ms, 7000);
    collector_free(&col);
    job_free(&j);
    providers_free(ps);
    server_stop(&s);
}
END_TEST

START_TEST(test_http_elevenlabs)
{
    struct server s;
    server_start(&s);
    setenv(KEY_VAR, KEY, 1);
    struct providers *ps = new_ok((const char *[]){"providers=el", "provider.el.type=elevenlabs",
                                                   url_kv("el", &s, "/v1/text-to-speech/{voice_id}", 0),
                                                   "provider.el.api_key_env=" KEY_VAR,
                                                   "provider.el.voice=EXAVITQu4vr4xnSDxMaL",
                                                   "provider.el.voices=alloy=21m00Tcm, nova = x2",
                                                   "provider.el.output_format=wav_22050", NULL});
    struct job j;
    job_of(&j, "{\"v\":1,\"campaign\":\"c\",\"contact\":\"1\",\"text\":\"Hi\",\"voice\":\"alloy\"}");
    struct collector col = {0};
    start_ok(providers_at(ps, 0), &j, &j);
    run_until(ps, &col, 1);
    ck_assert_int_eq(result_of(&col, &j)->cls, CLASS_OK);
    pthread_mutex_lock(&s.lock);
    ck_assert_str_eq(s.path, "/v1/text-to-speech/21m00Tcm");
    ck_assert_str_eq(s.output_format, "wav_22050");
    ck_assert_str_eq(s.xi_key, KEY);
    ck_assert_str_eq(s.accept, "audio/wav");
    ck_assert_str_eq(s.auth, "");
    ck_assert_str_eq(s.body.data, "{\"text\":\"Hi\",\"model_id\":\"eleven_multilingual_v2\"}");
    pthread_mutex_unlock(&s.lock);
    collector_free(&col);
    job_free(&j);
    providers_free(ps);
    server_stop(&s);
}
END_TEST

/* ================= voices, models, formats and limits ================= */

START_TEST(test_config_voices)
{
    /* an elevenlabs provider must name its own voice: no logical name is ever sent to it */
    ck_assert_str_eq(new_error((const char *[]){"providers=el", "provider.el.type=elevenlabs",
                                                "provider.el.url=http://h/", NULL}),
                     "provider.el.voice: required for type elevenlabs (the voice id used for logical "
                     "voices without an entry in provider.el.voices)");
    ck_assert_str_eq(new_error((const char *[]){"providers=el", "provider.el.type=elevenlabs",
                                                "provider.el.url=http://h/", "provider.el.voice=x",
                                                "provider.el.voices=alloy=21m, nova", NULL}),
                     "provider.el.voices: entry 2 \"nova\" has no '=' (want LOGICAL=PROVIDER, ...)");
    ck_assert_str_eq(new_error((const char *[]){"providers=tts", "provider.tts.type=openai",
                                                "provider.tts.url=http://h/", "provider.tts.models==x", NULL}),
                     "provider.tts.models: entry 1 \"=x\" has no logical name before '=' (want "
                     "LOGICAL=PROVIDER, ...)");
    ck_assert_str_eq(new_error((const char *[]){"providers=el", "provider.el.type=elevenlabs",
                                                "provider.el.url=http://h/", "provider.el.voice=x",
                                                "provider.el.output_format=mp3_44100_128", NULL}),
                     "provider.el.output_format: \"mp3_44100_128\" is not pcm_<rate> or wav_<rate> "
                     "(e.g. pcm_24000, wav_22050)");
    ck_assert_str_eq(new_error((const char *[]){"providers=tts", "provider.tts.type=openai",
                                                "provider.tts.url=http://h/",
                                                "provider.tts.output_format=flac", NULL}),
                     "provider.tts.output_format: \"flac\" is not wav or pcm (the formats voxcast "
                     "can save as WAV from an openai-type provider)");
    struct providers *ps = new_ok((const char *[]){"providers=el,tts", "provider.el.type=elevenlabs",
                                                   "provider.el.url=http://h/", "provider.el.voice=x",
                                                   "provider.el.output_format=wav_22050",
                                                   "provider.tts.type=openai", "provider.tts.url=http://h/",
                                                   "provider.tts.voices= ", "provider.tts.output_format=pcm",
                                                   NULL});
    ck_assert_str_eq(providers_at(ps, 0)->output_format, "wav_22050");
    ck_assert_ptr_null(providers_at(ps, 1)->voices);   /* blank map: none */
    providers_free(ps);
}
END_TEST

#define JOB_V(voice) "{\"v\":1,\"campaign\":\"c\",\"contact\":\"1\",\"text\":\"x\",\"voice\":\"" voice "\"}"

static const char *voice_of(const struct provider *pv, const char *job_json)
{
    static char out[PROVIDER_NAME_MAX];
    struct provider_request req;
    build(pv, job_json, &req);
    snprintf(out, sizeof out, "%s", req.asked.voice);
    provider_request_free(&req);
    return out;
}

/* The resolution rule: map entry, else the provider's voice, else the logical name when the
 * provider declares neither, else the type's default. Models the same way. */
START_TEST(test_voice_resolution)
{
    struct providers *ps = new_ok((const char *[]){
        "providers=mapped,plain,bare,maponly", "provider.mapped.type=elevenlabs",
        "provider.mapped.url=http://h/v/{voice_id}", "provider.mapped.voice=21m00Tcm4TlvDq8ikWAM",
        "provider.mapped.voices=alloy=EXAVITQu4vr4xnSDxMaL, nova=pNInz6obpgDQGcFmaJgB",
        "provider.mapped.models=fast=eleven_flash_v2_5", "provider.plain.type=openai",
        "provider.plain.url=http://h/", "provider.plain.voice=shimmer", "provider.bare.type=openai",
        "provider.bare.url=http://h/", "provider.maponly.type=openai", "provider.maponly.url=http://h/",
        "provider.maponly.voices=sarah=nova", NULL});
    struct provider *mapped = providers_at(ps, 0), *plain = providers_at(ps, 1);
    struct provider *bare = providers_at(ps, 2), *maponly = providers_at(ps, 3);
    ck_assert_str_eq(voice_of(mapped, JOB_V("alloy")), "EXAVITQu4vr4xnSDxMaL");
    ck_assert_str_eq(voice_of(mapped, JOB_V("nova")), "pNInz6obpgDQGcFmaJgB");
    ck_assert_str_eq(voice_of(mapped, JOB_V("echo")), "21m00Tcm4TlvDq8ikWAM");   /* never "echo" */
    ck_assert_str_eq(voice_of(mapped, JOB_PLAIN), "21m00Tcm4TlvDq8ikWAM");
    ck_assert_str_eq(voice_of(plain, JOB_V("alloy")), "shimmer");
    ck_assert_str_eq(voice_of(bare, JOB_V("alloy")), "alloy");                  /* 0.1.0 behaviour */
    ck_assert_str_eq(voice_of(bare, JOB_PLAIN), "alloy");                       /* type default */
    ck_assert_str_eq(voice_of(maponly, JOB_V("sarah")), "nova");
    ck_assert_str_eq(voice_of(maponly, JOB_V("Rachel")), "alloy");              /* not "Rachel" */

    struct provider_request req;
    build(mapped, "{\"v\":1,\"campaign\":\"c\",\"contact\":\"1\",\"text\":\"x\",\"model\":\"fast\"}", &req);
    ck_assert_str_eq(req.body.data, "{\"text\":\"x\",\"model_id\":\"eleven_flash_v2_5\"}");
    provider_request_free(&req);
    build(mapped, "{\"v\":1,\"campaign\":\"c\",\"contact\":\"1\",\"text\":\"x\",\"model\":\"tts-1\"}", &req);
    ck_assert_str_eq(req.body.data, "{\"text\":\"x\",\"model_id\":\"eleven_multilingual_v2\"}");
    provider_request_free(&req);
    build(bare, "{\"v\":1,\"campaign\":\"c\",\"contact\":\"1\",\"text\":\"x\",\"model\":\"gpt-4o-mini-tts\"}", &req);
    ck_assert_str_eq(req.asked.model, "gpt-4o-mini-tts");
    provider_request_free(&req);
    providers_free(ps);
}
END_TEST

static int64_t limit_of(const struct provider *pv, const char *model)
{
    struct job j;
    char json[256];
    if (model)
        snprintf(json, sizeof json, "{\"v\":1,\"campaign\":\"c\",\"contact\":\"1\",\"text\":\"x\",\"model\":\"%s\"}", model);
    else
        snprintf(json, sizeof json, "%s", JOB_PLAIN);
    job_of(&j, json);
    int64_t n = provider_text_limit(pv, &j);
    job_free(&j);
    return n;
}

/* Per-model text limits, decided by the model the job resolves to on each provider. */
START_TEST(test_text_limits)
{
    struct providers *ps = new_ok((const char *[]){
        "providers=oa,mini,el,v3,fixed,espeak", "provider.oa.type=openai", "provider.oa.url=http://h/",
        "provider.mini.type=openai", "provider.mini.url=http://h/", "provider.mini.model=gpt-4o-mini-tts",
        "provider.el.type=elevenlabs", "provider.el.url=http://h/", "provider.el.voice=x",
        "provider.el.models=fast=eleven_flash_v2_5, expressive=eleven_v3",
        "provider.v3.type=elevenlabs", "provider.v3.url=http://h/", "provider.v3.voice=x",
        "provider.v3.model=eleven_v3", "provider.fixed.type=elevenlabs", "provider.fixed.url=http://h/",
        "provider.fixed.voice=x", "provider.fixed.model=eleven_v3", "provider.fixed.max_text_chars=123",
        NULL});
    struct provider *oa = providers_at(ps, 0), *mini = providers_at(ps, 1), *el = providers_at(ps, 2);
    ck_assert_int_eq(limit_of(oa, NULL), 4096);                       /* tts-1 */
    ck_assert_int_eq(limit_of(oa, "tts-1-hd"), 4096);
    ck_assert_int_eq(limit_of(oa, "gpt-4o-mini-tts"), 2000);
    ck_assert_int_eq(limit_of(oa, "gpt-4o-mini-tts-2025-12-15"), 2000);
    ck_assert_int_eq(limit_of(oa, "kokoro"), 4096);                   /* unknown: OpenAI's */
    ck_assert_int_eq(limit_of(mini, NULL), 2000);
    ck_assert_int_eq(limit_of(mini, "tts-1"), 2000);                  /* no map: its own model */
    ck_assert_int_eq(limit_of(el, NULL), 10000);                      /* eleven_multilingual_v2 */
    ck_assert_int_eq(limit_of(el, "fast"), 40000);
    ck_assert_int_eq(limit_of(el, "expressive"), 3000);
    ck_assert_int_eq(limit_of(providers_at(ps, 3), NULL), 3000);
    ck_assert_int_eq(limit_of(providers_at(ps, 4), NULL), 123);       /* configured wins */
    ck_assert_int_eq(limit_of(providers_at(ps, 5), NULL), 0);         /* espeak: none */
    /* and provider_accepts applies it */
    struct job j;
    struct buf t = {0};
    for (int i = 0; i < 2001; i++)
        buf_putc(&t, 'a');
    job_of(&j, JOB_PLAIN);
    free(j.text);
    j.text = buf_steal(&t);
    ck_assert(!provider_accepts(mini, &j));
    ck_assert(provider_accepts(oa, &j));
    job_free(&j);
    providers_free(ps);
}
END_TEST

/* ================= error answers, as the real APIs send them ================= */

struct recorded {
    enum provider_type type;
    long               status;
    const char        *body;
    const char        *source;
    enum outcome_class cls;
    const char        *cause;   /* expected prefix of the cause; NULL: "" */
};

static const struct recorded recorded[] = {
    /* ---- OpenAI ---- */
    { PROVIDER_OPENAI, 404,
      "{\"error\":{\"message\":\"The model `tts-2` does not exist or you do not have access to it.\","
      "\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"model_not_found\"}}",
      "OpenAI API reference, Error codes (model_not_found)", CLASS_PROVIDER,
      "model 'tts-1' not found or not allowed (HTTP 404 model_not_found)" },
    { PROVIDER_OPENAI, 400,
      "{\"error\":{\"message\":\"Invalid value: 'Rachel'. Supported values are: 'nova', 'shimmer', 'echo', "
      "'onyx', 'fable', 'alloy', 'ash', 'sage', and 'coral'.\",\"type\":\"invalid_request_error\","
      "\"param\":\"voice\",\"code\":\"invalid_value\"}}",
      "OpenAI createSpeech 400 on voice (shape: Azure-Samples/aoai-realtime-audio-sdk issue 94)",
      CLASS_PROVIDER, "voice 'Rachel' not found or not allowed (HTTP 400 invalid_value)" },
    { PROVIDER_OPENAI, 404,
      "{\"error\":{\"message\":\"Invalid URL (POST /v1/audio/speach)\",\"type\":\"invalid_request_error\","
      "\"param\":null,\"code\":null}}",
      "OpenAI answer to an unknown path", CLASS_PROVIDER,
      "URL not found (HTTP 404: Invalid URL (POST /v1/audio/speach))" },
    { PROVIDER_OPENAI, 404, "<html><body>404 Not Found</body></html>", "any proxy's 404 page",
      CLASS_PROVIDER, "URL not found (HTTP 404)" },
    { PROVIDER_OPENAI, 429,
      "{\"error\":{\"message\":\"You exceeded your current quota, please check your plan and billing "
      "details.\",\"type\":\"insufficient_quota\",\"param\":null,\"code\":\"insufficient_quota\"}}",
      "OpenAI API reference, Error codes (429 insufficient_quota)", CLASS_PROVIDER,
      "quota or credit exhausted (HTTP 429 insufficient_quota)" },
    { PROVIDER_OPENAI, 429,
      "{\"error\":{\"message\":\"Your credit balance is exhausted.\",\"type\":\"invalid_request_error\","
      "\"param\":null,\"code\":\"credit_balance_exhausted\"}}",
      "help.openai.com article 6614457", CLASS_PROVIDER,
      "quota or credit exhausted (HTTP 429 credit_balance_exhausted)" },
    { PROVIDER_OPENAI, 429,
      "{\"error\":{\"message\":\"Organization spend limit exceeded.\",\"type\":\"invalid_request_error\","
      "\"param\":null,\"code\":\"organization_spend_limit_exceeded\"}}",
      "help.openai.com article 6614457", CLASS_PROVIDER, "quota or credit exhausted" },
    { PROVIDER_OPENAI, 429,
      "{\"error\":{\"message\":\"Project spend limit exceeded.\",\"type\":\"invalid_request_error\","
      "\"param\":null,\"code\":\"project_spend_limit_exceeded\"}}",
      "help.openai.com article 6614457", CLASS_PROVIDER, "quota or credit exhausted" },
    { PROVIDER_OPENAI, 429,
      "{\"error\":{\"message\":\"Rate limit reached for tts-1 in organization org-x on requests per min "
      "(RPM): Limit 50, Used 50, Requested 1.\",\"type\":\"requests\",\"param\":null,"
      "\"code\":\"rate_limit_exceeded\"}}",
      "OpenAI API reference, Error codes (429 rate limit)", CLASS_THROTTLED, NULL },
    { PROVIDER_OPENAI, 400,
      "{\"error\":{\"message\":\"Input of 2132 tokens is over the maximum input limit of 2000 tokens. "
      "Please shorten your input.\",\"type\":\"invalid_request_error\",\"param\":null,"
      "\"code\":\"invalid_value\"}}",
      "troykelly/live-news-break issue 222", CLASS_SKIP, "text too long for model 'tts-1' (HTTP 400)" },
    { PROVIDER_OPENAI, 401,
      "{\"error\":{\"message\":\"Incorrect API key provided: sk-abc. You can find your API key at "
      "https://platform.openai.com/account/api-keys.\",\"type\":\"invalid_request_error\",\"param\":null,"
      "\"code\":\"invalid_api_key\"}}",
      "OpenAI API reference, Error codes (401)", CLASS_PROVIDER,
      "account or key refused (HTTP 401 invalid_api_key)" },
    { PROVIDER_OPENAI, 400,
      "{\"error\":{\"message\":\"Your request was rejected as a result of our safety system.\","
      "\"type\":\"invalid_request_error\",\"param\":\"input\",\"code\":\"content_policy_violation\"}}",
      "OpenAI content policy answer", CLASS_CONTACT, NULL },
    { PROVIDER_OPENAI, 400, "{\"error\":\"injected fault\"}", "voxcast-ttsd --fail-text", CLASS_CONTACT,
      NULL },
    /* ---- Kokoro-FastAPI (type openai) ---- */
    { PROVIDER_OPENAI, 400,
      "{\"detail\":{\"error\":\"invalid_model\",\"message\":\"Unsupported model: tts-2\","
      "\"type\":\"invalid_request_error\"}}",
      "remsky/Kokoro-FastAPI api/src/routers/openai_compatible.py", CLASS_PROVIDER,
      "model 'tts-1' not found or not allowed (HTTP 400 invalid_model)" },
    { PROVIDER_OPENAI, 400,
      "{\"detail\":{\"error\":\"validation_error\",\"message\":\"Voice 'alloy' not found. Available "
      "voices: af_bella, af_sky\",\"type\":\"invalid_request_error\"}}",
      "remsky/Kokoro-FastAPI api/src/routers/openai_compatible.py", CLASS_PROVIDER,
      "voice 'Rachel' not found or not allowed (HTTP 400 validation_error)" },
    { PROVIDER_OPENAI, 500,
      "{\"detail\":{\"error\":\"processing_error\",\"message\":\"CUDA out of memory\","
      "\"type\":\"server_error\"}}",
      "remsky/Kokoro-FastAPI api/src/routers/openai_compatible.py", CLASS_RETRY, NULL },
    /* ---- ElevenLabs ---- */
    { PROVIDER_ELEVENLABS, 404,
      "{\"detail\":{\"status\":\"voice_not_found\",\"message\":\"A voice with the voice_id alloy was not "
      "found.\"}}",
      "elevenlabs/elevenlabs-docs PR 1317", CLASS_PROVIDER,
      "voice 'Rachel' not found or not allowed (HTTP 404 voice_not_found)" },
    { PROVIDER_ELEVENLABS, 400,
      "{\"detail\":{\"status\":\"voice_not_found\",\"message\":\"A voice for the voice_id 876MHA6EtWKaHTEGz "
      "was not found.\"}}",
      "skapadia3214/groq-voice issue 1", CLASS_PROVIDER, "voice 'Rachel' not found" },
    { PROVIDER_ELEVENLABS, 402,
      "{\"detail\":{\"type\":\"payment_required\",\"code\":\"paid_plan_required\",\"message\":\"Free users "
      "cannot use library voices via the API. Please upgrade your subscription to use this voice.\","
      "\"status\":\"payment_required\",\"request_id\":\"0xxxxxxxx11c\"}}",
      "dograh-hq/dograh issue 290", CLASS_PROVIDER,
      "not in the account's plan (HTTP 402 paid_plan_required): Free users cannot use library voices" },
    { PROVIDER_ELEVENLABS, 402,
      "{\"detail\":{\"status\":\"payment_required\",\"message\":\"Free users cannot use library voices via "
      "the API. Please upgrade your subscription to use this voice\"}}",
      "OWASP/Nest issue 3859", CLASS_PROVIDER, "not in the account's plan (HTTP 402 payment_required)" },
    { PROVIDER_ELEVENLABS, 403,
      "{\"detail\":{\"status\":\"subscription_required\",\"message\":\"This output format requires a Pro "
      "subscription.\"}}",
      "ElevenLabs output formats: 44.1 kHz needs the Pro tier", CLASS_PROVIDER,
      "not in the account's plan (HTTP 403 subscription_required)" },
    { PROVIDER_ELEVENLABS, 401,
      "{\"detail\":{\"status\":\"quota_exceeded\",\"message\":\"This request exceeds your quota. You have "
      "119 characters remaining, while 965 characters are required for this request.\"}}",
      "elevenlabs/elevenlabs-python issue 13", CLASS_PROVIDER,
      "quota or credit exhausted (HTTP 401 quota_exceeded)" },
    { PROVIDER_ELEVENLABS, 401,
      "{\"detail\":{\"status\":\"detected_unusual_activity\",\"message\":\"Unusual activity detected. Free "
      "Tier usage disabled.\"}}",
      "OWASP/Nest PR 3861", CLASS_PROVIDER, "account or key refused (HTTP 401 detected_unusual_activity)" },
    { PROVIDER_ELEVENLABS, 400,
      "{\"detail\":{\"status\":\"max_character_limit_exceeded\",\"message\":\"Text is too long. Maximum "
      "allowed is 3000 characters.\"}}",
      "ElevenLabs max_character_limit_exceeded", CLASS_SKIP,
      "text too long for model 'tts-1' (HTTP 400): Text is too long." },
    { PROVIDER_ELEVENLABS, 422,
      "{\"detail\":[{\"loc\":[\"body\",\"model_id\"],\"msg\":\"str type expected\","
      "\"type\":\"type_error.str\"}]}",
      "FastAPI validation error shape", CLASS_PROVIDER, "model 'tts-1' not found" },
    { PROVIDER_ELEVENLABS, 422,
      "{\"detail\":[{\"loc\":[\"body\",\"text\"],\"msg\":\"field required\","
      "\"type\":\"value_error.missing\"}]}",
      "FastAPI validation error shape", CLASS_CONTACT, NULL },
    /* the newer ElevenLabs shape names a code and a status; either may carry the meaning */
    { PROVIDER_ELEVENLABS, 400,
      "{\"detail\":{\"type\":\"validation_error\",\"code\":\"text_too_long\",\"message\":\"Text is too "
      "long\",\"status\":\"max_character_limit_exceeded\",\"request_id\":\"r1\"}}",
      "ElevenLabs newer error shape (as dograh-hq/dograh issue 290)", CLASS_SKIP, "text too long" },
    { PROVIDER_ELEVENLABS, 400,
      "{\"detail\":{\"type\":\"validation_error\",\"code\":\"invalid_output_format\",\"message\":"
      "\"Invalid output format: wav_96000\",\"status\":\"invalid_output_format\"}}",
      "ElevenLabs newer error shape", CLASS_PROVIDER, "output format 'wav' refused (HTTP 400 "
      "invalid_output_format)" },
    { PROVIDER_ELEVENLABS, 429,
      "{\"detail\":{\"status\":\"too_many_concurrent_requests\",\"message\":\"Too many concurrent "
      "requests.\"}}",
      "ElevenLabs 429", CLASS_THROTTLED, NULL },
};

START_TEST(test_recorded_errors)
{
    struct providers *ps = new_ok((const char *[]){"providers=oa,el", "provider.oa.type=openai",
                                                   "provider.oa.url=http://h/", "provider.el.type=elevenlabs",
                                                   "provider.el.url=http://h/", "provider.el.voice=x", NULL});
    struct provider_asked asked = {.voice = "Rachel", .model = "tts-1", .output_format = "wav"};
    for (size_t i = 0; i < sizeof recorded / sizeof recorded[0]; i++) {
        const struct recorded *rc = &recorded[i];
        struct provider *pv = providers_at(ps, rc->type == PROVIDER_OPENAI ? 0 : 1);
        char cause[256] = "x";
        enum outcome_class generic = classify_response(TRANSPORT_OK, rc->status, false);
        enum outcome_class got = pv->ops->refine_class(pv, &asked, generic, rc->status, rc->body,
                                                       strlen(rc->body), cause, sizeof cause);
        ck_assert_msg(got == rc->cls, "row %zu (%s): got %s want %s", i, rc->source,
                      classify_name(got), classify_name(rc->cls));
        const char *want = rc->cause ? rc->cause : "";
        ck_assert_msg(strncmp(cause, want, strlen(want)) == 0 && (rc->cause || !cause[0]),
                      "row %zu (%s): cause \"%s\", want \"%s\"", i, rc->source, cause, want);
    }
    providers_free(ps);
}
END_TEST

/* Raw PCM is wrapped at the rate that was asked; a streamed WAV is sealed. */
START_TEST(test_http_pcm_and_stream)
{
    struct server s;
    server_start(&s);
    setenv(KEY_VAR, KEY, 1);
    struct providers *ps = new_ok((const char *[]){"providers=pcm,stream,el", "provider.pcm.type=openai",
                                                   url_kv("pcm", &s, "/pcm", 0), "provider.pcm.output_format=pcm",
                                                   "provider.stream.type=openai", url_kv("stream", &s, "/stream", 1),
                                                   "provider.el.type=elevenlabs", url_kv("el", &s, "/pcm/{voice_id}", 2),
                                                   "provider.el.voice=x", "provider.el.output_format=pcm_16000", NULL});
    struct job j;
    job_of(&j, JOB_PLAIN);
    struct collector col = {0};
    int a, b, c;
    start_ok(providers_at(ps, 0), &j, &a);
    start_ok(providers_at(ps, 1), &j, &b);
    start_ok(providers_at(ps, 2), &j, &c);
    run_until(ps, &col, 3);
    const struct attempt_result *ra = result_of(&col, &a), *rb = result_of(&col, &b), *rc = result_of(&col, &c);
    struct audio_info info;
    ck_assert_int_eq(ra->cls, CLASS_OK);
    ck_assert_uint_eq(ra->audio.len, 44 + 480);
    ck_assert_int_eq(audio_wav_info(ra->audio.data, ra->audio.len, &info), 0);
    ck_assert_uint_eq(info.sample_rate, 24000);
    ck_assert_uint_eq(info.channels, 1);
    ck_assert_uint_eq(info.data_bytes, 480);
    ck_assert_int_eq(rc->cls, CLASS_OK);
    ck_assert_int_eq(audio_wav_info(rc->audio.data, rc->audio.len, &info), 0);
    ck_assert_uint_eq(info.sample_rate, 16000);                     /* the rate that was asked */
    ck_assert_int_eq(rb->cls, CLASS_OK);
    ck_assert_uint_eq(rb->audio.len, s.wav.len);
    ck_assert_mem_eq(rb->audio.data, s.wav.data, s.wav.len);        /* true sizes written back */
    collector_free(&col);
    job_free(&j);
    providers_free(ps);
    server_stop(&s);
}
END_TEST

/* A ulaw_8000 job asks ElevenLabs for raw µ-law: the answer is saved behind a µ-law WAV header,
 * the bytes as sent; a JSON 200 where µ-law was asked is not audio (retryable). */
START_TEST(test_http_ulaw_wrapped)
{
    struct server s;
    server_start(&s);
    struct providers *ps = new_ok((const char *[]){"providers=el,bad", "provider.el.type=elevenlabs",
                                                   url_kv("el", &s, "/ulaw/{voice_id}", 0), "provider.el.voice=x",
                                                   "provider.bad.type=elevenlabs", "provider.bad.voice=x",
                                                   url_kv("bad", &s, "/ulawjson/{voice_id}", 1), NULL});
    struct job j;
    job_of(&j, "{\"v\":1,\"campaign\":\"c\",\"contact\":\"1\",\"text\":\"Hello\",\"format\":\"ulaw_8000\"}");
    struct collector col = {0};
    int a, b;
    start_ok(providers_at(ps, 0), &j, &a);
    start_ok(providers_at(ps, 1), &j, &b);
    run_until(ps, &col, 2);
    const struct attempt_result *ra = result_of(&col, &a), *rb = result_of(&col, &b);
    ck_assert_msg(ra->cls == CLASS_OK, "%s", ra->error);
    ck_assert_uint_eq(ra->audio.len, 58 + 80);
    struct audio_info info;
    ck_assert_int_eq(audio_wav_info(ra->audio.data, ra->audio.len, &info), 0);
    ck_assert_uint_eq(info.codec, 7);
    ck_assert_uint_eq(info.sample_rate, 8000);
    ck_assert_int_eq(info.duration_ms, 10);
    static const uint8_t head[6] = {0xFF, 0x7F, 0x80, 0x00, 0x3C, 0xBC};
    ck_assert_mem_eq(ra->audio.data + 58, head, sizeof head);
    ck_assert_int_eq(rb->cls, CLASS_RETRY);
    ck_assert_int_eq(rb->http_status, 200);
    ck_assert_msg(strstr(rb->error, "not audio") != NULL, "%s", rb->error);
    collector_free(&col);
    job_free(&j);
    providers_free(ps);
    server_stop(&s);
}
END_TEST

/* A "voice not found" answer over the wire: provider-level, with the voice that was sent named. */
START_TEST(test_http_voice_not_found)
{
    struct server s;
    server_start(&s);
    setenv(KEY_VAR, KEY, 1);
    struct providers *ps = new_ok((const char *[]){"providers=el", "provider.el.type=elevenlabs",
                                                   url_kv("el", &s, "/nosuchvoice/{voice_id}", 0),
                                                   "provider.el.api_key_env=" KEY_VAR,
                                                   "provider.el.voice=21m00Tcm4TlvDq8ikWAM", NULL});
    struct job j;
    job_of(&j, JOB_V("alloy"));
    struct collector col = {0};
    start_ok(providers_at(ps, 0), &j, &j);
    run_until(ps, &col, 1);
    const struct attempt_result *r = result_of(&col, &j);
    ck_assert_int_eq(r->cls, CLASS_PROVIDER);
    ck_assert_int_eq(r->http_status, 404);
    ck_assert_str_eq(r->cause, "voice '21m00Tcm4TlvDq8ikWAM' not found or not allowed (HTTP 404 "
                               "voice_not_found)");
    ck_assert_msg(strstr(r->error, "voice_not_found"), "%s", r->error);
    pthread_mutex_lock(&s.lock);
    ck_assert_str_eq(s.path, "/nosuchvoice/21m00Tcm4TlvDq8ikWAM");   /* never "alloy" */
    pthread_mutex_unlock(&s.lock);
    collector_free(&col);
    job_free(&j);
    providers_free(ps);
    server_stop(&s);
}
END_TEST

/* The transport on its own: an answer over the size cap is cut off, not buffered. */
static void on_response(void *arg, struct http_response *resp)
{
    struct http_response *out = arg;
    *out = *resp;
    resp->body = (struct buf){0};
}

START_TEST(test_transport_body_cap)
{
    struct server s;
    server_start(&s);
    char err[128] = "", url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/wav", s.port);
    struct http_transport *t = http_transport_new(0, false, err, sizeof err);
    ck_assert_msg(t != NULL, "%s", err);
    struct http_request req = {.url = url, .body = "{}", .body_len = 2, .timeout_ms = 10000, .max_body = 100};
    int ctx;
    ck_assert_int_eq(http_transport_post(t, &req, &ctx, err, sizeof err), 0);
    ck_assert_uint_eq(http_transport_active(t), 1);
    struct http_response resp = {0};
    int64_t deadline = clock_mono_ms() + 10000;
    while (!resp.ctx && clock_mono_ms() < deadline) {
        ck_assert_int_ge(http_transport_wait(t, NULL, 0, 1000), 0);
        http_transport_perform(t, on_response, &resp);
    }
    ck_assert_ptr_eq(resp.ctx, &ctx);
    ck_assert_int_eq(resp.transport, TRANSPORT_OTHER);
    ck_assert_str_eq(resp.error, "answer longer than 100 bytes");
    ck_assert_uint_eq(resp.body.len, 0);
    ck_assert_uint_eq(http_transport_active(t), 0);
    buf_free(&resp.body);
    http_transport_free(t, NULL);
    server_stop(&s);
}
END_TEST

/* One POST through t, waited for (10 s deadline); the response's body is the caller's. */
static struct http_response post_one(struct http_transport *t, const struct http_request *req)
{
    char err[128] = "";
    int ctx;
    ck_assert_msg(http_transport_post(t, req, &ctx, err, sizeof err) == 0, "%s", err);
    struct http_response resp = {0};
    int64_t deadline = clock_mono_ms() + 10000;
    while (!resp.ctx && clock_mono_ms() < deadline) {
        ck_assert_int_ge(http_transport_wait(t, NULL, 0, 1000), 0);
        http_transport_perform(t, on_response, &resp);
    }
    ck_assert_ptr_eq(resp.ctx, &ctx);
    ck_assert_uint_eq(http_transport_active(t), 0);
    return resp;
}

static struct curl_slist *headers_of(const char *a, const char *b)
{
    struct curl_slist *h = curl_slist_append(NULL, a);
    ck_assert_ptr_nonnull(h);
    if (b)
        ck_assert_ptr_nonnull(curl_slist_append(h, b));
    return h;
}

/* Requests one after another run on one reused handle: each gets its own URL, headers and
 * timeouts, and nothing of the one before (its key header, its 300 ms timeout) carries over. */
START_TEST(test_transport_reuse)
{
    struct server s;
    server_start(&s);
    char err[128] = "", wav[128], hang_url[128], slow[128], json[128];
    snprintf(wav, sizeof wav, "http://127.0.0.1:%d/wav", s.port);
    snprintf(hang_url, sizeof hang_url, "http://127.0.0.1:%d/hang", s.port);
    snprintf(slow, sizeof slow, "http://127.0.0.1:%d/slow", s.port);
    snprintf(json, sizeof json, "http://127.0.0.1:%d/json", s.port);
    struct http_transport *t = http_transport_new(0, false, err, sizeof err);
    ck_assert_msg(t != NULL, "%s", err);

    struct curl_slist *bearer = headers_of("Authorization: Bearer one", "Accept: audio/wav");
    struct http_request req = {.url = wav, .headers = bearer, .body = "{}", .body_len = 2,
                               .timeout_ms = 10000, .connect_timeout_ms = 5000};
    struct http_response r = post_one(t, &req);
    http_headers_free(bearer);
    ck_assert_int_eq(r.transport, TRANSPORT_OK);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.content_type, "audio/wav");
    ck_assert_str_eq(s.auth, "Bearer one");
    buf_free(&r.body);

    /* no headers at all, and a timeout that fires */
    req = (struct http_request){.url = hang_url, .body = "{\"a\":1}", .body_len = 7, .timeout_ms = 300};
    r = post_one(t, &req);
    ck_assert_int_eq(r.transport, TRANSPORT_TIMEOUT);
    ck_assert_str_eq(r.error, "timeout after 300 ms");
    ck_assert_str_eq(r.content_type, "");
    pthread_mutex_lock(&s.lock);
    ck_assert_str_eq(s.path, "/hang");
    ck_assert_str_eq(s.auth, "");
    ck_assert_str_eq(s.accept, "*/*");   /* curl's own, not the Accept sent before */
    ck_assert_mem_eq(s.body.data, "{\"a\":1}", 7);
    pthread_mutex_unlock(&s.lock);
    buf_free(&r.body);

    /* no timeouts: the 600 ms answer arrives, where a leftover 300 ms timeout would cut it */
    struct curl_slist *xi = headers_of("xi-api-key: k1", NULL);
    req = (struct http_request){.url = slow, .headers = xi, .body = "", .body_len = 0};
    r = post_one(t, &req);
    ck_assert_msg(r.transport == TRANSPORT_OK, "%s", r.error);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(s.xi_key, "k1");
    ck_assert_str_eq(s.auth, "");
    ck_assert_uint_eq(s.body.len, 0);
    buf_free(&r.body);

    /* the same list again (kept by the handle), then one that differs only in a value */
    req = (struct http_request){.url = json, .headers = xi, .body = "x", .body_len = 1, .timeout_ms = 10000};
    r = post_one(t, &req);
    http_headers_free(xi);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.content_type, "application/json");
    ck_assert_str_eq(s.path, "/json");
    ck_assert_str_eq(s.xi_key, "k1");
    buf_free(&r.body);
    xi = headers_of("xi-api-key: k2", NULL);
    req.headers = xi;
    r = post_one(t, &req);
    http_headers_free(xi);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(s.xi_key, "k2");
    buf_free(&r.body);

    /* a URL without a scheme is http's, not relative to the handle's previous URL; an empty
     * one is refused, not the previous one again */
    char bare[128];
    snprintf(bare, sizeof bare, "127.0.0.1:%d/wav", s.port);
    req = (struct http_request){.url = bare, .body = "{}", .body_len = 2, .timeout_ms = 10000};
    r = post_one(t, &req);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(s.path, "/wav");
    buf_free(&r.body);
    req.url = "";
    r = post_one(t, &req);
    ck_assert_int_eq(r.transport, TRANSPORT_OTHER);
    ck_assert_int_eq(r.status, 0);
    ck_assert_msg(strstr(r.error, "URL"), "%s", r.error);
    buf_free(&r.body);

    http_transport_free(t, NULL);
    server_stop(&s);
}
END_TEST

/* Freeing the chain abandons transfers: no callback, nothing leaked (ASan checks that). */
START_TEST(test_free_in_flight)
{
    struct server s;
    server_start(&s);
    struct providers *ps = http_chain(&s, "/hang", "provider.tts.timeout_ms=30000");
    struct job j;
    job_of(&j, JOB_PLAIN);
    struct collector col = {0};
    start_ok(providers_at(ps, 0), &j, &j);
    /* drive until the server holds the request, so the transfer is really under way */
    int64_t deadline = clock_mono_ms() + 10000;
    for (;;) {
        pthread_mutex_lock(&s.lock);
        int held = s.nhung;
        pthread_mutex_unlock(&s.lock);
        if (held)
            break;
        ck_assert_msg(clock_mono_ms() < deadline, "the server never got the request");
        providers_wait(ps, -1, 50);
        providers_drive(ps, on_done, &col);
    }
    ck_assert_uint_eq(providers_active(ps), 1);
    providers_free(ps);
    ck_assert_uint_eq(col.n, 0);
    job_free(&j);
    server_stop(&s);
}
END_TEST

/* ================= espeak ================= */

START_TEST(test_espeak_attempt)
{
    struct providers *ps = new_ok((const char *[]){"providers=espeak", NULL});
    struct provider *pv = providers_at(ps, 0);
    struct job j, mp3;
    job_of(&j, "{\"v\":1,\"campaign\":\"c\",\"contact\":\"1\",\"text\":\"Hello world\",\"lang\":\"en\"}");
    job_of(&mp3, JOB_MP3);
    char err[128] = "";
    (void)err;
    struct collector col = {0};
    int tasks[3];
    start_ok(pv, &j, &tasks[0]);
    start_ok(pv, &j, &tasks[1]);
    start_ok(pv, &mp3, &tasks[2]);   /* any format: espeak answers WAV, the writer converts */
    ck_assert_uint_eq(providers_active(ps), 3);
    run_until(ps, &col, 3);
    ck_assert_uint_eq(providers_active(ps), 0);
    for (int i = 0; i < 3; i++) {
        const struct attempt_result *r = result_of(&col, &tasks[i]);
        char verr[128] = "";
        ck_assert_msg(r->cls == CLASS_OK, "espeak: %s", r->error);
        ck_assert_int_eq(r->http_status, 0);
        ck_assert_int_eq(r->retry_after_ms, -1);
        ck_assert_msg(audio_validate(r->audio.data, r->audio.len, AUDIO_WAV, verr, sizeof verr) == 0, "%s", verr);
        ck_assert_uint_gt(r->audio.len, 1000);
    }
    ck_assert_ptr_eq(col.out[0].task, &tasks[0]);   /* one worker: first in, first out */
    collector_free(&col);
    job_free(&j);
    job_free(&mp3);
    providers_free(ps);
}
END_TEST

/* Queued espeak attempts are dropped, not delivered, when the chain is freed. */
START_TEST(test_espeak_free_queued)
{
    struct providers *ps = new_ok((const char *[]){"providers=espeak", NULL});
    struct job j;
    job_of(&j, JOB_PLAIN);
    for (int i = 0; i < 3; i++)
        start_ok(providers_at(ps, 0), &j, &j);
    ck_assert_uint_eq(providers_active(ps), 3);
    job_free(&j);   /* the worker holds copies */
    providers_free(ps);
}
END_TEST

START_TEST(test_wait_extra_fd)
{
    struct providers *ps = new_ok((const char *[]){"providers=espeak", NULL});
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(write(p[1], "x", 1), 1);
    int64_t t0 = clock_mono_ms();
    ck_assert_int_ge(providers_wait(ps, p[0], 5000), 1);
    ck_assert_int_lt(clock_mono_ms() - t0, 2500);
    close(p[0]);
    close(p[1]);
    providers_free(ps);
}
END_TEST

static Suite *provider_suite(void)
{
    Suite *s = suite_create("provider");
    TCase *cfg = tcase_create("config");
    tcase_add_test(cfg, test_config_empty_list);
    tcase_add_test(cfg, test_config_repeated_name);
    tcase_add_test(cfg, test_config_bad_name);
    tcase_add_test(cfg, test_config_unknown_type);
    tcase_add_test(cfg, test_config_missing_type);
    tcase_add_test(cfg, test_config_missing_url);
    tcase_add_test(cfg, test_config_bad_numbers);
    tcase_add_test(cfg, test_config_error_has_no_key);
    tcase_add_test(cfg, test_config_chain);
    tcase_add_test(cfg, test_config_key_unset);
    tcase_add_test(cfg, test_accepts);
    suite_add_tcase(s, cfg);
    TCase *req = tcase_create("requests");
    tcase_add_test(req, test_openai_build_defaults);
    tcase_add_test(req, test_openai_build_voices);
    tcase_add_test(req, test_elevenlabs_build);
    tcase_add_test(req, test_elevenlabs_urls);
    tcase_add_test(req, test_elevenlabs_native_formats);
    tcase_add_test(req, test_openai_quota_quirk);
    tcase_add_test(req, test_start_bad_format);
    tcase_add_test(req, test_config_voices);
    tcase_add_test(req, test_voice_resolution);
    tcase_add_test(req, test_text_limits);
    tcase_add_test(req, test_recorded_errors);
    suite_add_tcase(s, req);
    TCase *http = tcase_create("http");
    tcase_set_timeout(http, 30);
    tcase_add_test(http, test_http_wav);
    tcase_add_test(http, test_http_connection_reuse);
    tcase_add_test(http, test_http_503_retry_after);
    tcase_add_test(http, test_http_timeout);
    tcase_add_test(http, test_timeout_grows_with_text);
    tcase_add_test(http, test_http_connect_refused);
    tcase_add_test(http, test_http_not_audio);
    tcase_add_test(http, test_http_429s);
    tcase_add_test(http, test_http_elevenlabs);
    tcase_add_test(http, test_http_pcm_and_stream);
    tcase_add_test(http, test_http_ulaw_wrapped);
    tcase_add_test(http, test_http_voice_not_found);
    tcase_add_test(http, test_transport_body_cap);
    tcase_add_test(http, test_transport_reuse);
    tcase_add_test(http, test_free_in_flight);
    suite_add_tcase(s, http);
    TCase *es = tcase_create("espeak");
    tcase_set_timeout(es, 30);
    tcase_add_test(es, test_espeak_attempt);
    tcase_add_test(es, test_espeak_free_queued);
    tcase_add_test(es, test_wait_extra_fd);
    suite_add_tcase(s, es);
    return s;
}

CHECK_MAIN(provider_suite)
