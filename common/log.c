/* log.c - JSON-lines logger with secret redaction; see log.h.
 *
 * The logger is the one piece of process-wide state in common/: the level and the secrets are
 * set once at start-up and read by every thread, under a mutex for the rare writes. */
#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "jsonw.h"

#define MAX_SECRETS 16

static struct {
    pthread_mutex_t lock;
    char            program[32];
    enum log_level  min_level;
    char           *secrets[MAX_SECRETS];
    size_t          nsecrets;
} L = {PTHREAD_MUTEX_INITIALIZER, "voxcast", LOG_INFO, {0}, 0};

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_init(const char *program, enum log_level min_level)
{
    snprintf(L.program, sizeof L.program, "%s", program);
    L.min_level = min_level;
}

int log_level_parse(const char *s, enum log_level *out)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    return -1;
}

bool log_enabled(enum log_level level)
{
    return level >= L.min_level;
}

void log_add_secret(const char *secret)
{
    if (!secret || strlen(secret) < 4)
        return;
    pthread_mutex_lock(&L.lock);
    if (L.nsecrets < MAX_SECRETS)
        L.secrets[L.nsecrets++] = strdup(secret);
    pthread_mutex_unlock(&L.lock);
}

/* Rewrites b in place, replacing every registered secret. Called with L.lock held. */
static void redact_buf(struct buf *b)
{
    for (size_t i = 0; i < L.nsecrets; i++) {
        const char *sec = L.secrets[i];
        size_t sl = strlen(sec);
        char *hit;
        if (!sec || !b->data || !strstr(b->data, sec))
            continue;
        struct buf out = {0};
        const char *p = b->data;
        while ((hit = strstr(p, sec)) != NULL) {
            buf_append(&out, p, (size_t)(hit - p));
            buf_puts(&out, "[REDACTED]");
            p = hit + sl;
        }
        buf_puts(&out, p);
        buf_free(b);
        *b = out;
    }
}

char *log_redact(const char *text)
{
    struct buf b = {0};
    buf_puts(&b, text ? text : "");
    pthread_mutex_lock(&L.lock);
    redact_buf(&b);
    pthread_mutex_unlock(&L.lock);
    return buf_steal(&b);
}

static void put_timestamp(struct buf *b)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    buf_printf(b, "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\"", tm.tm_year + 1900,
               tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

static void put_field(struct buf *b, const struct log_field *f)
{
    jsonw_key(b, f->key);
    switch (f->type) {
    case LF_STR: jsonw_cstr(b, f->s); break;
    case LF_NUM: jsonw_int(b, f->n); break;
    case LF_DBL: buf_printf(b, "%.6g", f->d); break;
    case LF_BOOL: buf_puts(b, f->n ? "true" : "false"); break;
    case LF_NONE: buf_puts(b, "null"); break;
    }
}

void log_event(enum log_level level, const char *msg, const struct log_field *fields)
{
    if (level < L.min_level)
        return;
    struct buf b = {0};
    put_timestamp(&b);
    jsonw_key(&b, "level");
    jsonw_cstr(&b, level_names[level]);
    jsonw_key(&b, "prog");
    jsonw_cstr(&b, L.program);
    jsonw_key(&b, "msg");
    jsonw_cstr(&b, msg);
    for (const struct log_field *f = fields + 1; f->key; f++)
        put_field(&b, f);
    buf_puts(&b, "}\n");
    pthread_mutex_lock(&L.lock);
    redact_buf(&b);
    pthread_mutex_unlock(&L.lock);
    ssize_t w = write(STDERR_FILENO, b.data, b.len);
    (void)w; /* nowhere left to report a failed log write */
    buf_free(&b);
}
