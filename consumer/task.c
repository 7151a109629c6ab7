/* task.c - tasks and DLQ entries; see task.h. */
#include "task.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "jsonw.h"
#include "log.h"
#include "utf8.h"
#include "xalloc.h"

#define RAW_MAX 2048

/* Invalid payloads are kept as text for operators: cut at RAW_MAX, bytes that do not form valid
 * UTF-8 replaced by '?', so the entry stays valid JSON. */
static char *printable_raw(const char *p, size_t len)
{
    size_t n = len < RAW_MAX ? len : RAW_MAX;
    char *out = xmalloc(n + 1);
    size_t i = 0;
    while (i < n) {
        size_t seq = 1;
        unsigned char c = (unsigned char)p[i];
        if (c >= 0xF0) seq = 4;
        else if (c >= 0xE0) seq = 3;
        else if (c >= 0xC0) seq = 2;
        if (i + seq <= n && utf8_valid(p + i, seq)) {
            memcpy(out + i, p + i, seq);
        } else {
            seq = 1;
            out[i] = '?';
        }
        i += seq;
    }
    out[n] = '\0';
    return out;
}

struct task *task_from_message(const void *payload, size_t len, const void *key, size_t key_len,
                               int32_t partition, int64_t offset, size_t max_text_chars)
{
    struct task *t = xcalloc(1, sizeof *t);
    t->partition = partition;
    t->offset = offset;
    if (key && key_len > 0 && key_len < sizeof t->key && utf8_valid(key, key_len)) {
        memcpy(t->key, key, key_len);
        t->key[key_len] = '\0';
    }
    char err[256];
    if (payload && job_decode(payload, len, max_text_chars, &t->job, err, sizeof err) == 0) {
        t->valid = true;
        t->state = TASK_CHECK;
        return t;
    }
    if (!payload)
        snprintf(err, sizeof err, "empty message");
    t->raw = printable_raw(payload ? payload : "", payload ? len : 0);
    t->state = TASK_FINISHING;
    task_set_dlq(t, "invalid_job", err);
    return t;
}

void task_free(struct task *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nchildren; i++)
        task_free(t->children[i]); /* NULL: a child still out, owned elsewhere (parts.h) */
    free(t->children);
    job_free(&t->job);
    free(t->raw);
    free(t->copy_from);
    buf_free(&t->history);
    buf_free(&t->audio);
    buf_free(&t->event);
    free(t->uri);
    free(t);
}

void task_note_attempt(struct task *t, const char *provider, long http_status, const char *cls,
                       const char *error, double latency_s)
{
    snprintf(t->provider, sizeof t->provider, "%s", provider);
    t->http_status = http_status;
    snprintf(t->error, sizeof t->error, "%s", error);
    if (t->nhistory++ >= TASK_MAX_HISTORY)
        return; /* bounded: the first attempts tell the story, the count says the rest */
    char at[32];
    clock_iso8601(clock_wall_ms(), at);
    struct buf *h = &t->history;
    buf_puts(h, h->len ? ",{" : "{");
    jsonw_key(h, "provider");
    jsonw_cstr(h, provider);
    jsonw_key(h, "http_status");
    if (http_status)
        jsonw_int(h, http_status);
    else
        buf_puts(h, "null");
    jsonw_key(h, "class");
    jsonw_cstr(h, cls);
    jsonw_key(h, "error");
    jsonw_cstr(h, error);
    jsonw_key(h, "latency_ms");
    jsonw_int(h, (int64_t)(latency_s * 1000));
    jsonw_key(h, "at");
    jsonw_cstr(h, at);
    buf_putc(h, '}');
}

void task_set_dlq(struct task *t, const char *reason, const char *error)
{
    t->outcome = OUTCOME_DLQ;
    t->reason = reason;
    if (error)
        snprintf(t->error, sizeof t->error, "%s", error);
}

const char *task_campaign(const struct task *t)
{
    if (t->valid)
        return t->job.campaign;
    return "_invalid";
}

const char *task_contact(const struct task *t)
{
    static __thread char fallback[48];
    if (t->valid)
        return t->job.contact;
    if (t->key[0])
        return t->key;
    snprintf(fallback, sizeof fallback, "p%d-o%lld", (int)t->partition, (long long)t->offset);
    return fallback;
}

const char *task_store_contact(const struct task *t, char *buf, size_t len)
{
    if (t->valid)
        return t->job.contact;
    snprintf(buf, len, "%s%sp%d:o%lld", t->key, t->key[0] ? "@" : "", (int)t->partition,
             (long long)t->offset);
    return buf;
}

char *task_dlq_entry(const struct task *t, int64_t failed_at_ms)
{
    struct buf b = {0};
    char at[32];
    clock_iso8601(failed_at_ms, at);
    char *error = log_redact(t->error);
    buf_putc(&b, '{');
    jsonw_key(&b, "job");
    if (t->valid)
        job_encode(&t->job, &b);
    else
        buf_puts(&b, "null");
    jsonw_key(&b, "campaign");
    jsonw_cstr(&b, task_campaign(t));
    jsonw_key(&b, "contact");
    jsonw_cstr(&b, task_contact(t));
    jsonw_key(&b, "reason");
    jsonw_cstr(&b, t->reason);
    jsonw_key(&b, "provider");
    jsonw_cstr(&b, t->provider[0] ? t->provider : NULL);
    jsonw_key(&b, "http_status");
    if (t->http_status)
        jsonw_int(&b, t->http_status);
    else
        buf_puts(&b, "null");
    jsonw_key(&b, "error");
    jsonw_cstr(&b, error);
    jsonw_key(&b, "attempts");
    jsonw_int(&b, t->attempts);
    if (t->failed_variant[0]) { /* a job rendered in children: which one failed (parts.h) */
        jsonw_key(&b, "variant");
        jsonw_cstr(&b, t->failed_variant);
    }
    if (t->failed_part > 0) {
        jsonw_key(&b, "part");
        jsonw_int(&b, t->failed_part);
        jsonw_key(&b, "parts");
        jsonw_int(&b, t->failed_parts);
    }
    jsonw_key(&b, "failed_at");
    jsonw_cstr(&b, at);
    jsonw_key(&b, "failed_at_ms");
    jsonw_int(&b, failed_at_ms);
    jsonw_key(&b, "partition");
    jsonw_int(&b, t->partition);
    jsonw_key(&b, "offset");
    jsonw_int(&b, t->offset);
    jsonw_key(&b, "raw");
    jsonw_cstr(&b, t->raw);
    jsonw_key(&b, "history");
    buf_putc(&b, '[');
    if (t->history.len) {
        char *h = log_redact(t->history.data);
        buf_puts(&b, h);
        free(h);
    }
    buf_puts(&b, "]}");
    free(error);
    return buf_steal(&b);
}
