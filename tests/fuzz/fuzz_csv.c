/* fuzz_csv.c - libFuzzer target for the streaming CSV reader (common/csv.c).
 *
 * Contact lists are the one input a user hands us whole, from any spreadsheet, so the reader must
 * survive every byte sequence. The input is read through fmemopen() as a real stdio stream, to
 * the end, going on after errors as launch does. Besides the sanitizers, the reader's own promises
 * are checked: every field is NUL-terminated at its stated length, field bytes never exceed the
 * input, line numbers start at 1, rise and never pass the number of physical lines, an error has
 * a message and a line, the reader makes progress, and the end of input stays the end.
 *
 * Inputs are far smaller than the reader's 64 KiB input buffer, so on their own they never make
 * it refill mid-record. An input that starts with the byte 0x01 (which no spreadsheet writes
 * first) is therefore also read behind 65536 - 256 + data[1] blank lines (LF), which puts the
 * buffer boundary somewhere in the first 256 bytes of the rest (data[2..]): the records and errors
 * must then be exactly those of data[2..] read alone, that many lines lower. A split CRLF, a
 * doubled quote cut in two or a resync across the boundary shows up as a difference. Blank lines
 * rather than one long field keep this mode cheap: the reader skips them in its tightest loop. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "csv.h"

#define PAD_MODE 0x01
#define PAD_BASE (65536 - 256)   /* blank lines of padding before the shift byte is added */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken promise is a bug just like a sanitizer report: say which, and crash. */
static void fuzz_check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_csv: %s\n", what);
        abort();
    }
}

/* Physical lines as the reader counts them: CR, and LF not after a CR, each end one. */
static long count_lines(const uint8_t *in, size_t size)
{
    long n = 1;
    for (size_t i = 0; i < size; i++)
        if (in[i] == '\r' || (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')))
            n++;
    return n;
}

static void check_record(const struct csv_record *rec, size_t size, long *last_line, long max_line)
{
    size_t total = 0;
    fuzz_check(rec->nfields >= 1, "record without fields");
    for (size_t i = 0; i < rec->nfields; i++) {
        fuzz_check(rec->fields[i][rec->lens[i]] == '\0', "field not NUL-terminated at its length");
        total += rec->lens[i];
    }
    fuzz_check(total <= size, "field bytes exceed the input");
    fuzz_check(rec->line >= 1 && rec->line <= max_line, "record line out of range");
    fuzz_check(rec->line > *last_line, "record line did not advance");
    *last_line = rec->line;
}

static void check_error(const struct csv_reader *r, long max_line)
{
    const char *msg = csv_error(r);
    fuzz_check(msg != NULL && msg[0] != '\0', "error without a message");
    fuzz_check(csv_error_line(r) >= 1 && csv_error_line(r) <= max_line, "error line out of range");
}

/* Appends one result to the transcript: lines shifted by `shift`, fields with their lengths. */
static void note_record(struct buf *t, const struct csv_record *rec, long shift)
{
    buf_printf(t, "R%ld:%zu;", rec->line - shift, rec->nfields);
    for (size_t i = 0; i < rec->nfields; i++) {
        buf_printf(t, "%zu:", rec->lens[i]);
        buf_append(t, rec->fields[i], rec->lens[i]);
    }
}

/* Reads in[0..size) to the end, checking every result; writes what was read to *t (lines
 * lowered by `shift`) when t is not NULL. */
static void read_all(const uint8_t *in, size_t size, long shift, struct buf *t)
{
    FILE *fp = fmemopen((void *)in, size, "r");
    fuzz_check(fp != NULL, "fmemopen failed");
    struct csv_reader *r = csv_open(fp);
    fuzz_check(r != NULL, "csv_open failed");
    long max_line = count_lines(in, size), last_line = 0;
    struct csv_record rec;
    int rc;
    /* Every call consumes at least one byte or ends the input, so size + 1 calls always suffice. */
    size_t calls = 0;
    while ((rc = csv_next(r, &rec)) != 0) {
        fuzz_check(++calls <= size + 1, "reader does not make progress");
        if (rc == 1)
            check_record(&rec, size, &last_line, max_line);
        else
            check_error(r, max_line);
        if (t) {
            if (rc == 1)
                note_record(t, &rec, shift);
            else
                buf_printf(t, "E%ld:%s;", csv_error_line(r) - shift, csv_error(r));
        }
    }
    fuzz_check(csv_next(r, &rec) == 0, "end of input did not stay the end");
    csv_free(r);
    fclose(fp);
}

/* data[2..] alone and behind the blank lines must read the same. */
static void read_across_boundary(const uint8_t *data, size_t size)
{
    const uint8_t *rest = data + 2;
    size_t nrest = size - 2, pad = PAD_BASE + data[1];
    uint8_t *in = malloc(pad + nrest);
    if (!in)
        return;
    memset(in, '\n', pad);
    memcpy(in + pad, rest, nrest);

    struct buf alone = {0}, behind = {0};
    read_all(in, pad + nrest, (long)pad, &behind);
    /* A leading BOM is dropped only at the very start, so then the two readings differ. */
    if (nrest > 0 && !(nrest >= 3 && memcmp(rest, "\xEF\xBB\xBF", 3) == 0)) {
        read_all(rest, nrest, 0, &alone);
        bool same = alone.len == behind.len &&
                    (alone.len == 0 || memcmp(alone.data, behind.data, alone.len) == 0);
        if (!same) {
            fprintf(stderr, "alone:  %.*s\nbehind: %.*s\n", (int)alone.len, alone.data,
                    (int)behind.len, behind.data);
            fuzz_check(0, "reading differs across the input buffer boundary");
        }
    }
    buf_free(&alone);
    buf_free(&behind);
    free(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;   /* fmemopen refuses an empty buffer; the unit tests cover empty input */
    read_all(data, size, 0, NULL);
    if (size >= 2 && data[0] == PAD_MODE)
        read_across_boundary(data, size);
    return 0;
}
