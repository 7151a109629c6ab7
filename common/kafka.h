/* kafka.h - librdkafka configuration built from voxcast's config.
 *
 * Role defaults are applied first and every kafka.* key afterwards, so an operator can override
 * any of them (kafka.linger.ms=5) and add any librdkafka property (kafka.security.protocol). */
#ifndef VOXCAST_KAFKA_H
#define VOXCAST_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

#include "config.h"

enum kafka_role { KAFKA_PRODUCER, KAFKA_CONSUMER };

/* New conf with the role's defaults and the config's kafka.* properties; NULL + err naming the
 * property librdkafka refused. The caller owns the conf until rd_kafka_new takes it. */
rd_kafka_conf_t *kafka_conf_new(const struct config *cfg, enum kafka_role role, char *err, size_t errlen);

/* Proves within timeout_ms that the cluster answers and rkt's topic exists with partitions, so a
 * command fails fast with one clear line instead of queueing jobs nobody can take. Returns 0, or
 * -1 with err: "kafka BOOTSTRAP: unreachable: ..." or "kafka: topic "T" does not exist ...". */
int kafka_check_topic(rd_kafka_t *rk, rd_kafka_topic_t *rkt, const struct config *cfg, int timeout_ms,
                      char *err, size_t errlen);

#endif
