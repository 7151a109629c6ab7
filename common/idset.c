/* idset.c - string set; see idset.h.
 *
 * Linear probing with tombstones: a removed slot keeps probe chains intact and is reused by the
 * next add; the table is rebuilt when live plus dead slots pass three quarters. */
#include "idset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "xalloc.h"

enum { SLOT_EMPTY, SLOT_LIVE, SLOT_DEAD };

struct slot {
    char    *id;
    size_t   len;
    uint64_t hash;
    int      state;
};

struct idset {
    struct slot *slots;
    size_t       cap, live, dead;
};

struct idset *idset_new(void)
{
    struct idset *s = xcalloc(1, sizeof *s);
    s->cap = 1024;
    s->slots = xcalloc(s->cap, sizeof *s->slots);
    return s;
}

/* The live slot holding id, or NULL; *free_slot gets the first reusable slot on the chain. */
static struct slot *find(struct slot *slots, size_t cap, const char *id, size_t len, uint64_t h,
                         struct slot **free_slot)
{
    *free_slot = NULL;
    for (size_t i = h & (cap - 1);; i = (i + 1) & (cap - 1)) {
        struct slot *sl = &slots[i];
        if (sl->state == SLOT_EMPTY) {
            if (!*free_slot)
                *free_slot = sl;
            return NULL;
        }
        if (sl->state == SLOT_DEAD) {
            if (!*free_slot)
                *free_slot = sl;
        } else if (sl->hash == h && sl->len == len && memcmp(sl->id, id, len) == 0) {
            return sl;
        }
    }
}

static void rebuild(struct idset *s, size_t cap)
{
    struct slot *slots = xcalloc(cap, sizeof *slots), *spot;
    for (size_t i = 0; i < s->cap; i++)
        if (s->slots[i].state == SLOT_LIVE) {
            find(slots, cap, s->slots[i].id, s->slots[i].len, s->slots[i].hash, &spot);
            *spot = s->slots[i];
        }
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
    s->dead = 0;
}

bool idset_add(struct idset *s, const char *id, size_t len)
{
    if ((s->live + s->dead + 1) * 4 > s->cap * 3)
        rebuild(s, (s->live + 1) * 4 > s->cap * 2 ? s->cap * 2 : s->cap);
    uint64_t h = hash_bytes(id, len);
    struct slot *spot;
    if (find(s->slots, s->cap, id, len, h, &spot))
        return false;
    if (spot->state == SLOT_DEAD)
        s->dead--;
    spot->id = xmalloc(len);
    memcpy(spot->id, id, len);
    spot->len = len;
    spot->hash = h;
    spot->state = SLOT_LIVE;
    s->live++;
    return true;
}

bool idset_remove(struct idset *s, const char *id, size_t len)
{
    struct slot *spot, *sl = find(s->slots, s->cap, id, len, hash_bytes(id, len), &spot);
    if (!sl)
        return false;
    free(sl->id);
    sl->id = NULL;
    sl->state = SLOT_DEAD;
    s->live--;
    s->dead++;
    return true;
}

size_t idset_len(const struct idset *s)
{
    return s->live;
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
