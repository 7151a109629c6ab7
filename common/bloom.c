/* bloom.c - a Bloom filter of byte strings, of fixed size; see bloom.h. */
#include "bloom.h"

#include <stdint.h>
#include <stdlib.h>

#include "hash.h"
#include "xalloc.h"

struct bloom {
    uint64_t *words;
    uint64_t  mask; /* bits - 1 */
};

struct bloom *bloom_new(unsigned log2_bits)
{
    if (log2_bits < 6)
        log2_bits = 6;
    struct bloom *b = xmalloc(sizeof *b);
    uint64_t bits = (uint64_t)1 << log2_bits;
    b->words = xcalloc(bits / 64, sizeof *b->words);
    b->mask = bits - 1;
    return b;
}

/* Sets one bit; returns whether it was clear. */
static bool set_bit(struct bloom *b, uint64_t bit)
{
    uint64_t *w = &b->words[bit >> 6], m = (uint64_t)1 << (bit & 63);
    bool was_clear = !(*w & m);
    *w |= m;
    return was_clear;
}

bool bloom_add(struct bloom *b, const char *s, size_t len)
{
    uint64_t h = hash_bytes(s, len);
    bool first = set_bit(b, h & b->mask);
    bool second = set_bit(b, (h >> 32 | h << 32) & b->mask);
    return first || second;
}

void bloom_free(struct bloom *b)
{
    if (!b)
        return;
    free(b->words);
    free(b);
}
