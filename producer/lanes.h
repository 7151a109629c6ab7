/* lanes.h - the Kafka topic of each job priority, for everything that produces jobs.
 *
 * A job travels in its priority's lane: kafka.topic + ".high", kafka.topic, or kafka.topic +
 * ".low" (voxcast.jobs.high / voxcast.jobs / voxcast.jobs.low). Consumers read the higher lanes
 * first, so a campaign launched with --priority high overtakes jobs queued earlier. Launch, DLQ
 * replay and campaign resume name the lanes through this one module, and the broker creates
 * them with it, so the names cannot drift apart.
 *
 * A lanes object opens a lane's topic handle on first use and checks once that the topic exists
 * (kafka_check_topic), so a producer that never meets a high-priority job never needs that topic. */
#ifndef VOXCAST_LANES_H
#define VOXCAST_LANES_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "job.h"

#define LANES_N 3 /* one per enum job_priority */

/* The topic name of priority p's lane (kafka.topic plus ".high", "" or ".low") into out. */
void lane_topic_name(const struct config *cfg, enum job_priority p, char *out, size_t outlen);

struct lanes {
    rd_kafka_t          *rk;                 /* borrowed */
    const struct config *cfg;                /* borrowed */
    rd_kafka_topic_t    *rkt[LANES_N];       /* opened on first use */
    bool                 failed[LANES_N];    /* the check failed once: do not wait again */
    int                  check_timeout_ms;
};

/* Binds lanes to a producer; nothing is opened yet. */
void lanes_init(struct lanes *l, rd_kafka_t *rk, const struct config *cfg, int check_timeout_ms);
/* The topic handle of p's lane, opened and checked on first use; NULL with err ("kafka: topic
 * "voxcast.jobs.high" does not exist ...") when the topic is missing or Kafka did not answer. A
 * lane that failed its check fails again at once with the same kind of message. */
rd_kafka_topic_t *lanes_topic(struct lanes *l, enum job_priority p, char *err, size_t errlen);
/* Destroys the opened topic handles (before rd_kafka_destroy of the producer). */
void lanes_close(struct lanes *l);

#endif
