/* check_writer.c - unit tests for writer.c: tasks handed to the thread come back with their
 * files in place, or marked unwritten with the reason; nothing is lost when it stops. Waits on
 * the wake pipe with a deadline, never sleeps. */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "clock.h"
#include "writer.h"

static char root[256];
static int wake[2];

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/check_writer.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(root));
    ck_assert_int_eq(pipe2(wake, O_NONBLOCK | O_CLOEXEC), 0);
}

static void teardown(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    ck_assert_int_eq(system(cmd), 0);
    close(wake[0]);
    close(wake[1]);
}

/* A rendered task for contact c with a few bytes of "audio". */
static struct task *rendered(const char *contact)
{
    char json[256];
    snprintf(json, sizeof json, "{\"v\":1,\"campaign\":\"camp\",\"contact\":\"%s\",\"text\":\"hi\"}", contact);
    struct task *t = task_from_message(json, strlen(json), contact, strlen(contact), 0, 0, 5000);
    ck_assert(t->valid);
    t->outcome = OUTCOME_DONE;
    buf_puts(&t->audio, contact);
    return t;
}

/* Collects until n tasks came back or 10 s passed, waiting on the wake pipe. */
static struct task *collect(struct writer *w, size_t n, char *err, size_t errlen)
{
    struct task *all = NULL, **tail = &all;
    size_t got = 0;
    int64_t deadline = clock_mono_ms() + 10000;
    while (got < n && clock_mono_ms() < deadline) {
        struct pollfd p = {.fd = wake[0], .events = POLLIN};
        poll(&p, 1, 100);
        char drain[64];
        while (read(wake[0], drain, sizeof drain) > 0)
            ;
        char e[512];
        for (struct task *t = writer_collect(w, e, sizeof e); t; t = t->next, got++) {
            *tail = t;
            tail = &t->next;
        }
        if (e[0] && err)
            snprintf(err, errlen, "%s", e);
    }
    ck_assert_uint_eq(got, n);
    return all;
}

static void free_tasks(struct task *t)
{
    for (struct task *next; t; t = next) {
        next = t->next;
        task_free(t);
    }
}

START_TEST(test_files_written)
{
    char err[512] = "";
    struct writer *w = writer_new(sink_new(root, true), wake[1], err, sizeof err);
    ck_assert_msg(w != NULL, "%s", err);
    struct task *a = rendered("c-1"), *b = rendered("c-2");
    a->next = b;
    writer_submit(w, a);
    writer_submit(w, rendered("c-3"));
    struct task *back = collect(w, 3, err, sizeof err);
    ck_assert_str_eq(err, "");
    for (struct task *t = back; t; t = t->next) {
        ck_assert(t->file_written);
        ck_assert_ptr_null(t->audio.data); /* freed once on disk */
        char path[PATH_MAX], data[16] = "";
        snprintf(path, sizeof path, "%s/camp/%s.wav", root, t->job.contact);
        FILE *f = fopen(path, "r");
        ck_assert_msg(f != NULL, "missing %s", path);
        ck_assert_uint_gt(fread(data, 1, sizeof data - 1, f), 0);
        fclose(f);
        ck_assert_str_eq(data, t->job.contact);
    }
    free_tasks(back);
    struct task *left;
    writer_free(w, &left);
    ck_assert_ptr_null(left);
}
END_TEST

/* The output folder cannot be made: each task comes back unwritten, audio kept, with the reason. */
START_TEST(test_failure_comes_back)
{
    char blocker[300], err[512] = "";
    snprintf(blocker, sizeof blocker, "%s/file", root);
    FILE *f = fopen(blocker, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    struct writer *w = writer_new(sink_new(blocker, true), wake[1], err, sizeof err);
    ck_assert_ptr_nonnull(w);
    writer_submit(w, rendered("c-1"));
    struct task *back = collect(w, 1, err, sizeof err);
    ck_assert(!back->file_written);
    ck_assert_ptr_nonnull(back->audio.data);
    ck_assert_msg(strstr(err, "file") != NULL, "err: %s", err);
    free_tasks(back);
    struct task *left;
    writer_free(w, &left);
    ck_assert_ptr_null(left);
}
END_TEST

/* Stopping with tasks handed over and never collected gives them all back. */
START_TEST(test_free_returns_everything)
{
    char err[512] = "";
    struct writer *w = writer_new(sink_new(root, false), wake[1], err, sizeof err);
    ck_assert_ptr_nonnull(w);
    for (int i = 0; i < 50; i++) {
        char c[16];
        snprintf(c, sizeof c, "c-%d", i);
        writer_submit(w, rendered(c));
    }
    struct task *left;
    writer_free(w, &left);
    size_t n = 0;
    for (struct task *t = left; t; t = t->next)
        n++;
    ck_assert_uint_eq(n, 50);
    free_tasks(left);
}
END_TEST

/* Waiting for the writer to be idle: afterwards one collect returns every task handed over. */
START_TEST(test_wait_idle)
{
    char err[512] = "";
    struct writer *w = writer_new(sink_new(root, true), wake[1], err, sizeof err);
    ck_assert_ptr_nonnull(w);
    for (int i = 0; i < 200; i++) {
        char c[16];
        snprintf(c, sizeof c, "c-%d", i);
        writer_submit(w, rendered(c));
    }
    ck_assert(writer_wait_idle(w, 10000));
    size_t n = 0;
    struct task *back = writer_collect(w, err, sizeof err);
    for (struct task *t = back; t; t = t->next, n++)
        ck_assert(t->file_written);
    ck_assert_uint_eq(n, 200);
    free_tasks(back);
    ck_assert(writer_wait_idle(w, 0)); /* nothing handed over: idle at once */
    struct task *left;
    writer_free(w, &left);
    ck_assert_ptr_null(left);
}
END_TEST

static Suite *writer_suite(void)
{
    Suite *s = suite_create("writer");
    TCase *tc = tcase_create("thread");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_files_written);
    tcase_add_test(tc, test_failure_comes_back);
    tcase_add_test(tc, test_free_returns_everything);
    tcase_add_test(tc, test_wait_idle);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(writer_suite)
