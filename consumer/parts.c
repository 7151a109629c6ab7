/* parts.c - one job in several requests; see parts.h. */
#include "parts.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textsplit.h"
#include "utf8.h"
#include "xalloc.h"

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

/* The child's job: the parent's, with text[0..len) for its text and no variants. */
static void child_job(const struct job *from, const char *text, size_t len, struct job *out)
{
    *out = (struct job){0};
    out->v = from->v;
    out->campaign = xstrdup(from->campaign);
    out->contact = xstrdup(from->contact);
    out->text = xstrndup(text, len);
    out->voice = dup_or_null(from->voice);
    out->lang = dup_or_null(from->lang);
    out->model = dup_or_null(from->model);
    out->format = dup_or_null(from->format);
    out->meta = from->meta ? json_incref(from->meta) : NULL;
    out->enqueued_at = dup_or_null(from->enqueued_at);
    out->replay = from->replay;
    out->priority = from->priority;
    out->expires_at_ms = from->expires_at_ms;
    out->no_dedup = from->no_dedup;
}

/* A child is filed where its parent is: same message, lane, partition generation and key, so
 * a revoked partition drops it like any task of that partition. */
static struct task *new_child(struct task *parent, size_t index, const char *text, size_t len)
{
    struct task *c = xcalloc(1, sizeof *c);
    c->parent = parent;
    c->child_index = index;
    c->valid = true;
    c->state = TASK_READY;
    c->gen = parent->gen;
    c->partition = parent->partition;
    c->offset = parent->offset;
    c->lane = parent->lane;
    memcpy(c->key, parent->key, sizeof c->key);
    child_job(&parent->job, text, len, &c->job);
    return c;
}

static size_t adopt(struct task *t, struct task **children, size_t n)
{
    t->children = children;
    t->nchildren = t->pending = n;
    return n;
}

static size_t expand_variants(struct task *t)
{
    size_t n = t->job.nvariants;
    struct task **kids = xcalloc(n, sizeof *kids);
    for (size_t i = 0; i < n; i++) {
        const struct job_variant *v = &t->job.variants[i];
        kids[i] = new_child(t, i, v->text, strlen(v->text));
        snprintf(kids[i]->variant, sizeof kids[i]->variant, "%s", v->name);
    }
    return adopt(t, kids, n);
}

static size_t expand_parts(struct task *t, size_t max_chars)
{
    const char *text = t->job.text;
    size_t len = strlen(text);
    if (max_chars == 0 || utf8_count(text, len) <= max_chars)
        return 0;
    struct textpart parts[PARTS_MAX];
    size_t n = textsplit(text, len, max_chars, parts, PARTS_MAX);
    if (n == 0 || n > PARTS_MAX)
        return 0;
    struct task **kids = xcalloc(n, sizeof *kids);
    for (size_t i = 0; i < n; i++)
        kids[i] = new_child(t, i, text + parts[i].off, parts[i].len);
    return adopt(t, kids, n);
}

size_t parts_expand(struct task *t, size_t max_chars)
{
    if (t->nchildren > 0)
        return t->nchildren;
    return t->job.nvariants > 0 ? expand_variants(t) : expand_parts(t, max_chars);
}

bool parts_is_child(const struct task *t)
{
    return t->parent != NULL;
}

/* The parent takes the DLQ outcome of child c, its error naming c: "part 3 of 5: ...",
 * "variant voicemail: ..." (and "variant voicemail: part 2 of 3: ..." a level up). */
static void fail_from(struct task *p, const struct task *c)
{
    char what[64];
    if (c->variant[0]) {
        snprintf(what, sizeof what, "variant %s", c->variant);
        snprintf(p->failed_variant, sizeof p->failed_variant, "%s", c->variant);
        p->failed_part = c->failed_part;
        p->failed_parts = c->failed_parts;
    } else {
        snprintf(what, sizeof what, "part %zu of %zu", c->child_index + 1, p->nchildren);
        p->failed_part = (int)c->child_index + 1;
        p->failed_parts = (int)p->nchildren;
    }
    p->outcome = OUTCOME_DLQ;
    p->reason = c->reason;
    snprintf(p->error, sizeof p->error, "%.60s: %.190s", what, c->error);
    snprintf(p->provider, sizeof p->provider, "%s", c->provider);
    p->http_status = c->http_status;
    if (c->history.len) {
        if (p->history.len)
            buf_putc(&p->history, ',');
        buf_append(&p->history, c->history.data, c->history.len);
    }
    p->nhistory += c->nhistory;
}

struct task *parts_child_back(struct task *c)
{
    struct task *p = c->parent;
    c->back = true;
    p->attempts += c->attempts;
    if (p->pending > 0)
        p->pending--;
    if (c->outcome == OUTCOME_DLQ && p->outcome != OUTCOME_DLQ) {
        fail_from(p, c);
        parts_abandon(p);
    }
    if (p->pending > 0)
        return NULL;
    if (p->outcome == OUTCOME_NONE) {
        p->outcome = OUTCOME_DONE;
        /* the provider that rendered the first part (the contact's by_provider count) */
        snprintf(p->provider, sizeof p->provider, "%s", p->children[0]->provider);
    }
    return p;
}

void parts_abandon(struct task *t)
{
    for (size_t i = 0; i < t->nchildren; i++) {
        struct task *c = t->children[i];
        if (!c || c->back)
            continue; /* back already: t keeps it */
        if (c->nchildren > 0 && c->pending > 0) {
            parts_abandon(c); /* in no queue itself: t keeps it, its children out go */
            continue;
        }
        /* out: rendering, or complete but not back yet (a variant waiting in the render-once
         * cache or written alone, cache.h), its own children with it */
        c->orphan = true;
        c->parent = NULL;
        t->children[i] = NULL;
    }
    t->pending = 0;
}

static size_t reopen(struct task *t, struct task **out, size_t max, size_t n)
{
    for (size_t i = 0; i < t->nchildren; i++) {
        struct task *c = t->children[i];
        if (!c)
            continue;
        if (c->nchildren > 0) {
            n = reopen(c, out, max, n);
            if (c->pending > 0) {
                c->back = false;
                t->pending++;
            }
        } else if (c->outcome == OUTCOME_NONE) {
            if (n < max)
                out[n] = c;
            n++;
            c->back = false;
            t->pending++;
        }
    }
    if (t->pending > 0)
        t->outcome = OUTCOME_NONE;
    return n;
}

size_t parts_reopen(struct task *t, struct task **out, size_t max)
{
    return reopen(t, out, max, 0);
}

struct task *parts_root(struct task *t)
{
    while (t->parent)
        t = t->parent;
    return t;
}

bool parts_has_variants(const struct task *t)
{
    return t->job.nvariants > 0 && t->nchildren > 0;
}

void parts_file_ext(const struct task *t, const char *ext, char *out, size_t outlen)
{
    int n = t->variant[0] ? snprintf(out, outlen, "%s.%s", t->variant, ext)
                          : snprintf(out, outlen, "%s", ext);
    if (n < 0 || (size_t)n >= outlen)
        out[0] = '\0';
}
