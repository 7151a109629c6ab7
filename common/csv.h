/* csv.h - a streaming RFC 4180 reader for contact lists.
 *
 * Contact files can hold millions of rows, so the reader holds one record at a time: memory stays
 * flat whatever the file size, and buffers are reused from record to record (no allocation per
 * field once the buffers have grown to the widest record). It accepts what spreadsheets write:
 *
 *   - a UTF-8 byte order mark at the very start of the input is dropped;
 *   - records end with LF, CRLF or a lone CR; the last record may end without one;
 *   - quoted fields may hold commas, doubled quotes ("") and line breaks, kept byte for byte
 *     (a CRLF inside quotes stays CRLF);
 *   - a line with no characters at all is skipped (it is not a record of one empty field);
 *   - records may have different numbers of fields: the caller decides what that means.
 *
 * Line numbers are physical: a line break inside a quoted field counts, so a caller can point a
 * user at the exact line of a file (CRLF and a lone CR count as one line break each).
 *
 * The reader does not check UTF-8 (the caller rejects the row, not the file) and does not trim
 * spaces (they are data). A NUL byte in the input is kept in the field; `lens` tells the truth. */
#ifndef VOXCAST_CSV_H
#define VOXCAST_CSV_H

#include <stdio.h>

#define CSV_MAX_RECORD 1048576       /* bytes of one record, line breaks between records excluded */

struct csv_reader;

struct csv_record {
    size_t             nfields;      /* >= 1 */
    const char *const *fields;       /* NUL-terminated; valid until the next csv_next/csv_free */
    const size_t      *lens;         /* byte length of each field (fields may hold NUL) */
    long               line;         /* 1-based physical line where the record starts */
};

/* A reader over fp, which it borrows (the caller closes it after csv_free). */
struct csv_reader *csv_open(FILE *fp);

/* Reads the next record into *rec. Returns 1 for a record, 0 at the end of input, -1 on a
 * malformed record: csv_error() and csv_error_line() then say what and where. The caller may go
 * on after -1: the reader drops the rest of the physical line where the error was found and
 * starts a new record on the next line (an unterminated quote runs to the end of input, so the
 * call after that error returns 0). A read error on fp is also -1, and then the end of input. */
int csv_next(struct csv_reader *r, struct csv_record *rec);

/* The message of the last -1 ("unterminated quoted field", "stray quote in unquoted field",
 * "unexpected character after closing quote", "record longer than 1048576 bytes", "read error:
 * ..."), "" before any error. Owned by the reader. */
const char *csv_error(const struct csv_reader *r);

/* The physical line of the last error: where the quote opened for an unterminated quoted field,
 * otherwise the line of the offending byte. 0 before any error. */
long csv_error_line(const struct csv_reader *r);

/* Frees the reader and its buffers (not fp). NULL-safe. */
void csv_free(struct csv_reader *r);

#endif
