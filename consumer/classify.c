/* classify.c - HTTP outcome classes and error bodies; see classify.h.
 *
 * Two tables decide a status: exact codes first (the ones the design names), then status
 * classes by hundreds. The per-class facts (breaker verdict, retryable, name) live in a third
 * table indexed by the class, so adding a class is one row in each. Error bodies are parsed
 * with jansson into struct classify_error and matched against a provider type's rule table;
 * the rows themselves live with each provider type. */
#include "classify.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

struct status_rule {
    long               status;
    enum outcome_class cls;
};

/* Codes whose meaning differs from their hundred. */
static const struct status_rule exact_rules[] = {
    { 400, CLASS_CONTACT },     /* the request is bad; the body says whether the text is */
    { 401, CLASS_PROVIDER },    /* our credentials: every job would fail here */
    { 402, CLASS_PROVIDER },    /* payment required: the account's, never the contact's */
    { 403, CLASS_PROVIDER },
    { 404, CLASS_PROVIDER },    /* a wrong URL, model or voice: no text makes a path vanish */
    { 408, CLASS_RETRY },       /* the server timed out waiting for us */
    { 409, CLASS_RETRY },       /* a conflicting request in progress: openai-python and
                                   elevenlabs-python both retry it */
    { 413, CLASS_SKIP },        /* too long for this provider: another may take it */
    { 422, CLASS_CONTACT },
    { 429, CLASS_THROTTLED },
};

/* By hundred, indexed by status / 100; 2xx is OK only with audio (decided in code). */
static const enum outcome_class hundred_rules[] = {
    [1] = CLASS_RETRY,          /* an interim answer as final: treat as a broken exchange */
    [2] = CLASS_OK,
    [3] = CLASS_RETRY,          /* redirects are followed by the transport; one left over is odd */
    [4] = CLASS_CONTACT,
    [5] = CLASS_RETRY,
};

struct class_info {
    const char          *name;
    enum breaker_verdict verdict;
    bool                 retryable;
};

static const struct class_info class_info[] = {
    [CLASS_OK]        = { "ok", BREAKER_SUCCESS, false },
    [CLASS_RETRY]     = { "retry", BREAKER_FAILURE, true },
    [CLASS_THROTTLED] = { "throttled", BREAKER_NEUTRAL, true },
    [CLASS_CONTACT]   = { "contact", BREAKER_SUCCESS, false },
    [CLASS_PROVIDER]  = { "provider", BREAKER_FAILURE, false },
    [CLASS_SKIP]      = { "skip", BREAKER_SUCCESS, false },
};

#define N_CLASSES (sizeof class_info / sizeof class_info[0])

static enum outcome_class classify_status(long status)
{
    for (size_t i = 0; i < sizeof exact_rules / sizeof exact_rules[0]; i++)
        if (exact_rules[i].status == status)
            return exact_rules[i].cls;
    if (status < 100 || status > 599)
        return CLASS_RETRY;     /* not HTTP: a garbled response line */
    return hundred_rules[status / 100];
}

enum outcome_class classify_response(enum transport_result t, long http_status, bool body_is_audio)
{
    if (t != TRANSPORT_OK)
        return CLASS_RETRY;
    enum outcome_class c = classify_status(http_status);
    if (c == CLASS_OK && !body_is_audio)
        return CLASS_RETRY;     /* a 200 with an error page or a stream cut short */
    return c;
}

enum breaker_verdict classify_breaker_verdict(enum outcome_class c)
{
    if ((size_t)c >= N_CLASSES)
        return BREAKER_FAILURE;
    return class_info[c].verdict;
}

bool classify_retryable(enum outcome_class c)
{
    if ((size_t)c >= N_CLASSES)
        return false;
    return class_info[c].retryable;
}

const char *classify_name(enum outcome_class c)
{
    if ((size_t)c >= N_CLASSES)
        return "unknown";
    return class_info[c].name;
}

/* ---- error bodies ---- */

/* Copies s into out (size max), cut before a partial UTF-8 character, control characters
 * turned into spaces: these strings end up in log lines and /health. */
static void copy_field(char *out, size_t max, const char *s)
{
    size_t n = strlen(s);
    if (n >= max) {
        n = max - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = (unsigned char)s[i] < 0x20 ? ' ' : s[i];
    out[n] = '\0';
}

/* A member as text: strings as they are, numbers written out (OpenAI's code can be null, some
 * servers answer an integer code). */
static void take(json_t *o, const char *key, char *out, size_t max)
{
    json_t *v = json_object_get(o, key);
    char num[32];
    if (json_is_string(v)) {
        copy_field(out, max, json_string_value(v));
    } else if (json_is_integer(v)) {
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        copy_field(out, max, num);
    }
}

/* FastAPI's validation list: the first complaint speaks for the answer. */
static void parse_detail_list(json_t *list, struct classify_error *e)
{
    json_t *first = json_array_get(list, 0);
    if (!json_is_object(first))
        return;
    take(first, "type", e->code, sizeof e->code);
    take(first, "msg", e->message, sizeof e->message);
    json_t *loc = json_object_get(first, "loc");
    size_t n = json_array_size(loc);
    if (n > 0 && json_is_string(json_array_get(loc, n - 1)))
        copy_field(e->param, sizeof e->param, json_string_value(json_array_get(loc, n - 1)));
}

static int parse_detail(json_t *d, struct classify_error *e)
{
    if (json_is_string(d)) {
        copy_field(e->message, sizeof e->message, json_string_value(d));
        return 0;
    }
    if (json_is_array(d)) {
        parse_detail_list(d, e);
        return 0;
    }
    if (!json_is_object(d))
        return -1;
    take(d, "code", e->code, sizeof e->code);        /* ElevenLabs, newer shape */
    take(d, "status", e->status, sizeof e->status);  /* ElevenLabs */
    if (!e->code[0])
        memcpy(e->code, e->status, sizeof e->code);
    if (!e->code[0])
        take(d, "error", e->code, sizeof e->code);   /* Kokoro-FastAPI */
    take(d, "type", e->type, sizeof e->type);
    take(d, "param", e->param, sizeof e->param);
    take(d, "message", e->message, sizeof e->message);
    return 0;
}

int classify_error_parse(const char *body, size_t len, struct classify_error *e)
{
    memset(e, 0, sizeof *e);
    if (!body || len == 0 || (body[0] != '{' && body[0] != ' ' && body[0] != '\n'))
        return -1;  /* audio or HTML: not worth a parse */
    json_t *root = json_loadb(body, len, 0, NULL);
    int rc = -1;
    json_t *err = json_object_get(root, "error");
    json_t *detail = json_object_get(root, "detail");
    if (json_is_object(err)) {
        take(err, "code", e->code, sizeof e->code);
        take(err, "type", e->type, sizeof e->type);
        take(err, "param", e->param, sizeof e->param);
        take(err, "message", e->message, sizeof e->message);
        rc = 0;
    } else if (detail) {
        rc = parse_detail(detail, e);
    }
    json_decref(root);
    if (rc != 0)
        memset(e, 0, sizeof *e);
    return rc;
}

static bool match_str(const char *want, const char *have)
{
    return !want || strcmp(want, have) == 0;
}

static bool match_param(const char *want, const char *have)
{
    if (want && strcmp(want, "*") == 0)
        return have[0] != '\0';
    return match_str(want, have);
}

static bool match_message(const char *want, const char *have)
{
    if (!want)
        return true;
    size_t n = strlen(want);
    for (const char *p = have; *p; p++)
        if (strncasecmp(p, want, n) == 0)
            return true;
    return false;
}

static bool rule_matches(const struct classify_rule *r, long status, const struct classify_error *e)
{
    bool code = match_str(r->code, e->code) || (e->status[0] && match_str(r->code, e->status));
    return (r->status == 0 || r->status == status) && code &&
           match_str(r->type, e->type) && match_param(r->param, e->param) &&
           match_message(r->message, e->message);
}

static const char *or_unknown(const char *s)
{
    return s && *s ? s : "(type default)";
}

/* The cause text: what the answer names, then the status, the code and (where it says more
 * than the code) the message. */
static void write_cause(enum classify_cause c, long status, const struct classify_error *e,
                        const struct classify_asked *a, char *out, size_t outlen)
{
    const char *code = e->code[0] ? e->code : e->type;
    const char *sp = code[0] ? " " : "";
    const char *colon = e->message[0] ? ": " : "";
    switch (c) {
    case CAUSE_VOICE:
        snprintf(out, outlen, "voice '%s' not found or not allowed (HTTP %ld%s%s)",
                 or_unknown(a ? a->voice : NULL), status, sp, code);
        break;
    case CAUSE_MODEL:
        snprintf(out, outlen, "model '%s' not found or not allowed (HTTP %ld%s%s)",
                 or_unknown(a ? a->model : NULL), status, sp, code);
        break;
    case CAUSE_URL:
        snprintf(out, outlen, "URL not found (HTTP %ld%s%s)", status, colon, e->message);
        break;
    case CAUSE_PLAN:
        snprintf(out, outlen, "not in the account's plan (HTTP %ld%s%s)%s%s", status, sp, code,
                 colon, e->message);
        break;
    case CAUSE_ACCOUNT:
        snprintf(out, outlen, "account or key refused (HTTP %ld%s%s)%s%s", status, sp, code, colon,
                 e->message);
        break;
    case CAUSE_QUOTA:
        snprintf(out, outlen, "quota or credit exhausted (HTTP %ld%s%s)%s%s", status, sp, code,
                 colon, e->message);
        break;
    case CAUSE_FIELD:
        snprintf(out, outlen, "request field '%s' refused (HTTP %ld)%s%s", e->param, status, colon,
                 e->message);
        break;
    case CAUSE_FORMAT:
        snprintf(out, outlen, "output format '%s' refused (HTTP %ld%s%s)%s%s",
                 or_unknown(a ? a->output_format : NULL), status, sp, code, colon, e->message);
        break;
    case CAUSE_TOO_LONG:
        snprintf(out, outlen, "text too long for model '%s' (HTTP %ld)%s%s",
                 or_unknown(a ? a->model : NULL), status, colon, e->message);
        break;
    case CAUSE_NONE:
    default:
        snprintf(out, outlen, "HTTP %ld%s%s%s%s", status, sp, code, colon, e->message);
        break;
    }
}

enum outcome_class classify_error_match(const struct classify_rule *rules, size_t n,
                                        enum outcome_class cls, long http_status,
                                        const struct classify_error *e,
                                        const struct classify_asked *asked, char *cause,
                                        size_t causelen)
{
    if (causelen > 0)
        cause[0] = '\0';
    if (cls == CLASS_OK)
        return cls;
    for (size_t i = 0; i < n; i++) {
        if (rules[i].cls == CLASS_OK || !rule_matches(&rules[i], http_status, e))
            continue;
        if (causelen > 0 && (rules[i].cls == CLASS_PROVIDER || rules[i].cls == CLASS_SKIP))
            write_cause(rules[i].cause, http_status, e, asked, cause, causelen);
        return rules[i].cls;
    }
    if (causelen > 0 && (cls == CLASS_PROVIDER || cls == CLASS_SKIP))
        write_cause(cls == CLASS_SKIP ? CAUSE_TOO_LONG : CAUSE_NONE, http_status, e, asked, cause,
                    causelen);
    return cls;
}
