/* lanes.c - priority lanes' fetch decisions; see lanes.h.
 *
 * Partition state lives in an array indexed by lanes_slot(): a consumer holds a handful of
 * partitions numbered 0..N-1 in each of three topics. Intake counts are raw between decisions
 * and folded into the decaying totals when a decision is made, so a message taken costs one
 * increment, not a power computation. */
#include "lanes.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

struct lpart {
    bool    assigned;
    int64_t next;       /* the next offset to take: last taken + 1, or -1 before the first */
    int64_t baseline;   /* high watermark first seen since assigned (-1: none yet) */
    int64_t high;       /* cached high watermark (-1: unknown) */
    int64_t low;        /* cached low watermark (-1: unknown) */
};

struct lanes {
    double        share;              /* kafka.low_lane_share */
    struct lpart *parts;              /* indexed by lanes_slot() */
    size_t        nparts;
    size_t        queued[LANES_N];
    uint64_t      taken[LANES_N];     /* since the last decision */
    double        intake[LANES_N];    /* decaying totals, as of decided_ms */
    bool          held[LANES_N];      /* the last decision */
    bool          decided;
    int64_t       decided_ms;
    int64_t       intake_ms;          /* when a decision last saw messages taken (-1: never) */
    double        credit[LANES_N];    /* starts earned by waiting (the start floor) */
};

static const char *const suffix[LANES_N] = {".high", "", ".low"};
static const char *const names[LANES_N] = {"high", "normal", "low"};

void lanes_topic_name(const char *base, enum lane lane, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s%s", base, (unsigned)lane < LANES_N ? suffix[lane] : "");
}

int lanes_topic_lane(const char *base, const char *topic)
{
    size_t n = strlen(base);
    if (strncmp(topic, base, n) != 0)
        return -1;
    for (int i = 0; i < LANES_N; i++)
        if (strcmp(topic + n, suffix[i]) == 0)
            return i;
    return -1;
}

const char *lanes_name(enum lane lane)
{
    return (unsigned)lane < LANES_N ? names[lane] : "?";
}

struct lanes *lanes_new(double low_share)
{
    struct lanes *l = xcalloc(1, sizeof *l);
    l->share = low_share < 0 ? 0 : low_share > 1 ? 1 : low_share;
    l->intake_ms = -1;
    return l;
}

void lanes_free(struct lanes *l)
{
    if (!l)
        return;
    free(l->parts);
    free(l);
}

/* The state of (lane, partition), grown into existence when create; NULL for an invalid one. */
static struct lpart *part_at(struct lanes *l, enum lane lane, int32_t partition, bool create)
{
    if ((unsigned)lane >= LANES_N || partition < 0 || partition > INT32_MAX / LANES_N - 1)
        return NULL;
    size_t slot = (size_t)lanes_slot(lane, partition);
    if (slot >= l->nparts) {
        if (!create)
            return NULL;
        size_t n = slot + 1 + 8 * LANES_N;
        l->parts = xrealloc(l->parts, n * sizeof *l->parts);
        memset(l->parts + l->nparts, 0, (n - l->nparts) * sizeof *l->parts);
        l->nparts = n;
    }
    return &l->parts[slot];
}

void lanes_assign(struct lanes *l, enum lane lane, int32_t partition)
{
    struct lpart *p = part_at(l, lane, partition, true);
    if (p)
        *p = (struct lpart){.assigned = true, .next = -1, .baseline = -1, .high = -1, .low = -1};
}

void lanes_revoke(struct lanes *l, enum lane lane, int32_t partition)
{
    struct lpart *p = part_at(l, lane, partition, false);
    if (p)
        p->assigned = false;
}

void lanes_taken(struct lanes *l, enum lane lane, int32_t partition, int64_t offset)
{
    struct lpart *p = part_at(l, lane, partition, false);
    if (!p || !p->assigned)
        return;
    p->next = offset + 1;
    l->taken[lane]++;
}

void lanes_watermark(struct lanes *l, enum lane lane, int32_t partition, int64_t low, int64_t high)
{
    struct lpart *p = part_at(l, lane, partition, false);
    if (!p || !p->assigned || high < 0)
        return;
    p->high = high;
    p->low = low;
    if (p->baseline < 0)
        p->baseline = high;
}

void lanes_set_queued(struct lanes *l, enum lane lane, size_t n)
{
    if ((unsigned)lane < LANES_N)
        l->queued[lane] = n;
}

void lanes_started(struct lanes *l, enum lane lane, size_t n, const size_t ready[LANES_N])
{
    for (int i = (int)lane + 1; i < LANES_N; i++) {
        if (ready[i] == 0)
            continue; /* nothing waiting: nothing earned */
        l->credit[i] += l->share * (double)n;
        if (l->credit[i] > LANES_FLOOR_CAP)
            l->credit[i] = LANES_FLOOR_CAP;
    }
}

size_t lanes_floor(const struct lanes *l, enum lane lane)
{
    return (unsigned)lane < LANES_N ? (size_t)l->credit[lane] : 0;
}

void lanes_floor_used(struct lanes *l, enum lane lane, size_t n)
{
    if ((unsigned)lane >= LANES_N)
        return;
    l->credit[lane] -= (double)n;
    if (l->credit[lane] < 0)
        l->credit[lane] = 0;
}

static int64_t part_lag(const struct lpart *p)
{
    if (!p->assigned || p->high < 0)
        return 0;
    int64_t from = p->next >= 0 ? p->next : p->baseline;
    if (p->low > from)
        from = p->low; /* deleted before it was taken: nothing to wait for */
    return from >= 0 && p->high > from ? p->high - from : 0;
}

int64_t lanes_lag(const struct lanes *l, enum lane lane)
{
    int64_t lag = 0;
    for (size_t s = (size_t)lane; s < l->nparts; s += LANES_N)
        lag += part_lag(&l->parts[s]);
    return lag;
}

bool lanes_mixed(const struct lanes *l)
{
    bool seen[LANES_N] = {false};
    for (size_t s = 0; s < l->nparts; s++)
        seen[s % LANES_N] = seen[s % LANES_N] || l->parts[s].assigned;
    return (seen[0] + seen[1] + seen[2]) > 1;
}

/* Folds the raw counts taken since the last decision into the decaying totals. */
static void fold_intake(struct lanes *l, int64_t now_ms)
{
    double dt = l->decided ? (double)(now_ms - l->decided_ms) : 0;
    double keep = dt > 0 ? exp2(-dt / LANES_HALF_LIFE_MS) : 1.0;
    for (int i = 0; i < LANES_N; i++) {
        if (l->taken[i])
            l->intake_ms = now_ms;
        l->intake[i] = l->intake[i] * keep + (double)l->taken[i];
        l->taken[i] = 0;
    }
}

/* Nothing taken since the start, or for LANES_STALL_MS. */
static bool stalled(const struct lanes *l, int64_t now_ms)
{
    return l->intake_ms < 0 || now_ms - l->intake_ms >= LANES_STALL_MS;
}

/* The lane's share of the recent intake is at most kafka.low_lane_share. */
static bool floor_due(const struct lanes *l, int i, double total)
{
    return l->share > 0 && l->intake[i] <= l->share * total;
}

/* A lane below one with backlog is held unless its floor is due. Nothing is held while the
 * consumer is stalled: there is no intake to share then, and a higher lane whose backlog cannot
 * be taken must not hold the others for ever. */
static bool lane_held(const struct lanes *l, int i, bool higher_backlog, double total, int64_t now_ms)
{
    return higher_backlog && !stalled(l, now_ms) && !floor_due(l, i, total);
}

/* A lane due its floor whose messages wait in Kafka: the lanes above it with backlog are held,
 * so their prefetched messages stop standing in front of its own (lanes.h). */
static void bring_forward(struct lanes *l, const bool backlog[LANES_N], const int64_t lag[LANES_N],
                          double total, int64_t now_ms)
{
    for (int i = LANES_N - 1; i > 0; i--) {
        bool above = false;
        for (int j = 0; j < i; j++)
            above = above || backlog[j];
        if (!above || lag[i] == 0 || !floor_due(l, i, total) || stalled(l, now_ms))
            continue;
        for (int j = 0; j < i; j++)
            l->held[j] = l->held[j] || backlog[j];
        return; /* the lowest starving lane first; the others at the next decision */
    }
}

bool lanes_decide(struct lanes *l, int64_t now_ms, bool held[LANES_N])
{
    bool before[LANES_N];
    memcpy(before, l->held, sizeof before);
    if (!l->decided || now_ms - l->decided_ms >= LANES_EVAL_MS) {
        fold_intake(l, now_ms);
        double total = l->intake[0] + l->intake[1] + l->intake[2];
        bool backlog[LANES_N], higher_backlog = false;
        int64_t lag[LANES_N];
        for (int i = 0; i < LANES_N; i++) {
            lag[i] = lanes_lag(l, (enum lane)i);
            backlog[i] = l->queued[i] > 0 || lag[i] > 0;
            l->held[i] = lane_held(l, i, higher_backlog, total, now_ms);
            higher_backlog = higher_backlog || backlog[i];
        }
        bring_forward(l, backlog, lag, total, now_ms);
        l->decided = true;
        l->decided_ms = now_ms;
    }
    memcpy(held, l->held, sizeof l->held);
    return memcmp(before, l->held, sizeof before) != 0;
}
