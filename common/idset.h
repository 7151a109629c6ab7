/* idset.h - a set of byte strings (open addressing, hash.h, tombstones).
 *
 * Used where a small exact set is needed in memory: repeated ids in a launch --dry-run (a real
 * launch asks Redis, so its memory stays flat), and the consumer's index of contacts in flight,
 * which keeps two deliveries of one contact from rendering at the same time. */
#ifndef VOXCAST_IDSET_H
#define VOXCAST_IDSET_H

#include <stdbool.h>
#include <stddef.h>

struct idset;

struct idset *idset_new(void);
bool idset_add(struct idset *s, const char *id, size_t len);     /* false when already present */
bool idset_remove(struct idset *s, const char *id, size_t len);  /* false when absent */
size_t idset_len(const struct idset *s);
void idset_free(struct idset *s);                                 /* NULL-safe */

#endif
