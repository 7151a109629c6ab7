/* sha256.c - SHA-256 through libcrypto's EVP interface; see sha256.h.
 *
 * The algorithm is fetched once per process (EVP_MD_fetch): the implicit fetch that
 * EVP_sha256() implies in OpenSSL 3 looks the provider up under a lock on every digest, which
 * costs more than hashing a short contact id. libcrypto is in the process anyway (libcurl uses
 * it for TLS). A failure inside libcrypto for an in-memory digest can only be an allocation
 * failure or a broken installation; both are fatal, as out of memory is everywhere else. */
#include "sha256.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "xalloc.h"

static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static EVP_MD        *md;

static void md_fetch(void)
{
    md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256_md(void)
{
    pthread_once(&md_once, md_fetch);
    if (!md) {
        fprintf(stderr, "voxcast: libcrypto has no SHA256 (is OpenSSL installed correctly?)\n");
        abort();
    }
    return md;
}

static void check(int ok)
{
    if (!ok)
        xalloc_fail(0);   /* libcrypto reports an allocation failure as 0 */
}

void sha256_init(struct sha256_ctx *c)
{
    EVP_MD_CTX *evp = EVP_MD_CTX_new();
    if (!evp)
        xalloc_fail(sizeof(void *));
    check(EVP_DigestInit_ex2(evp, sha256_md(), NULL));
    c->evp = evp;
}

void sha256_update(struct sha256_ctx *c, const void *data, size_t len)
{
    if (len > 0)
        check(EVP_DigestUpdate(c->evp, data, len));
}

void sha256_final(struct sha256_ctx *c, uint8_t out[SHA256_DIGEST_LEN])
{
    check(EVP_DigestFinal_ex(c->evp, out, NULL));
    EVP_MD_CTX_free(c->evp);
    c->evp = NULL;
}

void sha256(const void *data, size_t len, uint8_t out[SHA256_DIGEST_LEN])
{
    check(EVP_Digest(len > 0 ? data : "", len, out, NULL, sha256_md(), NULL));
}

void sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t d[SHA256_DIGEST_LEN];
    sha256(data, len, d);
    for (int i = 0; i < SHA256_DIGEST_LEN; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[SHA256_HEX_LEN] = '\0';
}
