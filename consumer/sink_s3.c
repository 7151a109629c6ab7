/* sink_s3.c - the sink's S3 backend: each object a signed PUT of PREFIX/<campaign>/<name>.<ext>,
 * the batch uploaded concurrently at commit. See sink.h for the guarantees, s3.h for the
 * requests and sink_backend.h for the backend interface. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "s3.h"
#include "sink_backend.h"
#include "xalloc.h"

/* Objects held until the next commit: the writer stages one batch, but a bound keeps the
 * copies of a large batch from piling up in memory (and keeps each upload round moderate). */
#define S3_MAX_HELD 256

struct held {
    char      *key;                /* PREFIX/<campaign>/<name>.<ext>, owned */
    struct buf data;               /* a copy: the caller may free its bytes after the stage */
    char      *copy_source;        /* a server-side copy: "/BUCKET/KEY" encoded, owned; or NULL */
    bool      *gone;               /* a copy: set when its source is not there (404) */
};

struct s3_sink {
    struct s3   *s3;
    char         bucket[S3_BUCKET_MAX + 1];
    struct buf   prefix;           /* without slashes at either end; "" for the bucket's root */
    struct held *items;
    size_t       n, cap;
};

static void drop_held(struct s3_sink *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->items[i].key);
        free(s->items[i].copy_source);
        buf_free(&s->items[i].data);
    }
    s->n = 0;
}

static void s3_sink_free(void *be)
{
    struct s3_sink *s = be;
    drop_held(s);
    free(s->items);
    buf_free(&s->prefix);
    s3_free(s->s3);
    free(s);
}

void *sink_s3_new(const char *uri, const struct s3_options *o, char *err, size_t errlen)
{
    struct s3_sink *s = xcalloc(1, sizeof *s);
    char why[256];
    if (s3_uri_parse(uri, s->bucket, &s->prefix, why, sizeof why) != 0) {
        snprintf(err, errlen, "output.uri %s", why);
        s3_sink_free(s);
        return NULL;
    }
    struct s3_options opts = *o;
    opts.bucket = s->bucket;
    s->s3 = s3_new(&opts, err, errlen);
    if (!s->s3) {
        s3_sink_free(s);
        return NULL;
    }
    return s;
}

/* The object key of object (campaign/name.ext) under the prefix, appended to out. */
static void object_key(const struct s3_sink *s, const char *object, struct buf *out)
{
    if (s->prefix.len) {
        buf_append(out, s->prefix.data, s->prefix.len);
        buf_putc(out, '/');
    }
    buf_puts(out, object);
}

static void s3_locate(const void *be, const char *object, bool uri, char *out, size_t outlen)
{
    (void)uri; /* an object has one name, local or not */
    const struct s3_sink *s = be;
    struct buf key = {0};
    object_key(s, object, &key);
    int n = snprintf(out, outlen, "s3://%s/%s", s->bucket, key.data);
    if (n < 0 || (size_t)n >= outlen)
        out[0] = '\0';
    buf_free(&key);
}

/* What a browser or a dialer's fetcher is told the object is, from its extension. */
static const char *content_type(const char *key)
{
    const char *dot = strrchr(key, '.');
    if (dot && strcmp(dot, ".wav") == 0)
        return "audio/wav";
    if (dot && strcmp(dot, ".mp3") == 0)
        return "audio/mpeg";
    return "application/octet-stream";
}

static int s3_commit(void *be, char *err, size_t errlen);

static struct held *hold_new(struct s3_sink *s, const char *object)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->items = xrealloc(s->items, s->cap * sizeof *s->items);
    }
    struct held *h = &s->items[s->n++];
    struct buf key = {0};
    object_key(s, object, &key);
    *h = (struct held){.key = buf_steal(&key)};
    return h;
}

/* A render-once copy (sink.h): the source "s3://BUCKET/KEY" becomes a server-side copy at
 * commit. A source of another kind of store is gone for this sink. */
static int s3_stage_copy(void *be, const char *campaign, const char *object, const char *src_uri,
                         uint64_t bytes, bool *gone, char *err, size_t errlen)
{
    (void)campaign;
    (void)bytes; /* a copy is checked by the store: 404 when gone */
    struct s3_sink *s = be;
    const char *src = strncmp(src_uri, "s3://", 5) == 0 ? src_uri + 5 : NULL;
    if (!src || !strchr(src, '/')) {
        *gone = true;
        return 0;
    }
    struct buf dest = {0};
    buf_printf(&dest, "%s/", s->bucket);
    object_key(s, object, &dest);
    bool itself = strcmp(dest.data, src) == 0; /* the contact that rendered it: in place already */
    buf_free(&dest);
    if (itself)
        return 0;
    struct held *h = hold_new(s, object);
    struct buf source = {0};
    buf_putc(&source, '/');
    s3_key_encode(src, &source); /* "BUCKET/KEY": a bucket name needs no encoding */
    h->copy_source = buf_steal(&source);
    h->gone = gone;
    return s->n >= S3_MAX_HELD ? s3_commit(s, err, errlen) : 0;
}

static int s3_stage(void *be, const char *campaign, const char *object, const void *data, size_t len,
                    char *err, size_t errlen)
{
    (void)campaign; /* a key needs no folder made first */
    struct s3_sink *s = be;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->items = xrealloc(s->items, s->cap * sizeof *s->items);
    }
    struct held *h = &s->items[s->n++];
    struct buf key = {0};
    object_key(s, object, &key);
    h->key = buf_steal(&key);
    h->data = (struct buf){0};
    h->copy_source = NULL;
    h->gone = NULL;
    buf_append(&h->data, data, len);
    return s->n >= S3_MAX_HELD ? s3_commit(s, err, errlen) : 0;
}

/* Uploads everything held, concurrently; every object must be answered 200. */
static int s3_commit(void *be, char *err, size_t errlen)
{
    struct s3_sink *s = be;
    if (s->n == 0)
        return 0;
    struct s3_put *puts = xcalloc(s->n, sizeof *puts);
    for (size_t i = 0; i < s->n; i++) {
        puts[i].key = s->items[i].key;
        puts[i].data = s->items[i].data.data;
        puts[i].len = s->items[i].data.len;
        puts[i].content_type = content_type(s->items[i].key);
        puts[i].copy_source = s->items[i].copy_source;
    }
    size_t failed = s3_put_batch(s->s3, puts, s->n);
    for (size_t i = 0; i < s->n; i++) /* a copy whose source is gone is not a failure (sink.h) */
        if (puts[i].copy_source && !puts[i].stored && puts[i].http_status == 404) {
            *s->items[i].gone = true;
            failed--;
        }
    for (size_t i = 0; failed && i < s->n; i++)
        if (!puts[i].stored) {
            snprintf(err, errlen, "s3://%s/%s: %s (%zu of %zu objects not stored)", s->bucket,
                     puts[i].key, puts[i].error, failed, s->n);
            break;
        }
    free(puts);
    drop_held(s);
    return failed ? -1 : 0;
}

const struct sink_ops sink_s3_ops = {
    .stage = s3_stage,
    .stage_copy = s3_stage_copy,
    .commit = s3_commit,
    .locate = s3_locate,
    .free = s3_sink_free,
};
