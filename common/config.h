/* config.h - voxcast configuration: defaults < file < VOXCAST_* environment < -X overrides.
 *
 * Every key the programs read is declared once, with its default and type, in config.c's table;
 * that table is the single source of truth for validation, `--help` listings and
 * examples/voxcast.conf. Three families are open-ended:
 *   kafka.<librdkafka property>   passed through to librdkafka as is (kafka.topic excepted),
 *                                 except the engine's own: enable.auto.offset.store,
 *                                 enable.auto.commit, partition.assignment.strategy and
 *                                 isolation.level are refused (an error naming the key);
 *   provider.NAME.<field>         fields: type url api_key_env model voice voices models
 *                                 output_format timeout_ms timeout_per_char_ms connect_timeout_ms
 *                                 concurrency rate max_text_chars account_concurrency
 *                                 account_rate adaptive;
 * An unknown key is an error that names the key and where it came from (`voxcast.conf:12`,
 * `-X`, or the environment variable), so a typo never silently falls back to a default.
 *
 * Environment: VOXCAST_<KEY> where dots and dashes become '_' and letters are upper case
 * (redis.url -> VOXCAST_REDIS_URL, provider.primary.api_key_env ->
 * VOXCAST_PROVIDER_PRIMARY_API_KEY_ENV, kafka.sasl.username -> VOXCAST_KAFKA_SASL_USERNAME).
 * Unrecognised VOXCAST_* variables are ignored (they may belong to scripts). */
#ifndef VOXCAST_CONFIG_H
#define VOXCAST_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;

struct config *config_new(void);                      /* defaults only; aborts on OOM */
void config_free(struct config *c);                   /* NULL-safe */

/* Reads `key = value` lines (# comments, blank lines, optional quotes around the value).
 * Returns 0, or -1 with err "FILE:LINE: reason". */
int config_load_file(struct config *c, const char *path, char *err, size_t errlen);
/* Applies VOXCAST_* variables from `envp` (NULL-terminated, e.g. environ). -1 + err on a bad value. */
int config_load_env(struct config *c, char *const *envp, char *err, size_t errlen);
/* Sets one "key=value" (from -X). `origin` names the source in errors. */
int config_set_arg(struct config *c, const char *key_eq_value, const char *origin, char *err, size_t errlen);
int config_set(struct config *c, const char *key, const char *value, const char *origin, char *err, size_t errlen);

/* Getters return the effective value (set or default). Keys must be declared or belong to an
 * open family; asking for an undeclared key returns NULL / 0. Integers were validated on set. */
const char *config_get(const struct config *c, const char *key);
int64_t config_int(const struct config *c, const char *key);
bool config_bool(const struct config *c, const char *key);

/* provider.NAME.FIELD with the family default when unset. */
const char *config_provider(const struct config *c, const char *name, const char *field);
int64_t config_provider_int(const struct config *c, const char *name, const char *field);
double config_provider_double(const struct config *c, const char *name, const char *field);

/* Calls fn(ctx, prop, value) for every kafka.* key that was set, prop without "kafka."
 * (kafka.topic excluded; bootstrap.servers and group.id included with their defaults). */
typedef int (*config_kv_fn)(void *ctx, const char *key, const char *value);
int config_each_kafka(const struct config *c, config_kv_fn fn, void *ctx);

/* Writes "key = value  # default ... " lines for every declared key to `fp`-like buf text:
 * used by `--help-config`. Returns a malloc'd string. */
char *config_describe(void);

#endif
