/* httpd.h - the consumer's /health and /metrics endpoint.
 *
 * A libmicrohttpd daemon with its own polling thread, so a scrape never waits for the job loop
 * and the loop never waits for a scrape: the handler only reads struct metrics, whose updates are
 * atomic. It serves two read-only paths and nothing else:
 *
 *   GET /metrics  200 text/plain; version=0.0.4   (Prometheus text exposition)
 *   GET /health   200 application/json, or 503 with the same JSON when the status is "down"
 *   other paths   404;  methods other than GET (and HEAD)  405 with Allow: GET, HEAD
 *
 * It listens on one IPv4 address, loopback by default (http.listen = 127.0.0.1:9464): the
 * numbers are not secret, but there is no reason to show them to the network unasked. (The
 * Docker image binds 0.0.0.0:9464 so that Prometheus and the health check reach it; see
 * docs/deployment.md.) Slow or idle clients cannot starve the probe: at most 64 connections,
 * 8 per client address, each dropped after 3 s without traffic. */
#ifndef VOXCAST_HTTPD_H
#define VOXCAST_HTTPD_H

#include <stddef.h>

#include "metrics.h"

struct httpd;

/* Starts serving `m` (borrowed; it must outlive the server) on `listen`, "HOST:PORT" where HOST
 * is a dotted IPv4 address or "localhost" and PORT is 0..65535 (0 lets the kernel pick; see
 * httpd_port()). Returns NULL and writes one line naming the address to `err` on failure, e.g.
 * "http.listen 127.0.0.1:9464: Address already in use". Stop with httpd_stop(). */
struct httpd *httpd_start(const char *listen, struct metrics *m, char *err, size_t errlen);

/* The port actually bound (the kernel's pick when started with port 0). */
int httpd_port(const struct httpd *h);

/* Stops the server, waiting for its thread; in-progress requests are dropped. NULL-safe. */
void httpd_stop(struct httpd *h);

#endif
