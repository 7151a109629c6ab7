/* idset.c - string set; see idset.h. */
#include "idset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct slot {
    char    *id;   /* NUL-free copy not assumed: compare with len */
    size_t   len;
    uint64_t hash;
};

struct idset {
    struct slot *slots;
    size_t       cap, used;
};

static uint64_t fnv1a(const char *s, size_t len)
{
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

struct idset *idset_new(void)
{
    struct idset *s = calloc(1, sizeof *s);
    s->cap = 1024;
    s->slots = calloc(s->cap, sizeof *s->slots);
    return s;
}

static struct slot *find(struct slot *slots, size_t cap, const char *id, size_t len, uint64_t h)
{
    for (size_t i = h & (cap - 1);; i = (i + 1) & (cap - 1)) {
        struct slot *sl = &slots[i];
        if (!sl->id || (sl->hash == h && sl->len == len && memcmp(sl->id, id, len) == 0))
            return sl;
    }
}

static void grow(struct idset *s)
{
    size_t cap = s->cap * 2;
    struct slot *slots = calloc(cap, sizeof *slots);
    for (size_t i = 0; i < s->cap; i++)
        if (s->slots[i].id)
            *find(slots, cap, s->slots[i].id, s->slots[i].len, s->slots[i].hash) = s->slots[i];
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
}

bool idset_add(struct idset *s, const char *id, size_t len)
{
    if ((s->used + 1) * 4 > s->cap * 3)
        grow(s);
    uint64_t h = fnv1a(id, len);
    struct slot *sl = find(s->slots, s->cap, id, len, h);
    if (sl->id)
        return false;
    sl->id = malloc(len ? len : 1);
    memcpy(sl->id, id, len);
    sl->len = len;
    sl->hash = h;
    s->used++;
    return true;
}

void idset_free(struct idset *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->cap; i++)
        free(s->slots[i].id);
    free(s->slots);
    free(s);
}
