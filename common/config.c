/* config.c - the key table, parsing and precedence; see config.h.
 *
 * Values are kept as strings in a small array (a few dozen keys: a linear scan beats a hash
 * table here) and validated against their declared type when set, so getters cannot fail. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "xalloc.h"

enum ctype { T_STR, T_INT, T_DOUBLE, T_BOOL };

struct keydef {
    const char *key;
    const char *def;
    enum ctype  type;
    const char *help;
};

static const struct keydef keys[] = {
    {"kafka.bootstrap.servers", "127.0.0.1:9092", T_STR, "Kafka brokers, host:port[,host:port]"},
    {"kafka.topic", "voxcast.jobs", T_STR, "jobs topic"},
    {"kafka.group.id", "voxcast-consumers", T_STR, "consumer group"},
    {"redis.url", "redis://127.0.0.1:6379/0", T_STR, "redis://[:password@]host:port/db"},
    {"redis.connect_timeout_ms", "5000", T_INT, "give up connecting to Redis after this long"},
    {"redis.wait_replicas", "0", T_INT,
     "replicas that must acknowledge each outcome batch (WAIT) before its offsets are stored (0: off)"},
    {"redis.wait_timeout_ms", "1000", T_INT,
     "how long WAIT waits for redis.wait_replicas; fewer in time counts as a Redis failure"},
    {"output.dir", "./voxcast-audio", T_STR, "where audio files go: DIR/CAMPAIGN/NAME.FORMAT"},
    {"output.fsync", "true", T_BOOL, "sync audio files before marking contacts done"},
    {"output.uri", "", T_STR,
     "file:///ABS/PATH or s3://BUCKET/PREFIX (empty: file:// of output.dir)"},
    {"s3.endpoint", "", T_STR, "S3 endpoint URL, e.g. http://127.0.0.1:9000 (empty: AWS's for s3.region)"},
    {"s3.region", "us-east-1", T_STR, "S3 region the requests are signed for"},
    {"s3.path_style", "false", T_BOOL, "ENDPOINT/BUCKET/KEY instead of BUCKET.ENDPOINT/KEY (MinIO, local stores)"},
    {"results.topic", "voxcast.results", T_STR,
     "topic of one event per contact reaching a terminal state (empty: none)"},
    {"consumer.concurrency", "16", T_INT, "max jobs rendered at once by one consumer process"},
    {"consumer.shutdown_grace_ms", "30000", T_INT, "time to finish in-flight jobs on SIGTERM"},
    {"consumer.summary_interval_ms", "10000", T_INT, "period of the summary log line"},
    {"consumer.http_client", "auto", T_STR,
     "auto: plain http:// providers at literal addresses through the lean HTTP/1.1 client, the rest "
     "through libcurl; curl: every request through libcurl"},
    {"retry.max_attempts", "3", T_INT, "attempts per provider for one job"},
    {"retry.base_ms", "1000", T_INT, "backoff base: delay before retry n is up to base*2^(n-1)"},
    {"retry.max_ms", "60000", T_INT, "backoff cap"},
    {"retry.throttle_max_wait_ms", "600000", T_INT,
     "how long a job waits out 429s on one provider before failing over (429s are not attempts)"},
    {"breaker.failure_threshold", "5", T_INT, "consecutive failures that open a provider's circuit"},
    {"breaker.open_ms", "60000", T_INT, "time OPEN before a HALF_OPEN probe"},
    {"breaker.half_open_successes", "2", T_INT, "probe successes that close the circuit again"},
    {"breaker.shared", "true", T_BOOL,
     "one breaker per provider for every consumer sharing redis.url (one half-open probe for the fleet)"},
    {"providers", "espeak", T_STR, "provider names in failover order, comma separated"},
    {"http.listen", "127.0.0.1:9464", T_STR, "/health and /metrics address; empty disables"},
    {"job.max_text_chars", "20000", T_INT,
     "longer texts are rejected at launch and by consumers (texts over a provider's limit are split)"},
    {"campaign.retention_days", "30", T_INT,
     "a campaign's Redis keys, DLQ included, expire this long after it completes or is cancelled (0: never)"},
    {"campaign.control_ttl_ms", "500", T_INT,
     "how long a consumer trusts what it read of a campaign's pause or cancel before reading again"},
    {"kafka.low_lane_share", "0.05", T_DOUBLE,
     "share of the consumer's fetching kept for lower priority lanes while a higher one has backlog"},
    {"cache.ttl_s", "604800", T_INT,
     "render-once cache: identical spoken requests within this long reuse the audio (0: off)"},
    {"cache.claim_ttl_ms", "30000", T_INT,
     "how long a render's claim lasts without renewal; others wait for it, then render themselves"},
    {"dlq.max_entries_per_campaign", "1000000", T_INT,
     "entries one campaign's DLQ keeps; past it, dlq counts but drops entries (0: no cap)"},
    {"log.level", "info", T_STR, "debug, info, warn or error"},
    {"launch.ack_timeout_ms", "60000", T_INT, "launch gives up waiting for Kafka acks after this"},
};

static const struct keydef provider_fields[] = {
    {"type", "", T_STR, "openai, elevenlabs or espeak"},
    {"url", "", T_STR, "endpoint URL (HTTP types)"},
    {"api_key_env", "", T_STR, "environment variable holding the API key"},
    {"model", "", T_STR, "the model for jobs without one or without an entry in models"},
    {"voice", "", T_STR, "the voice for logical voices without an entry in voices"},
    {"voices", "", T_STR, "LOGICAL=PROVIDER_VOICE, ...: the campaign's voices in this provider's names"},
    {"models", "", T_STR, "LOGICAL=PROVIDER_MODEL, ...: the jobs' models in this provider's names"},
    {"output_format", "", T_STR, "format name asked of the provider for WAV jobs (empty: the type's)"},
    {"timeout_ms", "60000", T_INT, "per request, plus timeout_per_char_ms per character of text"},
    {"timeout_per_char_ms", "25", T_INT, "extra time a request may take per character of text"},
    {"connect_timeout_ms", "5000", T_INT, "per request"},
    {"concurrency", "0", T_INT, "in-flight cap for this provider (0: only the consumer's)"},
    {"rate", "0", T_DOUBLE, "requests per second per consumer process (0: unlimited)"},
    {"max_text_chars", "0", T_INT, "longest text this provider accepts (0: the type's default)"},
    {"account_concurrency", "0", T_INT,
     "requests in flight to this provider across all consumers sharing redis.url (0: learn it)"},
    {"account_rate", "0", T_DOUBLE,
     "requests per second to this provider across all consumers sharing redis.url (0: unlimited)"},
    {"usd_per_million_chars", "0", T_DOUBLE,
     "price per million characters, for the estimated cost in voxcast status (0: not shown)"},
    {"adaptive", "true", T_BOOL,
     "learn the account's concurrency from 429 answers and concurrency headers (never above a set limit)"},
};

#define NKEYS (sizeof keys / sizeof keys[0])
#define NPFIELDS (sizeof provider_fields / sizeof provider_fields[0])

struct entry {
    char *key;
    char *value;
};

struct config {
    struct entry *v;
    size_t        n, cap;
};

struct config *config_new(void)
{
    struct config *c = xcalloc(1, sizeof *c);
    return c;
}

void config_free(struct config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].key);
        free(c->v[i].value);
    }
    free(c->v);
    free(c);
}

static const struct keydef *find_key(const char *key)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].key, key) == 0)
            return &keys[i];
    return NULL;
}

/* provider.NAME.FIELD -> the field's definition; NAME must be [a-z0-9_-]+. */
static const struct keydef *find_provider_field(const char *key)
{
    if (strncmp(key, "provider.", 9) != 0)
        return NULL;
    const char *name = key + 9, *dot = strchr(name, '.');
    if (!dot || dot == name)
        return NULL;
    for (const char *p = name; p < dot; p++)
        if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '_' && *p != '-')
            return NULL;
    for (size_t i = 0; i < NPFIELDS; i++)
        if (strcmp(provider_fields[i].key, dot + 1) == 0)
            return &provider_fields[i];
    return NULL;
}

static bool is_kafka_passthrough(const char *key)
{
    return strncmp(key, "kafka.", 6) == 0 && key[6] != '\0';
}

/* librdkafka properties the engine's guarantees rest on: offsets stored only after an outcome is
 * in Redis (at-least-once), the cooperative assignment its rebalance handling is written for,
 * and reading only committed messages. Setting one is refused rather than silently obeyed. */
static const char *const engine_owned_kafka[] = {
    "kafka.enable.auto.offset.store", "kafka.enable.auto.commit",
    "kafka.partition.assignment.strategy", "kafka.isolation.level",
};

static bool is_engine_owned(const char *key)
{
    for (size_t i = 0; i < sizeof engine_owned_kafka / sizeof engine_owned_kafka[0]; i++)
        if (strcmp(key, engine_owned_kafka[i]) == 0)
            return true;
    return false;
}

static const char *lookup(const struct config *c, const char *key)
{
    for (size_t i = c->n; i-- > 0;)
        if (strcmp(c->v[i].key, key) == 0)
            return c->v[i].value;
    return NULL;
}

static int check_type(enum ctype t, const char *value)
{
    char *end;
    errno = 0;
    switch (t) {
    case T_STR:
        return 0;
    case T_INT: {
        long long v = strtoll(value, &end, 10);
        return (errno || end == value || *end || v < 0) ? -1 : 0;
    }
    case T_DOUBLE: {
        double v = strtod(value, &end);
        return (errno || end == value || *end || !isfinite(v) || v < 0) ? -1 : 0;
    }
    case T_BOOL:
        return (strcmp(value, "true") && strcmp(value, "false") && strcmp(value, "1") &&
                strcmp(value, "0") && strcmp(value, "yes") && strcmp(value, "no"))
                   ? -1
                   : 0;
    }
    return -1;
}

static const char *type_name(enum ctype t)
{
    static const char *names[] = {"a string", "a whole number >= 0", "a number >= 0",
                                  "true or false"};
    return names[t];
}

int config_set(struct config *c, const char *key, const char *value, const char *origin,
               char *err, size_t errlen)
{
    const struct keydef *d = find_key(key);
    if (!d)
        d = find_provider_field(key);
    if (!d && !is_kafka_passthrough(key)) {
        snprintf(err, errlen, "%s: unknown key \"%s\"", origin, key);
        return -1;
    }
    if (is_engine_owned(key)) {
        snprintf(err, errlen, "%s: %s is set by voxcast itself (its delivery guarantees depend on it) "
                 "and cannot be configured", origin, key);
        return -1;
    }
    if (d && check_type(d->type, value) != 0) {
        snprintf(err, errlen, "%s: %s must be %s, not \"%s\"", origin, key, type_name(d->type),
                 value);
        return -1;
    }
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->v = xrealloc(c->v, c->cap * sizeof *c->v);
    }
    c->v[c->n].key = xstrdup(key);
    c->v[c->n].value = xstrdup(value);
    c->n++;
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* Strips one pair of matching quotes, so `key = "a # b"` keeps its '#'. */
static char *unquote(char *v)
{
    size_t n = strlen(v);
    if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
        v[n - 1] = '\0';
        return v + 1;
    }
    return v;
}

static int parse_line(struct config *c, char *line, const char *origin, char *err, size_t errlen)
{
    char *s = trim(line);
    if (*s == '\0' || *s == '#')
        return 0;
    char *eq = strchr(s, '=');
    if (!eq) {
        snprintf(err, errlen, "%s: expected \"key = value\"", origin);
        return -1;
    }
    *eq = '\0';
    char *key = trim(s), *value = trim(eq + 1);
    if (*value != '"' && *value != '\'') {
        char *hash = strstr(value, " #");
        if (hash)
            *hash = '\0';
        value = trim(value);
    }
    if (*key == '\0') {
        snprintf(err, errlen, "%s: missing key before '='", origin);
        return -1;
    }
    return config_set(c, key, unquote(value), origin, err, errlen);
}

int config_load_file(struct config *c, const char *path, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    int rc = 0;
    while (rc == 0 && getline(&line, &cap, fp) != -1) {
        char origin[512];
        snprintf(origin, sizeof origin, "%s:%ld", path, ++lineno);
        rc = parse_line(c, line, origin, err, errlen);
    }
    if (rc == 0 && ferror(fp)) {
        snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
        rc = -1;
    }
    free(line);
    fclose(fp);
    return rc;
}

/* VOXCAST_PROVIDER_<NAME>_<FIELD>: the field is matched from the end, since both the name and
 * the field (api_key_env) may contain underscores. */
static int provider_key_from_env(const char *rest, struct buf *key)
{
    size_t n = strlen(rest), best = NPFIELDS, best_len = 0;
    for (size_t i = 0; i < NPFIELDS; i++) {
        size_t fl = strlen(provider_fields[i].key);
        if (n <= fl + 1 || rest[n - fl - 1] != '_' || strncasecmp(rest + n - fl, provider_fields[i].key, fl))
            continue;
        if (fl > best_len) { /* connect_timeout_ms must win over timeout_ms */
            best = i;
            best_len = fl;
        }
    }
    if (best == NPFIELDS)
        return -1;
    buf_puts(key, "provider.");
    for (size_t j = 0; j < n - best_len - 1; j++)
        buf_putc(key, (char)tolower((unsigned char)rest[j]));
    buf_putc(key, '.');
    buf_puts(key, provider_fields[best].key);
    return 0;
}

static void env_name_of(const char *key, char *out, size_t outlen)
{
    size_t j = (size_t)snprintf(out, outlen, "VOXCAST_");
    for (const char *p = key; *p && j + 1 < outlen; p++)
        out[j++] = (*p == '.' || *p == '-') ? '_' : (char)toupper((unsigned char)*p);
    out[j] = '\0';
}

/* Maps one VOXCAST_X=v variable to its key; 0 when it names no key. */
static int env_to_key(const char *name, struct buf *key)
{
    for (size_t i = 0; i < NKEYS; i++) {
        char env[128];
        env_name_of(keys[i].key, env, sizeof env);
        if (strcmp(env, name) == 0) {
            buf_puts(key, keys[i].key);
            return 1;
        }
    }
    if (strncmp(name, "VOXCAST_PROVIDER_", 17) == 0)
        return provider_key_from_env(name + 17, key) == 0;
    if (strncmp(name, "VOXCAST_KAFKA_", 14) == 0 && name[14]) {
        buf_puts(key, "kafka.");
        for (const char *p = name + 14; *p; p++)
            buf_putc(key, *p == '_' ? '.' : (char)tolower((unsigned char)*p));
        return 1;
    }
    return 0;
}

int config_load_env(struct config *c, char *const *envp, char *err, size_t errlen)
{
    for (; envp && *envp; envp++) {
        const char *eq = strchr(*envp, '=');
        if (strncmp(*envp, "VOXCAST_", 8) != 0 || !eq)
            continue;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(eq - *envp), *envp);
        struct buf key = {0};
        int rc = 0;
        if (env_to_key(name, &key))
            rc = config_set(c, key.data, eq + 1, name, err, errlen);
        buf_free(&key);
        if (rc)
            return -1;
    }
    return 0;
}

int config_set_arg(struct config *c, const char *kv, const char *origin, char *err, size_t errlen)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) {
        snprintf(err, errlen, "%s %s: expected key=value", origin, kv);
        return -1;
    }
    char key[256];
    if ((size_t)(eq - kv) >= sizeof key) {
        snprintf(err, errlen, "%s: key longer than %zu bytes", origin, sizeof key - 1);
        return -1;
    }
    snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
    return config_set(c, key, eq + 1, origin, err, errlen);
}

const char *config_get(const struct config *c, const char *key)
{
    const char *v = lookup(c, key);
    if (v)
        return v;
    const struct keydef *d = find_key(key);
    if (!d)
        d = find_provider_field(key);
    return d ? d->def : NULL;
}

int64_t config_int(const struct config *c, const char *key)
{
    const char *v = config_get(c, key);
    return v && *v ? strtoll(v, NULL, 10) : 0;
}

bool config_bool(const struct config *c, const char *key)
{
    const char *v = config_get(c, key);
    return v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "yes") == 0);
}

const char *config_provider(const struct config *c, const char *name, const char *field)
{
    char key[256];
    snprintf(key, sizeof key, "provider.%s.%s", name, field);
    return config_get(c, key);
}

int64_t config_provider_int(const struct config *c, const char *name, const char *field)
{
    const char *v = config_provider(c, name, field);
    return v && *v ? strtoll(v, NULL, 10) : 0;
}

double config_provider_double(const struct config *c, const char *name, const char *field)
{
    const char *v = config_provider(c, name, field);
    return v && *v ? strtod(v, NULL) : 0.0;
}

int config_each_kafka(const struct config *c, config_kv_fn fn, void *ctx)
{
    static const char *const builtin[] = {"kafka.bootstrap.servers", "kafka.group.id"};
    for (size_t i = 0; i < 2; i++)
        if (fn(ctx, builtin[i] + 6, config_get(c, builtin[i])) != 0)
            return -1;
    for (size_t i = 0; i < c->n; i++) {
        const char *k = c->v[i].key;
        if (!is_kafka_passthrough(k) || find_key(k))
            continue;
        if (lookup(c, k) != c->v[i].value)
            continue; /* overridden later: only the effective value */
        if (fn(ctx, k + 6, c->v[i].value) != 0)
            return -1;
    }
    return 0;
}

char *config_describe(void)
{
    struct buf b = {0};
    for (size_t i = 0; i < NKEYS; i++)
        buf_printf(&b, "  %-34s %-22s %s\n", keys[i].key, *keys[i].def ? keys[i].def : "\"\"",
                   keys[i].help);
    buf_puts(&b, "  kafka.<librdkafka property>        (passed through)       e.g. kafka.security.protocol\n");
    for (size_t i = 0; i < NPFIELDS; i++) {
        char k[64];
        snprintf(k, sizeof k, "provider.NAME.%s", provider_fields[i].key);
        buf_printf(&b, "  %-34s %-22s %s\n", k, *provider_fields[i].def ? provider_fields[i].def : "\"\"",
                   provider_fields[i].help);
    }
    return buf_steal(&b);
}
