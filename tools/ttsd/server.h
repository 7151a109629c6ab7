/* server.h - voxcast-ttsd's HTTP server: routes, speech answers, injected faults.
 *
 * libmicrohttpd runs one thread per connection, so a request that is made to wait (latency) or
 * to hang simply blocks its own thread; every such wait also watches a stop pipe, so shutdown
 * never waits out a 600-second hang. Routes:
 *   POST /v1/audio/speech                 OpenAI shape           (api.h)
 *   POST /v1/text-to-speech/{voice_id}    ElevenLabs shape
 *   GET  /health                          {"status":"ok"}
 *   GET|POST /admin/faults                read / change faults (faults.h), answers the faults
 *   GET  /admin/stats, POST /admin/stats/reset   counters (stats.h)
 *   GET  /admin/requests, POST /admin/requests/reset   the last speech requests (reqlog.h)
 *   POST /admin/reset                     both resets at once; answers the stats
 * With a mimic set (faults field "mimic", mimic.h) the two speech routes answer as that provider
 * does, chunked and cut mid-body where it says so; without one they answer as they always have.
 * Either way the speech routes play one provider account (plan.h): the faults fields
 * max_concurrent and rate (or an ElevenLabs mimic's plan) limit the requests that carry the right
 * key, refused with the route's or the mimic's 429, and every answer carries
 * current-concurrent-requests / maximum-concurrent-requests while a concurrency limit is in effect.
 * With an API key, the /admin/ routes need it too (401 otherwise). A wrong key is answered at once:
 * latency is served only to requests that passed the key check. Connections beyond
 * max_connections are closed at accept, unanswered (counted as refused_connections). */
#ifndef VOXCAST_TTSD_SERVER_H
#define VOXCAST_TTSD_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "faults.h"

struct server_conf {
    int           listen_fd;   /* a listening socket (listen_open); owned by the server once started */
    int           family;      /* its address family, AF_INET or AF_INET6 */
    struct faults faults;      /* faults at start */
    uint64_t      seed;        /* seed of the fault draws */
    const char   *api_key;     /* key every speech and admin request must carry, or NULL; copied */
    int           max_connections;   /* open connections at once; 0: SERVER_MAX_CONNECTIONS */
    int           tone_ms;     /* length of --tone's answer; 0: SERVER_TONE_MS */
};

#define SERVER_MAX_CONNECTIONS 1024
#define SERVER_TONE_MS         200   /* 8.9 KB as WAV at 22,050 Hz; 70 ms is a 3.1 KB answer */

/* Starts serving on conf->listen_fd. Returns the server, or NULL with err (the socket is then
 * still the caller's to close). */
struct server *server_start(const struct server_conf *conf, char *err, size_t errlen);

/* Wakes every waiting or hanging request (they end without an answer), stops libmicrohttpd
 * (joining its threads, closing the socket) and frees the server. NULL-safe. */
void server_stop(struct server *s);

#endif
