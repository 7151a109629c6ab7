/* main.c - voxcast-ttsd: flags, config, the listening socket, signals.
 *
 * Every setting is one row of `opts`, and that row serves all four sources the contract asks
 * for: --flag VALUE (or --flag=VALUE), -X name=value, `name = value` lines in a -c file, and the
 * environment (VOXCAST_TTSD_NAME). Precedence: flags and -X (in command-line order) > environment
 * > config file > default. Names take dashes or underscores, and an optional "ttsd." prefix in
 * -X and files. Usage errors exit 2 with one line naming the flag; a socket that cannot be bound
 * exits 1 naming the address; SIGINT/SIGTERM stop the server and exit 0. */
#include <ctype.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "faults.h"
#include "listen.h"
#include "mimic.h"
#include "log.h"
#include "server.h"

#ifndef VOXCAST_VERSION
#define VOXCAST_VERSION "dev"
#endif

#define PROG "voxcast-ttsd"

struct ttsd_conf {
    char          listen[256];
    struct faults faults;
    uint64_t      seed;
    bool          seed_set;
    char          api_key_env[128];
    int           max_connections;
    int           tone_ms;
};

typedef int (*opt_set_fn)(struct ttsd_conf *c, const char *name, const char *value, char *err, size_t errlen);

struct opt {
    const char *name;    /* --name; also the -X / file / environment key */
    bool        value;   /* takes a value on the command line */
    opt_set_fn  set;
    const char *help;
};

/* ---- setters ---------------------------------------------------------------------------- */

static int set_listen(struct ttsd_conf *c, const char *name, const char *value, char *err, size_t errlen)
{
    (void)name;
    if (strlen(value) >= sizeof c->listen) {
        snprintf(err, errlen, "address too long");
        return -1;
    }
    snprintf(c->listen, sizeof c->listen, "%s", value);
    return 0;
}

static int set_fault(struct ttsd_conf *c, const char *name, const char *value, char *err, size_t errlen)
{
    return faults_set(&c->faults, name, value, NULL, err, errlen);
}

static int set_seed(struct ttsd_conf *c, const char *name, const char *value, char *err, size_t errlen)
{
    (void)name;
    char *end;
    unsigned long long v = strtoull(value, &end, 10);
    if (end == value || *end != '\0' || value[0] == '-') {
        snprintf(err, errlen, "expected a non-negative integer");
        return -1;
    }
    c->seed = v;
    c->seed_set = true;
    return 0;
}

static int set_key_env(struct ttsd_conf *c, const char *name, const char *value, char *err, size_t errlen)
{
    (void)name;
    if (value[0] == '\0' || strlen(value) >= sizeof c->api_key_env) {
        snprintf(err, errlen, "expected the name of an environment variable");
        return -1;
    }
    snprintf(c->api_key_env, sizeof c->api_key_env, "%s", value);
    return 0;
}

/* value as a whole number from 1 to max into *out, or -1 with "expected <what> from 1 to max". */
static int parse_count(const char *value, long max, const char *what, int *out, char *err, size_t errlen)
{
    char *end;
    long v = strtol(value, &end, 10);
    if (end == value || *end != '\0' || v < 1 || v > max) {
        snprintf(err, errlen, "expected %s from 1 to %ld", what, max);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int set_max_connections(struct ttsd_conf *c, const char *name, const char *value, char *err, size_t errlen)
{
    (void)name;
    return parse_count(value, 100000, "a number of connections", &c->max_connections, err, errlen);
}

static int set_tone_ms(struct ttsd_conf *c, const char *name, const char *value, char *err, size_t errlen)
{
    (void)name;
    return parse_count(value, 60000, "milliseconds", &c->tone_ms, err, errlen);
}

static const struct opt opts[] = {
    {"listen", true, set_listen, "HOST:PORT     address to serve (default 127.0.0.1:9400; port 0 picks a free one)"},
    {"fail-rate", true, set_fault, "F             chance (0-1) of answering --fail-status"},
    {"fail-status", true, set_fault, "N             status of those failures (default 503)"},
    {"latency-ms", true, set_fault, "N             delay before every admitted speech answer (after the key check)"},
    {"retry-after", true, set_fault, "S             Retry-After seconds on injected failures (a 429 always has one)"},
    {"tone", false, set_fault, "              answer a 200 ms tone, no synthesis (benchmarks)"},
    {"tone-ms", true, set_tone_ms, "N             length of that tone (default 200: 8.9 KB as WAV; 70: 3.1 KB)"},
    {"hang-rate", true, set_fault, "F             chance of holding a request unanswered (600 s or until shutdown)"},
    {"reset-rate", true, set_fault, "F             chance of dropping the connection without an answer"},
    {"garbage-rate", true, set_fault, "F             chance of a 200 with an HTML body"},
    {"truncate-rate", true, set_fault, "F             chance of a 200 cut short (--mimic: the body stops before its end)"},
    {"fail-text", true, set_fault, "SUBSTR=STATUS texts containing SUBSTR get STATUS (repeatable; =CODE: a mimic error)"},
    {"mimic", true, set_fault, "NAME          answer as openai, kokoro or elevenlabs do (default none)"},
    {"fail-code", true, set_fault, "CODE          the mimic error --fail-rate answers (e.g. rate_limit_exceeded)"},
    {"tier", true, set_fault, "TIER          ElevenLabs plan: free, starter, creator, pro (default pro)"},
    {"voices", true, set_fault, "ID,ID         voices the mimic knows (default: the provider's; none: no voice)"},
    {"models", true, set_fault, "ID,ID         models the mimic knows (default: the provider's)"},
    {"library-voices", true, set_fault, "ID,ID         ElevenLabs voices refused on the free tier (402)"},
    {"ratelimit-reset", true, set_fault, "DUR           OpenAI x-ratelimit-reset-requests on 429 (default 1s)"},
    {"retry-after-ms", true, set_fault, "N             OpenAI retry-after-ms on 429 (default: none)"},
    {"max-concurrent", true, set_fault, "N             the account's requests in flight at once; more: 429 (0: none)"},
    {"rate", true, set_fault, "R             the account's requests per second (token bucket); more: 429 (0: none)"},
    {"api-key-env", true, set_key_env, "NAME          require the key in $NAME (Authorization: Bearer / xi-api-key), also on /admin/*"},
    {"max-connections", true, set_max_connections, "N             open connections at once (default 1024); more are closed at accept"},
    {"seed", true, set_seed, "N             seed of the fault draws (default: from time and pid)"},
};
#define NOPTS (sizeof opts / sizeof opts[0])

static void usage(FILE *fp)
{
    fprintf(fp, "usage: " PROG " [--listen HOST:PORT] [fault flags] [-c FILE] [-X name=value] [-h] [--version]\n"
                "A local TTS server backed by espeak-ng, OpenAI- and ElevenLabs-shaped, with fault injection.\n\n");
    for (size_t i = 0; i < NOPTS; i++)
        fprintf(fp, "  --%-15s %s\n", opts[i].name, opts[i].help);
    fprintf(fp, "  -c FILE           `name = value` lines (# comments), names as above\n"
                "  -X name=value     set one option (also VOXCAST_TTSD_NAME in the environment)\n"
                "  -h, --help        this text;  --version  print the version\n\n"
                "Routes: POST /v1/audio/speech, POST /v1/text-to-speech/{voice_id}, GET /health,\n"
                "GET|POST /admin/faults, GET /admin/stats, POST /admin/stats/reset,\n"
                "GET /admin/requests, POST /admin/requests/reset, POST /admin/reset.\n\n"
                "example (a primary that fails 20%% of requests with 503 and answers in ~50 ms):\n"
                "  " PROG " --listen 127.0.0.1:9400 --fail-rate 0.2 --fail-status 503 --latency-ms 50\n"
                "  curl -X POST 127.0.0.1:9400/admin/faults -d '{\"fail_rate\":0}'   # heal it\n"
                "example (ElevenLabs as a free account sees it, one request in ten refused as busy):\n"
                "  " PROG " --mimic elevenlabs --tier free --fail-rate 0.1 --fail-code system_busy\n"
                "example (an account of 5 requests in flight and 20 requests per second):\n"
                "  " PROG " --max-concurrent 5 --rate 20 --latency-ms 50\n");
}

/* ---- option sources --------------------------------------------------------------------- */

/* Finds an option by name[0..n), dashes and underscores alike, "ttsd." prefix allowed. */
static const struct opt *opt_find(const char *name, size_t n)
{
    if (n > 5 && strncmp(name, "ttsd.", 5) == 0)
        name += 5, n -= 5;
    for (size_t i = 0; i < NOPTS; i++) {
        const char *o = opts[i].name;
        size_t j = 0;
        for (; j < n && o[j]; j++) {
            char a = name[j] == '_' ? '-' : name[j];
            if (a != o[j])
                break;
        }
        if (j == n && o[j] == '\0')
            return &opts[i];
    }
    return NULL;
}

/* Applies "name=value" from -X or a config line; `where` prefixes errors. */
static int apply_kv(struct ttsd_conf *c, const char *name, size_t n, const char *value, const char *where,
                    char *err, size_t errlen)
{
    const struct opt *o = opt_find(name, n);
    char why[256];
    if (!o) {
        snprintf(err, errlen, "%s: unknown option '%.*s'", where, (int)n, name);
        return -1;
    }
    if (o->set(c, o->name, value, why, sizeof why) < 0) {
        snprintf(err, errlen, "%s: %.*s: %s (got '%s')", where, (int)n, name, why, value);
        return -1;
    }
    return 0;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0]) {
        s[n - 1] = '\0';
        s++;
    }
    return s;
}

static int config_line(struct ttsd_conf *c, char *line, const char *where, char *err, size_t errlen)
{
    char *s = trim(line);
    if (*s == '\0' || *s == '#')
        return 0;
    char *eq = strchr(s, '=');
    if (!eq) {
        snprintf(err, errlen, "%s: expected name = value", where);
        return -1;
    }
    *eq = '\0';
    char *name = trim(s);
    return apply_kv(c, name, strlen(name), trim(eq + 1), where, err, errlen);
}

static int load_file(struct ttsd_conf *c, const char *path, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        snprintf(err, errlen, "-c %s: %m", path);
        return -1;
    }
    char *line = NULL, where[320];
    size_t cap = 0;
    int rc = 0;
    for (unsigned n = 1; rc == 0 && getline(&line, &cap, fp) >= 0; n++) {
        snprintf(where, sizeof where, "%s:%u", path, n);
        rc = config_line(c, line, where, err, errlen);
    }
    free(line);
    fclose(fp);
    return rc;
}

/* VOXCAST_TTSD_FAIL_RATE and friends. */
static int load_env(struct ttsd_conf *c, char *err, size_t errlen)
{
    for (size_t i = 0; i < NOPTS; i++) {
        char var[64];
        int k = snprintf(var, sizeof var, "VOXCAST_TTSD_%s", opts[i].name);
        for (int j = 13; j < k; j++)
            var[j] = var[j] == '-' ? '_' : (char)toupper((unsigned char)var[j]);
        const char *v = getenv(var);
        if (v && *v && apply_kv(c, opts[i].name, strlen(opts[i].name), v, var, err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* ---- the command line ------------------------------------------------------------------- */

enum args_result { ARGS_OK, ARGS_EXIT, ARGS_BAD };

/* One flag at argv[*i] (a "--name" or "--name=value"), advancing *i past its value. Applied only
 * when `apply` (the second pass); the first pass just checks it and skips its value. */
static enum args_result long_flag(struct ttsd_conf *c, int argc, char **argv, int *i, bool apply,
                                  char *err, size_t errlen)
{
    const char *a = argv[*i] + 2, *eq = strchr(a, '=');
    const struct opt *o = opt_find(a, eq ? (size_t)(eq - a) : strlen(a));
    if (!o || strncmp(argv[*i], "--ttsd.", 7) == 0) {
        snprintf(err, errlen, "unknown flag '%s' (see --help)", argv[*i]);
        return ARGS_BAD;
    }
    const char *value = eq ? eq + 1 : o->value ? (*i + 1 < argc ? argv[++*i] : NULL) : "true";
    if (!value) {
        snprintf(err, errlen, "--%s: needs a value", o->name);
        return ARGS_BAD;
    }
    char why[256];
    if (apply && o->set(c, o->name, value, why, sizeof why) < 0) {
        snprintf(err, errlen, "--%s: %s (got '%s')", o->name, why, value);
        return ARGS_BAD;
    }
    return ARGS_OK;
}

/* -c FILE (first pass) and -X name=value (second pass). */
static enum args_result short_flag(struct ttsd_conf *c, int argc, char **argv, int *i, bool apply,
                                   char *err, size_t errlen)
{
    const char *flag = argv[*i];
    if (*i + 1 >= argc) {
        snprintf(err, errlen, "%s: needs a value", flag);
        return ARGS_BAD;
    }
    const char *v = argv[++*i];
    if (flag[1] == 'c')
        return !apply && load_file(c, v, err, errlen) < 0 ? ARGS_BAD : ARGS_OK;
    const char *eq = strchr(v, '=');
    if (!eq) {
        snprintf(err, errlen, "-X %s: expected name=value", v);
        return ARGS_BAD;
    }
    return apply && apply_kv(c, v, (size_t)(eq - v), eq + 1, "-X", err, errlen) < 0 ? ARGS_BAD : ARGS_OK;
}

/* Two passes: the first handles --help, --version and -c and checks every flag; the second,
 * after the file and the environment, applies flags and -X so they take precedence. */
static enum args_result parse_args(struct ttsd_conf *c, int argc, char **argv, bool apply, char *err, size_t errlen)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        enum args_result r = ARGS_OK;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0 || strcmp(a, "--version") == 0) {
            if (apply)
                continue;
            if (a[2] == 'v')
                printf(PROG " " VOXCAST_VERSION "\n");
            else
                usage(stdout);
            return ARGS_EXIT;
        }
        if (strcmp(a, "-c") == 0 || strcmp(a, "-X") == 0)
            r = short_flag(c, argc, argv, &i, apply, err, errlen);
        else if (strncmp(a, "--", 2) == 0 && a[2] != '\0')
            r = long_flag(c, argc, argv, &i, apply, err, errlen);
        else {
            snprintf(err, errlen, "unexpected argument '%s' (see --help)", a);
            r = ARGS_BAD;
        }
        if (r != ARGS_OK)
            return r;
    }
    return ARGS_OK;
}

/* ---- main ------------------------------------------------------------------------------- */

static int usage_error(const char *msg)
{
    fprintf(stderr, PROG ": %s\n", msg);
    return 2;
}

static int runtime_error(const char *msg)
{
    fprintf(stderr, PROG ": %s\n", msg);
    return 1;
}

/* The key named by --api-key-env, registered as a secret before anything can log it. */
static int api_key(const struct ttsd_conf *c, const char **key, char *err, size_t errlen)
{
    *key = NULL;
    if (c->api_key_env[0] == '\0')
        return 0;
    *key = getenv(c->api_key_env);
    if (!*key || !**key) {
        snprintf(err, errlen, "--api-key-env %s: that environment variable is unset or empty", c->api_key_env);
        return -1;
    }
    log_add_secret(*key);
    return 0;
}

/* Blocks the stop signals in every thread (libmicrohttpd's inherit the mask), so the main thread
 * can take them synchronously with sigwait() and no handler runs anywhere. */
static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static int serve(struct server_conf *sc, const char *addr, sigset_t *set)
{
    char err[256];
    struct server *srv = server_start(sc, err, sizeof err);
    if (!srv) {
        close(sc->listen_fd);
        return runtime_error(err);
    }
    printf(PROG " listening on %s\n", addr);
    fflush(stdout);
    log_info("listening", LOGS("address", addr), LOGN("seed", (int64_t)sc->seed), LOGB("auth", sc->api_key != NULL),
             LOGB("tone", sc->faults.tone));
    int sig = 0;
    sigwait(set, &sig);
    log_info("stopping", LOGS("signal", sig == SIGINT ? "SIGINT" : "SIGTERM"));
    server_stop(srv);
    return 0;
}

int main(int argc, char **argv)
{
    log_init(PROG, LOG_INFO);
    struct ttsd_conf conf = {.listen = "127.0.0.1:9400"};
    faults_init(&conf.faults);
    char err[1024], host[256], port[16], addr[300];
    enum args_result r = parse_args(&conf, argc, argv, false, err, sizeof err);
    if (r == ARGS_EXIT)
        return 0;
    if (r == ARGS_BAD || load_env(&conf, err, sizeof err) < 0 ||
        parse_args(&conf, argc, argv, true, err, sizeof err) == ARGS_BAD || mimic_check(&conf.faults, err, sizeof err) < 0)
        return usage_error(err);
    struct server_conf sc = {.faults = conf.faults, .seed = conf.seed, .max_connections = conf.max_connections,
                             .tone_ms = conf.tone_ms};
    if (!conf.seed_set)
        sc.seed = (uint64_t)clock_wall_ms() ^ ((uint64_t)getpid() << 40);
    if (api_key(&conf, &sc.api_key, err, sizeof err) < 0 ||
        listen_split(conf.listen, host, sizeof host, port, sizeof port, err, sizeof err) < 0)
        return usage_error(err);
    sigset_t set;
    block_signals(&set);
    sc.listen_fd = listen_open(host, port, addr, sizeof addr, &sc.family, err, sizeof err);
    if (sc.listen_fd < 0)
        return runtime_error(err);
    return serve(&sc, addr, &set);
}
