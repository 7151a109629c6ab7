/* writer.c - the audio-writing thread; see writer.h. */
#include "writer.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct writer {
    pthread_t       thread;
    pthread_mutex_t lock;
    pthread_cond_t  wake;
    pthread_cond_t  idle;          /* signalled after each batch */
    struct sink    *sink;
    int             wake_fd;
    struct task    *todo, *done;   /* guarded by lock */
    char            error[512];    /* first failure not yet collected; guarded by lock */
    bool            busy;          /* a batch is being written */
    bool            stop;
};

static void append(struct task **list, struct task *more)
{
    while (*list)
        list = &(*list)->next;
    *list = more;
}

/* Writes one batch; marks each task written or not. Returns the first error, "" if none. */
static void write_batch(struct sink *sink, struct task *batch, char *err, size_t errlen)
{
    err[0] = '\0';
    bool staged = false;
    for (struct task *t = batch; t; t = t->next) {
        t->file_written = false;
        if (!err[0] && sink_stage(sink, t->job.campaign, t->job.contact, strlen(t->job.contact),
                                  t->job.format, t->audio.data, t->audio.len, err, errlen) == 0)
            staged = true;
    }
    char commit_err[512];
    if (staged && sink_commit(sink, commit_err, sizeof commit_err) != 0) {
        if (!err[0])
            snprintf(err, errlen, "%s", commit_err);
        return; /* nothing of this batch counts as written: it is all written again */
    }
    if (err[0])
        return; /* the staged ones are in place, but simpler to write the whole batch again */
    for (struct task *t = batch; t; t = t->next) {
        t->file_written = true;
        buf_free(&t->audio);
    }
}

static void *run(void *arg)
{
    struct writer *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->stop && !w->todo)
            pthread_cond_wait(&w->wake, &w->lock);
        if (!w->todo)
            break; /* stopping with nothing left */
        struct task *batch = w->todo;
        w->todo = NULL;
        w->busy = true;
        pthread_mutex_unlock(&w->lock);
        char err[512];
        write_batch(w->sink, batch, err, sizeof err);
        pthread_mutex_lock(&w->lock);
        append(&w->done, batch);
        w->busy = false;
        pthread_cond_broadcast(&w->idle);
        if (err[0] && !w->error[0])
            snprintf(w->error, sizeof w->error, "%s", err);
        ssize_t n = write(w->wake_fd, "w", 1);
        (void)n; /* non-blocking: a full pipe already means "wake up" */
        if (w->stop)
            break;
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

struct writer *writer_new(struct sink *sink, int wake_fd, char *err, size_t errlen)
{
    struct writer *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        sink_free(sink);
        return NULL;
    }
    w->sink = sink;
    w->wake_fd = wake_fd;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    pthread_cond_init(&w->idle, NULL);
    if (pthread_create(&w->thread, NULL, run, w) != 0) {
        snprintf(err, errlen, "cannot start the audio writer thread");
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->wake);
        pthread_cond_destroy(&w->idle);
        sink_free(sink);
        free(w);
        return NULL;
    }
    return w;
}

void writer_free(struct writer *w, struct task **left)
{
    *left = NULL;
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    append(&w->done, w->todo);
    *left = w->done;
    sink_free(w->sink);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->wake);
    pthread_cond_destroy(&w->idle);
    free(w);
}

void writer_submit(struct writer *w, struct task *head)
{
    if (!head)
        return;
    pthread_mutex_lock(&w->lock);
    append(&w->todo, head);
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
}

bool writer_wait_idle(struct writer *w, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->lock);
    int rc = 0;
    while ((w->todo || w->busy) && rc == 0)
        rc = pthread_cond_timedwait(&w->idle, &w->lock, &until);
    bool idle = !w->todo && !w->busy;
    pthread_mutex_unlock(&w->lock);
    return idle;
}

struct task *writer_collect(struct writer *w, char *err, size_t errlen)
{
    pthread_mutex_lock(&w->lock);
    struct task *done = w->done;
    w->done = NULL;
    if (err && errlen)
        snprintf(err, errlen, "%s", w->error);
    w->error[0] = '\0';
    pthread_mutex_unlock(&w->lock);
    return done;
}
