/* check_http_lite.c - the transport's lean HTTP/1.1 client against real servers, beside curl.
 *
 * Two kinds of server, both real sockets on 127.0.0.1: voxcast-ttsd (started from the build's
 * bin directory, waited for by its "listening on" line) for whole provider answers and its
 * faults, and a scripted server on a thread of this test, for byte-exact edge cases (chunk
 * extensions and trailers, interim 1xx answers, Connection: close, an HTTP/1.0 body delimited by
 * the close, an answer written a byte at a time, a server that drops idle connections). The
 * scripted server counts the connections it accepted and keeps every request's bytes.
 *
 * Where both clients apply, the same request goes through the lean client (the default for
 * these URLs) and through curl (http_transport_new with curl_only, as consumer.http_client = curl asks), and the
 * two answers must be equal. Every wait has a 10 s deadline; nothing sleeps to synchronise. */
#include "check_main.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "../../consumer/http_lite.h"
#include "../../consumer/http_transport.h"

#define MAX_RESP 64

/* ---- the transport, either client ---- */

enum client { LITE, VIA_CURL };

static struct http_transport *transport_of(enum client which)
{
    static const char *const proxies[] = {"http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY",
                                          "no_proxy", "NO_PROXY"};
    for (size_t i = 0; i < sizeof proxies / sizeof proxies[0]; i++)
        unsetenv(proxies[i]);
    char err[128] = "";
    struct http_transport *t = http_transport_new(0, which == VIA_CURL, err, sizeof err);
    ck_assert_msg(t != NULL, "%s", err);
    return t;
}

struct answers {
    struct http_response r[MAX_RESP];
    size_t               n;
    /* a chain: done posts the next request until `chain` are done */
    struct http_transport *t;
    const struct http_request *next;
    size_t               chain;
};

static void on_done(void *arg, struct http_response *resp)
{
    struct answers *a = arg;
    ck_assert_uint_lt(a->n, MAX_RESP);
    a->r[a->n++] = *resp;
    resp->body = (struct buf){0};
    if (a->next && a->n < a->chain) {
        char err[128];
        ck_assert_int_eq(http_transport_post(a->t, a->next, a, err, sizeof err), 0);
    }
}

static void answers_free(struct answers *a)
{
    for (size_t i = 0; i < a->n; i++)
        buf_free(&a->r[i].body);
    a->n = 0;
}

/* Drives t until `want` answers are in; fails after 10 s. */
static void run_until(struct http_transport *t, struct answers *a, size_t want)
{
    int64_t deadline = clock_mono_ms() + 10000;
    while (a->n < want) {
        int64_t left = deadline - clock_mono_ms();
        ck_assert_msg(left > 0, "only %zu of %zu answers within 10 s", a->n, want);
        ck_assert_int_ge(http_transport_wait(t, NULL, 0, (int)(left < 1000 ? left : 1000)), 0);
        http_transport_perform(t, on_done, a);
    }
    ck_assert_uint_eq(a->n, want);
}

/* One POST through a new transport of the given client; the answer is copied to out. */
static void post_one(enum client which, const struct http_request *req, struct http_response *out)
{
    struct http_transport *t = transport_of(which);
    struct answers a = {0};
    char err[128] = "";
    ck_assert_msg(http_transport_post(t, req, &a, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(http_transport_active(t), 1);
    run_until(t, &a, 1);
    ck_assert_ptr_eq(a.r[0].ctx, &a);
    ck_assert_uint_eq(http_transport_active(t), 0);
    *out = a.r[0];
    http_transport_free(t, NULL);
}

/* The same request through both clients: everything the caller sees must be equal (errors are
 * compared by the caller when they name times). */
static void assert_same(const struct http_response *lite, const struct http_response *curl)
{
    ck_assert_int_eq(lite->transport, curl->transport);
    ck_assert_int_eq(lite->status, curl->status);
    ck_assert_str_eq(lite->retry_after, curl->retry_after);
    ck_assert_str_eq(lite->retry_after_ms, curl->retry_after_ms);
    ck_assert_str_eq(lite->reset_requests, curl->reset_requests);
    ck_assert_str_eq(lite->max_concurrent, curl->max_concurrent);
    ck_assert_str_eq(lite->content_type, curl->content_type);
    ck_assert_uint_eq(lite->body.len, curl->body.len);
    if (lite->body.len > 0)
        ck_assert_int_eq(memcmp(lite->body.data, curl->body.data, lite->body.len), 0);
}

static void both(const struct http_request *req, struct http_response *lite, struct http_response *curl)
{
    post_one(LITE, req, lite);
    post_one(VIA_CURL, req, curl);
    assert_same(lite, curl);
}

/* ---- voxcast-ttsd ---- */

struct ttsd {
    pid_t pid;
    int   port;
};

/* The build's voxcast-ttsd: $VOXCAST_BIN, else next to this binary's build directory
 * (build/san/bin for build/san/tests, bin for build/release/tests, BUILD/bin otherwise). */
static void ttsd_path(char *out, size_t outlen)
{
    const char *bin = getenv("VOXCAST_BIN");
    if (bin) {
        snprintf(out, outlen, "%s/voxcast-ttsd", bin);
        return;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    ck_assert_int_gt(n, 0);
    self[n] = '\0';
    *strrchr(self, '/') = '\0';
    static const char *const rel[] = {"/../bin", "/../../bin", "/../../../bin"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(out, outlen, "%s%s/voxcast-ttsd", self, rel[i]);
        if (access(out, X_OK) == 0)
            return;
    }
    ck_abort_msg("voxcast-ttsd not found near %s (set VOXCAST_BIN)", self);
}

/* Starts voxcast-ttsd --listen 127.0.0.1:0 with flags (NULL-terminated); waits for its
 * "listening on 127.0.0.1:PORT" line. */
static void ttsd_start(struct ttsd *d, const char *const *flags)
{
    char path[PATH_MAX + 32];
    ttsd_path(path, sizeof path);
    const char *argv[24] = {path, "--listen", "127.0.0.1:0"};
    size_t argc = 3;
    for (; *flags && argc < 22; flags++)
        argv[argc++] = *flags;
    int out[2];
    ck_assert_int_eq(pipe(out), 0);
    d->pid = fork();
    ck_assert_int_ge(d->pid, 0);
    if (d->pid == 0) {
        dup2(out[1], STDOUT_FILENO);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, STDERR_FILENO);
        close(out[0]);
        execv(path, (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    char line[256];
    size_t len = 0;
    int64_t deadline = clock_mono_ms() + 10000;
    while (!memchr(line, '\n', len)) {
        struct pollfd p = {.fd = out[0], .events = POLLIN};
        int64_t left = deadline - clock_mono_ms();
        ck_assert_msg(left > 0 && poll(&p, 1, (int)left) == 1, "voxcast-ttsd: no 'listening on' line");
        ssize_t n = read(out[0], line + len, sizeof line - 1 - len);
        ck_assert_msg(n > 0, "voxcast-ttsd exited before listening");
        len += (size_t)n;
        line[len] = '\0';
    }
    close(out[0]);
    const char *at = strstr(line, "listening on 127.0.0.1:");
    ck_assert_msg(at != NULL, "unexpected line: %s", line);
    d->port = atoi(at + strlen("listening on 127.0.0.1:"));
    ck_assert_int_gt(d->port, 0);
}

static void ttsd_stop(struct ttsd *d)
{
    kill(d->pid, SIGTERM);
    waitpid(d->pid, NULL, 0);
}

/* ---- the scripted server ---- */

/* One exchange: after reading a whole request, write `answer` (when `byte_by_byte`, one byte
 * per send with TCP_NODELAY, so the client's reads end at many places), then keep the
 * connection, or close it. An answer of NULL closes without answering. */
struct step {
    const char *answer;
    size_t      len;            /* 0: strlen(answer) */
    bool        close_after;
    bool        byte_by_byte;
};

struct raw {
    int                lfd, port, stop[2];
    pthread_t          th;
    const struct step *steps;
    size_t             nsteps;   /* the last step repeats */
    atomic_int         accepts;
    atomic_int         requests;
    pthread_mutex_t    lock;
    struct buf         reqs[MAX_RESP];   /* each request's bytes, in arrival order */
};

/* Reads one request (headers, then Content-Length bytes) from fd into b. -1 on EOF/error. */
static int raw_read_request(int fd, struct buf *b)
{
    size_t need = 0;
    for (;;) {
        const char *end = b->data ? strstr(b->data, "\r\n\r\n") : NULL;
        if (end && need == 0) {
            const char *cl = strcasestr(b->data, "\r\nContent-Length: ");
            need = (size_t)(end + 4 - b->data) + (cl && cl < end ? strtoul(cl + 18, NULL, 10) : 0);
        }
        if (need > 0 && b->len >= need)
            return 0;
        char tmp[4096];
        ssize_t n = recv(fd, tmp, sizeof tmp, 0);
        if (n <= 0)
            return -1;
        buf_append(b, tmp, (size_t)n);
    }
}

static void raw_write(int fd, const struct step *s)
{
    size_t len = s->len ? s->len : strlen(s->answer);
    if (!s->byte_by_byte) {
        ck_assert_int_eq(send(fd, s->answer, len, MSG_NOSIGNAL), (ssize_t)len);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (size_t i = 0; i < len; i++) {
        ck_assert_int_eq(send(fd, s->answer + i, 1, MSG_NOSIGNAL), 1);
        /* pacing, not synchronisation: gives the client a chance to read a partial line */
        nanosleep(&(struct timespec){.tv_nsec = 50000}, NULL);
    }
}

/* Serves one connection until the client or a step closes it. */
static void raw_serve(struct raw *r, int fd)
{
    for (;;) {
        struct buf req = {0};
        if (raw_read_request(fd, &req) != 0) {
            buf_free(&req);
            break;
        }
        int i = atomic_fetch_add(&r->requests, 1);
        pthread_mutex_lock(&r->lock);
        if (i < MAX_RESP)
            r->reqs[i] = req;
        else
            buf_free(&req);
        pthread_mutex_unlock(&r->lock);
        const struct step *s = &r->steps[(size_t)i < r->nsteps ? (size_t)i : r->nsteps - 1];
        if (!s->answer)
            break;
        raw_write(fd, s);
        if (s->close_after)
            break;
    }
    close(fd);
}

static void *raw_main(void *arg)
{
    struct raw *r = arg;
    for (;;) {
        struct pollfd p[2] = {{.fd = r->lfd, .events = POLLIN}, {.fd = r->stop[0], .events = POLLIN}};
        if (poll(p, 2, -1) < 0 || p[1].revents)
            return NULL;
        int fd = accept(r->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        atomic_fetch_add(&r->accepts, 1);
        raw_serve(r, fd);   /* one connection at a time: the client's requests are sequential */
    }
}

static int listen_loopback(int backlog, int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(listen(fd, backlog), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

static void raw_start(struct raw *r, const struct step *steps, size_t nsteps)
{
    memset(r, 0, sizeof *r);
    r->steps = steps;
    r->nsteps = nsteps;
    pthread_mutex_init(&r->lock, NULL);
    r->lfd = listen_loopback(16, &r->port);
    ck_assert_int_eq(pipe(r->stop), 0);
    ck_assert_int_eq(pthread_create(&r->th, NULL, raw_main, r), 0);
}

static void raw_stop(struct raw *r)
{
    ck_assert_int_eq(write(r->stop[1], "x", 1), 1);
    pthread_join(r->th, NULL);
    close(r->lfd);
    close(r->stop[0]);
    close(r->stop[1]);
    for (size_t i = 0; i < MAX_RESP; i++)
        buf_free(&r->reqs[i]);
    pthread_mutex_destroy(&r->lock);
}

static const char *raw_url(const struct raw *r, char *out, size_t outlen)
{
    snprintf(out, outlen, "http://127.0.0.1:%d/v1/audio/speech", r->port);
    return out;
}

/* ---- scripted answers (copied from real servers) ---- */

/* A streamed WAV as OpenAI's /v1/audio/speech sends it (response_format "wav"): chunked, the
 * RIFF and data sizes 0xFFFFFFFF because the length is unknown when the header goes out, 24 kHz
 * mono 16-bit. Sources: OpenAI API reference, audio/createSpeech; speaches-ai/speaches issue #493
 * (hexdump of a real answer). Chunk boundaries here are ours; one carries a chunk extension and
 * the body ends with a trailer (RFC 9112 section 7.1), which OpenAI does not send but any
 * HTTP/1.1 server may. */
#define WAV_HDR "RIFF\xff\xff\xff\xffWAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\xc0\x5d\x00\x00" \
                "\x80\xbb\x00\x00\x02\x00\x10\x00" "data\xff\xff\xff\xff"
static const char OPENAI_CHUNKED[] =
    "HTTP/1.1 200 OK\r\n"
    "Date: Thu, 03 Dec 2026 12:00:00 GMT\r\n"
    "Content-Type: audio/wav\r\n"
    "Transfer-Encoding: chunked\r\n"
    "Connection: keep-alive\r\n"
    "openai-processing-ms: 312\r\n"
    "x-ratelimit-limit-requests: 500\r\n"
    "x-ratelimit-remaining-requests: 499\r\n"
    "x-ratelimit-reset-requests: 120ms\r\n"
    "x-request-id: req_0123456789abcdef\r\n"
    "\r\n"
    "2c\r\n" WAV_HDR "\r\n"
    "8;voxcast=ext\r\n\x01\x00\x02\x00\x03\x00\x04\x00\r\n"
    "4\r\n\x05\x00\x06\x00\r\n"
    "0\r\n"
    "x-trailer: done\r\n"
    "\r\n";
static const size_t OPENAI_CHUNKED_LEN = sizeof OPENAI_CHUNKED - 1;
static const char OPENAI_BODY[] = WAV_HDR "\x01\x00\x02\x00\x03\x00\x04\x00\x05\x00\x06\x00";
static const size_t OPENAI_BODY_LEN = sizeof OPENAI_BODY - 1;

/* Kokoro-FastAPI's streamed answer (remsky/Kokoro-FastAPI api/src/routers/openai_compatible.py
 * create_speech: StreamingResponse with Content-Disposition, X-Accel-Buffering: no,
 * Cache-Control: no-cache, Transfer-Encoding: chunked), as uvicorn writes it: lower-case names,
 * date and server first. */
static const char KOKORO_CHUNKED[] =
    "HTTP/1.1 200 OK\r\n"
    "date: Thu, 03 Dec 2026 12:00:00 GMT\r\n"
    "server: uvicorn\r\n"
    "content-disposition: attachment; filename=speech.wav\r\n"
    "x-accel-buffering: no\r\n"
    "cache-control: no-cache\r\n"
    "transfer-encoding: chunked\r\n"
    "content-type: audio/wav\r\n"
    "\r\n"
    "2C\r\n" WAV_HDR "\r\n"
    "c\r\n\x01\x00\x02\x00\x03\x00\x04\x00\x05\x00\x06\x00\r\n"
    "0\r\n\r\n";
static const size_t KOKORO_CHUNKED_LEN = sizeof KOKORO_CHUNKED - 1;

/* A 200 with a Content-Length body (libmicrohttpd's shape, as voxcast-ttsd answers). */
static const char SIZED_200[] =
    "HTTP/1.1 200 OK\r\n"
    "Content-Length: 5\r\n"
    "Content-Type: audio/wav\r\n"
    "\r\n"
    "hello";

/* An interim 100 Continue before the final answer (RFC 9110 section 15.2.1); the interim
 * answer's headers must not leak into the final one. */
static const char INTERIM_100[] =
    "HTTP/1.1 100 Continue\r\n"
    "Retry-After: 99\r\n"
    "\r\n"
    "HTTP/1.1 429 Too Many Requests\r\n"
    "Content-Type: application/json\r\n"
    "retry-after-ms: 1500\r\n"
    "Content-Length: 21\r\n"
    "\r\n"
    "{\"error\":\"throttled\"}";

/* An HTTP/1.0 answer without a length: the body ends when the server closes (RFC 9112 section
 * 6.3, item 8), and the connection cannot be reused. */
static const char HTTP10_CLOSE[] =
    "HTTP/1.0 200 OK\r\n"
    "Content-Type: audio/wav\r\n"
    "\r\n"
    "close-delimited body";

static const char CONNECTION_CLOSE[] =
    "HTTP/1.1 503 Service Unavailable\r\n"
    "Connection: close\r\n"
    "Retry-After: 7\r\n"
    "maximum-concurrent-requests: 2\r\n"
    "Content-Length: 4\r\n"
    "\r\n"
    "busy";

/* A Content-Length answer cut short: the server closes after 10 of 100 body bytes. */
static const char CUT_SIZED[] =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: audio/wav\r\n"
    "Content-Length: 100\r\n"
    "\r\n"
    "0123456789";

static struct http_request request_to(const char *url)
{
    return (struct http_request){.url = url, .body = "{\"input\":\"hi\"}", .body_len = 14,
                                 .timeout_ms = 5000, .connect_timeout_ms = 2000};
}

/* ---- tests: request bytes and parsing ---- */

/* The lean client sends the bytes curl sends: defaults, the caller's headers in order, an empty
 * "Name:" suppressing a header, the caller's Accept replacing the default. */
START_TEST(test_request_bytes_as_curl)
{
    static const struct step steps[] = {{.answer = SIZED_200}};
    struct raw r;
    raw_start(&r, steps, 1);
    char url[128];
    struct curl_slist *h = curl_slist_append(NULL, "Authorization: Bearer sk-0123");
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Accept: audio/wav");
    h = curl_slist_append(h, "Expect:");
    struct http_request req = request_to(raw_url(&r, url, sizeof url));
    for (int with_headers = 0; with_headers < 2; with_headers++) {
        req.headers = with_headers ? h : NULL;
        struct http_response lite, curl;
        both(&req, &lite, &curl);
        ck_assert_int_eq(lite.status, 200);
        ck_assert_str_eq(lite.body.data, "hello");
        buf_free(&lite.body);
        buf_free(&curl.body);
    }
    ck_assert_int_eq(atomic_load(&r.requests), 4);
    pthread_mutex_lock(&r.lock);
    for (int i = 0; i < 4; i += 2) {
        ck_assert_msg(strstr(r.reqs[i].data, "POST /v1/audio/speech HTTP/1.1\r\n") == r.reqs[i].data,
                      "%s", r.reqs[i].data);
        ck_assert_str_eq(r.reqs[i].data, r.reqs[i + 1].data);   /* lite, then curl */
    }
    ck_assert_ptr_null(strstr(r.reqs[2].data, "Accept: */*"));
    ck_assert_ptr_null(strstr(r.reqs[2].data, "Expect"));
    pthread_mutex_unlock(&r.lock);
    http_headers_free(h);
    raw_stop(&r);
}
END_TEST

/* A request larger than the socket buffer goes out in several send()s (EPOLLOUT between). */
START_TEST(test_large_request)
{
    static const struct step steps[] = {{.answer = SIZED_200}};
    struct raw r;
    raw_start(&r, steps, 1);
    char url[128];
    size_t n = (size_t)4 << 20;
    char *body = malloc(n);
    ck_assert_ptr_nonnull(body);
    for (size_t i = 0; i < n; i++)
        body[i] = (char)('a' + i % 26);
    struct http_request req = request_to(raw_url(&r, url, sizeof url));
    req.body = body;
    req.body_len = n;
    struct http_response lite, curl;
    both(&req, &lite, &curl);
    ck_assert_int_eq(lite.status, 200);
    buf_free(&lite.body);
    buf_free(&curl.body);
    pthread_mutex_lock(&r.lock);
    ck_assert_uint_gt(r.reqs[0].len, n);
    ck_assert_uint_eq(r.reqs[0].len, r.reqs[1].len);
    ck_assert_int_eq(memcmp(r.reqs[0].data, r.reqs[1].data, r.reqs[0].len), 0);
    pthread_mutex_unlock(&r.lock);
    free(body);
    raw_stop(&r);
}
END_TEST

/* Chunked answers as OpenAI and Kokoro-FastAPI send them, whole and a byte at a time. */
START_TEST(test_chunked_answers)
{
    static const struct step steps[] = {
        {.answer = OPENAI_CHUNKED, .len = sizeof OPENAI_CHUNKED - 1},
        {.answer = OPENAI_CHUNKED, .len = sizeof OPENAI_CHUNKED - 1},
        {.answer = KOKORO_CHUNKED, .len = sizeof KOKORO_CHUNKED - 1},
        {.answer = KOKORO_CHUNKED, .len = sizeof KOKORO_CHUNKED - 1},
        {.answer = OPENAI_CHUNKED, .len = sizeof OPENAI_CHUNKED - 1, .byte_by_byte = true},
        {.answer = KOKORO_CHUNKED, .len = sizeof KOKORO_CHUNKED - 1, .byte_by_byte = true},
    };
    (void)OPENAI_CHUNKED_LEN;
    (void)KOKORO_CHUNKED_LEN;
    struct raw r;
    raw_start(&r, steps, 6);
    char url[128];
    struct http_request req = request_to(raw_url(&r, url, sizeof url));
    for (int i = 0; i < 2; i++) {
        struct http_response lite, curl;
        both(&req, &lite, &curl);
        ck_assert_int_eq(lite.status, 200);
        ck_assert_str_eq(lite.content_type, "audio/wav");
        ck_assert_str_eq(lite.reset_requests, i == 0 ? "120ms" : "");
        ck_assert_uint_eq(lite.body.len, OPENAI_BODY_LEN);
        ck_assert_int_eq(memcmp(lite.body.data, OPENAI_BODY, OPENAI_BODY_LEN), 0);
        buf_free(&lite.body);
        buf_free(&curl.body);
    }
    struct http_response split;
    for (int i = 0; i < 2; i++) {
        post_one(LITE, &req, &split);
        ck_assert_int_eq(split.transport, TRANSPORT_OK);
        ck_assert_int_eq(split.status, 200);
        ck_assert_uint_eq(split.body.len, OPENAI_BODY_LEN);
        ck_assert_int_eq(memcmp(split.body.data, OPENAI_BODY, OPENAI_BODY_LEN), 0);
        buf_free(&split.body);
    }
    raw_stop(&r);
}
END_TEST

/* An interim 100 is skipped and forgotten; the final answer's headers are reported. */
START_TEST(test_interim_answer)
{
    static const struct step steps[] = {{.answer = INTERIM_100}};
    struct raw r;
    raw_start(&r, steps, 1);
    char url[128];
    struct http_request req = request_to(raw_url(&r, url, sizeof url));
    struct http_response lite, curl;
    both(&req, &lite, &curl);
    ck_assert_int_eq(lite.status, 429);
    ck_assert_str_eq(lite.retry_after, "");
    ck_assert_str_eq(lite.retry_after_ms, "1500");
    ck_assert_str_eq(lite.body.data, "{\"error\":\"throttled\"}");
    buf_free(&lite.body);
    buf_free(&curl.body);
    raw_stop(&r);
}
END_TEST

/* HTTP/1.0 close-delimited and Connection: close answers: delivered whole, connection not
 * reused (every request a new accept). */
START_TEST(test_close_delimited)
{
    static const struct step steps[] = {
        {.answer = HTTP10_CLOSE, .close_after = true},
        {.answer = CONNECTION_CLOSE, .close_after = true},
    };
    struct raw r;
    raw_start(&r, steps, 2);
    char url[128];
    struct http_request req = request_to(raw_url(&r, url, sizeof url));
    struct http_transport *t = transport_of(LITE);
    struct answers a = {0};
    char err[128];
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(http_transport_post(t, &req, &a, err, sizeof err), 0);
        run_until(t, &a, (size_t)i + 1);
    }
    ck_assert_int_eq(a.r[0].transport, TRANSPORT_OK);
    ck_assert_int_eq(a.r[0].status, 200);
    ck_assert_str_eq(a.r[0].body.data, "close-delimited body");
    ck_assert_int_eq(a.r[1].transport, TRANSPORT_OK);
    ck_assert_int_eq(a.r[1].status, 503);
    ck_assert_str_eq(a.r[1].retry_after, "7");
    ck_assert_str_eq(a.r[1].max_concurrent, "2");
    ck_assert_str_eq(a.r[1].body.data, "busy");
    ck_assert_int_eq(atomic_load(&r.accepts), 2);
    answers_free(&a);
    http_transport_free(t, NULL);
    /* curl agrees */
    struct http_response lite, curl;
    both(&req, &lite, &curl);
    buf_free(&lite.body);
    buf_free(&curl.body);
    raw_stop(&r);
}
END_TEST

/* A body cut short, sized or chunked: broken, in curl's words. */
START_TEST(test_cut_answers)
{
    static const char cut_chunked[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123";
    static const struct step steps[] = {
        {.answer = CUT_SIZED, .close_after = true},
        {.answer = CUT_SIZED, .close_after = true},
        {.answer = cut_chunked, .close_after = true},
    };
    struct raw r;
    raw_start(&r, steps, 3);
    char url[128];
    struct http_request req = request_to(raw_url(&r, url, sizeof url));
    struct http_response lite, curl;
    both(&req, &lite, &curl);
    ck_assert_int_eq(lite.transport, TRANSPORT_RESET);
    ck_assert_str_eq(lite.error, "connection broken: transfer closed with 90 bytes remaining to read");
    ck_assert_str_eq(curl.error, lite.error);
    both(&req, &lite, &curl);
    ck_assert_int_eq(lite.transport, TRANSPORT_RESET);
    ck_assert_str_eq(curl.error, lite.error);
    raw_stop(&r);
}
END_TEST

/* ---- tests: connections ---- */

/* Many sequential requests, each started from the previous one's done: one connection. */
START_TEST(test_keepalive_reuse)
{
    static const struct step steps[] = {{.answer = SIZED_200}};
    struct raw r;
    raw_start(&r, steps, 1);
    char url[128];
    struct http_request req = request_to(raw_url(&r, url, sizeof url));
    struct http_transport *t = transport_of(LITE);
    struct answers a = {.t = t, .next = &req, .chain = 40};
    char err[128];
    ck_assert_int_eq(http_transport_post(t, &req, &a, err, sizeof err), 0);
    run_until(t, &a, 40);
    for (size_t i = 0; i < a.n; i++) {
        ck_assert_int_eq(a.r[i].status, 200);
        ck_assert_str_eq(a.r[i].body.data, "hello");
        ck_assert(a.r[i].total_s >= 0 && a.r[i].total_s < 10);
    }
    ck_assert_int_eq(atomic_load(&r.accepts), 1);
    ck_assert_int_eq(atomic_load(&r.requests), 40);
    ck_assert_uint_eq(http_transport_active(t), 0);
    answers_free(&a);
    http_transport_free(t, NULL);
    raw_stop(&r);
}
END_TEST

/* The server closes a kept-alive connection as the next request arrives (its idle timeout
 * raced the request): the request goes again on a new connection, and the caller sees only the
 * answer. On a new connection the same close is a failure: "Empty reply from server". */
START_TEST(test_stale_connection_retry)
{
    static const struct step steps[] = {
        {.answer = SIZED_200},
        {.answer = NULL},            /* second request, reused connection: closed unanswered */
        {.answer = SIZED_200, .close_after = true},   /* the retry, on a new connection */
        {.answer = NULL},            /* third request: a new connection, closed unanswered */
    };
    struct raw r;
    raw_start(&r, steps, 4);
    char url[128];
    struct http_request req = request_to(raw_url(&r, url, sizeof url));
    struct http_transport *t = transport_of(LITE);
    struct answers a = {0};
    char err[128];
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(http_transport_post(t, &req, &a, err, sizeof err), 0);
        run_until(t, &a, (size_t)i + 1);
    }
    ck_assert_int_eq(a.r[0].status, 200);
    ck_assert_int_eq(a.r[1].transport, TRANSPORT_OK);
    ck_assert_int_eq(a.r[1].status, 200);
    ck_assert_str_eq(a.r[1].body.data, "hello");
    ck_assert_int_eq(a.r[2].transport, TRANSPORT_RESET);
    ck_assert_str_eq(a.r[2].error, "connection broken: Empty reply from server");
    ck_assert_int_eq(atomic_load(&r.accepts), 3);
    ck_assert_int_eq(atomic_load(&r.requests), 4);
    answers_free(&a);
    http_transport_free(t, NULL);
    raw_stop(&r);
}
END_TEST

/* A server that closes every connection right after answering, without saying so: the idle
 * connection is dropped (or retried), never reported as a failure. */
START_TEST(test_server_closes_idle)
{
    static const struct step steps[] = {{.answer = SIZED_200, .close_after = true}};
    struct raw r;
    raw_start(&r, steps, 1);
    char url[128];
    struct http_request req = request_to(raw_url(&r, url, sizeof url));
    struct http_transport *t = transport_of(LITE);
    struct answers a = {.t = t, .next = &req, .chain = 10};
    char err[128];
    ck_assert_int_eq(http_transport_post(t, &req, &a, err, sizeof err), 0);
    run_until(t, &a, 10);
    for (size_t i = 0; i < a.n; i++)
        ck_assert_msg(a.r[i].transport == TRANSPORT_OK && a.r[i].status == 200, "%zu: %s", i, a.r[i].error);
    ck_assert_int_eq(atomic_load(&r.accepts), 10);
    answers_free(&a);
    http_transport_free(t, NULL);
    raw_stop(&r);
}
END_TEST

START_TEST(test_connect_refused)
{
    int port;
    int fd = listen_loopback(1, &port);
    close(fd);   /* nothing listens there now */
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/audio/speech", port);
    struct http_request req = request_to(url);
    struct http_response lite, curl;
    both(&req, &lite, &curl);
    ck_assert_int_eq(lite.transport, TRANSPORT_CONNECT);
    ck_assert_str_eq(lite.error, "connect: Connection refused");
    ck_assert_str_eq(curl.error, lite.error);
    snprintf(url, sizeof url, "http://localhost:%d/v1/audio/speech", port);   /* both addresses */
    post_one(LITE, &req, &lite);
    ck_assert_int_eq(lite.transport, TRANSPORT_CONNECT);
    ck_assert_str_eq(lite.error, "connect: Connection refused");
}
END_TEST

/* A listening socket whose accept queue is full drops new SYNs: connect hangs until the
 * connect timeout. */
START_TEST(test_connect_timeout)
{
    int port;
    int lfd = listen_loopback(0, &port);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fill[4];
    for (int i = 0; i < 4; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fill[i], (struct sockaddr *)&sa, sizeof sa);   /* EINPROGRESS or queued */
    }
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/audio/speech", port);
    struct http_request req = request_to(url);
    req.connect_timeout_ms = 300;
    req.timeout_ms = 5000;
    struct http_response lite, curl;
    int64_t t0 = clock_mono_ms();
    post_one(LITE, &req, &lite);
    int64_t took = clock_mono_ms() - t0;
    post_one(VIA_CURL, &req, &curl);
    ck_assert_int_eq(curl.transport, TRANSPORT_TIMEOUT);   /* the set-up works: curl hangs too */
    ck_assert_int_eq(lite.transport, TRANSPORT_TIMEOUT);
    ck_assert_str_eq(lite.error, "connect timeout after 300 ms");
    ck_assert_str_eq(curl.error, lite.error);
    ck_assert_msg(took >= 290 && took < 2000, "took %lld ms", (long long)took);
    for (int i = 0; i < 4; i++)
        close(fill[i]);
    close(lfd);
}
END_TEST

/* ---- tests: voxcast-ttsd ---- */

static const char OPENAI_REQ[] = "{\"model\":\"tts-1\",\"input\":\"Hello there.\",\"voice\":\"alloy\","
                                 "\"response_format\":\"wav\"}";

static struct http_request ttsd_request(const struct ttsd *d, char *url, size_t urllen)
{
    snprintf(url, urllen, "http://127.0.0.1:%d/v1/audio/speech", d->port);
    return (struct http_request){.url = url, .body = OPENAI_REQ, .body_len = sizeof OPENAI_REQ - 1,
                                 .timeout_ms = 5000, .connect_timeout_ms = 2000};
}

/* Whole answers of voxcast-ttsd: sized (plain), chunked (OpenAI, Kokoro mimics), errors with
 * the headers the transport reports. Both clients see the same. */
START_TEST(test_ttsd_same_as_curl)
{
    static const char *const modes[][8] = {
        {"--tone", NULL},
        {"--tone", "--mimic", "openai", NULL},
        {"--tone", "--mimic", "kokoro", NULL},
        {"--tone", "--mimic", "openai", "--fail-rate", "1", "--fail-code", "rate_limit_exceeded", NULL},
        {"--tone", "--fail-rate", "1", "--fail-status", "503", "--retry-after", "3", NULL},
    };
    static const long want_status[] = {200, 200, 200, 429, 503};
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        struct ttsd d;
        ttsd_start(&d, modes[m]);
        char url[128];
        struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
        h = curl_slist_append(h, "Authorization: Bearer sk-test-0123456789");
        struct http_request req = ttsd_request(&d, url, sizeof url);
        req.headers = h;
        if (m == 2) {   /* Kokoro's own model and voice names */
            req.body = "{\"model\":\"kokoro\",\"input\":\"Hello there.\",\"voice\":\"af_heart\","
                       "\"response_format\":\"wav\"}";
            req.body_len = strlen(req.body);
        }
        struct http_response lite, curl;
        both(&req, &lite, &curl);
        ck_assert_msg(lite.status == want_status[m], "mode %zu: status %ld (%s)", m, lite.status,
                      lite.body.data ? lite.body.data : lite.error);
        if (want_status[m] == 200)
            ck_assert_msg(lite.body.len > 44 && memcmp(lite.body.data, "RIFF", 4) == 0, "mode %zu", m);
        if (m == 3)
            ck_assert_str_ne(lite.reset_requests, "");
        if (m == 4)
            ck_assert_str_eq(lite.retry_after, "3");
        buf_free(&lite.body);
        buf_free(&curl.body);
        http_headers_free(h);
        ttsd_stop(&d);
    }
}
END_TEST

/* voxcast-ttsd's faults: hang -> timeout, reset -> broken, garbage -> a 200 with HTML, a cut
 * mimic answer -> broken. */
START_TEST(test_ttsd_faults)
{
    static const char *const hang[] = {"--tone", "--hang-rate", "1", NULL};
    static const char *const reset[] = {"--tone", "--reset-rate", "1", NULL};
    static const char *const garbage[] = {"--tone", "--garbage-rate", "1", NULL};
    static const char *const cut[] = {"--tone", "--mimic", "openai", "--truncate-rate", "1", NULL};
    static const char *const cut_sized[] = {"--tone", "--mimic", "elevenlabs", "--truncate-rate", "1", NULL};
    struct ttsd d;
    char url[128];
    struct http_response lite, curl;

    ttsd_start(&d, hang);
    struct http_request req = ttsd_request(&d, url, sizeof url);
    req.timeout_ms = 300;
    int64_t t0 = clock_mono_ms();
    post_one(LITE, &req, &lite);
    int64_t took = clock_mono_ms() - t0;
    post_one(VIA_CURL, &req, &curl);
    ck_assert_int_eq(lite.transport, TRANSPORT_TIMEOUT);
    ck_assert_str_eq(lite.error, "timeout after 300 ms");
    ck_assert_str_eq(curl.error, lite.error);
    ck_assert_msg(took >= 290 && took < 2000, "took %lld ms", (long long)took);
    ttsd_stop(&d);

    ttsd_start(&d, reset);
    req = ttsd_request(&d, url, sizeof url);
    both(&req, &lite, &curl);
    ck_assert_int_eq(lite.transport, TRANSPORT_RESET);
    ck_assert_msg(strncmp(lite.error, "connection broken: ", 19) == 0, "%s", lite.error);
    ttsd_stop(&d);

    ttsd_start(&d, garbage);
    req = ttsd_request(&d, url, sizeof url);
    both(&req, &lite, &curl);
    ck_assert_int_eq(lite.status, 200);
    ck_assert_str_eq(lite.content_type, "text/html; charset=utf-8");
    ck_assert_ptr_nonnull(strstr(lite.body.data, "502 Bad Gateway"));
    buf_free(&lite.body);
    buf_free(&curl.body);
    ttsd_stop(&d);

    ttsd_start(&d, cut);   /* chunked, cut mid-body */
    req = ttsd_request(&d, url, sizeof url);
    both(&req, &lite, &curl);
    ck_assert_int_eq(lite.transport, TRANSPORT_RESET);
    ttsd_stop(&d);

    ttsd_start(&d, cut_sized);   /* Content-Length, cut mid-body */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM", d.port);
    req.body = "{\"text\":\"Hello there.\",\"model_id\":\"eleven_multilingual_v2\"}";
    req.body_len = strlen(req.body);
    both(&req, &lite, &curl);
    ck_assert_int_eq(lite.transport, TRANSPORT_RESET);
    ttsd_stop(&d);
}
END_TEST

/* The body cap, sized and chunked: cut off, nothing delivered, curl's text. */
START_TEST(test_body_cap)
{
    static const char *const plain[] = {"--tone", NULL};
    static const char *const chunked[] = {"--tone", "--mimic", "openai", NULL};
    const char *const *modes[] = {plain, chunked};
    for (int m = 0; m < 2; m++) {
        struct ttsd d;
        ttsd_start(&d, modes[m]);
        char url[128];
        struct http_request req = ttsd_request(&d, url, sizeof url);
        req.max_body = 100;
        struct http_response lite, curl;
        both(&req, &lite, &curl);
        ck_assert_int_eq(lite.transport, TRANSPORT_OTHER);
        ck_assert_str_eq(lite.error, "answer longer than 100 bytes");
        ck_assert_str_eq(curl.error, lite.error);
        ttsd_stop(&d);
    }
}
END_TEST

/* Concurrency against voxcast-ttsd: 48 requests at once, all answered, connections reused. */
START_TEST(test_ttsd_concurrent)
{
    static const char *const flags[] = {"--tone", "--mimic", "openai", NULL};
    struct ttsd d;
    ttsd_start(&d, flags);
    char url[128];
    struct http_request req = ttsd_request(&d, url, sizeof url);
    struct http_transport *t = transport_of(LITE);
    struct answers a = {0};
    char err[128];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 24; i++)
            ck_assert_int_eq(http_transport_post(t, &req, &a, err, sizeof err), 0);
        ck_assert_uint_eq(http_transport_active(t), 24);
        run_until(t, &a, (size_t)(round + 1) * 24);
    }
    for (size_t i = 0; i < a.n; i++)
        ck_assert_msg(a.r[i].status == 200 && a.r[i].body.len > 44, "%zu: %s", i, a.r[i].error);
    answers_free(&a);
    http_transport_free(t, NULL);
    ttsd_stop(&d);
}
END_TEST

/* Freeing the transport abandons lean transfers: drop once per ctx, no done, no leak. */
static int dropped;
static void count_drop(void *ctx)
{
    (void)ctx;
    dropped++;
}

START_TEST(test_free_in_flight)
{
    static const char *const hang[] = {"--tone", "--hang-rate", "1", NULL};
    struct ttsd d;
    ttsd_start(&d, hang);
    char url[128];
    struct http_request req = ttsd_request(&d, url, sizeof url);
    struct http_transport *t = transport_of(LITE);
    struct answers a = {0};
    char err[128];
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(http_transport_post(t, &req, &a, err, sizeof err), 0);
    for (int i = 0; i < 5; i++) {   /* let them connect and send */
        ck_assert_int_ge(http_transport_wait(t, NULL, 0, 20), 0);
        http_transport_perform(t, on_done, &a);
    }
    ck_assert_uint_eq(a.n, 0);
    ck_assert_uint_eq(http_transport_active(t), 3);
    dropped = 0;
    http_transport_free(t, count_drop);
    ck_assert_int_eq(dropped, 3);
    ttsd_stop(&d);
}
END_TEST

/* ---- tests: routing ---- */

START_TEST(test_routing)
{
    static const char *const lite[] = {
        "http://127.0.0.1:8080/v1/audio/speech", "http://127.0.0.1/v1/audio/speech",
        "http://[::1]:8880/v1/audio/speech", "http://localhost:8880/v1/text-to-speech/abc",
        "http://10.1.2.3:80", "http://127.0.0.1:9/a?b=c",
    };
    static const char *const curl[] = {
        "https://127.0.0.1:8080/v1/audio/speech", "http://api.openai.com/v1/audio/speech",
        "http://user:pw@127.0.0.1:8080/", "http://127.0.0.1:8080/a/../b", "http://127.0.0.1:/x",
        "http://127.0.0.1:99999/x", "http://127.1:8080/x", "http://127.0.0.1:8080/a b",
        "http://127.0.0.1:8080/a#frag", "HTTP://127.0.0.1/x", "http://[fe80::1%25eth0]:80/",
        "ftp://127.0.0.1/", "",
    };
    for (size_t i = 0; i < sizeof lite / sizeof lite[0]; i++)
        ck_assert_msg(http_lite_url_ok(lite[i]), "%s should go to the lean client", lite[i]);
    for (size_t i = 0; i < sizeof curl / sizeof curl[0]; i++)
        ck_assert_msg(!http_lite_url_ok(curl[i]), "%s should go to curl", curl[i]);
}
END_TEST

/* A proxy variable sends everything to curl, which sends the request to the proxy: here the
 * scripted server, which sees curl's absolute-form request line. */
START_TEST(test_proxy_means_curl)
{
    static const struct step steps[] = {{.answer = SIZED_200}};
    struct raw r;
    raw_start(&r, steps, 1);
    struct http_transport *t0 = transport_of(LITE);   /* clears the proxy variables */
    http_transport_free(t0, NULL);
    char proxy[64];
    snprintf(proxy, sizeof proxy, "http://127.0.0.1:%d", r.port);
    setenv("http_proxy", proxy, 1);
    char err[128];
    struct http_transport *t = http_transport_new(0, false, err, sizeof err);
    ck_assert_ptr_nonnull(t);
    struct http_request req = request_to("http://127.0.0.1:9/v1/audio/speech");
    struct answers a = {0};
    ck_assert_int_eq(http_transport_post(t, &req, &a, err, sizeof err), 0);
    run_until(t, &a, 1);   /* curl reads the variable when it connects */
    unsetenv("http_proxy");
    ck_assert_msg(a.r[0].status == 200, "%s", a.r[0].error);
    pthread_mutex_lock(&r.lock);
    ck_assert_msg(strncmp(r.reqs[0].data, "POST http://127.0.0.1:9/v1/audio/speech HTTP/1.1\r\n", 50) == 0,
                  "%s", r.reqs[0].data);
    pthread_mutex_unlock(&r.lock);
    answers_free(&a);
    http_transport_free(t, NULL);
    raw_stop(&r);
}
END_TEST

static Suite *http_lite_suite(void)
{
    Suite *s = suite_create("http_lite");
    TCase *raw = tcase_create("scripted");
    tcase_set_timeout(raw, 30);
    tcase_add_test(raw, test_request_bytes_as_curl);
    tcase_add_test(raw, test_large_request);
    tcase_add_test(raw, test_chunked_answers);
    tcase_add_test(raw, test_interim_answer);
    tcase_add_test(raw, test_close_delimited);
    tcase_add_test(raw, test_cut_answers);
    tcase_add_test(raw, test_keepalive_reuse);
    tcase_add_test(raw, test_stale_connection_retry);
    tcase_add_test(raw, test_server_closes_idle);
    tcase_add_test(raw, test_connect_refused);
    tcase_add_test(raw, test_connect_timeout);
    tcase_add_test(raw, test_routing);
    tcase_add_test(raw, test_proxy_means_curl);
    suite_add_tcase(s, raw);
    TCase *ttsd = tcase_create("ttsd");
    tcase_set_timeout(ttsd, 60);
    tcase_add_test(ttsd, test_ttsd_same_as_curl);
    tcase_add_test(ttsd, test_ttsd_faults);
    tcase_add_test(ttsd, test_body_cap);
    tcase_add_test(ttsd, test_ttsd_concurrent);
    tcase_add_test(ttsd, test_free_in_flight);
    suite_add_tcase(s, ttsd);
    return s;
}

CHECK_MAIN(http_lite_suite)
