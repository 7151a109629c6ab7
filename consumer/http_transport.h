/* http_transport.h - concurrent HTTP POSTs on one curl multi handle, driven by the caller's loop.
 *
 * Every HTTP provider of a consumer shares one transport, so connections to a provider are kept
 * alive and reused across jobs (one TLS handshake per connection, not per job) and thousands of
 * requests can be in flight on one thread. The transport knows nothing of providers or audio: it
 * sends what it is given, collects the answer (status, body up to a cap, the headers that say
 * how long to wait, Content-Type) and maps curl's failures onto enum transport_result with a short text that never
 * quotes the request (headers carry keys). Redirects are not followed: a provider that answers
 * 3xx is misconfigured, and following would send custom key headers to whatever host the
 * Location names.
 *
 * Two clients behind one interface. A request to a plain `http://` URL whose host is a numeric
 * IPv4 address, a bracketed IPv6 literal or `localhost` goes through http_lite.h, a lean
 * keep-alive HTTP/1.1 client (curl's per-request bookkeeping was the largest CPU cost of the
 * consumer's loop against a local server); everything else (https, host names, unusual URLs)
 * goes through curl. Both give the same answers, results and error texts. Everything goes to
 * curl when the caller asks (the consumer's `consumer.http_client = curl`) or when, as the
 * transport is created, any of http_proxy, HTTP_PROXY, all_proxy or ALL_PROXY is set (curl
 * applies proxies; the lean client does not).
 *
 * Loop:  http_transport_wait() -> http_transport_perform() -> done(arg, response) per transfer. */
#ifndef VOXCAST_HTTP_TRANSPORT_H
#define VOXCAST_HTTP_TRANSPORT_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "classify.h"

#define HTTP_MAX_BODY ((size_t)64 << 20)   /* a longer answer is cut off: TRANSPORT_OTHER */

struct http_transport;

struct http_request {
    const char              *url;
    const struct curl_slist *headers;            /* copied; may be NULL */
    const char              *body;               /* POST body, copied; may be NULL when 0 bytes */
    size_t                   body_len;
    long                     timeout_ms;         /* whole transfer; <= 0: none */
    long                     connect_timeout_ms; /* <= 0: curl's default */
    size_t                   max_body;           /* 0: HTTP_MAX_BODY */
};

struct http_response {
    void                 *ctx;              /* as given to http_transport_post() */
    enum transport_result transport;        /* TRANSPORT_OK when an HTTP answer arrived */
    long                  status;           /* 0 without an answer */
    double                total_s;          /* curl's total time */
    char                  error[160];       /* for transport failures, e.g. "timeout after 200 ms";
                                               "" when transport is TRANSPORT_OK */
    char                  retry_after[64];  /* Retry-After value of the final answer, or "" */
    char                  retry_after_ms[32]; /* retry-after-ms (OpenAI), or "" */
    char                  reset_requests[32]; /* x-ratelimit-reset-requests (OpenAI), or "" */
    char                  max_concurrent[16]; /* maximum-concurrent-requests (ElevenLabs), or "" */
    char                  content_type[96]; /* Content-Type of the final answer, or "" */
    struct buf            body;             /* owned; the done callback may take it */
};

/* Called once per finished transfer. resp and its body are freed after it returns unless the
 * callback takes the body (swaps it out, leaving body.data NULL). */
typedef void (*http_done_fn)(void *arg, struct http_response *resp);
/* Called by http_transport_free() for the ctx of each transfer it abandons. */
typedef void (*http_drop_fn)(void *ctx);

/* Frees a header list after overwriting every header with zeros: lists hold the provider's
 * Authorization / xi-api-key header, which must not linger in freed memory. NULL-safe. */
void http_headers_free(struct curl_slist *headers);

/* A transport with no transfers, keeping up to max_idle connections open between requests
 * (<= 0: curl's default, four per transfer in progress, which closes connections whenever the
 * load dips and reopens them - a TLS handshake each - when it rises again; the lean client then
 * keeps every connection it opened); curl_only sends every request through curl. NULL + err
 * when curl cannot set up a multi handle. Initialises libcurl once per process (never cleaned
 * up: other threads may still use it). */
struct http_transport *http_transport_new(long max_idle, bool curl_only, char *err, size_t errlen);

/* Abandons every transfer without calling done (drop(ctx) for each, when drop is not NULL),
 * closes the connections and frees t. NULL-safe. */
void http_transport_free(struct http_transport *t, http_drop_fn drop);

/* Starts a POST of req; ctx comes back in the response. The request, its headers and body are
 * copied, so they may be freed on return. 0, or -1 + err when curl refuses (ctx not kept). */
int http_transport_post(struct http_transport *t, const struct http_request *req, void *ctx,
                        char *err, size_t errlen);

/* Moves every transfer on as far as it can without blocking and calls done for each that
 * finished. done may start new transfers. */
void http_transport_perform(struct http_transport *t, http_done_fn done, void *arg);

/* Blocks until transfer activity, one of fds[0..nfds) readable, or timeout_ms (< 0: no limit;
 * shortened to the transfers' next timeout). Returns the number of fds (curl's and the extra ones)
 * with activity (0 when a signal interrupted the wait), or -1 on an error. The extra fds are
 * added to the transport's epoll set when first seen and stay there: they must stay open as long
 * as the transport (at most 8). */
int http_transport_wait(struct http_transport *t, const int *fds, size_t nfds, int timeout_ms);

/* Transfers started and not yet delivered or dropped. */
size_t http_transport_active(const struct http_transport *t);

#endif
