/* template.c - compile and render `{{name}}` templates; see template.h for the syntax.
 *
 * The compiled form keeps one private copy of the source. Literal pieces are spans of that copy,
 * and each placeholder name is NUL-terminated in place: the byte right after a name is a space,
 * a tab or the first `}` of its `}}`, never literal text, so overwriting it costs nothing. A
 * template with n placeholders is n + 1 literal spans (some empty) around n names. */
#include "template.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"
#include "xalloc.h"

struct tpl_span {
    size_t off, len;                 /* a literal piece: text[off..off+len) */
};

struct template {
    char            *text;           /* owned copy of the source, names NUL-terminated in it */
    size_t           nvars;
    const char     **vars;           /* nvars names, pointing into text */
    struct tpl_span *lits;           /* nvars + 1 literal pieces */
};

static bool tpl_name_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-';
}

static bool tpl_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Upper bound of the number of placeholders: the non-overlapping `{{` in text. */
static size_t tpl_count_opens(const char *text)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, "{{")) != NULL; p += 2)
        n++;
    return n;
}

/* Line and column (1-based, column in characters) of byte offset off, for error messages. */
static void tpl_where(const char *text, size_t off, long *line, size_t *col)
{
    size_t start = 0;
    *line = 1;
    for (size_t i = 0; i < off; i++)
        if (text[i] == '\n') {
            (*line)++;
            start = i + 1;
        }
    *col = utf8_count(text + start, off - start) + 1;
}

/* Parses the placeholder whose `{{` is at text[open]: on success stores its name (trimmed and
 * NUL-terminated in place) and returns the offset just past its `}}`; returns 0 on error. */
static size_t tpl_placeholder(char *text, size_t open, const char **name, char *err, size_t errlen)
{
    long line;
    size_t col;
    char *close = strstr(text + open + 2, "}}");
    if (!close) {
        tpl_where(text, open, &line, &col);
        snprintf(err, errlen, "{{ at line %ld column %zu has no closing }}", line, col);
        return 0;
    }
    char *b = text + open + 2, *e = close;
    while (b < e && tpl_space(*b))
        b++;
    while (e > b && tpl_space(e[-1]))
        e--;
    bool ok = b < e;
    for (char *p = b; ok && p < e; p++)
        ok = tpl_name_char((unsigned char)*p);
    if (!ok) {
        tpl_where(text, open, &line, &col);
        int inner = (int)(close - (text + open + 2));
        snprintf(err, errlen, "bad placeholder {{%.*s}} at line %ld column %zu: a name is "
                 "[A-Za-z0-9_.-]+", inner > 60 ? 60 : inner, text + open + 2, line, col);
        return 0;
    }
    size_t end = (size_t)(close - text) + 2;
    *e = '\0';
    *name = b;
    return end;
}

/* Splits t->text into literal spans and placeholders; 0, or -1 with err set. */
static int tpl_parse(struct template *t, char *err, size_t errlen)
{
    char *text = t->text;
    size_t lit = 0; /* start of the current literal piece */
    size_t i = 0;
    for (;;) {
        char *open = strstr(text + i, "{{");
        if (!open)
            break;
        size_t at = (size_t)(open - text);
        const char *name;
        size_t next = tpl_placeholder(text, at, &name, err, errlen);
        if (next == 0)
            return -1;
        t->lits[t->nvars] = (struct tpl_span){lit, at - lit};
        t->vars[t->nvars++] = name;
        lit = i = next;
    }
    t->lits[t->nvars] = (struct tpl_span){lit, strlen(text + lit)};
    return 0;
}

struct template *template_compile(const char *text, char *err, size_t errlen)
{
    if (!utf8_valid(text, strlen(text))) {
        snprintf(err, errlen, "template is not valid UTF-8");
        return NULL;
    }
    size_t max = tpl_count_opens(text);
    struct template *t = xcalloc(1, sizeof *t);
    t->text = xstrdup(text);
    t->vars = xcalloc(max, sizeof *t->vars);
    t->lits = xcalloc(max + 1, sizeof *t->lits);
    if (tpl_parse(t, err, errlen) < 0) {
        template_free(t);
        return NULL;
    }
    return t;
}

size_t template_nvars(const struct template *t)
{
    return t->nvars;
}

const char *template_var(const struct template *t, size_t i)
{
    return i < t->nvars ? t->vars[i] : NULL;
}

int template_render(const struct template *t, template_lookup_fn lookup, void *ctx,
                    struct buf *out, const char **missing)
{
    for (size_t i = 0; i < t->nvars; i++) {
        buf_append(out, t->text + t->lits[i].off, t->lits[i].len);
        size_t len = 0;
        const char *v = lookup(ctx, i, &len);
        if (!v || len == 0) {
            if (missing)
                *missing = t->vars[i];
            return -1;
        }
        buf_append(out, v, len);
    }
    buf_append(out, t->text + t->lits[t->nvars].off, t->lits[t->nvars].len);
    return 0;
}

void template_free(struct template *t)
{
    if (!t)
        return;
    free(t->text);
    free(t->vars);
    free(t->lits);
    free(t);
}
