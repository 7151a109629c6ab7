/* sink.h - audio files, written whole: aside, synced, then renamed into place.
 *
 * Path: <output.dir>/<campaign>/<name>.<format>, where <name> follows names.h (the contact id,
 * or "sha256=<hex>" for ids that are not plain), so no job can write outside its campaign folder.
 * Files are staged in batches: sink_stage() writes each to a hidden temporary name beside its
 * target, sink_commit() makes the batch durable with one syncfs(2) (instead of an fsync per
 * file), renames each into place and syncs again so the renames are durable before the caller
 * marks the contacts done in Redis. A reader never sees a partial file. */
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

/* Where a contact's audio lands (for logs, reports and tests). */
void sink_path(const struct sink *s, const char *campaign, const char *contact, size_t contact_len,
               const char *format, char *out, size_t outlen);

#endif
