/* kafka.c - librdkafka configuration; see kafka.h.
 *
 * Producer defaults: idempotence (no duplicates or reordering from internal retries), lz4
 * batches and a short linger, because the embedded broker keeps only ~5 MiB per partition and
 * throughput comes from batching. Consumer defaults: manual offset store (we store only the
 * contiguous prefix of finished jobs), the eager roundrobin assignor (librdkafka 2.0.2's
 * cooperative-sticky is buggy, and every member must agree), a 10 s session timeout so a killed
 * member's partitions move quickly, and a short fetch wait for latency. */
#include "kafka.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "log.h"

struct kv {
    const char *key, *value;
};

static const struct kv producer_defaults[] = {
    {"enable.idempotence", "true"},
    {"compression.type", "lz4"},
    {"linger.ms", "20"},
    {"batch.num.messages", "10000"},
    {"batch.size", "1000000"},
    {"queue.buffering.max.messages", "500000"},
    {"message.timeout.ms", "60000"},
    {"socket.timeout.ms", "10000"},
    {"log_level", "2"}, /* the CLI reports Kafka trouble in its own one-line errors */
    {NULL, NULL},
};

static const struct kv consumer_defaults[] = {
    {"enable.auto.offset.store", "false"},
    {"enable.auto.commit", "true"},
    {"auto.commit.interval.ms", "1000"},
    {"auto.offset.reset", "earliest"},
    {"partition.assignment.strategy", "roundrobin"},
    {"session.timeout.ms", "10000"},
    {"heartbeat.interval.ms", "1000"},
    {"fetch.wait.max.ms", "100"},
    {"queued.max.messages.kbytes", "4096"}, /* prefetch stays small: memory flat at any size */
    /* librdkafka 2.0.2 stops fetching while the queue holds this many messages and looks again
     * only about once a second: 2000 was 0.2 s of work at 10k jobs/s, and the consumer sat idle
     * for the rest of every second. 20000 (~3 MB of jobs, under the 4 MB cap) covers the gap. */
    {"queued.min.messages", "20000"},
    {"enable.partition.eof", "false"},
    {NULL, NULL},
};

struct apply_ctx {
    rd_kafka_conf_t *conf;
    enum kafka_role  role;
    char            *err;
    size_t           errlen;
};

static int apply(void *ctx, const char *key, const char *value)
{
    struct apply_ctx *a = ctx;
    char rk_err[256];
    if (a->role == KAFKA_PRODUCER && strcmp(key, "group.id") == 0)
        return 0; /* a consumer property: librdkafka would warn about it */
    if (strstr(key, "password") || strstr(key, "secret"))
        log_add_secret(value);   /* sasl.password, ssl.key.password, ...client.secret */
    if (rd_kafka_conf_set(a->conf, key, value, rk_err, sizeof rk_err) != RD_KAFKA_CONF_OK) {
        snprintf(a->err, a->errlen, "kafka.%s: %s", key, rk_err);
        return -1;
    }
    return 0;
}

/* librdkafka's own log lines join ours as JSON (syslog levels: 0-3 error, 4 warn, 5-6 info). */
static void log_from_kafka(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    enum log_level l = level <= 3 ? LOG_ERROR : level == 4 ? LOG_WARN : level <= 6 ? LOG_INFO : LOG_DEBUG;
    log_event(l, buf, LOG_FIELDS_(LOGS("source", "librdkafka"), LOGS("facility", fac),
                                   LOGS("client", rd_kafka_name(rk))));
}

rd_kafka_conf_t *kafka_conf_new(const struct config *cfg, enum kafka_role role, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    struct apply_ctx a = {conf, role, err, errlen};
    rd_kafka_conf_set_log_cb(conf, log_from_kafka);
    const struct kv *d = role == KAFKA_PRODUCER ? producer_defaults : consumer_defaults;
    for (; d->key; d++)
        if (apply(&a, d->key, d->value) != 0)
            goto fail;
    if (role == KAFKA_PRODUCER && apply(&a, "client.id", "voxcast-producer") != 0)
        goto fail;
    if (config_each_kafka(cfg, apply, &a) != 0)
        goto fail;
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

int kafka_check_topic(rd_kafka_t *rk, rd_kafka_topic_t *rkt, const struct config *cfg, int timeout_ms,
                      char *err, size_t errlen)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "kafka %s: unreachable: %s", config_get(cfg, "kafka.bootstrap.servers"),
                 rd_kafka_err2str(e));
        return -1;
    }
    int ok = md->topic_cnt == 1 && md->topics[0].err == 0 && md->topics[0].partition_cnt > 0;
    if (!ok)
        snprintf(err, errlen, "kafka: topic \"%s\" does not exist (%s); create it first", rd_kafka_topic_name(rkt),
                 md->topic_cnt ? rd_kafka_err2str(md->topics[0].err) : "no metadata");
    rd_kafka_metadata_destroy(md);
    return ok ? 0 : -1;
}
