/* httpd.c - /health and /metrics over libmicrohttpd; see httpd.h.
 *
 * libmicrohttpd runs its own polling thread, so the consumer's loop needs no hook for it. The
 * handler builds each body in a struct buf and hands the memory to the response (freed by
 * libmicrohttpd after sending), so a scrape allocates once and copies nothing twice.
 *
 * The listen address is parsed here rather than left to getaddrinfo: http.listen accepts only a
 * dotted IPv4 address or "localhost", and a mistyped address must fail at start with a line
 * naming it, not bind somewhere unexpected. */
#include "httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "xalloc.h"

#define HTTPD_CONNECTION_LIMIT 64u  /* scrapers and probes, not the public */
/* One peer cannot hold every connection: a client that opens many and sends nothing (or a
 * byte at a time) keeps at most this many, and the health probe from anywhere else still gets
 * in. A probe or a Prometheus scrape uses one or two. */
#define HTTPD_PER_IP_LIMIT     8u
/* Idle connections (keep-alive, or a request that stalls half-sent) are dropped after this: a
 * scrape's request arrives in one packet, so a short limit costs honest clients nothing. */
#define HTTPD_TIMEOUT_S        3u

struct httpd {
    struct MHD_Daemon *daemon;
    struct metrics    *metrics;     /* borrowed */
    int                port;        /* bound port */
};

/* ---- listen address ------------------------------------------------------------------------ */

/* Parses "HOST:PORT" into `sa`. Returns 0, or -1 with a message naming `listen` in `err`. */
static int httpd_parse_listen(const char *listen, struct sockaddr_in *sa, char *err,
                              size_t errlen)
{
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || !colon[1]) {
        snprintf(err, errlen, "http.listen %s: expected HOST:PORT", listen);
        return -1;
    }
    unsigned long port = 0;
    const char *p = colon + 1;
    for (; *p >= '0' && *p <= '9' && port <= 65535; p++)
        port = port * 10 + (unsigned long)(*p - '0');
    if (*p || port > 65535) {
        snprintf(err, errlen, "http.listen %s: port must be a number from 0 to 65535", listen);
        return -1;
    }
    char host[INET_ADDRSTRLEN];
    size_t hostlen = (size_t)(colon - listen);
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (hostlen < sizeof host) {
        memcpy(host, listen, hostlen);
        host[hostlen] = '\0';
        if (strcmp(host, "localhost") == 0)
            memcpy(host, "127.0.0.1", sizeof "127.0.0.1");
        if (inet_pton(AF_INET, host, &sa->sin_addr) == 1)
            return 0;
    }
    snprintf(err, errlen, "http.listen %s: host must be an IPv4 address or localhost", listen);
    return -1;
}

/* ---- requests ------------------------------------------------------------------------------ */

/* Queues `body` (taken: its memory goes to the response) with `status` and `type`. */
static enum MHD_Result httpd_reply(struct MHD_Connection *conn, unsigned int status,
                                   const char *type, struct buf *body)
{
    size_t len = body->len;
    char *data = buf_steal(body);
    struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback(len, data,
                                                                                   free);
    if (!resp) {
        free(data);
        return MHD_NO;
    }
    enum MHD_Result ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (ok == MHD_YES)
        ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (ok == MHD_YES && status == MHD_HTTP_METHOD_NOT_ALLOWED)
        ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    if (ok == MHD_YES)
        ok = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ok;
}

static enum MHD_Result httpd_text(struct MHD_Connection *conn, unsigned int status,
                                  const char *text)
{
    struct buf body = {0};
    buf_puts(&body, text);
    return httpd_reply(conn, status, "text/plain; charset=utf-8", &body);
}

/* The one access handler. Nothing here reads a request body: every answer is decided by the
 * method and path alone, so it replies on the first call and lets libmicrohttpd discard any
 * body a client sent with a refused method. */
static enum MHD_Result httpd_handle(void *cls, struct MHD_Connection *conn, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_data_size,
                                    void **req_cls)
{
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)req_cls;
    struct httpd *h = cls;
    bool known = strcmp(url, "/metrics") == 0 || strcmp(url, "/health") == 0;
    if (!known)
        return httpd_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return httpd_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");

    struct buf body = {0};
    if (strcmp(url, "/metrics") == 0) {
        metrics_render(h->metrics, &body);
        return httpd_reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", &body);
    }
    enum metrics_status st = metrics_health(h->metrics, &body);
    return httpd_reply(conn, st == METRICS_DOWN ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK,
                       "application/json", &body);
}

/* ---- lifetime ------------------------------------------------------------------------------ */

struct httpd *httpd_start(const char *listen, struct metrics *m, char *err, size_t errlen)
{
    struct sockaddr_in sa;
    if (httpd_parse_listen(listen, &sa, err, errlen) < 0)
        return NULL;
    struct httpd *h = xcalloc(1, sizeof *h);
    h->metrics = m;
    /* libmicrohttpd leaves the failing socket call's errno in place (bind's EADDRINUSE,
     * EADDRNOTAVAIL, ...), which makes the most useful message; 0 means it failed elsewhere. */
    errno = 0;
    h->daemon = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD, 0, NULL, NULL, httpd_handle, h,
                                 MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&sa,
                                 MHD_OPTION_CONNECTION_LIMIT, HTTPD_CONNECTION_LIMIT,
                                 MHD_OPTION_PER_IP_CONNECTION_LIMIT, HTTPD_PER_IP_LIMIT,
                                 MHD_OPTION_CONNECTION_TIMEOUT, HTTPD_TIMEOUT_S,
                                 MHD_OPTION_END);
    if (!h->daemon) {
        snprintf(err, errlen, "http.listen %s: %s", listen,
                 errno ? strerror(errno) : "cannot start the HTTP server");
        free(h);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : ntohs(sa.sin_port);
    return h;
}

int httpd_port(const struct httpd *h)
{
    return h->port;
}

void httpd_stop(struct httpd *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->daemon);
    free(h);
}
