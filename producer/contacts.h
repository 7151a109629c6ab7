/* contacts.h - one row source over a contacts file: CSV with a header row, or JSON Lines.
 *
 * The launch binds the names it needs (id column, template placeholders, --meta columns) to
 * slots once; then every row answers contacts_slot(c, i) in O(1) for CSV (a column index) and
 * by key lookup for JSON Lines. Rows stream: memory does not grow with the file. */
#ifndef VOXCAST_CONTACTS_H
#define VOXCAST_CONTACTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct contacts;

/* Opens `path` (".jsonl"/".ndjson" = JSON Lines, anything else CSV) and reads the CSV header.
 * NULL + err ("contacts.csv: no header row", "contacts.csv: No such file or directory"). */
struct contacts *contacts_open(const char *path, char *err, size_t errlen);
void contacts_free(struct contacts *c);                      /* NULL-safe */

/* Binds slot i to names[i]. For CSV a name missing from the header is an error naming it and
 * the columns present; JSON Lines cannot know its keys in advance and always succeeds. */
int contacts_bind(struct contacts *c, const char *const *names, size_t n, char *err, size_t errlen);

/* Next row: 1 row, 0 end, -1 a row that cannot be read (err says why; contacts_line() gives its
 * line): the caller rejects it and calls again. A fatal read error also returns -1 and sets
 * *fatal. */
int contacts_next(struct contacts *c, char *err, size_t errlen, bool *fatal);
long contacts_line(const struct contacts *c);                 /* first line of the current row */

/* The current row's value for slot i, or NULL when the row has no such field (len set). The
 * value may hold any bytes (NUL included) and is valid until the next contacts_next, or the next
 * contacts_slot for the same slot (a JSON Lines number is printed into a per-slot buffer). */
const char *contacts_slot(struct contacts *c, size_t i, size_t *len);

int64_t contacts_bytes_read(const struct contacts *c);       /* progress */
int64_t contacts_bytes_total(const struct contacts *c);      /* file size, 0 when unknown */

#endif
