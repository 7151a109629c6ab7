/* writer.c - the audio-writing thread; see writer.h. */
#include "writer.h"

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audio.h"
#include "audiojoin.h"
#include "convert.h"
#include "log.h"
#include "parts.h"
#include "sha256.h"
#include "xalloc.h"

/* The writer's conversion helpers: while the writer thread converts a batch, up to
 * WRITER_HELPERS_MAX more threads take tasks of the same batch (fork-join), so conversion runs
 * on as many cores as the machine has to spare, and the batch is still written as one (one
 * syncfs) once every task of it is converted. convert_audio() keeps no shared state. */
#define WRITER_HELPERS_MAX 3

struct helpers {
    pthread_t       threads[WRITER_HELPERS_MAX];
    size_t          n;             /* started */
    pthread_mutex_t lock;
    pthread_cond_t  work;          /* a batch to share, or stop */
    pthread_cond_t  finished;      /* no task of the batch is being converted any more */
    struct task    *next;          /* the batch's next task no thread has taken */
    size_t          busy;          /* tasks taken and not yet converted */
    bool            stop;
};

struct writer {
    pthread_t       thread;
    struct helpers  helpers;
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

/* The job's output format; a decoded job's name always parses (job.h), NULL means wav. */
static enum out_format task_format(const struct task *t)
{
    enum out_format f = OUT_FORMAT_WAV;
    if (t->job.format && out_format_parse(t->job.format, &f) != 0)
        f = OUT_FORMAT_WAV;
    return f;
}

/* With debug logging: one line per converted file, the provider's audio beside what is saved
 * (an operator comparing durations, the format test reading them). */
static void log_conversion(const struct task *t, const struct audio_info *from,
                           const struct convert_info *to)
{
    log_debug("audio converted", LOGS("campaign", t->job.campaign), LOGS("contact", t->job.contact),
              LOGS("format", out_format_name(task_format(t))), LOGN("from_rate", from->sample_rate),
              LOGN("from_codec", from->codec), LOGN("from_ms", from->duration_ms),
              LOGN("rate", to->sample_rate), LOGN("duration_ms", to->duration_ms),
              LOGN("bytes", to->bytes));
}

/* Makes t's audio the file its job asked for and notes what that file is: duration (from the
 * audio), bytes and SHA-256. A provider's answer is a whole WAV or MP3 file (provider.h), so
 * "RIFF" tells the two apart. Doing it again on converted audio is CONVERT_UNCHANGED, so a
 * batch that is written again is not converted twice. -1 + err when the audio will not become
 * that format. */
static int convert_task(struct task *t, char *err, size_t errlen)
{
    bool riff = t->audio.len >= 4 && memcmp(t->audio.data, "RIFF", 4) == 0;
    struct audio_info from = {0};
    bool debug = riff && log_enabled(LOG_DEBUG) &&
                 audio_wav_info(t->audio.data, t->audio.len, &from) == 0;
    struct buf out = {0};
    struct convert_info info;
    int rc = convert_audio(t->audio.data, t->audio.len, riff ? CONVERT_IN_WAV : CONVERT_IN_MP3,
                           task_format(t), &out, &info, err, errlen);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        buf_free(&t->audio);
        t->audio = out;
        if (debug)
            log_conversion(t, &from, &info);
    }
    t->duration_ms = info.duration_ms;
    t->bytes = t->audio.len;
    sha256_hex(t->audio.data, t->audio.len, t->sha256);
    return 0;
}

/* The answer cannot become the job's format: the task goes back unrendered (writer.h). */
static void reject(struct task *t, const char *why)
{
    t->outcome = OUTCOME_NONE;
    snprintf(t->error, sizeof t->error, "the audio cannot be converted to %s: %s",
             out_format_name(task_format(t)), why);
    buf_free(&t->audio);
    t->duration_ms = 0;
    t->bytes = 0;
    t->sha256[0] = '\0';
}

static void convert_leaf(struct task *t)
{
    char why[200];
    if (t->outcome == OUTCOME_DONE && convert_task(t, why, sizeof why) != 0)
        reject(t, why);
}

/* Every part of t goes back to be rendered again: their audio, each fine, did not join. */
static void reject_parts(struct task *t, const char *why)
{
    for (size_t i = 0; i < t->nchildren; i++)
        reject(t->children[i], why);
}

/* The parts' audio, joined in order into t's audio (audiojoin.h); -1 + err when it will not. */
static int join_audio(struct task *t, char *err, size_t errlen)
{
    struct audiojoin_part *jp = xcalloc(t->nchildren, sizeof *jp);
    for (size_t i = 0; i < t->nchildren; i++)
        jp[i] = (struct audiojoin_part){t->children[i]->audio.data, t->children[i]->audio.len};
    int rc = audiojoin(out_format_is_wav(task_format(t)) ? AUDIO_WAV : AUDIO_MP3, jp, t->nchildren, &t->audio,
                       err, errlen);
    free(jp);
    return rc;
}

/* "wav" keeps each provider's own WAV, so parts rendered by different providers (a failover in
 * the middle of a job) may differ in rate or codec and cannot be joined as they are: they are
 * all made 16-bit PCM mono at 16 kHz (wav_16000), which every provider's speech converts to. An
 * MP3 has no such way out (MP3 is not decoded): its parts are rendered again. */
static int parts_to_common_wav(struct task *t)
{
    char why[200];
    for (size_t i = 0; i < t->nchildren; i++) {
        struct task *c = t->children[i];
        struct buf out = {0};
        int rc = convert_audio(c->audio.data, c->audio.len, CONVERT_IN_WAV, OUT_FORMAT_WAV_16000, &out, NULL, why,
                               sizeof why);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            buf_free(&c->audio);
            c->audio = out;
        }
    }
    return 0;
}

/* t's parts (parts.h) become t's audio: each converted into the job's format, then joined in
 * order (audiojoin.h), the parts' audio freed. Done once: a batch written again finds the audio
 * joined. -1 when a part's audio cannot be used (that part rejected, to be rendered again) or
 * the parts do not join (all of them rejected). */
static int join_parts(struct task *t)
{
    char why[200];
    if (t->audio.len == 0) {
        bool ok = true;
        for (size_t i = 0; i < t->nchildren; i++) {
            convert_leaf(t->children[i]);
            ok = ok && t->children[i]->outcome == OUTCOME_DONE;
        }
        if (!ok)
            return -1;
        int rc = join_audio(t, why, sizeof why);
        if (rc != 0 && task_format(t) == OUT_FORMAT_WAV && parts_to_common_wav(t) == 0) {
            log_info("parts of different WAV formats joined as wav_16000", LOGS("campaign", t->job.campaign),
                     LOGS("contact", t->job.contact), LOGS("why", why));
            rc = join_audio(t, why, sizeof why);
        }
        if (rc != 0) {
            reject_parts(t, why);
            return -1;
        }
        for (size_t i = 0; i < t->nchildren; i++)
            buf_free(&t->children[i]->audio);
    }
    if (convert_task(t, why, sizeof why) != 0) { /* joined audio is the format already */
        buf_free(&t->audio);
        reject_parts(t, why);
        return -1;
    }
    return 0;
}

/* One file's audio: a task rendered whole, or joined from its parts. */
static bool convert_file(struct task *t)
{
    if (t->nchildren > 0)
        return join_parts(t) == 0;
    convert_leaf(t);
    return t->outcome == OUTCOME_DONE;
}

/* A job with variants makes one file per variant; what it delivered in all is the sum of them
 * (the results event lists each). */
static bool convert_variants(struct task *t)
{
    bool ok = true;
    t->duration_ms = 0;
    t->bytes = 0;
    t->sha256[0] = '\0';
    for (size_t i = 0; i < t->nchildren; i++) {
        struct task *v = t->children[i];
        ok = (v->file_written || convert_file(v)) && ok; /* written alone before (cache.h) */
        t->duration_ms += v->duration_ms;
        t->bytes += v->bytes;
    }
    return ok;
}

/* A task comes back unwritten (outcome OUTCOME_NONE) when some audio of it cannot be used; for
 * a job in children, the children at fault are marked so (writer.h). */
static void convert_one(struct task *t)
{
    if (t->copy_from)
        return; /* a copy of cached audio (cache.h): the job's format already, nothing to do */
    if (t->outcome != OUTCOME_DONE || t->nchildren == 0) {
        convert_leaf(t);
        return;
    }
    bool ok = parts_has_variants(t) ? convert_variants(t) : join_parts(t) == 0;
    if (!ok) {
        t->outcome = OUTCOME_NONE;
        snprintf(t->error, sizeof t->error, "the audio of a part cannot be used");
    }
}

/* Converts tasks of the shared batch until every one is taken; h->lock held on entry and exit.
 * The batch's links are only read (conversion never touches t->next). */
static void convert_shared(struct helpers *h)
{
    struct task *t;
    while ((t = h->next) != NULL) {
        h->next = t->next;
        h->busy++;
        pthread_mutex_unlock(&h->lock);
        convert_one(t);
        pthread_mutex_lock(&h->lock);
        h->busy--;
    }
    if (h->busy == 0)
        pthread_cond_broadcast(&h->finished);
}

static void *helper_run(void *arg)
{
    struct helpers *h = arg;
    pthread_setname_np(pthread_self(), "vx-convert");
    pthread_mutex_lock(&h->lock);
    while (!h->stop) {
        if (h->next)
            convert_shared(h);
        else
            pthread_cond_wait(&h->work, &h->lock);
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

/* One helper per core beside the writer's own, at most WRITER_HELPERS_MAX; a helper that
 * cannot start is done without (the writer thread converts alone). */
static void helpers_start(struct helpers *h)
{
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->work, NULL);
    pthread_cond_init(&h->finished, NULL);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    size_t want = cores > 1 ? (size_t)(cores - 1) : 0;
    if (want > WRITER_HELPERS_MAX)
        want = WRITER_HELPERS_MAX;
    while (h->n < want && pthread_create(&h->threads[h->n], NULL, helper_run, h) == 0)
        h->n++;
}

static void helpers_stop(struct helpers *h)
{
    pthread_mutex_lock(&h->lock);
    h->stop = true;
    pthread_cond_broadcast(&h->work);
    pthread_mutex_unlock(&h->lock);
    for (size_t i = 0; i < h->n; i++)
        pthread_join(h->threads[i], NULL);
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->work);
    pthread_cond_destroy(&h->finished);
}

/* Converts every task of batch, on this thread and the helpers; returns when all are done. */
static void convert_batch(struct helpers *h, struct task *batch)
{
    pthread_mutex_lock(&h->lock);
    h->next = batch;
    if (h->n > 0 && batch && batch->next)
        pthread_cond_broadcast(&h->work);
    convert_shared(h);
    while (h->busy > 0)
        pthread_cond_wait(&h->finished, &h->lock);
    pthread_mutex_unlock(&h->lock);
}

/* A file's extension: "<variant>.<ext>" for a variant's (parts.h). */
static void file_ext(const struct task *t, char *ext, size_t len)
{
    parts_file_ext(t, out_format_ext(task_format(t)), ext, len);
}

static void set_uri(const struct sink *sink, struct task *t)
{
    char uri[PATH_MAX + 16], ext[JOB_VARIANT_NAME_MAX + 8];
    file_ext(t, ext, sizeof ext);
    sink_uri(sink, t->job.campaign, t->job.contact, strlen(t->job.contact), ext, uri, sizeof uri);
    free(t->uri);
    t->uri = uri[0] ? xstrdup(uri) : NULL;
}

static int stage_file(struct sink *sink, const struct task *t, char *err, size_t errlen)
{
    char ext[JOB_VARIANT_NAME_MAX + 8];
    file_ext(t, ext, sizeof ext);
    return sink_stage(sink, t->job.campaign, t->job.contact, strlen(t->job.contact), ext, t->audio.data,
                      t->audio.len, err, errlen);
}

/* A task's files: its own, or one per variant. */
static int stage_task(struct sink *sink, const struct task *t, char *err, size_t errlen)
{
    if (!parts_has_variants(t))
        return stage_file(sink, t, err, errlen);
    for (size_t i = 0; i < t->nchildren; i++)
        if (!t->children[i]->file_written && stage_file(sink, t->children[i], err, errlen) != 0)
            return -1;
    return 0;
}

/* In place: the audio is freed, the URI noted (a job with variants has one per variant and
 * none of its own). */
static void mark_written(const struct sink *sink, struct task *t)
{
    t->file_written = true;
    buf_free(&t->audio);
    if (!parts_has_variants(t)) {
        set_uri(sink, t);
        return;
    }
    for (size_t i = 0; i < t->nchildren; i++)
        if (!t->children[i]->file_written) /* else written alone before, its uri set then */
            mark_written(sink, t->children[i]);
    free(t->uri);
    t->uri = NULL;
}

/* Converts, then writes one batch; marks each task written or not. Returns the first error,
 * "" if none. */
/* A copy of cached audio (cache.h) under the contact's own name: linked or copied by the sink,
 * durable with the batch; copy_gone set when the source is not there any more. */
static int stage_copy(struct sink *sink, struct task *t, char *err, size_t errlen)
{
    char ext[JOB_VARIANT_NAME_MAX + 8];
    file_ext(t, ext, sizeof ext);
    return sink_stage_copy(sink, t->job.campaign, t->job.contact, strlen(t->job.contact), ext, t->copy_from,
                           t->bytes, &t->copy_gone, err, errlen);
}

static void write_batch(struct writer *w, struct task *batch, char *err, size_t errlen)
{
    struct sink *sink = w->sink;
    err[0] = '\0';
    convert_batch(&w->helpers, batch);
    bool staged = false;
    for (struct task *t = batch; t; t = t->next) {
        t->file_written = false;
        if (t->outcome != OUTCOME_DONE)
            continue;
        if (!err[0] && (t->copy_from ? stage_copy(sink, t, err, errlen) : stage_task(sink, t, err, errlen)) == 0)
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
        if (t->outcome == OUTCOME_DONE && !t->copy_gone) /* gone: back to the cache (cache.h) */
            mark_written(sink, t);
    }
}

static void *run(void *arg)
{
    struct writer *w = arg;
    /* named, so `top -H` and bench/convert.sh can tell its CPU from the loop's */
    pthread_setname_np(pthread_self(), "vx-writer");
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
        write_batch(w, batch, err, sizeof err);
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
    struct writer *w = xcalloc(1, sizeof *w);
    w->sink = sink;
    w->wake_fd = wake_fd;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    pthread_cond_init(&w->idle, NULL);
    helpers_start(&w->helpers);
    if (pthread_create(&w->thread, NULL, run, w) != 0) {
        snprintf(err, errlen, "cannot start the audio writer thread");
        helpers_stop(&w->helpers);
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
    helpers_stop(&w->helpers);
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
