/* store.h - voxcast's Redis layer: campaigns, contact states, the dead-letter queue.
 *
 * This is the only module that talks to Redis (hiredis 0.14.1, RESP2, plaintext; the server must
 * be Redis 4.0 or newer, tested with 7.0). It exists so that the counts a user reads in
 * `voxcast status` can never drift: every contact state change and every counter move happens
 * together inside one Lua script, and every hot-path call is batched so that launch and the
 * consumers pay one round trip per batch, not per contact (a launch reserves and acknowledges
 * about 300k contacts/s on a 2-core test box, Redis using about 2 µs of CPU per contact).
 *
 * Keys (C is a campaign id, validated as [A-Za-z0-9._-]{1,64}; every key of one campaign carries
 * the hash tag {C} so the layout works on Redis Cluster; contact ids are only ever hash fields or
 * set members, never part of a key name, so no contact id can name or touch another key):
 *   voxcast:campaigns            ZSET  campaign -> created_at_ms
 *   voxcast:dlq:campaigns        SET   campaigns that ever parked an entry (for "all campaigns")
 *   voxcast:{C}:meta             HASH  created_at, launch_state, enqueued, rejected, done, dlq,
 *                                      cancelled, duplicates, audio_ms (total duration of the done
 *                                      audio), dlq_dropped (parked contacts whose entry the DLQ cap
 *                                      dropped), completed_mark and completion (see
 *                                      store_batch_completion), control ("paused" | "cancelled";
 *                                      absent: running), retention_s (how long the campaign's keys
 *                                      live once it completed or was cancelled; absent: 30 days,
 *                                      "0": for ever), free-form info fields
 *   voxcast:{C}:state            HASH  contact -> state letter + run tag: "r" reserved, "p" pending,
 *                                      "d" done, "q" dlq, "c" cancelled, then the tag of the launch
 *                                      run that last reserved it ("p3"; no tag if never reserved)
 *   voxcast:{C}:runs             HASH  launch run id -> its tag (1, 2, ...)
 *   voxcast:{C}:chunks           HASH  "<tag>/<chunk>" -> contacts of that launch chunk still
 *                                      waiting for its acknowledgement, or "a" once it came
 *   voxcast:{C}:prov             HASH  provider -> contacts done by it
 *   voxcast:{C}:applied:W        STRING results of batch writer W's last batch (an hour; see exec)
 *   voxcast:{C}:dlq              ZSET  entry id -> seq (newest = highest)
 *   voxcast:{C}:dlq:e            HASH  entry id -> entry JSON
 *   voxcast:{C}:dlq:c            HASH  entry id -> contact (so replay needs no JSON parsing)
 *   voxcast:{C}:dlq:seq          counter of entry seqs
 *   voxcast:{C}:dlq:replaying    HASH  entry id -> entry JSON, claimed by a running replay
 *   voxcast:{C}:outbox           HASH  contact -> results event JSON not yet published (a week)
 *   voxcast:{C}:dlq:lock         replay lock token
 *   voxcast:{C}:launch:lock      launch lock token
 *   voxcast:{C}:aside            HASH  contact -> job JSON set aside while the campaign is paused
 *   voxcast:{C}:aside:claimed    HASH  contact -> job JSON claimed by a running resume or cancel
 *   voxcast:{C}:chars            HASH  provider -> characters sent (store_cache.c)
 *   voxcast:{C}:resume:lock      resume lock token (STORE_LOCK_RESUME)
 * Entry ids are "C:seq" (':' never occurs in a campaign id).
 *
 * Contact state machine (pending is derived: enqueued - done - dlq - cancelled, and equals the
 * number of contacts in "p", so done + dlq + cancelled + pending == enqueued always holds). A contact reserved in a
 * launch chunk is written "p<tag>/<chunk>" at once but counts as "r" until store_batch_ack_chunk
 * acknowledges the chunk; then the whole chunk counts as enqueued in one step. That is why a
 * launch costs Redis one hash read and one write per contact rather than two of each:
 *   reserve  tagged by this run already -> REPEATED;  none -> r NEW;  d -> ALREADY_DONE;
 *            r|p|q -> EXISTING (a --resume enqueues it again); the state gets this run's tag
 *            (reserve into a chunk: none -> r in the chunk; an r of an older run leaves its chunk
 *            and becomes a plain r, acknowledged one by one with ack like every EXISTING one)
 *   Why a tag and not a per-run SET of seen ids: a reserve then costs one hash read and one
 *   hash write instead of four operations (launch must reach about 250k contacts/s), and a big
 *   file does not leave a second copy of its ids in Redis for a day. An id repeated after its
 *   first row was unreserved (produce failed) counts as NEW again, so it still gets a job.
 *   ack      r -> p (enqueued+1) OK;  q -> p (dlq-1) OK;  p|d|none -> NOOP
 *   ack chunk  enqueued += the chunk's contacts still r in it, which all become p: OK; NOOP when
 *            the chunk was acknowledged already
 *   unreserve r -> none OK;  else NOOP
 *   done     r|none -> d (enqueued+1, done+1);  p -> d (done+1);  q -> d (dlq-1, done+1);
 *            c -> d (cancelled-1, done+1): OK and
 *            prov[provider]+1 and audio_ms + the op's duration (only here: a duplicate adds
 *            nothing);  d -> d (duplicates+1) DUPLICATE (UNPUBLISHED when its results event is
 *            still in the outbox, store_results.h)
 *   dlq      r|none -> q (enqueued+1, dlq+1);  p -> q (dlq+1);  c -> q (cancelled-1, dlq+1):
 *            PARKED, entry stored under a new id;
 *            the same but PARKED_DROPPED, entry not stored and dlq_dropped+1, when the campaign's
 *            dlq already holds the batch's cap of entries (store_batch_set_dlq_cap);
 *            d|q -> unchanged, DUPLICATE, entry dropped
 *   cancel   (campaign control cancelled) r|none -> c (enqueued+1, cancelled+1);  p -> c
 *            (cancelled+1): OK;  d|q|c -> DUPLICATE;  control not cancelled -> NOOP
 *   aside    (campaign control paused) r|none -> p (enqueued+1) and the job in aside;  p -> p and
 *            the job in aside: OK;  d|q|c -> DUPLICATE;  control not paused -> NOOP
 *   replay   claim q -> p (dlq-1); unclaim_all p -> q (dlq+1); a claimed entry whose contact is
 *            d is deleted.
 *
 * Campaign control (meta control): running -> paused (pause), paused -> running (resume),
 * running|paused -> cancelled (cancel, terminal). A complete campaign (pending 0, launched) can
 * be neither paused nor cancelled. Once a campaign completes or is cancelled, every one of its
 * keys gets an expiry of meta retention_s.
 *
 * Errors: functions return -1 and keep a message in the store (store_error()). A store whose
 * connection broke reconnects once on its next call; store_reconnect() forces one attempt.
 * A store is one connection: use one per thread. */
#ifndef VOXCAST_STORE_H
#define VOXCAST_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct store;

/* A campaign's control (meta control; see "lifecycle" below). */
enum store_control { STORE_CONTROL_RUNNING, STORE_CONTROL_PAUSED, STORE_CONTROL_CANCELLED };

/* ------------------------------------------------------------------ connection */

/* A parsed redis:// URL. */
struct store_url {
    char host[256];     /* name or address; IPv6 without its brackets */
    int  port;          /* default 6379 */
    int  db;            /* default 0 */
    char user[128];     /* ACL user (Redis 6+), "" for the default user */
    char password[256]; /* "" for none; %XX escapes decoded */
};

/* Parses "redis://[[user]:password@]host[:port][/db]" (IPv6 hosts in brackets). Returns 0, or
 * -1 with a reason in err (the message never contains the password). */
int store_url_parse(const char *url, struct store_url *out, char *err, size_t errlen);

/* Connects to url, sending AUTH and SELECT as needed. A refused or failed connection is retried
 * with backoff until timeout_ms has passed (0: one attempt), so callers started alongside a fresh
 * redis-server need not wait for it; a bad URL or a rejected password fails at once. Commands
 * time out after max(timeout_ms, 1000) ms. Returns a store to release with store_close(), or NULL
 * with err naming the server and the reason ("redis 127.0.0.1:6390: Connection refused (gave up
 * after 5000 ms)"). */
struct store *store_open(const char *url, int timeout_ms, char *err, size_t errlen);

/* store_open with the config's redis.url and redis.connect_timeout_ms: how the producer's
 * commands and the consumer open the store. */
struct store *store_open_config(const struct config *cfg, char *err, size_t errlen);

void store_close(struct store *s);                      /* NULL-safe */
const char *store_error(const struct store *s);         /* last error; valid until the next call */
int store_reconnect(struct store *s);                   /* one attempt; 0 ok, -1 (store_error) */
int store_ping(struct store *s);                        /* PING: 0 answered, -1 (store_error) */
/* WAIT n timeout_ms (store_wait.c): 0 once n replicas acknowledged every write this connection
 * made; -1 (store_error: "WAIT: 0 of 1 replicas acknowledged within 1000 ms") when fewer did in
 * time or Redis did not answer. On a new connection WAIT covers only its own writes. */
int store_wait_replicas(struct store *s, int n, int timeout_ms);

/* 1 when campaign is a valid campaign id (names_campaign_valid: [A-Za-z0-9._-]{1,64}, not "."
 * or ".."), else 0. */
int store_id_valid(const char *campaign);

/* ------------------------------------------------------------------ campaigns */

struct campaign_info {
    char    id[65];
    int64_t created_at_ms;    /* 0 when unknown */
    int64_t enqueued, rejected, done, dlq, duplicates;
    int64_t audio_ms;         /* total duration of the campaign's done audio */
    int64_t dlq_dropped;      /* parked contacts whose entry the DLQ cap dropped */
    char    launch_state[16]; /* "launching", "launched" or "" */
    int64_t cancelled;        /* contacts cancelled (state c) */
    int64_t aside;            /* jobs set aside while paused (HLEN aside + aside:claimed) */
    enum store_control control;
};

/* Creates the campaign record (created_at = now_ms, launch_state = launching) and lists it.
 * Atomic: of two concurrent creates exactly one gets 0 or 2. Returns 0 created, 1 already
 * existed (nothing changed, except that the retention expiry of a campaign that is not
 * cancelled is removed: it is being launched again), 2 created although contacts of that id already have states (left
 * from a record Redis lost; consumers of old jobs may write some), -1 error. */
int store_campaign_create(struct store *s, const char *campaign, int64_t now_ms);

/* Sets an info field of the campaign (launch_state, template, contacts_file, ...). The counters
 * and created_at are refused (-1): they move only through state transitions. 0 or -1. */
int store_campaign_set(struct store *s, const char *campaign, const char *field, const char *value);

/* Adds n to the campaign's rejected counter (rows refused at launch). 0 or -1. */
/* One free-form field of the campaign record: 0 with *out malloc'd, 1 when absent, -1 error. */
int store_campaign_field(struct store *s, const char *campaign, const char *field, char **out);
int store_campaign_add_rejected(struct store *s, const char *campaign, int64_t n);

/* Reads the campaign's record into *out. Returns 0, 1 not found, -1 error. */
int store_campaign_get(struct store *s, const char *campaign, struct campaign_info *out);

/* Contacts done per provider: *out is a new reference to an object NAME -> count. 0 or -1. */
int store_campaign_by_provider(struct store *s, const char *campaign, json_t **out);

/* Every created campaign, newest first: *out is a malloc'd array of *n records (free() it;
 * NULL when *n is 0). A listed campaign whose record expired (retention) is left out and
 * removed from the list. 0 or -1. */
int store_campaign_list(struct store *s, struct campaign_info **out, size_t *n);

/* For tests and tools: *state_out = 'r', 'p', 'd', 'q', 'c', or 0 when the contact has no state.
 * Returns 0 or -1. */
int64_t store_contact_state(struct store *s, const char *campaign, const char *contact, size_t len,
                            char *state_out);

/* ------------------------------------------------------------------ locks */

/* A campaign's locks: a token with a time to live, so a holder that dies frees the campaign by
 * itself. STORE_LOCK_REPLAY is held by `dlq replay`, STORE_LOCK_LAUNCH by launch and reconcile,
 * STORE_LOCK_RESUME by resume (and by cancel of a paused campaign) while it re-enqueues the jobs
 * set aside. */
enum store_lock { STORE_LOCK_REPLAY, STORE_LOCK_LAUNCH, STORE_LOCK_RESUME };

/* Takes the lock for ttl_ms if free: 0 got it, 1 held by another token (or by this one: not
 * reentrant), -1 error. */
int store_lock(struct store *s, const char *campaign, enum store_lock which, const char *token, int64_t ttl_ms);
/* Extends the lock if token still holds it: 0 refreshed, 1 not ours (lost or expired), -1. */
int store_lock_refresh(struct store *s, const char *campaign, enum store_lock which, const char *token,
                       int64_t ttl_ms);
/* Releases the lock if token holds it: 0 released, 1 not ours, -1. */
int store_unlock(struct store *s, const char *campaign, enum store_lock which, const char *token);

/* ------------------------------------------------------------------ batched transitions */

enum store_result {
    STORE_NEW,          /* reserve: first time this contact is seen */
    STORE_REPEATED,     /* reserve: the same id appeared earlier in this launch run */
    STORE_ALREADY_DONE, /* reserve: the contact is done; do not enqueue it */
    STORE_EXISTING,     /* reserve: known but not done; a --resume enqueues it again */
    STORE_OK,           /* ack, unreserve, done: the transition happened */
    STORE_DUPLICATE,    /* done: already done; dlq: already done or already parked */
    STORE_PARKED,       /* dlq: the entry was stored */
    STORE_NOOP,         /* ack, unreserve: nothing to do in this state */
    STORE_INVALID,      /* the op names an invalid campaign or run id; it was not sent */
    STORE_PENDING,      /* not executed yet (or the last exec failed) */
    STORE_UNPUBLISHED,  /* done, dlq: a duplicate whose first outcome's results event is still
                         * in the outbox (store_results.h): publish that one */
    STORE_PARKED_DROPPED /* dlq: the contact is parked (q, counted in dlq) but the campaign's DLQ
                          * was full (store_batch_set_dlq_cap): its entry was not stored, and
                          * meta dlq_dropped counts it */
};
/* Cancel and aside ops answer STORE_OK, STORE_DUPLICATE, STORE_UNPUBLISHED or STORE_NOOP (see
 * store_batch_cancel below). */

struct store_batch;

struct store_batch *store_batch_new(void);              /* aborts on OOM, like buf */
void store_batch_free(struct store_batch *b);           /* NULL-safe */
void store_batch_reset(struct store_batch *b);          /* empties it for new ops; keeps memory */
size_t store_batch_len(const struct store_batch *b);    /* number of ops */
/* Caps the entries one campaign's DLQ holds (dlq.max_entries_per_campaign; 0, the default: no
 * cap). A dlq op that finds the DLQ at the cap parks its contact all the same but drops the entry
 * (STORE_PARKED_DROPPED). The cap is a setting of the batch object and survives reset; set it
 * before the first exec, since a retry must carry the same cap to be recognised as one. */
void store_batch_set_dlq_cap(struct store_batch *b, int64_t max_entries);

/* Adders queue one op and return its index. Strings are copied; contact is len bytes of any
 * content; provider may be NULL. One batch may mix ops and campaigns; ops of one campaign apply
 * in the order they were added. */
size_t store_batch_reserve(struct store_batch *b, const char *campaign, const char *run_id,
                           const char *contact, size_t len);
size_t store_batch_ack(struct store_batch *b, const char *campaign, const char *contact, size_t len);
/* A launch's bulk path: reserve contacts as part of chunk (1, 2, ...) of run_id, then, once Kafka
 * acknowledged every job of the chunk and the failed ones were unreserved, acknowledge the chunk
 * as a whole. EXISTING contacts still need their own store_batch_ack. Reserving into a chunk
 * already acknowledged fails the whole exec. Chunk 0 is refused (STORE_INVALID). */
size_t store_batch_reserve_chunk(struct store_batch *b, const char *campaign, const char *run_id,
                                 uint32_t chunk, const char *contact, size_t len);
size_t store_batch_ack_chunk(struct store_batch *b, const char *campaign, const char *run_id, uint32_t chunk);
/* store_batch_reserve_chunk for a contact the caller knows has no state (a campaign it created,
 * store_campaign_create 0, and an id it has not reserved before): Redis writes the reservation
 * without reading the contact's state first. Wrong knowledge would overwrite that state. */
size_t store_batch_reserve_new(struct store_batch *b, const char *campaign, const char *run_id,
                               uint32_t chunk, const char *contact, size_t len);
size_t store_batch_unreserve(struct store_batch *b, const char *campaign, const char *contact,
                             size_t len);
/* Read-only: STORE_ALREADY_DONE when the contact is done, STORE_NOOP otherwise. The consumer
 * asks this for every job of a tick in the same round trip, so a redelivered job is skipped. */
size_t store_batch_check(struct store_batch *b, const char *campaign, const char *contact, size_t len);
size_t store_batch_done(struct store_batch *b, const char *campaign, const char *contact, size_t len,
                        const char *provider);
size_t store_batch_dlq(struct store_batch *b, const char *campaign, const char *contact, size_t len,
                       const char *entry_json);
/* done and dlq for a publisher of the results stream: audio_ms joins the campaign's audio_ms on
 * the contact's first done, and a non-empty event_json is stored in the campaign's outbox in the
 * same step as the transition (OK, PARKED), so an outcome in Redis always has its event somewhere:
 * in Kafka or in the outbox. A duplicate of a contact whose event is still in the outbox answers
 * STORE_UNPUBLISHED. */
size_t store_batch_done_result(struct store_batch *b, const char *campaign, const char *contact,
                               size_t len, const char *provider, int64_t audio_ms, const char *event_json);
size_t store_batch_dlq_result(struct store_batch *b, const char *campaign, const char *contact,
                              size_t len, const char *entry_json, const char *event_json);

/* Batched ops of campaign control, for consumers (the control is read once per script call, at
 * exec time, and only when the batch holds such ops):
 *   cancel: control is cancelled and contact r|p|none -> c (cancelled+1; enqueued+1 when it was
 *           r|none, as done/dlq do): STORE_OK, and a non-empty event_json goes into the outbox as
 *           done/dlq do; d|q|c -> STORE_DUPLICATE (STORE_UNPUBLISHED when its event is still in
 *           the outbox); control not cancelled any more -> STORE_NOOP (the caller renders the job).
 *   aside:  control is paused and contact is not d|q|c: job_json is stored in aside (the contact
 *           stays p; r|none counts enqueued+1 and becomes p): STORE_OK; contact d|q|c:
 *           STORE_DUPLICATE (STORE_UNPUBLISHED when its event is still in the outbox); control
 *           not paused any more (running, or cancelled) -> STORE_NOOP: handle the job by the
 *           control as it is now (store_campaign_controls; running: render it).
 *   For both, d|q|c is answered before control is looked at: such a job is finished whatever
 *   the control says. An exact retry (store_batch_exec) answers what the first exec did, even
 *   when control moved in between.
 * done/dlq on a "c" contact move it c -> d (cancelled-1, done+1) / c -> q (cancelled-1, dlq+1), so
 * a render that raced a cancel is counted as what it became. A batch completes a campaign
 * (store_batch_completion) when enqueued - done - dlq - cancelled reaches 0; at that moment the
 * script also gives every key of the campaign the expiry meta retention_s. */
size_t store_batch_cancel(struct store_batch *b, const char *campaign, const char *contact,
                          size_t len, const char *event_json);
size_t store_batch_aside(struct store_batch *b, const char *campaign, const char *contact,
                         size_t len, const char *job_json);

/* Applies every op in one pipelined round trip: one Lua script call per campaign. Returns 0, or
 * -1 (store_error) after which nothing can be assumed applied or not. Retrying the same batch
 * (no reset, no new ops) within the hour is exact: a campaign's script records the results of
 * this batch object's last batch and answers a repeat with them, so a retried reserve does not
 * turn REPEATED and a retried done does not become a DUPLICATE. That record is one small key
 * per batch object and campaign: keep one batch object and reset it, rather than one per tick. */
int store_batch_exec(struct store *s, struct store_batch *b);

/* store_batch_exec in two halves, so the caller can work while Redis applies the batch: send
 * writes the calls out without waiting; wait reads the results. Between the two, nothing else
 * may use this store (its connection holds the replies); a batch reset or freed before its wait
 * leaves them there, so store_reconnect() first. Both return 0 or -1 (store_error); after a -1,
 * store_batch_exec on the same batch retries it exactly. */
int store_batch_send(struct store *s, struct store_batch *b);
int store_batch_wait(struct store *s, struct store_batch *b);

/* Result of op i after a successful exec (STORE_PENDING before). */
enum store_result store_batch_result(const struct store_batch *b, size_t i);

/* Whether an exec completed a campaign: a batch that finishes contacts and leaves pending at 0
 * says so, once per set of final counts (meta completed_mark holds "DONE DLQ" of the last one
 * told, so a campaign completes again only when its counts changed, after a DLQ replay say).
 * While the launch is still running the campaign is only DRAINED: the launch may enqueue more
 * (store_completion_claim in store_results.h tells it once launched). A COMPLETED one also
 * leaves its counts in meta `completion` until the publisher clears it. */
enum store_completion_state { STORE_NOT_COMPLETE, STORE_DRAINED_LAUNCHING, STORE_COMPLETED };
struct store_completion {
    char                        campaign[65];
    enum store_completion_state state;
    int64_t                     done, dlq, enqueued, audio_ms; /* COMPLETED: counts at that moment */
    int64_t                     cancelled;                     /* COMPLETED: likewise */
    int64_t                     at_ms;                         /* COMPLETED: Redis time of it */
};
/* Parses "DONE DLQ ENQUEUED AUDIO_MS AT_MS [CANCELLED]" (meta `completion`) into *out: 0, or -1.
 * A completion without CANCELLED (written before cancellation existed) reads cancelled 0. */
int store_completion_parse(const char *campaign, const char *text, struct store_completion *out);
/* Campaigns in the batch (k < ncampaigns) and what the last exec did to each. */
size_t store_batch_ncampaigns(const struct store_batch *b);
const struct store_completion *store_batch_completion(const struct store_batch *b, size_t k);

/* ------------------------------------------------------------------ dead-letter queue */

/* Called per entry with its id and JSON (both NUL-terminated, valid during the call only).
 * A non-zero return stops the iteration. */
typedef int (*store_dlq_fn)(void *ctx, const char *id, const char *entry_json);

/* Lists entries newest first, skipping offset and passing at most limit (0: no limit) to fn.
 * For one campaign this reads only the requested window. For all campaigns (campaign NULL) the
 * campaigns' windows are merged by the entries' "failed_at" (epoch ms, or an ISO-8601 string;
 * entries without one sort as oldest), so skipping an offset costs reading that many entries.
 * Returns the number of entries passed to fn, or -1. */
int store_dlq_list(struct store *s, const char *campaign, size_t offset, size_t limit,
                   store_dlq_fn fn, void *ctx);

/* Reads entry id (also when a running replay has claimed it): *entry_json_out is malloc'd.
 * Returns 0, 1 not found (including a malformed id), -1 error. */
int store_dlq_get(struct store *s, const char *id, char **entry_json_out);

/* Entries waiting in the DLQ of campaign (NULL: all campaigns); claimed entries are not counted.
 * Returns the count or -1. */
int64_t store_dlq_count(struct store *s, const char *campaign);

/* Deletes the campaign's waiting entries, batch at a time (0 or more than 1000: 1000), so Redis is
 * never blocked for long. Contact states and counters stay: the contacts remain "q" (a --resume
 * enqueues them again). Claimed entries are left to their replay. Returns the number deleted, -1. */
int64_t store_dlq_purge(struct store *s, const char *campaign, size_t batch);

/* Replay. `voxcast dlq replay` takes the STORE_LOCK_REPLAY lock, runs store_dlq_unclaim_all (a previous replay may
 * have crashed), reads store_dlq_max_seq once, then loops claim -> produce -> (Kafka acked)
 * store_dlq_replayed, refreshing the lock. Every crash point loses nothing: a claimed entry stays
 * in dlq:replaying until replayed, and unclaim_all puts it back. */

/* Highest seq ever given to an entry of the campaign (0 when none): entries parked later have a
 * larger seq, so a replay that claims up to this mark terminates. 0 or -1. */
int store_dlq_max_seq(struct store *s, const char *campaign, int64_t *out);

/* Atomically moves up to n (at most 10000) oldest waiting entries with seq <= max_seq into
 * dlq:replaying, moving their contacts q -> p (dlq-1), and calls fn for each (fn stopping early
 * leaves the rest claimed, for unclaim_all). Entries whose contact is already done are deleted
 * instead (not counted, not passed). Returns the number claimed (0: nothing left <= max_seq), -1.
 *
 * Why the contact moves at claim and not after Kafka acked: the replayed job may reach a
 * consumer and fail again before the replayer records the ack; parking it must then see "p" and
 * store the new entry, not drop it as a duplicate of a contact still in "q". */
int store_dlq_claim(struct store *s, const char *campaign, int64_t max_seq, size_t n,
                    store_dlq_fn fn, void *ctx);

/* After Kafka acknowledged the replayed jobs: forgets the n claimed entries (one round trip;
 * unknown ids are ignored, so it is idempotent). Returns the number forgotten, or -1. */
int store_dlq_replayed(struct store *s, const char *campaign, const char *const *ids, size_t n);

/* Puts every claimed entry back into the DLQ under its old seq and moves its contact p -> q
 * (dlq+1) unless it got done meanwhile. Run under the lock at the start of a replay. Returns the
 * number put back, or -1. */
int store_dlq_unclaim_all(struct store *s, const char *campaign);

/* ------------------------------------------------------------------ lifecycle (store_lifecycle.c) */

const char *store_control_name(enum store_control c);   /* "running" "paused" "cancelled" */

/* Moves the campaign's control: pause (running -> paused), resume (paused -> running), cancel
 * (running|paused -> cancelled). Atomic (one script). Returns 0 done, 1 refused with why set
 * ("campaign c1 is complete", "campaign c1 is not paused", "campaign c1 is cancelled"),
 * 2 no such campaign, -1 error. A complete campaign (pending 0 and launch_state launched) cannot
 * be paused or cancelled. Cancel also gives every key of the campaign an expiry of retention_s
 * (meta retention_s; absent: 30 days; 0: none). Pausing a paused campaign is refused with
 * "campaign c1 is paused already"; resuming a running one with "campaign c1 is not paused". */
int store_campaign_control_set(struct store *s, const char *campaign, enum store_control to,
                               char *why, size_t whylen);

/* The control of n campaigns in one round trip (pipelined HGET meta control): out[i]. A campaign
 * without a record reads RUNNING. 0 or -1. The consumer calls this once per tick for the campaigns
 * whose cached control is older than campaign.control_ttl_ms. */
int store_campaign_controls(struct store *s, const char *const *campaigns, size_t n,
                            enum store_control *out);

/* Resume (and cancel of a paused campaign) re-enqueue the set-aside jobs with the DLQ replay's
 * claim -> produce -> forget pattern, under STORE_LOCK_RESUME:
 *   store_aside_unclaim_all first (a previous resume may have died), then loop
 *   store_aside_claim (moves up to n entries aside -> aside:claimed, fn per entry), produce them,
 *   and once Kafka acknowledged, store_aside_released. Every crash point loses nothing: a
 *   claimed job stays in aside:claimed until released, and unclaim_all puts it back. */
typedef int (*store_aside_fn)(void *ctx, const char *contact, size_t len, const char *job_json);
/* Moves up to n (at most 10000) set-aside jobs to aside:claimed and calls fn for each (fn
 * stopping early leaves the rest claimed, for unclaim_all). Jobs whose contact is d|q|c already
 * are dropped instead (not counted, not passed). Returns the number claimed (0: none left), -1. */
int store_aside_claim(struct store *s, const char *campaign, size_t n, store_aside_fn fn, void *ctx);
/* Forgets claimed jobs once Kafka has them (unknown contacts ignored: idempotent). Returns the
 * number forgotten, or -1. */
int store_aside_released(struct store *s, const char *campaign, const char *const *contacts,
                         const size_t *lens, size_t n);
/* Puts every claimed job back into aside. Returns the number put back, or -1. */
int store_aside_unclaim_all(struct store *s, const char *campaign);

/* Deletes every key of the campaign (meta, state, runs, chunks, prov, chars, dlq*, outbox,
 * aside*, locks, applied:* found by SCAN) and its entries in voxcast:campaigns and
 * voxcast:dlq:campaigns. *contacts (HLEN state) and *dlq_entries (ZCARD dlq) say what went
 * (either may be NULL). Returns 0, 1 no such campaign, -1. */
int store_campaign_delete(struct store *s, const char *campaign, int64_t *contacts,
                          int64_t *dlq_entries);

/* Seconds until the campaign's meta key expires: -1 no expiry, -2 no key, or -3 error (tests). */
int64_t store_campaign_ttl(struct store *s, const char *campaign);

#endif
