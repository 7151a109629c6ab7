/* lanes.h - priority lanes: which lanes the consumer fetches from right now, and start floors.
 *
 * Jobs travel in three topics, one per priority ("lanes"): kafka.topic + ".high", kafka.topic and
 * kafka.topic + ".low" (voxcast.jobs.high / voxcast.jobs / voxcast.jobs.low). The engine keeps one
 * ready queue per lane and starts high before normal before low. That alone does not make an
 * urgent job overtake: its message can sit in librdkafka's prefetch queue behind thousands of
 * bulk jobs fetched earlier, and a full buffer takes no message at all. So while a higher lane has
 * backlog, the partitions of every lane below it are paused (librdkafka drops their prefetched
 * messages and fetches them again from the last one taken once resumed), and the urgent messages
 * come forward.
 *
 * Backlog of a lane: tasks of it waiting to start (in the done-check or a ready queue, told by
 * lanes_set_queued), or consumer lag on one of its assigned partitions: the cached high watermark
 * past the next offset to take. That offset is one past the last message taken from the partition;
 * before the first, it is the high watermark first seen after the assignment (whatever was there
 * then is either committed already or comes first anyway), so a lane whose old messages were all
 * consumed before a restart is not mistaken for one with backlog.
 *
 * Floor of a lane whose messages wait in Kafka: not holding it is not enough when the lanes above
 * it have thousands of messages prefetched in front of its own. So while its floor is due and it
 * has lag, the lanes above it with backlog are held for that decision, and its messages come
 * forward; they are let go as soon as it has taken its share.
 *
 * Floor: a lower lane never starves, neither in fetching nor in starting. A held lane is let
 * through while its recent intake (messages taken, counts decaying with a half-life of
 * LANES_HALF_LIFE_MS) is at most kafka.low_lane_share of the consumer's recent intake over all
 * lanes; one batch through, and it is held again until the others have taken their share. A
 * consumer that has taken nothing for LANES_STALL_MS holds nothing either: a higher lane whose
 * backlog cannot be taken must not hold the others for ever. The ready queues are served high
 * before normal before low, but a lower lane with tasks waiting earns kafka.low_lane_share of a
 * start for every start of a lane above it (lanes_started), and the engine starts what it earned
 * ahead of the others (lanes_floor, lanes_floor_used): tasks of the low lane in hand do not wait
 * for the normal lane's backlog to run dry.
 *
 * Pure: no librdkafka call and no clock read here; the engine feeds observations (assignments,
 * messages taken, cached watermarks, queued tasks) and applies the decision with
 * rd_kafka_pause_partitions / rd_kafka_resume_partitions, under its own whole-consumer pause.
 * Not thread-safe: one per event loop. Allocation failure aborts, as buf.h does. */
#ifndef VOXCAST_CONSUMER_LANES_H
#define VOXCAST_CONSUMER_LANES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum lane { LANE_HIGH, LANE_NORMAL, LANE_LOW };
#define LANES_N 3                 /* lanes, in the order they are served */
#define LANES_EVAL_MS 50          /* lanes_decide looks again at most this often */
#define LANES_HALF_LIFE_MS 2000   /* intake counts halve in this long */
#define LANES_STALL_MS 3000       /* nothing taken for this long: nothing is held */

/* The topic of a lane: base (kafka.topic) plus ".high", "" or ".low", into out. */
void lanes_topic_name(const char *base, enum lane lane, char *out, size_t outlen);
/* The lane of a topic the consumer reads (base, base.high, base.low), or -1 for any other. */
int lanes_topic_lane(const char *base, const char *topic);
/* "high", "normal", "low". */
const char *lanes_name(enum lane lane);

/* A partition's index among all lanes' partitions, dense and unique (partition * LANES_N +
 * lane): partitions of different topics share numbers, so per-partition state of the engine
 * (commit watermarks, generations) is kept under this slot. */
static inline int32_t lanes_slot(enum lane lane, int32_t partition)
{
    return partition * LANES_N + (int32_t)lane;
}

struct lanes;

/* low_share: kafka.low_lane_share, from 0 (a held lane takes nothing while a higher one has
 * backlog) to 1. Owned by the caller: lanes_free(). Never NULL. */
struct lanes *lanes_new(double low_share);
void lanes_free(struct lanes *l);  /* NULL-safe */

/* The partition is ours now: its next offset to take and watermark are unknown. */
void lanes_assign(struct lanes *l, enum lane lane, int32_t partition);
/* The partition left us (revoked): it no longer counts. */
void lanes_revoke(struct lanes *l, enum lane lane, int32_t partition);
/* The message at offset was taken from the partition: the next to take is offset + 1. */
void lanes_taken(struct lanes *l, enum lane lane, int32_t partition, int64_t offset);
/* The partition's cached watermarks: low (the oldest offset the broker still has) and high (the
 * next offset it will write); negative: not known yet. Messages below low were deleted before
 * they were taken (retention): they are no lag. Ignored for a partition not assigned. */
void lanes_watermark(struct lanes *l, enum lane lane, int32_t partition, int64_t low, int64_t high);
/* How many tasks of the lane are in hand and waiting to start. */
void lanes_set_queued(struct lanes *l, enum lane lane, size_t n);

/* The decision at now_ms: held[i] true when lane i's partitions should not be fetched now.
 * Re-decided at most every LANES_EVAL_MS (in between, held[] repeats the last decision).
 * Returns true when held[] differs from the previous call's. */
bool lanes_decide(struct lanes *l, int64_t now_ms, bool held[LANES_N]);

#define LANES_FLOOR_CAP 32 /* starts a waiting lane can have earned at most */

/* n tasks of lane were started; ready[i]: tasks of lane i still waiting to start. Every lane
 * below it with tasks waiting earns low_share of a start per start. */
void lanes_started(struct lanes *l, enum lane lane, size_t n, const size_t ready[LANES_N]);
/* Starts the lane has earned and may take ahead of the higher lanes now. */
size_t lanes_floor(const struct lanes *l, enum lane lane);
/* n of those were taken. */
void lanes_floor_used(struct lanes *l, enum lane lane, size_t n);

/* Messages of the lane not taken yet, over its assigned partitions, as of the last watermarks. */
int64_t lanes_lag(const struct lanes *l, enum lane lane);
/* Whether partitions of more than one lane are assigned (only then is there anything to decide). */
bool lanes_mixed(const struct lanes *l);

#endif
