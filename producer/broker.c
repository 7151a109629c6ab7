/* broker.c - `voxcast broker`: an embedded development Kafka cluster.
 *
 * Hosts librdkafka's mock cluster (the real Kafka protocol on loopback TCP, in memory) so that
 * tests and demos run producers and a consumer group without a JVM. It creates the jobs topics,
 * one per priority lane (lanes.h: kafka.topic, kafka.topic.high, kafka.topic.low, each with the
 * same partitions; the mock has no CreateTopics) and results.topic (one partition: a dialer reads one ordered
 * stream, so a campaign's completion comes after the contact events its consumer produced
 * before it), prints the bootstrap address on stdout, and runs until
 * SIGINT/SIGTERM. With --control FIFO it takes "down ID" / "up ID" lines to stop and restart one
 * of its brokers, for fault drills. Limits (librdkafka 2.0.2): ~5 MiB per partition is kept and
 * older data silently dropped; nothing persists across restarts. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "lanes.h"
#include "log.h"

struct broker_opts {
    int         partitions;
    int         brokers;
    const char *bootstrap_file;
    const char *control_fifo;
};

static void broker_usage(FILE *out)
{
    fputs("usage: voxcast broker [--partitions N] [--brokers N] [--bootstrap-file F] [--control FIFO]\n\n"
          "Runs an embedded Kafka cluster (librdkafka's mock cluster) on 127.0.0.1 for local runs,\n"
          "demos and tests. Creates the jobs topics kafka.topic, kafka.topic.high and kafka.topic.low\n"
          "(the priority lanes of launch --priority) with N partitions each (default 12) and results.topic\n"
          "(unless set empty) with one partition, prints the bootstrap address on stdout (and writes\n"
          "it to F), and runs until SIGINT or SIGTERM. In memory only:\n"
          "stopping it loses every topic and offset. Production uses real Kafka.\n\n"
          "  --partitions N      partitions of each jobs topic (default 12)\n"
          "  --brokers N         brokers in the cluster (default 1)\n"
          "  --bootstrap-file F  also write the bootstrap address to F\n"
          "  --control FIFO      create FIFO and obey lines \"down ID\" / \"up ID\" (broker ids 1..N)\n\n"
          "example:\n"
          "  voxcast broker --partitions 12 --bootstrap-file /tmp/vx.bootstrap &\n"
          "  export VOXCAST_KAFKA_BOOTSTRAP_SERVERS=$(cat /tmp/vx.bootstrap)\n", out);
}

static int parse_opts(int argc, char **argv, struct broker_opts *o)
{
    static const struct option longopts[] = {
        {"partitions", required_argument, NULL, 'p'}, {"brokers", required_argument, NULL, 'b'},
        {"bootstrap-file", required_argument, NULL, 'f'}, {"control", required_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    *o = (struct broker_opts){12, 1, NULL, NULL};
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'p':
        case 'b': {
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 1000) {
                cmd_error("--%s must be a number from 1 to 1000, not \"%s\"",
                          c == 'p' ? "partitions" : "brokers", optarg);
                return -1;
            }
            *(c == 'p' ? &o->partitions : &o->brokers) = (int)v;
            break;
        }
        case 'f': o->bootstrap_file = optarg; break;
        case 'C': o->control_fifo = optarg; break;
        case 'h': broker_usage(stdout); return 1;
        default: broker_usage(stderr); return -1;
        }
    }
    if (optind < argc) {
        cmd_error("broker: unexpected argument \"%s\"", argv[optind]);
        return -1;
    }
    return 0;
}

/* Writes the address beside the target and renames it, so a reader never sees half a line. */
static int write_bootstrap(const char *path, const char *addr)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *fp = fopen(tmp, "w");
    if (!fp)
        return -1;
    int ok = fprintf(fp, "%s\n", addr) > 0;
    ok = (fclose(fp) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static void obey_control(rd_kafka_mock_cluster_t *mc, const char *line)
{
    int id;
    char verb[16];
    if (sscanf(line, "%15s %d", verb, &id) != 2) {
        log_warn("broker control: expected \"down ID\" or \"up ID\"", LOGS("line", line));
        return;
    }
    rd_kafka_resp_err_t e = strcmp(verb, "down") == 0 ? rd_kafka_mock_broker_set_down(mc, id)
                            : strcmp(verb, "up") == 0 ? rd_kafka_mock_broker_set_up(mc, id)
                                                      : RD_KAFKA_RESP_ERR__INVALID_ARG;
    log_info("broker control", LOGS("verb", verb), LOGN("broker", id), LOGS("result", rd_kafka_err2str(e)));
}

static int open_control(const char *path)
{
    if (mkfifo(path, 0600) != 0 && errno != EEXIST)
        return -1;
    return open(path, O_RDWR | O_NONBLOCK); /* RDWR: never sees EOF when writers come and go */
}

/* Serves signals and control lines until SIGINT/SIGTERM. */
static void serve(rd_kafka_mock_cluster_t *mc, int sigfd, int ctlfd)
{
    char line[256];
    size_t used = 0;
    for (;;) {
        struct pollfd pf[2] = {{sigfd, POLLIN, 0}, {ctlfd, POLLIN, 0}};
        if (poll(pf, ctlfd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR)
            return;
        if (pf[0].revents)
            return;
        if (ctlfd < 0 || !pf[1].revents)
            continue;
        ssize_t n = read(ctlfd, line + used, sizeof line - 1 - used);
        if (n <= 0)
            continue;
        used += (size_t)n;
        line[used] = '\0';
        char *nl;
        while ((nl = strchr(line, '\n')) != NULL) {
            *nl = '\0';
            obey_control(mc, line);
            used -= (size_t)(nl + 1 - line);
            memmove(line, nl + 1, used + 1);
        }
        if (used == sizeof line - 1)
            used = 0; /* an overlong line: drop it */
    }
}

static rd_kafka_t *new_host_handle(char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
    return rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen);
}

/* The jobs topic of every priority lane, with the same partitions. 0, or -1 (printed). */
static int create_lanes(rd_kafka_mock_cluster_t *mc, const struct config *cfg, const struct broker_opts *o)
{
    const enum job_priority lanes[] = {JOB_PRIORITY_NORMAL, JOB_PRIORITY_HIGH, JOB_PRIORITY_LOW};
    for (size_t i = 0; i < sizeof lanes / sizeof lanes[0]; i++) {
        char name[512];
        lane_topic_name(cfg, lanes[i], name, sizeof name);
        if (rd_kafka_mock_topic_create(mc, name, o->partitions, o->brokers < 3 ? o->brokers : 3)) {
            cmd_error("broker: cannot create the topic \"%s\"", name);
            return -1;
        }
    }
    return 0;
}

int cmd_broker(int argc, char **argv, const struct config *cfg)
{
    struct broker_opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? EXIT_OK : EXIT_USAGE;

    char err[512];
    rd_kafka_t *rk = new_host_handle(err, sizeof err);
    if (!rk) {
        cmd_error("broker: %s", err);
        return EXIT_RUNTIME;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, o.brokers);
    const char *topic = config_get(cfg, "kafka.topic");
    if (!mc)
        cmd_error("broker: cannot create the mock cluster");
    if (!mc || create_lanes(mc, cfg, &o) != 0) {
        if (mc)
            rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(rk);
        return EXIT_RUNTIME;
    }
    const char *results = config_get(cfg, "results.topic");
    if (results && *results && rd_kafka_mock_topic_create(mc, results, 1, o.brokers < 3 ? o.brokers : 3)) {
        cmd_error("broker: cannot create the results topic \"%s\"", results);
        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(rk);
        return EXIT_RUNTIME;
    }
    const char *addr = rd_kafka_mock_cluster_bootstraps(mc);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
    int ctlfd = o.control_fifo ? open_control(o.control_fifo) : -1;
    rc = EXIT_OK;
    if (o.control_fifo && ctlfd < 0) {
        cmd_error("broker: %s: %s", o.control_fifo, strerror(errno));
        rc = EXIT_RUNTIME;
    } else if (o.bootstrap_file && write_bootstrap(o.bootstrap_file, addr) != 0) {
        cmd_error("broker: cannot write %s: %s", o.bootstrap_file, strerror(errno));
        rc = EXIT_RUNTIME;
    } else {
        printf("%s\n", addr);
        fflush(stdout);
        log_info("broker ready", LOGS("bootstrap", addr), LOGS("topic", topic),
                 LOGN("partitions", o.partitions), LOGN("brokers", o.brokers));
        serve(mc, sigfd, ctlfd);
        log_info("broker stopping");
    }
    if (ctlfd >= 0)
        close(ctlfd);
    close(sigfd);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return rc;
}
