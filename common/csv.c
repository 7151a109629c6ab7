/* csv.c - streaming RFC 4180 reader; see csv.h for the accepted dialect.
 *
 * One byte-at-a-time state machine over a private 64 KiB input buffer (stdio's getc would take
 * the stream lock per byte). A record's field bytes go into one reusable byte array, each field
 * followed by a NUL; fields are remembered as offsets while the array may still move, and turned
 * into pointers only when the record is complete. After the first few records nothing allocates.
 *
 * Line breaks are counted as they are consumed: CR counts, LF counts unless it directly follows a
 * CR, so LF, CRLF and a lone CR are one line each, inside quotes or not. A CRLF that ends a record
 * is read as CR (the record ends) and then an LF at the start of the next record, which the
 * blank-line rule skips without counting it again. */
#include "csv.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

#define CSV_INBUF 65536

enum csv_state {
    CSV_FIELD_START,     /* at the start of a field (after a comma or at the record start) */
    CSV_UNQUOTED,        /* inside an unquoted field */
    CSV_QUOTED,          /* inside a quoted field */
    CSV_QUOTE_SEEN,      /* a quote inside a quoted field: doubled quote or the closing one */
};

struct csv_reader {
    FILE          *fp;                /* borrowed */
    unsigned char  in[CSV_INBUF];     /* input buffer */
    size_t         in_pos, in_len;    /* unread bytes are in[in_pos..in_len) */
    bool           started;           /* first fill done (the BOM check) */
    bool           eof;               /* fp is exhausted or failed; no more reads */
    int            io_errno;          /* errno of a read error not yet reported, else 0 */
    bool           skip_line;         /* after an error: drop the rest of the physical line */
    bool           prev_cr;           /* the last byte consumed was CR */
    long           line;              /* physical line of the next byte */
    long           cline;             /* physical line of the last byte consumed */

    char          *data;              /* field bytes of the current record, NUL after each */
    size_t         dlen, dcap;
    size_t        *starts;            /* offset of each field in data */
    size_t        *lens;              /* length of each field */
    const char   **fields;            /* pointers, built when the record is complete */
    size_t         nfields, fcap;
    size_t         rec_bytes;         /* raw bytes consumed by the current record */

    char           err[96];           /* last error message */
    long           err_line;          /* and its line */
};

struct csv_reader *csv_open(FILE *fp)
{
    struct csv_reader *r = xcalloc(1, sizeof *r);
    r->fp = fp;
    r->line = 1;
    return r;
}

void csv_free(struct csv_reader *r)
{
    if (!r)
        return;
    free(r->data);
    free(r->starts);
    free(r->lens);
    free(r->fields);
    free(r);
}

const char *csv_error(const struct csv_reader *r)
{
    return r->err;
}

long csv_error_line(const struct csv_reader *r)
{
    return r->err_line;
}

/* Refills the input buffer; false at the end of input or on a read error (io_errno set). */
static bool csv_fill(struct csv_reader *r)
{
    if (r->eof)
        return false;
    r->in_pos = 0;
    r->in_len = fread(r->in, 1, sizeof r->in, r->fp);
    if (r->in_len == 0) {
        r->eof = true;
        if (ferror(r->fp))
            r->io_errno = errno ? errno : EIO;
        return false;
    }
    if (!r->started) {
        r->started = true;
        if (r->in_len >= 3 && memcmp(r->in, "\xEF\xBB\xBF", 3) == 0)
            r->in_pos = 3;
        if (r->in_pos == r->in_len)
            return csv_fill(r);
    }
    return true;
}

/* The next byte, or EOF; keeps the physical line count. */
static inline int csv_getc(struct csv_reader *r)
{
    if (r->in_pos == r->in_len && !csv_fill(r))
        return EOF;
    int c = r->in[r->in_pos++];
    r->cline = r->line;
    if (c == '\r' || (c == '\n' && !r->prev_cr))
        r->line++;
    r->prev_cr = c == '\r';
    return c;
}

static int csv_fail(struct csv_reader *r, long line, const char *msg)
{
    snprintf(r->err, sizeof r->err, "%s", msg);
    r->err_line = line;
    return -1;
}

/* Makes room for n more bytes of field data. */
static void csv_reserve(struct csv_reader *r, size_t n)
{
    if (r->dlen + n <= r->dcap)
        return;
    size_t cap = r->dcap ? r->dcap : 1024;
    while (cap < r->dlen + n)
        cap *= 2;
    r->data = xrealloc(r->data, cap);
    r->dcap = cap;
}

static inline void csv_put(struct csv_reader *r, int c)
{
    if (r->dlen == r->dcap)
        csv_reserve(r, 1);
    r->data[r->dlen++] = (char)c;
}

/* Ends the current field, which started at offset `start` of data. */
static void csv_end_field(struct csv_reader *r, size_t start)
{
    if (r->nfields == r->fcap) {
        size_t cap = r->fcap ? r->fcap * 2 : 16;
        r->starts = xrealloc(r->starts, cap * sizeof *r->starts);
        r->lens = xrealloc(r->lens, cap * sizeof *r->lens);
        r->fields = xrealloc(r->fields, cap * sizeof *r->fields);
        r->fcap = cap;
    }
    r->starts[r->nfields] = start;
    r->lens[r->nfields] = r->dlen - start;
    r->nfields++;
    csv_put(r, '\0');
}

static void csv_end_record(struct csv_reader *r, struct csv_record *rec, long line)
{
    for (size_t i = 0; i < r->nfields; i++)
        r->fields[i] = r->data + r->starts[i];
    rec->nfields = r->nfields;
    rec->fields = r->fields;
    rec->lens = r->lens;
    rec->line = line;
}

/* After an error: the rest of the physical line is not trusted. */
static void csv_skip_line(struct csv_reader *r)
{
    int c;
    do
        c = csv_getc(r);
    while (c != EOF && c != '\n' && c != '\r');
}

/* Skips blank lines; returns the first byte of the record (EOF at the end) and its line. */
static int csv_record_start(struct csv_reader *r, long *line)
{
    int c;
    do
        c = csv_getc(r);
    while (c == '\n' || c == '\r');
    *line = r->cline;
    return c;
}

/* Where the state machine is inside one record. */
struct csv_pos {
    enum csv_state st;
    size_t         field;        /* offset in data where the current field starts */
    long           quote_line;   /* line of the opening quote of the current field */
};

enum csv_step { CSV_MORE, CSV_FIELD, CSV_FAIL };

/* Feeds byte c (or EOF), found on line `at`, to the state machine. CSV_FIELD means c ended the
 * current field (a comma, a line break or EOF); CSV_FAIL means the error is set. */
static enum csv_step csv_step(struct csv_reader *r, struct csv_pos *p, int c, long at)
{
    bool eol = c == EOF || c == '\n' || c == '\r';
    switch (p->st) {
    case CSV_FIELD_START:
        p->field = r->dlen;
        if (c == '"') {
            p->st = CSV_QUOTED;
            p->quote_line = at;
            return CSV_MORE;
        }
        p->st = CSV_UNQUOTED;
        /* fall through */
    case CSV_UNQUOTED:
        if (c == '"') {
            r->skip_line = true;
            csv_fail(r, at, "stray quote in unquoted field");
            return CSV_FAIL;
        }
        if (c == ',' || eol)
            return CSV_FIELD;
        break;
    case CSV_QUOTED:
        if (c == '"') {
            p->st = CSV_QUOTE_SEEN;
            return CSV_MORE;
        }
        if (c == EOF) {
            csv_fail(r, p->quote_line, "unterminated quoted field");
            return CSV_FAIL;
        }
        break;
    case CSV_QUOTE_SEEN:
        if (c == ',' || eol)
            return CSV_FIELD;
        if (c != '"') {
            r->skip_line = true;
            csv_fail(r, at, "unexpected character after closing quote");
            return CSV_FAIL;
        }
        p->st = CSV_QUOTED; /* a doubled quote stands for one */
        break;
    }
    csv_put(r, c);
    return CSV_MORE;
}

/* Reads one record whose first byte, c (not EOF), is on line rec_line. */
static int csv_parse(struct csv_reader *r, struct csv_record *rec, int c, long rec_line)
{
    struct csv_pos p = {CSV_FIELD_START, 0, rec_line};
    for (;;) {
        long at = r->cline; /* line of c (meaningless for EOF) */
        bool ends = c == EOF || ((c == '\n' || c == '\r') && p.st != CSV_QUOTED);
        if (!ends && r->rec_bytes++ == CSV_MAX_RECORD) {
            r->skip_line = c != '\n' && c != '\r';
            return csv_fail(r, at, "record longer than 1048576 bytes");
        }
        switch (csv_step(r, &p, c, at)) {
        case CSV_FAIL:
            return -1;
        case CSV_FIELD:
            csv_end_field(r, p.field);
            if (ends) {
                csv_end_record(r, rec, rec_line);
                return 1;
            }
            p.st = CSV_FIELD_START;
            break;
        case CSV_MORE:
            break;
        }
        c = csv_getc(r);
    }
}

/* A read error is reported once, whether it hit between records or inside one (whose bytes
 * are then incomplete and dropped). */
static int csv_io_error(struct csv_reader *r)
{
    char msg[80];
    snprintf(msg, sizeof msg, "read error: %s", strerror(r->io_errno));
    r->io_errno = 0;
    return csv_fail(r, r->line, msg);
}

int csv_next(struct csv_reader *r, struct csv_record *rec)
{
    if (r->skip_line) {
        r->skip_line = false;
        csv_skip_line(r);
    }
    r->dlen = 0;
    r->nfields = 0;
    r->rec_bytes = 0;
    long line;
    int c = csv_record_start(r, &line);
    if (r->io_errno)
        return csv_io_error(r);
    if (c == EOF)
        return 0;
    int rc = csv_parse(r, rec, c, line);
    if (r->io_errno)
        return csv_io_error(r);
    return rc;
}
