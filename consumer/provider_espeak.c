/* provider_espeak.c - the in-process espeak-ng provider: one worker thread behind a queue.
 *
 * Synthesis blocks for as long as the text takes to speak, so it cannot run on the event loop.
 * One thread is enough: espeak_render_wav() serialises every call on a library-wide lock
 * anyway, so more threads would only queue on that lock instead of on ours. The loop hands
 * attempts over through a mutex+condvar queue; the worker puts finished ones on a done list
 * and bumps an eventfd that providers_wait() polls beside curl's sockets, so a finished
 * synthesis wakes the loop at once. Results are delivered on the loop thread by
 * the drain hook, like HTTP ones.
 *
 * The thread starts with the first espeak attempt, not with the configuration: a chain that
 * keeps espeak as a last resort costs no thread until it is needed. The worker copies the
 * text and voice, so nothing it reads belongs to the engine's task. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "clock.h"
#include "espeak.h"
#include "log.h"
#include "provider_ops.h"
#include "xalloc.h"

#define ESPEAK_VOICE "en"

struct espeak_item {
    struct espeak_item *next;
    struct provider    *pv;
    void               *task;
    char               *text;        /* copies: the worker never reads the engine's job */
    char               *voice;
    int                 rc;          /* espeak_render_wav()'s */
    char                error[200];
    struct buf          wav;
    double              latency_s;
};

struct item_list {
    struct espeak_item *head, *tail;
};

struct espeak_worker {
    pthread_t        thread;
    pthread_mutex_t  lock;           /* guards todo, done and stop */
    pthread_cond_t   wake;           /* todo got an item, or stop was set */
    struct item_list todo;
    struct item_list done;
    bool             stop;
    int              efd;            /* EFD_NONBLOCK counter: done is (probably) not empty */
};

static void list_push(struct item_list *l, struct espeak_item *it)
{
    it->next = NULL;
    if (l->tail)
        l->tail->next = it;
    else
        l->head = it;
    l->tail = it;
}

static struct espeak_item *list_pop(struct item_list *l)
{
    struct espeak_item *it = l->head;
    if (it) {
        l->head = it->next;
        if (!l->head)
            l->tail = NULL;
    }
    return it;
}

static void item_free(struct espeak_item *it)
{
    free(it->text);
    free(it->voice);
    buf_free(&it->wav);
    free(it);
}

static void list_free(struct item_list *l)
{
    struct espeak_item *it;
    while ((it = list_pop(l)) != NULL)
        item_free(it);
}

/* ---- the worker thread ---- */

static void render(struct espeak_item *it)
{
    int64_t t0 = clock_mono_ms();
    it->rc = espeak_render_wav(it->text, it->voice, &it->wav, it->error, sizeof it->error);
    it->latency_s = (double)(clock_mono_ms() - t0) / 1000.0;
}

/* Wakes the loop. EAGAIN means the counter is saturated, i.e. already readable. */
static void notify(struct espeak_worker *w)
{
    uint64_t one = 1;
    char msg[96];
    if (write(w->efd, &one, sizeof one) < 0 && errno != EAGAIN)
        log_warn("espeak worker cannot wake the loop",
                 LOGS("error", strerror_r(errno, msg, sizeof msg)));
}

static void *worker_main(void *arg)
{
    struct espeak_worker *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->stop && !w->todo.head)
            pthread_cond_wait(&w->wake, &w->lock);
        if (w->stop)
            break;
        struct espeak_item *it = list_pop(&w->todo);
        pthread_mutex_unlock(&w->lock);
        render(it);
        pthread_mutex_lock(&w->lock);
        list_push(&w->done, it);
        notify(w);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* Starts the worker with every signal blocked, so process signals keep going to the loop
 * thread (where their handlers and self-pipes expect them). */
static struct espeak_worker *worker_new(char *err, size_t errlen)
{
    struct espeak_worker *w = xcalloc(1, sizeof *w);
    w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->efd < 0) {
        snprintf(err, errlen, "espeak: eventfd: %s", strerror(errno));
        free(w);
        return NULL;
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&w->thread, NULL, worker_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "espeak: cannot start the worker thread: %s", strerror(rc));
        pthread_cond_destroy(&w->wake);
        pthread_mutex_destroy(&w->lock);
        close(w->efd);
        free(w);
        return NULL;
    }
    return w;
}

static struct espeak_worker *worker_of(const struct providers *ps)
{
    return ps->type_state[PROVIDER_ESPEAK];
}

static void espeak_free(struct providers *ps)
{
    struct espeak_worker *w = worker_of(ps);
    ps->type_state[PROVIDER_ESPEAK] = NULL;
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);   /* waits for the synthesis in progress, if any */
    list_free(&w->todo);
    list_free(&w->done);
    close(w->efd);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

/* ---- the loop's side ---- */

static int espeak_start(struct provider *pv, const struct job *job, void *task, char *err,
                        size_t errlen)
{
    enum out_format fmt;   /* espeak renders 22 kHz WAV; the writer converts it to fmt */
    if (provider_job_format(job, &fmt, err, errlen))
        return -1;
    struct providers *ps = pv->owner;
    if (!worker_of(ps) && !(ps->type_state[PROVIDER_ESPEAK] = worker_new(err, errlen)))
        return -1;
    const char *voice = job->lang ? job->lang : pv->voice ? pv->voice : ESPEAK_VOICE;
    struct espeak_item *it = xcalloc(1, sizeof *it);
    it->text = xstrdup(job->text ? job->text : "");
    it->voice = xstrdup(voice);
    it->pv = pv;
    it->task = task;
    struct espeak_worker *w = worker_of(ps);
    pthread_mutex_lock(&w->lock);
    list_push(&w->todo, it);
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    return 0;
}

static int espeak_fd(const struct providers *ps)
{
    return worker_of(ps) ? worker_of(ps)->efd : -1;
}

/* espeak's failures are deterministic (no data files, text it cannot speak): retrying here
 * cannot help, so they are provider-level and the job fails over. */
static void deliver(struct providers *ps, struct espeak_item *it, attempt_done_fn done, void *ctx)
{
    struct attempt_result r = {.retry_after_ms = -1, .latency_s = it->latency_s};
    if (it->rc == 0) {
        r.cls = CLASS_OK;
        r.audio = it->wav;
        it->wav = (struct buf){0};
    } else {
        r.cls = CLASS_PROVIDER;
        snprintf(r.error, sizeof r.error, "espeak: %s", it->error);
    }
    ps->active--;
    done(ctx, it->task, it->pv, &r);
    buf_free(&r.audio);
    item_free(it);
}

static void espeak_drain(struct providers *ps, attempt_done_fn done, void *ctx)
{
    struct espeak_worker *w = worker_of(ps);
    if (!w)
        return;
    /* Reset the counter before taking the list: an item pushed after the take then leaves the
     * eventfd readable, so no wake-up is lost. */
    uint64_t count;
    if (read(w->efd, &count, sizeof count) < 0 && errno != EAGAIN)
        log_warn("espeak: cannot read the worker's eventfd", LOGS("error", strerror(errno)));
    pthread_mutex_lock(&w->lock);
    struct item_list finished = w->done;
    w->done = (struct item_list){0};
    pthread_mutex_unlock(&w->lock);
    struct espeak_item *it;
    while ((it = list_pop(&finished)) != NULL)
        deliver(ps, it, done, ctx);
}

const struct provider_ops provider_espeak_ops = {
    .type_name = "espeak",
    .http = false,
    .default_max_text_chars = 0,
    .max_text_bytes = ESPEAK_MAX_TEXT_BYTES,
    .start = espeak_start,
    .build = NULL,
    .refine_class = NULL,
    .implied_by_name = true,
    .fd = espeak_fd,
    .drain = espeak_drain,
    .free = espeak_free,
};
