/* jobbuild.c - contact row -> job message; see jobbuild.h. */
#include "jobbuild.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "job.h"
#include "utf8.h"
#include "xalloc.h"

struct jobbuild {
    struct jobbuild_spec spec;
    const char         **names;    /* slot names: placeholders, id column, meta columns */
    size_t               nslots;
    size_t               slot_id;  /* = the template's placeholder count */
    struct buf           id;       /* the current row's id, NUL-terminated */
    struct buf           text;     /* the current row's rendered text */
};

/* 1-256 bytes of UTF-8 without control characters: job.h's rule for voice and lang. */
static bool option_valid(const char *s)
{
    size_t len = strlen(s);
    return len >= 1 && len <= JOB_OPTION_MAX && utf8_valid(s, len) && !utf8_has_control(s, len);
}

static int check_spec(const struct jobbuild_spec *s, char *err, size_t errlen)
{
    const char *opts[][2] = {{"--voice", s->voice}, {"--lang", s->lang}, {"--model", s->model}};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        if (opts[i][1] && !option_valid(opts[i][1])) {
            snprintf(err, errlen, "%s must be 1-%d bytes of UTF-8 without control characters",
                     opts[i][0], JOB_OPTION_MAX);
            return -1;
        }
    for (size_t i = 0; i < s->nmeta; i++)
        if (!s->meta[i][0] || !utf8_valid(s->meta[i], strlen(s->meta[i]))) {
            snprintf(err, errlen, "--meta: a column name must be non-empty UTF-8");
            return -1;
        }
    enum out_format f;
    if (s->format && out_format_parse(s->format, &f) != 0) {
        snprintf(err, errlen, "--format must be one of %s, not \"%s\"", JOB_FORMATS, s->format);
        return -1;
    }
    return 0;
}

struct jobbuild *jobbuild_new(const struct jobbuild_spec *spec, char *err, size_t errlen)
{
    if (check_spec(spec, err, errlen) != 0)
        return NULL;
    struct jobbuild *jb = xcalloc(1, sizeof *jb);
    size_t nvars = template_nvars(spec->tpl);
    jb->names = xcalloc(nvars + 1 + spec->nmeta, sizeof *jb->names);
    jb->spec = *spec;
    for (size_t i = 0; i < nvars; i++)
        jb->names[jb->nslots++] = template_var(spec->tpl, i);
    jb->slot_id = jb->nslots;
    jb->names[jb->nslots++] = spec->id_column;
    for (size_t i = 0; i < spec->nmeta; i++)
        jb->names[jb->nslots++] = spec->meta[i];
    return jb;
}

void jobbuild_free(struct jobbuild *jb)
{
    if (!jb)
        return;
    free(jb->names);
    buf_free(&jb->id);
    buf_free(&jb->text);
    free(jb);
}

const char *const *jobbuild_slot_names(const struct jobbuild *jb, size_t *n)
{
    *n = jb->nslots;
    return jb->names;
}

const char *jobbuild_id(const struct jobbuild *jb, size_t *len)
{
    *len = jb->id.len;
    return jb->id.data ? jb->id.data : "";
}

static int reject(char *reason, size_t reasonlen, const char *why)
{
    snprintf(reason, reasonlen, "%s", why);
    return -1;
}

/* Copies the row's id into jb->id; the reject reason when it cannot be a contact. */
static int read_id(struct jobbuild *jb, jobbuild_slot_fn slot, void *ctx, char *reason, size_t reasonlen)
{
    size_t len = 0;
    const char *id = slot(ctx, jb->slot_id, &len);
    buf_reset(&jb->id);
    if (!id || len == 0)
        return reject(reason, reasonlen, "empty contact id");
    if (!utf8_valid(id, len))
        return reject(reason, reasonlen, "contact id is not valid UTF-8");
    buf_append(&jb->id, id, len);
    if (!job_contact_valid(id, len))
        return reject(reason, reasonlen, "contact id longer than 256 bytes or with control characters");
    return 0;
}

/* Renders the row's text into jb->text; the reject reason when it cannot be a job's text. */
static int render_text(struct jobbuild *jb, jobbuild_slot_fn slot, void *ctx, char *reason, size_t reasonlen)
{
    const char *missing = NULL;
    buf_reset(&jb->text);
    if (template_render(jb->spec.tpl, slot, ctx, &jb->text, &missing) != 0) {
        snprintf(reason, reasonlen, "no value for {{%s}}", missing);
        return -1;
    }
    if (!utf8_valid(jb->text.data, jb->text.len))
        return reject(reason, reasonlen, "text is not valid UTF-8");
    /* valid UTF-8 may hold NUL, which no job string can carry (job.h) */
    if (memchr(jb->text.data, '\0', jb->text.len))
        return reject(reason, reasonlen, "text contains a NUL character");
    size_t chars = utf8_count(jb->text.data, jb->text.len), max = jb->spec.max_text_chars;
    if (chars == 0)
        return reject(reason, reasonlen, "text is empty");
    if (max > 0 && chars > max) {
        snprintf(reason, reasonlen, "text is %zu characters, over the limit of %zu", chars, max);
        return -1;
    }
    return 0;
}

/* The meta object of the current row, or NULL when no meta column was asked for. */
static json_t *meta_object(const struct jobbuild *jb, jobbuild_slot_fn slot, void *ctx)
{
    if (jb->spec.nmeta == 0)
        return NULL;
    json_t *meta = json_object();
    for (size_t i = 0; i < jb->spec.nmeta; i++) {
        size_t len = 0;
        const char *v = slot(ctx, jb->slot_id + 1 + i, &len);
        if (v && utf8_valid(v, len) && !memchr(v, '\0', len))
            json_object_set_new(meta, jb->spec.meta[i], json_stringn(v, len));
    }
    return meta;
}

/* Rejects the row whose meta cannot travel: a value holding a NUL byte (it would reach the job
 * as \u0000, which the consumer refuses) or a meta over JOB_META_MAX. Better a reject reason at
 * launch than an invalid job in the DLQ. */
static int check_meta(const struct jobbuild *jb, jobbuild_slot_fn slot, void *ctx, char *reason,
                      size_t reasonlen)
{
    for (size_t i = 0; i < jb->spec.nmeta; i++) {
        size_t len = 0;
        const char *v = slot(ctx, jb->slot_id + 1 + i, &len);
        if (v && memchr(v, '\0', len)) {
            snprintf(reason, reasonlen, "meta column \"%s\" contains a NUL character", jb->spec.meta[i]);
            return -1;
        }
    }
    json_t *meta = meta_object(jb, slot, ctx);
    size_t size = job_meta_size(meta);
    json_decref(meta);
    if (size <= JOB_META_MAX)
        return 0;
    snprintf(reason, reasonlen, "meta is %zu bytes of JSON, over the limit of %d", size, JOB_META_MAX);
    return -1;
}

int jobbuild_row(struct jobbuild *jb, jobbuild_slot_fn slot, void *ctx, char *reason, size_t reasonlen)
{
    if (read_id(jb, slot, ctx, reason, reasonlen) != 0 ||
        render_text(jb, slot, ctx, reason, reasonlen) != 0)
        return -1;
    return check_meta(jb, slot, ctx, reason, reasonlen);
}

void jobbuild_encode(struct jobbuild *jb, jobbuild_slot_fn slot, void *ctx, struct buf *out)
{
    const struct jobbuild_spec *s = &jb->spec;
    /* jb->id and jb->text are complete: these pointers stay valid while only out grows */
    struct job j = {.v = 1, .campaign = (char *)s->campaign, .contact = jb->id.data,
                    .text = jb->text.data, .voice = (char *)s->voice, .lang = (char *)s->lang,
                    .model = (char *)s->model, .format = (char *)(s->format ? s->format : "wav"),
                    .enqueued_at = (char *)s->enqueued_at, .meta = meta_object(jb, slot, ctx)};
    job_encode(&j, out);
    json_decref(j.meta);
}
