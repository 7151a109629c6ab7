/* lanes.c - the topic of each priority lane; see lanes.h. */
#include "lanes.h"

#include <stdio.h>

#include "kafka.h"

void lane_topic_name(const struct config *cfg, enum job_priority p, char *out, size_t outlen)
{
    const char *suffix = p == JOB_PRIORITY_HIGH ? ".high" : p == JOB_PRIORITY_LOW ? ".low" : "";
    snprintf(out, outlen, "%s%s", config_get(cfg, "kafka.topic"), suffix);
}

void lanes_init(struct lanes *l, rd_kafka_t *rk, const struct config *cfg, int check_timeout_ms)
{
    *l = (struct lanes){.rk = rk, .cfg = cfg, .check_timeout_ms = check_timeout_ms};
}

rd_kafka_topic_t *lanes_topic(struct lanes *l, enum job_priority p, char *err, size_t errlen)
{
    size_t i = (size_t)p < LANES_N ? (size_t)p : 0;
    char name[512];
    lane_topic_name(l->cfg, (enum job_priority)i, name, sizeof name);
    if (l->failed[i]) {
        snprintf(err, errlen, "kafka: topic \"%s\" (the %s priority lane) is not usable", name,
                 job_priority_name((enum job_priority)i));
        return NULL;
    }
    if (l->rkt[i])
        return l->rkt[i];
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(l->rk, name, NULL);
    if (!rkt || kafka_check_topic(l->rk, rkt, l->cfg, l->check_timeout_ms, err, errlen) != 0) {
        if (!rkt)
            snprintf(err, errlen, "kafka: topic \"%s\": %s", name, rd_kafka_err2str(rd_kafka_last_error()));
        else
            rd_kafka_topic_destroy(rkt);
        l->failed[i] = true;
        return NULL;
    }
    l->rkt[i] = rkt;
    return rkt;
}

void lanes_close(struct lanes *l)
{
    for (size_t i = 0; i < LANES_N; i++) {
        if (l->rkt[i])
            rd_kafka_topic_destroy(l->rkt[i]);
        l->rkt[i] = NULL;
    }
}
