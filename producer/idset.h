/* idset.h - a set of byte strings, for finding repeated contact ids in a --dry-run (a real
 * launch asks Redis instead, so its memory stays flat). Open addressing, FNV-1a. */
#ifndef VOXCAST_IDSET_H
#define VOXCAST_IDSET_H

#include <stdbool.h>
#include <stddef.h>

struct idset;

struct idset *idset_new(void);
bool idset_add(struct idset *s, const char *id, size_t len);  /* false when already present */
void idset_free(struct idset *s);                              /* NULL-safe */

#endif
