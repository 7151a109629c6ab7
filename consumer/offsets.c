/* offsets.c - per-partition commit watermarks; see offsets.h for the contract.
 *
 * Each partition keeps a ring (a deque) of the offsets it is holding, oldest first, each with a
 * finished flag. Finishing the head pops it and every finished offset behind it, moving the
 * watermark; finishing any other offset only sets its flag. Offsets in the ring are strictly
 * increasing, so finding one is an index computation when the partition has no holes
 * (offset - head offset) and a binary search when it does. Partitions live in an array indexed
 * by partition number: Kafka numbers them 0..N-1 and a consumer holds a handful. */
#include "offsets.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

#define RING_MIN_CAP 16

struct entry {
    int64_t offset;
    bool    done;
};

struct part {
    bool          active;       /* tracked since the last forget */
    struct entry *ring;         /* cap slots; entries at head .. head+len-1 (mod cap) */
    size_t        cap;
    size_t        head;
    size_t        len;
    size_t        pending;      /* entries not done */
    int64_t       last_tracked; /* newest tracked offset */
    int64_t       next_after;   /* last popped (finished) offset + 1: the watermark when empty */
    int64_t       reported;     /* highest position advance() returned, or the start position */
};

struct offsets {
    struct part *parts;         /* indexed by partition number */
    size_t       nparts;
};

/* ---- ring ---------------------------------------------------------------------------------- */

static struct entry *ring_at(const struct part *pt, size_t i)
{
    return &pt->ring[(pt->head + i) % pt->cap];
}

/* Reallocates to new_cap (>= len), laying the entries out from index 0. */
static void ring_resize(struct part *pt, size_t new_cap)
{
    struct entry *r = xmalloc(new_cap * sizeof *r);
    for (size_t i = 0; i < pt->len; i++)
        r[i] = *ring_at(pt, i);
    free(pt->ring);
    pt->ring = r;
    pt->cap = new_cap;
    pt->head = 0;
}

static void ring_push(struct part *pt, int64_t offset)
{
    if (pt->len == pt->cap)
        ring_resize(pt, pt->cap ? pt->cap * 2 : RING_MIN_CAP);
    *ring_at(pt, pt->len) = (struct entry){ .offset = offset, .done = false };
    pt->len++;
    pt->pending++;
}

/* Gives memory back once a backlog has drained to a quarter of the ring. */
static void ring_maybe_shrink(struct part *pt)
{
    if (pt->cap > RING_MIN_CAP && pt->len * 4 <= pt->cap)
        ring_resize(pt, pt->cap / 2);
}

/* Pops the finished prefix, moving the watermark. */
static void ring_pop_done(struct part *pt)
{
    while (pt->len > 0 && ring_at(pt, 0)->done) {
        pt->next_after = ring_at(pt, 0)->offset + 1;
        pt->head = (pt->head + 1) % pt->cap;
        pt->len--;
    }
    ring_maybe_shrink(pt);
}

/* Drops the tail entries with offset >= from (a redelivery will track them again). */
static void ring_drop_from(struct part *pt, int64_t from)
{
    while (pt->len > 0 && ring_at(pt, pt->len - 1)->offset >= from) {
        if (!ring_at(pt, pt->len - 1)->done)
            pt->pending--;
        pt->len--;
    }
    ring_maybe_shrink(pt);
}

/* Index of `offset` in the ring, or -1. */
static ptrdiff_t ring_find(const struct part *pt, int64_t offset)
{
    if (pt->len == 0 || offset < ring_at(pt, 0)->offset || offset > pt->last_tracked)
        return -1;
    uint64_t guess = (uint64_t)(offset - ring_at(pt, 0)->offset);
    if (guess < pt->len && ring_at(pt, (size_t)guess)->offset == offset)
        return (ptrdiff_t)guess;    /* no holes before it: the usual case */
    size_t lo = 0, hi = pt->len;    /* search [lo, hi) */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t v = ring_at(pt, mid)->offset;
        if (v == offset)
            return (ptrdiff_t)mid;
        if (v < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* ---- partitions ---------------------------------------------------------------------------- */

static struct part *part_get(const struct offsets *o, int32_t partition)
{
    if (!o || partition < 0 || (size_t)partition >= o->nparts)
        return NULL;
    struct part *pt = &o->parts[partition];
    return pt->active ? pt : NULL;
}

static struct part *part_get_or_add(struct offsets *o, int32_t partition)
{
    size_t idx = (size_t)partition;
    if (idx >= o->nparts) {
        size_t n = o->nparts ? o->nparts : 8;
        while (n <= idx)
            n *= 2;
        o->parts = xrealloc(o->parts, n * sizeof *o->parts);
        memset(o->parts + o->nparts, 0, (n - o->nparts) * sizeof *o->parts);
        o->nparts = n;
    }
    return &o->parts[idx];
}

static void part_start(struct part *pt, int64_t offset)
{
    pt->active = true;
    pt->head = 0;
    pt->len = 0;
    pt->pending = 0;
    pt->next_after = offset;
    pt->reported = offset;
    pt->last_tracked = offset;
    ring_push(pt, offset);
}

/* ---- public -------------------------------------------------------------------------------- */

struct offsets *offsets_new(void)
{
    struct offsets *o = xcalloc(1, sizeof *o);
    return o;
}

void offsets_free(struct offsets *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->nparts; i++)
        free(o->parts[i].ring);
    free(o->parts);
    free(o);
}

int64_t offsets_track(struct offsets *o, int32_t partition, int64_t offset)
{
    if (partition < 0 || offset < 0)
        return 0;
    struct part *pt = part_get_or_add(o, partition);
    if (!pt->active) {
        part_start(pt, offset);
        return 0;
    }
    int64_t gap = 0;
    if (offset <= pt->last_tracked)
        ring_drop_from(pt, offset);                 /* redelivery: rewind the tail */
    else
        gap = offset - pt->last_tracked - 1;
    pt->last_tracked = offset;
    ring_push(pt, offset);
    return gap;
}

void offsets_done(struct offsets *o, int32_t partition, int64_t offset)
{
    struct part *pt = part_get(o, partition);
    if (!pt)
        return;
    ptrdiff_t i = ring_find(pt, offset);
    if (i < 0 || ring_at(pt, (size_t)i)->done)
        return;
    ring_at(pt, (size_t)i)->done = true;
    pt->pending--;
    if (i == 0)
        ring_pop_done(pt);
}

int64_t offsets_advance(struct offsets *o, int32_t partition)
{
    struct part *pt = part_get(o, partition);
    if (!pt)
        return -1;
    int64_t pos = pt->len > 0 ? ring_at(pt, 0)->offset : pt->next_after;
    if (pos <= pt->reported)
        return -1;
    pt->reported = pos;
    return pos;
}

size_t offsets_in_flight(const struct offsets *o, int32_t partition)
{
    const struct part *pt = part_get(o, partition);
    return pt ? pt->pending : 0;
}

size_t offsets_held(const struct offsets *o, int32_t partition)
{
    const struct part *pt = part_get(o, partition);
    return pt ? pt->len : 0;
}

void offsets_forget(struct offsets *o, int32_t partition)
{
    if (!o || partition < 0 || (size_t)partition >= o->nparts)
        return;
    struct part *pt = &o->parts[partition];
    free(pt->ring);
    memset(pt, 0, sizeof *pt);
}
