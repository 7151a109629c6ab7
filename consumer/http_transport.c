/* http_transport.c - curl multi POSTs for the providers; see http_transport.h.
 *
 * Driven through curl's socket interface: curl tells us (on_socket, on_timer) which sockets to
 * watch and when its next timeout is; we wait in epoll and hand curl exactly the sockets that
 * are ready (curl_multi_socket_action). curl_multi_perform instead visits every transfer on
 * every call and polls each one's socket: with a hundred transfers out and one finishing per
 * wake-up, that was most of the consumer's CPU. Each transfer is a `struct xfer` found again
 * through CURLOPT_PRIVATE and kept on a list so that freeing the transport can abandon the ones
 * still running. A finished xfer keeps its easy handle, configured, for the next transfer (the
 * connections it used stay in the multi handle's cache, which is what makes the next request to
 * the same host reuse them): the options every request shares are set once when the handle is
 * made, and a request sets only what varies - its URL and header list not even that when they
 * are the ones the handle sent last (a provider sends the same few every time). Plain http://
 * requests to literal addresses go to http_lite instead (see use_lite()), whose sockets share
 * the epoll set and whose deadlines share the wait. */
#include "http_transport.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "clock.h"
#include "http_lite.h"
#include "xalloc.h"

#define MAX_EXTRA_FDS 8
#define MAX_EVENTS    256   /* per wait; more simply wait for the next round */
#define MAX_SPARE     1024  /* finished xfers (with their easy handles) kept for reuse */
#define USER_AGENT    "voxcast-consumer"

/* A transfer and the easy handle it runs on, kept together when it is done: the handle's
 * PRIVATE, WRITEDATA and HEADERDATA point at the xfer and its ERRORBUFFER at errbuf, so they stay
 * right from one request to the next. The fields from ctx on are the request's own. */
struct xfer {
    struct xfer       *prev, *next;     /* the transport's list of running transfers */
    CURL              *easy;
    struct curl_slist *headers;         /* ours: copied from a request plus "Expect:"; kept, as
                                           the handle's HTTPHEADER, while the next requests
                                           bring the same list */
    char               errbuf[CURL_ERROR_SIZE];
    CURLU             *url;             /* the handle's CURLOPT_CURLU: url_text parsed */
    char              *url_text;        /* NULL: not parsed (new handle, or curl refused it) */
    void              *ctx;
    struct buf         body;
    size_t             max_body;
    bool               too_large;       /* the write callback stopped the transfer */
    long               timeout_ms, connect_timeout_ms;
    char               retry_after[64];
    char               retry_after_ms[32];
    char               reset_requests[32];
    char               max_concurrent[16];
    char               content_type[96];
};

struct http_transport {
    CURLM             *multi;
    struct xfer       *head;
    size_t             active;
    int                epfd;
    int64_t            timer_due_ms;            /* curl's next timeout (monotonic), -1: none */
    int                extra[MAX_EXTRA_FDS];    /* the caller's fds, also in epfd */
    size_t             nextra;
    struct epoll_event ready[MAX_EVENTS];       /* what the last wait saw, for perform */
    int                nready;
    struct xfer       *spare[MAX_SPARE];        /* finished xfers, handles configured */
    size_t             nspare;
    struct http_lite  *lite;                    /* NULL: every request goes to curl */
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode       global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- curl's socket interface ---- */

/* curl says which events a socket needs (or that it is done with it). A socket in the epoll set
 * carries a marker as curl's socketp (curl_multi_assign), which curl hands back in every later
 * call for it until it removes the socket, so the first call adds and the later ones modify
 * without a failing call to find out which. The fallbacks cover an fd number curl reused while
 * the kernel still held the old registration, or a registration the kernel already dropped. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    struct http_transport *t = userp;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(t->epfd, EPOLL_CTL_DEL, fd, NULL); /* may be closed already: harmless */
        return 0;
    }
    struct epoll_event ev = {.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) |
                                       ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u),
                             .data.fd = fd};
    if (socketp) {
        if (epoll_ctl(t->epfd, EPOLL_CTL_MOD, fd, &ev) != 0 && errno == ENOENT)
            epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev);
        return 0;
    }
    if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev) != 0 && errno == EEXIST)
        epoll_ctl(t->epfd, EPOLL_CTL_MOD, fd, &ev);
    /* any non-NULL pointer means "in the set"; should curl refuse it, the next call for fd
     * adds again and the EEXIST fallback makes that a modify */
    (void)curl_multi_assign(t->multi, fd, t);
    return 0;
}

/* curl says when it next needs to be called without socket activity (-1: not at all). */
static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct http_transport *t = userp;
    t->timer_due_ms = timeout_ms < 0 ? -1 : clock_mono_ms() + timeout_ms;
    return 0;
}

/* ---- lifecycle ---- */

/* Whether plain http:// requests may skip curl: not when the caller asks for curl everywhere,
 * nor when a proxy variable is set (curl honours those; the lean client does not, and weighing
 * no_proxy is not worth a second implementation). Read once, at creation. */
static bool use_lite(bool curl_only)
{
    static const char *const proxy_vars[] = {"http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"};
    if (curl_only)
        return false;
    for (size_t i = 0; i < sizeof proxy_vars / sizeof proxy_vars[0]; i++) {
        const char *v = getenv(proxy_vars[i]);
        if (v && *v)
            return false;
    }
    return true;
}

struct http_transport *http_transport_new(long max_idle, bool curl_only, char *err, size_t errlen)
{
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK) {
        snprintf(err, errlen, "libcurl: %s", curl_easy_strerror(global_rc));
        return NULL;
    }
    struct http_transport *t = xcalloc(1, sizeof *t);
    if ((t->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 || !(t->multi = curl_multi_init())) {
        if (t->epfd >= 0)
            close(t->epfd);
        free(t);
        snprintf(err, errlen, "libcurl: cannot create a multi handle");
        return NULL;
    }
    t->timer_due_ms = -1;
    curl_multi_setopt(t->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(t->multi, CURLMOPT_SOCKETDATA, t);
    curl_multi_setopt(t->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(t->multi, CURLMOPT_TIMERDATA, t);
    /* 0 is "no limit": the engine's caps decide how many requests a provider gets. */
    curl_multi_setopt(t->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
    curl_multi_setopt(t->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
    if (max_idle > 0)
        curl_multi_setopt(t->multi, CURLMOPT_MAXCONNECTS, max_idle);
    if (use_lite(curl_only))
        t->lite = http_lite_new(t->epfd, max_idle);
    return t;
}

void http_headers_free(struct curl_slist *headers)
{
    for (struct curl_slist *h = headers; h; h = h->next)
        explicit_bzero(h->data, strlen(h->data));
    curl_slist_free_all(headers);
}

/* Frees an xfer, its handle and its copy of the headers (zeroed: they hold keys). */
static void xfer_destroy(struct xfer *x)
{
    if (x->easy)
        curl_easy_cleanup(x->easy);
    curl_url_cleanup(x->url);
    free(x->url_text);
    http_headers_free(x->headers);
    buf_free(&x->body);
    free(x);
}

/* Ends a transfer: its xfer, handle still configured, waits for the next request (saves curl's
 * set-up, and the header copy when that request brings the same list). */
static void xfer_free(struct http_transport *t, struct xfer *x)
{
    if (t->nspare == MAX_SPARE) {
        xfer_destroy(x);
        return;
    }
    buf_free(&x->body);
    x->ctx = NULL;
    t->spare[t->nspare++] = x;
}

static void xfer_unlink(struct http_transport *t, struct xfer *x)
{
    curl_multi_remove_handle(t->multi, x->easy);
    if (x->prev)
        x->prev->next = x->next;
    else
        t->head = x->next;
    if (x->next)
        x->next->prev = x->prev;
    t->active--;
}

void http_transport_free(struct http_transport *t, http_drop_fn drop)
{
    if (!t)
        return;
    while (t->head) {
        struct xfer *x = t->head;
        xfer_unlink(t, x);
        if (drop)
            drop(x->ctx);
        xfer_free(t, x);
    }
    http_lite_free(t->lite, drop);
    curl_multi_cleanup(t->multi);
    while (t->nspare > 0)
        xfer_destroy(t->spare[--t->nspare]);
    close(t->epfd);
    free(t);
}

size_t http_transport_active(const struct http_transport *t)
{
    return t ? t->active + http_lite_active(t->lite) : 0;
}

/* ---- curl callbacks ---- */

static size_t on_write(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct xfer *x = userdata;
    size_t n = size * nmemb;
    if (n > x->max_body - x->body.len) {
        x->too_large = true;
        return 0;   /* anything but n aborts the transfer with CURLE_WRITE_ERROR */
    }
    buf_append(&x->body, data, n);
    return n;
}

/* Copies the value of a "Name: value" header line into out, trimmed, when the name matches. */
static void header_value(const char *line, size_t n, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    if (n <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0)
        return;
    const char *v = line + nl + 1, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    snprintf(out, outlen, "%.*s", (int)(end - v), v);
}

/* Header lines of every response arrive here, interim ones (100 Continue) included: a status
 * line starts a new response, so what an earlier one said is forgotten. */
static size_t on_header(char *line, size_t size, size_t nitems, void *userdata)
{
    struct xfer *x = userdata;
    size_t n = size * nitems;
    if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        x->retry_after[0] = '\0';
        x->retry_after_ms[0] = '\0';
        x->reset_requests[0] = '\0';
        x->max_concurrent[0] = '\0';
        x->content_type[0] = '\0';
    }
    header_value(line, n, "Retry-After", x->retry_after, sizeof x->retry_after);
    header_value(line, n, "retry-after-ms", x->retry_after_ms, sizeof x->retry_after_ms);
    header_value(line, n, "x-ratelimit-reset-requests", x->reset_requests, sizeof x->reset_requests);
    header_value(line, n, "maximum-concurrent-requests", x->max_concurrent, sizeof x->max_concurrent);
    header_value(line, n, "Content-Type", x->content_type, sizeof x->content_type);
    return n;
}

/* ---- starting ---- */

/* What every request of a handle shares, set once when the handle is made: our callbacks and
 * their data, the error buffer, no signals (we are one thread of many), keep-alive probes so an
 * idle pooled connection that died is noticed, no redirects, and plain http/https only. */
static CURLcode set_fixed(struct xfer *x)
{
    CURLcode rc = curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_write);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, on_header);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(x->easy, CURLOPT_TCP_KEEPALIVE, 1L);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(x->easy, CURLOPT_FOLLOWLOCATION, 0L);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(x->easy, CURLOPT_USERAGENT, USER_AGENT);
#if LIBCURL_VERSION_NUM >= 0x075500
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    return rc;
}

/* A spare xfer, or a new one with its handle configured; NULL + err when curl cannot make or
 * configure a handle. */
static struct xfer *xfer_get(struct http_transport *t, char *err, size_t errlen)
{
    if (t->nspare > 0)
        return t->spare[--t->nspare];
    struct xfer *x = xcalloc(1, sizeof *x);
    if (!(x->easy = curl_easy_init())) {
        snprintf(err, errlen, "libcurl: cannot create a handle");
        xfer_destroy(x);
        return NULL;
    }
    CURLcode rc = set_fixed(x);
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "libcurl: %s", curl_easy_strerror(rc));
        xfer_destroy(x);
        return NULL;
    }
    return x;
}

/* The URL, handed to curl parsed (CURLOPT_CURLU) and parsed only when it differs from the
 * handle's previous one: given the text alone, curl 7.88 parses it and rebuilds it for every
 * transfer, a good part of its set-up. The text is set too, as what curl reports (and names in
 * its errors) is its text, not the parsed handle. A new URL gets a new CURLU: one that already
 * holds a URL would read a URL without a scheme (or "") as relative to it. The flags are those
 * curl parses a text URL with, so both ways read a URL alike; one the parser refuses goes as
 * text alone, and curl fails the transfer with its own error as it always did. */
static CURLcode set_url(struct xfer *x, const char *url)
{
    if (x->url_text && strcmp(x->url_text, url) == 0)
        return CURLE_OK;
    free(x->url_text);
    x->url_text = NULL;
    CURLU *u = curl_url();
    if (u && curl_url_set(u, CURLUPART_URL, url, CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) !=
                 CURLUE_OK) {
        curl_url_cleanup(u);
        u = NULL;
    }
    CURLcode rc = curl_easy_setopt(x->easy, CURLOPT_CURLU, u);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(x->easy, CURLOPT_URL, url);
    curl_url_cleanup(x->url);   /* no transfer runs on the handle: curl is done with it */
    x->url = u;
    if (rc == CURLE_OK && u)
        x->url_text = xstrdup(url);
    return rc;
}

/* True when ours is theirs plus the trailing "Expect:". */
static bool same_headers(const struct curl_slist *ours, const struct curl_slist *theirs)
{
    for (; theirs; theirs = theirs->next, ours = ours->next)
        if (!ours || strcmp(ours->data, theirs->data) != 0)
            return false;
    return ours && !ours->next && strcmp(ours->data, "Expect:") == 0;
}

/* The request's headers plus "Expect:", which stops curl from waiting for a 100 Continue
 * before sending a larger body, a round trip that many TTS servers never answer. The handle
 * keeps pointing at our copy, so a handle whose last request brought the same list (a provider
 * sends the same few headers every time) neither copies nor sets it again. */
static CURLcode set_headers(struct xfer *x, const struct curl_slist *theirs)
{
    if (x->headers && same_headers(x->headers, theirs))
        return CURLE_OK;
    struct curl_slist *ours = NULL;
    for (const struct curl_slist *h = theirs; h; h = h->next) {
        struct curl_slist *n = curl_slist_append(ours, h->data);
        if (!n) {
            http_headers_free(ours);
            return CURLE_OUT_OF_MEMORY;
        }
        ours = n;
    }
    struct curl_slist *n = curl_slist_append(ours, "Expect:");
    if (!n) {
        http_headers_free(ours);
        return CURLE_OUT_OF_MEMORY;
    }
    ours = n;
    CURLcode rc = curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, ours);
    if (rc != CURLE_OK) {
        http_headers_free(ours);
        return rc;
    }
    http_headers_free(x->headers);
    x->headers = ours;
    return CURLE_OK;
}

/* What varies per request: URL, headers, body and both timeouts, the timeouts set back to 0
 * (none; curl's default connect timeout) when the request has none, so nothing carries over
 * from the handle's previous request. */
static CURLcode set_request(struct xfer *x, const struct http_request *req)
{
    CURLcode rc = set_url(x, req->url);
    if (rc == CURLE_OK)
        rc = set_headers(x, req->headers);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    if (rc == CURLE_OK)   /* sets POST; size first, so a body with NUL bytes is copied whole */
        rc = curl_easy_setopt(x->easy, CURLOPT_COPYPOSTFIELDS, req->body ? req->body : "");
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, x->timeout_ms > 0 ? x->timeout_ms : 0L);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS,
                              x->connect_timeout_ms > 0 ? x->connect_timeout_ms : 0L);
    return rc;
}

/* Clears what the previous request of a reused xfer left behind. */
static void xfer_start(struct xfer *x, const struct http_request *req, void *ctx)
{
    x->prev = x->next = NULL;
    x->errbuf[0] = '\0';
    x->ctx = ctx;
    x->max_body = req->max_body ? req->max_body : HTTP_MAX_BODY;
    x->too_large = false;
    x->timeout_ms = req->timeout_ms;
    x->connect_timeout_ms = req->connect_timeout_ms;
    x->retry_after[0] = '\0';
    x->retry_after_ms[0] = '\0';
    x->reset_requests[0] = '\0';
    x->max_concurrent[0] = '\0';
    x->content_type[0] = '\0';
}

int http_transport_post(struct http_transport *t, const struct http_request *req, void *ctx,
                        char *err, size_t errlen)
{
    if (t->lite && http_lite_post(t->lite, req, ctx) == 0)
        return 0;
    struct xfer *x = xfer_get(t, err, errlen);
    if (!x)
        return -1;
    xfer_start(x, req, ctx);
    CURLcode rc = set_request(x, req);
    CURLMcode mrc = rc == CURLE_OK ? curl_multi_add_handle(t->multi, x->easy) : CURLM_OK;
    if (rc != CURLE_OK || mrc != CURLM_OK) {
        snprintf(err, errlen, "libcurl: %s",
                 rc != CURLE_OK ? curl_easy_strerror(rc) : curl_multi_strerror(mrc));
        xfer_free(t, x);
        return -1;
    }
    x->next = t->head;
    if (t->head)
        t->head->prev = x;
    t->head = x;
    t->active++;
    return 0;
}

/* ---- finishing ---- */

static enum transport_result map_code(CURLcode code)
{
    switch (code) {
    case CURLE_OK:
        return TRANSPORT_OK;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
        return TRANSPORT_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return TRANSPORT_TIMEOUT;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return TRANSPORT_RESET;
    default:
        return TRANSPORT_OTHER;
    }
}

/* curl's own message when it left one, else its generic text for the code. Callers print at
 * most 120 bytes of it: the error field is short by design. */
static const char *curl_text(const struct xfer *x, CURLcode code)
{
    return x->errbuf[0] ? x->errbuf : curl_easy_strerror(code);
}

/* Which timeout fired is not in the code: both are CURLE_OPERATION_TIMEDOUT. The elapsed time
 * tells them apart - a connect timeout fires nearer connect_timeout_ms than timeout_ms. */
static void describe_timeout(const struct xfer *x, double total_s, char *out, size_t outlen)
{
    long elapsed = (long)(total_s * 1000.0);
    long ct = x->connect_timeout_ms, tt = x->timeout_ms;
    if (ct > 0 && (tt <= 0 || (ct < tt && elapsed < ct + (tt - ct) / 2)))
        snprintf(out, outlen, "connect timeout after %ld ms", ct);
    else if (tt > 0)
        snprintf(out, outlen, "timeout after %ld ms", tt);
    else
        snprintf(out, outlen, "timeout after %ld ms", elapsed);
}

/* The short, request-free text of a transport failure. */
static void describe_failure(const struct xfer *x, CURLcode code, struct http_response *r)
{
    char sys[96];
    long os_errno = 0;
    if (x->too_large) {
        snprintf(r->error, sizeof r->error, "answer longer than %zu bytes", x->max_body);
        return;
    }
    switch (r->transport) {
    case TRANSPORT_TIMEOUT:
        describe_timeout(x, r->total_s, r->error, sizeof r->error);
        break;
    case TRANSPORT_CONNECT:
        curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &os_errno);
        if (code == CURLE_COULDNT_RESOLVE_HOST)
            snprintf(r->error, sizeof r->error, "connect: could not resolve host");
        else if (os_errno != 0)
            snprintf(r->error, sizeof r->error, "connect: %s",
                     strerror_r((int)os_errno, sys, sizeof sys));
        else
            snprintf(r->error, sizeof r->error, "connect: %.120s", curl_text(x, code));
        break;
    case TRANSPORT_RESET:
        snprintf(r->error, sizeof r->error, "connection broken: %.120s", curl_text(x, code));
        break;
    default:
        snprintf(r->error, sizeof r->error, "transport: %.120s", curl_text(x, code));
        break;
    }
}

static void fill_response(struct xfer *x, CURLcode code, struct http_response *r)
{
    curl_off_t total_us = 0;
    memset(r, 0, sizeof *r);
    r->ctx = x->ctx;
    r->transport = x->too_large ? TRANSPORT_OTHER : map_code(code);
    if (curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME_T, &total_us) == CURLE_OK)
        r->total_s = (double)total_us / 1e6;
    if (r->transport == TRANSPORT_OK) {
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &r->status);
        snprintf(r->retry_after, sizeof r->retry_after, "%s", x->retry_after);
        snprintf(r->retry_after_ms, sizeof r->retry_after_ms, "%s", x->retry_after_ms);
        snprintf(r->reset_requests, sizeof r->reset_requests, "%s", x->reset_requests);
        snprintf(r->max_concurrent, sizeof r->max_concurrent, "%s", x->max_concurrent);
        snprintf(r->content_type, sizeof r->content_type, "%s", x->content_type);
        r->body = x->body;
        x->body = (struct buf){0};
    } else {
        describe_failure(x, code, r);
    }
}

static void finish(struct http_transport *t, struct xfer *x, CURLcode code, http_done_fn done,
                   void *arg)
{
    struct http_response r;
    fill_response(x, code, &r);
    xfer_unlink(t, x);   /* before done: it may start transfers, even on this connection */
    xfer_free(t, x);
    done(arg, &r);
    buf_free(&r.body);
}

/* Delivers every finished transfer. */
static void deliver(struct http_transport *t, http_done_fn done, void *arg)
{
    int left = 0;
    CURLMsg *m;
    while ((m = curl_multi_info_read(t->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURLcode code = m->data.result;   /* m is invalid once the handle is removed */
        char *priv = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
        finish(t, (struct xfer *)(void *)priv, code, done, arg);
    }
}

/* Asks curl for its next timeout. on_timer alone is not enough: curl calls it only when the
 * earliest deadline changes, and a deadline our millisecond clock already counts as due may not
 * be due yet by curl's microsecond one, so after an early timer action curl stays silent and a
 * forgotten timer would stall its transfers until some other event. True when one is set. */
static bool refresh_timer(struct http_transport *t)
{
    long ms = -1;
    if (curl_multi_timeout(t->multi, &ms) != CURLM_OK)
        ms = 0;
    t->timer_due_ms = ms < 0 ? -1 : clock_mono_ms() + ms;
    return ms >= 0;
}

static bool is_extra(const struct http_transport *t, int fd)
{
    for (size_t i = 0; i < t->nextra; i++)
        if (t->extra[i] == fd)
            return true;
    return false;
}

void http_transport_perform(struct http_transport *t, http_done_fn done, void *arg)
{
    int running = 0;
    for (int i = 0; i < t->nready; i++) {
        int fd = t->ready[i].data.fd;
        uint32_t ev = t->ready[i].events;
        if (is_extra(t, fd))
            continue;
        if (t->lite && http_lite_owns(t->lite, fd)) {
            http_lite_event(t->lite, fd, ev);
            continue;
        }
        int mask = ((ev & EPOLLIN) ? CURL_CSELECT_IN : 0) | ((ev & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
                   ((ev & (EPOLLERR | EPOLLHUP)) ? CURL_CSELECT_ERR : 0);
        curl_multi_socket_action(t->multi, fd, mask, &running);
    }
    t->nready = 0;
    deliver(t, done, arg);
    if (t->lite)
        http_lite_perform(t->lite, done, arg);
    /* transfers started by done (and timeouts now due) need curl's timer action: a few rounds
     * here, so a finished job's slot is refilled in the same turn of the loop */
    for (int round = 0; refresh_timer(t) && clock_mono_ms() >= t->timer_due_ms && round < 4; round++) {
        curl_multi_socket_action(t->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        deliver(t, done, arg);
    }
}

/* Puts the caller's fds in the epoll set the first time they are seen. */
static int watch_extra(struct http_transport *t, const int *fds, size_t nfds)
{
    for (size_t i = 0; i < nfds; i++) {
        if (is_extra(t, fds[i]))
            continue;
        if (t->nextra == MAX_EXTRA_FDS)
            return -1;
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fds[i]};
        if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, fds[i], &ev) != 0)
            return -1;
        t->extra[t->nextra++] = fds[i];
    }
    return 0;
}

int http_transport_wait(struct http_transport *t, const int *fds, size_t nfds, int timeout_ms)
{
    if (watch_extra(t, fds, nfds) != 0)
        return -1;
    int64_t due = t->timer_due_ms, lite_due = t->lite ? http_lite_due_ms(t->lite) : -1;
    if (lite_due >= 0 && (due < 0 || lite_due < due))
        due = lite_due;
    if (due >= 0) {
        int64_t left = due - clock_mono_ms();
        if (timeout_ms < 0 || left < timeout_ms)
            timeout_ms = left < 0 ? 0 : (int)left;
    }
    int n = epoll_wait(t->epfd, t->ready, MAX_EVENTS, timeout_ms);
    if (n < 0) {
        t->nready = 0;
        return errno == EINTR ? 0 : -1;
    }
    t->nready = n;
    return n;
}
