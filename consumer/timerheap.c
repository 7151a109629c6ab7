/* timerheap.c - binary min-heap of timers; see timerheap.h.
 *
 * An array heap ordered by (due_ms, seq): seq is a per-heap counter taken at push, which makes
 * the order total and equal due times first-in first-out, something a plain binary heap does not
 * give. The array grows by doubling and never shrinks: its high-water mark is the in-flight cap. */
#include "timerheap.h"

#include <stdlib.h>

#include "xalloc.h"

struct timer {
    int64_t  due_ms;
    uint64_t seq;       /* push order, breaks ties */
    void    *data;
};

struct timerheap {
    struct timer *t;    /* t[0] is the earliest; children of i are 2i+1 and 2i+2 */
    size_t        len;
    size_t        cap;
    uint64_t      next_seq;
};

static bool earlier(const struct timer *a, const struct timer *b)
{
    return a->due_ms < b->due_ms || (a->due_ms == b->due_ms && a->seq < b->seq);
}

static void sift_up(struct timer *t, size_t i)
{
    struct timer x = t[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!earlier(&x, &t[parent]))
            break;
        t[i] = t[parent];
        i = parent;
    }
    t[i] = x;
}

static void sift_down(struct timer *t, size_t len, size_t i)
{
    struct timer x = t[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= len)
            break;
        if (child + 1 < len && earlier(&t[child + 1], &t[child]))
            child++;
        if (!earlier(&t[child], &x))
            break;
        t[i] = t[child];
        i = child;
    }
    t[i] = x;
}

struct timerheap *timerheap_new(void)
{
    struct timerheap *h = xcalloc(1, sizeof *h);
    return h;
}

void timerheap_free(struct timerheap *h)
{
    if (!h)
        return;
    free(h->t);
    free(h);
}

void timerheap_push(struct timerheap *h, int64_t due_ms, void *data)
{
    if (h->len == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 64;
        h->t = xrealloc(h->t, h->cap * sizeof *h->t);
    }
    h->t[h->len] = (struct timer){ .due_ms = due_ms, .seq = h->next_seq++, .data = data };
    sift_up(h->t, h->len);
    h->len++;
}

bool timerheap_next_due(const struct timerheap *h, int64_t *due_ms)
{
    if (h->len == 0)
        return false;
    if (due_ms)
        *due_ms = h->t[0].due_ms;
    return true;
}

void *timerheap_pop_due(struct timerheap *h, int64_t now_ms)
{
    if (h->len == 0 || h->t[0].due_ms > now_ms)
        return NULL;
    void *data = h->t[0].data;
    h->len--;
    if (h->len > 0) {
        h->t[0] = h->t[h->len];
        sift_down(h->t, h->len, 0);
    }
    return data;
}

size_t timerheap_len(const struct timerheap *h)
{
    return h->len;
}
