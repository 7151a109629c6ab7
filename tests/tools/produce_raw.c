/* produce_raw.c - puts arbitrary messages on a topic, bypassing voxcast's encoder, so tests can
 * feed the consumer malformed jobs. Reads stdin lines "KEY<TAB>VALUE" (an empty KEY sends no key;
 * a VALUE of "<null>" sends no payload) and returns once every message is acknowledged.
 *
 * usage: produce_raw BOOTSTRAP TOPIC < lines */
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: produce_raw BOOTSTRAP TOPIC < lines\n");
        return 2;
    }
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "produce_raw: %s\n", err);
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        if (line[n - 1] == '\n')
            line[--n] = '\0';
        char *tab = strchr(line, '\t');
        if (!tab)
            continue;
        *tab = '\0';
        char *value = tab + 1;
        bool null_value = strcmp(value, "<null>") == 0;
        if (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(argv[2]), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_KEY((*line ? line : NULL), strlen(line)),
                              RD_KAFKA_V_VALUE((null_value ? NULL : value), null_value ? 0 : strlen(value)),
                              RD_KAFKA_V_END) != 0) {
            fprintf(stderr, "produce_raw: produce failed\n");
            return 1;
        }
    }
    free(line);
    int left = rd_kafka_flush(rk, 15000) == 0 ? 0 : rd_kafka_outq_len(rk);
    rd_kafka_destroy(rk);
    return left ? 1 : 0;
}
