/* bloom.h - a Bloom filter of byte strings, of fixed size.
 *
 * Answers "certainly never added" or "maybe added" in constant memory, however many strings go
 * in: launch uses one so that contacts of a campaign it just created, whose ids it has certainly
 * not met before in the file, are reserved in Redis without Redis reading their state first.
 * A "maybe" only costs the slower, exact path, so the filter may fill up: with 2^25 bits and two
 * probes, about 0.3% of a million ids and 20% of ten million come back "maybe". */
#ifndef VOXCAST_BLOOM_H
#define VOXCAST_BLOOM_H

#include <stdbool.h>
#include <stddef.h>

struct bloom;

struct bloom *bloom_new(unsigned log2_bits);                 /* 2^log2_bits bits; aborts on OOM */
bool bloom_add(struct bloom *b, const char *s, size_t len);  /* true when s was certainly absent */
void bloom_free(struct bloom *b);                            /* NULL-safe */

#endif
