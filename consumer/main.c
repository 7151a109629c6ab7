/* main.c - `voxcast-consumer`: one worker of the consumer group.
 *
 * Reads the configuration (-c, VOXCAST_*, -X), builds the engine and runs it until SIGINT or
 * SIGTERM, then drains: no new jobs, in-flight ones finished within consumer.shutdown_grace_ms,
 * offsets committed, exit 0. Run N of them to scale out. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "engine.h"
#include "log.h"

static struct engine *running_engine;

static void on_signal(int sig)
{
    (void)sig;
    if (running_engine)
        engine_stop(running_engine);
}

static void usage(FILE *out)
{
    fputs("usage: voxcast-consumer [-c FILE] [-X key=value]... [--help-config] [--version]\n\n"
          "Joins the Kafka consumer group kafka.group.id on kafka.topic and renders each job's audio\n"
          "through the providers chain (retry with backoff, a circuit breaker per provider, failover),\n"
          "writing <output.dir>/<campaign>/<contact>.<format> and the outcome to Redis; jobs that\n"
          "exhaust their retries go to the dead-letter queue. Runs until SIGINT/SIGTERM, then drains.\n"
          "Logs are JSON lines on stderr; /health and /metrics are served on http.listen.\n\n"
          "  -c FILE         configuration file (key = value lines)\n"
          "  -X key=value    override one key; repeatable (beats VOXCAST_* variables and the file)\n"
          "  --help-config   list every configuration key with its default\n"
          "  --version       print the version\n\n"
          "example (primary HTTP provider, espeak as the fallback):\n"
          "  voxcast-consumer -X providers=primary,espeak -X provider.primary.type=openai \\\n"
          "      -X provider.primary.url=http://127.0.0.1:9400/v1/audio/speech \\\n"
          "      -X kafka.bootstrap.servers=127.0.0.1:9092 -X redis.url=redis://127.0.0.1:6379/0\n",
          out);
}

static int handle_info_flags(int argc, char **argv, int *exit_code)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("voxcast-consumer %s\n", VOXCAST_VERSION);
        } else if (strcmp(argv[i], "--help-config") == 0) {
            char *d = config_describe();
            fputs(d, stdout);
            free(d);
        } else {
            fprintf(stderr, "voxcast-consumer: unknown argument \"%s\" (see --help)\n", argv[i]);
            *exit_code = 2;
            return 1;
        }
        *exit_code = 0;
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    char err[1024];
    struct cli_common cc;
    int rc;
    if (cli_take_common(&argc, argv, &cc, err, sizeof err) != 0) {
        fprintf(stderr, "voxcast-consumer: %s\n", err);
        return 2;
    }
    if (handle_info_flags(argc, argv, &rc))
        return rc;
    struct config *cfg = cli_load_config(&cc, err, sizeof err);
    if (!cfg || cli_init_log("voxcast-consumer", cfg, err, sizeof err) != 0) {
        fprintf(stderr, "voxcast-consumer: %s\n", err);
        config_free(cfg);
        return 2;
    }
    /* before engine_new: connecting Redis, Kafka and providers can already write to a socket
     * the peer closed, and a write must fail with EPIPE, not kill the process */
    signal(SIGPIPE, SIG_IGN);
    struct engine *e = engine_new(cfg, err, sizeof err, &rc);
    if (!e) {
        fprintf(stderr, "voxcast-consumer: %s\n", err);
        config_free(cfg);
        return rc;
    }
    running_engine = e;
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    rc = engine_run(e);
    running_engine = NULL;
    engine_free(e);
    config_free(cfg);
    return rc;
}
