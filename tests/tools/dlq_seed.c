/* dlq_seed.c - parks DLQ entries through the store exactly as launch and a consumer would.
 *
 * The DLQ tests and benchmark need parked entries without running TTS: for each contact this
 * reserves it (a launch run), acknowledges it (Kafka took the job: pending) and parks it with a
 * consumer-shaped entry (pending -> dlq), all three in one batch per chunk, so the campaign's
 * counts are the ones a real campaign would show. With --invalid it files entries the way a
 * consumer files a message that was not a job: under "_invalid", job null, raw set, no launch.
 *
 * usage: dlq_seed REDIS_URL CAMPAIGN N [--start K] [--reason R] [--status S|0] [--provider P]
 *                 [--replay N] [--invalid]
 * Contacts are c-%06d numbered from K (default 1). Entries are parked oldest first, so the last
 * contact is the newest. Prints "seeded N entries of CAMPAIGN". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "job.h"
#include "jsonw.h"
#include "store.h"

#define CHUNK 2000

struct seed {
    const char *url, *campaign, *reason, *provider;
    long        n, start, status, replay;
    int         invalid;
    char        run_id[48];
};

static int usage(void)
{
    fprintf(stderr, "usage: dlq_seed REDIS_URL CAMPAIGN N [--start K] [--reason R] [--status S|0] "
                    "[--provider P] [--replay N] [--invalid]\n");
    return 2;
}

static int parse(int argc, char **argv, struct seed *sd)
{
    if (argc < 4)
        return -1;
    *sd = (struct seed){.url = argv[1], .campaign = argv[2], .n = atol(argv[3]), .start = 1,
                        .reason = "retry_exhausted", .provider = "primary", .status = 503};
    for (int i = 4; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--invalid") == 0) {
            sd->invalid = 1;
            continue;
        }
        if (!v)
            return -1;
        if (strcmp(a, "--start") == 0)
            sd->start = atol(v);
        else if (strcmp(a, "--reason") == 0)
            sd->reason = v;
        else if (strcmp(a, "--status") == 0)
            sd->status = atol(v);
        else if (strcmp(a, "--provider") == 0)
            sd->provider = v;
        else if (strcmp(a, "--replay") == 0)
            sd->replay = atol(v);
        else
            return -1;
        i++;
    }
    if (sd->invalid)
        sd->reason = "invalid_job";
    return sd->n > 0 && store_id_valid(sd->campaign) ? 0 : -1;
}

/* The entry a consumer writes (consumer/task.c's shape). */
static void entry_json(const struct seed *sd, const char *contact, long i, int64_t at_ms,
                       struct buf *b)
{
    char at[32], text[96];
    clock_iso8601(at_ms, at);
    buf_putc(b, '{');
    jsonw_key(b, "job");
    if (sd->invalid) {
        buf_puts(b, "null");
    } else {
        snprintf(text, sizeof text, "Hi %s, your order ships today.", contact);
        struct job j = {.v = 1, .campaign = (char *)sd->campaign, .contact = (char *)contact,
                        .text = text, .format = "wav", .enqueued_at = at, .replay = (int)sd->replay};
        job_encode(&j, b);
    }
    jsonw_key(b, "campaign");
    jsonw_cstr(b, sd->campaign);
    jsonw_key(b, "contact");
    jsonw_cstr(b, contact);
    jsonw_key(b, "reason");
    jsonw_cstr(b, sd->reason);
    jsonw_key(b, "provider");
    jsonw_cstr(b, sd->invalid ? NULL : sd->provider);
    jsonw_key(b, "http_status");
    if (sd->status > 0 && !sd->invalid)
        jsonw_int(b, sd->status);
    else
        buf_puts(b, "null");
    char error[160];
    if (sd->invalid)
        snprintf(error, sizeof error, "invalid JSON at line 1 column 2: unexpected token");
    else if (sd->status > 0)
        snprintf(error, sizeof error, "%s answered HTTP %ld: the service could not take the request",
                 sd->provider, sd->status);
    else
        snprintf(error, sizeof error, "%s: connect: Connection refused", sd->provider);
    jsonw_key(b, "error");
    jsonw_cstr(b, error);
    jsonw_key(b, "attempts");
    jsonw_int(b, sd->invalid ? 0 : 3);
    jsonw_key(b, "failed_at");
    jsonw_cstr(b, at);
    jsonw_key(b, "failed_at_ms");
    jsonw_int(b, at_ms);
    jsonw_key(b, "partition");
    jsonw_int(b, i % 4);
    jsonw_key(b, "offset");
    jsonw_int(b, i);
    jsonw_key(b, "raw");
    jsonw_cstr(b, sd->invalid ? "{not json" : NULL);
    jsonw_key(b, "history");
    if (sd->invalid)
        buf_puts(b, "[]");
    else
        buf_printf(b, "[{\"provider\":\"%s\",\"http_status\":%ld,\"class\":\"retryable\","
                      "\"error\":\"try later\",\"latency_ms\":12,\"at\":\"%s\"}]",
                   sd->provider, sd->status, at);
    buf_putc(b, '}');
}

/* Queues the ops of contacts [from, to): reserve, ack, park (park only for --invalid). */
static void queue_chunk(const struct seed *sd, struct store_batch *b, long from, long to, int64_t now)
{
    struct buf entry = {0};
    for (long i = from; i < to; i++) {
        char contact[48];
        int len = sd->invalid ? snprintf(contact, sizeof contact, "p%ld-o%ld", i % 4, i)
                              : snprintf(contact, sizeof contact, "c-%06ld", i);
        buf_reset(&entry);
        entry_json(sd, contact, i, now - (sd->start + sd->n - i), &entry);
        if (!sd->invalid) {
            store_batch_reserve(b, sd->campaign, sd->run_id, contact, (size_t)len);
            store_batch_ack(b, sd->campaign, contact, (size_t)len);
        }
        store_batch_dlq(b, sd->campaign, contact, (size_t)len, entry.data);
    }
    buf_free(&entry);
}

/* Every park must have stored an entry; a reused contact would not. */
static int check_chunk(const struct seed *sd, struct store_batch *b)
{
    size_t step = sd->invalid ? 1 : 3;
    for (size_t i = step - 1; i < store_batch_len(b); i += step) {
        if (store_batch_result(b, i) != STORE_PARKED) {
            fprintf(stderr, "dlq_seed: op %zu not parked (result %d): contacts already used?\n", i,
                    (int)store_batch_result(b, i));
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct seed sd;
    if (parse(argc, argv, &sd) != 0)
        return usage();
    snprintf(sd.run_id, sizeof sd.run_id, "seed-%d-%lld", (int)getpid(), (long long)clock_wall_ms());
    char err[512];
    struct store *s = store_open(sd.url, 5000, err, sizeof err);
    if (!s) {
        fprintf(stderr, "dlq_seed: %s\n", err);
        return 1;
    }
    int64_t now = clock_wall_ms();
    int rc = sd.invalid ? 0 : store_campaign_create(s, sd.campaign, now) < 0 ? -1 : 0;
    struct store_batch *b = store_batch_new();
    for (long from = sd.start; rc == 0 && from < sd.start + sd.n; from += CHUNK) {
        long to = from + CHUNK < sd.start + sd.n ? from + CHUNK : sd.start + sd.n;
        store_batch_reset(b);
        queue_chunk(&sd, b, from, to, now);
        if (store_batch_exec(s, b) != 0) {
            fprintf(stderr, "dlq_seed: %s\n", store_error(s));
            rc = -1;
        } else {
            rc = check_chunk(&sd, b);
        }
    }
    if (rc == 0 && !sd.invalid && store_campaign_set(s, sd.campaign, "launch_state", "launched") != 0)
        rc = -1;
    if (rc == 0)
        printf("seeded %ld entries of %s\n", sd.n, sd.campaign);
    else if (store_error(s)[0])
        fprintf(stderr, "dlq_seed: %s\n", store_error(s));
    store_batch_free(b);
    store_close(s);
    return rc == 0 ? 0 : 1;
}
