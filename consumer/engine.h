/* engine.h - the consumer's event loop: Kafka in, providers out, Redis and files at the end.
 *
 * One thread runs everything that decides: polling the group consumer, scheduling attempts
 * under the process, provider and rate caps, the retry timer heap, breakers, failover, writing
 * outcomes and storing offsets. It sleeps in one place (providers_wait) and wakes on transfer
 * activity, an espeak result, a Kafka event (librdkafka's queue io-event pipe), a signal or the
 * next timer. See engine.c for the order of a tick and why. */
#ifndef VOXCAST_ENGINE_H
#define VOXCAST_ENGINE_H

#include <stddef.h>

#include "config.h"

struct engine;

/* Connects Kafka (subscribes to kafka.topic), Redis and the providers. NULL + err naming what
 * failed (a config key, the Redis URL, a provider), with *exit_code 2 for a configuration
 * error and 1 for a runtime one. */
struct engine *engine_new(const struct config *cfg, char *err, size_t errlen, int *exit_code);
/* Runs until engine_stop(); then drains within consumer.shutdown_grace_ms, commits and returns
 * 0 (1 when the drain left jobs unfinished; they will be redelivered). */
int engine_run(struct engine *e);
/* Async-signal-safe: asks the loop to drain and stop. */
void engine_stop(struct engine *e);
void engine_free(struct engine *e);   /* NULL-safe; closes the consumer (leaving the group) */

#endif
