/* rejects.h - the --rejects report: a CSV of rows that were not enqueued.
 *
 * Columns: line,contact,reason (RFC 4180 quoting). A NULL path gives a writer that only counts,
 * so callers need no branches. The report is meant to be opened in a spreadsheet, and its
 * fields come from the user's CSV: a field starting with =, +, -, @, a tab or a carriage return
 * would run as a formula there, so it is written with a leading apostrophe ("'=1+2"), as
 * spreadsheets themselves mark text (OWASP's advice for CSV injection). */
#ifndef VOXCAST_REJECTS_H
#define VOXCAST_REJECTS_H

#include <stddef.h>

struct rejects;

struct rejects *rejects_open(const char *path, char *err, size_t errlen);  /* NULL path: no file */
void rejects_add(struct rejects *r, long line, const char *id, size_t id_len, const char *reason);
int rejects_close(struct rejects *r);  /* flushes; -1 on a write error; NULL-safe */

#endif
