/* job.c - job schema v1; see job.h for the rules.
 *
 * Decoding goes through jansson (a consumer decodes at most a few thousand jobs per second, and
 * jansson's strict parser rejects lone surrogate escapes, \u0000 and raw control characters for
 * us). Encoding is on launch's hot path (hundreds of thousands of jobs per second), so it writes
 * the JSON text directly with jsonw and leaves only `meta`, an arbitrary object, to jansson's
 * serialiser, streamed straight into the output buffer. */
#include "job.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "jsonw.h"
#include "timefmt.h"
#include "names.h"
#include "utf8.h"
#include "xalloc.h"

bool job_campaign_valid(const char *s)
{
    return names_campaign_valid(s);
}

/* 1..max bytes of valid UTF-8 with no control character: the rule of contact, voice, lang. */
static bool job_clean_text(const char *s, size_t len, size_t max)
{
    return s && len >= 1 && len <= max && utf8_valid(s, len) && !utf8_has_control(s, len);
}

bool job_contact_valid(const char *s, size_t len)
{
    return job_clean_text(s, len, JOB_CONTACT_MAX);
}

static int job_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes the message of a broken rule and returns -1, so checks read `return job_fail(...)`. */
static int job_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* A copy of s[0..len) with a NUL after it, or NULL when out of memory. */
static char *job_dup(const char *s, size_t len)
{
    char *p = xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

/* Reads string member `key` of o. Returns 1 with *s and *len set, 0 when absent (null counts as
 * absent unless required), -1 with err set when missing-but-required, not a string, or holding a
 * NUL (jansson rejects \u0000 already; this keeps the rule local and explicit). */
static int job_get_str(json_t *o, const char *key, bool required, const char **s, size_t *len,
                       char *err, size_t errlen)
{
    json_t *v = json_object_get(o, key);
    if (!v || (!required && json_is_null(v))) {
        if (required)
            return job_fail(err, errlen, "missing field \"%s\"", key);
        return 0;
    }
    if (!json_is_string(v))
        return job_fail(err, errlen, "\"%s\" must be a string", key);
    *s = json_string_value(v);
    *len = json_string_length(v);
    if (strlen(*s) != *len)
        return job_fail(err, errlen, "\"%s\" must not contain a NUL character", key);
    return 1;
}

/* Copies a checked string into *dst; -1 with err set when out of memory. */
static int job_take(char **dst, const char *s, size_t len, char *err, size_t errlen)
{
    *dst = job_dup(s, len);
    if (!*dst)
        return job_fail(err, errlen, "out of memory");
    return 0;
}

static int job_decode_v(json_t *o, char *err, size_t errlen)
{
    json_t *v = json_object_get(o, "v");
    if (!v)
        return job_fail(err, errlen, "missing field \"%s\"", "v");
    if (!json_is_integer(v) || json_integer_value(v) != 1)
        return job_fail(err, errlen, "\"%s\" must be 1", "v");
    return 0;
}

static int job_decode_campaign(json_t *o, struct job *j, char *err, size_t errlen)
{
    const char *s;
    size_t len;
    if (job_get_str(o, "campaign", true, &s, &len, err, errlen) < 0)
        return -1;
    if (!job_campaign_valid(s))
        return job_fail(err, errlen, "\"%s\" must be 1-64 of [A-Za-z0-9._-], not \".\" or \"..\"", "campaign");
    return job_take(&j->campaign, s, len, err, errlen);
}

static int job_decode_contact(json_t *o, struct job *j, char *err, size_t errlen)
{
    const char *s;
    size_t len;
    if (job_get_str(o, "contact", true, &s, &len, err, errlen) < 0)
        return -1;
    if (!job_contact_valid(s, len))
        return job_fail(err, errlen,
                        "\"%s\" must be 1-256 bytes of UTF-8 without control characters", "contact");
    return job_take(&j->contact, s, len, err, errlen);
}

static int job_decode_text(json_t *o, size_t max_chars, struct job *j, char *err, size_t errlen)
{
    const char *s;
    size_t len;
    if (job_get_str(o, "text", true, &s, &len, err, errlen) < 0)
        return -1;
    if (len == 0)
        return job_fail(err, errlen, "\"%s\" must not be empty", "text");
    size_t chars = utf8_count(s, len);
    if (max_chars > 0 && chars > max_chars)
        return job_fail(err, errlen, "\"text\" is %zu characters, over the limit of %zu", chars,
                        max_chars);
    return job_take(&j->text, s, len, err, errlen);
}

/* voice, lang and model: optional, 1-256 bytes without control characters. */
static int job_decode_option(json_t *o, const char *key, char **dst, char *err, size_t errlen)
{
    const char *s;
    size_t len;
    int rc = job_get_str(o, key, false, &s, &len, err, errlen);
    if (rc <= 0)
        return rc;
    if (!job_clean_text(s, len, JOB_OPTION_MAX))
        return job_fail(err, errlen, "\"%s\" must be 1-256 bytes without control characters",
                        key);
    return job_take(dst, s, len, err, errlen);
}

static int job_decode_format(json_t *o, struct job *j, char *err, size_t errlen)
{
    const char *s = "wav";
    size_t len = 3;
    if (job_get_str(o, "format", false, &s, &len, err, errlen) < 0)
        return -1;
    enum out_format f;
    if (out_format_parse(s, &f) != 0)
        return job_fail(err, errlen, "\"%s\" must be one of %s", "format", JOB_FORMATS);
    return job_take(&j->format, s, len, err, errlen);
}

size_t job_meta_size(const json_t *meta)
{
    /* jansson measures without writing when given no buffer */
    return meta ? json_dumpb(meta, NULL, 0, JSON_COMPACT) : 0;
}

static int job_decode_meta(json_t *o, struct job *j, char *err, size_t errlen)
{
    json_t *m = json_object_get(o, "meta");
    if (!m || json_is_null(m))
        return 0;
    if (!json_is_object(m))
        return job_fail(err, errlen, "\"%s\" must be an object", "meta");
    size_t size = job_meta_size(m);
    if (size > JOB_META_MAX)
        return job_fail(err, errlen, "\"%s\" is %zu bytes of JSON, over the limit of %d", "meta", size,
                        JOB_META_MAX);
    j->meta = json_incref(m);
    return 0;
}

static int job_decode_enqueued_at(json_t *o, struct job *j, char *err, size_t errlen)
{
    const char *s;
    size_t len;
    int rc = job_get_str(o, "enqueued_at", false, &s, &len, err, errlen);
    if (rc <= 0)
        return rc;
    return job_take(&j->enqueued_at, s, len, err, errlen);
}

static int job_decode_replay(json_t *o, struct job *j, char *err, size_t errlen)
{
    json_t *r = json_object_get(o, "replay");
    if (!r || json_is_null(r))
        return 0;
    if (!json_is_integer(r) || json_integer_value(r) < 0 || json_integer_value(r) > INT_MAX)
        return job_fail(err, errlen, "\"%s\" must be an integer >= 0", "replay");
    j->replay = (int)json_integer_value(r);
    return 0;
}

int job_priority_parse(const char *s, enum job_priority *out)
{
    static const char *const names[] = {"normal", "high", "low"};
    for (int i = 0; i < 3; i++)
        if (s && strcmp(s, names[i]) == 0) {
            *out = (enum job_priority)i;
            return 0;
        }
    return -1;
}

const char *job_priority_name(enum job_priority p)
{
    return p == JOB_PRIORITY_HIGH ? "high" : p == JOB_PRIORITY_LOW ? "low" : "normal";
}

bool job_variant_name_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > JOB_VARIANT_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
            return false;
    return true;
}

static int job_decode_priority(json_t *o, struct job *j, char *err, size_t errlen)
{
    const char *s;
    size_t len;
    int rc = job_get_str(o, "priority", false, &s, &len, err, errlen);
    if (rc <= 0)
        return rc;
    if (job_priority_parse(s, &j->priority) != 0)
        return job_fail(err, errlen, "\"%s\" must be one of high, normal, low", "priority");
    return 0;
}

static int job_decode_expires_at(json_t *o, struct job *j, char *err, size_t errlen)
{
    const char *s;
    size_t len;
    int rc = job_get_str(o, "expires_at", false, &s, &len, err, errlen);
    if (rc <= 0)
        return rc;
    if (timefmt_parse_rfc3339(s, &j->expires_at_ms) != 0 || j->expires_at_ms <= 0)
        return job_fail(err, errlen, "\"%s\" must be an RFC 3339 time with its offset "
                        "(2026-12-03T18:00:00Z)", "expires_at");
    return 0;
}

static int job_decode_dedup(json_t *o, struct job *j, char *err, size_t errlen)
{
    json_t *d = json_object_get(o, "dedup");
    if (!d || json_is_null(d))
        return 0;
    if (!json_is_boolean(d))
        return job_fail(err, errlen, "\"%s\" must be true or false", "dedup");
    j->no_dedup = json_is_false(d);
    return 0;
}

static int job_decode_variant(json_t *v, size_t i, size_t max_chars, struct job *j, char *err,
                              size_t errlen)
{
    if (!json_is_object(v))
        return job_fail(err, errlen, "\"variants\"[%zu] must be an object", i);
    const char *name = json_string_value(json_object_get(v, "name"));
    if (!job_variant_name_valid(name))
        return job_fail(err, errlen, "\"variants\"[%zu].name must be 1-32 of [a-z0-9_-]", i);
    for (size_t k = 0; k < i; k++)
        if (strcmp(j->variants[k].name, name) == 0)
            return job_fail(err, errlen, "\"variants\"[%zu].name \"%s\" is repeated", i, name);
    json_t *text = json_object_get(v, "text");
    const char *s = json_string_value(text);
    size_t len = json_string_length(text);
    if (!s || len == 0 || memchr(s, '\0', len))
        return job_fail(err, errlen, "\"variants\"[%zu].text must be a non-empty string", i);
    size_t chars = utf8_count(s, len);
    if (max_chars > 0 && chars > max_chars)
        return job_fail(err, errlen, "\"variants\"[%zu].text is %zu characters, over the limit of %zu",
                        i, chars, max_chars);
    j->variants[i].name = job_dup(name, strlen(name));
    j->variants[i].text = job_dup(s, len);
    j->nvariants = i + 1;
    return 0;
}

static int job_decode_variants(json_t *o, size_t max_chars, struct job *j, char *err, size_t errlen)
{
    json_t *a = json_object_get(o, "variants");
    if (!a || json_is_null(a))
        return 0;
    size_t n = json_array_size(a);
    if (!json_is_array(a) || n < 1 || n > JOB_VARIANTS_MAX)
        return job_fail(err, errlen, "\"%s\" must be an array of 1-%d variants", "variants",
                        JOB_VARIANTS_MAX);
    j->variants = xcalloc(n, sizeof *j->variants);
    for (size_t i = 0; i < n; i++)
        if (job_decode_variant(json_array_get(a, i), i, max_chars, j, err, errlen) < 0)
            return -1;
    return 0;
}

/* Applies every rule in the order of the schema, filling j; -1 at the first broken one. */
static int job_decode_fields(json_t *o, size_t max_chars, struct job *j, char *err, size_t errlen)
{
    if (job_decode_v(o, err, errlen) < 0)
        return -1;
    j->v = 1;
    if (job_decode_campaign(o, j, err, errlen) < 0 || job_decode_contact(o, j, err, errlen) < 0 ||
        job_decode_text(o, max_chars, j, err, errlen) < 0 ||
        job_decode_option(o, "voice", &j->voice, err, errlen) < 0 ||
        job_decode_option(o, "lang", &j->lang, err, errlen) < 0 ||
        job_decode_option(o, "model", &j->model, err, errlen) < 0 ||
        job_decode_format(o, j, err, errlen) < 0 || job_decode_meta(o, j, err, errlen) < 0 ||
        job_decode_enqueued_at(o, j, err, errlen) < 0 || job_decode_replay(o, j, err, errlen) < 0 ||
        job_decode_priority(o, j, err, errlen) < 0 || job_decode_expires_at(o, j, err, errlen) < 0 ||
        job_decode_dedup(o, j, err, errlen) < 0 || job_decode_variants(o, max_chars, j, err, errlen) < 0)
        return -1;
    return 0;
}

int job_decode_object(json_t *o, size_t max_text_chars, struct job *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(o))
        return job_fail(err, errlen, "a job must be a JSON object");
    if (job_decode_fields(o, max_text_chars, out, err, errlen) < 0) {
        job_free(out);
        return -1;
    }
    return 0;
}

int job_decode(const char *data, size_t len, size_t max_text_chars, struct job *out, char *err,
               size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!utf8_valid(data, len))
        return job_fail(err, errlen, "not valid UTF-8");
    json_error_t jerr;
    json_t *o = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!o)
        return job_fail(err, errlen, "invalid JSON at line %d column %d: %s", jerr.line,
                        jerr.column, jerr.text);
    int rc = job_decode_object(o, max_text_chars, out, err, errlen);
    json_decref(o);
    return rc;
}

/* jansson's dump callback: appends a piece of serialised meta to the buf. */
static int job_dump_cb(const char *piece, size_t size, void *data)
{
    buf_append(data, piece, size);
    return 0;
}

static void job_put_str(struct buf *out, const char *key, const char *s)
{
    if (!s)
        return;
    jsonw_key(out, key);
    jsonw_cstr(out, s);
}

void job_encode(const struct job *j, struct buf *out)
{
    buf_puts(out, "{\"v\":1");
    job_put_str(out, "campaign", j->campaign);
    job_put_str(out, "contact", j->contact);
    job_put_str(out, "text", j->text);
    job_put_str(out, "voice", j->voice);
    job_put_str(out, "lang", j->lang);
    job_put_str(out, "model", j->model);
    job_put_str(out, "format", j->format);
    if (j->meta) {
        jsonw_key(out, "meta");
        size_t mark = out->len;
        /* Fails only for a tree jansson refuses to write (a hand-built cycle): write null, which
         * decodes as "no meta", rather than half an object. */
        if (json_dump_callback(j->meta, job_dump_cb, out, JSON_COMPACT) != 0) {
            out->len = mark;
            buf_puts(out, "null");
        }
    }
    job_put_str(out, "enqueued_at", j->enqueued_at);
    jsonw_key(out, "replay");
    jsonw_int(out, j->replay);
    if (j->priority != JOB_PRIORITY_NORMAL)
        job_put_str(out, "priority", job_priority_name(j->priority));
    if (j->expires_at_ms > 0) {
        char when[TIMEFMT_RFC3339_LEN];
        timefmt_format_rfc3339(j->expires_at_ms, when);
        job_put_str(out, "expires_at", when);
    }
    if (j->no_dedup)
        buf_puts(out, ",\"dedup\":false");
    if (j->nvariants) {
        buf_puts(out, ",\"variants\":[");
        for (size_t i = 0; i < j->nvariants; i++) {
            buf_puts(out, i ? ",{" : "{");
            buf_puts(out, "\"name\":");
            jsonw_cstr(out, j->variants[i].name);
            buf_puts(out, ",\"text\":");
            jsonw_cstr(out, j->variants[i].text);
            buf_putc(out, '}');
        }
        buf_putc(out, ']');
    }
    buf_putc(out, '}');
}

void job_free(struct job *j)
{
    if (!j)
        return;
    free(j->campaign);
    free(j->contact);
    free(j->text);
    free(j->voice);
    free(j->lang);
    free(j->model);
    free(j->format);
    json_decref(j->meta);
    free(j->enqueued_at);
    for (size_t i = 0; i < j->nvariants; i++) {
        free(j->variants[i].name);
        free(j->variants[i].text);
    }
    free(j->variants);
    memset(j, 0, sizeof *j);
}
