/* classify.h - what a provider's answer means for the job and for the provider.
 *
 * Every attempt ends in one outcome class, and the engine acts on the class only: retry here,
 * wait and slow down, give up on the contact, skip or fail over to the next provider. Keeping
 * the mapping in one table means the breaker, the retry loop and the DLQ reason can never
 * disagree about, say, a 429.
 *
 * Two layers. The status table is the generic HTTP mapping. Then the provider reads the error
 * body: classify_error_parse() reduces the JSON shapes the real APIs answer with to one struct
 * (code, type, param, message), and classify_error_match() runs it through that provider type's
 * rule table (provider_openai.c, provider_elevenlabs.c). The principle of the tables: an answer
 * that names the voice, the model, the URL, the plan or the account is about the provider's
 * configuration, so it is provider-level (every contact would get it); an answer that the text
 * is too long says "not on this provider", never "not this contact"; only answers about the
 * text itself (invalid characters, content policy) are the contact's. */
#ifndef VOXCAST_CLASSIFY_H
#define VOXCAST_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "breaker.h"

enum outcome_class {
    CLASS_OK,          /* audio delivered */
    CLASS_RETRY,       /* retryable on this provider; a breaker failure (5xx, 408, 409, timeouts,
                          resets, connect errors, 200 with non-audio or truncated body) */
    CLASS_THROTTLED,   /* 429: wait Retry-After / slow down; NOT a breaker failure */
    CLASS_CONTACT,     /* non-retryable for this contact: 400, 422 and other 4xx about the
                          text -> DLQ at once; a breaker success (the provider answered) */
    CLASS_PROVIDER,    /* provider-level: 401, 402, 403, 404, and answers naming the voice,
                          model, URL, plan or account -> no retry on this provider, breaker
                          failure, fail over */
    CLASS_SKIP         /* "too long for this provider": 413, or a body saying so -> skip this
                          provider for this job (fail over), a breaker success */
};

enum transport_result {
    TRANSPORT_OK,       /* an HTTP response (or an in-process result) arrived */
    TRANSPORT_CONNECT,  /* could not connect (refused, DNS, TLS handshake) */
    TRANSPORT_TIMEOUT,  /* connect or transfer timed out */
    TRANSPORT_RESET,    /* the connection broke mid-way */
    TRANSPORT_OTHER     /* any other transport failure */
};

/* The class of one attempt. When t != TRANSPORT_OK the status and body are ignored: RETRY.
 * Otherwise by status: 2xx with audio OK; 429 THROTTLED; 401/402/403/404 PROVIDER; 408, 409 RETRY;
 * 413 SKIP; other 4xx CONTACT; 5xx RETRY; 1xx, 3xx, 2xx without (complete) audio, and anything outside
 * 100..599 RETRY. `body_is_audio` is the caller's verdict that the body is complete audio. */
enum outcome_class classify_response(enum transport_result t, long http_status, bool body_is_audio);

/* How the provider's breaker should count the class: OK, CONTACT and SKIP are SUCCESS (it
 * answered), RETRY and PROVIDER are FAILURE, THROTTLED is NEUTRAL; FAILURE for a value outside
 * the enum. */
enum breaker_verdict classify_breaker_verdict(enum outcome_class c);

/* Whether the job may try this provider again (after a backoff or Retry-After): true for RETRY
 * and THROTTLED. CONTACT goes to the DLQ, PROVIDER fails over, OK is done; false otherwise. */
bool classify_retryable(enum outcome_class c);

/* "ok", "retry", "throttled", "contact", "provider", "skip" (static strings; "unknown"
 * otherwise). */
const char *classify_name(enum outcome_class c);

/* ---- error bodies ---- */

#define CLASSIFY_FIELD_MAX 64
#define CLASSIFY_MESSAGE_MAX 200

/* An error answer reduced to four strings ("" when absent; cut to fit, never mid-character).
 * Shapes read (first match wins):
 *   OpenAI            {"error":{"message","type","param","code"}}
 *   ElevenLabs        {"detail":{"status","message"}}, newer {"detail":{"type","code",
 *                     "message","status","request_id"}}: code = code, else status; status
 *                     is kept too, and a rule's code matches either
 *   Kokoro-FastAPI    {"detail":{"error","message","type"}}: code = error
 *   FastAPI 422       {"detail":[{"type","loc":[...,"field"],"msg"},...]}: the first item;
 *                     param = the last element of loc, code = type
 *   FastAPI plain     {"detail":"text"}: message = text */
struct classify_error {
    char code[CLASSIFY_FIELD_MAX];
    char status[CLASSIFY_FIELD_MAX];     /* ElevenLabs' detail.status; "" elsewhere */
    char type[CLASSIFY_FIELD_MAX];
    char param[CLASSIFY_FIELD_MAX];
    char message[CLASSIFY_MESSAGE_MAX];
};

/* Fills *e from body[0..len) (not NUL-terminated, may be binary). 0 when one of the shapes above
 * was found, -1 otherwise (*e is then all "": a proxy's HTML page, an empty body). */
int classify_error_parse(const char *body, size_t len, struct classify_error *e);

/* What a provider-level or skip answer names: decides the cause text. */
enum classify_cause {
    CAUSE_NONE,         /* nothing particular: the cause is "HTTP <status>" and the message */
    CAUSE_VOICE,        /* the voice is unknown or not allowed */
    CAUSE_MODEL,        /* the model is unknown or not allowed */
    CAUSE_URL,          /* the endpoint does not exist */
    CAUSE_PLAN,         /* the account's plan does not include this (402, subscription) */
    CAUSE_ACCOUNT,      /* the key or the account is refused */
    CAUSE_QUOTA,        /* the account's quota or credit is exhausted */
    CAUSE_FIELD,        /* another request field (settings) is refused */
    CAUSE_FORMAT,       /* the output format that was asked is refused */
    CAUSE_TOO_LONG      /* the text is too long for this provider or model */
};

/* One row of a provider type's table. Every set matcher must match: status (0: any); code
 * exactly (the error's code or status), type exactly; param exactly, or "*" for any non-empty param; message as a case-insensitive
 * substring. NULL matches anything. */
struct classify_rule {
    long                status;
    const char         *code, *type, *param, *message;
    enum outcome_class  cls;
    enum classify_cause cause;
    const char         *source;     /* where the real answer is documented (for readers) */
};

/* What was asked of the provider, for the cause text. */
struct classify_asked {
    const char *voice;
    const char *model;
    const char *output_format;
};

/* Runs an error answer through rules[0..n): the first matching row gives the class, and the
 * cause text is written to cause ("voice 'alloy' not found", "model 'tts-2' not available",
 * "text too long for model 'eleven_v3'"...). Without a match: the generic class `cls` stays,
 * and the cause of a PROVIDER says "HTTP <status>" and what the body said, that of a SKIP (413)
 * "text too long for model ...". Only
 * non-OK answers are matched (an OK class is returned as it is, cause ""). A row never turns
 * an answer into OK. */
enum outcome_class classify_error_match(const struct classify_rule *rules, size_t n,
                                        enum outcome_class cls, long http_status,
                                        const struct classify_error *e,
                                        const struct classify_asked *asked, char *cause,
                                        size_t causelen);

#endif
