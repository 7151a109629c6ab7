/* s3.c - signed PUTs to an S3-compatible store; see s3.h. */
#include "s3.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sha256.h"
#include "xalloc.h"

#define ANSWER_MAX 512               /* bytes of an error answer kept to find its <Code> */

/* One transfer slot: an easy handle reused from batch to batch, and what it is doing now. */
struct xfer {
    CURL              *easy;
    struct curl_slist *headers;
    struct s3_put     *put;          /* NULL: the slot is free */
    char               answer[ANSWER_MAX + 1];
    size_t             answer_len;
    char               curl_err[CURL_ERROR_SIZE];
};

struct s3 {
    CURLM      *multi;
    struct buf  base;                /* URL of the bucket, without the trailing '/' */
    char        sigv4[96];           /* "aws:amz:REGION:s3" */
    char       *key_id, *secret, *token; /* token NULL when there is none */
    long        connect_timeout_ms, timeout_ms;
    struct xfer slots[S3_PARALLEL];
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode       global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---------------------------------------------------------------- names */

static bool bucket_valid(const char *b, size_t n)
{
    if (n < 3 || n > S3_BUCKET_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && ((c != '.' && c != '-') || i == 0 || i == n - 1))
            return false;
    }
    return true;
}

int s3_uri_parse(const char *uri, char bucket[S3_BUCKET_MAX + 1], struct buf *prefix, char *err,
                 size_t errlen)
{
    if (strncmp(uri, "s3://", 5) != 0) {
        snprintf(err, errlen, "\"%s\" is not an s3://BUCKET/PREFIX URI", uri);
        return -1;
    }
    const char *b = uri + 5, *slash = strchr(b, '/');
    size_t blen = slash ? (size_t)(slash - b) : strlen(b);
    if (!bucket_valid(b, blen)) {
        snprintf(err, errlen, "\"%s\": the bucket must be 3-63 of [a-z0-9.-], starting and ending "
                 "with a letter or digit", uri);
        return -1;
    }
    memcpy(bucket, b, blen);
    bucket[blen] = '\0';
    const char *p = slash ? slash : b + blen;
    while (*p == '/')
        p++;
    size_t plen = strlen(p);
    while (plen > 0 && p[plen - 1] == '/')
        plen--;
    for (size_t i = 0; i < plen; i++)
        if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f) {
            snprintf(err, errlen, "\"%s\": control characters in the prefix", uri);
            return -1;
        }
    buf_reset(prefix);
    buf_append(prefix, p, plen);
    return 0;
}

void s3_key_encode(const char *key, struct buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~' || *p == '/') {
            buf_putc(out, (char)*p);
        } else {
            buf_putc(out, '%');
            buf_putc(out, hex[*p >> 4]);
            buf_putc(out, hex[*p & 15]);
        }
    }
}

void s3_object_url(const struct s3 *s, const char *key, struct buf *out)
{
    buf_append(out, s->base.data, s->base.len);
    buf_putc(out, '/');
    s3_key_encode(key, out);
}

/* ---------------------------------------------------------------- set-up */

/* The bucket's URL: ENDPOINT/BUCKET (path style) or SCHEME://BUCKET.HOST (virtual-hosted). */
static int make_base(struct s3 *s, const struct s3_options *o, const char *region, char *err,
                     size_t errlen)
{
    struct buf ep = {0};
    if (o->endpoint && *o->endpoint)
        buf_puts(&ep, o->endpoint);
    else
        buf_printf(&ep, "https://s3.%s.amazonaws.com", region);
    while (ep.len > 0 && ep.data[ep.len - 1] == '/')
        ep.data[--ep.len] = '\0';
    const char *rest = strstr(ep.data, "://");
    bool scheme_ok = rest && (strncmp(ep.data, "http://", 7) == 0 || strncmp(ep.data, "https://", 8) == 0);
    if (!scheme_ok || rest[3] == '\0' || rest[3] == '/') {
        snprintf(err, errlen, "s3.endpoint \"%s\" is not an http:// or https:// URL", ep.data);
        buf_free(&ep);
        return -1;
    }
    if (o->path_style)
        buf_printf(&s->base, "%s/%s", ep.data, o->bucket);
    else
        buf_printf(&s->base, "%.*s%s.%s", (int)(rest + 3 - ep.data), ep.data, o->bucket, rest + 3);
    buf_free(&ep);
    return 0;
}

static bool region_valid(const char *r)
{
    if (!*r || strlen(r) > 32)
        return false;
    for (; *r; r++)
        if (!((*r >= 'a' && *r <= 'z') || (*r >= '0' && *r <= '9') || *r == '-'))
            return false;
    return true;
}

/* Reads one credential variable; registers it as a secret. NULL when unset or empty. */
static char *credential(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return NULL;
    log_add_secret(v);
    return xstrdup(v);
}

static int read_credentials(struct s3 *s, char *err, size_t errlen)
{
    s->key_id = credential("AWS_ACCESS_KEY_ID");
    s->secret = credential("AWS_SECRET_ACCESS_KEY");
    s->token = credential("AWS_SESSION_TOKEN");
    if (s->key_id && s->secret)
        return 0;
    snprintf(err, errlen, "S3 output needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the "
             "environment (and AWS_SESSION_TOKEN for temporary credentials)");
    return -1;
}

struct s3 *s3_new(const struct s3_options *o, char *err, size_t errlen)
{
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK) {
        snprintf(err, errlen, "libcurl: %s", curl_easy_strerror(global_rc));
        return NULL;
    }
    const char *region = o->region && *o->region ? o->region : "us-east-1";
    if (!region_valid(region)) {
        snprintf(err, errlen, "s3.region \"%s\" is not a region name ([a-z0-9-]+)", region);
        return NULL;
    }
    if (!o->bucket || !bucket_valid(o->bucket, strlen(o->bucket))) {
        snprintf(err, errlen, "S3 bucket \"%s\" is not 3-63 of [a-z0-9.-]", o->bucket ? o->bucket : "");
        return NULL;
    }
    struct s3 *s = xcalloc(1, sizeof *s);
    snprintf(s->sigv4, sizeof s->sigv4, "aws:amz:%s:s3", region);
    s->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 5000;
    s->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 30000;
    if (make_base(s, o, region, err, errlen) != 0 || read_credentials(s, err, errlen) != 0)
        goto fail;
    s->multi = curl_multi_init();
    for (size_t i = 0; s->multi && i < S3_PARALLEL; i++)
        if (!(s->slots[i].easy = curl_easy_init()))
            break;
    if (!s->multi || !s->slots[S3_PARALLEL - 1].easy) {
        snprintf(err, errlen, "libcurl: cannot create transfer handles");
        goto fail;
    }
    return s;
fail:
    s3_free(s);
    return NULL;
}

/* Overwrites a secret before its memory goes back to the allocator. */
static void free_secret(char *p)
{
    if (!p)
        return;
    volatile char *v = p;
    while (*v)
        *v++ = '\0';
    free(p);
}

void s3_free(struct s3 *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < S3_PARALLEL; i++) {
        if (s->slots[i].easy)
            curl_easy_cleanup(s->slots[i].easy);
        curl_slist_free_all(s->slots[i].headers);
    }
    if (s->multi)
        curl_multi_cleanup(s->multi);
    buf_free(&s->base);
    free_secret(s->key_id);
    free_secret(s->secret);
    free_secret(s->token);
    free(s);
}

/* ---------------------------------------------------------------- one PUT */

static size_t on_answer(char *data, size_t size, size_t nmemb, void *userp)
{
    struct xfer *x = userp;
    size_t n = size * nmemb, room = ANSWER_MAX - x->answer_len;
    memcpy(x->answer + x->answer_len, data, n < room ? n : room);
    x->answer_len += n < room ? n : room;
    x->answer[x->answer_len] = '\0';
    return n;
}

static struct curl_slist *add_header(struct curl_slist *list, const char *name, const char *value, bool *ok)
{
    char line[1024];
    snprintf(line, sizeof line, "%s: %s", name, value);
    struct curl_slist *more = curl_slist_append(list, line);
    if (!more)
        *ok = false;
    return more ? more : list;
}

/* The signed headers besides host and x-amz-date (which libcurl adds): the payload hash, the
 * content type and the session token. */
static bool make_headers(struct s3 *s, struct xfer *x)
{
    char hash[SHA256_HEX_LEN + 1];
    sha256_hex(x->put->data, x->put->len, hash);
    bool ok = true;
    curl_slist_free_all(x->headers);
    x->headers = add_header(NULL, "x-amz-content-sha256", hash, &ok);
    x->headers = add_header(x->headers, "Content-Type",
                            x->put->content_type ? x->put->content_type : "application/octet-stream", &ok);
    if (s->token)
        x->headers = add_header(x->headers, "x-amz-security-token", s->token, &ok);
    if (x->put->copy_source) /* CopyObject (AWS S3 API reference): a signed header, no body */
        x->headers = add_header(x->headers, "x-amz-copy-source", x->put->copy_source, &ok);
    return ok;
}

static bool set_options(struct s3 *s, struct xfer *x, const char *url)
{
    CURL *e = x->easy;
    CURLcode rc = CURLE_OK;
#define SET(opt, val) if (rc == CURLE_OK) rc = curl_easy_setopt(e, opt, val)
    SET(CURLOPT_URL, url);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_CUSTOMREQUEST, "PUT");
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->put->len);
    SET(CURLOPT_POSTFIELDS, x->put->len ? x->put->data : "");
    SET(CURLOPT_HTTPHEADER, x->headers);
    SET(CURLOPT_AWS_SIGV4, s->sigv4);
    SET(CURLOPT_USERNAME, s->key_id);
    SET(CURLOPT_PASSWORD, s->secret);
    SET(CURLOPT_USERAGENT, "voxcast/" VOXCAST_VERSION);
    SET(CURLOPT_WRITEFUNCTION, on_answer);
    SET(CURLOPT_WRITEDATA, x);
    SET(CURLOPT_ERRORBUFFER, x->curl_err);
    SET(CURLOPT_CONNECTTIMEOUT_MS, s->connect_timeout_ms);
    SET(CURLOPT_TIMEOUT_MS, s->timeout_ms);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_PRIVATE, x);
#undef SET
    return rc == CURLE_OK;
}

/* Starts x's PUT; false (with the put's error set) when it cannot even start. */
static bool start_put(struct s3 *s, struct xfer *x, struct s3_put *put)
{
    x->put = put;
    x->answer_len = 0;
    x->answer[0] = x->curl_err[0] = '\0';
    put->stored = false;
    put->http_status = 0;
    put->error[0] = '\0';
    curl_easy_reset(x->easy);
    struct buf url = {0};
    s3_object_url(s, put->key, &url);
    bool ok = make_headers(s, x) && set_options(s, x, url.data) &&
              curl_multi_add_handle(s->multi, x->easy) == CURLM_OK;
    buf_free(&url);
    if (!ok) {
        snprintf(put->error, sizeof put->error, "cannot start the request");
        x->put = NULL;
    }
    return ok;
}

/* The <Code> of an S3 error document ("SlowDown", "NoSuchBucket"), or "" when there is none. */
static void answer_code(const char *answer, char *out, size_t outlen)
{
    out[0] = '\0';
    const char *a = strstr(answer, "<Code>"), *b = a ? strstr(a, "</Code>") : NULL;
    if (a && b && b - (a + 6) < 64)
        snprintf(out, outlen, "%.*s", (int)(b - (a + 6)), a + 6);
}

static void finish_put(struct s3 *s, struct xfer *x, CURLcode rc)
{
    struct s3_put *put = x->put;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &put->http_status);
    if (rc != CURLE_OK) {
        snprintf(put->error, sizeof put->error, "%.60s%s%.90s", curl_easy_strerror(rc),
                 x->curl_err[0] ? ": " : "", x->curl_err);
    } else if (put->http_status != 200 || (put->copy_source && strstr(x->answer, "<Error>"))) {
        char code[64];
        answer_code(x->answer, code, sizeof code);
        snprintf(put->error, sizeof put->error, "HTTP %ld%s%s", put->http_status, code[0] ? " " : "", code);
    } else {
        put->stored = true;
    }
    curl_multi_remove_handle(s->multi, x->easy);
    x->put = NULL;
}

/* ---------------------------------------------------------------- a batch */

static struct xfer *free_slot(struct s3 *s)
{
    for (size_t i = 0; i < S3_PARALLEL; i++)
        if (!s->slots[i].put)
            return &s->slots[i];
    return NULL;
}

/* Reaps finished transfers; returns how many finished. */
static size_t reap(struct s3 *s)
{
    size_t done = 0;
    int left;
    CURLMsg *m;
    while ((m = curl_multi_info_read(s->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct xfer *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        finish_put(s, x, m->data.result);
        done++;
    }
    return done;
}

/* Ends every transfer still out (the multi handle failed): each counts as not stored. */
static void abandon(struct s3 *s, const char *why)
{
    for (size_t i = 0; i < S3_PARALLEL; i++) {
        struct xfer *x = &s->slots[i];
        if (!x->put)
            continue;
        snprintf(x->put->error, sizeof x->put->error, "%s", why);
        curl_multi_remove_handle(s->multi, x->easy);
        x->put = NULL;
    }
}

size_t s3_put_batch(struct s3 *s, struct s3_put *puts, size_t n)
{
    size_t next = 0, running = 0;
    while (next < n || running > 0) {
        struct xfer *x;
        while (next < n && (x = free_slot(s)) != NULL)
            running += start_put(s, x, &puts[next++]) ? 1 : 0;
        int still;
        CURLMcode mc = curl_multi_perform(s->multi, &still);
        if (mc == CURLM_OK) {
            running -= reap(s);
            if (running > 0)
                mc = curl_multi_poll(s->multi, NULL, 0, 1000, NULL);
        }
        if (mc != CURLM_OK) {
            abandon(s, curl_multi_strerror(mc));
            running = 0;
        }
    }
    size_t failed = 0;
    for (size_t i = 0; i < n; i++)
        failed += puts[i].stored ? 0 : 1;
    return failed;
}
