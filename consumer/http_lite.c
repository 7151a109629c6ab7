/* http_lite.c - keep-alive HTTP/1.1 POSTs on non-blocking sockets; see http_lite.h.
 *
 * A transfer (struct xfer) owns its formatted request and its parser state and is recycled
 * through a spare list, so a request on a pooled connection allocates nothing but the body it
 * hands to the caller. A connection (struct conn) owns its receive buffer, kept across requests.
 * Sockets stay registered for EPOLLIN|EPOLLRDHUP from connect to close; EPOLLOUT is added only
 * while connecting or while a request did not fit in one send(), so a request on a pooled
 * connection costs one send() and usually one recv(), and no epoll_ctl(). Deadlines are checked
 * by a scan of the running transfers, done only when the earliest known deadline has passed. */
#include "http_lite.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "xalloc.h"

#define USER_AGENT          "voxcast-consumer"
#define DEFAULT_CONNECT_MS  300000L        /* curl's connect timeout when none is set */
#define MAX_LINE            (100 * 1024)   /* a longer status or header line is malformed */
#define READ_ROOM           16384          /* bytes asked of each recv() */
#define MAX_SPARE           1024           /* transfers kept for reuse */
#define NO_DEADLINE         INT64_MAX
#define KEEPALIVE_S         60             /* curl's keep-alive probe idle time and interval */
#define RESERVE_MAX         ((size_t)4 << 20)   /* body bytes reserved from Content-Length */
#define EV_READ             (EPOLLIN | EPOLLRDHUP)

enum phase {
    PH_STATUS,      /* expecting a status line */
    PH_HEADERS,     /* header lines until the blank one */
    PH_LENGTH,      /* body bytes up to Content-Length */
    PH_CHUNK_SIZE,  /* a chunk-size line */
    PH_CHUNK_DATA,  /* chunk bytes */
    PH_CHUNK_END,   /* the CRLF after a chunk's bytes */
    PH_TRAILERS,    /* trailer lines until the blank one */
    PH_CLOSE        /* body bytes until the server closes */
};

struct origin {
    struct origin          *next;
    char                    host[64];        /* as the URL writes it; brackets kept for IPv6 */
    unsigned                port;
    struct sockaddr_storage addr[2];         /* localhost: 127.0.0.1, then ::1 */
    socklen_t               addrlen[2];
    int                     naddr;
    struct conn            *idle;            /* most recently used first */
};

struct conn {
    struct conn   *prev_idle, *next_idle;
    struct origin *o;
    struct xfer   *x;                        /* NULL while idle */
    int            fd, addr_i;
    uint32_t       events;                   /* what epoll watches */
    bool           connecting, reused, pooled;
    struct buf     in;                       /* received, not yet parsed: in.data[in_off..len) */
    size_t         in_off;
};

struct xfer {
    struct xfer          *prev, *next;       /* running list; next also links queue and spares */
    struct conn          *c;
    struct origin        *o;
    void                 *ctx;
    struct buf            req;
    size_t                sent, max_body;
    long                  timeout_ms, connect_timeout_ms;
    int64_t               start_us, end_us, due_us, connect_due_us;
    bool                  retried, got_bytes;
    enum phase            phase;
    int                   minor;             /* HTTP/1.<minor> of the answer */
    long                  status;
    bool                  chunked, has_length, close, keep_alive;
    uint64_t              left;              /* body or chunk bytes still to come */
    enum transport_result result;
    char                  error[160];
    char                  retry_after[64];
    char                  retry_after_ms[32];
    char                  reset_requests[32];
    char                  max_concurrent[16];
    char                  content_type[96];
    struct buf            body;
};

struct http_lite {
    int            epfd;
    long           max_idle;
    size_t         nidle;
    struct origin *origins;
    struct xfer   *head;                     /* running */
    struct xfer   *qhead, *qtail;            /* finished, waiting for http_lite_perform() */
    size_t         active;                   /* running + queued */
    struct xfer   *spare;
    size_t         nspare;
    struct conn  **byfd;                     /* fd -> connection */
    size_t         nbyfd;
    int64_t        due_us;                   /* no running deadline is earlier */
};

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- URLs ---- */

struct lite_url {
    const char *host;     /* as written, brackets included */
    size_t      hostlen;
    unsigned    port;
    const char *path;     /* "" for none: "/" is sent */
};

static bool parse_host(const char *p, size_t n, struct sockaddr_storage *ss)
{
    char tmp[64];
    if (n == 0 || n >= sizeof tmp)
        return false;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    memset(ss, 0, sizeof *ss);
    if (tmp[0] == '[') {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        if (n < 3 || tmp[n - 1] != ']')
            return false;
        tmp[n - 1] = '\0';   /* a zone ("%eth0") fails inet_pton: curl handles those */
        s6->sin6_family = AF_INET6;
        return inet_pton(AF_INET6, tmp + 1, &s6->sin6_addr) == 1;
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    s4->sin_family = AF_INET;
    if (strcasecmp(tmp, "localhost") == 0)
        return inet_pton(AF_INET, "127.0.0.1", &s4->sin_addr) == 1;
    return inet_pton(AF_INET, tmp, &s4->sin_addr) == 1;   /* dotted quads only */
}

/* A path curl would send as it is: printable ASCII, no fragment, no dot segment to resolve. */
static bool plain_path(const char *p)
{
    for (const char *s = p; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || *s == '#')
            return false;
    return strstr(p, "/.") == NULL;
}

static bool parse_url(const char *url, struct lite_url *u, struct sockaddr_storage *ss)
{
    if (!url || strncmp(url, "http://", 7) != 0)
        return false;
    const char *p = url + 7;
    size_t n = p[0] == '[' ? strcspn(p, "]") + 1 : strcspn(p, ":/?#@");
    if (!parse_host(p, n, ss))
        return false;
    u->host = p;
    u->hostlen = n;
    p += n;
    u->port = 80;
    if (*p == ':') {
        unsigned long port = 0;
        size_t digits = 0;
        for (p++; *p >= '0' && *p <= '9' && digits < 6; p++, digits++)
            port = port * 10 + (unsigned long)(*p - '0');
        if (digits == 0 || port == 0 || port > 65535)
            return false;
        u->port = (unsigned)port;
    }
    if (*p != '\0' && *p != '/')
        return false;   /* userinfo, a bare query, anything unusual: curl */
    u->path = p;
    return plain_path(p);
}

bool http_lite_url_ok(const char *url)
{
    struct lite_url u;
    struct sockaddr_storage ss;
    return parse_url(url, &u, &ss);
}

static void set_port(struct sockaddr_storage *ss, socklen_t *len, unsigned port)
{
    if (ss->ss_family == AF_INET6) {
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
        *len = sizeof(struct sockaddr_in6);
    } else {
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
        *len = sizeof(struct sockaddr_in);
    }
}

static struct origin *origin_get(struct http_lite *l, const struct lite_url *u,
                                 const struct sockaddr_storage *ss)
{
    for (struct origin *o = l->origins; o; o = o->next)
        if (o->port == u->port && strlen(o->host) == u->hostlen &&
            memcmp(o->host, u->host, u->hostlen) == 0)
            return o;
    struct origin *o = xcalloc(1, sizeof *o);
    memcpy(o->host, u->host, u->hostlen);
    o->port = u->port;
    o->addr[0] = *ss;
    o->naddr = 1;
    if (u->hostlen == 9 && strncasecmp(u->host, "localhost", 9) == 0) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&o->addr[1];
        s6->sin6_family = AF_INET6;
        s6->sin6_addr = in6addr_loopback;
        o->naddr = 2;
    }
    for (int i = 0; i < o->naddr; i++)
        set_port(&o->addr[i], &o->addrlen[i], o->port);
    o->next = l->origins;
    l->origins = o;
    return o;
}

/* ---- the request ---- */

static void put_uint(struct buf *b, uint64_t v)
{
    char tmp[24];
    size_t n = sizeof tmp;
    do {
        tmp[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    buf_append(b, tmp + n, sizeof tmp - n);
}

static bool header_named(const char *h, const char *name)
{
    size_t n = strlen(name);
    return strncasecmp(h, name, n) == 0 && h[n] == ':';
}

/* "Name:" with nothing after the colon: curl's way to say "do not send this header". */
static bool header_removes(const char *h)
{
    const char *colon = strchr(h, ':');
    if (!colon)
        return false;
    for (const char *s = colon + 1; *s; s++)
        if (*s != ' ' && *s != '\t')
            return false;
    return true;
}

struct own_headers {
    bool host, user_agent, accept, content_type;
};

static void put_headers(struct buf *b, const struct curl_slist *headers)
{
    for (const struct curl_slist *h = headers; h; h = h->next) {
        const char *s = h->data;
        if (header_removes(s) || header_named(s, "Content-Length"))
            continue;
        size_t n = strlen(s);
        if (!strchr(s, ':') && n > 0 && s[n - 1] == ';') {   /* "Name;": an empty header */
            buf_append(b, s, n - 1);
            buf_puts(b, ":\r\n");
        } else {
            buf_append(b, s, n);
            buf_puts(b, "\r\n");
        }
    }
}

/* The bytes curl sends for the same POST: defaults first (each dropped when the caller sets
 * its own), the caller's headers in order, then the length and curl's default Content-Type. */
static void format_request(struct xfer *x, const struct lite_url *u, const struct http_request *req)
{
    struct own_headers own = {0};
    for (const struct curl_slist *h = req->headers; h; h = h->next) {
        own.host = own.host || header_named(h->data, "Host");
        own.user_agent = own.user_agent || header_named(h->data, "User-Agent");
        own.accept = own.accept || header_named(h->data, "Accept");
        own.content_type = own.content_type || header_named(h->data, "Content-Type");
    }
    struct buf *b = &x->req;
    buf_reset(b);
    buf_reserve(b, 256 + req->body_len);
    buf_puts(b, "POST ");
    buf_puts(b, u->path[0] ? u->path : "/");
    buf_puts(b, " HTTP/1.1\r\n");
    if (!own.host) {
        buf_puts(b, "Host: ");
        buf_append(b, u->host, u->hostlen);
        if (u->port != 80) {
            buf_putc(b, ':');
            put_uint(b, u->port);
        }
        buf_puts(b, "\r\n");
    }
    if (!own.user_agent)
        buf_puts(b, "User-Agent: " USER_AGENT "\r\n");
    if (!own.accept)
        buf_puts(b, "Accept: */*\r\n");
    put_headers(b, req->headers);
    buf_puts(b, "Content-Length: ");
    put_uint(b, req->body_len);
    buf_puts(b, "\r\n");
    if (!own.content_type)
        buf_puts(b, "Content-Type: application/x-www-form-urlencoded\r\n");
    buf_puts(b, "\r\n");
    if (req->body_len > 0)
        buf_append(b, req->body, req->body_len);
}

/* ---- connections ---- */

static void set_events(struct http_lite *l, struct conn *c, uint32_t ev)
{
    if (c->events == ev)
        return;
    struct epoll_event e = {.events = ev, .data.fd = c->fd};
    epoll_ctl(l->epfd, EPOLL_CTL_MOD, c->fd, &e);   /* fails only for a closed fd: not ours */
    c->events = ev;
}

static void idle_unlink(struct http_lite *l, struct conn *c)
{
    if (c->prev_idle)
        c->prev_idle->next_idle = c->next_idle;
    else
        c->o->idle = c->next_idle;
    if (c->next_idle)
        c->next_idle->prev_idle = c->prev_idle;
    c->prev_idle = c->next_idle = NULL;
    c->pooled = false;
    l->nidle--;
}

static void conn_close(struct http_lite *l, struct conn *c)
{
    if (c->pooled)
        idle_unlink(l, c);
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    l->byfd[c->fd] = NULL;
    buf_free(&c->in);
    free(c);
}

static void pool_put(struct http_lite *l, struct conn *c)
{
    c->x = NULL;
    c->reused = true;
    c->in.len = 0;
    c->in_off = 0;
    if (l->max_idle > 0 && l->nidle >= (size_t)l->max_idle) {
        conn_close(l, c);
        return;
    }
    c->pooled = true;
    c->prev_idle = NULL;
    c->next_idle = c->o->idle;
    if (c->o->idle)
        c->o->idle->prev_idle = c;
    c->o->idle = c;
    l->nidle++;
}

/* ---- finishing ---- */

static void running_unlink(struct http_lite *l, struct xfer *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        l->head = x->next;
    if (x->next)
        x->next->prev = x->prev;
    x->prev = x->next = NULL;
}

/* Takes x off its connection (kept for the next request, or closed) and queues it. */
static void xfer_finish(struct http_lite *l, struct xfer *x, bool keep)
{
    struct conn *c = x->c;
    x->c = NULL;
    if (c) {
        c->x = NULL;
        if (keep)
            pool_put(l, c);
        else
            conn_close(l, c);
    }
    x->end_us = now_us();
    running_unlink(l, x);
    if (l->qtail)
        l->qtail->next = x;
    else
        l->qhead = x;
    l->qtail = x;
}

static void xfer_fail(struct http_lite *l, struct xfer *x, enum transport_result result,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void xfer_fail(struct http_lite *l, struct xfer *x, enum transport_result result,
                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->error, sizeof x->error, fmt, ap);
    va_end(ap);
    x->result = result;
    x->status = 0;
    buf_free(&x->body);
    xfer_finish(l, x, false);
}

static void xfer_too_large(struct http_lite *l, struct xfer *x)
{
    xfer_fail(l, x, TRANSPORT_OTHER, "answer longer than %zu bytes", x->max_body);
}

/* A complete answer. The connection is kept when the server allows it, the whole request went
 * out and nothing follows the answer. */
static int xfer_ok(struct http_lite *l, struct xfer *x)
{
    struct conn *c = x->c;
    bool keep = !x->close && c->in_off == c->in.len && x->sent == x->req.len;
    x->result = TRANSPORT_OK;
    x->error[0] = '\0';
    xfer_finish(l, x, keep);
    return 1;
}

static void reset_answer(struct xfer *x)
{
    x->phase = PH_STATUS;
    x->got_bytes = false;
    x->sent = 0;
    x->status = 0;
    x->left = 0;
    x->body.len = 0;
}

static void conn_open(struct http_lite *l, struct xfer *x, int addr_i);

static int64_t xfer_due(const struct xfer *x)
{
    if (x->c && x->c->connecting && x->connect_due_us < x->due_us)
        return x->connect_due_us;
    return x->due_us;
}

/* The connection broke (err 0: the server closed it). A reused connection that breaks before
 * the answer's first byte was closed by the server while idle: the request goes again, once, on
 * a new connection. */
static void broken(struct http_lite *l, struct conn *c, int err, const char *what)
{
    struct xfer *x = c->x;
    char sys[96];
    if (c->reused && !x->got_bytes && !x->retried && (err == 0 || err == ECONNRESET || err == EPIPE)) {
        x->retried = true;
        x->c = NULL;
        c->x = NULL;
        conn_close(l, c);
        reset_answer(x);
        conn_open(l, x, 0);
        return;
    }
    if (err != 0)
        xfer_fail(l, x, TRANSPORT_RESET, "connection broken: %s failure: %s", what,
                  strerror_r(err, sys, sizeof sys));
    else if (!x->got_bytes)
        xfer_fail(l, x, TRANSPORT_RESET, "connection broken: Empty reply from server");
    else if (x->phase == PH_LENGTH)
        xfer_fail(l, x, TRANSPORT_RESET, "connection broken: transfer closed with %llu bytes "
                  "remaining to read", (unsigned long long)x->left);
    else
        xfer_fail(l, x, TRANSPORT_RESET, "connection broken: transfer closed with outstanding "
                  "read data remaining");
}

/* ---- sending ---- */

/* Sends what is left of the request. -1 when the connection broke (x moved on). */
static int send_some(struct http_lite *l, struct conn *c)
{
    struct xfer *x = c->x;
    while (x->sent < x->req.len) {
        ssize_t n = send(c->fd, x->req.data + x->sent, x->req.len - x->sent, MSG_NOSIGNAL);
        if (n > 0) {
            x->sent += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_events(l, c, EV_READ | EPOLLOUT);
            return 0;
        } else {
            broken(l, c, n < 0 ? errno : EPIPE, "Send");
            return -1;
        }
    }
    set_events(l, c, EV_READ);
    return 0;
}

/* ---- connecting ---- */

static void tune_socket(int fd)
{
    int one = 1, idle = KEEPALIVE_S;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);   /* best effort, as curl */
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &idle, sizeof idle);
}

static void fd_register(struct http_lite *l, struct conn *c)
{
    size_t fd = (size_t)c->fd;
    if (fd >= l->nbyfd) {
        size_t n = l->nbyfd ? l->nbyfd : 64;
        while (n <= fd)
            n *= 2;
        l->byfd = xrealloc(l->byfd, n * sizeof *l->byfd);
        memset(l->byfd + l->nbyfd, 0, (n - l->nbyfd) * sizeof *l->byfd);
        l->nbyfd = n;
    }
    l->byfd[fd] = c;
}

/* A failed connect tries the origin's next address (localhost's ::1), else fails x. */
static void connect_failed(struct http_lite *l, struct conn *c, int err)
{
    struct xfer *x = c->x;
    int next = c->addr_i + 1;
    char sys[96];
    x->c = NULL;
    c->x = NULL;
    conn_close(l, c);
    if (next < x->o->naddr) {
        conn_open(l, x, next);
        return;
    }
    xfer_fail(l, x, TRANSPORT_CONNECT, "connect: %s", strerror_r(err, sys, sizeof sys));
}

static void conn_open(struct http_lite *l, struct xfer *x, int addr_i)
{
    struct origin *o = x->o;
    char sys[96];
    int fd = socket(o->addr[addr_i].ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        xfer_fail(l, x, TRANSPORT_CONNECT, "connect: %s", strerror_r(errno, sys, sizeof sys));
        return;
    }
    tune_socket(fd);
    struct conn *c = xcalloc(1, sizeof *c);
    c->fd = fd;
    c->o = o;
    c->addr_i = addr_i;
    c->x = x;
    x->c = c;
    fd_register(l, c);
    int rc = connect(fd, (const struct sockaddr *)&o->addr[addr_i], o->addrlen[addr_i]);
    int err = rc == 0 ? 0 : errno;
    c->connecting = rc != 0 && err == EINPROGRESS;
    c->events = c->connecting ? EPOLLOUT : EV_READ;
    if (xfer_due(x) < l->due_us)
        l->due_us = xfer_due(x);
    struct epoll_event ev = {.events = c->events, .data.fd = fd};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        int e = errno;
        x->c = NULL;
        c->x = NULL;
        conn_close(l, c);
        xfer_fail(l, x, TRANSPORT_OTHER, "transport: epoll: %s", strerror_r(e, sys, sizeof sys));
        return;
    }
    if (rc != 0 && !c->connecting)
        connect_failed(l, c, err);
    else if (!c->connecting)
        send_some(l, c);
}

static void on_connect(struct http_lite *l, struct conn *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err != 0) {
        connect_failed(l, c, err);
        return;
    }
    c->connecting = false;
    send_some(l, c);
}

/* ---- parsing the answer ---- */

static bool name_is(const char *name, size_t n, const char *want)
{
    return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

static void copy_value(char *out, size_t outlen, const char *v, size_t n)
{
    snprintf(out, outlen, "%.*s", (int)n, v);
}

static bool has_token(const char *v, size_t n, const char *token)
{
    size_t tl = strlen(token);
    for (size_t i = 0; i + tl <= n; i++)
        if (strncasecmp(v + i, token, tl) == 0)
            return true;
    return false;
}

static bool parse_length(const char *v, size_t n, uint64_t *out)
{
    uint64_t len = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9' || len > (UINT64_MAX - 9) / 10)
            return false;
        len = len * 10 + (uint64_t)(v[i] - '0');
    }
    *out = len;
    return true;
}

/* One header of the answer. -1 after failing x (a Content-Length that is not one number). */
static int on_header(struct http_lite *l, struct xfer *x, const char *line, size_t n)
{
    const char *colon = memchr(line, ':', n);
    if (!colon) {
        xfer_fail(l, x, TRANSPORT_OTHER, "transport: malformed header line in the answer");
        return -1;
    }
    size_t nl = (size_t)(colon - line);
    const char *v = colon + 1, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t vn = (size_t)(end - v);
    uint64_t len;
    if (name_is(line, nl, "Content-Length")) {
        if (!parse_length(v, vn, &len) || (x->has_length && len != x->left)) {
            xfer_fail(l, x, TRANSPORT_OTHER, "transport: invalid Content-Length in the answer");
            return -1;
        }
        x->has_length = true;
        x->left = len;
    } else if (name_is(line, nl, "Transfer-Encoding")) {
        x->chunked = x->chunked || has_token(v, vn, "chunked");
    } else if (name_is(line, nl, "Connection")) {
        x->close = x->close || has_token(v, vn, "close");
        x->keep_alive = x->keep_alive || has_token(v, vn, "keep-alive");
    } else if (name_is(line, nl, "Retry-After")) {
        copy_value(x->retry_after, sizeof x->retry_after, v, vn);
    } else if (name_is(line, nl, "retry-after-ms")) {
        copy_value(x->retry_after_ms, sizeof x->retry_after_ms, v, vn);
    } else if (name_is(line, nl, "x-ratelimit-reset-requests")) {
        copy_value(x->reset_requests, sizeof x->reset_requests, v, vn);
    } else if (name_is(line, nl, "maximum-concurrent-requests")) {
        copy_value(x->max_concurrent, sizeof x->max_concurrent, v, vn);
    } else if (name_is(line, nl, "Content-Type")) {
        copy_value(x->content_type, sizeof x->content_type, v, vn);
    }
    return 0;
}

/* "HTTP/1.x NNN[ reason]": starts a new answer, forgetting what an interim one said. */
static int on_status(struct http_lite *l, struct xfer *x, const char *line, size_t n)
{
    if (n < 12 || strncmp(line, "HTTP/1.", 7) != 0 || (line[7] != '0' && line[7] != '1') ||
        line[8] != ' ' || line[9] < '1' || line[9] > '5' || line[10] < '0' || line[10] > '9' ||
        line[11] < '0' || line[11] > '9' || (n > 12 && line[12] != ' ')) {
        xfer_fail(l, x, TRANSPORT_OTHER, "transport: malformed status line in the answer");
        return 1;
    }
    x->minor = line[7] - '0';
    x->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    x->chunked = x->has_length = x->close = x->keep_alive = false;
    x->left = 0;
    x->retry_after[0] = x->retry_after_ms[0] = x->reset_requests[0] = '\0';
    x->max_concurrent[0] = x->content_type[0] = '\0';
    x->phase = PH_HEADERS;
    return 0;
}

/* The blank line after the headers: an interim answer (1xx) is skipped; a final one says how
 * its body is delimited. 1 when x finished. */
static int on_head_end(struct http_lite *l, struct xfer *x)
{
    if (x->status < 200) {
        x->phase = PH_STATUS;
        return 0;
    }
    if (x->minor == 0 && !x->keep_alive)
        x->close = true;
    if (x->status == 204 || x->status == 304)
        return xfer_ok(l, x);
    if (x->chunked) {
        x->phase = PH_CHUNK_SIZE;
        return 0;
    }
    if (!x->has_length) {
        x->close = true;
        x->phase = PH_CLOSE;
        return 0;
    }
    if (x->left > x->max_body) {
        xfer_too_large(l, x);
        return 1;
    }
    if (x->left == 0)
        return xfer_ok(l, x);
    buf_reserve(&x->body, x->left < RESERVE_MAX ? (size_t)x->left : RESERVE_MAX);
    x->phase = PH_LENGTH;
    return 0;
}

static int bad_chunk(struct http_lite *l, struct xfer *x)
{
    xfer_fail(l, x, TRANSPORT_RESET, "connection broken: Malformed encoding found in chunked-encoding");
    return 1;
}

/* "<hex>[;ext][ ]": a chunk's size; 0 ends the body (trailers follow). */
static int on_chunk_size(struct http_lite *l, struct xfer *x, const char *line, size_t n)
{
    uint64_t size = 0;
    size_t i = 0;
    for (; i < n && i < 16; i++) {
        char ch = line[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
              : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
        if (d < 0)
            break;
        size = size * 16 + (uint64_t)d;
    }
    if (i == 0 || (i < n && line[i] != ';' && line[i] != ' ' && line[i] != '\t'))
        return bad_chunk(l, x);
    if (size == 0) {
        x->phase = PH_TRAILERS;
        return 0;
    }
    if (size > x->max_body - x->body.len) {
        xfer_too_large(l, x);
        return 1;
    }
    x->left = size;
    x->phase = PH_CHUNK_DATA;
    return 0;
}

/* One line (without its CRLF) in a line-oriented phase. 1 when x finished. */
static int on_line(struct http_lite *l, struct xfer *x, const char *line, size_t n)
{
    switch (x->phase) {
    case PH_STATUS:
        return on_status(l, x, line, n);
    case PH_HEADERS:
        if (n == 0)
            return on_head_end(l, x);
        if (line[0] == ' ' || line[0] == '\t')
            return 0;   /* an obsolete folded continuation: none of ours */
        return on_header(l, x, line, n) != 0;
    case PH_CHUNK_SIZE:
        return on_chunk_size(l, x, line, n);
    case PH_CHUNK_END:
        if (n != 0)
            return bad_chunk(l, x);
        x->phase = PH_CHUNK_SIZE;
        return 0;
    case PH_TRAILERS:
        return n == 0 ? xfer_ok(l, x) : 0;
    default:
        return 0;
    }
}

/* Body bytes from p[0..avail). 1 when x finished. */
static int on_body(struct http_lite *l, struct xfer *x, const char *p, size_t avail, size_t *used)
{
    size_t take = x->phase == PH_CLOSE || avail < x->left ? avail : (size_t)x->left;
    if (take > x->max_body - x->body.len) {
        xfer_too_large(l, x);
        return 1;
    }
    buf_append(&x->body, p, take);
    *used = take;
    if (x->phase == PH_CLOSE)
        return 0;
    x->left -= take;
    if (x->left > 0)
        return 0;
    if (x->phase == PH_LENGTH)
        return 2;   /* complete; the caller checks for bytes after it */
    x->phase = PH_CHUNK_END;
    return 0;
}

static void compact(struct conn *c)
{
    if (c->in_off == c->in.len) {
        c->in.len = 0;
    } else if (c->in_off > 0) {
        memmove(c->in.data, c->in.data + c->in_off, c->in.len - c->in_off);
        c->in.len -= c->in_off;
    }
    c->in_off = 0;
}

/* Parses what c received. 1 when its transfer finished (c may be gone), 0 for more bytes. */
static int parse(struct http_lite *l, struct conn *c)
{
    struct xfer *x = c->x;
    for (;;) {
        const char *p = c->in.data + c->in_off;
        size_t avail = c->in.len - c->in_off;
        if (x->phase == PH_LENGTH || x->phase == PH_CHUNK_DATA || x->phase == PH_CLOSE) {
            size_t used = 0;
            if (avail == 0)
                break;
            int r = on_body(l, x, p, avail, &used);
            if (r == 1)
                return 1;
            c->in_off += used;
            if (r == 2)
                return xfer_ok(l, x);
            continue;
        }
        const char *nl = memchr(p, '\n', avail);
        if (!nl) {
            if (avail <= MAX_LINE)
                break;
            xfer_fail(l, x, TRANSPORT_OTHER, "transport: header line too long in the answer");
            return 1;
        }
        size_t n = (size_t)(nl - p);
        c->in_off += n + 1;
        if (n > 0 && p[n - 1] == '\r')
            n--;
        if (on_line(l, x, p, n))
            return 1;
    }
    compact(c);
    return 0;
}

/* Reads what arrived; parses it, or handles the server's close. */
static void on_readable(struct http_lite *l, struct conn *c)
{
    for (;;) {
        struct xfer *x = c->x;
        buf_reserve(&c->in, READ_ROOM);
        size_t room = c->in.cap - c->in.len - 1;
        ssize_t n = recv(c->fd, c->in.data + c->in.len, room, 0);
        if (n > 0) {
            x->got_bytes = true;
            c->in.len += (size_t)n;
            c->in.data[c->in.len] = '\0';
            if (parse(l, c) != 0 || (size_t)n < room)
                return;   /* finished, or drained: level-triggered epoll calls again */
        } else if (n == 0) {
            if (x->phase == PH_CLOSE)
                xfer_ok(l, x);   /* close is set: the connection goes */
            else
                broken(l, c, 0, NULL);
            return;
        } else if (errno == EINTR) {
            continue;
        } else {
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                broken(l, c, errno, "Recv");
            return;
        }
    }
}

bool http_lite_owns(const struct http_lite *l, int fd)
{
    return fd >= 0 && (size_t)fd < l->nbyfd && l->byfd[fd] != NULL;
}

void http_lite_event(struct http_lite *l, int fd, uint32_t events)
{
    if (!http_lite_owns(l, fd))
        return;
    struct conn *c = l->byfd[fd];
    if (!c->x) {   /* idle and readable: the server closed it (or sent what nobody asked for) */
        conn_close(l, c);
        return;
    }
    if (c->connecting) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            on_connect(l, c);
        return;
    }
    if ((events & EPOLLOUT) && c->x->sent < c->x->req.len && send_some(l, c) != 0)
        return;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        on_readable(l, c);
}

/* ---- lifecycle ---- */

struct http_lite *http_lite_new(int epfd, long max_idle)
{
    struct http_lite *l = xcalloc(1, sizeof *l);
    l->epfd = epfd;
    l->max_idle = max_idle;
    l->due_us = NO_DEADLINE;
    return l;
}

static void xfer_release(struct xfer *x)
{
    if (x->req.data)
        explicit_bzero(x->req.data, x->req.len);   /* it carried the provider's key */
    buf_free(&x->req);
    buf_free(&x->body);
    free(x);
}

/* Keeps x (and its request buffer) for the next transfer. */
static void xfer_recycle(struct http_lite *l, struct xfer *x)
{
    if (l->nspare >= MAX_SPARE) {
        xfer_release(x);
        return;
    }
    buf_free(&x->body);
    if (x->req.data)
        explicit_bzero(x->req.data, x->req.len);   /* it carried the provider's key */
    x->next = l->spare;
    l->spare = x;
    l->nspare++;
}

void http_lite_free(struct http_lite *l, http_drop_fn drop)
{
    if (!l)
        return;
    while (l->head) {
        struct xfer *x = l->head;
        xfer_finish(l, x, false);   /* closes its connection, queues x */
    }
    while (l->qhead) {
        struct xfer *x = l->qhead;
        l->qhead = x->next;
        if (drop)
            drop(x->ctx);
        xfer_recycle(l, x);
    }
    for (struct origin *o = l->origins, *next; o; o = next) {
        next = o->next;
        while (o->idle)
            conn_close(l, o->idle);
        free(o);
    }
    while (l->spare) {
        struct xfer *x = l->spare;
        l->spare = x->next;
        xfer_release(x);
    }
    free(l->byfd);
    free(l);
}

size_t http_lite_active(const struct http_lite *l)
{
    return l ? l->active : 0;
}

int http_lite_post(struct http_lite *l, const struct http_request *req, void *ctx)
{
    struct lite_url u;
    struct sockaddr_storage ss;
    if (!parse_url(req->url, &u, &ss))
        return HTTP_LITE_DECLINED;
    struct xfer *x = l->spare;
    if (x) {
        l->spare = x->next;
        l->nspare--;
        struct buf keep = x->req;
        memset(x, 0, sizeof *x);
        x->req = keep;
    } else {
        x = xcalloc(1, sizeof *x);
    }
    x->o = origin_get(l, &u, &ss);
    x->ctx = ctx;
    x->max_body = req->max_body ? req->max_body : HTTP_MAX_BODY;
    x->timeout_ms = req->timeout_ms;
    x->connect_timeout_ms = req->connect_timeout_ms;
    x->start_us = now_us();
    x->due_us = req->timeout_ms > 0 ? x->start_us + (int64_t)req->timeout_ms * 1000 : NO_DEADLINE;
    x->connect_due_us = x->start_us +
        (int64_t)(req->connect_timeout_ms > 0 ? req->connect_timeout_ms : DEFAULT_CONNECT_MS) * 1000;
    format_request(x, &u, req);
    x->next = l->head;
    if (l->head)
        l->head->prev = x;
    l->head = x;
    l->active++;
    struct conn *c = x->o->idle;
    if (c) {
        idle_unlink(l, c);
        c->x = x;
        x->c = c;
        if (x->due_us < l->due_us)
            l->due_us = x->due_us;
        send_some(l, c);
        return 0;
    }
    conn_open(l, x, 0);
    return 0;
}

/* ---- deadlines and delivery ---- */

static void time_out(struct http_lite *l, struct xfer *x)
{
    long elapsed = (long)((now_us() - x->start_us) / 1000);
    bool connecting = x->c && x->c->connecting && x->connect_due_us <= x->due_us;
    if (connecting && x->connect_timeout_ms > 0)
        xfer_fail(l, x, TRANSPORT_TIMEOUT, "connect timeout after %ld ms", x->connect_timeout_ms);
    else if (x->timeout_ms > 0)   /* as the curl path words it without a connect timeout */
        xfer_fail(l, x, TRANSPORT_TIMEOUT, "timeout after %ld ms", x->timeout_ms);
    else
        xfer_fail(l, x, TRANSPORT_TIMEOUT, "timeout after %ld ms", elapsed);
}

static void expire(struct http_lite *l, int64_t now)
{
    int64_t next = NO_DEADLINE;
    for (struct xfer *x = l->head, *after; x; x = after) {
        after = x->next;
        int64_t due = xfer_due(x);
        if (due <= now)
            time_out(l, x);
        else if (due < next)
            next = due;
    }
    l->due_us = next;
}

static void fill_response(const struct xfer *x, struct http_response *r)
{
    memset(r, 0, sizeof *r);
    r->ctx = x->ctx;
    r->transport = x->result;
    r->total_s = (double)(x->end_us - x->start_us) / 1e6;
    if (x->result != TRANSPORT_OK) {
        snprintf(r->error, sizeof r->error, "%s", x->error);
        return;
    }
    r->status = x->status;
    memcpy(r->retry_after, x->retry_after, sizeof r->retry_after);
    memcpy(r->retry_after_ms, x->retry_after_ms, sizeof r->retry_after_ms);
    memcpy(r->reset_requests, x->reset_requests, sizeof r->reset_requests);
    memcpy(r->max_concurrent, x->max_concurrent, sizeof r->max_concurrent);
    memcpy(r->content_type, x->content_type, sizeof r->content_type);
}

void http_lite_perform(struct http_lite *l, http_done_fn done, void *arg)
{
    if (l->head && now_us() >= l->due_us)
        expire(l, now_us());
    struct xfer *x = l->qhead;
    l->qhead = l->qtail = NULL;   /* what done queues waits for the next call */
    while (x) {
        struct xfer *next = x->next;
        struct http_response r;
        fill_response(x, &r);
        if (x->result == TRANSPORT_OK) {
            r.body = x->body;
            x->body = (struct buf){0};
        }
        l->active--;
        xfer_recycle(l, x);
        done(arg, &r);
        buf_free(&r.body);
        x = next;
    }
}

int64_t http_lite_due_ms(const struct http_lite *l)
{
    if (l->qhead)
        return 0;   /* due at once: any clock reading is later */
    if (!l->head || l->due_us == NO_DEADLINE)
        return -1;
    return (l->due_us + 999) / 1000;
}
