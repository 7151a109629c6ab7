/* topic_dump.c - reads a whole topic back with a plain librdkafka consumer and prints one line
 * per message: partition, offset, key and value separated by tabs (key and value must not hold
 * tabs or newlines: job JSON escapes them). Reads each partition from its low to its high
 * watermark, so it ends by itself. Used by the integration tests to check what launch produced.
 *
 * usage: topic_dump BOOTSTRAP TOPIC */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>

static int dump_partition(rd_kafka_t *rk, const char *topic, int32_t p)
{
    int64_t lo, hi;
    if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000) != 0)
        return -1;
    if (lo >= hi)
        return 0;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, p)->offset = lo;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    int64_t next = lo;
    int idle = 0;
    while (next < hi && idle < 100) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m) {
            idle++;
            continue;
        }
        if (!m->err && m->partition == p) {
            printf("%d\t%lld\t%.*s\t%.*s\n", (int)p, (long long)m->offset, (int)m->key_len,
                   (const char *)m->key, (int)m->len, (const char *)m->payload);
            next = m->offset + 1;
            idle = 0;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(rk, NULL);
    return next >= hi ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: topic_dump BOOTSTRAP TOPIC\n");
        return 2;
    }
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], err, sizeof err);
    rd_kafka_conf_set(conf, "group.id", "voxcast-topic-dump", err, sizeof err);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "topic_dump: %s\n", err);
        return 1;
    }
    const struct rd_kafka_metadata *md;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, argv[2], NULL);
    if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) != 0 || md->topic_cnt != 1) {
        fprintf(stderr, "topic_dump: no metadata for %s\n", argv[2]);
        return 1;
    }
    int rc = 0;
    for (int i = 0; i < md->topics[0].partition_cnt; i++)
        if (dump_partition(rk, argv[2], md->topics[0].partitions[i].id) != 0) {
            fprintf(stderr, "topic_dump: partition %d incomplete\n", md->topics[0].partitions[i].id);
            rc = 1;
        }
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}
