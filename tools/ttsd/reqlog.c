/* reqlog.c - a mutex-guarded ring of JSON texts; see reqlog.h. */
#include "reqlog.h"

#include <stdlib.h>

#include "jsonw.h"
#include "xalloc.h"

void reqlog_init(struct reqlog *l, size_t cap)
{
    *l = (struct reqlog){.cap = cap ? cap : 1};
    l->ring = xcalloc(l->cap, sizeof *l->ring);
    pthread_mutex_init(&l->lock, NULL);
}

static void drop_all(struct reqlog *l)
{
    for (size_t i = 0; i < l->cap; i++) {
        free(l->ring[i]);
        l->ring[i] = NULL;
    }
    l->next = l->count = 0;
    l->total = 0;
}

void reqlog_free(struct reqlog *l)
{
    if (!l || !l->ring)
        return;
    drop_all(l);
    free(l->ring);
    l->ring = NULL;
    pthread_mutex_destroy(&l->lock);
}

void reqlog_add(struct reqlog *l, char *entry)
{
    pthread_mutex_lock(&l->lock);
    free(l->ring[l->next]);
    l->ring[l->next] = entry;
    l->next = (l->next + 1) % l->cap;
    if (l->count < l->cap)
        l->count++;
    l->total++;
    pthread_mutex_unlock(&l->lock);
}

void reqlog_to_json(struct reqlog *l, struct buf *out)
{
    pthread_mutex_lock(&l->lock);
    buf_putc(out, '{');
    jsonw_key(out, "total");
    jsonw_int(out, (int64_t)l->total);
    jsonw_key(out, "kept");
    jsonw_int(out, (int64_t)l->count);
    jsonw_key(out, "dropped");
    jsonw_int(out, (int64_t)(l->total - l->count));
    jsonw_key(out, "requests");
    buf_putc(out, '[');
    size_t first = (l->next + l->cap - l->count) % l->cap;
    for (size_t i = 0; i < l->count; i++) {
        if (i > 0)
            buf_putc(out, ',');
        buf_puts(out, l->ring[(first + i) % l->cap]);
    }
    buf_puts(out, "]}");
    pthread_mutex_unlock(&l->lock);
}

void reqlog_reset(struct reqlog *l)
{
    pthread_mutex_lock(&l->lock);
    drop_all(l);
    pthread_mutex_unlock(&l->lock);
}
