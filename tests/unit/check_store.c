/* check_store.c - the Redis layer against a real redis-server, and launch's acker, the one
 * writer of its chunk acknowledgements.
 *
 * An unchecked fixture starts `redis-server` on a free port as a child process (no shell) once
 * for the suite; every test opens its own store, which waits for the server through
 * store_open's own retry (no sleeps), and starts from FLUSHALL. The state-machine tests check
 * done + dlq + pending == enqueued after every step, and also that pending equals the number of
 * contacts actually in state "p". If redis-server cannot be started, every test fails saying so
 * (set VOXCAST_REDIS_SERVER to its path if it is not on PATH). */
#include "check_main.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../producer/acker.h"
#include "clock.h"
#include "store.h"

static pid_t g_redis = -1;   /* the suite's redis-server */
static int g_port;
static char g_spawn_err[512];

static struct store *S;      /* per test: a store on db 0 */
static redisContext *R;      /* per test: a raw connection for inspection */

/* ================================================================ redis-server */

/* A TCP port nothing listens on right now (the kernel picks it for a socket bound to port 0). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* Child side: quiet, dies with its parent, execs redis-server; reports a failed exec in `pipe`. */
static void exec_redis(const char *bin, char **argv, int report_fd, pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(1);
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
    }
    execvp(bin, argv);
    int e = errno;
    ssize_t w = write(report_fd, &e, sizeof e);
    (void)w;
    _exit(127);
}

/* Starts redis-server on port with extra args (NULL-terminated, may be NULL). Returns its pid, or
 * -1 with a reason in err. Readiness is left to store_open's retry. */
static pid_t spawn_redis(int port, const char *const *extra, char *err, size_t errlen)
{
    const char *bin = getenv("VOXCAST_REDIS_SERVER") ? getenv("VOXCAST_REDIS_SERVER") : "redis-server";
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    const char *argv[32] = {bin, "--port", portstr, "--bind", "127.0.0.1", "--save", "",
                            "--appendonly", "no"};
    size_t argc = 9;
    for (size_t i = 0; extra && extra[i] && argc < 31; i++)
        argv[argc++] = extra[i];
    int fds[2];
    if (port <= 0 || pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "cannot pick a port or make a pipe: %s", strerror(errno));
        return -1;
    }
    pid_t parent = getpid(), pid = fork();
    if (pid == 0)
        exec_redis(bin, (char **)argv, fds[1], parent);
    close(fds[1]);
    int child_errno = 0;
    ssize_t got = pid > 0 ? read(fds[0], &child_errno, sizeof child_errno) : 0;
    close(fds[0]);
    if (pid < 0 || got > 0) {
        snprintf(err, errlen, "cannot run %s (is redis-server installed? set VOXCAST_REDIS_SERVER): %s",
                 bin, strerror(pid < 0 ? errno : child_errno));
        if (pid > 0)
            waitpid(pid, NULL, 0);
        return -1;
    }
    return pid;
}

static void stop_redis(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
}

static void suite_up(void)
{
    g_port = free_port();
    g_redis = spawn_redis(g_port, NULL, g_spawn_err, sizeof g_spawn_err);
}

static void suite_down(void)
{
    stop_redis(g_redis);
    g_redis = -1;
}

static void url_for(char *out, size_t n, int port, const char *tail)
{
    snprintf(out, n, "redis://127.0.0.1:%d%s", port, tail);
}

static struct store *open_db(const char *tail)
{
    char url[128], err[512];
    url_for(url, sizeof url, g_port, tail);
    struct store *s = store_open(url, 10000, err, sizeof err);
    ck_assert_msg(s != NULL, "store_open %s: %s", url, err);
    return s;
}

static redisReply *raw(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(R, fmt, ap);
    va_end(ap);
    ck_assert_msg(r != NULL, "raw redis command failed");
    return r;
}

/* A raw command that must succeed (fmt is hiredis printf style). */
static void raw_ok(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(R, fmt, ap);
    va_end(ap);
    ck_assert_msg(r && r->type != REDIS_REPLY_ERROR, "raw %s: %s", fmt, r ? r->str : "no reply");
    freeReplyObject(r);
}

static void test_up(void)
{
    ck_assert_msg(g_redis > 0, "no redis-server for the store tests: %s", g_spawn_err);
    S = open_db("");
    R = redisConnect("127.0.0.1", g_port);
    ck_assert_msg(R && !R->err, "raw connect failed");
    raw_ok("FLUSHALL");
}

static void test_down(void)
{
    store_close(S);
    S = NULL;
    if (R)
        redisFree(R);
    R = NULL;
}

/* ================================================================ helpers */

static void exec_ok(struct store_batch *b)
{
    ck_assert_msg(store_batch_exec(S, b) == 0, "exec: %s", store_error(S));
}

/* Runs one op of kind in a fresh batch and returns its result. */
static enum store_result one(char kind, const char *campaign, const char *contact, const char *extra)
{
    struct store_batch *b = store_batch_new();
    size_t len = strlen(contact);
    switch (kind) {
    case 'R': store_batch_reserve(b, campaign, extra ? extra : "run1", contact, len); break;
    case 'A': store_batch_ack(b, campaign, contact, len); break;
    case 'U': store_batch_unreserve(b, campaign, contact, len); break;
    case 'D': store_batch_done(b, campaign, contact, len, extra); break;
    default: store_batch_dlq(b, campaign, contact, len, extra ? extra : "{}"); break;
    }
    exec_ok(b);
    enum store_result r = store_batch_result(b, 0);
    store_batch_free(b);
    return r;
}

static char state_of(const char *campaign, const char *contact, size_t len)
{
    char st = 'x';
    ck_assert_int_eq(store_contact_state(S, campaign, contact, len, &st), 0);
    return st;
}

static struct campaign_info info(const char *campaign)
{
    struct campaign_info ci;
    ck_assert_msg(store_campaign_get(S, campaign, &ci) == 0, "get %s: %s", campaign, store_error(S));
    return ci;
}

/* 1 when a state value is "p<tag>/<chunk>" of a chunk not acknowledged yet (so it is an "r"). */
static int waits_for_chunk(const char *campaign, const char *value)
{
    if (!strchr(value, '/'))
        return 0;
    redisReply *r = raw("HGET voxcast:{%s}:chunks %s", campaign, value + 1);
    int waits = !(r->type == REDIS_REPLY_STRING && strcmp(r->str, "a") == 0);
    freeReplyObject(r);
    return waits;
}

/* Asserts the counters and that pending (enqueued - done - dlq) equals the contacts in "p". */
static void expect(const char *campaign, int64_t enq, int64_t done, int64_t dlq)
{
    struct campaign_info ci;
    int rc = store_campaign_get(S, campaign, &ci); /* 1: no counter moved yet */
    ck_assert_msg(rc == 0 || (rc == 1 && ci.enqueued == 0), "get %s: %s", campaign, store_error(S));
    ck_assert_int_eq(ci.enqueued, enq);
    ck_assert_int_eq(ci.done, done);
    ck_assert_int_eq(ci.dlq, dlq);
    redisReply *r = raw("HVALS voxcast:{%s}:state", campaign);
    int64_t p = 0, d = 0, q = 0;
    for (size_t i = 0; i < r->elements; i++) {
        p += r->element[i]->str[0] == 'p' && !waits_for_chunk(campaign, r->element[i]->str);
        d += r->element[i]->str[0] == 'd';
        q += r->element[i]->str[0] == 'q';
    }
    freeReplyObject(r);
    ck_assert_int_eq(ci.done + ci.dlq + p, ci.enqueued);
    ck_assert_int_eq(d, ci.done);
    ck_assert_int_eq(q, ci.dlq);
}

/* Collects DLQ callbacks. */
struct seen {
    char ids[32][64];
    char json[32][256];
    int  n, stop_after;
};

static int collect(void *ctx, const char *id, const char *json)
{
    struct seen *s = ctx;
    if (s->n < 32) {
        snprintf(s->ids[s->n], sizeof s->ids[0], "%s", id);
        snprintf(s->json[s->n], sizeof s->json[0], "%s", json);
    }
    s->n++;
    return s->stop_after && s->n >= s->stop_after;
}

static void park(const char *campaign, const char *contact, long long failed_at)
{
    char entry[128];
    snprintf(entry, sizeof entry, "{\"contact\":\"%s\",\"failed_at\":%lld}", contact, failed_at);
    ck_assert_int_eq(one('Q', campaign, contact, entry), STORE_PARKED);
}

/* ================================================================ URLs and connecting */

START_TEST(test_url_basic)
{
    struct store_url u;
    char err[256] = "";
    ck_assert_int_eq(store_url_parse("redis://127.0.0.1:6390", &u, err, sizeof err), 0);
    ck_assert_str_eq(u.host, "127.0.0.1");
    ck_assert_int_eq(u.port, 6390);
    ck_assert_int_eq(u.db, 0);
    ck_assert_str_eq(u.password, "");
    ck_assert_int_eq(store_url_parse("redis://cache.local", &u, err, sizeof err), 0);
    ck_assert_str_eq(u.host, "cache.local");
    ck_assert_int_eq(u.port, 6379);
    ck_assert_int_eq(store_url_parse("redis://[::1]:6380/2", &u, err, sizeof err), 0);
    ck_assert_str_eq(u.host, "::1");
    ck_assert_int_eq(u.port, 6380);
    ck_assert_int_eq(u.db, 2);
    ck_assert_int_eq(store_url_parse("redis://h/", &u, err, sizeof err), 0);
    ck_assert_int_eq(u.db, 0);
}
END_TEST

START_TEST(test_url_password_db)
{
    struct store_url u;
    char err[256] = "";
    ck_assert_int_eq(store_url_parse("redis://:s3cr%40t:x@10.0.0.5:7000/15", &u, err, sizeof err), 0);
    ck_assert_str_eq(u.user, "");
    ck_assert_str_eq(u.password, "s3cr@t:x");
    ck_assert_str_eq(u.host, "10.0.0.5");
    ck_assert_int_eq(u.port, 7000);
    ck_assert_int_eq(u.db, 15);
    ck_assert_int_eq(store_url_parse("redis://app:p%20w@h", &u, err, sizeof err), 0);
    ck_assert_str_eq(u.user, "app");
    ck_assert_str_eq(u.password, "p w");
    /* the last '@' ends the credentials, so a raw '@' in a password still works */
    ck_assert_int_eq(store_url_parse("redis://:a@b@h:1", &u, err, sizeof err), 0);
    ck_assert_str_eq(u.password, "a@b");
    ck_assert_str_eq(u.host, "h");
}
END_TEST

START_TEST(test_url_bad)
{
    static const char *const bad[] = {
        "", "http://h:6379", "redis:/h", "redis://", "redis://:6379", "redis://h:", "redis://h:0",
        "redis://h:65536", "redis://h:12ab", "redis://h:-1", "redis://h/x", "redis://h/-1",
        "redis://h/1/2", "redis://h?db=1", "redis://[::1", "redis://:%zz@h", "redis://:%4@h",
        "redis://secret@h", "redis://h/99999999999",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct store_url u;
        char err[256] = "";
        ck_assert_msg(store_url_parse(bad[i], &u, err, sizeof err) == -1, "accepted \"%s\"", bad[i]);
        ck_assert_msg(strstr(err, "bad redis URL") != NULL, "\"%s\": %s", bad[i], err);
    }
    char err[256] = "";
    struct store_url u;
    ck_assert_int_eq(store_url_parse(NULL, &u, err, sizeof err), -1);
    ck_assert_int_eq(store_url_parse("redis://:hunter2@h:99999", &u, err, sizeof err), -1);
    ck_assert_ptr_null(strstr(err, "hunter2"));
}
END_TEST

START_TEST(test_open_bad_url)
{
    char err[256] = "";
    ck_assert_ptr_null(store_open("localhost:6379", 1000, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "redis://"));
}
END_TEST

START_TEST(test_open_refused)
{
    int port = free_port();
    char url[64], err[512] = "", want[128];
    url_for(url, sizeof url, port, "");
    int64_t t0 = clock_mono_ms();
    ck_assert_ptr_null(store_open(url, 300, err, sizeof err));
    int64_t took = clock_mono_ms() - t0;
    snprintf(want, sizeof want, "redis 127.0.0.1:%d: Connection refused (gave up after 300 ms)", port);
    ck_assert_str_eq(err, want);
    ck_assert_msg(took >= 300 && took < 2000, "gave up after %lld ms", (long long)took);
    /* timeout 0 is a single attempt */
    t0 = clock_mono_ms();
    ck_assert_ptr_null(store_open(url, 0, err, sizeof err));
    ck_assert_msg(clock_mono_ms() - t0 < 250, "one attempt took too long");
    ck_assert_ptr_nonnull(strstr(err, "Connection refused"));
}
END_TEST

/* A server that accepts but never answers must not hang the caller. */
START_TEST(test_open_hung_server)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(fd, 8), 0); /* the kernel completes connects; nobody reads */
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    char url[64], err[512] = "";
    url_for(url, sizeof url, ntohs(a.sin_port), "");
    int64_t t0 = clock_mono_ms();
    ck_assert_ptr_null(store_open(url, 1000, err, sizeof err));
    int64_t took = clock_mono_ms() - t0;
    ck_assert_msg(strstr(err, "no reply within 1000 ms (gave up after 1000 ms)") != NULL, "%s", err);
    ck_assert_msg(took >= 1000 && took < 3000, "took %lld ms", (long long)took);
    close(fd);
}
END_TEST

START_TEST(test_open_select_db)
{
    struct store *s5 = open_db("/5");
    ck_assert_int_eq(store_campaign_create(s5, "in-db5", 1), 0);
    struct campaign_info ci;
    ck_assert_int_eq(store_campaign_get(S, "in-db5", &ci), 1);
    ck_assert_int_eq(store_campaign_get(s5, "in-db5", &ci), 0);
    raw_ok("SELECT 5");
    redisReply *r = raw("EXISTS voxcast:{in-db5}:meta");
    ck_assert_int_eq(r->integer, 1);
    freeReplyObject(r);
    store_close(s5);
    char err[256] = "";
    char url[64];
    url_for(url, sizeof url, g_port, "/999");
    ck_assert_ptr_null(store_open(url, 5000, err, sizeof err));
    ck_assert_msg(strstr(err, "SELECT") != NULL, "%s", err);
}
END_TEST

START_TEST(test_open_password)
{
    int port = free_port();
    char err[512] = "", url[128];
    const char *const extra[] = {"--requirepass", "s3cret pass", NULL};
    pid_t pid = spawn_redis(port, extra, err, sizeof err);
    ck_assert_msg(pid > 0, "%s", err);
    snprintf(url, sizeof url, "redis://:s3cret%%20pass@127.0.0.1:%d/1", port);
    struct store *s = store_open(url, 10000, err, sizeof err);
    ck_assert_msg(s != NULL, "%s", err);
    ck_assert_int_eq(store_campaign_create(s, "pw", 1), 0);
    store_close(s);

    snprintf(url, sizeof url, "redis://:wrong-guess@127.0.0.1:%d", port);
    int64_t t0 = clock_mono_ms();
    ck_assert_ptr_null(store_open(url, 5000, err, sizeof err));
    ck_assert_msg(clock_mono_ms() - t0 < 2500, "a rejected password must not be retried");
    ck_assert_msg(strstr(err, "AUTH") != NULL, "%s", err);
    ck_assert_ptr_null(strstr(err, "wrong-guess"));

    url_for(url, sizeof url, port, "");
    ck_assert_ptr_null(store_open(url, 5000, err, sizeof err));
    ck_assert_msg(strstr(err, "NOAUTH") != NULL, "%s", err);
    stop_redis(pid);
}
END_TEST

START_TEST(test_server_gone)
{
    int port = free_port();
    char err[512] = "", url[64];
    pid_t pid = spawn_redis(port, NULL, err, sizeof err);
    ck_assert_msg(pid > 0, "%s", err);
    url_for(url, sizeof url, port, "");
    struct store *s = store_open(url, 10000, err, sizeof err);
    ck_assert_msg(s != NULL, "%s", err);
    stop_redis(pid);
    struct store_batch *b = store_batch_new();
    store_batch_ack(b, "gone", "c", 1);
    ck_assert_int_eq(store_batch_exec(s, b), -1);
    char want[64];
    snprintf(want, sizeof want, "redis 127.0.0.1:%d: ", port);
    ck_assert_msg(strncmp(store_error(s), want, strlen(want)) == 0, "%s", store_error(s));
    ck_assert_int_eq(store_batch_result(b, 0), STORE_PENDING);
    ck_assert_int_eq(store_reconnect(s), -1);
    ck_assert_ptr_nonnull(strstr(store_error(s), "refused"));
    ck_assert_int_eq(store_batch_exec(s, b), -1);
    store_batch_free(b);
    store_close(s);
}
END_TEST

START_TEST(test_reconnect_after_kill)
{
    struct store_batch *b = store_batch_new();
    store_batch_reserve(b, "rc", "run1", "a", 1);
    exec_ok(b);
    ck_assert_int_eq(store_batch_result(b, 0), STORE_NEW);
    raw_ok("CLIENT KILL TYPE normal");
    ck_assert_int_eq(store_batch_exec(S, b), -1);
    ck_assert_ptr_nonnull(strstr(store_error(S), "redis 127.0.0.1:"));
    /* the next call reconnects by itself; the retried batch answers as the first time */
    exec_ok(b);
    ck_assert_int_eq(store_batch_result(b, 0), STORE_NEW);
    ck_assert_int_eq(store_reconnect(S), 0);
    exec_ok(b);
    ck_assert_int_eq(store_batch_result(b, 0), STORE_NEW);
    store_batch_free(b);
}
END_TEST

/* ================================================================ campaigns */

START_TEST(test_campaign_create_twice)
{
    ck_assert_int_eq(store_campaign_create(S, "spring-promo", 1700000000123), 0);
    ck_assert_int_eq(store_campaign_create(S, "spring-promo", 1700000009999), 1);
    struct campaign_info ci = info("spring-promo");
    ck_assert_str_eq(ci.id, "spring-promo");
    ck_assert_int_eq(ci.created_at_ms, 1700000000123);
    ck_assert_str_eq(ci.launch_state, "launching");
    ck_assert_int_eq(ci.enqueued + ci.done + ci.dlq + ci.rejected + ci.duplicates, 0);
    ck_assert_int_eq(store_campaign_set(S, "spring-promo", "launch_state", "launched"), 0);
    ck_assert_int_eq(store_campaign_set(S, "spring-promo", "template", "Hi {{name}}"), 0);
    ck_assert_int_eq(store_campaign_add_rejected(S, "spring-promo", 3), 0);
    ck_assert_int_eq(store_campaign_add_rejected(S, "spring-promo", 2), 0);
    ci = info("spring-promo");
    ck_assert_str_eq(ci.launch_state, "launched");
    ck_assert_int_eq(ci.rejected, 5);
    ck_assert_int_eq(store_campaign_set(S, "spring-promo", "done", "7"), -1);
    ck_assert_ptr_nonnull(strstr(store_error(S), "done"));
    ck_assert_int_eq(store_campaign_set(S, "spring-promo", "created_at", "7"), -1);
    ck_assert_int_eq(info("spring-promo").done, 0);
    ck_assert_int_eq(store_campaign_get(S, "never-made", &ci), 1);
    ck_assert_int_eq(store_campaign_get(S, "bad id", &ci), -1);
    ck_assert_ptr_nonnull(strstr(store_error(S), "invalid campaign id"));
    ck_assert_int_eq(store_campaign_create(S, "x}:y", 1), -1);
    ck_assert_int_eq(store_campaign_create(S, "", 1), -1);
    /* a record Redis lost while consumers still had its jobs: created, but not from scratch */
    ck_assert_int_eq(one('D', "lost", "c1", "espeak"), STORE_OK);
    ck_assert_int_eq(store_campaign_create(S, "lost", 1), 2);
    ck_assert_int_eq(store_campaign_create(S, "lost", 1), 1);
}
END_TEST

START_TEST(test_campaign_list)
{
    size_t n = 99;
    struct campaign_info *list = NULL;
    ck_assert_int_eq(store_campaign_list(S, &list, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_null(list);
    ck_assert_int_eq(store_campaign_create(S, "old", 1000), 0);
    ck_assert_int_eq(store_campaign_create(S, "newest", 3000), 0);
    ck_assert_int_eq(store_campaign_create(S, "middle", 2000), 0);
    ck_assert_int_eq(store_campaign_add_rejected(S, "middle", 4), 0);
    ck_assert_int_eq(one('D', "middle", "c1", "espeak"), STORE_OK);
    ck_assert_int_eq(store_campaign_list(S, &list, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(list[0].id, "newest");
    ck_assert_str_eq(list[1].id, "middle");
    ck_assert_str_eq(list[2].id, "old");
    ck_assert_int_eq(list[1].created_at_ms, 2000);
    ck_assert_int_eq(list[1].rejected, 4);
    ck_assert_int_eq(list[1].done, 1);
    ck_assert_int_eq(list[1].enqueued, 1);
    ck_assert_str_eq(list[2].launch_state, "launching");
    free(list);
}
END_TEST

/* ================================================================ transitions */

START_TEST(test_reserve_results)
{
    struct store_batch *b = store_batch_new();
    store_batch_reserve(b, "rs", "run1", "a", 1);
    store_batch_reserve(b, "rs", "run1", "b", 1);
    store_batch_reserve(b, "rs", "run1", "a", 1);
    exec_ok(b);
    ck_assert_int_eq(store_batch_result(b, 0), STORE_NEW);
    ck_assert_int_eq(store_batch_result(b, 1), STORE_NEW);
    ck_assert_int_eq(store_batch_result(b, 2), STORE_REPEATED);
    ck_assert_int_eq(state_of("rs", "a", 1), 'r');
    expect("rs", 0, 0, 0);
    ck_assert_int_eq(one('R', "rs", "a", "run1"), STORE_REPEATED);     /* later batch, same run */
    ck_assert_int_eq(one('R', "rs", "a", "run2"), STORE_EXISTING);     /* reserved, not acked */
    ck_assert_int_eq(one('D', "rs", "b", "espeak"), STORE_OK);
    ck_assert_int_eq(one('R', "rs", "b", "run3"), STORE_ALREADY_DONE);
    ck_assert_int_eq(one('A', "rs", "a", NULL), STORE_OK);
    ck_assert_int_eq(one('R', "rs", "a", "run3"), STORE_EXISTING);     /* pending: --resume */
    ck_assert_int_eq(state_of("rs", "a", 1), 'p');
    expect("rs", 2, 1, 0);
    /* a repeat after done and after a state change is still a repeat within the run */
    ck_assert_int_eq(one('R', "rs", "b", "run3"), STORE_REPEATED);
    ck_assert_int_eq(one('R', "rs", "a", "run3"), STORE_REPEATED);
    ck_assert_int_eq(one('R', "rs", "b", "run4"), STORE_ALREADY_DONE); /* a new run */
    redisReply *r = raw("HLEN voxcast:{rs}:runs");
    ck_assert_int_eq(r->integer, 4);
    freeReplyObject(r);
    store_batch_free(b);
}
END_TEST

START_TEST(test_ack_unreserve)
{
    struct store_batch *b = store_batch_new();
    store_batch_reserve(b, "au", "run1", "x", 1);
    store_batch_reserve(b, "au", "run1", "y", 1);
    exec_ok(b);
    ck_assert_int_eq(one('A', "au", "x", NULL), STORE_OK);
    ck_assert_int_eq(state_of("au", "x", 1), 'p');
    expect("au", 1, 0, 0);
    ck_assert_int_eq(one('U', "au", "y", NULL), STORE_OK);
    ck_assert_int_eq(state_of("au", "y", 1), 0);
    expect("au", 1, 0, 0);
    ck_assert_int_eq(one('U', "au", "x", NULL), STORE_NOOP);
    ck_assert_int_eq(one('A', "au", "x", NULL), STORE_NOOP);
    ck_assert_int_eq(one('A', "au", "ghost", NULL), STORE_NOOP);
    ck_assert_int_eq(one('U', "au", "ghost", NULL), STORE_NOOP);
    ck_assert_int_eq(state_of("au", "ghost", 5), 0);
    expect("au", 1, 0, 0);
    store_batch_free(b);
}
END_TEST

/* Runs one chunk op (reserve_chunk when contact, else ack_chunk) and returns its result. */
static enum store_result one_chunk(const char *campaign, const char *run, uint32_t chunk, const char *contact)
{
    struct store_batch *b = store_batch_new();
    if (contact)
        store_batch_reserve_chunk(b, campaign, run, chunk, contact, strlen(contact));
    else
        store_batch_ack_chunk(b, campaign, run, chunk);
    exec_ok(b);
    enum store_result r = store_batch_result(b, 0);
    store_batch_free(b);
    return r;
}

START_TEST(test_chunk_ack)
{
    struct store_batch *b = store_batch_new();
    const char *ids[] = {"a", "b", "c", "d"};
    for (int i = 0; i < 4; i++)
        ck_assert_uint_eq(store_batch_reserve_chunk(b, "ch", "run1", 1, ids[i], 1), (size_t)i);
    exec_ok(b);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(store_batch_result(b, (size_t)i), STORE_NEW);
    ck_assert_int_eq(state_of("ch", "a", 1), 'r'); /* written "p1/1", but its chunk waits */
    expect("ch", 0, 0, 0);
    /* consumers may finish jobs before the launch hears from Kafka: they count them */
    ck_assert_int_eq(one('D', "ch", "b", "espeak"), STORE_OK);
    ck_assert_int_eq(one('Q', "ch", "c", NULL), STORE_PARKED);
    expect("ch", 2, 1, 1);
    ck_assert_int_eq(one('U', "ch", "d", NULL), STORE_OK); /* its delivery failed */
    ck_assert_int_eq(state_of("ch", "d", 1), 0);
    /* the chunk's acknowledgement counts only "a", the one still waiting in it */
    ck_assert_int_eq(one_chunk("ch", "run1", 1, NULL), STORE_OK);
    ck_assert_int_eq(state_of("ch", "a", 1), 'p');
    expect("ch", 3, 1, 1);
    ck_assert_int_eq(one_chunk("ch", "run1", 1, NULL), STORE_NOOP);
    ck_assert_int_eq(one('A', "ch", "a", NULL), STORE_NOOP);
    ck_assert_int_eq(one('U', "ch", "a", NULL), STORE_NOOP);
    expect("ch", 3, 1, 1);
    ck_assert_int_eq(one('D', "ch", "a", "espeak"), STORE_OK);
    expect("ch", 3, 2, 1);
    ck_assert_int_eq(one_chunk("ch", "run1", 2, "a"), STORE_REPEATED);
    /* a chunk acknowledged already takes no new contacts: the whole batch fails, nothing moves */
    store_batch_reset(b);
    store_batch_reserve_chunk(b, "ch", "run1", 1, "e", 1);
    ck_assert_int_eq(store_batch_exec(S, b), -1);
    ck_assert_int_eq(state_of("ch", "e", 1), 0);
    expect("ch", 3, 2, 1);
    ck_assert_int_eq(store_batch_reserve_chunk(b, "ch", "run1", 0, "e", 1), 1u);
    ck_assert_int_eq(store_batch_result(b, 1), STORE_INVALID);
    store_batch_free(b);
}
END_TEST

/* N: the caller vouches that the contact has no state, so Redis does not read it. */
START_TEST(test_reserve_new)
{
    struct store_batch *b = store_batch_new();
    store_batch_reserve_new(b, "rn", "run1", 1, "a", 1);
    store_batch_reserve_new(b, "rn", "run1", 1, "b", 1);
    store_batch_reserve_chunk(b, "rn", "run1", 1, "a", 1); /* the exact path still sees "a" */
    store_batch_reserve_new(b, "rn", "run1", 1, "c", 1);
    exec_ok(b);
    ck_assert_int_eq(store_batch_result(b, 0), STORE_NEW);
    ck_assert_int_eq(store_batch_result(b, 1), STORE_NEW);
    ck_assert_int_eq(store_batch_result(b, 2), STORE_REPEATED);
    ck_assert_int_eq(store_batch_result(b, 3), STORE_NEW);
    ck_assert_int_eq(one_chunk("rn", "run1", 2, "b"), STORE_REPEATED); /* a later batch, exact */
    ck_assert_int_eq(one_chunk("rn", "run1", 1, NULL), STORE_OK);
    expect("rn", 3, 0, 0);
    ck_assert_int_eq(store_batch_reserve_new(b, "rn", "run1", 0, "d", 1), 4u);
    ck_assert_int_eq(store_batch_result(b, 4), STORE_INVALID);
    store_batch_free(b);
}
END_TEST

/* The acker acknowledges a chunk once it is sealed and every job of it is reported, in whatever
 * order those come; failures are unreserved first and EXISTING contacts acked one by one. */
START_TEST(test_acker_chunks)
{
    ck_assert_int_eq(one_chunk("ak", "r0", 1, "g"), STORE_NEW); /* a run that died */
    struct store_batch *b = store_batch_new();
    const char *ids[] = {"a", "b", "c", "g", "e", "h", "i", "j"};
    const uint32_t chunk_of[] = {1, 1, 1, 1, 2, 4, 4, 4};
    for (int i = 0; i < 8; i++)
        store_batch_reserve_chunk(b, "ak", "r1", chunk_of[i], ids[i], 1);
    exec_ok(b);
    ck_assert_int_eq(store_batch_result(b, 3), STORE_EXISTING);
    store_batch_free(b);
    char url[128], err[512];
    url_for(url, sizeof url, g_port, "");
    struct acker *a = acker_start(url, 2000, "ak", "r1", err, sizeof err);
    ck_assert_msg(a != NULL, "acker: %s", err);
    acker_add(a, 1, "a", 1, false, true);
    acker_sealed(a, 1, 4);
    acker_add(a, 1, "b", 1, false, false);  /* delivery failed */
    acker_add(a, 1, "g", 1, true, true);    /* EXISTING */
    acker_add(a, 1, "c", 1, false, true);   /* the last report: chunk 1 is acknowledged */
    acker_add(a, 2, "e", 1, false, true);   /* reported before its seal */
    acker_sealed(a, 2, 1);
    acker_sealed(a, 3, 0);                  /* every row of chunk 3 was a repeat */
    acker_add(a, 4, "h", 1, false, true);
    acker_add(a, 4, "i", 1, false, true);
    acker_sealed(a, 4, 3);                  /* j's report never comes */
    ck_assert_int_eq(acker_finish(a, err, sizeof err), 0);
    expect("ak", 4, 0, 0);                  /* a, c, g and e */
    ck_assert_int_eq(state_of("ak", "a", 1), 'p');
    ck_assert_int_eq(state_of("ak", "b", 1), 0);
    ck_assert_int_eq(state_of("ak", "g", 1), 'p');
    ck_assert_int_eq(state_of("ak", "h", 1), 'r'); /* chunk 4 never claims what Kafka left out */
}
END_TEST

/* A launch that died leaves chunks never acknowledged; --resume takes their contacts over. */
START_TEST(test_chunk_resume)
{
    ck_assert_int_eq(one_chunk("cr", "run1", 1, "e"), STORE_NEW);
    ck_assert_int_eq(one_chunk("cr", "run1", 1, "f"), STORE_NEW);
    ck_assert_int_eq(one_chunk("cr", "run1", 2, "g"), STORE_NEW);
    ck_assert_int_eq(one_chunk("cr", "run1", 2, NULL), STORE_OK);
    expect("cr", 1, 0, 0);
    /* run1 is gone before chunk 1's acknowledgement; run2 reserves e again */
    ck_assert_int_eq(one_chunk("cr", "run2", 1, "e"), STORE_EXISTING);
    ck_assert_int_eq(state_of("cr", "e", 1), 'r');
    ck_assert_int_eq(one_chunk("cr", "run2", 1, "g"), STORE_EXISTING); /* pending, counted */
    ck_assert_int_eq(state_of("cr", "g", 1), 'p');
    ck_assert_int_eq(one('A', "cr", "e", NULL), STORE_OK); /* EXISTING ones are acked one by one */
    ck_assert_int_eq(one('A', "cr", "g", NULL), STORE_NOOP);
    ck_assert_int_eq(one_chunk("cr", "run2", 1, NULL), STORE_OK); /* counts nobody: 0 waiting */
    expect("cr", 2, 0, 0);
    /* a late acknowledgement of run1's chunk 1 counts f, not e, which left it */
    ck_assert_int_eq(one_chunk("cr", "run1", 1, NULL), STORE_OK);
    expect("cr", 3, 0, 0);
    /* in one batch, ops apply in order: reserve, done, then the chunk's acknowledgement */
    struct store_batch *b = store_batch_new();
    store_batch_reserve_chunk(b, "cr", "run3", 1, "h", 1);
    store_batch_done(b, "cr", "h", 1, "espeak");
    store_batch_ack_chunk(b, "cr", "run3", 1);
    exec_ok(b);
    ck_assert_int_eq(store_batch_result(b, 2), STORE_OK);
    expect("cr", 4, 1, 0);
    store_batch_free(b);
}
END_TEST

START_TEST(test_done_dlq_duplicates)
{
    struct store_batch *b = store_batch_new();
    const char *ids[] = {"a", "b", "c", "d"};
    for (int i = 0; i < 4; i++)
        store_batch_reserve(b, "dd", "run1", ids[i], 1);
    for (int i = 0; i < 4; i++)
        store_batch_ack(b, "dd", ids[i], 1);
    exec_ok(b);
    ck_assert_int_eq(store_batch_result(b, 4), STORE_OK);
    expect("dd", 4, 0, 0);
    ck_assert_int_eq(one('D', "dd", "a", "espeak"), STORE_OK);          /* p -> d */
    expect("dd", 4, 1, 0);
    ck_assert_int_eq(one('D', "dd", "a", "openai"), STORE_DUPLICATE);   /* d -> d */
    ck_assert_int_eq(info("dd").duplicates, 1);
    expect("dd", 4, 1, 0);
    ck_assert_int_eq(one('Q', "dd", "b", "{\"n\":1}"), STORE_PARKED);   /* p -> q */
    expect("dd", 4, 1, 1);
    ck_assert_int_eq(one('Q', "dd", "b", "{\"n\":2}"), STORE_DUPLICATE); /* q -> q, dropped */
    ck_assert_int_eq(one('Q', "dd", "a", "{\"n\":3}"), STORE_DUPLICATE); /* done is never parked */
    ck_assert_int_eq(store_dlq_count(S, "dd"), 1);
    expect("dd", 4, 1, 1);
    ck_assert_int_eq(one('D', "dd", "b", "espeak"), STORE_OK);          /* q -> d */
    expect("dd", 4, 2, 0);
    ck_assert_int_eq(one('D', "dd", "new1", "espeak"), STORE_OK);       /* none -> d */
    expect("dd", 5, 3, 0);
    ck_assert_int_eq(one('Q', "dd", "new2", NULL), STORE_PARKED);       /* none -> q */
    expect("dd", 6, 3, 1);
    ck_assert_int_eq(one('R', "dd", "e", "run2"), STORE_NEW);
    ck_assert_int_eq(one('Q', "dd", "e", NULL), STORE_PARKED);          /* r -> q */
    expect("dd", 7, 3, 2);
    ck_assert_int_eq(one('A', "dd", "e", NULL), STORE_OK);              /* q -> p: resumed */
    expect("dd", 7, 3, 1);
    ck_assert_int_eq(one('D', "dd", "c", NULL), STORE_OK);              /* no provider */
    expect("dd", 7, 4, 1);
    ck_assert_int_eq(info("dd").duplicates, 1);
    json_t *prov = NULL;
    ck_assert_int_eq(store_campaign_by_provider(S, "dd", &prov), 0);
    ck_assert_int_eq(json_object_size(prov), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(prov, "espeak")), 3);
    json_decref(prov);
    store_batch_free(b);
}
END_TEST

START_TEST(test_done_before_ack)
{
    ck_assert_int_eq(one('R', "race", "c1", NULL), STORE_NEW);
    ck_assert_int_eq(one('D', "race", "c1", "espeak"), STORE_OK);       /* r -> d */
    expect("race", 1, 1, 0);
    ck_assert_int_eq(one('A', "race", "c1", NULL), STORE_NOOP);
    ck_assert_int_eq(one('U', "race", "c1", NULL), STORE_NOOP);
    ck_assert_int_eq(state_of("race", "c1", 2), 'd');
    expect("race", 1, 1, 0);
    /* the same inside one batch: done, then the late ack */
    struct store_batch *b = store_batch_new();
    store_batch_reserve(b, "race", "run9", "c2", 2);
    store_batch_done(b, "race", "c2", 2, "espeak");
    store_batch_ack(b, "race", "c2", 2);
    store_batch_done(b, "race", "c2", 2, "espeak");
    exec_ok(b);
    ck_assert_int_eq(store_batch_result(b, 0), STORE_NEW);
    ck_assert_int_eq(store_batch_result(b, 1), STORE_OK);
    ck_assert_int_eq(store_batch_result(b, 2), STORE_NOOP);
    ck_assert_int_eq(store_batch_result(b, 3), STORE_DUPLICATE);
    expect("race", 2, 2, 0);
    store_batch_free(b);
}
END_TEST

START_TEST(test_big_batch)
{
    enum { N = 10000 };
    struct store_batch *b = store_batch_new();
    char id[32];
    for (int i = 0; i < N; i++) {
        int n = snprintf(id, sizeof id, "contact-%06d", i);
        ck_assert_uint_eq(store_batch_reserve(b, "big", "run1", id, (size_t)n), (size_t)i);
    }
    ck_assert_uint_eq(store_batch_len(b), N);
    exec_ok(b);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(store_batch_result(b, (size_t)i), STORE_NEW);
    store_batch_reset(b);
    ck_assert_uint_eq(store_batch_len(b), 0);
    for (int i = 0; i < N; i++) {
        int n = snprintf(id, sizeof id, "contact-%06d", i);
        store_batch_ack(b, "big", id, (size_t)n);
    }
    exec_ok(b);
    ck_assert_int_eq(store_batch_result(b, N - 1), STORE_OK);
    expect("big", N, 0, 0);
    store_batch_reset(b);
    for (int i = 0; i < N; i++) {
        int n = snprintf(id, sizeof id, "contact-%06d", i);
        if (i % 2)
            store_batch_done(b, "big", id, (size_t)n, "espeak");
        else
            store_batch_dlq(b, "big", id, (size_t)n, "{\"reason\":\"non_retryable\"}");
    }
    exec_ok(b);
    ck_assert_int_eq(store_batch_result(b, 0), STORE_PARKED);
    ck_assert_int_eq(store_batch_result(b, 1), STORE_OK);
    expect("big", N, N / 2, N / 2);
    ck_assert_int_eq(store_dlq_count(S, "big"), N / 2);
    int64_t seq = 0;
    ck_assert_int_eq(store_dlq_max_seq(S, "big", &seq), 0);
    ck_assert_int_eq(seq, N / 2);
    store_batch_free(b);
}
END_TEST

START_TEST(test_mixed_campaigns_and_invalid)
{
    struct store_batch *b = store_batch_new();
    store_batch_reserve(b, "mix-a", "run1", "c", 1);
    store_batch_reserve(b, "mix-b", "run1", "c", 1);
    store_batch_reserve(b, "bad campaign", "run1", "c", 1);
    store_batch_reserve(b, "mix-a", "run/1", "d", 1);
    store_batch_ack(b, "mix-a", "c", 1);
    store_batch_reserve(b, "mix-a", "run2", "c", 1);
    store_batch_done(b, "mix-b", "c", 1, "espeak");
    ck_assert_int_eq(store_batch_result(b, 2), STORE_INVALID);
    ck_assert_int_eq(store_batch_result(b, 0), STORE_PENDING);
    exec_ok(b);
    ck_assert_int_eq(store_batch_result(b, 0), STORE_NEW);
    ck_assert_int_eq(store_batch_result(b, 1), STORE_NEW);
    ck_assert_int_eq(store_batch_result(b, 2), STORE_INVALID);
    ck_assert_int_eq(store_batch_result(b, 3), STORE_INVALID);
    ck_assert_int_eq(store_batch_result(b, 4), STORE_OK);
    ck_assert_int_eq(store_batch_result(b, 5), STORE_EXISTING);
    ck_assert_int_eq(store_batch_result(b, 6), STORE_OK);
    expect("mix-a", 1, 0, 0);
    expect("mix-b", 1, 1, 0);
    ck_assert_int_eq(state_of("mix-a", "d", 1), 0);
    store_batch_free(b);
    /* an empty batch is a no-op, not an error */
    b = store_batch_new();
    exec_ok(b);
    store_batch_free(b);
}
END_TEST

START_TEST(test_retry_same_batch)
{
    struct store_batch *b = store_batch_new();
    store_batch_reserve(b, "rt", "run1", "a", 1);
    store_batch_reserve(b, "rt", "run1", "b", 1);
    exec_ok(b);
    exec_ok(b); /* as after a timeout: nothing can be assumed, so the caller sends it again */
    ck_assert_int_eq(store_batch_result(b, 0), STORE_NEW);
    ck_assert_int_eq(store_batch_result(b, 1), STORE_NEW);
    store_batch_reset(b);
    store_batch_done(b, "rt", "a", 1, "espeak");
    store_batch_dlq(b, "rt", "b", 1, "{}");
    exec_ok(b);
    exec_ok(b);
    ck_assert_int_eq(store_batch_result(b, 0), STORE_OK);
    ck_assert_int_eq(store_batch_result(b, 1), STORE_PARKED);
    expect("rt", 2, 1, 1);
    ck_assert_int_eq(info("rt").duplicates, 0);
    ck_assert_int_eq(store_dlq_count(S, "rt"), 1);
    /* a new batch with the same ops is not a retry */
    store_batch_reset(b);
    store_batch_done(b, "rt", "a", 1, "espeak");
    exec_ok(b);
    ck_assert_int_eq(store_batch_result(b, 0), STORE_DUPLICATE);
    ck_assert_int_eq(info("rt").duplicates, 1);
    /* two batch objects never share a retry record */
    struct store_batch *b2 = store_batch_new();
    store_batch_reserve(b2, "rt", "run1", "a", 1);
    exec_ok(b2);
    ck_assert_int_eq(store_batch_result(b2, 0), STORE_REPEATED);
    store_batch_free(b2);
    store_batch_free(b);
}
END_TEST

/* A batch sent, then waited for, answers as exec does; while Redis applies it the caller is free,
 * and a second batch sent after the first's results were read sees its effects. Waiting for a
 * batch that was never sent is an error, not a hang; after a failed wait, exec retries exactly. */
START_TEST(test_send_then_wait)
{
    struct store_batch *b1 = store_batch_new(), *b2 = store_batch_new();
    store_batch_reserve(b1, "sw", "run1", "a", 1);
    store_batch_reserve(b1, "sw", "run1", "b", 1);
    ck_assert_int_eq(store_batch_send(S, b1), 0);
    ck_assert_int_eq(store_batch_result(b1, 0), STORE_PENDING);
    ck_assert_int_eq(store_batch_wait(S, b1), 0);
    ck_assert_int_eq(store_batch_result(b1, 0), STORE_NEW);
    ck_assert_int_eq(store_batch_result(b1, 1), STORE_NEW);
    store_batch_reserve(b2, "sw", "run1", "b", 1);
    store_batch_reserve(b2, "sw", "run1", "c", 1);
    ck_assert_int_eq(store_batch_send(S, b2), 0);
    ck_assert_int_eq(store_batch_wait(S, b2), 0);
    ck_assert_int_eq(store_batch_result(b2, 0), STORE_REPEATED);
    ck_assert_int_eq(store_batch_result(b2, 1), STORE_NEW);
    ck_assert_int_eq(store_batch_wait(S, b2), -1); /* its results were read already */
    ck_assert_ptr_nonnull(strstr(store_error(S), "not sent"));
    ck_assert_int_eq(store_batch_exec(S, b2), 0);  /* the exact retry of the same batch */
    ck_assert_int_eq(store_batch_result(b2, 0), STORE_REPEATED);
    ck_assert_int_eq(store_batch_result(b2, 1), STORE_NEW);
    store_batch_reset(b1); /* a batch sent and never waited for is freed (ASan watches) */
    store_batch_ack(b1, "sw", "a", 1);
    ck_assert_int_eq(store_batch_send(S, b1), 0);
    store_batch_free(b1);
    ck_assert_int_eq(store_reconnect(S), 0); /* its reply is on the connection: drop that */
    ck_assert_int_eq(one('R', "sw", "d", "run1"), STORE_NEW);
    store_batch_free(b2);
}
END_TEST

/* Hostile contact ids stay hash fields and set members: no key other than the campaign's own
 * appears or changes. */
START_TEST(test_hostile_contact_ids)
{
    ck_assert_int_eq(store_campaign_create(S, "other", 5), 0);
    ck_assert_int_eq(one('D', "other", "x", "espeak"), STORE_OK);
    char big[257];
    memset(big, '{', 256);
    big[256] = '\0';
    const char *ids[] = {"x}:state", "*", "voxcast:{other}:meta", "}", "{other}", "a b\r\n", big};
    struct store_batch *b = store_batch_new();
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
        store_batch_reserve(b, "h", "run1", ids[i], strlen(ids[i]));
    store_batch_reserve(b, "h", "run1", "a\0b", 3);
    exec_ok(b);
    for (size_t i = 0; i < store_batch_len(b); i++)
        ck_assert_int_eq(store_batch_result(b, i), STORE_NEW);
    store_batch_reset(b);
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
        store_batch_ack(b, "h", ids[i], strlen(ids[i]));
        store_batch_done(b, "h", ids[i], strlen(ids[i]), "*");
    }
    store_batch_dlq(b, "h", "a\0b", 3, "{\"contact\":\"a\\u0000b\"}");
    exec_ok(b);
    expect("h", 8, 7, 1);
    ck_assert_int_eq(state_of("h", "a\0b", 3), 'q');
    ck_assert_int_eq(state_of("h", "a", 1), 0);
    ck_assert_int_eq(state_of("h", "*", 1), 'd');
    struct campaign_info ci = info("other");
    ck_assert_int_eq(ci.enqueued, 1);
    ck_assert_int_eq(ci.done, 1);
    ck_assert_int_eq(ci.created_at_ms, 5);
    redisReply *r = raw("KEYS *");
    for (size_t i = 0; i < r->elements; i++) {
        const char *k = r->element[i]->str;
        int ok = strncmp(k, "voxcast:{h}:", 12) == 0 || strncmp(k, "voxcast:{other}:", 16) == 0 ||
                 strcmp(k, "voxcast:campaigns") == 0 || strcmp(k, "voxcast:dlq:campaigns") == 0;
        ck_assert_msg(ok, "unexpected key %s", k);
    }
    /* campaigns, dlq:campaigns; other: meta state prov applied; h: meta state prov runs
     * dlq dlq:e dlq:c dlq:seq applied */
    ck_assert_uint_eq(r->elements, 2 + 4 + 9);
    freeReplyObject(r);
    r = raw("HLEN voxcast:{other}:state");
    ck_assert_int_eq(r->integer, 1);
    freeReplyObject(r);
    store_batch_free(b);
}
END_TEST

/* ================================================================ DLQ */

START_TEST(test_dlq_list_pages)
{
    for (int i = 1; i <= 5; i++) {
        char c[8];
        snprintf(c, sizeof c, "c%d", i);
        park("pg", c, 1000 * i);
    }
    struct seen s = {0};
    ck_assert_int_eq(store_dlq_list(S, "pg", 0, 2, collect, &s), 2);
    ck_assert_str_eq(s.ids[0], "pg:5");
    ck_assert_str_eq(s.ids[1], "pg:4");
    ck_assert_str_eq(s.json[0], "{\"contact\":\"c5\",\"failed_at\":5000}");
    memset(&s, 0, sizeof s);
    ck_assert_int_eq(store_dlq_list(S, "pg", 2, 2, collect, &s), 2);
    ck_assert_str_eq(s.ids[0], "pg:3");
    ck_assert_str_eq(s.ids[1], "pg:2");
    memset(&s, 0, sizeof s);
    ck_assert_int_eq(store_dlq_list(S, "pg", 4, 10, collect, &s), 1);
    ck_assert_str_eq(s.ids[0], "pg:1");
    memset(&s, 0, sizeof s);
    ck_assert_int_eq(store_dlq_list(S, "pg", 9, 10, collect, &s), 0);
    ck_assert_int_eq(store_dlq_list(S, "pg", 0, 0, collect, &s), 5);
    memset(&s, 0, sizeof s);
    s.stop_after = 2;
    ck_assert_int_eq(store_dlq_list(S, "pg", 0, 0, collect, &s), 2);
    ck_assert_int_eq(store_dlq_list(S, "empty", 0, 10, collect, &s), 0);
    ck_assert_int_eq(store_dlq_list(S, "bad!", 0, 10, collect, &s), -1);
    ck_assert_int_eq(store_dlq_count(S, "pg"), 5);
    ck_assert_int_eq(store_dlq_count(S, "empty"), 0);
}
END_TEST

START_TEST(test_dlq_list_all_merged)
{
    park("ma", "a1", 1000);
    park("ma", "a3", 3000);
    park("ma", "a5", 5000);
    const char *mb[] = {"1970-01-01T00:00:02.000Z", "1970-01-01T02:00:04+02:00"};
    for (int i = 0; i < 2; i++) {
        char entry[128], c[8];
        snprintf(c, sizeof c, "b%d", i);
        snprintf(entry, sizeof entry, "{\"failed_at\":\"%s\"}", mb[i]);
        ck_assert_int_eq(one('Q', "mb", c, entry), STORE_PARKED);
    }
    struct seen s = {0};
    ck_assert_int_eq(store_dlq_list(S, NULL, 0, 0, collect, &s), 5);
    const char *want[] = {"ma:3", "mb:2", "ma:2", "mb:1", "ma:1"};
    for (int i = 0; i < 5; i++)
        ck_assert_str_eq(s.ids[i], want[i]);
    memset(&s, 0, sizeof s);
    ck_assert_int_eq(store_dlq_list(S, NULL, 1, 3, collect, &s), 3);
    ck_assert_str_eq(s.ids[0], "mb:2");
    ck_assert_str_eq(s.ids[1], "ma:2");
    ck_assert_str_eq(s.ids[2], "mb:1");
    ck_assert_int_eq(store_dlq_count(S, NULL), 5);
    ck_assert_int_eq(store_dlq_count(S, "ma"), 3);
}
END_TEST

/* More entries than one window, across campaigns: the merge must read further windows. */
START_TEST(test_dlq_list_all_windows)
{
    enum { N = 2500 };
    struct store_batch *b = store_batch_new();
    for (int i = 0; i < N; i++) {
        char c[16], entry[64];
        int n = snprintf(c, sizeof c, "c%d", i);
        /* interleaved in time: newest is i = N - 1, whichever campaign holds it */
        snprintf(entry, sizeof entry, "{\"failed_at\":%d}", 2 * i + (i % 2 ? 0 : 1));
        store_batch_dlq(b, i % 2 ? "wa" : "wb", c, (size_t)n, entry);
    }
    exec_ok(b);
    store_batch_free(b);
    struct seen s = {0};
    ck_assert_int_eq(store_dlq_list(S, NULL, N - 10, 0, collect, &s), 10);
    ck_assert_str_eq(s.ids[0], "wa:5"); /* i = 9 */
    ck_assert_str_eq(s.ids[1], "wb:5"); /* i = 8 */
    ck_assert_str_eq(s.ids[9], "wb:1"); /* i = 0 */
    memset(&s, 0, sizeof s);
    ck_assert_int_eq(store_dlq_list(S, "wa", 0, 0, collect, &s), N / 2); /* two windows */
    ck_assert_str_eq(s.ids[0], "wa:1250");
    ck_assert_str_eq(s.ids[31], "wa:1219");
    memset(&s, 0, sizeof s);
    ck_assert_int_eq(store_dlq_list(S, "wa", N / 2 - 1, 5, collect, &s), 1);
    ck_assert_str_eq(s.ids[0], "wa:1");
}
END_TEST

START_TEST(test_dlq_get)
{
    park("gt", "c1", 42);
    char *json = NULL;
    ck_assert_int_eq(store_dlq_get(S, "gt:1", &json), 0);
    ck_assert_str_eq(json, "{\"contact\":\"c1\",\"failed_at\":42}");
    free(json);
    const char *missing[] = {"gt:2", "nocolon", "bad id:1", ":1", "gt:", "gt:1x", "zz:1"};
    for (size_t i = 0; i < sizeof missing / sizeof *missing; i++) {
        json = (char *)"untouched";
        ck_assert_msg(store_dlq_get(S, missing[i], &json) == 1, "found %s", missing[i]);
        ck_assert_ptr_null(json);
    }
}
END_TEST

START_TEST(test_dlq_purge)
{
    enum { N = 2500 };
    struct store_batch *b = store_batch_new();
    for (int i = 0; i < N; i++) {
        char c[16];
        int n = snprintf(c, sizeof c, "c%d", i);
        store_batch_dlq(b, "pu", c, (size_t)n, "{}");
    }
    exec_ok(b);
    store_batch_free(b);
    park("keep", "k", 1);
    ck_assert_int_eq(store_dlq_purge(S, "pu", 1000), N);
    ck_assert_int_eq(store_dlq_count(S, "pu"), 0);
    ck_assert_int_eq(store_dlq_count(S, "keep"), 1);
    ck_assert_int_eq(state_of("pu", "c7", 2), 'q');
    expect("pu", N, 0, N);
    redisReply *r = raw("EXISTS voxcast:{pu}:dlq:e voxcast:{pu}:dlq:c");
    ck_assert_int_eq(r->integer, 0);
    freeReplyObject(r);
    ck_assert_int_eq(store_dlq_purge(S, "pu", 0), 0);
    /* a purged contact comes back through a resume: ack q -> p */
    ck_assert_int_eq(one('A', "pu", "c7", NULL), STORE_OK);
    expect("pu", N, 0, N - 1);
}
END_TEST

/* Parks contacts c<from>..c<to-1> of campaign in one batch capped at cap; checks each result. */
static void park_capped(const char *campaign, int64_t cap, int from, int to, int stored)
{
    struct store_batch *b = store_batch_new();
    store_batch_set_dlq_cap(b, cap);
    for (int i = from; i < to; i++) {
        char c[16], entry[64];
        int n = snprintf(c, sizeof c, "c%d", i);
        snprintf(entry, sizeof entry, "{\"contact\":\"%s\"}", c);
        store_batch_dlq(b, campaign, c, (size_t)n, entry);
    }
    exec_ok(b);
    for (int i = from; i < to; i++)
        ck_assert_int_eq(store_batch_result(b, (size_t)(i - from)),
                         (i - from < stored ? STORE_PARKED : STORE_PARKED_DROPPED));
    store_batch_free(b);
}

/* dlq.max_entries_per_campaign: past the cap a parked contact still counts as dlq (the counts
 * stay whole) but its entry is dropped and counted in meta dlq_dropped. */
START_TEST(test_dlq_cap)
{
    struct store_batch *b = store_batch_new();
    for (int i = 0; i < 4; i++) { /* c0..c3 pending, c4 never seen */
        char c[16];
        int n = snprintf(c, sizeof c, "c%d", i);
        store_batch_reserve(b, "cap", "run1", c, (size_t)n);
        store_batch_ack(b, "cap", c, (size_t)n);
    }
    exec_ok(b);
    store_batch_free(b);
    park_capped("cap", 3, 0, 2, 2); /* room for both */
    park_capped("cap", 3, 2, 5, 1); /* one left: c2 stored, c3 and c4 dropped */
    ck_assert_int_eq(store_dlq_count(S, "cap"), 3);
    ck_assert_int_eq(info("cap").dlq, 5);
    ck_assert_int_eq(info("cap").dlq_dropped, 2);
    expect("cap", 5, 0, 5); /* done + dlq + pending == enqueued */
    ck_assert_int_eq(state_of("cap", "c4", 2), 'q');
    char *json = NULL;
    ck_assert_int_eq(store_dlq_get(S, "cap:3", &json), 0);
    ck_assert_str_eq(json, "{\"contact\":\"c2\"}");
    free(json);
    /* a full DLQ is read once per call, so a batch past it drops all its entries */
    park_capped("cap", 3, 5, 7, 0);
    ck_assert_int_eq(info("cap").dlq_dropped, 4);
    expect("cap", 7, 0, 7);
    /* purging makes room again */
    ck_assert_int_eq(store_dlq_purge(S, "cap", 1000), 3);
    park_capped("cap", 3, 7, 11, 3);
    ck_assert_int_eq(store_dlq_count(S, "cap"), 3);
    ck_assert_int_eq(info("cap").dlq_dropped, 5);
    expect("cap", 11, 0, 11);
    /* cap 0 (and a batch that never set one): every entry is stored */
    park_capped("nocap", 0, 0, 5, 5);
    ck_assert_int_eq(store_dlq_count(S, "nocap"), 5);
    ck_assert_int_eq(info("nocap").dlq, 5);
    ck_assert_int_eq(info("nocap").dlq_dropped, 0);
    expect("nocap", 5, 0, 5);
    park("nocap", "plain", 1);
    ck_assert_int_eq(store_dlq_count(S, "nocap"), 6);
}
END_TEST

/* A retried capped batch answers as the first time and changes nothing. */
START_TEST(test_dlq_cap_retry)
{
    struct store_batch *b = store_batch_new();
    store_batch_set_dlq_cap(b, 1);
    store_batch_dlq(b, "cr", "a", 1, "{}");
    store_batch_dlq(b, "cr", "b", 1, "{}");
    exec_ok(b);
    exec_ok(b);
    ck_assert_int_eq(store_batch_result(b, 0), STORE_PARKED);
    ck_assert_int_eq(store_batch_result(b, 1), STORE_PARKED_DROPPED);
    ck_assert_int_eq(store_dlq_count(S, "cr"), 1);
    ck_assert_int_eq(info("cr").dlq_dropped, 1);
    expect("cr", 2, 0, 2);
    store_batch_free(b);
}
END_TEST

START_TEST(test_dlq_claim_replay_cycle)
{
    for (int i = 1; i <= 5; i++) {
        char c[8];
        snprintf(c, sizeof c, "c%d", i);
        park("rp", c, i);
    }
    ck_assert_int_eq(one('D', "rp", "c1", "espeak"), STORE_OK);          /* done while parked */
    int64_t max = 0;
    ck_assert_int_eq(store_dlq_max_seq(S, "rp", &max), 0);
    ck_assert_int_eq(max, 5);
    park("rp", "c6", 6);                                                  /* after the mark */
    expect("rp", 6, 1, 5);

    struct seen s = {0};
    ck_assert_int_eq(store_dlq_claim(S, "rp", max, 2, collect, &s), 2);
    ck_assert_int_eq(s.n, 2);
    ck_assert_str_eq(s.ids[0], "rp:2");
    ck_assert_str_eq(s.ids[1], "rp:3");
    ck_assert_str_eq(s.json[1], "{\"contact\":\"c3\",\"failed_at\":3}");
    ck_assert_int_eq(store_dlq_count(S, "rp"), 3);
    ck_assert_int_eq(state_of("rp", "c2", 2), 'p');
    expect("rp", 6, 1, 3);
    char *json = NULL;
    ck_assert_int_eq(store_dlq_get(S, "rp:3", &json), 0);                /* claimed, still shown */
    free(json);
    ck_assert_int_eq(store_dlq_get(S, "rp:1", &json), 1);                /* done: deleted */

    const char *two[] = {"rp:2"};
    ck_assert_int_eq(store_dlq_replayed(S, "rp", two, 1), 1);
    ck_assert_int_eq(store_dlq_replayed(S, "rp", two, 1), 0);
    ck_assert_int_eq(store_dlq_get(S, "rp:2", &json), 1);
    expect("rp", 6, 1, 3);

    ck_assert_int_eq(store_dlq_unclaim_all(S, "rp"), 1);                 /* rp:3: crashed replay */
    ck_assert_int_eq(state_of("rp", "c3", 2), 'q');
    expect("rp", 6, 1, 4);
    memset(&s, 0, sizeof s);
    ck_assert_int_eq(store_dlq_list(S, "rp", 0, 0, collect, &s), 4);
    ck_assert_str_eq(s.ids[3], "rp:3");
    ck_assert_int_eq(store_dlq_unclaim_all(S, "rp"), 0);

    memset(&s, 0, sizeof s);
    ck_assert_int_eq(store_dlq_claim(S, "rp", max, 10, collect, &s), 3);
    ck_assert_str_eq(s.ids[0], "rp:3");
    ck_assert_str_eq(s.ids[2], "rp:5");
    ck_assert_int_eq(store_dlq_claim(S, "rp", max, 10, collect, &s), 0); /* rp:6 is past the mark */
    const char *three[] = {"rp:3", "rp:4", "rp:5"};
    ck_assert_int_eq(store_dlq_replayed(S, "rp", three, 3), 3);
    ck_assert_int_eq(store_dlq_count(S, "rp"), 1);
    expect("rp", 6, 1, 1);
    /* the replayed jobs are rendered */
    ck_assert_int_eq(one('D', "rp", "c3", "espeak"), STORE_OK);
    expect("rp", 6, 2, 1);
    redisReply *r = raw("HLEN voxcast:{rp}:dlq:c");
    ck_assert_int_eq(r->integer, 1);
    freeReplyObject(r);
}
END_TEST

START_TEST(test_dlq_claim_skips_done)
{
    for (int i = 0; i < 3; i++) {
        char c[8];
        snprintf(c, sizeof c, "c%d", i);
        park("sk", c, i);
        ck_assert_int_eq(one('D', "sk", c, "espeak"), STORE_OK);
    }
    park("sk", "live", 9);
    struct seen s = {0};
    /* n = 1: the first window holds only done contacts; the claim goes on to "live" */
    ck_assert_int_eq(store_dlq_claim(S, "sk", 100, 1, collect, &s), 1);
    ck_assert_str_eq(s.ids[0], "sk:4");
    ck_assert_int_eq(store_dlq_claim(S, "sk", 100, 1, collect, &s), 0);
    ck_assert_int_eq(store_dlq_count(S, "sk"), 0);
    ck_assert_int_eq(store_dlq_claim(S, "sk", 100, 0, collect, &s), 0);
    expect("sk", 4, 3, 0);
}
END_TEST

/* The replayed job fails again before the replayer records Kafka's ack: the new entry must be
 * kept, not dropped as a duplicate of a contact still parked. */
START_TEST(test_dlq_claim_then_park_again)
{
    park("ag", "x", 1);
    struct seen s = {0};
    ck_assert_int_eq(store_dlq_claim(S, "ag", 1, 10, collect, &s), 1);
    ck_assert_int_eq(one('Q', "ag", "x", "{\"failed_at\":2}"), STORE_PARKED);
    const char *ids[] = {"ag:1"};
    ck_assert_int_eq(store_dlq_replayed(S, "ag", ids, 1), 1);
    ck_assert_int_eq(store_dlq_count(S, "ag"), 1);
    ck_assert_int_eq(state_of("ag", "x", 1), 'q');
    expect("ag", 1, 0, 1);
    /* and a crash after the re-park: unclaiming keeps the contact parked once */
    ck_assert_int_eq(store_dlq_claim(S, "ag", 2, 10, collect, &s), 1);
    ck_assert_int_eq(one('Q', "ag", "x", "{\"failed_at\":3}"), STORE_PARKED);
    ck_assert_int_eq(store_dlq_unclaim_all(S, "ag"), 1);
    expect("ag", 1, 0, 1);
    ck_assert_int_eq(store_dlq_count(S, "ag"), 2);
    /* both entries of the one contact in one claim window: it leaves the DLQ once */
    ck_assert_int_eq(store_dlq_claim(S, "ag", 10, 10, collect, &s), 2);
    ck_assert_int_eq(state_of("ag", "x", 1), 'p');
    expect("ag", 1, 0, 0);
}
END_TEST

START_TEST(test_dlq_lock)
{
    ck_assert_int_eq(store_lock(S, "lk", STORE_LOCK_REPLAY, "tok-a", 60000), 0);
    ck_assert_int_eq(store_lock(S, "lk", STORE_LOCK_REPLAY, "tok-b", 60000), 1);
    ck_assert_int_eq(store_lock(S, "lk", STORE_LOCK_REPLAY, "tok-a", 60000), 1); /* not reentrant */
    ck_assert_int_eq(store_lock(S, "lk", STORE_LOCK_LAUNCH, "tok-b", 60000), 0); /* another lock */
    ck_assert_int_eq(store_lock(S, "lk", STORE_LOCK_LAUNCH, "tok-a", 60000), 1);
    ck_assert_int_eq(store_lock_refresh(S, "lk", STORE_LOCK_REPLAY, "tok-b", 60000), 1);
    ck_assert_int_eq(store_lock_refresh(S, "lk", STORE_LOCK_REPLAY, "tok-a", 120000), 0);
    redisReply *r = raw("PTTL voxcast:{lk}:dlq:lock");
    ck_assert_int_gt(r->integer, 60000);
    freeReplyObject(r);
    ck_assert_int_eq(store_unlock(S, "lk", STORE_LOCK_REPLAY, "tok-b"), 1);
    ck_assert_int_eq(store_lock(S, "lk", STORE_LOCK_REPLAY, "tok-b", 60000), 1);
    ck_assert_int_eq(store_unlock(S, "lk", STORE_LOCK_REPLAY, "tok-a"), 0);
    ck_assert_int_eq(store_lock(S, "lk", STORE_LOCK_REPLAY, "tok-b", 60000), 0);
    ck_assert_int_eq(store_lock(S, "other", STORE_LOCK_REPLAY, "tok-a", 60000), 0); /* per campaign */
    /* an expired lock is free again: wait for it on a condition with a deadline */
    ck_assert_int_eq(store_lock(S, "ex", STORE_LOCK_REPLAY, "tok-a", 1), 0);
    int64_t deadline = clock_mono_ms() + 5000;
    int got = 1;
    while (got == 1 && clock_mono_ms() < deadline)
        got = store_lock(S, "ex", STORE_LOCK_REPLAY, "tok-c", 60000);
    ck_assert_int_eq(got, 0);
    ck_assert_int_eq(store_lock_refresh(S, "ex", STORE_LOCK_REPLAY, "tok-a", 60000), 1);
}
END_TEST

/* Redis forgot the scripts (restart, SCRIPT FLUSH): EVALSHA's NOSCRIPT falls back to EVAL. */
START_TEST(test_script_flush)
{
    raw_ok("SCRIPT FLUSH");
    ck_assert_int_eq(one('R', "sf", "a", NULL), STORE_NEW);
    raw_ok("SCRIPT FLUSH");
    struct store_batch *b = store_batch_new();
    store_batch_ack(b, "sf-1", "a", 1);
    store_batch_dlq(b, "sf-2", "a", 1, "{}");
    store_batch_ack(b, "sf", "a", 1);
    exec_ok(b);
    ck_assert_int_eq(store_batch_result(b, 0), STORE_NOOP);
    ck_assert_int_eq(store_batch_result(b, 1), STORE_PARKED);
    ck_assert_int_eq(store_batch_result(b, 2), STORE_OK);
    store_batch_free(b);
    raw_ok("SCRIPT FLUSH");
    ck_assert_int_eq(store_campaign_create(S, "sf", 1), 2); /* its contact "a" has a state */
    raw_ok("SCRIPT FLUSH");
    ck_assert_int_eq(store_campaign_create(S, "sf-new", 1), 0);
}
END_TEST

static Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("redis");
    tcase_add_unchecked_fixture(tc, suite_up, suite_down);
    tcase_add_checked_fixture(tc, test_up, test_down);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_open_select_db);
    tcase_add_test(tc, test_open_password);
    tcase_add_test(tc, test_server_gone);
    tcase_add_test(tc, test_reconnect_after_kill);
    tcase_add_test(tc, test_campaign_create_twice);
    tcase_add_test(tc, test_campaign_list);
    tcase_add_test(tc, test_reserve_results);
    tcase_add_test(tc, test_send_then_wait);
    tcase_add_test(tc, test_ack_unreserve);
    tcase_add_test(tc, test_chunk_ack);
    tcase_add_test(tc, test_chunk_resume);
    tcase_add_test(tc, test_reserve_new);
    tcase_add_test(tc, test_acker_chunks);
    tcase_add_test(tc, test_done_dlq_duplicates);
    tcase_add_test(tc, test_done_before_ack);
    tcase_add_test(tc, test_big_batch);
    tcase_add_test(tc, test_mixed_campaigns_and_invalid);
    tcase_add_test(tc, test_retry_same_batch);
    tcase_add_test(tc, test_hostile_contact_ids);
    tcase_add_test(tc, test_dlq_list_pages);
    tcase_add_test(tc, test_dlq_list_all_merged);
    tcase_add_test(tc, test_dlq_list_all_windows);
    tcase_add_test(tc, test_dlq_get);
    tcase_add_test(tc, test_dlq_purge);
    tcase_add_test(tc, test_dlq_cap);
    tcase_add_test(tc, test_dlq_cap_retry);
    tcase_add_test(tc, test_dlq_claim_replay_cycle);
    tcase_add_test(tc, test_dlq_claim_skips_done);
    tcase_add_test(tc, test_dlq_claim_then_park_again);
    tcase_add_test(tc, test_dlq_lock);
    tcase_add_test(tc, test_script_flush);
    suite_add_tcase(s, tc);

    TCase *url = tcase_create("offline");
    tcase_add_test(url, test_open_refused);
    tcase_add_test(url, test_open_bad_url);
    tcase_add_test(url, test_open_hung_server);
    tcase_add_test(url, test_url_basic);
    tcase_add_test(url, test_url_password_db);
    tcase_add_test(url, test_url_bad);
    suite_add_tcase(s, url);
    return s;
}

CHECK_MAIN(store_suite)
