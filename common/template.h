/* template.h - `{{name}}` message templates.
 *
 * A campaign's text is one template rendered once per contact ("Hi {{first_name}}, ..."), so it
 * is compiled once (split into literal text and placeholders) and rendered a million times with
 * no parsing and no allocation beyond the output buffer.
 *
 * Syntax: `{{name}}` or `{{ name }}` (spaces and tabs allowed around the name), where a name is
 * one or more of [A-Za-z0-9_.-]. A `{` or `}` that does not start a `{{` is literal text, and so
 * is a `}}` outside a placeholder: `{"a": 1}` and `50% }}` need no escaping. A `{{` with no `}}`
 * after it, or whose content is not a valid name, is a compile error, so a typo never reaches a
 * contact's ear as "curly curly first name". The template must be valid UTF-8. */
#ifndef VOXCAST_TEMPLATE_H
#define VOXCAST_TEMPLATE_H

#include <stddef.h>

#include "buf.h"

struct template;

/* Compiles text (NUL-terminated). Returns a template the caller frees with template_free(), or
 * NULL with a message in err naming the place, e.g. "{{ at line 1 column 4 has no closing }}",
 * "bad placeholder {{first name}} at line 2 column 7: a name is [A-Za-z0-9_.-]+", "template is not
 * valid UTF-8". */
struct template *template_compile(const char *text, char *err, size_t errlen);

/* Number of placeholders, in order of appearance, a repeated name counted each time. */
size_t template_nvars(const struct template *t);

/* Name of placeholder i (< template_nvars), without braces or spaces. Owned by the template. */
const char *template_var(const struct template *t, size_t i);

/* Gives the value of placeholder var_index (its name is template_var(t, var_index)) and its
 * length in *len; NULL when there is none. The value is only read during the call. */
typedef const char *(*template_lookup_fn)(void *ctx, size_t var_index, size_t *len);

/* Appends the rendered text to out, asking lookup for each placeholder in order. Returns 0, or
 * -1 when a lookup gave NULL or an empty value: *missing (if missing is not NULL) is then that
 * placeholder's name (owned by the template) and out holds the text rendered so far, which the
 * caller discards (e.g. by resetting out to its length before the call). */
int template_render(const struct template *t, template_lookup_fn lookup, void *ctx,
                    struct buf *out, const char **missing);

/* Frees the template. NULL-safe. */
void template_free(struct template *t);

#endif
