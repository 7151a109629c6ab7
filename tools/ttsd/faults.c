/* faults.c - fault settings: one table of fields for flags, -X/-c and admin JSON; the draw.
 *
 * Every settable field is a row of `fields`: its name, its kind (which fixes the range and the
 * parser) and where it lives in struct faults. Text values (flags, config lines) and JSON values
 * both become a double and go through the same store_field(), so a range is checked in exactly
 * one place. Text fields (the mimic settings: a name from a fixed set, a word, a comma list) go
 * through store_text() from either source the same way. Whether a word names an error the chosen
 * mimic knows is mimic_check()'s business (mimic.h): this module knows no provider. */
#include "faults.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jsonw.h"

enum field_kind {
    K_RATE, K_STATUS, K_MS, K_SECONDS, K_OPT_MS, K_BOOL,   /* numbers, stored through store_field() */
    K_COUNT, K_PER_SECOND,                                  /* account limits: a count, a rate */
    K_ENUM, K_WORD, K_LIST,                                 /* text, stored through store_text() */
};

struct field {
    const char     *name;
    enum field_kind kind;
    size_t          off;       /* offsetof(struct faults, ...) */
    size_t          cap;       /* text kinds: size of the char array */
    const char     *allowed;   /* K_ENUM: the names it takes, '|'-separated */
};

#define NUM_FIELD(name, kind, member) {name, kind, offsetof(struct faults, member), 0, NULL}
#define TEXT_FIELD(name, kind, member, allowed) \
    {name, kind, offsetof(struct faults, member), sizeof((struct faults *)0)->member, allowed}

static const struct field fields[] = {
    NUM_FIELD("fail_rate", K_RATE, fail_rate),
    NUM_FIELD("fail_status", K_STATUS, fail_status),
    NUM_FIELD("latency_ms", K_MS, latency_ms),
    NUM_FIELD("retry_after", K_SECONDS, retry_after),
    NUM_FIELD("hang_rate", K_RATE, hang_rate),
    NUM_FIELD("reset_rate", K_RATE, reset_rate),
    NUM_FIELD("garbage_rate", K_RATE, garbage_rate),
    NUM_FIELD("truncate_rate", K_RATE, truncate_rate),
    NUM_FIELD("tone", K_BOOL, tone),
    TEXT_FIELD("mimic", K_ENUM, mimic, "none|openai|kokoro|elevenlabs"),
    TEXT_FIELD("fail_code", K_WORD, fail_code, NULL),
    TEXT_FIELD("tier", K_ENUM, tier, "free|starter|creator|pro"),
    TEXT_FIELD("voices", K_LIST, voices, NULL),
    TEXT_FIELD("models", K_LIST, models, NULL),
    TEXT_FIELD("library_voices", K_LIST, library_voices, NULL),
    TEXT_FIELD("ratelimit_reset", K_WORD, ratelimit_reset, NULL),
    NUM_FIELD("retry_after_ms", K_OPT_MS, retry_after_ms),
    NUM_FIELD("max_concurrent", K_COUNT, max_concurrent),
    NUM_FIELD("rate", K_PER_SECOND, rate),
};
#define NFIELDS (sizeof fields / sizeof fields[0])

void faults_init(struct faults *f)
{
    memset(f, 0, sizeof *f);
    f->fail_status = 503;
    f->retry_after = FAULTS_UNSET;
    f->retry_after_ms = FAULTS_UNSET;
    snprintf(f->mimic, sizeof f->mimic, "none");
    snprintf(f->tier, sizeof f->tier, "pro");
    snprintf(f->ratelimit_reset, sizeof f->ratelimit_reset, "1s");
}

static bool is_text_kind(enum field_kind k)
{
    return k == K_ENUM || k == K_WORD || k == K_LIST;
}

static bool word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
}

/* True when s is one of the '|'-separated names in allowed. */
static bool enum_has(const char *allowed, const char *s)
{
    size_t n = strlen(s);
    for (const char *p = allowed; *p;) {
        size_t m = strcspn(p, "|");
        if (m == n && strncmp(p, s, n) == 0)
            return true;
        p += m + (p[m] == '|');
    }
    return false;
}

/* Copies "A, B ,C" into out as "A,B,C" (blanks dropped); every name must be word characters. */
static int normalize_list(const char *s, char *out, size_t cap, char *err, size_t errlen)
{
    size_t o = 0;
    for (const char *p = s; *p;) {
        p += strspn(p, " \t");
        size_t m = strcspn(p, ",");
        size_t end = m;
        while (end > 0 && (p[end - 1] == ' ' || p[end - 1] == '\t'))
            end--;
        for (size_t i = 0; i < end; i++) {
            if (!word_char(p[i])) {
                snprintf(err, errlen, "expected names of letters, digits, '_', '-' or '.' separated by commas");
                return -1;
            }
        }
        if (end > 0) {
            if (o + (o > 0) + end + 1 > cap) {
                snprintf(err, errlen, "the list is longer than %zu bytes", cap - 1);
                return -1;
            }
            if (o > 0)
                out[o++] = ',';
            memcpy(out + o, p, end);
            o += end;
        }
        p += m + (p[m] == ',');
    }
    out[o] = '\0';
    return 0;
}

/* Checks s against a text field's rule and stores it. */
static int store_text(struct faults *f, const struct field *fd, const char *s, char *err, size_t errlen)
{
    char tmp[FAULTS_LIST_MAX];
    char *p = (char *)f + fd->off;
    if (fd->kind == K_LIST) {
        if (normalize_list(s, tmp, fd->cap, err, errlen) < 0)
            return -1;
        memcpy(p, tmp, strlen(tmp) + 1);
        return 0;
    }
    bool ok = strlen(s) < fd->cap;
    for (const char *c = s; ok && *c; c++)
        ok = word_char(*c);
    if (ok && fd->kind == K_ENUM)
        ok = enum_has(fd->allowed, s);
    if (!ok) {
        if (fd->kind == K_ENUM)
            snprintf(err, errlen, "expected one of %s", fd->allowed);
        else
            snprintf(err, errlen, "expected a name of at most %zu letters, digits, '_', '-' or '.'", fd->cap - 1);
        return -1;
    }
    memcpy(p, s, strlen(s) + 1);
    return 0;
}

/* Compares a user-given name with a field name, dashes standing for underscores. */
static bool name_eq(const char *given, const char *field)
{
    for (; *given && *field; given++, field++) {
        char c = *given == '-' ? '_' : *given;
        if (c != *field)
            return false;
    }
    return *given == '\0' && *field == '\0';
}

static const struct field *field_find(const char *name)
{
    for (size_t i = 0; i < NFIELDS; i++)
        if (name_eq(name, fields[i].name))
            return &fields[i];
    return NULL;
}

/* Checks v against the field's range and stores it. */
static int store_field(struct faults *f, const struct field *fd, double v, char *err, size_t errlen)
{
    char *p = (char *)f + fd->off;
    bool integral = isfinite(v) && v == floor(v);
    switch (fd->kind) {
    case K_RATE:
        if (!(v >= 0.0 && v <= 1.0))
            break;
        *(double *)(void *)p = v;
        return 0;
    case K_STATUS:
        if (!integral || v < 100 || v > 599)
            break;
        *(int *)(void *)p = (int)v;
        return 0;
    case K_MS:
        if (!integral || v < 0 || v > 600000)
            break;
        *(int *)(void *)p = (int)v;
        return 0;
    case K_SECONDS:
        if (!integral || v < FAULTS_UNSET || v > 86400)
            break;
        *(int *)(void *)p = (int)v;
        return 0;
    case K_OPT_MS:
        if (!integral || v < FAULTS_UNSET || v > 600000)
            break;
        *(int *)(void *)p = (int)v;
        return 0;
    case K_BOOL:
        if (isnan(v))
            break;
        *(bool *)(void *)p = v != 0.0;
        return 0;
    case K_COUNT:
        if (!integral || v < 0 || v > FAULTS_MAX_COUNT)
            break;
        *(int *)(void *)p = (int)v;
        return 0;
    case K_PER_SECOND:
        if (!(v >= 0.0 && v <= FAULTS_MAX_RATE))
            break;
        *(double *)(void *)p = v;
        return 0;
    case K_ENUM:
    case K_WORD:
    case K_LIST:
        snprintf(err, errlen, "expected a string");
        return -1;
    }
    static const char *const ranges[] = {
        [K_RATE] = "a number from 0 to 1", [K_STATUS] = "an HTTP status from 100 to 599",
        [K_MS] = "milliseconds from 0 to 600000", [K_SECONDS] = "seconds from 0 to 86400 (-1 unsets)",
        [K_OPT_MS] = "milliseconds from 0 to 600000 (-1 unsets)",
        [K_BOOL] = "true or false", [K_COUNT] = "a whole number from 0 to 1000000 (0: no limit)",
        [K_PER_SECOND] = "requests per second from 0 to 1000000 (0: no limit)"};
    snprintf(err, errlen, "expected %s", ranges[fd->kind]);
    return -1;
}

static int parse_bool_text(const char *s, double *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0 || strcasecmp(s, no[i]) == 0) {
            *out = strcasecmp(s, yes[i]) == 0;
            return 0;
        }
    }
    return -1;
}

static int parse_number_text(const char *s, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    return (end == s || *end != '\0' || errno != 0) ? -1 : 0;
}

/* Appends the rule "SUBSTR=STATUS", or "SUBSTR=CODE" when code is not NULL (status unused then);
 * the last '=' separates them, so SUBSTR may contain '='. */
static int add_text_rule(struct faults *f, const char *substr, size_t n, double status, const char *code,
                         char *err, size_t errlen)
{
    if (n == 0 || n > FAULTS_TEXT_MAX) {
        snprintf(err, errlen, "the substring must be 1-%d bytes", FAULTS_TEXT_MAX);
        return -1;
    }
    bool code_ok = code && *code && strlen(code) < FAULTS_NAME_MAX;
    for (const char *c = code; code_ok && *c; c++)
        code_ok = word_char(*c);
    if (code && !code_ok) {
        snprintf(err, errlen, "expected SUBSTR=CODE with CODE a mimic error name");
        return -1;
    }
    if (!code && !(status >= 100 && status <= 599 && status == floor(status))) {
        snprintf(err, errlen, "expected SUBSTR=STATUS with a status from 100 to 599, or SUBSTR=CODE");
        return -1;
    }
    if (f->ntext == FAULTS_MAX_TEXT_RULES) {
        snprintf(err, errlen, "at most %d rules", FAULTS_MAX_TEXT_RULES);
        return -1;
    }
    struct fault_text_rule *r = &f->text[f->ntext++];
    memcpy(r->substr, substr, n);
    r->substr[n] = '\0';
    r->status = code ? 0 : (int)status;
    snprintf(r->code, sizeof r->code, "%s", code ? code : "");
    return 0;
}

static int set_text_rule(struct faults *f, const char *value, char *err, size_t errlen)
{
    const char *eq = strrchr(value, '=');
    double status = NAN;
    if (!eq || eq[1] == '\0') {
        snprintf(err, errlen, "expected SUBSTR=STATUS or SUBSTR=CODE");
        return -1;
    }
    bool numeric = parse_number_text(eq + 1, &status) == 0;
    return add_text_rule(f, value, (size_t)(eq - value), status, numeric ? NULL : eq + 1, err, errlen);
}

int faults_set(struct faults *f, const char *name, const char *value, bool *known, char *err, size_t errlen)
{
    if (known)
        *known = true;
    if (name_eq(name, "fail_text"))
        return set_text_rule(f, value, err, errlen);
    const struct field *fd = field_find(name);
    if (!fd) {
        if (known)
            *known = false;
        snprintf(err, errlen, "unknown fault '%s'", name);
        return -1;
    }
    if (is_text_kind(fd->kind))
        return store_text(f, fd, value, err, errlen);
    double v;
    int rc = fd->kind == K_BOOL ? parse_bool_text(value, &v) : parse_number_text(value, &v);
    if (rc < 0)
        return store_field(f, fd, NAN, err, errlen);   /* NAN fails every range: one message */
    return store_field(f, fd, v, err, errlen);
}

/* ---- admin JSON ------------------------------------------------------------------------- */

static int json_rules(struct faults *f, json_t *obj, char *err, size_t errlen)
{
    if (!json_is_object(obj)) {
        snprintf(err, errlen, "expected an object {\"SUBSTR\": STATUS}");
        return -1;
    }
    f->ntext = 0;
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        double status = json_is_integer(v) ? (double)json_integer_value(v) : NAN;
        const char *code = json_is_string(v) ? json_string_value(v) : NULL;
        if (add_text_rule(f, key, strlen(key), status, code, err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* A text field from JSON: a string, or for lists also an array of strings (joined by commas). */
static int json_text_field(struct faults *f, const struct field *fd, json_t *v, char *err, size_t errlen)
{
    if (json_is_string(v))
        return store_text(f, fd, json_string_value(v), err, errlen);
    if (fd->kind != K_LIST || !json_is_array(v)) {
        snprintf(err, errlen, fd->kind == K_LIST ? "expected a string or an array of strings" : "expected a string");
        return -1;
    }
    struct buf joined = {0};
    size_t i;
    json_t *item;
    int rc = 0;
    json_array_foreach(v, i, item) {
        if (!json_is_string(item)) {
            snprintf(err, errlen, "expected an array of strings");
            rc = -1;
            break;
        }
        if (i > 0)
            buf_putc(&joined, ',');
        buf_puts(&joined, json_string_value(item));
    }
    if (rc == 0)
        rc = store_text(f, fd, joined.data ? joined.data : "", err, errlen);
    buf_free(&joined);
    return rc;
}

static int json_field(struct faults *f, const char *key, json_t *v, char *err, size_t errlen)
{
    if (strcmp(key, "fail_text") == 0)
        return json_rules(f, v, err, errlen);
    const struct field *fd = field_find(key);
    if (!fd || strcmp(fd->name, key) != 0) {
        snprintf(err, errlen, "unknown fault");
        return -1;
    }
    if (is_text_kind(fd->kind))
        return json_text_field(f, fd, v, err, errlen);
    double d = NAN;
    if (fd->kind == K_BOOL && json_is_boolean(v))
        d = json_is_true(v);
    else if (fd->kind != K_BOOL && json_is_number(v))
        d = json_number_value(v);
    else if ((fd->kind == K_SECONDS || fd->kind == K_OPT_MS) && json_is_null(v))
        d = FAULTS_UNSET;
    return store_field(f, fd, d, err, errlen);
}

/* json_field with the field's name in front of the reason, as admin callers need it. */
static int json_field_named(struct faults *f, const char *key, json_t *v, char *err, size_t errlen)
{
    char why[160];
    if (json_field(f, key, v, why, sizeof why) == 0)
        return 0;
    snprintf(err, errlen, "%s: %s", key, why);
    return -1;
}

int faults_apply_json(struct faults *f, const char *json, size_t len, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    if (!json_is_object(root)) {
        if (root)
            snprintf(err, errlen, "expected a JSON object");
        else
            snprintf(err, errlen, "bad JSON: %s", jerr.text);
        json_decref(root);
        return -1;
    }
    struct faults next = *f;
    json_t *clear = json_object_get(root, "clear");
    if (clear && !json_is_boolean(clear)) {
        snprintf(err, errlen, "clear: expected true or false");
        json_decref(root);
        return -1;
    }
    if (json_is_true(clear))
        faults_init(&next);
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "clear") != 0 && (rc = json_field_named(&next, key, v, err, errlen)) < 0)
            break;
    }
    json_decref(root);
    if (rc == 0)
        *f = next;
    return rc;
}

void faults_to_json(const struct faults *f, struct buf *out)
{
    buf_putc(out, '{');
    for (size_t i = 0; i < NFIELDS; i++) {
        const struct field *fd = &fields[i];
        const char *p = (const char *)f + fd->off;
        jsonw_key(out, fd->name);
        if (fd->kind == K_RATE || fd->kind == K_PER_SECOND)
            buf_printf(out, "%g", *(const double *)(const void *)p);
        else if (fd->kind == K_BOOL)
            buf_puts(out, *(const bool *)(const void *)p ? "true" : "false");
        else if (is_text_kind(fd->kind))
            jsonw_cstr(out, p);
        else if ((fd->kind == K_SECONDS || fd->kind == K_OPT_MS) && *(const int *)(const void *)p == FAULTS_UNSET)
            buf_puts(out, "null");
        else
            jsonw_int(out, *(const int *)(const void *)p);
    }
    jsonw_key(out, "fail_text");
    buf_putc(out, '{');
    for (size_t i = 0; i < f->ntext; i++) {
        jsonw_key(out, f->text[i].substr);
        if (f->text[i].code[0])
            jsonw_cstr(out, f->text[i].code);
        else
            jsonw_int(out, f->text[i].status);
    }
    buf_puts(out, "}}");
}

/* ---- the draw --------------------------------------------------------------------------- */

/* A uniform double in [0, 1) from splitmix64: tiny, seedable with any value (0 included), good
 * enough for fault coins. */
static double faults_uniform(uint64_t *rng)
{
    uint64_t z = (*rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

void faults_decide(const struct faults *f, const char *text, uint64_t *rng, struct fault_decision *d)
{
    *d = (struct fault_decision){FAULT_NONE, 200, "none", NULL};
    for (size_t i = 0; text && i < f->ntext; i++) {
        const struct fault_text_rule *r = &f->text[i];
        if (strstr(text, r->substr)) {
            *d = (struct fault_decision){FAULT_FAIL, r->status, "injected fault (fail_text)", r->code[0] ? r->code : NULL};
            return;
        }
    }
    const struct { double rate; enum fault_action action; const char *cause; } coins[] = {
        {f->reset_rate, FAULT_RESET, "reset_rate"}, {f->hang_rate, FAULT_HANG, "hang_rate"},
        {f->fail_rate, FAULT_FAIL, "injected fault (fail_rate)"}, {f->garbage_rate, FAULT_GARBAGE, "garbage_rate"},
        {f->truncate_rate, FAULT_TRUNCATE, "truncate_rate"}};
    for (size_t i = 0; i < sizeof coins / sizeof coins[0]; i++) {
        if (coins[i].rate > 0 && faults_uniform(rng) < coins[i].rate) {
            d->action = coins[i].action;
            d->status = coins[i].action == FAULT_FAIL ? f->fail_status : 200;
            d->cause = coins[i].cause;
            d->code = coins[i].action == FAULT_FAIL && f->fail_code[0] ? f->fail_code : NULL;
            return;
        }
    }
}
