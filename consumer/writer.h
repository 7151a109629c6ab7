/* writer.h - audio files written on a thread of their own.
 *
 * The consumer's loop hands over the tasks whose audio must be written (writer_submit) and takes
 * them back once their files are in place (writer_collect), so the file system's work - on ext4
 * about a quarter of a job's cost - runs beside the loop instead of inside it. Whatever is
 * waiting when the thread wakes is written as one batch through the sink (sink.h: one syncfs per
 * batch when fsync is on). A task is the writer's between submit and collect: the loop must not
 * touch it. The thread wakes the loop by writing a byte to wake_fd. */
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

/* Takes back the tasks handled since the last call, as a list (NULL if none): file_written is
 * true and the audio freed for each one whose file is in place; false, with the reason in err
 * (when err is not NULL and the first failure of the call), for each one to write again later. */
struct task *writer_collect(struct writer *w, char *err, size_t errlen);

#endif
