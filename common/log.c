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
#include "xalloc.h"

#define MAX_SECRETS 64        /* each secret is kept as is and JSON-escaped */
#define REDACT_PREFIX_MIN 8   /* a cut-off key keeps this much or more: still redacted */

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

/* Stores one form of a secret. Called with L.lock held. */
static void keep_secret(const char *form)
{
    for (size_t i = 0; i < L.nsecrets; i++)
        if (strcmp(L.secrets[i], form) == 0)
            return;
    if (L.nsecrets < MAX_SECRETS)
        L.secrets[L.nsecrets++] = xstrdup(form);
}

void log_add_secret(const char *secret)
{
    if (!secret || strlen(secret) < 4)
        return;
    /* a log line holds the secret JSON-escaped ("ab\"c" for ab"c), so that form is kept too */
    struct buf esc = {0};
    jsonw_cstr(&esc, secret);
    esc.data[esc.len - 1] = '\0';              /* drop the closing quote ... */
    pthread_mutex_lock(&L.lock);
    keep_secret(secret);
    keep_secret(esc.data + 1);                 /* ... and the opening one */
    pthread_mutex_unlock(&L.lock);
    buf_free(&esc);
}

/* The length of the secret's text at p (at most avail bytes): the whole secret, or - for a
 * secret of REDACT_PREFIX_MIN bytes or more - a prefix of at least that many bytes, which is
 * what survives when a text holding the key was cut short. 0: no match at p. */
static size_t secret_match(const char *p, size_t avail, const char *sec, size_t sl)
{
    size_t k = 0;
    while (k < sl && k < avail && p[k] == sec[k])
        k++;
    if (k == sl)
        return k;
    return sl >= REDACT_PREFIX_MIN && k >= REDACT_PREFIX_MIN ? k : 0;
}

/* Rewrites b in place, replacing every registered secret, and every prefix of one long enough
 * to matter, by [REDACTED]. Works on bytes (memmem), so a NUL inside the text hides nothing.
 * Called with L.lock held. */
static void redact_buf(struct buf *b)
{
    for (size_t i = 0; i < L.nsecrets && b->data; i++) {
        const char *sec = L.secrets[i];
        size_t sl = strlen(sec), probe = sl < REDACT_PREFIX_MIN ? sl : REDACT_PREFIX_MIN;
        if (!memmem(b->data, b->len, sec, probe))
            continue;
        struct buf out = {0};
        const char *p = b->data, *end = b->data + b->len, *hit;
        while ((hit = memmem(p, (size_t)(end - p), sec, probe)) != NULL) {
            size_t n = secret_match(hit, (size_t)(end - hit), sec, sl);
            buf_append(&out, p, (size_t)(hit - p) + (n ? 0 : 1));
            if (n)
                buf_puts(&out, "[REDACTED]");
            p = hit + (n ? n : 1);
        }
        buf_append(&out, p, (size_t)(end - p));
        buf_free(b);
        *b = out;
    }
}

char *log_redact_mem(const char *text, size_t len)
{
    struct buf b = {0};
    buf_append(&b, text ? text : "", text ? len : 0);
    buf_putc(&b, '\0');
    b.len--;
    pthread_mutex_lock(&L.lock);
    redact_buf(&b);
    pthread_mutex_unlock(&L.lock);
    return buf_steal(&b);
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
