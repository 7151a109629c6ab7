/* sha256.h - SHA-256 (FIPS 180-4), one-shot and incremental.
 *
 * Used to name audio files for contact ids that are not safe as file names (see names.h), and
 * anywhere else an id must become a fixed-size, collision-resistant token. Written from the
 * FIPS 180-4 description so the project needs no crypto library for it; it is not hardened
 * against side channels and is not meant for secrets. */
#ifndef VOXCAST_SHA256_H
#define VOXCAST_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32
#define SHA256_HEX_LEN 64            /* hex digits, without the NUL */

struct sha256_ctx {
    uint32_t h[8];                   /* running hash value H(i) */
    uint64_t nbytes;                 /* message bytes seen so far */
    uint8_t  block[64];              /* pending partial block */
    size_t   nblock;                 /* bytes used in block */
};

/* Start a new hash. */
void sha256_init(struct sha256_ctx *c);
/* Feed len bytes (len may be 0; data may then be NULL). */
void sha256_update(struct sha256_ctx *c, const void *data, size_t len);
/* Finish and write the 32-byte digest; the context must be re-initialised before reuse. */
void sha256_final(struct sha256_ctx *c, uint8_t out[SHA256_DIGEST_LEN]);

/* Digest of data[0..len) in one call. */
void sha256(const void *data, size_t len, uint8_t out[SHA256_DIGEST_LEN]);
/* Digest of data[0..len) as 64 lowercase hex digits plus a NUL. */
void sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN + 1]);

#endif
