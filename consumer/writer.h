/* writer.h - audio converted into the job's format and written, on a thread of their own.
 *
 * The consumer's loop hands over the tasks whose audio must be written (writer_submit) and takes
 * them back once their files are in place (writer_collect), so the file system's work - on ext4
 * about a quarter of a job's cost - and the conversion run beside the loop instead of inside it.
 * Whatever is waiting when the thread wakes is one batch: each task's audio (a whole WAV or MP3
 * file, as provider.h delivers it) is first converted into its job's format (convert.h:
 * ulaw_8000, alaw_8000, wav_8000, wav_16000, mp3; nothing is done when it already is that
 * format), then the batch is written through the sink (sink.h: one syncfs per batch when fsync
 * is on) under <name>.<out_format_ext()>, so every WAV kind ends in .wav. A task is the
 * writer's between submit and collect: the loop must not touch it. The thread wakes the loop by
 * writing a byte to wake_fd.
 *
 * A job rendered in children (parts.h) comes as one task with its children attached: a long
 * text's parts are each converted, then joined (audiojoin.h) into the one file of the job, whose
 * duration is the sum of the parts'; a job with variants writes one file per variant,
 * <name>.<variant>.<ext>, each variant's own uri, duration_ms, bytes and sha256 filled in on its
 * child, and the job's duration_ms and bytes the sums (no uri or sha256 of its own). A variant
 * child may also come alone (a variant rendered or copied for the render-once cache, cache.h):
 * it is written like a job under <name>.<variant>.<ext>, its parts joined; a job's children
 * already written (file_written) are then left as they are when the job comes. Parts of a
 * "wav" job that differ in rate or codec (rendered by different providers) are all made
 * wav_16000 first, so they join. When a
 * child's audio cannot be used (not convertible, or parts that do not join), the job comes back
 * not convertible with those children's outcome OUTCOME_NONE: the loop renders them again
 * (parts_reopen), the rest is kept.
 *
 * A copy (task copy_from set, cache.h) is not converted: the sink links or copies that audio
 * under the contact's name (sink_stage_copy), durable with its batch; its duration_ms, bytes and
 * sha256 are the cached audio's, set before. A copy whose source is gone comes back not written
 * with copy_gone set, and no error: the loop hands it to the cache again.
 *
 * Conversion costs 80-500 µs of CPU a job (bench/convert.sh) and made the one writer thread the
 * consumer's bottleneck, so a batch is converted on a small pool (one helper thread per core
 * beside the writer's own, at most three, named "vx-convert"), then written as one. */
#ifndef VOXCAST_WRITER_H
#define VOXCAST_WRITER_H

#include <stdbool.h>
#include <stddef.h>

#include "sink.h"
#include "task.h"

struct writer;

/* Starts the thread; it owns sink from now on. NULL + err when the thread cannot start (sink is
 * freed then too). */
struct writer *writer_new(struct sink *sink, int wake_fd, char *err, size_t errlen);

/* Finishes the batch in hand, stops the thread, frees the sink, and returns every task still in
 * the writer (submitted, written or not) as a list through *left for the caller to free. */
void writer_free(struct writer *w, struct task **left);

/* Hands over a list of tasks (linked by next, ending in NULL) with audio to write. */
void writer_submit(struct writer *w, struct task *head);

/* Waits (up to timeout_ms) until every task handed over has been handled, so that a collect
 * then returns them all. True when the writer is idle. */
bool writer_wait_idle(struct writer *w, int timeout_ms);

/* Takes back the tasks handled since the last call, as a list (NULL if none), each in one of
 * three states:
 *   - written: file_written is true, the audio freed, and what was delivered is filled in:
 *     uri (sink_uri), duration_ms (computed from the audio as saved), bytes and sha256 (hex of
 *     the exact bytes written);
 *   - not written: file_written false, outcome still OUTCOME_DONE, the audio kept (already
 *     converted), the reason in err (when err is not NULL and the first failure of the call):
 *     to write again later;
 *   - not convertible: outcome OUTCOME_NONE, the audio freed, t->error saying why ("the audio
 *     cannot be converted to ulaw_8000: ..."). The provider's answer passed audio_validate but
 *     will not become the job's format: the loop treats that as a retryable failure of the
 *     provider that rendered it (t->pidx) and renders the job again. */
struct task *writer_collect(struct writer *w, char *err, size_t errlen);

#endif
