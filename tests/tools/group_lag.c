/* group_lag.c - how many messages of some topics a consumer group has not committed yet.
 *
 * For each partition of each topic: high watermark minus the group's committed offset (the whole
 * partition from its low watermark when the group committed nothing there). Prints the sum. It
 * never joins the group (no subscribe, no assign): rd_kafka_committed asks the group coordinator,
 * so the group's members are not disturbed. A test waits for 0 to know every job taken so far is
 * committed: a consumer killed then cannot have any of them redelivered.
 *
 * usage: group_lag BOOTSTRAP GROUP TOPIC... */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>

/* Adds every partition of topic to l; -1 when the topic has no metadata. */
static int add_partitions(rd_kafka_t *rk, const char *topic, rd_kafka_topic_partition_list_t *l)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    int rc = rd_kafka_metadata(rk, 0, rkt, &md, 10000) == 0 && md ? 0 : -1;
    if (rc == 0 && (md->topic_cnt != 1 || md->topics[0].err))
        rc = -1;
    for (int i = 0; rc == 0 && i < md->topics[0].partition_cnt; i++)
        rd_kafka_topic_partition_list_add(l, topic, md->topics[0].partitions[i].id);
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: group_lag BOOTSTRAP GROUP TOPIC...\n");
        return 2;
    }
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], err, sizeof err) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "group.id", argv[2], err, sizeof err) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "group_lag: %s\n", err);
        return 2;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "group_lag: %s\n", err);
        return 1;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(64);
    int rc = 0;
    for (int i = 3; i < argc && rc == 0; i++)
        if (add_partitions(rk, argv[i], l) != 0) {
            fprintf(stderr, "group_lag: no metadata for %s\n", argv[i]);
            rc = 1;
        }
    if (rc == 0 && rd_kafka_committed(rk, l, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "group_lag: committed offsets of %s unknown\n", argv[2]);
        rc = 1;
    }
    long long lag = 0;
    for (int i = 0; rc == 0 && i < l->cnt; i++) {
        int64_t lo, hi;
        const rd_kafka_topic_partition_t *p = &l->elems[i];
        if (rd_kafka_query_watermark_offsets(rk, p->topic, p->partition, &lo, &hi, 10000) != 0) {
            fprintf(stderr, "group_lag: no watermarks for %s/%d\n", p->topic, (int)p->partition);
            rc = 1;
            break;
        }
        int64_t from = p->offset >= 0 ? p->offset : lo;
        lag += hi > from ? hi - from : 0;
    }
    if (rc == 0)
        printf("%lld\n", lag);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
    return rc;
}
