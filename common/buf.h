/* buf.h - a growable byte buffer, the one string builder of the project.
 *
 * A struct buf owns `data` (always NUL-terminated when len > 0 or after any append, so it can be
 * used as a C string for text). Appends grow geometrically; an allocation failure aborts the
 * process (there is no sensible recovery from OOM in a worker, and it keeps every caller simple).
 * Zero-initialise (`struct buf b = {0};`) to start; buf_free() releases and resets. */
#ifndef VOXCAST_BUF_H
#define VOXCAST_BUF_H

#include <stddef.h>

struct buf {
    char  *data;  /* owned; NULL until the first append */
    size_t len;   /* bytes used, excluding the trailing NUL */
    size_t cap;   /* bytes allocated */
};

void buf_reserve(struct buf *b, size_t extra);           /* room for `extra` more bytes */
void buf_append(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_reset(struct buf *b);                            /* len = 0, keeps the memory */
void buf_free(struct buf *b);                             /* frees, back to {0}; NULL-safe */
char *buf_steal(struct buf *b);                           /* hands `data` to the caller (free()) */

#endif
