/* sha256.h - SHA-256 (FIPS 180-4), one-shot and incremental, computed by OpenSSL's libcrypto.
 *
 * Names audio files for contact ids that are not safe as file names (see names.h), makes cache
 * keys (cachekey.h), signs S3 bodies (s3.h) and fingerprints every delivered audio file for the
 * results stream. The last runs once per job over the whole audio, so speed matters: libcrypto
 * uses the CPU's SHA extensions where it has them (an 8.9 KB WAV: 5.4 µs, against 43 µs for the
 * portable C implementation voxcast had before 0.2.0, on the 2-core machine of README's
 * benchmarks). */
#ifndef VOXCAST_SHA256_H
#define VOXCAST_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32
#define SHA256_HEX_LEN 64            /* hex digits, without the NUL */

struct sha256_ctx {
    void *evp;                       /* libcrypto's EVP_MD_CTX, owned until sha256_final */
};

/* Start a new hash. Out of memory is fatal (xalloc.h). */
void sha256_init(struct sha256_ctx *c);
/* Feed len bytes (len may be 0; data may then be NULL). */
void sha256_update(struct sha256_ctx *c, const void *data, size_t len);
/* Finish, write the 32-byte digest and release the context; sha256_init before reuse. */
void sha256_final(struct sha256_ctx *c, uint8_t out[SHA256_DIGEST_LEN]);

/* Digest of data[0..len) in one call. */
void sha256(const void *data, size_t len, uint8_t out[SHA256_DIGEST_LEN]);
/* Digest of data[0..len) as 64 lowercase hex digits plus a NUL. */
void sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN + 1]);

#endif
