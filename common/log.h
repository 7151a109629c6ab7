/* log.h - structured logging: one JSON object per line on stderr.
 *
 *   log_info("job done", LOGS("campaign", c), LOGS("contact", id), LOGN("latency_ms", ms));
 *
 * Every line carries ts (UTC, ms), level, msg and the program name; fields follow in the order
 * given. Lines go out with a single write(2) so concurrent threads and processes never
 * interleave inside a line. Secrets registered with log_add_secret() are replaced by
 * "[REDACTED]" wherever they appear, in messages and values alike: a key read from the
 * environment is registered before anything can log it. */
#ifndef VOXCAST_LOG_H
#define VOXCAST_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

enum log_field_type { LF_NONE, LF_STR, LF_NUM, LF_DBL, LF_BOOL };

struct log_field {
    const char         *key;  /* NULL ends the list */
    enum log_field_type type;
    const char         *s;
    int64_t             n;
    double              d;
};

#define LOGS(k, v) ((struct log_field){(k), LF_STR, (v), 0, 0})
#define LOGN(k, v) ((struct log_field){(k), LF_NUM, NULL, (int64_t)(v), 0})
#define LOGD(k, v) ((struct log_field){(k), LF_DBL, NULL, 0, (double)(v)})
#define LOGB(k, v) ((struct log_field){(k), LF_BOOL, NULL, (v) ? 1 : 0, 0})
#define LOG_FIELD0 {"", LF_NONE, 0, 0, 0}
#define LOG_FIELDS_(...) ((const struct log_field[]){LOG_FIELD0, ##__VA_ARGS__, {0}})

#define log_debug(msg, ...) \
    log_event(LOG_DEBUG, (msg), (const struct log_field[]){LOG_FIELD0, ##__VA_ARGS__, {0}})
#define log_info(msg, ...) \
    log_event(LOG_INFO, (msg), (const struct log_field[]){LOG_FIELD0, ##__VA_ARGS__, {0}})
#define log_warn(msg, ...) \
    log_event(LOG_WARN, (msg), (const struct log_field[]){LOG_FIELD0, ##__VA_ARGS__, {0}})
#define log_error(msg, ...) \
    log_event(LOG_ERROR, (msg), (const struct log_field[]){LOG_FIELD0, ##__VA_ARGS__, {0}})

void log_init(const char *program, enum log_level min_level);
int log_level_parse(const char *s, enum log_level *out);   /* 0, or -1 for an unknown name */
bool log_enabled(enum log_level level);
/* Registers a secret (copied) to redact from every later line; values shorter than 4 bytes are
 * ignored (redacting "a" would shred every line); NULL is ignored. Thread-safe. Redaction
 * replaces the secret, its JSON-escaped form, and any prefix of 8 bytes or more of a secret that
 * long (what is left of a key in a text cut short, such as a 200-byte body excerpt). */
void log_add_secret(const char *secret);
/* Formats one line into buf-less storage and writes it; fields[0] is a placeholder skipped by
 * the macros' construction. Never fails visibly: a failed write is dropped. */
void log_event(enum log_level level, const char *msg, const struct log_field *fields);
/* Redacts registered secrets in place within a malloc'd copy; caller frees. For texts that leave
 * the process by other roads (DLQ entries, /health). */
char *log_redact(const char *text);
/* log_redact for len bytes that may hold NUL (an HTTP body); the copy is NUL-terminated. */
char *log_redact_mem(const char *text, size_t len);

#endif
