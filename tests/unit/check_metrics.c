/* check_metrics.c - the consumer's counters, their Prometheus text, /health, and the HTTP server.
 *
 * Reads the rendered text back line by line, so every test checks what a scraper would see:
 * exact counter values, cumulative buckets with +Inf equal to _count, escaped labels, the code
 * table's overflow into "other", and the /health verdicts. The HTTP tests start a real server on
 * a kernel-picked loopback port and talk to it with libcurl. When promtool is installed the
 * rendered text is also checked by Prometheus's own linter. */
#include "check_main.h"

#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../consumer/httpd.h"
#include "../../consumer/metrics.h"

static const char *const two[] = {"openai", "espeak"};

/* ---- helpers ------------------------------------------------------------------------------- */

/* The rendered exposition text; the caller frees it. */
static char *render(struct metrics *m)
{
    struct buf out = {0};
    metrics_render(m, &out);
    return buf_steal(&out);
}

/* The value of the sample line that starts with exactly `key` (name and labels), or -1. */
static double sample(const char *text, const char *key)
{
    size_t kl = strlen(key);
    for (const char *line = text; *line;) {
        if (strncmp(line, key, kl) == 0 && line[kl] == ' ')
            return strtod(line + kl + 1, NULL);
        const char *nl = strchr(line, '\n');
        if (!nl)
            break;
        line = nl + 1;
    }
    return -1;
}

static double bucket(const char *text, const char *provider, const char *le)
{
    char key[256];
    snprintf(key, sizeof key, "voxcast_provider_latency_seconds_bucket{provider=\"%s\",le=\"%s\"}",
             provider, le);
    return sample(text, key);
}

static double requests(const char *text, const char *provider, const char *code)
{
    char key[256];
    snprintf(key, sizeof key, "voxcast_provider_requests_total{provider=\"%s\",code=\"%s\"}",
             provider, code);
    return sample(text, key);
}

/* The parsed /health document and its status; the caller json_decref()s it. */
static json_t *health(struct metrics *m, enum metrics_status *st)
{
    struct buf out = {0};
    *st = metrics_health(m, &out);
    json_error_t e;
    json_t *doc = json_loads(out.data, 0, &e);
    ck_assert_msg(doc != NULL, "health is not JSON: %s (%s)", out.data, e.text);
    buf_free(&out);
    return doc;
}

static const char *health_str(json_t *doc, const char *key)
{
    const char *s = json_string_value(json_object_get(doc, key));
    ck_assert_ptr_nonnull(s);
    return s;
}

/* ---- counters and text --------------------------------------------------------------------- */

START_TEST(test_jobs_all_outcomes_present)
{
    struct metrics *m = metrics_new(two, 2);
    char *t = render(m);
    ck_assert_double_eq(sample(t, "voxcast_jobs_total{outcome=\"done\"}"), 0);
    ck_assert_double_eq(sample(t, "voxcast_jobs_total{outcome=\"dlq\"}"), 0);
    ck_assert_double_eq(sample(t, "voxcast_jobs_total{outcome=\"duplicate\"}"), 0);
    ck_assert_double_eq(sample(t, "voxcast_jobs_total{outcome=\"invalid\"}"), 0);
    free(t);

    for (int i = 0; i < 3; i++)
        metrics_job(m, METRICS_DONE);
    metrics_job(m, METRICS_DLQ);
    metrics_job(m, METRICS_INVALID);
    metrics_job(m, METRICS_INVALID);
    metrics_job(m, METRICS_CANCELLED);
    metrics_job(m, (enum metrics_outcome)99); /* ignored, not a wild write */
    t = render(m);
    ck_assert_double_eq(sample(t, "voxcast_jobs_total{outcome=\"done\"}"), 3);
    ck_assert_double_eq(sample(t, "voxcast_jobs_total{outcome=\"dlq\"}"), 1);
    ck_assert_double_eq(sample(t, "voxcast_jobs_total{outcome=\"duplicate\"}"), 0);
    ck_assert_double_eq(sample(t, "voxcast_jobs_total{outcome=\"invalid\"}"), 2);
    ck_assert_double_eq(sample(t, "voxcast_jobs_total{outcome=\"cancelled\"}"), 1);
    ck_assert_double_eq(sample(t, "voxcast_jobs_total{outcome=\"aside\"}"), 0);
    free(t);
    metrics_free(m);
}
END_TEST

START_TEST(test_histogram_cumulative)
{
    struct metrics *m = metrics_new(two, 2);
    /* 0.05 and 60 sit exactly on bucket bounds (le is "less or equal"); -1 and NaN count as 0;
     * 1e9 s is summed as the 1e6 s cap but still counted in +Inf. */
    const double lat[] = {0.01, 0.05, 0.051, 0.3, 1, 7, 60, 61, 1e9, -1, NAN};
    for (size_t i = 0; i < sizeof lat / sizeof lat[0]; i++)
        metrics_request(m, 0, "200", lat[i]);
    char *t = render(m);
    const char *le[] = {"0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "60", "+Inf"};
    const double want[] = {4, 5, 5, 6, 7, 7, 7, 8, 8, 9, 11};
    for (size_t i = 0; i < 11; i++)
        ck_assert_msg(bucket(t, "openai", le[i]) == want[i], "le=%s: %g, want %g", le[i],
                      bucket(t, "openai", le[i]), want[i]);
    ck_assert_double_eq(sample(t, "voxcast_provider_latency_seconds_count{provider=\"openai\"}"),
                        bucket(t, "openai", "+Inf"));
    ck_assert_double_eq_tol(sample(t, "voxcast_provider_latency_seconds_sum{provider=\"openai\"}"),
                            1000129.411, 1e-6);
    ck_assert_double_eq(requests(t, "openai", "200"), 11);
    /* The idle provider has its whole histogram at zero, so rate() works from the first scrape. */
    for (size_t i = 0; i < 11; i++)
        ck_assert_double_eq(bucket(t, "espeak", le[i]), 0);
    ck_assert_ptr_nonnull(strstr(t, "voxcast_provider_latency_seconds_sum{provider=\"espeak\"} "
                                    "0.000000000\n"));
    ck_assert_double_eq(sample(t, "voxcast_provider_latency_seconds_count{provider=\"espeak\"}"), 0);
    free(t);
    metrics_free(m);
}
END_TEST

START_TEST(test_request_codes)
{
    struct metrics *m = metrics_new(two, 2);
    metrics_request(m, 0, "200", 0.1);
    metrics_request(m, 0, "200", 0.1);
    metrics_request(m, 0, "503", 0.1);
    metrics_request(m, 1, "timeout", 30);
    metrics_request(m, 0, NULL, 0.1);
    metrics_request(m, 0, "", 0.1);
    metrics_request(m, 0, "a-code-label-well-past-31-bytes-long", 0.1);
    metrics_request(m, 2, "200", 0.1);           /* no such provider: ignored */
    metrics_request(m, (size_t)-1, "200", 0.1);
    char *t = render(m);
    ck_assert_double_eq(requests(t, "openai", "200"), 2);
    ck_assert_double_eq(requests(t, "openai", "503"), 1);
    ck_assert_double_eq(requests(t, "openai", "other"), 3);
    ck_assert_double_eq(requests(t, "espeak", "timeout"), 1);
    ck_assert_double_eq(requests(t, "espeak", "200"), -1);  /* never seen: no line */
    ck_assert_double_eq(requests(t, "espeak", "other"), -1);
    ck_assert_double_eq(bucket(t, "espeak", "10"), 0);
    ck_assert_double_eq(bucket(t, "espeak", "30"), 1);
    ck_assert_double_eq(sample(t, "voxcast_provider_latency_seconds_count{provider=\"openai\"}"), 6);
    free(t);
    metrics_free(m);
}
END_TEST

START_TEST(test_code_table_overflow)
{
    struct metrics *m = metrics_new(two, 1);
    char code[16];
    for (int i = 0; i < METRICS_MAX_CODES + 8; i++) {
        snprintf(code, sizeof code, "%d", 100 + i);
        metrics_request(m, 0, code, 0.01);
    }
    metrics_request(m, 0, "100", 0.01); /* a known code keeps its own line after the overflow */
    char *t = render(m);
    ck_assert_double_eq(requests(t, "openai", "100"), 2);
    snprintf(code, sizeof code, "%d", 100 + METRICS_MAX_CODES - 1);
    ck_assert_double_eq(requests(t, "openai", code), 1);
    snprintf(code, sizeof code, "%d", 100 + METRICS_MAX_CODES);
    ck_assert_double_eq(requests(t, "openai", code), -1);
    ck_assert_double_eq(requests(t, "openai", "other"), 8);
    free(t);
    metrics_free(m);
}
END_TEST

START_TEST(test_label_escaping)
{
    const char *const names[] = {"we\"ird\\name\nx"};
    struct metrics *m = metrics_new(names, 1);
    metrics_request(m, 0, "a\"b", 0.2);
    metrics_retry(m, 0);
    char *t = render(m);
    ck_assert_double_eq(
        sample(t, "voxcast_provider_requests_total{provider=\"we\\\"ird\\\\name\\nx\",code=\"a\\\"b\"}"),
        1);
    ck_assert_double_eq(sample(t, "voxcast_retries_total{provider=\"we\\\"ird\\\\name\\nx\"}"), 1);
    ck_assert_ptr_null(strstr(t, "name\nx")); /* no raw newline inside a label */
    free(t);

    /* /health escapes the same name as JSON and it parses back to the original. */
    enum metrics_status st;
    json_t *doc = health(m, &st);
    json_t *p = json_array_get(json_object_get(doc, "providers"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(p, "name")), names[0]);
    json_decref(doc);
    metrics_free(m);
}
END_TEST

START_TEST(test_gauges_and_counters)
{
    struct metrics *m = metrics_new(two, 2);
    metrics_set_breaker(m, 0, 2, 7);
    metrics_set_breaker(m, 1, 1, 0);
    metrics_set_breaker(m, 1, 3, 99);  /* not a state: ignored */
    metrics_set_breaker(m, 1, -1, 99);
    metrics_set_breaker(m, 5, 2, 1);   /* no such provider */
    metrics_retry(m, 0);
    metrics_retry(m, 0);
    metrics_retry(m, 9);
    metrics_failover(m);
    metrics_set_in_flight(m, 12);
    metrics_set_in_flight(m, 5);
    char *t = render(m);
    ck_assert_double_eq(sample(t, "voxcast_breaker_state{provider=\"openai\"}"), 2);
    ck_assert_double_eq(sample(t, "voxcast_breaker_state{provider=\"espeak\"}"), 1);
    ck_assert_double_eq(sample(t, "voxcast_breaker_consecutive_failures{provider=\"openai\"}"), 7);
    ck_assert_double_eq(sample(t, "voxcast_breaker_consecutive_failures{provider=\"espeak\"}"), 0);
    ck_assert_double_eq(sample(t, "voxcast_retries_total{provider=\"openai\"}"), 2);
    ck_assert_double_eq(sample(t, "voxcast_retries_total{provider=\"espeak\"}"), 0);
    ck_assert_double_eq(sample(t, "voxcast_failovers_total"), 1);
    ck_assert_double_eq(sample(t, "voxcast_in_flight"), 5);
    free(t);
    metrics_free(m);
}
END_TEST

START_TEST(test_help_and_type_lines)
{
    static const struct { const char *name, *type; } fam[] = {
        {"voxcast_jobs_total", "counter"},
        {"voxcast_provider_requests_total", "counter"},
        {"voxcast_provider_latency_seconds", "histogram"},
        {"voxcast_breaker_state", "gauge"},
        {"voxcast_breaker_consecutive_failures", "gauge"},
        {"voxcast_retries_total", "counter"},
        {"voxcast_failovers_total", "counter"},
        {"voxcast_in_flight", "gauge"},
    };
    struct metrics *m = metrics_new(two, 2);
    char *t = render(m);
    for (size_t i = 0; i < sizeof fam / sizeof fam[0]; i++) {
        char line[128];
        snprintf(line, sizeof line, "# HELP %s ", fam[i].name);
        const char *help = strstr(t, line);
        ck_assert_msg(help != NULL, "no HELP for %s", fam[i].name);
        snprintf(line, sizeof line, "# TYPE %s %s\n", fam[i].name, fam[i].type);
        const char *type = strstr(t, line);
        ck_assert_msg(type != NULL && type > help, "no TYPE after HELP for %s", fam[i].name);
    }
    ck_assert(t[strlen(t) - 1] == '\n'); /* the format wants the last line terminated */
    free(t);
    metrics_free(m);
}
END_TEST

/* No fixed provider limit: a chain of 20 (more than the old 16 slots) gets a slot each, counted
 * and reported apart. */
START_TEST(test_new_limits)
{
    enum { N = 20 };
    char bufs[N][8];
    const char *names[N];
    for (size_t i = 0; i < N; i++) {
        snprintf(bufs[i], sizeof bufs[i], "p%zu", i);
        names[i] = bufs[i];
    }
    struct metrics *m = metrics_new(names, N);
    ck_assert_ptr_nonnull(m);
    metrics_request(m, N - 1, "200", 0.1);
    metrics_request(m, 0, "500", 0.1);
    char *t = render(m);
    ck_assert_double_eq(requests(t, "p19", "200"), 1);
    ck_assert_double_eq(requests(t, "p0", "500"), 1);
    free(t);
    enum metrics_status st;
    json_t *doc = health(m, &st);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "providers")), N);
    json_decref(doc);
    metrics_free(m);
    const char *const holed[] = {"a", NULL};
    ck_assert_ptr_null(metrics_new(holed, 2));
    m = metrics_new(NULL, 0);
    ck_assert_ptr_nonnull(m);
    t = render(m);
    ck_assert_double_eq(sample(t, "voxcast_jobs_total{outcome=\"done\"}"), 0);
    free(t);
    metrics_free(m);
    metrics_free(NULL);
}
END_TEST

/* ---- concurrency ---------------------------------------------------------------------------- */

#define WORKERS    4
#define PER_WORKER 20000

static void *hammer(void *arg)
{
    struct metrics *m = arg;
    char code[8];
    for (int i = 0; i < PER_WORKER; i++) {
        metrics_job(m, METRICS_DONE);
        snprintf(code, sizeof code, "%d", 200 + i % 40); /* 40 codes: inserts race, then overflow */
        metrics_request(m, (size_t)(i & 1), code, 0.07);
    }
    return NULL;
}

/* Sums every requests_total sample of one provider: named codes and "other". */
static double requests_sum(const char *t, const char *provider)
{
    char prefix[128];
    int pl = snprintf(prefix, sizeof prefix, "voxcast_provider_requests_total{provider=\"%s\",",
                      provider);
    double sum = 0;
    for (const char *l = strstr(t, prefix); l; l = strstr(l + 1, prefix))
        sum += strtod(strchr(l + pl, ' ') + 1, NULL);
    return sum;
}

START_TEST(test_concurrent_updates_exact)
{
    struct metrics *m = metrics_new(two, 2);
    pthread_t th[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, hammer, m), 0);
    for (int i = 0; i < 50; i++) { /* scrapes while the counters move: +Inf == _count throughout */
        char *t = render(m);
        ck_assert_double_eq(bucket(t, "openai", "+Inf"),
                            sample(t, "voxcast_provider_latency_seconds_count{provider=\"openai\"}"));
        free(t);
    }
    for (int i = 0; i < WORKERS; i++)
        pthread_join(th[i], NULL);
    char *t = render(m);
    double total = (double)WORKERS * PER_WORKER;
    ck_assert_double_eq(sample(t, "voxcast_jobs_total{outcome=\"done\"}"), total);
    ck_assert_double_eq(requests_sum(t, "openai") + requests_sum(t, "espeak"), total);
    ck_assert_double_eq(bucket(t, "openai", "0.1") + bucket(t, "espeak", "0.1"), total);
    ck_assert_double_eq(bucket(t, "openai", "0.05"), 0);
    /* Each provider saw 20 distinct codes: all fit, none went to "other", none was duplicated. */
    ck_assert_double_eq(requests(t, "openai", "other"), -1);
    ck_assert_double_eq(requests(t, "openai", "200"), total / 40);
    free(t);
    metrics_free(m);
}
END_TEST

/* ---- health -------------------------------------------------------------------------------- */

START_TEST(test_health_starts_down)
{
    struct metrics *m = metrics_new(two, 2);
    enum metrics_status st;
    json_t *doc = health(m, &st);
    ck_assert_int_eq(st, METRICS_DOWN);
    ck_assert_str_eq(health_str(doc, "status"), "down");
    ck_assert_str_eq(health_str(doc, "redis"), "down");
    ck_assert_str_eq(health_str(doc, "kafka"), "down");
    json_decref(doc);
    metrics_free(m);
}
END_TEST

START_TEST(test_health_ok_shape)
{
    struct metrics *m = metrics_new(two, 2);
    metrics_set_health_inputs(m, true, true);
    metrics_set_in_flight(m, 3);
    metrics_set_breaker(m, 1, 0, 2);
    enum metrics_status st;
    json_t *doc = health(m, &st);
    ck_assert_int_eq(st, METRICS_OK);
    ck_assert_str_eq(health_str(doc, "status"), "ok");
    ck_assert_str_eq(health_str(doc, "redis"), "ok");
    ck_assert_str_eq(health_str(doc, "kafka"), "ok");
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "in_flight")), 3);
    json_t *ps = json_object_get(doc, "providers");
    ck_assert_int_eq(json_array_size(ps), 2);
    json_t *p1 = json_array_get(ps, 1);
    ck_assert_str_eq(json_string_value(json_object_get(p1, "name")), "espeak");
    ck_assert_str_eq(json_string_value(json_object_get(p1, "state")), "closed");
    ck_assert_int_eq(json_integer_value(json_object_get(p1, "consecutive_failures")), 2);
    ck_assert_int_eq(json_object_size(doc), 5);
    json_decref(doc);
    metrics_free(m);
}
END_TEST

/* A provider-level refusal's cause shows as last_error: null until there is one, then the text
 * (escaped as JSON, cut to METRICS_ERROR_MAX bytes); out-of-range calls are ignored. */
START_TEST(test_health_last_error)
{
    struct metrics *m = metrics_new(two, 2);
    enum metrics_status st;
    json_t *doc = health(m, &st);
    json_t *p0 = json_array_get(json_object_get(doc, "providers"), 0);
    ck_assert(json_is_null(json_object_get(p0, "last_error")));
    json_decref(doc);
    metrics_set_last_error(m, 0, "voice 'alloy' not found or not allowed (HTTP 404 voice_not_found)");
    metrics_set_last_error(m, 7, "ignored");
    metrics_set_last_error(m, 1, NULL);
    doc = health(m, &st);
    json_t *ps = json_object_get(doc, "providers");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(ps, 0), "last_error")),
                     "voice 'alloy' not found or not allowed (HTTP 404 voice_not_found)");
    ck_assert(json_is_null(json_object_get(json_array_get(ps, 1), "last_error")));
    json_decref(doc);
    char longer[600];
    memset(longer, 'a', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    longer[10] = '"';
    metrics_set_last_error(m, 1, longer);
    doc = health(m, &st);
    const char *le = json_string_value(json_object_get(json_array_get(json_object_get(doc, "providers"), 1),
                                                       "last_error"));
    ck_assert_uint_eq(strlen(le), METRICS_ERROR_MAX);
    ck_assert_int_eq(le[10], '"');
    json_decref(doc);
    metrics_free(m);
}
END_TEST

/* The verdict for breaker states `s0`, `s1` and the two dependencies. */
static enum metrics_status verdict(int s0, int s1, bool redis, bool kafka)
{
    struct metrics *m = metrics_new(two, 2);
    metrics_set_health_inputs(m, redis, kafka);
    metrics_set_breaker(m, 0, s0, 0);
    metrics_set_breaker(m, 1, s1, 0);
    enum metrics_status st;
    json_t *doc = health(m, &st);
    static const char *const names[] = {"ok", "degraded", "down"};
    ck_assert_str_eq(health_str(doc, "status"), names[st]);
    json_decref(doc);
    metrics_free(m);
    return st;
}

START_TEST(test_health_verdicts)
{
    ck_assert_int_eq(verdict(0, 0, true, true), METRICS_OK);
    ck_assert_int_eq(verdict(1, 0, true, true), METRICS_DEGRADED);  /* half-open */
    ck_assert_int_eq(verdict(0, 2, true, true), METRICS_DEGRADED);  /* one open */
    ck_assert_int_eq(verdict(2, 1, true, true), METRICS_DEGRADED);  /* a probe may still pass */
    ck_assert_int_eq(verdict(2, 2, true, true), METRICS_DOWN);      /* every breaker open */
    ck_assert_int_eq(verdict(0, 0, false, true), METRICS_DOWN);
    ck_assert_int_eq(verdict(0, 0, true, false), METRICS_DOWN);
    ck_assert_int_eq(verdict(1, 1, false, false), METRICS_DOWN);
}
END_TEST

START_TEST(test_health_no_providers)
{
    struct metrics *m = metrics_new(NULL, 0);
    metrics_set_health_inputs(m, true, true);
    enum metrics_status st;
    json_t *doc = health(m, &st);
    ck_assert_int_eq(st, METRICS_OK);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "providers")), 0);
    json_decref(doc);
    metrics_free(m);
}
END_TEST

/* ---- promtool ------------------------------------------------------------------------------ */

START_TEST(test_promtool_accepts_text)
{
    const char *const names[] = {"openai", "odd \"name\"\\\n"};
    struct metrics *m = metrics_new(names, 2);
    for (int i = 0; i < METRICS_MAX_CODES + 2; i++) {
        char code[16];
        snprintf(code, sizeof code, "%d", 400 + i);
        metrics_request(m, 0, code, 0.001 * i);
    }
    metrics_request(m, 1, "timeout", 61);
    metrics_job(m, METRICS_DONE);
    metrics_retry(m, 1);
    metrics_failover(m);
    metrics_set_breaker(m, 1, 2, 5);
    char *t = render(m);
    char path[] = "/tmp/check_metrics_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, t, strlen(t)), (ssize_t)strlen(t));
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s", path);
    int rc = system(cmd);
    unlink(path);
    ck_assert_msg(rc == 0, "promtool check metrics failed (%d) on:\n%s", rc, t);
    free(t);
    metrics_free(m);
}
END_TEST

/* ---- httpd --------------------------------------------------------------------------------- */

struct reply {
    long       status;
    char       type[128];
    struct buf body;
};

static size_t collect(char *p, size_t size, size_t n, void *userdata)
{
    buf_append(userdata, p, size * n);
    return size * n;
}

/* Requests `path` from the server on `port`; `post` sends a small form body. */
static void fetch(int port, const char *path, bool post, struct reply *r)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    ck_assert_ptr_nonnull(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    if (post)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "x=1");
    CURLcode rc = curl_easy_perform(c);
    ck_assert_msg(rc == CURLE_OK, "GET %s: %s", url, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    char *type = NULL;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type);
    snprintf(r->type, sizeof r->type, "%s", type ? type : "");
    curl_easy_cleanup(c);
    buf_putc(&r->body, '\0'); /* an empty body is still a C string */
}

START_TEST(test_httpd_round_trip)
{
    struct metrics *m = metrics_new(two, 2);
    metrics_set_health_inputs(m, true, true);
    metrics_job(m, METRICS_DONE);
    metrics_set_breaker(m, 0, 2, 5);
    char err[256] = "";
    struct httpd *h = httpd_start("127.0.0.1:0", m, err, sizeof err);
    ck_assert_msg(h != NULL, "%s", err);
    int port = httpd_port(h);
    ck_assert_int_gt(port, 0);

    struct reply r;
    fetch(port, "/metrics", false, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.type, "text/plain; version=0.0.4; charset=utf-8");
    ck_assert_double_eq(sample(r.body.data, "voxcast_jobs_total{outcome=\"done\"}"), 1);
    buf_free(&r.body);

    fetch(port, "/health", false, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.type, "application/json");
    ck_assert_ptr_nonnull(strstr(r.body.data, "\"status\":\"degraded\""));
    buf_free(&r.body);

    metrics_set_health_inputs(m, false, true); /* down: 503, still with the JSON */
    fetch(port, "/health", false, &r);
    ck_assert_int_eq(r.status, 503);
    ck_assert_ptr_nonnull(strstr(r.body.data, "\"status\":\"down\""));
    ck_assert_ptr_nonnull(strstr(r.body.data, "\"redis\":\"down\""));
    buf_free(&r.body);

    fetch(port, "/metrics?name=x", false, &r); /* the query string is not part of the path */
    ck_assert_int_eq(r.status, 200);
    buf_free(&r.body);

    fetch(port, "/nope", false, &r);
    ck_assert_int_eq(r.status, 404);
    buf_free(&r.body);
    fetch(port, "/metrics/", false, &r);
    ck_assert_int_eq(r.status, 404);
    buf_free(&r.body);

    fetch(port, "/metrics", true, &r);
    ck_assert_int_eq(r.status, 405);
    buf_free(&r.body);

    httpd_stop(h);
    metrics_free(m);
}
END_TEST

START_TEST(test_httpd_address_in_use)
{
    struct metrics *m = metrics_new(two, 1);
    char err[256] = "";
    struct httpd *h = httpd_start("localhost:0", m, err, sizeof err);
    ck_assert_msg(h != NULL, "%s", err);
    char listen[64], want[160];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", httpd_port(h));
    snprintf(want, sizeof want, "http.listen %s: Address already in use", listen);
    ck_assert_ptr_null(httpd_start(listen, m, err, sizeof err));
    ck_assert_str_eq(err, want);
    httpd_stop(h);
    /* Once stopped, the port is free again. */
    h = httpd_start(listen, m, err, sizeof err);
    ck_assert_msg(h != NULL, "%s", err);
    httpd_stop(h);
    httpd_stop(NULL);
    metrics_free(m);
}
END_TEST

START_TEST(test_httpd_bad_listen)
{
    static const struct { const char *listen, *why; } bad[] = {
        {"", "expected HOST:PORT"},
        {"9464", "expected HOST:PORT"},
        {":9464", "expected HOST:PORT"},
        {"127.0.0.1:", "expected HOST:PORT"},
        {"127.0.0.1:65536", "port must be"},
        {"127.0.0.1:99999999999999999999", "port must be"},
        {"127.0.0.1:-1", "port must be"},
        {"127.0.0.1:80x", "port must be"},
        {"127.0.0:9464", "host must be"},
        {"example.com:9464", "host must be"},
        {"[::1]:9464", "host must be"},
        {"a-very-long-host-name-that-is-longer-than-an-address:1", "host must be"},
    };
    struct metrics *m = metrics_new(two, 1);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        ck_assert_ptr_null(httpd_start(bad[i].listen, m, err, sizeof err));
        char prefix[128];
        snprintf(prefix, sizeof prefix, "http.listen %s: ", bad[i].listen);
        ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0 && strstr(err, bad[i].why),
                      "%s -> %s", bad[i].listen, err);
    }
    metrics_free(m);
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("counters");
    tcase_add_test(tc, test_jobs_all_outcomes_present);
    tcase_add_test(tc, test_histogram_cumulative);
    tcase_add_test(tc, test_request_codes);
    tcase_add_test(tc, test_code_table_overflow);
    tcase_add_test(tc, test_label_escaping);
    tcase_add_test(tc, test_gauges_and_counters);
    tcase_add_test(tc, test_help_and_type_lines);
    tcase_add_test(tc, test_new_limits);
    tcase_add_test(tc, test_concurrent_updates_exact);
    /* Check has no "skipped": without promtool the test is not registered, and says so, rather
     * than passing without having checked anything. */
    if (system("command -v promtool >/dev/null 2>&1") == 0)
        tcase_add_test(tc, test_promtool_accepts_text);
    else
        fprintf(stderr, "skip: promtool not installed (test_promtool_accepts_text)\n");
    suite_add_tcase(s, tc);

    tc = tcase_create("health");
    tcase_add_test(tc, test_health_starts_down);
    tcase_add_test(tc, test_health_ok_shape);
    tcase_add_test(tc, test_health_last_error);
    tcase_add_test(tc, test_health_verdicts);
    tcase_add_test(tc, test_health_no_providers);
    suite_add_tcase(s, tc);

    tc = tcase_create("httpd");
    tcase_add_test(tc, test_httpd_round_trip);
    tcase_add_test(tc, test_httpd_address_in_use);
    tcase_add_test(tc, test_httpd_bad_listen);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(metrics_suite)
