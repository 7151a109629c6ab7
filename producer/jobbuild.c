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
    struct jobbuild_variant *variants; /* a copy of the spec's array (its members borrowed) */
    size_t              *var_base; /* slot of each variant's first placeholder */
    struct buf          *var_text; /* each variant's rendered text */
};

/* 1-256 bytes of UTF-8 without control characters: job.h's rule for voice and lang. */
static bool option_valid(const char *s)
{
    size_t len = strlen(s);
    return len >= 1 && len <= JOB_OPTION_MAX && utf8_valid(s, len) && !utf8_has_control(s, len);
}

static int check_variants(const struct jobbuild_spec *s, char *err, size_t errlen)
{
    if (s->nvariants > JOB_VARIANTS_MAX) {
        snprintf(err, errlen, "--variant: at most %d variants", JOB_VARIANTS_MAX);
        return -1;
    }
    for (size_t i = 0; i < s->nvariants; i++) {
        if (!job_variant_name_valid(s->variants[i].name)) {
            snprintf(err, errlen, "--variant: the name \"%s\" must be 1-%d of [a-z0-9_-]",
                     s->variants[i].name, JOB_VARIANT_NAME_MAX);
            return -1;
        }
        for (size_t k = 0; k < i; k++)
            if (strcmp(s->variants[k].name, s->variants[i].name) == 0) {
                snprintf(err, errlen, "--variant: \"%s\" is given twice", s->variants[i].name);
                return -1;
            }
    }
    return 0;
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
    return check_variants(s, err, errlen);
}

struct jobbuild *jobbuild_new(const struct jobbuild_spec *spec, char *err, size_t errlen)
{
    if (check_spec(spec, err, errlen) != 0)
        return NULL;
    struct jobbuild *jb = xcalloc(1, sizeof *jb);
    size_t nvars = template_nvars(spec->tpl), all = nvars + 1 + spec->nmeta;
    for (size_t v = 0; v < spec->nvariants; v++)
        all += template_nvars(spec->variants[v].tpl);
    jb->names = xcalloc(all, sizeof *jb->names);
    jb->spec = *spec;
    for (size_t i = 0; i < nvars; i++)
        jb->names[jb->nslots++] = template_var(spec->tpl, i);
    jb->slot_id = jb->nslots;
    jb->names[jb->nslots++] = spec->id_column;
    for (size_t i = 0; i < spec->nmeta; i++)
        jb->names[jb->nslots++] = spec->meta[i];
    jb->variants = xcalloc(spec->nvariants + 1, sizeof *jb->variants);
    if (spec->nvariants > 0)
        memcpy(jb->variants, spec->variants, spec->nvariants * sizeof *jb->variants);
    jb->spec.variants = jb->variants;
    jb->var_base = xcalloc(spec->nvariants + 1, sizeof *jb->var_base);
    jb->var_text = xcalloc(spec->nvariants + 1, sizeof *jb->var_text);
    for (size_t v = 0; v < spec->nvariants; v++) {
        jb->var_base[v] = jb->nslots;
        for (size_t i = 0; i < template_nvars(spec->variants[v].tpl); i++)
            jb->names[jb->nslots++] = template_var(spec->variants[v].tpl, i);
    }
    return jb;
}

void jobbuild_free(struct jobbuild *jb)
{
    if (!jb)
        return;
    free(jb->names);
    for (size_t v = 0; v < jb->spec.nvariants; v++)
        buf_free(&jb->var_text[v]);
    free(jb->var_text);
    free(jb->var_base);
    free(jb->variants);
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

/* A variant template's lookup: its placeholder i is the row's slot base + i. */
struct shifted {
    jobbuild_slot_fn slot;
    void            *ctx;
    size_t           base;
};

static const char *shifted_slot(void *ctx, size_t i, size_t *len)
{
    const struct shifted *sh = ctx;
    return sh->slot(sh->ctx, sh->base + i, len);
}

/* Renders tpl through lookup into out; the reject reason (after prefix) when it cannot be a
 * job's text. */
static int render_one(const struct jobbuild *jb, const struct template *tpl, template_lookup_fn lookup,
                      void *ctx, struct buf *out, const char *prefix, char *reason, size_t reasonlen)
{
    const char *missing = NULL, *why = NULL;
    char detail[160];
    buf_reset(out);
    size_t chars = 0, max = jb->spec.max_text_chars;
    if (template_render(tpl, lookup, ctx, out, &missing) != 0) {
        snprintf(detail, sizeof detail, "no value for {{%s}}", missing);
        why = detail;
    } else if (!utf8_valid(out->data, out->len)) {
        why = "text is not valid UTF-8";
    } else if (memchr(out->data, '\0', out->len)) {
        /* valid UTF-8 may hold NUL, which no job string can carry (job.h) */
        why = "text contains a NUL character";
    } else if ((chars = utf8_count(out->data, out->len)) == 0) {
        why = "text is empty";
    } else if (max > 0 && chars > max) {
        snprintf(detail, sizeof detail, "text is %zu characters, over the limit of %zu", chars, max);
        why = detail;
    }
    if (!why)
        return 0;
    snprintf(reason, reasonlen, "%s%s", prefix, why);
    return -1;
}

/* Renders the row's text into jb->text and each variant's into its buffer; the reject reason
 * when one cannot be a job's text. */
static int render_text(struct jobbuild *jb, jobbuild_slot_fn slot, void *ctx, char *reason, size_t reasonlen)
{
    if (render_one(jb, jb->spec.tpl, slot, ctx, &jb->text, "", reason, reasonlen) != 0)
        return -1;
    for (size_t v = 0; v < jb->spec.nvariants; v++) {
        struct shifted sh = {.slot = slot, .ctx = ctx, .base = jb->var_base[v]};
        char prefix[64];
        snprintf(prefix, sizeof prefix, "variant %s: ", jb->spec.variants[v].name);
        if (render_one(jb, jb->spec.variants[v].tpl, shifted_slot, &sh, &jb->var_text[v], prefix,
                       reason, reasonlen) != 0)
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

size_t jobbuild_nrequests(const struct jobbuild *jb)
{
    return jb->spec.nvariants > 0 ? jb->spec.nvariants : 1;
}

const char *jobbuild_request(const struct jobbuild *jb, size_t i, size_t *len)
{
    const struct buf *b = jb->spec.nvariants > 0 ? &jb->var_text[i] : &jb->text;
    *len = b->len;
    return b->data ? b->data : "";
}

void jobbuild_encode(struct jobbuild *jb, jobbuild_slot_fn slot, void *ctx, struct buf *out)
{
    const struct jobbuild_spec *s = &jb->spec;
    struct job_variant variants[JOB_VARIANTS_MAX];
    for (size_t v = 0; v < s->nvariants; v++)
        variants[v] = (struct job_variant){.name = (char *)s->variants[v].name,
                                           .text = jb->var_text[v].data};
    /* jb->id and the texts are complete: these pointers stay valid while only out grows */
    struct job j = {.v = 1, .campaign = (char *)s->campaign, .contact = jb->id.data,
                    .text = s->nvariants > 0 ? jb->var_text[0].data : jb->text.data,
                    .voice = (char *)s->voice, .lang = (char *)s->lang,
                    .model = (char *)s->model, .format = (char *)(s->format ? s->format : "wav"),
                    .enqueued_at = (char *)s->enqueued_at, .meta = meta_object(jb, slot, ctx),
                    .priority = s->priority, .expires_at_ms = s->expires_at_ms,
                    .no_dedup = s->no_dedup, .variants = s->nvariants > 0 ? variants : NULL,
                    .nvariants = s->nvariants};
    job_encode(&j, out);
    json_decref(j.meta);
}
