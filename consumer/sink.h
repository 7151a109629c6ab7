/* sink.h - audio files, written whole: aside, synced, then put into place.
 *
 * Path: <output.dir>/<campaign>/<name>.<format>, where <name> follows names.h (the contact id,
 * or "sha256=<hex>" for ids that are not plain), so no job can write outside its campaign folder.
 * A file is written aside as an unnamed O_TMPFILE inode in its campaign folder, and linked to its
 * name once whole: no temporary directory entry to create and remove (on ext4 most of a small
 * file's cost) and nothing left behind when the process is killed. Where O_TMPFILE or /proc is
 * missing, a hidden temporary name is renamed instead. A name that exists already is replaced
 * atomically (link aside, rename). With fsync on, files are staged in batches: sink_commit()
 * makes the batch durable with one syncfs(2) (instead of an fsync per file), links each into
 * place and syncs again, so the names are durable before the caller marks the contacts done in
 * Redis. With fsync off, sink_stage() puts each file in place at once. A reader never sees a
 * partial file. */
#ifndef VOXCAST_SINK_H
#define VOXCAST_SINK_H

#include <stdbool.h>
#include <stddef.h>

struct sink;

struct sink *sink_new(const char *output_dir, bool fsync);    /* NULL-safe free below */
void sink_free(struct sink *s);                               /* removes staged leftovers */

/* Writes data to a temporary file for (campaign, contact, format). Returns 0, or -1 with err
 * (disk full, permission): nothing is left behind for that file. */
int sink_stage(struct sink *s, const char *campaign, const char *contact, size_t contact_len,
               const char *format, const void *data, size_t len, char *err, size_t errlen);

/* Syncs and renames every staged file, then empties the batch. Returns 0, or -1 with err; on -1
 * the files not yet renamed are removed and the caller retries the whole batch (renaming a
 * complete file over itself again is harmless). */
int sink_commit(struct sink *s, char *err, size_t errlen);

/* The URI of a contact's audio as a reader elsewhere names it (file:///ABS/PATH), for the
 * results stream. Writes "" when it does not fit. */
void sink_uri(const struct sink *s, const char *campaign, const char *contact, size_t contact_len,
              const char *format, char *out, size_t outlen);

/* Where a contact's audio lands (for logs, reports and tests). */
void sink_path(const struct sink *s, const char *campaign, const char *contact, size_t contact_len,
               const char *format, char *out, size_t outlen);

#endif
