/* cache.h - render once: contacts whose spoken request is identical share one provider request.
 *
 * The consumer's side of the fleet's render-once cache (store_cache.h holds the Redis side).
 * A task past its done-check is offered to the cache (cache_admit) when cache.ttl_s > 0, its
 * job does not opt out ("dedup": false, `launch --no-dedup`) and it is one file (no variants).
 * A job with variants is not; each of its variant children (parts.h) is, like a whole job, so a
 * text shared by all contacts (a voicemail) is paid once: the engine writes such a variant
 * alone (its copy, or its render with the entry that follows) under <name>.<variant>.<ext> and
 * hands it to its job once durable. A variant over the text limit is looked up whole, before
 * it is split; the parts of a long text are never looked up (their job or variant is).
 * Its key (cachekey.h: text, voice, lang, format, model as the job carries them) is looked up
 * in Redis with the other lookups of the tick, in one round trip:
 *   - hit: the task becomes a copy (copy_from = the entry's uri, duration_ms, bytes, sha256 set
 *     from the entry, provider "cache") and goes to the writer, which links or copies that audio
 *     under the contact's own name and makes it durable like any file (sink_stage_copy); no
 *     provider request is made. A copy whose source has vanished comes back (cache_collected):
 *     the entry is deleted by the next lookup, which names it stale, and the task is rendered.
 *   - miss, claim won: the task renders as usual; once its audio is durable (cache_collected
 *     sees it written) its entry is written and the claim released in one step, and the tasks
 *     of this consumer waiting for the same key become copies at once.
 *   - miss, claim held by another consumer: the task waits, its key looked up again after 50 ms,
 *     then twice as long each time up to 400 ms (batched with the tick's other lookups): an entry -> copy; the claim gone
 *     without an entry (its holder died and the claim expired) -> claimed here, rendered.
 * Within one consumer a key has one slot: the tasks that meet it share one lookup and one
 * render. The claims of renders in progress are renewed every claim_ttl_ms / 3. A render that
 * fails (the task dead-lettered) releases its claim, and the tasks waiting here for the same
 * key are rendered each on its own (the request itself may be at fault: failing them one after
 * the other would take as many retry cycles). A render dropped for another reason (revoked
 * partition) hands its key back to its waiters' lookup.
 *
 * Costs: cache_billed counts the characters of every request a provider answered with audio,
 * in /metrics and in the campaign's voxcast:{C}:chars (store_cache.h); copies count as
 * cache_hits. Entries, releases and counts ride with the next lookups, or go on their own once
 * the oldest has waited CACHE_FLUSH_MS (25 ms): a busy consumer does not make a round trip per
 * tick for them; cache_flush sends them at once.
 *
 * Nothing here blocks: the engine calls cache_tick once per tick; Redis is used only there.
 * The cache takes tasks (cache_admit, cache_collected) and hands them back from cache_tick:
 * tasks to render and copies to write. */
#ifndef VOXCAST_CACHE_H
#define VOXCAST_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cachekey.h"
#include "task.h"

struct cache;
struct config;
struct metrics;
struct store;

/* Reads cache.ttl_s (0: off; a key is never looked up) and cache.claim_ttl_ms. token names
 * this consumer in claims (unique in the fleet: host, pid, random). metrics may be NULL. */
struct cache *cache_new(const struct config *cfg, const char *token, struct metrics *metrics);

/* Frees the cache and the tasks it holds (waiting for a key; a variant child frees its job,
 * parts_abandon); tasks rendering (leaders) belong to the engine. Their claims expire by
 * themselves. NULL-safe. */
void cache_free(struct cache *C);

/* 1 when the cache applies to t (see above), else 0. */
bool cache_applies(const struct cache *C, const struct task *t);

/* The key of t's spoken request. */
void cache_task_key(const struct task *t, char out[CACHEKEY_LEN + 1]);

/* Takes t when the cache applies (true): it comes back from cache_tick. False: render it. */
bool cache_admit(struct cache *C, struct task *t);

/* For each task the writer hands back. A copy whose source vanished (copy_gone) is taken (true)
 * and looked up again. A written render of a key this consumer claimed has its entry queued and
 * the key's waiters turned into copies; a written copy counts as a hit. Else false. */
bool cache_collected(struct cache *C, struct task *t);

/* A task leaves the engine (released). A leader that did not deliver audio gives up its claim
 * (see above). Tasks the cache never saw are ignored. */
void cache_forget(struct cache *C, struct task *t);

/* Counts the characters of t's text as billed by provider (index in the chain, name). */
void cache_billed(struct cache *C, const struct task *t, size_t provider, const char *name);

/* True when cache_tick has something to do at now (then it needs Redis, unless only tasks are
 * to be handed back). */
bool cache_due(const struct cache *C, int64_t now);

/* The engine's timeout bounded by the cache's next due time. */
int64_t cache_timeout(const struct cache *C, int64_t now, int64_t timeout);

/* Hands back the tasks decided since the last call: *render (render them), *copy (copies, to
 * the writer), each a list linked by next (NULL: none). With s (Redis usable), first sends the
 * due lookups, renewals, entries, releases and counts in one round trip, and decides what it
 * answered. Returns 0, or -1 when that round trip failed (store_error(s)): everything is sent
 * again next time. */
int cache_tick(struct cache *C, struct store *s, int64_t now, struct task **render, struct task **copy);

/* Sends the entries, releases and counts not sent yet, at once (a consumer stopping). 0, or -1
 * (store_error(s)). */
int cache_flush(struct cache *C, struct store *s);

/* Tasks held now (waiting for a key), for logs and tests. */
size_t cache_holding(const struct cache *C);

#endif
