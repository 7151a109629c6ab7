/* cachekey.c - the render-once cache key; see cachekey.h.
 *
 * The hashed message is the domain tag "voxcast-cachekey-" CACHEKEY_VERSION and its NUL, then
 * the fields in a fixed order (text, voice, lang, format, model), each as one presence byte
 * (0 absent, 1 present) and, when present, its length as 8 bytes big-endian and its bytes.
 * Such an encoding is prefix-free, so two different requests can only share a key through a
 * SHA-256 collision. Changing anything here (fields, order, encoding) means a new version. */
#include "cachekey.h"

#include <stdint.h>
#include <string.h>

#include "buf.h"

static void cachekey_field(struct buf *m, const char *s)
{
    if (!s) {
        buf_putc(m, 0);
        return;
    }
    uint64_t n = strlen(s);
    buf_putc(m, 1);
    for (int i = 0; i < 8; i++)
        buf_putc(m, (char)(uint8_t)(n >> (56 - 8 * i)));
    buf_append(m, s, (size_t)n);
}

void cachekey(const struct cachekey_req *r, char out[CACHEKEY_LEN + 1])
{
    static const char tag[] = "voxcast-cachekey-" CACHEKEY_VERSION;
    const char *fields[] = {r->text, r->voice, r->lang, r->format, r->model};
    struct buf m = {0};
    buf_append(&m, tag, sizeof tag);   /* with its NUL: the tag ends where the fields start */
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        cachekey_field(&m, fields[i]);
    memcpy(out, CACHEKEY_VERSION "-", sizeof CACHEKEY_VERSION);
    sha256_hex(m.data, m.len, out + sizeof CACHEKEY_VERSION);
    buf_free(&m);
}
