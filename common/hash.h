/* hash.h - the string hash voxcast's in-memory sets share. */
#ifndef VOXCAST_HASH_H
#define VOXCAST_HASH_H

#include <stddef.h>
#include <stdint.h>

/* FNV-1a over len bytes, with a final avalanche (murmur3's fmix64) so that every bit of the
 * result depends on every byte: callers may take any bits as independent indexes. */
static inline uint64_t hash_bytes(const void *p, size_t len)
{
    const unsigned char *s = p;
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ s[i]) * 1099511628211ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
}

#endif
