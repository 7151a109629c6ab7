/* cachekey.h - the render-once cache key: which spoken request a piece of audio answers.
 *
 * Voxcast pays a provider once per distinct sound: a campaign that says the same sentence to a
 * thousand contacts should render it once and reuse the audio. The key names the request, not
 * the provider or the contact: the exact text bytes (no trimming or case folding: a different
 * byte may be said differently), the voice, the language, the output format and the model,
 * each as the job carries it. Two requests share a key exactly when all five are equal.
 *
 * The key is "v1-" and 64 lowercase hex digits (67 characters, safe in file names, Redis keys
 * and S3 object names): the SHA-256 of a versioned, unambiguous encoding of the five fields
 * (see cachekey.c). Every field is length-prefixed, so ("ab", "c") and ("a", "bc") differ, and
 * carries a presence byte, so an absent field (NULL) differs from an empty one (""). The version
 * is both hashed and printed: a future change of the encoding bumps it, so its keys can neither
 * equal nor be mistaken for this one's, and old entries are visibly old. Pure and thread-safe
 * (it builds the message in a struct buf: out of memory aborts, as everywhere). */
#ifndef VOXCAST_CACHEKEY_H
#define VOXCAST_CACHEKEY_H

#include "sha256.h"

#define CACHEKEY_VERSION "v1"
#define CACHEKEY_LEN (sizeof CACHEKEY_VERSION + SHA256_HEX_LEN)   /* "v1-" + hex, without NUL */

/* The spoken request; every field borrowed, NUL-terminated, NULL when the job leaves it out. */
struct cachekey_req {
    const char *text;
    const char *voice;
    const char *lang;
    const char *format;   /* the job's output format name ("wav", "mp3", "ulaw_8000", ...) */
    const char *model;
};

/* Writes the key of *r to out (CACHEKEY_LEN characters and a NUL). Cannot fail. */
void cachekey(const struct cachekey_req *r, char out[CACHEKEY_LEN + 1]);

#endif
