/* offsets.h - which Kafka offset of each partition is safe to commit (at-least-once).
 *
 * Jobs finish out of order: the job at offset 7 may be durable before the one at offset 5.
 * Committing 8 then would lose offset 5 on a crash, so a partition's commit position is the
 * watermark of its contiguous prefix of finished offsets: the first offset still in flight, or
 * one past the last finished when none is. "Finished" means durable (audio file and Redis state,
 * or the DLQ entry), which only the caller knows: it calls offsets_done() then.
 *
 * Offsets of a partition are tracked in the order the consumer receives them (increasing, with
 * holes where compaction or transaction markers left no message). Memory is a ring per partition
 * holding the offsets between the watermark and the newest tracked one; it shrinks back when the
 * backlog drains. Every operation is O(1) amortised, except offsets_done() on a partition with
 * holes, which falls back to a binary search of the ring.
 *
 * Negative partitions and offsets (librdkafka's logical offsets) are ignored by every function.
 * Allocation failure aborts the process, as buf.h does. Not thread-safe: one per event loop. */
#ifndef VOXCAST_OFFSETS_H
#define VOXCAST_OFFSETS_H

#include <stddef.h>
#include <stdint.h>

struct offsets;

/* An empty tracker (no partitions). Owned by the caller: offsets_free(). Never NULL. */
struct offsets *offsets_new(void);

/* Frees the tracker and every partition's state. NULL-safe. */
void offsets_free(struct offsets *o);

/* Records that `offset` of `partition` was taken for processing.
 * Returns the gap: how many offsets were skipped since the previous tracked one
 * (offset - previous - 1) when that is positive, else 0; 0 for a partition's first offset.
 * A gap means messages never seen (compaction, transaction markers, or log truncation on the
 * broker): the caller decides whether to warn.
 * The first offset of a partition is its starting commit position: offsets_advance() reports
 * nothing until something finishes.
 * Redelivery (offset <= the last tracked one, after a seek or an offset reset) rewinds the
 * tail: the tracked offsets >= `offset` are dropped (they will come again) and tracking resumes
 * at `offset`, returning 0. Offsets below it still in flight keep holding the watermark.
 * A late offsets_done() from the earlier delivery of a re-tracked offset marks it finished (its
 * effect is durable); one for an offset not yet re-tracked is ignored. */
int64_t offsets_track(struct offsets *o, int32_t partition, int64_t offset);

/* Marks `offset` of `partition` finished (durable). Unknown, already finished and forgotten
 * offsets are ignored, so calling it twice is harmless. */
void offsets_done(struct offsets *o, int32_t partition, int64_t offset);

/* The offset to commit for `partition` (the next offset to consume: the first unfinished one,
 * or the last finished + 1) when it moved beyond what the previous call returned (or beyond the
 * starting position), else -1. Only the contiguous prefix of finished offsets counts:
 * done(5) before done(4) does not move it past 4. It never moves back: after a redelivery
 * rewind, everything below the position already returned was finished before, so re-committing
 * lower would only cost replays. -1 for an unknown partition. */
int64_t offsets_advance(struct offsets *o, int32_t partition);

/* How many tracked offsets of `partition` are not finished yet (0 for an unknown partition). */
size_t offsets_in_flight(const struct offsets *o, int32_t partition);

/* How many offsets of `partition` the ring holds: the unfinished ones plus finished ones waiting
 * behind an unfinished one. The memory bound; mostly for tests and metrics. */
size_t offsets_held(const struct offsets *o, int32_t partition);

/* Drops all state of `partition` (revoked in a rebalance): its later offsets_done() calls are
 * ignored and its next offsets_track() starts afresh. */
void offsets_forget(struct offsets *o, int32_t partition);

#endif
