/* jsonw.h - append JSON text to a buf without building a tree.
 *
 * Hot paths (job encoding at launch, log lines) write JSON directly: a jansson tree per line
 * costs several allocations. These helpers escape per RFC 8259: `"` `\` and control characters
 * are escaped, other bytes (UTF-8) are copied as they are. */
#ifndef VOXCAST_JSONW_H
#define VOXCAST_JSONW_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

void jsonw_str(struct buf *b, const char *s, size_t len);   /* "escaped" */
void jsonw_cstr(struct buf *b, const char *s);              /* "escaped", or null when s == NULL */
void jsonw_key(struct buf *b, const char *key);             /* ,"key": (comma unless just after '{') */
void jsonw_int(struct buf *b, int64_t v);

#endif
