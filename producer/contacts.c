/* contacts.c - CSV / JSON Lines row source; see contacts.h. */
#include "contacts.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "csv.h"
#include "xalloc.h"

#define MAX_SLOTS 256

struct contacts {
    const char        *path;
    FILE              *fp;
    bool               jsonl;
    int64_t            size;
    long               line;
    /* CSV */
    struct csv_reader *csv;
    struct csv_record  rec;
    char             **header;
    size_t             ncols;
    long               slot_col[MAX_SLOTS];
    /* JSON Lines */
    char              *raw;        /* current line (getline buffer) */
    size_t             rawcap;
    json_t            *obj;
    long               next_line;
    struct buf         slot_text[MAX_SLOTS];  /* numbers/bools rendered as text */
    /* both */
    const char        *names[MAX_SLOTS];
    size_t             nslots;
};

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int read_header(struct contacts *c, char *err, size_t errlen)
{
    int rc = csv_next(c->csv, &c->rec);
    if (rc == 0) {
        snprintf(err, errlen, "%s: no header row (the file is empty)", c->path);
        return -1;
    }
    if (rc < 0) {
        snprintf(err, errlen, "%s:%ld: header: %s", c->path, csv_error_line(c->csv), csv_error(c->csv));
        return -1;
    }
    c->ncols = c->rec.nfields;
    c->header = xcalloc(c->ncols, sizeof *c->header);
    for (size_t i = 0; i < c->ncols; i++)
        c->header[i] = xstrdup(c->rec.fields[i]);
    return 0;
}

struct contacts *contacts_open(const char *path, char *err, size_t errlen)
{
    struct contacts *c = xcalloc(1, sizeof *c);
    c->path = path;
    c->jsonl = ends_with(path, ".jsonl") || ends_with(path, ".ndjson");
    c->fp = fopen(path, "r");
    if (!c->fp) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        free(c);
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(c->fp), &st) == 0 && S_ISREG(st.st_mode))
        c->size = st.st_size;
    if (!c->jsonl) {
        c->csv = csv_open(c->fp);
        if (read_header(c, err, errlen) != 0) {
            contacts_free(c);
            return NULL;
        }
    }
    return c;
}

void contacts_free(struct contacts *c)
{
    if (!c)
        return;
    csv_free(c->csv);
    for (size_t i = 0; i < c->ncols; i++)
        free(c->header[i]);
    free(c->header);
    free(c->raw);
    json_decref(c->obj);
    for (size_t i = 0; i < MAX_SLOTS; i++)
        buf_free(&c->slot_text[i]);
    if (c->fp)
        fclose(c->fp);
    free(c);
}

static long find_column(const struct contacts *c, const char *name)
{
    for (size_t i = 0; i < c->ncols; i++)
        if (strcmp(c->header[i], name) == 0)
            return (long)i;
    return -1;
}

static void list_columns(const struct contacts *c, struct buf *b)
{
    for (size_t i = 0; i < c->ncols; i++)
        buf_printf(b, "%s%s", i ? ", " : "", c->header[i]);
}

int contacts_bind(struct contacts *c, const char *const *names, size_t n, char *err, size_t errlen)
{
    if (n > MAX_SLOTS) {
        snprintf(err, errlen, "too many columns in use (at most %d)", MAX_SLOTS);
        return -1;
    }
    c->nslots = n;
    for (size_t i = 0; i < n; i++) {
        c->names[i] = names[i];
        if (c->jsonl)
            continue;
        c->slot_col[i] = find_column(c, names[i]);
        if (c->slot_col[i] < 0) {
            struct buf cols = {0};
            list_columns(c, &cols);
            snprintf(err, errlen, "%s: no column \"%s\" in the header (columns: %s)", c->path,
                     names[i], cols.data ? cols.data : "");
            buf_free(&cols);
            return -1;
        }
    }
    return 0;
}

static int next_csv(struct contacts *c, char *err, size_t errlen, bool *fatal)
{
    int rc = csv_next(c->csv, &c->rec);
    if (rc < 0) {
        c->line = csv_error_line(c->csv);
        snprintf(err, errlen, "%s", csv_error(c->csv));
        *fatal = ferror(c->fp) != 0;
        return -1;
    }
    if (rc == 0)
        return 0;
    c->line = c->rec.line;
    if (c->rec.nfields > c->ncols) {
        snprintf(err, errlen, "%zu fields, but the header has %zu", c->rec.nfields, c->ncols);
        return -1;
    }
    return 1;
}

/* Reads one line into c->raw, at most CSV_MAX_RECORD bytes of it (the CSV reader's limit): a
 * longer line is read to its end and thrown away, so one runaway line cannot take the memory
 * of the whole file. Returns the length, -1 at the end of the file (or a read error), or -2
 * for a line over the limit. */
static ssize_t read_line(struct contacts *c)
{
    if (!c->raw) {
        c->rawcap = 4096;
        c->raw = xmalloc(c->rawcap);
    }
    size_t n = 0;
    bool over = false;
    int ch;
    while ((ch = getc_unlocked(c->fp)) != EOF && ch != '\n') {
        if (n == CSV_MAX_RECORD) {
            over = true;
            continue;
        }
        if (n + 2 > c->rawcap) {
            c->rawcap *= 2;
            c->raw = xrealloc(c->raw, c->rawcap);
        }
        c->raw[n++] = (char)ch;
    }
    if (ch == EOF && n == 0 && !over)
        return -1;
    c->raw[n] = '\0';
    return over ? -2 : (ssize_t)n;
}

static int next_jsonl(struct contacts *c, char *err, size_t errlen, bool *fatal)
{
    for (;;) {
        ssize_t n = read_line(c);
        if (n == -1) {
            *fatal = ferror(c->fp) != 0;
            if (*fatal)
                snprintf(err, errlen, "read error: %s", strerror(errno));
            return *fatal ? -1 : 0;
        }
        c->line = ++c->next_line;
        if (n == -2) {
            snprintf(err, errlen, "line longer than %d bytes", CSV_MAX_RECORD);
            return -1;
        }
        while (n > 0 && (c->raw[n - 1] == '\n' || c->raw[n - 1] == '\r'))
            c->raw[--n] = '\0';
        if (n == 0)
            continue; /* blank line */
        json_decref(c->obj);
        json_error_t je;
        c->obj = json_loadb(c->raw, (size_t)n, 0, &je);
        if (!c->obj || !json_is_object(c->obj)) {
            snprintf(err, errlen, c->obj ? "not a JSON object" : "invalid JSON: %s", je.text);
            json_decref(c->obj);
            c->obj = NULL;
            return -1;
        }
        return 1;
    }
}

int contacts_next(struct contacts *c, char *err, size_t errlen, bool *fatal)
{
    *fatal = false;
    return c->jsonl ? next_jsonl(c, err, errlen, fatal) : next_csv(c, err, errlen, fatal);
}

long contacts_line(const struct contacts *c)
{
    return c->line;
}

/* JSON values become template text: strings as they are, numbers and booleans printed,
 * null and containers count as no value. */
static const char *json_slot(struct contacts *c, size_t i, size_t *len)
{
    json_t *v = json_object_get(c->obj, c->names[i]);
    struct buf *t = &c->slot_text[i];
    buf_reset(t);
    if (json_is_string(v)) {
        *len = json_string_length(v);
        return json_string_value(v);
    }
    if (json_is_integer(v))
        buf_printf(t, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        buf_printf(t, "%.17g", json_real_value(v));
    else if (json_is_boolean(v))
        buf_puts(t, json_is_true(v) ? "true" : "false");
    else
        return NULL;
    *len = t->len;
    return t->data;
}

const char *contacts_slot(struct contacts *c, size_t i, size_t *len)
{
    *len = 0;
    if (i >= c->nslots)
        return NULL;
    if (c->jsonl)
        return json_slot(c, i, len);
    size_t col = (size_t)c->slot_col[i];
    if (col >= c->rec.nfields)
        return NULL;
    *len = c->rec.lens[col];
    return c->rec.fields[col];
}

int64_t contacts_bytes_read(const struct contacts *c)
{
    long pos = ftell(c->fp);
    return pos < 0 ? 0 : pos;
}

int64_t contacts_bytes_total(const struct contacts *c)
{
    return c->size;
}
