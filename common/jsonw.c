/* jsonw.c - direct JSON writing; see jsonw.h. */
#include "jsonw.h"

#include <inttypes.h>
#include <string.h>

void jsonw_str(struct buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    buf_reserve(b, len + 2);
    buf_putc(b, '"');
    size_t run = 0; /* bytes copied verbatim in one append */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        buf_append(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': buf_puts(b, "\\\""); break;
        case '\\': buf_puts(b, "\\\\"); break;
        case '\n': buf_puts(b, "\\n"); break;
        case '\r': buf_puts(b, "\\r"); break;
        case '\t': buf_puts(b, "\\t"); break;
        default: {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            buf_append(b, esc, sizeof esc);
        }
        }
    }
    buf_append(b, s + run, len - run);
    buf_putc(b, '"');
}

void jsonw_cstr(struct buf *b, const char *s)
{
    if (s)
        jsonw_str(b, s, strlen(s));
    else
        buf_puts(b, "null");
}

void jsonw_key(struct buf *b, const char *key)
{
    if (b->len > 0 && b->data[b->len - 1] != '{')
        buf_putc(b, ',');
    jsonw_cstr(b, key);
    buf_putc(b, ':');
}

void jsonw_int(struct buf *b, int64_t v)
{
    buf_printf(b, "%" PRId64, v);
}
