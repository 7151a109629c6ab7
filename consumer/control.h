/* control.h - what the consumer believes of each campaign's control, and a job's fate by it.
 *
 * An operator pauses, resumes or cancels a campaign in Redis (meta `control`, store.h). A
 * consumer must act on it within a couple of seconds, but must not pay a Redis round trip per job
 * for it: this cache holds campaign -> {control, read_at} for the campaigns of the tasks in hand,
 * and the engine refreshes, once per tick, every entry whose reading is older than
 * campaign.control_ttl_ms, all in one store_campaign_controls round trip. When one entry is due,
 * the entries past half the TTL are read with it, so campaigns read at different moments settle
 * into one round trip per TTL rather than one each.
 *
 * Entries are held by tasks (control_hold when a job is taken, control_release when its task is
 * released): only held entries are refreshed, and an entry nobody holds is dropped once its reading
 * is stale. A new entry has not been read: it is believed running and is due at once, so the
 * refresh at the top of the next tick reads it before the job's fate is decided.
 *
 * A job's fate (control_fate) is decided from the entry and the job's expiry: at dequeue, after
 * the done-check, and again right before each provider attempt.
 *
 * Pure: no Redis and no clock here (times are arguments). Not thread-safe: one per event loop.
 * Allocation failure aborts, as buf.h does. */
#ifndef VOXCAST_CONTROL_H
#define VOXCAST_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct control;
struct control_entry;

/* ttl_ms: campaign.control_ttl_ms (a reading older than this is refreshed; at least 1). Owned by
 * the caller: control_free(). Never NULL. */
struct control *control_new(int64_t ttl_ms);
void control_free(struct control *c);   /* NULL-safe; frees every entry, held or not */

/* The entry of campaign, created unread when new, with one more holder. The pointer stays valid
 * until its matching control_release and the next control_due after it. */
struct control_entry *control_hold(struct control *c, const char *campaign);
/* One holder fewer. NULL-safe. */
void control_release(struct control *c, struct control_entry *e);

/* What the entry says: its last reading, RUNNING before the first one. */
enum store_control control_state(const struct control_entry *e);
const char *control_campaign(const struct control_entry *e);

/* The campaigns to read now. Nothing when no held entry's reading is older than the TTL (or
 * missing); else every held entry older than half the TTL or unread, up to max, into names
 * (borrowed: valid until control_apply). Also drops the entries nobody holds whose reading is
 * stale. Returns how many names were written. */
size_t control_due(struct control *c, int64_t now_ms, const char **names, size_t max);
/* The readings of the campaigns the last control_due named, in its order (n of them), taken at
 * now_ms. Returns how many entries turned paused or cancelled with it (the engine then looks
 * for their tasks waiting on timers). */
size_t control_apply(struct control *c, const enum store_control *values, size_t n, int64_t now_ms);
/* The store found the campaign not in the state this entry said (a STORE_NOOP answer to a
 * cancel or aside op): believe running, and read it again at the next refresh. NULL-safe. */
void control_invalidate(struct control *c, struct control_entry *e);

/* How many entries there are (held or waiting to be dropped); for tests and the summary. */
size_t control_len(const struct control *c);

enum control_fate {
    CONTROL_RENDER,    /* go on: the campaign runs and the job has not expired */
    CONTROL_CANCEL,    /* the campaign is cancelled: the contact becomes cancelled */
    CONTROL_EXPIRED,   /* expires_at passed: the DLQ, reason "expired" */
    CONTROL_ASIDE      /* the campaign is paused: the job is set aside until resume */
};
/* The fate of a job of entry e (NULL: a job with no campaign entry, rendered) with expiry
 * expires_at_ms (epoch ms, 0: none) at wall time now_wall_ms. Cancel comes first (the operator's
 * word), then expiry (a job set aside past its expiry would only expire after the resume), then
 * pause. */
enum control_fate control_fate(const struct control_entry *e, int64_t expires_at_ms, int64_t now_wall_ms);

#endif
