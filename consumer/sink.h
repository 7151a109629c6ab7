/* sink.h - audio stored whole under its contact's name: on disk, or in an S3-compatible store.
 *
 * Name: <campaign>/<name>.<ext>, where <name> follows names.h (the contact id, or
 * "sha256=<hex>" for ids that are not plain), so no job can write outside its campaign folder.
 * Two backends keep that name (sink_backend.h), chosen by output.uri (sink_open):
 *
 * Files (file:///ABS/PATH, or output.dir when output.uri is empty): <dir>/<campaign>/<name>.<ext>.
 * A file is written aside as an unnamed O_TMPFILE inode in its campaign folder, and linked to its
 * name once whole: no temporary directory entry to create and remove (on ext4 most of a small
 * file's cost) and nothing left behind when the process is killed. Where O_TMPFILE or /proc is
 * missing, a hidden temporary name is renamed instead. A name that exists already is replaced
 * atomically (link aside, rename). With fsync on, files are staged in batches: sink_commit()
 * makes the batch durable with one syncfs(2) (instead of an fsync per file), links each into
 * place and syncs again, so the names are durable before the caller marks the contacts done in
 * Redis. With fsync off, sink_stage() puts each file in place at once. A reader never sees a
 * partial file.
 *
 * S3 (s3://BUCKET/PREFIX, with s3.endpoint, s3.region, s3.path_style and the AWS_* credentials
 * of s3.h): object key PREFIX/<campaign>/<name>.<ext>. sink_stage() keeps a copy of the bytes;
 * sink_commit() PUTs the batch concurrently (s3.h) and succeeds only when the store answered 200
 * to every object, so a contact is marked done only once its whole object is stored. A PUT
 * replaces an object whole: a contact stored again overwrites the same key, and a reader never
 * sees a partial object. On failure nothing of the batch counts and the caller stages it again.
 *
 * A sink is used by one thread at a time (the writer's). */
#ifndef VOXCAST_SINK_H
#define VOXCAST_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sink;

struct config;

/* The sink output.uri names: "" (files under output.dir), file:///ABS/PATH or s3://BUCKET/PREFIX
 * (with the s3.* keys; credentials from the environment). NULL + err for a malformed URI or
 * missing credentials (a configuration error). */
struct sink *sink_open(const struct config *cfg, char *err, size_t errlen);

/* What sink_open would say about cfg, keeping nothing and logging nothing: start-up asks before
 * connecting anywhere, so a bad output.uri is reported as the configuration error it is.
 * 0, or -1 + err. */
int sink_check(const struct config *cfg, char *err, size_t errlen);

/* Files under output_dir (made absolute here, once). Cannot fail (xalloc.h). */
struct sink *sink_new(const char *output_dir, bool fsync);
void sink_free(struct sink *s);                               /* NULL-safe; drops staged leftovers */

/* Holds data for (campaign, contact, format): a temporary file, or a copy for the next PUT.
 * format is the file extension ("wav", "mp3"). Returns 0, or -1 with err (disk full,
 * permission): nothing is left behind for that file. */
int sink_stage(struct sink *s, const char *campaign, const char *contact, size_t contact_len,
               const char *format, const void *data, size_t len, char *err, size_t errlen);

/* Holds a copy of the audio at src_uri, which a sink of the same kind gave (sink_uri: the
 * render-once cache's entry, cache.h), for (campaign, contact, format), made durable by the next
 * sink_commit like staged data. Files: a hard link to the source (its bytes copied where a link is
 * refused: another file system, the link limit), linked aside and renamed into place; nothing is
 * done when the name is that very file already. S3: a server-side copy at commit (a PUT with
 * x-amz-copy-source, no body). When the source is gone - no such file, an S3 404, a file whose
 * size is not `bytes` (replaced by other audio; 0: not checked), or a URI of the other kind of
 * store - *gone is set to true (files at once, S3 at commit), nothing is placed, and the commit
 * does not fail for it. *gone must stay valid until the commit. 0, or -1 + err. */
int sink_stage_copy(struct sink *s, const char *campaign, const char *contact, size_t contact_len,
                    const char *format, const char *src_uri, uint64_t bytes, bool *gone, char *err,
                    size_t errlen);

/* Makes every staged object durable under its name (files: sync and rename; S3: PUT each and
 * wait for the store's 200s), then empties the batch. Returns 0, or -1 with err; on -1 what was
 * not yet in place is dropped and the caller retries the whole batch (placing a complete object
 * over itself again is harmless). */
int sink_commit(struct sink *s, char *err, size_t errlen);

/* The URI of a contact's audio as a reader elsewhere names it (file:///ABS/PATH or
 * s3://BUCKET/KEY, the key unencoded), for the results stream. Writes "" when it does not fit. */
void sink_uri(const struct sink *s, const char *campaign, const char *contact, size_t contact_len,
              const char *format, char *out, size_t outlen);

/* Where a contact's audio lands (for logs, reports and tests): the path as output.dir gives it,
 * or the s3:// URI. */
void sink_path(const struct sink *s, const char *campaign, const char *contact, size_t contact_len,
               const char *format, char *out, size_t outlen);

#endif
