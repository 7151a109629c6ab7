/* check_httpd.c - /health cannot be starved: one client address holding idle connections
 * keeps at most a few, and idle connections are dropped. Clients connect from other loopback
 * addresses (127.0.0.2...) to the server on 127.0.0.1, as probes and scrapers come from
 * addresses of their own. */
#include <arpa/inet.h>
#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../consumer/httpd.h"
#include "check_main.h"
#include "clock.h"
#include "metrics.h"

static const char *const names[] = {"primary"};

/* A TCP connection from `from` to 127.0.0.1:port that sends half a request and then nothing;
 * -1 when the connect fails. */
static int idle_connection(const char *from, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
    inet_pton(AF_INET, from, &src.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    dst.sin_port = htons((uint16_t)port);
    if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0 ||
        connect(fd, (struct sockaddr *)&dst, sizeof dst) != 0) {
        close(fd);
        return -1;
    }
    const char half[] = "GET /health HTTP/1.1\r\nHost: x\r\n";   /* no blank line: never ends */
    ck_assert_int_eq(write(fd, half, sizeof half - 1), (ssize_t)(sizeof half - 1));
    return fd;
}

/* True when the server closed fd (read returns 0 or a reset) within timeout_ms. */
static bool closed_within(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int64_t deadline = clock_mono_ms() + timeout_ms;
    char c[256];
    for (int64_t left; (left = deadline - clock_mono_ms()) > 0;) {
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        ssize_t n = read(fd, c, sizeof c);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return true;
    }
    return false;
}

static long health_status(const char *from, int port)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/health", port);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_INTERFACE, from);
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    return status;
}

static struct httpd *start(struct metrics **m, int *port)
{
    *m = metrics_new(names, 1);
    metrics_set_health_inputs(*m, true, true);
    char err[256] = "";
    struct httpd *h = httpd_start("127.0.0.1:0", *m, err, sizeof err);
    ck_assert_msg(h != NULL, "%s", err);
    *port = httpd_port(h);
    return h;
}

/* 64 stalled connections from one address (the server's whole limit, before per-address caps)
 * and the probe from another address is still answered at once. */
START_TEST(test_one_address_cannot_starve_the_probe)
{
    struct metrics *m;
    int port;
    struct httpd *h = start(&m, &port);
    int fds[64], held = 0;
    for (int i = 0; i < 64; i++)
        if ((fds[i] = idle_connection("127.0.0.2", port)) >= 0)
            held++;
    ck_assert_int_eq(held, 64);   /* the kernel accepts them; the server keeps at most 8 */
    ck_assert_int_eq(health_status("127.0.0.3", port), 200);
    for (int i = 0; i < 64; i++)
        close(fds[i]);
    httpd_stop(h);
    metrics_free(m);
}
END_TEST

/* A request that stalls half-sent is dropped within a few seconds, not held for good. */
START_TEST(test_stalled_connection_dropped)
{
    struct metrics *m;
    int port;
    struct httpd *h = start(&m, &port);
    int fd = idle_connection("127.0.0.2", port);
    ck_assert_int_ge(fd, 0);
    ck_assert_msg(closed_within(fd, 8000), "a stalled connection was still open after 8 s");
    close(fd);
    httpd_stop(h);
    metrics_free(m);
}
END_TEST

static Suite *httpd_suite(void)
{
    Suite *s = suite_create("httpd");
    TCase *tc = tcase_create("limits");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_one_address_cannot_starve_the_probe);
    tcase_add_test(tc, test_stalled_connection_dropped);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(httpd_suite)
