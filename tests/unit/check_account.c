/* check_account.c - fleet-shared provider accounts: the local arithmetic (account.h) on an
 * injected clock, and the Redis scripts (store_account.h) on Redis with an injected clock too.
 *
 * The Redis cases start one redis-server on a free port for the suite (as check_store does);
 * each test starts from FLUSHALL. Several "consumers" are just several ids syncing through one
 * store, so a killed consumer is one that stops syncing. */
#include "check_main.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "account.h"
#include "metrics.h"
#include "store.h"
#include "store_account.h"

/* ================================================================ account.h, pure */

/* A sync that grants what was asked, as a fleet with room would. */
static void sync_all(struct account *a, int64_t now, int learned)
{
    struct store_account_want w;
    account_sync_want(a, &w);
    struct store_account_grant g = {.slots = w.slots, .fleet_in_flight = w.in_use, .learned = learned,
                                     .tokens = w.tokens, .alive = 1};
    account_sync_apply(a, &w, &g, now);
}

START_TEST(test_inactive_account_admits_everything)
{
    struct account a;
    account_init(&a, 0, 0, false, 1000);
    ck_assert(!account_active(&a));
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(account_admit(&a, 1000), 0);
        account_started(&a, 1000);
    }
    ck_assert(!account_sync_due(&a, 1000));
    ck_assert_int_eq(account_next_sync_ms(&a), INT64_MAX);
}
END_TEST

START_TEST(test_no_slot_before_first_sync)
{
    struct account a;
    account_init(&a, 4, 0, false, 1000);
    ck_assert_int_eq(account_limit(&a), 4);
    ck_assert(account_sync_due(&a, 1000));        /* a first sync is due at once */
    ck_assert_int_eq(account_admit(&a, 1000), -1); /* and nothing starts before it */
    ck_assert_int_eq(account_admit(&a, 1000), -1);
    struct store_account_want w;
    account_sync_want(&a, &w);
    ck_assert_int_eq(w.slots, 2);                  /* the refused starts are the demand */
    ck_assert_int_eq(w.limit, 4);
}
END_TEST

START_TEST(test_slots_bound_starts_and_demand_is_capped)
{
    struct account a;
    account_init(&a, 3, 0, false, 0);
    for (int i = 0; i < 10; i++)
        account_admit(&a, 10);
    struct store_account_want w;
    account_sync_want(&a, &w);
    ck_assert_int_eq(w.slots, 3); /* never more than the limit */
    struct store_account_grant g = {.slots = 2, .fleet_in_flight = 0, .alive = 2};
    account_sync_apply(&a, &w, &g, 10);
    ck_assert_int_eq(account_admit(&a, 11), 0);
    account_started(&a, 11);
    ck_assert_int_eq(account_admit(&a, 11), 0);
    account_started(&a, 11);
    ck_assert_int_eq(account_admit(&a, 11), -1); /* two granted, two out */
    account_done(&a, true, false, false, 0, -1, 12);
    ck_assert_int_eq(account_admit(&a, 12), 0); /* a finished attempt's slot is reused locally */
}
END_TEST

START_TEST(test_idle_consumer_hands_slots_back)
{
    struct account a;
    account_init(&a, 5, 0, false, 0);
    account_admit(&a, 1);
    account_admit(&a, 1);
    sync_all(&a, 1, 0);
    ck_assert_int_eq(a.held, 2);
    account_started(&a, 2);
    account_done(&a, true, false, false, 0, -1, 3);
    ck_assert(!account_sync_due(&a, 1 + ACCOUNT_SYNC_MS - 1));
    ck_assert(account_sync_due(&a, 1 + ACCOUNT_SYNC_MS)); /* still holds slots: a busy period */
    struct store_account_want w;
    account_sync_want(&a, &w);
    ck_assert_int_eq(w.slots, 0); /* no demand, nothing out: all back */
    struct store_account_grant g = {.slots = 0, .alive = 1};
    account_sync_apply(&a, &w, &g, 1 + ACCOUNT_SYNC_MS);
    ck_assert_int_eq(account_next_sync_ms(&a), 1 + ACCOUNT_SYNC_MS + ACCOUNT_IDLE_SYNC_MS);
}
END_TEST

START_TEST(test_steady_consumer_syncs_less_often)
{
    struct account a;
    account_init(&a, 4, 0, false, 0);
    int64_t now = 1;
    int64_t periods[8];
    for (int i = 0; i < 8; i++) {
        for (int k = 0; k < 10; k++) /* saturated: more ready tasks than slots, every pass */
            if (account_admit(&a, now) == 0)
                account_started(&a, now);
        struct store_account_want w;
        account_sync_want(&a, &w);
        struct store_account_grant g = {.slots = 4, .fleet_in_flight = 4, .alive = 1};
        account_sync_apply(&a, &w, &g, now);
        for (int k = 0; k < 10; k++)
            account_admit(&a, now);
        periods[i] = account_next_sync_ms(&a) - now;
        now += periods[i];
    }
    ck_assert_int_eq(periods[0], ACCOUNT_SYNC_MS); /* the first grant was a change */
    ck_assert_int_eq(periods[1], 2 * ACCOUNT_SYNC_MS);
    ck_assert_int_eq(periods[7], ACCOUNT_STEADY_MS); /* then the longest period */
    /* granted less than asked: others may free slots soon, so never as long */
    struct store_account_want ws;
    struct store_account_grant gs;
    account_init(&a, 8, 0, false, 0);
    for (int i = 0; i < 8; i++) {
        for (int k = 0; k < 10; k++)
            if (account_admit(&a, now) == 0)
                account_started(&a, now);
        account_sync_want(&a, &ws);
        gs = (struct store_account_grant){.slots = 4, .alive = 2}; /* half of the 8 asked */
        account_sync_apply(&a, &ws, &gs, now);
        for (int k = 0; k < 10; k++)
            account_admit(&a, now);
        now = account_next_sync_ms(&a);
    }
    ck_assert_int_eq(account_next_sync_ms(&a) - a.last_sync_ms, ACCOUNT_STARVED_MS);
    /* demand changes (work runs out): back to the short period */
    for (int k = 0; k < 4; k++)
        account_done(&a, true, false, false, 0, -1, now);
    struct store_account_want w;
    account_sync_want(&a, &w);
    struct store_account_grant g = {.slots = 0, .alive = 1};
    account_sync_apply(&a, &w, &g, now);
    account_admit(&a, now + 1);
    ck_assert_int_eq(account_next_sync_ms(&a), now + ACCOUNT_SYNC_MS);
}
END_TEST

START_TEST(test_grant_never_below_in_use)
{
    struct account a;
    account_init(&a, 4, 0, false, 0);
    for (int i = 0; i < 4; i++)
        account_admit(&a, 1);
    sync_all(&a, 1, 0);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(account_admit(&a, 2), 0);
        account_started(&a, 2);
    }
    struct store_account_want w;
    account_sync_want(&a, &w);
    ck_assert_int_eq(w.in_use, 4);
    struct store_account_grant g = {.slots = 1, .alive = 2}; /* a fleet that shrank our share */
    account_sync_apply(&a, &w, &g, 60);
    ck_assert_int_eq(a.held, 4); /* requests already out keep their slots */
    ck_assert_int_eq(account_admit(&a, 61), -1);
}
END_TEST

START_TEST(test_tokens_bound_starts)
{
    struct account a;
    account_init(&a, 0, 100, false, 0);
    ck_assert(account_active(&a));
    ck_assert_int_eq(account_admit(&a, 1), -1);
    struct store_account_want w;
    account_sync_want(&a, &w);
    ck_assert_int_eq(w.tokens, 1);
    struct store_account_grant g = {.tokens = 3, .alive = 1};
    account_sync_apply(&a, &w, &g, 1);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(account_admit(&a, 2), 0);
        account_started(&a, 2);
    }
    ck_assert_int_eq(account_admit(&a, 2), -1);
    account_sync_want(&a, &w);
    ck_assert_int_eq(w.tokens_back, 0);
    /* used 3, refused 1: asks 4, within twice one period's refill (100/s * 200 ms * 2 = 40) */
    ck_assert_int_eq(w.tokens, 4);
}
END_TEST

START_TEST(test_tokens_asked_capped_by_share)
{
    struct account a;
    account_init(&a, 0, 40, false, 0);
    for (int i = 0; i < 50; i++)
        account_admit(&a, 1);
    struct store_account_want w;
    account_sync_want(&a, &w);
    ck_assert_int_eq(w.tokens, 16); /* 40/s * 200 ms * 2 */
    struct store_account_grant g = {.tokens = 2, .alive = 4};
    account_sync_apply(&a, &w, &g, 1);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(account_admit(&a, 2), 0);
        account_started(&a, 2);
    }
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq(account_admit(&a, 2), -1);
    account_sync_want(&a, &w);
    ck_assert_int_eq(w.tokens, 4); /* a quarter of that with four consumers alive */
    ck_assert_int_eq(w.tokens_back, 0);
}
END_TEST

START_TEST(test_pause_from_retry_after)
{
    struct account a;
    account_init(&a, 0, 0, true, 0);
    sync_all(&a, 1, 0);
    account_admit(&a, 1);
    account_started(&a, 1);
    account_done(&a, false, true, false, 0, 2000, 100);
    ck_assert_int_eq(account_admit(&a, 100), 2000); /* here at once */
    ck_assert_int_eq(account_admit(&a, 1500), 600);
    struct store_account_want w;
    account_sync_want(&a, &w);
    ck_assert_int_eq(w.pause_ms, 2000); /* and for the fleet at the next sync */
    account_sync_want(&a, &w);
    ck_assert_int_eq(w.pause_ms, 0); /* sent once */
    /* another consumer's pause arrives with a sync */
    struct store_account_grant g = {.paused_ms = 700, .alive = 2};
    account_sync_apply(&a, &w, &g, 3000);
    ck_assert_int_eq(account_admit(&a, 3000), 700);
    ck_assert_int_eq(account_admit(&a, 3700), 0);
}
END_TEST

START_TEST(test_concurrency_429_lowers_once_per_burst)
{
    struct account a;
    account_init(&a, 0, 0, true, 0);
    ck_assert_int_eq(account_limit(&a), 0); /* nothing learned: unlimited */
    for (int i = 0; i < 12; i++)
        account_admit(&a, 1);
    sync_all(&a, 1, 0);
    for (int i = 0; i < 12; i++) {
        ck_assert_int_eq(account_admit(&a, 2), 0);
        account_started(&a, 2);
    }
    account_done(&a, false, false, true, 0, -1, 5000);  /* 12 were out: 0.75 * 12 = 9 */
    account_done(&a, false, false, true, 0, -1, 5001);  /* the same burst: ignored */
    struct store_account_want w;
    account_sync_want(&a, &w);
    ck_assert_int_eq(w.learn_op, 'D');
    ck_assert_int_eq(w.learn_value, 9);
    struct store_account_grant g = {.slots = 9, .learned = 9, .alive = 1};
    account_sync_apply(&a, &w, &g, 5010);
    ck_assert_int_eq(account_limit(&a), 9);
    account_done(&a, false, false, true, 0, -1, 5000 + ACCOUNT_DECREASE_GAP_MS);
    account_sync_want(&a, &w);
    ck_assert_int_eq(w.learn_op, 'D');
    ck_assert_int_eq(w.learn_value, 6); /* floor(9 * 0.75) */
}
END_TEST

START_TEST(test_success_raises_slowly_never_past_configured)
{
    struct account a;
    account_init(&a, 6, 0, true, 0);
    struct store_account_want w;
    struct store_account_grant g = {.learned = 4, .alive = 1};
    account_sync_want(&a, &w);
    account_sync_apply(&a, &w, &g, 1);
    ck_assert_int_eq(account_limit(&a), 4);
    for (int i = 0; i < 7; i++)
        account_done(&a, true, false, false, 0, -1, 2);
    account_sync_want(&a, &w);
    ck_assert_int_eq(w.learn_op, 0); /* 7 successes < 2 windows of 4 */
    account_done(&a, true, false, false, 0, -1, 2);
    account_sync_want(&a, &w);
    ck_assert_int_eq(w.learn_op, 'U');
    ck_assert_int_eq(w.learn_value, 5);
    g.learned = 6;
    account_sync_apply(&a, &w, &g, 3);
    ck_assert_int_eq(account_limit(&a), 6);
    for (int i = 0; i < 100; i++)
        account_done(&a, true, false, false, 0, -1, 4);
    account_sync_want(&a, &w);
    ck_assert_int_eq(w.learn_op, 0); /* at the configured limit: no raise past it */
    g.learned = 50;                  /* even a fleet value above it is capped */
    account_sync_apply(&a, &w, &g, 5);
    ck_assert_int_eq(account_limit(&a), 6);
}
END_TEST

START_TEST(test_header_sets_limit_and_caps_raises)
{
    struct account a;
    account_init(&a, 0, 0, true, 0);
    account_done(&a, true, false, false, 5, -1, 1);
    struct store_account_want w;
    account_sync_want(&a, &w);
    ck_assert_int_eq(w.learn_op, 'S');
    ck_assert_int_eq(w.learn_value, 5);
    struct store_account_grant g = {.learned = 5, .alive = 1};
    account_sync_apply(&a, &w, &g, 2);
    for (int i = 0; i < 100; i++)
        account_done(&a, true, false, false, 5, -1, 3);
    account_sync_want(&a, &w);
    ck_assert_int_eq(w.learn_op, 0); /* the account's own maximum: never raised past */
    /* a header above a configured limit changes nothing */
    struct account b;
    account_init(&b, 3, 0, true, 0);
    account_done(&b, true, false, false, 10, -1, 1);
    account_sync_want(&b, &w);
    ck_assert_int_eq(w.learn_op, 0);
}
END_TEST

START_TEST(test_not_adaptive_learns_nothing)
{
    struct account a;
    account_init(&a, 8, 0, false, 0);
    account_done(&a, false, false, true, 3, -1, 1);
    struct store_account_want w;
    account_sync_want(&a, &w);
    ck_assert_int_eq(w.learn_op, 0);
}
END_TEST

START_TEST(test_local_share)
{
    ck_assert_int_eq(account_local_share(20, 4), 5);
    ck_assert_int_eq(account_local_share(20, 3), 6);
    ck_assert_int_eq(account_local_share(2, 5), 1); /* never zero: nothing stalls */
    ck_assert_int_eq(account_local_share(0, 5), 0);
    struct account a;
    account_init(&a, 20, 200, false, 0);
    struct store_account_want w;
    account_sync_want(&a, &w);
    struct store_account_grant g = {.slots = 5, .alive = 4};
    account_sync_apply(&a, &w, &g, 1);
    account_go_local(&a, 1000);
    ck_assert(a.local);
    ck_assert_int_eq(a.held, 5);
    /* 200/s over 4 consumers: 50/s here, a burst of one */
    ck_assert_int_eq(account_admit(&a, 1000), 0);
    account_started(&a, 1000);
    ck_assert_int_eq(account_admit(&a, 1000), 20);
    ck_assert_int_eq(account_admit(&a, 1020), 0);
    account_started(&a, 1020);
    ck_assert(!account_sync_due(&a, 1000 + ACCOUNT_SYNC_MS - 1));
    ck_assert(account_sync_due(&a, 1000 + ACCOUNT_SYNC_MS)); /* the fleet is tried again */
    account_sync_want(&a, &w);
    g = (struct store_account_grant){.slots = 3, .alive = 4, .tokens = 2};
    account_sync_apply(&a, &w, &g, 1050);
    ck_assert(!a.local);
    ck_assert_int_eq(a.held, 3);
}
END_TEST

/* ================================================================ /health and /metrics */

START_TEST(test_health_and_metrics_show_the_account)
{
    const char *names[] = {"el", "espeak"};
    struct metrics *m = metrics_new(names, 2);
    metrics_set_account(m, 0, 7, 20, true, false);
    metrics_throttled(m, 0);
    metrics_throttled(m, 0);
    metrics_account_sync(m);
    struct buf h = {0}, t = {0};
    metrics_health(m, &h);
    buf_putc(&h, '\0');
    ck_assert_msg(strstr(h.data, "\"account\":{\"in_flight\":7,\"limit\":20,\"learned\":true,\"local_share\":false}"),
                  "%s", h.data);
    /* a provider without a limit: null, not a number */
    ck_assert_msg(strstr(h.data, "\"account\":{\"in_flight\":0,\"limit\":null,\"learned\":false,\"local_share\":false}"),
                  "%s", h.data);
    metrics_set_account(m, 0, 3, 5, false, true);
    h.len = 0;
    metrics_health(m, &h);
    buf_putc(&h, '\0');
    ck_assert_msg(strstr(h.data, "\"limit\":5,\"learned\":false,\"local_share\":true"), "%s", h.data);
    metrics_render(m, &t);
    buf_putc(&t, '\0');
    ck_assert_msg(strstr(t.data, "voxcast_provider_throttled_total{provider=\"el\"} 2\n"), "%s", t.data);
    ck_assert_msg(strstr(t.data, "voxcast_account_limit{provider=\"el\"} 5\n"), "%s", t.data);
    ck_assert_msg(strstr(t.data, "voxcast_account_limit{provider=\"espeak\"} -1\n"), "%s", t.data);
    ck_assert_msg(strstr(t.data, "voxcast_account_in_flight{provider=\"el\"} 3\n"), "%s", t.data);
    ck_assert_msg(strstr(t.data, "voxcast_account_syncs_total 1\n"), "%s", t.data);
    buf_free(&h);
    buf_free(&t);
    metrics_free(m);
}
END_TEST

/* ================================================================ store_account.h on Redis */

static pid_t g_redis = -1;
static int g_port;
static struct store *S;

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

static void suite_up(void)
{
    g_port = free_port();
    const char *bin = getenv("VOXCAST_REDIS_SERVER") ? getenv("VOXCAST_REDIS_SERVER") : "redis-server";
    char port[16];
    snprintf(port, sizeof port, "%d", g_port);
    pid_t parent = getpid();
    g_redis = fork();
    if (g_redis == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        int null = open("/dev/null", O_RDWR);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        execlp(bin, bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               (char *)NULL);
        _exit(127);
    }
}

static void suite_down(void)
{
    if (g_redis > 0) {
        kill(g_redis, SIGKILL);
        waitpid(g_redis, NULL, 0);
    }
}

static void test_up(void)
{
    ck_assert_msg(g_redis > 0 && g_port > 0, "no redis-server");
    char url[64], err[512];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", g_port);
    S = store_open(url, 10000, err, sizeof err); /* waits for the server by itself */
    ck_assert_msg(S != NULL, "store_open: %s", err);
    redisContext *r = redisConnect("127.0.0.1", g_port);
    ck_assert_msg(r && !r->err, "raw connect failed");
    redisReply *rep = redisCommand(r, "FLUSHALL");
    ck_assert_msg(rep && rep->type != REDIS_REPLY_ERROR, "FLUSHALL failed");
    freeReplyObject(rep);
    redisFree(r);
}

static void test_down(void)
{
    store_close(S);
    S = NULL;
}

static const char *const P[] = {"el"};

/* One sync of consumer `who` for provider "el" at `now`. */
static struct store_account_grant sync1(const char *who, int64_t now, struct store_account_want w)
{
    struct store_account_grant g;
    ck_assert_msg(store_account_sync(S, who, 3000, now, P, &w, &g, 1) == 0, "sync: %s", store_error(S));
    return g;
}

START_TEST(test_store_grants_up_to_limit)
{
    int64_t t0 = 1000000;
    struct store_account_grant a = sync1("a", t0, (struct store_account_want){.limit = 10, .slots = 8});
    ck_assert_int_eq(a.slots, 8);
    ck_assert_int_eq(a.alive, 1);
    struct store_account_grant b = sync1("b", t0 + 1, (struct store_account_want){.limit = 10, .slots = 8});
    ck_assert_int_eq(b.slots, 2); /* what is left */
    ck_assert_int_eq(b.alive, 2);
    /* a hands back what it does not use; b then gets its fair share */
    a = sync1("a", t0 + 50, (struct store_account_want){.limit = 10, .slots = 8, .in_use = 8});
    ck_assert_int_eq(a.slots, 8);
    b = sync1("b", t0 + 51, (struct store_account_want){.limit = 10, .slots = 8, .in_use = 2});
    ck_assert_int_eq(b.slots, 2);
    /* b is below its share and wants more: a is capped at the share, keeping what is in use */
    a = sync1("a", t0 + 100, (struct store_account_want){.limit = 10, .slots = 8, .in_use = 3});
    ck_assert_int_eq(a.slots, 5);
    ck_assert_int_eq(a.fleet_in_flight, 5); /* 3 here + 2 at b */
    b = sync1("b", t0 + 101, (struct store_account_want){.limit = 10, .slots = 8, .in_use = 2});
    ck_assert_int_eq(b.slots, 5);
    ck_assert_int_le(a.slots + b.slots, 10);
    struct store_account_view *v;
    size_t n;
    ck_assert_int_eq(store_account_list(S, t0 + 102, &v, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(v[0].provider, "el");
    ck_assert_int_eq(v[0].limit, 10);
    ck_assert_int_eq(v[0].held, 10);
    ck_assert_int_eq(v[0].in_flight, 5);
    ck_assert_int_eq(v[0].alive, 2);
    free(v);
    store_account_leave(S, "a", P, 1);
    store_account_leave(S, "b", P, 1);
}
END_TEST

START_TEST(test_store_dead_consumer_gives_slots_back)
{
    int64_t t0 = 5000000;
    struct store_account_grant a = sync1("a", t0, (struct store_account_want){.limit = 4, .slots = 4, .in_use = 0});
    ck_assert_int_eq(a.slots, 4);
    a = sync1("a", t0 + 10, (struct store_account_want){.limit = 4, .slots = 4, .in_use = 4});
    /* a is killed: it never syncs again */
    struct store_account_grant b = sync1("b", t0 + 20, (struct store_account_want){.limit = 4, .slots = 4});
    ck_assert_int_eq(b.slots, 0);
    b = sync1("b", t0 + 10 + 2999, (struct store_account_want){.limit = 4, .slots = 4});
    ck_assert_int_eq(b.slots, 0); /* a's lease still runs */
    b = sync1("b", t0 + 10 + 3000, (struct store_account_want){.limit = 4, .slots = 4});
    ck_assert_int_eq(b.slots, 4); /* expired: its slots are b's */
    ck_assert_int_eq(b.alive, 1);
    store_account_leave(S, "b", P, 1);
    /* a clean leave frees slots at once */
    a = sync1("a", t0 + 4000, (struct store_account_want){.limit = 4, .slots = 4});
    ck_assert_int_eq(a.slots, 4);
    ck_assert_int_eq(store_account_leave(S, "a", P, 1), 0);
    b = sync1("b", t0 + 4001, (struct store_account_want){.limit = 4, .slots = 4});
    ck_assert_int_eq(b.slots, 4);
    store_account_leave(S, "b", P, 1);
}
END_TEST

START_TEST(test_store_bucket)
{
    const char *const Q[] = {"rt"};
    int64_t t0 = 9000000;
    struct store_account_want w = {.rate = 100, .tokens = 50};
    struct store_account_grant g;
    ck_assert_int_eq(store_account_sync(S, "a", 3000, t0, Q, &w, &g, 1), 0);
    ck_assert_int_eq(g.tokens, 20); /* a fresh bucket holds 200 ms of refill at 100/s */
    ck_assert_int_eq(store_account_sync(S, "b", 3000, t0, Q, &w, &g, 1), 0);
    ck_assert_int_eq(g.tokens, 0);
    ck_assert_int_eq(store_account_sync(S, "b", 3000, t0 + 30, Q, &w, &g, 1), 0);
    ck_assert_int_eq(g.tokens, 3); /* 30 ms at 100/s */
    w.tokens_back = 2;             /* b returns two unused */
    w.tokens = 1;
    ck_assert_int_eq(store_account_sync(S, "b", 3000, t0 + 30, Q, &w, &g, 1), 0);
    ck_assert_int_eq(g.tokens, 1);
    w = (struct store_account_want){.rate = 100, .tokens = 50};
    ck_assert_int_eq(store_account_sync(S, "a", 3000, t0 + 30, Q, &w, &g, 1), 0);
    ck_assert_int_eq(g.tokens, 1); /* the one left of those returned */
    /* an hour idle refills to the capacity only */
    ck_assert_int_eq(store_account_sync(S, "a", 3000, t0 + 3600000, Q, &w, &g, 1), 0);
    ck_assert_int_eq(g.tokens, 20);
    /* over 10 simulated seconds, 4 consumers asking every 50 ms get 100/s between them */
    int total = 0;
    const char *who[] = {"a", "b", "c", "d"};
    int64_t t1 = t0 + 3600000;
    for (int tick = 1; tick <= 200; tick++)
        for (int c = 0; c < 4; c++) {
            w = (struct store_account_want){.rate = 100, .tokens = 5};
            ck_assert_int_eq(store_account_sync(S, who[c], 3000, t1 + tick * 50, Q, &w, &g, 1), 0);
            total += g.tokens;
        }
    ck_assert_int_ge(total, 990);
    ck_assert_int_le(total, 1005);
}
END_TEST

START_TEST(test_store_pause_and_learned)
{
    const char *const Q[] = {"pl"};
    int64_t t0 = 20000000;
    struct store_account_grant g;
    struct store_account_want w = {.adaptive = true, .pause_ms = 1500};
    ck_assert_int_eq(store_account_sync(S, "a", 3000, t0, Q, &w, &g, 1), 0);
    ck_assert_int_eq(g.paused_ms, 1500);
    w = (struct store_account_want){.adaptive = true};
    ck_assert_int_eq(store_account_sync(S, "b", 3000, t0 + 500, Q, &w, &g, 1), 0);
    ck_assert_int_eq(g.paused_ms, 1000); /* the fleet is paused for everyone */
    w = (struct store_account_want){.adaptive = true, .pause_ms = 200};
    ck_assert_int_eq(store_account_sync(S, "b", 3000, t0 + 600, Q, &w, &g, 1), 0);
    ck_assert_int_eq(g.paused_ms, 900); /* a shorter pause does not cut a longer one */
    /* learned: set, lowered, raised only from the value seen */
    w = (struct store_account_want){.adaptive = true, .learn_op = 'S', .learn_value = 10};
    ck_assert_int_eq(store_account_sync(S, "a", 3000, t0 + 700, Q, &w, &g, 1), 0);
    ck_assert_int_eq(g.learned, 10);
    w = (struct store_account_want){.adaptive = true, .learn_op = 'D', .learn_value = 7};
    ck_assert_int_eq(store_account_sync(S, "b", 3000, t0 + 701, Q, &w, &g, 1), 0);
    ck_assert_int_eq(g.learned, 7);
    w = (struct store_account_want){.adaptive = true, .learn_op = 'U', .learn_value = 11};
    ck_assert_int_eq(store_account_sync(S, "a", 3000, t0 + 702, Q, &w, &g, 1), 0);
    ck_assert_int_eq(g.learned, 7); /* a stale raise (from 10) is dropped */
    w = (struct store_account_want){.adaptive = true, .learn_op = 'U', .learn_value = 8};
    ck_assert_int_eq(store_account_sync(S, "a", 3000, t0 + 703, Q, &w, &g, 1), 0);
    ck_assert_int_eq(g.learned, 8);
    w = (struct store_account_want){.adaptive = true, .learn_op = 'D', .learn_value = 9};
    ck_assert_int_eq(store_account_sync(S, "b", 3000, t0 + 704, Q, &w, &g, 1), 0);
    ck_assert_int_eq(g.learned, 8); /* "lower to" never raises */
    /* the learned limit bounds grants */
    w = (struct store_account_want){.adaptive = true, .slots = 20};
    ck_assert_int_eq(store_account_sync(S, "c", 3000, t0 + 705, Q, &w, &g, 1), 0);
    ck_assert_int_eq(g.slots, 8);
}
END_TEST

START_TEST(test_store_bad_names)
{
    const char *const bad[] = {"a b"};
    struct store_account_want w = {0};
    struct store_account_grant g;
    ck_assert_int_eq(store_account_sync(S, "a", 3000, 1, bad, &w, &g, 1), -1);
    ck_assert_int_eq(store_account_sync(S, "", 3000, 1, P, &w, &g, 1), -1);
    ck_assert_int_eq(store_account_sync(S, "a", 3000, 1, P, &w, &g, 0), 0);
}
END_TEST

static Suite *account_suite(void)
{
    Suite *s = suite_create("account");
    TCase *tc = tcase_create("local");
    tcase_add_test(tc, test_inactive_account_admits_everything);
    tcase_add_test(tc, test_no_slot_before_first_sync);
    tcase_add_test(tc, test_slots_bound_starts_and_demand_is_capped);
    tcase_add_test(tc, test_idle_consumer_hands_slots_back);
    tcase_add_test(tc, test_steady_consumer_syncs_less_often);
    tcase_add_test(tc, test_grant_never_below_in_use);
    tcase_add_test(tc, test_tokens_bound_starts);
    tcase_add_test(tc, test_tokens_asked_capped_by_share);
    tcase_add_test(tc, test_pause_from_retry_after);
    tcase_add_test(tc, test_concurrency_429_lowers_once_per_burst);
    tcase_add_test(tc, test_success_raises_slowly_never_past_configured);
    tcase_add_test(tc, test_header_sets_limit_and_caps_raises);
    tcase_add_test(tc, test_not_adaptive_learns_nothing);
    tcase_add_test(tc, test_local_share);
    tcase_add_test(tc, test_health_and_metrics_show_the_account);
    suite_add_tcase(s, tc);
    TCase *rc = tcase_create("redis");
    tcase_add_unchecked_fixture(rc, suite_up, suite_down);
    tcase_add_checked_fixture(rc, test_up, test_down);
    tcase_set_timeout(rc, 60);
    tcase_add_test(rc, test_store_grants_up_to_limit);
    tcase_add_test(rc, test_store_dead_consumer_gives_slots_back);
    tcase_add_test(rc, test_store_bucket);
    tcase_add_test(rc, test_store_pause_and_learned);
    tcase_add_test(rc, test_store_bad_names);
    suite_add_tcase(s, rc);
    return s;
}

CHECK_MAIN(account_suite)
