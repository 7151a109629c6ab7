/* fuzz_job.c - libFuzzer target for the job decoder and encoder (common/job.c).
 *
 * A consumer decodes whatever arrives on the jobs topic, and DLQ replay re-encodes what it
 * decoded, so the pair must agree: a job that decodes must encode to a message that decodes again
 * to the same job, field for field (meta compared with json_equal, since jansson may respell a
 * number), and encoding that second job must give the same bytes as the first encoding. Any
 * difference aborts with both messages printed. A rejected message must come with a reason. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "job.h"

#define FUZZ_MAX_TEXT_CHARS 200   /* small enough that fuzzed texts reach the limit */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int ok, const char *what, const struct buf *first, const struct buf *second)
{
    if (ok)
        return;
    fprintf(stderr, "fuzz_job: %s\n", what);
    if (first)
        fprintf(stderr, "  first encoding:  %.*s\n", (int)first->len, first->data);
    if (second)
        fprintf(stderr, "  second encoding: %.*s\n", (int)second->len, second->data);
    abort();
}

static int same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static int same_job(const struct job *a, const struct job *b)
{
    int same_meta = (a->meta == NULL && b->meta == NULL) ||
                    (a->meta != NULL && b->meta != NULL && json_equal(a->meta, b->meta));
    return a->v == b->v && same_str(a->campaign, b->campaign) &&
           same_str(a->contact, b->contact) && same_str(a->text, b->text) &&
           same_str(a->voice, b->voice) && same_str(a->lang, b->lang) &&
           same_str(a->format, b->format) && same_meta &&
           same_str(a->enqueued_at, b->enqueued_at) && a->replay == b->replay;
}

/* Decoded job -> encode -> decode -> encode: both decodes succeed, jobs and encodings agree. */
static void check_round_trip(const struct job *j)
{
    struct buf first = {0}, second = {0};
    struct job again;
    char err[256] = "";
    job_encode(j, &first);
    int rc = job_decode(first.data, first.len, FUZZ_MAX_TEXT_CHARS, &again, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "fuzz_job: re-decode error: %s\n", err);
    fuzz_check(rc == 0, "encoded job does not decode", &first, NULL);
    job_encode(&again, &second);
    fuzz_check(same_job(j, &again), "job changed in the round trip", &first, &second);
    fuzz_check(first.len == second.len && memcmp(first.data, second.data, first.len) == 0,
               "second encoding differs from the first", &first, &second);
    job_free(&again);
    buf_free(&first);
    buf_free(&second);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct job j;
    char err[256] = "";
    if (job_decode((const char *)data, size, FUZZ_MAX_TEXT_CHARS, &j, err, sizeof err) != 0) {
        fuzz_check(err[0] != '\0', "rejected without a reason", NULL, NULL);
        fuzz_check(j.campaign == NULL && j.meta == NULL, "rejected job not zeroed", NULL, NULL);
        return 0;
    }
    fuzz_check(j.v == 1 && j.campaign && j.contact && j.text && j.format && j.replay >= 0,
               "decoded job misses a required field", NULL, NULL);
    check_round_trip(&j);
    job_free(&j);
    return 0;
}
