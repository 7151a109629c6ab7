/* utf8.h - strict UTF-8 validation and counting.
 *
 * Contacts, CSV cells and job texts arrive as bytes from files and Kafka; the contract says they
 * are UTF-8 and counts text limits in characters (code points), not bytes. These three functions
 * are the single place that decides what "valid UTF-8", "control character" and "character" mean
 * for the whole project, so launch and the consumer can never disagree. */
#ifndef VOXCAST_UTF8_H
#define VOXCAST_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when s[0..len) is well-formed UTF-8 (RFC 3629): rejects overlong forms, UTF-16 surrogates
 * (U+D800-U+DFFF), code points above U+10FFFF, stray continuation bytes and sequences cut short
 * by the end of the buffer. NUL bytes are valid UTF-8 (callers that care check separately).
 * An empty buffer is valid. */
bool utf8_valid(const char *s, size_t len);

/* True when s[0..len) contains a control character: C0 (U+0000-U+001F), DEL (U+007F) or C1
 * (U+0080-U+009F, encoded C2 80..C2 9F). Assumes s is valid UTF-8 (check utf8_valid first). */
bool utf8_has_control(const char *s, size_t len);

/* Number of code points in s[0..len), the contract's "characters". Assumes valid UTF-8: it
 * counts the bytes that are not continuation bytes (10xxxxxx). */
size_t utf8_count(const char *s, size_t len);

#endif
