/* fuzz_launch.c - libFuzzer target for launch-built jobs (producer/jobbuild.c over
 * producer/contacts.c): contact row -> job message -> job_decode.
 *
 * Whatever launch enqueues, every consumer must decode as the same contact, text and meta, or
 * the contact is dead-lettered as invalid (or spoken under a garbled name) and never finishes.
 * The input is four choice bytes and a contacts file:
 *
 *   data[0]  bit 0: the file is JSON Lines (its columns are the keys of its first line) rather
 *            than CSV (its columns are the header's); bit 1: a voice, lang and model are set
 *   data[1]  bit k: column k (k < 8) is a --meta column
 *   data[2]  bit k: the template has a placeholder for column k (when k's name can be one)
 *   data[3]  the id column's index (mod the number of columns)
 *   data[4..] the file, read through a memfd (via a symlink named .csv or .jsonl, which is how
 *            contacts_open tells the two apart)
 *
 * The template is "T:" then "{{name}}|" per placeholder. For each row (at most FUZZ_MAX_ROWS),
 * jobbuild_row must accept it exactly when an independent reading of the row says it makes a
 * job (id 1-256 bytes of UTF-8 without control characters; every placeholder has a non-empty
 * value; the text is UTF-8 without NUL and 1 to FUZZ_MAX_TEXT_CHARS characters), with a reason
 * when it does not. Every accepted row's job is appended to one growing buffer (as launch's
 * chunks do) and must decode with job_decode to: the row's id byte for byte, the text rebuilt
 * here from the row's values, each meta value that can travel (present, UTF-8, no NUL) byte for
 * byte and no other meta member, and the campaign, voice, lang, model and format given. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "buf.h"
#include "contacts.h"
#include "csv.h"
#include "job.h"
#include "jobbuild.h"
#include "template.h"
#include "utf8.h"

#define FUZZ_MAX_TEXT_CHARS 200  /* small enough that fuzzed rows reach the limit */
#define FUZZ_MAX_ROWS       64
#define FUZZ_MAX_COLS       8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int  memfd = -1;
static char memfd_target[64];

static void fuzz_check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_launch: %s\n", what);
        abort();
    }
}

/* One memfd for every input, opened by contacts_open through a symlink whose name ends as it
 * expects (.csv or .jsonl); /proc/self resolves in this process. The link exists only while
 * the file is being opened, so a crash leaves nothing behind. */
static void open_memfd(void)
{
    memfd = memfd_create("fuzz_launch", 0);
    fuzz_check(memfd >= 0, "memfd_create failed");
    snprintf(memfd_target, sizeof memfd_target, "/proc/self/fd/%d", memfd);
}

static struct contacts *open_contacts(bool jsonl, char *err, size_t errlen)
{
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char path[256];
    snprintf(path, sizeof path, "%s/fuzz_launch.%d.%s", tmp, (int)getpid(), jsonl ? "jsonl" : "csv");
    unlink(path);
    fuzz_check(symlink(memfd_target, path) == 0, "cannot link to the memfd");
    struct contacts *c = contacts_open(path, err, errlen);
    unlink(path);
    return c;
}

static void write_all(const uint8_t *data, size_t size)
{
    fuzz_check(ftruncate(memfd, 0) == 0, "ftruncate on the memfd failed");
    size_t off = 0;
    while (off < size) {
        ssize_t n = pwrite(memfd, data + off, size - off, (off_t)off);
        fuzz_check(n > 0, "write to the memfd failed");
        off += (size_t)n;
    }
}

/* The columns a launch could name: the CSV header, or the keys of the first JSON line. */
struct columns {
    char  *name[FUZZ_MAX_COLS];
    size_t n;
};

static void columns_free(struct columns *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->name[i]);
    c->n = 0;
}

static void columns_from_json(const uint8_t *data, size_t size, struct columns *c)
{
    const uint8_t *nl = memchr(data, '\n', size);
    json_t *o = json_loadb((const char *)data, nl ? (size_t)(nl - data) : size, 0, NULL);
    const char *key;
    json_t *v;
    if (json_is_object(o))
        json_object_foreach(o, key, v)
            if (c->n < FUZZ_MAX_COLS)
                c->name[c->n++] = strdup(key);
    json_decref(o);
    if (c->n == 0)
        c->name[c->n++] = strdup("contact_id");
}

/* The header's names as contacts.c keeps them (C strings: a name holding NUL ends there). */
static void columns_from_csv(const uint8_t *data, size_t size, struct columns *c)
{
    FILE *fp = size ? fmemopen((void *)data, size, "r") : NULL;
    struct csv_reader *r = fp ? csv_open(fp) : NULL;
    struct csv_record rec;
    if (r && csv_next(r, &rec) == 1)
        for (size_t i = 0; i < rec.nfields && c->n < FUZZ_MAX_COLS; i++)
            c->name[c->n++] = strdup(rec.fields[i]);
    csv_free(r);
    if (fp)
        fclose(fp);
}

static bool name_is_placeholder(const char *s)
{
    if (!s[0])
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.' || *p == '-'))
            return false;
    return true;
}

/* One input's launch: its columns, template, builder and the row source. */
struct run {
    struct columns       cols;
    struct buf           tpl_text;
    struct template     *tpl;
    size_t               nph;                  /* placeholders: slots 0..nph-1 */
    const char          *meta[FUZZ_MAX_COLS];
    size_t               nmeta;
    struct jobbuild_spec spec;
    struct jobbuild     *jb;
    struct contacts     *src;
};

static const char *row_slot(void *ctx, size_t slot, size_t *len)
{
    struct run *r = ctx;
    return contacts_slot(r->src, slot, len);
}

static void make_template(struct run *r, unsigned mask)
{
    buf_puts(&r->tpl_text, "T:");
    for (size_t k = 0; k < r->cols.n; k++)
        if ((mask >> k & 1) && name_is_placeholder(r->cols.name[k])) {
            buf_printf(&r->tpl_text, "{{%s}}|", r->cols.name[k]);
            r->nph++;
        }
    char err[256] = "";
    r->tpl = template_compile(r->tpl_text.data, err, sizeof err);
    fuzz_check(r->tpl != NULL, "a template of valid names does not compile");
    fuzz_check(template_nvars(r->tpl) == r->nph, "placeholder count differs");
}

/* The text the row should make, rebuilt here without template.c: -1 when a value is missing. */
static int expected_text(struct run *r, struct buf *out)
{
    buf_puts(out, "T:");
    for (size_t i = 0; i < r->nph; i++) {
        size_t len = 0;
        const char *v = contacts_slot(r->src, i, &len);
        if (!v || len == 0)
            return -1;
        buf_append(out, v, len);
        buf_putc(out, '|');
    }
    return 0;
}

static bool expect_job(struct run *r, const struct buf *text)
{
    size_t len = 0;
    const char *id = contacts_slot(r->src, r->nph, &len);
    if (!id || !job_contact_valid(id, len))
        return false;
    if (!utf8_valid(text->data, text->len) || memchr(text->data, '\0', text->len))
        return false;
    size_t chars = utf8_count(text->data, text->len);
    return chars >= 1 && chars <= FUZZ_MAX_TEXT_CHARS;
}

static bool travels(const char *v, size_t len)
{
    return v && utf8_valid(v, len) && !memchr(v, '\0', len);
}

static bool same_bytes(const char *s, const char *v, size_t len)
{
    return s && strlen(s) == len && memcmp(s, v, len) == 0;
}

static void check_meta(struct run *r, json_t *meta)
{
    if (r->nmeta == 0) {
        fuzz_check(meta == NULL, "meta written without --meta");
        return;
    }
    fuzz_check(json_is_object(meta), "meta missing");
    size_t distinct = 0;
    for (size_t i = 0; i < r->nmeta; i++) {
        bool seen = false;
        for (size_t k = 0; k < i; k++)
            seen = seen || strcmp(r->meta[k], r->meta[i]) == 0;
        size_t len = 0;
        const char *v = contacts_slot(r->src, r->nph + 1 + i, &len);
        json_t *got = json_object_get(meta, r->meta[i]);
        if (!travels(v, len)) {
            fuzz_check(got == NULL, "a meta value that cannot travel is in meta");
            continue;
        }
        fuzz_check(json_is_string(got) && json_string_length(got) == len &&
                       memcmp(json_string_value(got), v, len) == 0,
                   "meta value differs from the row's");
        distinct += !seen;
    }
    fuzz_check(json_object_size(meta) == distinct, "meta holds members of no --meta column");
}

static bool same_option(const char *got, const char *want)
{
    return (!got && !want) || (got && want && strcmp(got, want) == 0);
}

/* The decoded job against the row: id, text, meta and the launch's fixed fields. */
static void check_job(struct run *r, const struct job *j, const struct buf *text)
{
    size_t len = 0, id_len = 0;
    const char *id = contacts_slot(r->src, r->nph, &len);
    const char *built_id = jobbuild_id(r->jb, &id_len);
    fuzz_check(same_bytes(j->contact, id, len), "contact differs from the row's id");
    fuzz_check(same_bytes(built_id, id, len) && id_len == len, "jobbuild_id differs from the row's id");
    fuzz_check(same_bytes(j->text, text->data, text->len), "text differs from the row's");
    fuzz_check(strcmp(j->campaign, r->spec.campaign) == 0, "campaign differs");
    fuzz_check(strcmp(j->format, r->spec.format) == 0, "format differs");
    fuzz_check(same_option(j->voice, r->spec.voice), "voice differs");
    fuzz_check(same_option(j->lang, r->spec.lang), "lang differs");
    fuzz_check(same_option(j->model, r->spec.model), "model differs");
    check_meta(r, j->meta);
}

/* One row: the builder's verdict against the independent one, then the job it makes. */
static void check_row(struct run *r, struct buf *jobs)
{
    struct buf text = {0};
    bool want = expected_text(r, &text) == 0 && expect_job(r, &text);
    char reason[256] = "";
    int rc = jobbuild_row(r->jb, row_slot, r, reason, sizeof reason);
    fuzz_check((rc == 0) == want, want ? "a good row was rejected" : "a bad row was accepted");
    if (rc != 0) {
        fuzz_check(reason[0] != '\0', "a row rejected without a reason");
        buf_free(&text);
        return;
    }
    size_t off = jobs->len;
    jobbuild_encode(r->jb, row_slot, r, jobs);
    const char *msg = jobs->data + off; /* taken after the append: the buffer may have moved */
    struct job j;
    char err[512] = "";
    if (job_decode(msg, jobs->len - off, FUZZ_MAX_TEXT_CHARS, &j, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_launch: job_decode: %s\n  job: %.*s\n", err, (int)(jobs->len - off), msg);
        abort();
    }
    check_job(r, &j, &text);
    job_free(&j);
    buf_free(&text);
}

static bool meta_names_valid(const struct run *r)
{
    for (size_t i = 0; i < r->nmeta; i++)
        if (!r->meta[i][0] || !utf8_valid(r->meta[i], strlen(r->meta[i])))
            return false;
    return true;
}

static void run_rows(struct run *r, bool jsonl)
{
    char err[1024] = "";
    r->src = open_contacts(jsonl, err, sizeof err);
    if (!r->src) {
        fuzz_check(err[0] != '\0', "contacts_open failed without a reason");
        return;
    }
    size_t n;
    const char *const *names = jobbuild_slot_names(r->jb, &n);
    fuzz_check(n == r->nph + 1 + r->nmeta, "slot count is not placeholders + id + meta");
    if (contacts_bind(r->src, names, n, err, sizeof err) != 0) {
        fuzz_check(!jsonl, "JSON Lines refused a binding");
        return;
    }
    struct buf jobs = {0}; /* grows job after job, as a launch chunk's payloads do */
    for (int i = 0; i < FUZZ_MAX_ROWS; i++) {
        bool fatal = false;
        int rc = contacts_next(r->src, err, sizeof err, &fatal);
        if (rc == 0 || (rc < 0 && fatal))
            break;
        if (rc == 1)
            check_row(r, &jobs);
    }
    buf_free(&jobs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    if (memfd < 0)
        open_memfd();
    bool jsonl = data[0] & 1, options = data[0] & 2;
    const uint8_t *file = data + 4;
    size_t file_len = size - 4;
    struct run r = {0};
    if (jsonl)
        columns_from_json(file, file_len, &r.cols);
    else
        columns_from_csv(file, file_len, &r.cols);
    if (r.cols.n == 0) /* no header: contacts_open refuses, nothing to build */
        r.cols.name[r.cols.n++] = strdup("contact_id");
    for (size_t k = 0; k < r.cols.n; k++)
        if (data[1] >> k & 1)
            r.meta[r.nmeta++] = r.cols.name[k];
    make_template(&r, data[2]);
    r.spec = (struct jobbuild_spec){
        .campaign = "fuzz-launch", .id_column = r.cols.name[data[3] % r.cols.n], .tpl = r.tpl,
        .meta = r.meta, .nmeta = r.nmeta, .voice = options ? "alloy" : NULL,
        .lang = options ? "en" : NULL, .model = options ? "tts-1" : NULL, .format = "wav",
        .enqueued_at = "2026-12-03T02:00:00Z", .max_text_chars = FUZZ_MAX_TEXT_CHARS};
    char err[256] = "";
    r.jb = jobbuild_new(&r.spec, err, sizeof err);
    fuzz_check((r.jb != NULL) == meta_names_valid(&r), "jobbuild_new disagrees on the meta names");
    fuzz_check(r.jb != NULL || err[0] != '\0', "jobbuild_new failed without a reason");
    if (r.jb) {
        write_all(file, file_len);
        run_rows(&r, jsonl);
    }
    contacts_free(r.src);
    jobbuild_free(r.jb);
    template_free(r.tpl);
    buf_free(&r.tpl_text);
    columns_free(&r.cols);
    return 0;
}
