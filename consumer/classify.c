/* classify.c - HTTP outcome classes; see classify.h.
 *
 * Two tables decide a status: exact codes first (the ones the design names), then status
 * classes by hundreds. The per-class facts (breaker verdict, retryable, name) live in a third
 * table indexed by the class, so adding a class is one row in each. */
#include "classify.h"

#include <stddef.h>

struct status_rule {
    long               status;
    enum outcome_class cls;
};

/* Codes whose meaning differs from their hundred. */
static const struct status_rule exact_rules[] = {
    { 400, CLASS_CONTACT },     /* the request (text, voice) is bad: retrying cannot help */
    { 401, CLASS_PROVIDER },    /* our credentials: every job would fail here */
    { 403, CLASS_PROVIDER },
    { 404, CLASS_CONTACT },
    { 408, CLASS_RETRY },       /* the server timed out waiting for us */
    { 413, CLASS_CONTACT },     /* text too long for this request */
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
