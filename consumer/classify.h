/* classify.h - what a provider's answer means for the job and for the provider.
 *
 * Every attempt ends in one outcome class, and the engine acts on the class only: retry here,
 * wait and slow down, give up on the contact, or fail over to the next provider. Keeping the
 * mapping in one table means the breaker, the retry loop and the DLQ reason can never disagree
 * about, say, a 429. This is the generic HTTP mapping; a provider with quirks (OpenAI's 429
 * insufficient_quota, Polly's 400 ThrottlingException) overrides the class in its own
 * classifier before the engine acts. */
#ifndef VOXCAST_CLASSIFY_H
#define VOXCAST_CLASSIFY_H

#include <stdbool.h>

#include "breaker.h"

enum outcome_class {
    CLASS_OK,          /* audio delivered */
    CLASS_RETRY,       /* retryable on this provider; a breaker failure (5xx, 408, timeouts,
                          resets, connect errors, 200 with non-audio or truncated body) */
    CLASS_THROTTLED,   /* 429: wait Retry-After / slow down; NOT a breaker failure */
    CLASS_CONTACT,     /* non-retryable for this contact: 400, 404, 413, 422 -> DLQ at once;
                          a breaker success (the provider answered) */
    CLASS_PROVIDER     /* provider-level: 401, 403 -> no retry on this provider, breaker
                          failure, fail over */
};

enum transport_result {
    TRANSPORT_OK,       /* an HTTP response (or an in-process result) arrived */
    TRANSPORT_CONNECT,  /* could not connect (refused, DNS, TLS handshake) */
    TRANSPORT_TIMEOUT,  /* connect or transfer timed out */
    TRANSPORT_RESET,    /* the connection broke mid-way */
    TRANSPORT_OTHER     /* any other transport failure */
};

/* The class of one attempt. When t != TRANSPORT_OK the status and body are ignored: RETRY.
 * Otherwise by status: 2xx with audio OK; 429 THROTTLED; 401/403 PROVIDER; 408 RETRY;
 * other 4xx CONTACT; 5xx RETRY; 1xx, 3xx, 2xx without (complete) audio, and anything outside
 * 100..599 RETRY. `body_is_audio` is the caller's verdict that the body is complete audio. */
enum outcome_class classify_response(enum transport_result t, long http_status, bool body_is_audio);

/* How the provider's breaker should count the class: OK and CONTACT are SUCCESS (it answered),
 * RETRY and PROVIDER are FAILURE, THROTTLED is NEUTRAL; FAILURE for a value outside the enum. */
enum breaker_verdict classify_breaker_verdict(enum outcome_class c);

/* Whether the job may try this provider again (after a backoff or Retry-After): true for RETRY
 * and THROTTLED. CONTACT goes to the DLQ, PROVIDER fails over, OK is done; false otherwise. */
bool classify_retryable(enum outcome_class c);

/* "ok", "retry", "throttled", "contact", "provider" (static strings; "unknown" otherwise). */
const char *classify_name(enum outcome_class c);

#endif
