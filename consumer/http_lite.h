/* http_lite.h - a lean HTTP/1.1 POST client for plain http:// to literal addresses.
 *
 * The transport (http_transport.h) sends a request here instead of to curl when the URL is
 * `http://` with a numeric IPv4 host, a bracketed IPv6 literal or `localhost`, an optional port,
 * and a path with nothing curl would rewrite (no userinfo, fragment, dot segments, blanks or
 * control bytes); the transport also checks its caller's choice and the proxy variables. For
 * such a request curl spends most of its time on things that do not apply - URL parsing, its
 * state machine, liveness polls, header callbacks, a reset per handle - so this module does only
 * what the request needs: one formatted buffer sent on a kept-alive TCP connection, and a
 * response parser for what HTTP/1.1 servers send (status line, headers, interim 1xx answers, a
 * body delimited by Content-Length, chunked encoding or the connection's close).
 *
 * Connections: per origin (host:port) a pool of idle connections; a request takes the most
 * recently used one or opens a new one (non-blocking connect; TCP_NODELAY and keep-alive probes
 * as curl sets them). One request per connection at a time. After a complete answer the
 * connection goes back to the pool unless the server said close (or spoke HTTP/1.0 without
 * keep-alive) or the answer was cut. An idle connection that becomes readable (the server
 * closed it) is closed at once. A request on a reused connection that breaks (EOF, reset,
 * broken pipe) before any byte of the answer arrived is sent again, once, on a new connection:
 * the server closed an idle connection, which is not a provider failure (curl does the same).
 *
 * What the caller sees is what the curl path gives: the same struct http_response, the same
 * transport results and error texts ("connect: <strerror>", "connect timeout after N ms",
 * "timeout after N ms", "connection broken: ...", "transport: ...", "answer longer than N
 * bytes"), the same request bytes (Host, User-Agent: voxcast-consumer, Accept unless the caller
 * set one, the caller's headers with an empty "Name:" meaning "do not send", Content-Length,
 * and curl's default Content-Type for a POST when the caller set none).
 *
 * Sockets live in the transport's epoll set with data.fd = the socket; http_lite_owns() tells
 * them from curl's. Every finished transfer - success or failure, including failures found in
 * http_lite_post() itself - is queued and delivered by http_lite_perform(), its connection
 * already back in the pool or closed, so done() may start new transfers. */
#ifndef VOXCAST_HTTP_LITE_H
#define VOXCAST_HTTP_LITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http_transport.h"

#define HTTP_LITE_DECLINED 1   /* http_lite_post(): the URL is not one this module sends */

struct http_lite;

/* A client that registers its sockets in epfd (which stays the caller's), keeping at most
 * max_idle idle connections (<= 0: no limit beyond the connections ever open at once). */
struct http_lite *http_lite_new(int epfd, long max_idle);

/* Abandons every transfer without done (drop(ctx) for each when drop is not NULL), closes every
 * connection and frees l. NULL-safe. */
void http_lite_free(struct http_lite *l, http_drop_fn drop);

/* True when url is one http_lite_post() would send (see the top of this file). */
bool http_lite_url_ok(const char *url);

/* Starts a POST of req (copied); ctx comes back in the response. 0; HTTP_LITE_DECLINED when the
 * URL is not for this module (nothing kept); never fails otherwise - a failure to connect is
 * delivered as a response. */
int http_lite_post(struct http_lite *l, const struct http_request *req, void *ctx);

/* True when fd is one of l's sockets. */
bool http_lite_owns(const struct http_lite *l, int fd);

/* Handles epoll events on one of l's sockets; finished transfers are queued. */
void http_lite_event(struct http_lite *l, int fd, uint32_t events);

/* Times out the transfers whose deadline passed, then delivers every queued transfer (those
 * queued by done itself wait for the next call). */
void http_lite_perform(struct http_lite *l, http_done_fn done, void *arg);

/* When http_lite_perform() next has work without socket activity (CLOCK_MONOTONIC ms, as
 * clock_mono_ms()), or -1: never. Never later than the earliest deadline; maybe earlier. */
int64_t http_lite_due_ms(const struct http_lite *l);

/* Transfers started and not yet delivered or dropped. */
size_t http_lite_active(const struct http_lite *l);

#endif
