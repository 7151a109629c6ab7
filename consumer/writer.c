/* writer.c - the audio-writing thread; see writer.h. */
#include "writer.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct writer {
    pthread_t       thread;
    pthread_mutex_t lock;
    pthread_cond_t  wake;
    struct sink    *sink;
    int             wake_fd;
    struct task    *todo, *done;   /* guarded by lock */
    char            error[512];    /* first failure not yet collected; guarded by lock */
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
        pthread_mutex_unlock(&w->lock);
        char err[512];
        write_batch(w->sink, batch, err, sizeof err);
        pthread_mutex_lock(&w->lock);
        append(&w->done, batch);
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
    if (pthread_create(&w->thread, NULL, run, w) != 0) {
        snprintf(err, errlen, "cannot start the audio writer thread");
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->wake);
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
