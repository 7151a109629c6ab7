/* store_cache.h - the Redis side of render-once: cache entries, render claims, cost counters.
 *
 * Voxcast pays a provider once per distinct spoken request (cachekey.h). Which audio answers a
 * request, and who is rendering it right now, lives in Redis so that every consumer of a fleet
 * shares it:
 *   voxcast:cache:{KEY}          HASH  uri, duration_ms, bytes, sha256 of the audio first
 *                                      rendered for KEY (a contact's file or object); expires
 *                                      after cache.ttl_s
 *   voxcast:cache:{KEY}:claim    STRING the token of the consumer rendering KEY now; expires
 *                                      after cache.claim_ttl_ms unless renewed
 *   voxcast:{C}:chars            HASH  provider -> characters billed for campaign C
 *   voxcast:{C}:meta             cache_hits: contacts of C whose audio was a copy
 * KEY is a cache key (cachekey.h: "v1-" and hex); both keys of one KEY share its hash slot.
 *
 * A lookup answers HIT for an entry; else CLAIMED when the claim is this token's (taken now: it
 * was free, or held already); else HELD by another consumer. It is SET NX of the claim, then
 * GET of it and HMGET of the entry, in that order in one pipeline: of two consumers meeting the
 * same request at the same moment exactly one SET NX wins, and an entry written (and its claim
 * dropped) between another's SET NX and HMGET is still seen, so a render is never repeated
 * while its claim lives. A waiter that looks again after the holder died (its claim expired)
 * claims it in turn. A HIT whose SET NX took the claim says so (store_cache_hit_claimed): drop
 * it (store_cache_drop_claim). A lookup that names the uri of an entry whose audio was found
 * gone (stale) deletes that entry first, unless a newer one replaced it meanwhile (a script).
 *
 * Billed characters: the characters (Unicode code points) of each request a provider answered
 * with audio, counted when the answer comes; a request refused, failed or timed out is not
 * billed. The consumer's /metrics voxcast_provider_characters_total counts the same thing.
 *
 * Everything a consumer does in one tick is one batch, sent as one pipelined round trip. A
 * batch that failed on the wire may have been applied: lookups, puts, renewals and releases
 * are safe to send again; counters sent again after a lost reply count twice (the consumer
 * resends rather than lose a count). Errors: -1 with store_error(), like every store call. */
#ifndef VOXCAST_STORE_CACHE_H
#define VOXCAST_STORE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* ------------------------------------------------------------------ costs (voxcast status) */

#define STORE_COST_PROVIDERS_MAX 16
#define STORE_COST_NAME_MAX 64

struct campaign_cost {
    int64_t cache_hits;               /* contacts whose audio was a copy of a cached render */
    int64_t chars_total;              /* characters billed, all providers */
    size_t  nproviders;               /* entries in providers[], sorted by name */
    struct {
        char    name[STORE_COST_NAME_MAX];
        int64_t chars;                /* characters billed by this provider */
    } providers[STORE_COST_PROVIDERS_MAX];
    size_t  providers_dropped;        /* providers beyond STORE_COST_PROVIDERS_MAX (counted in
                                       * chars_total, not listed) */
};

/* Reads the campaign's cache hits and billed characters per provider (one round trip). A
 * campaign with none has zeros. 0 or -1. */
int store_campaign_cost(struct store *s, const char *campaign, struct campaign_cost *out);

/* ------------------------------------------------------------------ the cache */

#define STORE_CACHE_KEY_MAX 80        /* longest key accepted ([A-Za-z0-9_-]) */

struct store_cache_entry {
    char    *uri;                     /* owned: file:///... or s3://... */
    int64_t  duration_ms;
    uint64_t bytes;
    char     sha256[65];              /* hex */
};

enum store_cache_result {
    STORE_CACHE_PENDING,              /* not executed yet (or the last exec failed) */
    STORE_CACHE_HIT,                  /* lookup: an entry, in store_cache_entry() */
    STORE_CACHE_CLAIMED,              /* lookup: no entry; the claim is this token's now */
    STORE_CACHE_HELD,                 /* lookup: no entry; another token holds the claim */
    STORE_CACHE_OK,                   /* put, renew, release, counters: done */
    STORE_CACHE_NOT_OURS,             /* renew, release: the claim is not (or no longer) ours */
    STORE_CACHE_INVALID               /* malformed key or campaign id: not sent */
};

struct store_cache_batch;

struct store_cache_batch *store_cache_batch_new(void);      /* aborts on OOM */
void store_cache_batch_free(struct store_cache_batch *b);   /* NULL-safe */
void store_cache_batch_reset(struct store_cache_batch *b);  /* empties it; keeps memory */
size_t store_cache_batch_len(const struct store_cache_batch *b);

/* Adders queue one op and return its index; strings are copied. */

/* Looks KEY up; without an entry, takes its claim for token (claim_ttl_ms) when free or ours.
 * stale_uri (NULL: none) is the uri of an entry whose audio was found gone: such an entry is
 * deleted first (one with another uri is left: it is newer). */
size_t store_cache_lookup(struct store_cache_batch *b, const char *key, const char *token,
                          int64_t claim_ttl_ms, const char *stale_uri);
/* Writes KEY's entry (expiring after ttl_s) and drops the claim on it, whoever holds it: once
 * the entry exists every lookup finds it first, so no render is repeated for that. token is
 * kept for symmetry with the other ops. */
size_t store_cache_put(struct store_cache_batch *b, const char *key, const struct store_cache_entry *e,
                       int64_t ttl_s, const char *token);
/* Extends token's claim on KEY to claim_ttl_ms from now: OK, or NOT_OURS (expired, taken). */
size_t store_cache_renew(struct store_cache_batch *b, const char *key, const char *token,
                         int64_t claim_ttl_ms);
/* Releases token's claim on KEY without an entry (the render failed): OK or NOT_OURS. */
size_t store_cache_release(struct store_cache_batch *b, const char *key, const char *token);
/* Drops KEY's claim, whoever holds it (after a HIT whose lookup took it). */
size_t store_cache_drop_claim(struct store_cache_batch *b, const char *key);
/* Adds n billed characters to provider's count for campaign. */
size_t store_cache_add_chars(struct store_cache_batch *b, const char *campaign, const char *provider,
                             int64_t n);
/* Adds n to the campaign's cache_hits. */
size_t store_cache_add_hits(struct store_cache_batch *b, const char *campaign, int64_t n);

/* Sends every op in one pipelined round trip. 0, or -1 (store_error; results stay PENDING). */
int store_cache_exec(struct store *s, struct store_cache_batch *b);

enum store_cache_result store_cache_result(const struct store_cache_batch *b, size_t i);
/* The entry a HIT lookup read (valid until the next reset), NULL for any other op or result. */
const struct store_cache_entry *store_cache_entry(const struct store_cache_batch *b, size_t i);

/* True when lookup i was a HIT whose SET NX took the claim (drop it). */
bool store_cache_hit_claimed(const struct store_cache_batch *b, size_t i);

/* 1 when key is usable as a cache key here ([A-Za-z0-9_-], 1..STORE_CACHE_KEY_MAX), else 0. */
int store_cache_key_valid(const char *key);

#endif
