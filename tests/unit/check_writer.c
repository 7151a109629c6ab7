/* check_writer.c - unit tests for writer.c: tasks handed to the thread come back with their
 * files in place, converted into their job's format and described (duration, bytes, sha256,
 * uri), or marked unwritten with the reason, or sent back unrendered when their audio cannot be
 * converted; nothing is lost when it stops. Waits on the wake pipe with a deadline, never
 * sleeps. */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audio.h"
#include "check_main.h"
#include "clock.h"
#include "convert.h"
#include "sha256.h"
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

/* A rendered task for contact c of job format `format` (NULL: none given) whose audio is
 * `audio` (copied). */
static struct task *rendered_as(const char *contact, const char *format, const struct buf *audio)
{
    char json[256], fmt[64] = "";
    if (format)
        snprintf(fmt, sizeof fmt, ",\"format\":\"%s\"", format);
    snprintf(json, sizeof json, "{\"v\":1,\"campaign\":\"camp\",\"contact\":\"%s\",\"text\":\"hi\"%s}",
             contact, fmt);
    struct task *t = task_from_message(json, strlen(json), contact, strlen(contact), 0, 0, 5000);
    ck_assert(t->valid);
    t->outcome = OUTCOME_DONE;
    buf_append(&t->audio, audio->data, audio->len);
    return t;
}

/* A rendered plain-WAV task for contact c: a 100 ms tone at 22.05 kHz, as espeak would give. */
static struct task *rendered(const char *contact)
{
    struct buf tone = {0};
    audio_tone_wav(100, 22050, &tone);
    struct task *t = rendered_as(contact, NULL, &tone);
    buf_free(&tone);
    return t;
}

/* The whole file at path (ck-fails when it cannot be read). */
static void read_file(const char *path, struct buf *out)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "missing %s", path);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(out, chunk, n);
    fclose(f);
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
    struct buf tone = {0};
    audio_tone_wav(100, 22050, &tone);
    char tone_sha[SHA256_HEX_LEN + 1];
    sha256_hex(tone.data, tone.len, tone_sha);
    for (struct task *t = back; t; t = t->next) {
        ck_assert(t->file_written);
        ck_assert_ptr_null(t->audio.data); /* freed once on disk */
        char path[PATH_MAX], uri[PATH_MAX + 8];
        snprintf(path, sizeof path, "%s/camp/%s.wav", root, t->job.contact);
        struct buf data = {0};
        read_file(path, &data);
        /* plain wav: the provider's file as it came, not converted */
        ck_assert_uint_eq(data.len, tone.len);
        ck_assert_mem_eq(data.data, tone.data, tone.len);
        buf_free(&data);
        ck_assert_uint_eq(t->bytes, tone.len);
        ck_assert_str_eq(t->sha256, tone_sha);
        ck_assert_int_eq(t->duration_ms, 100);
        snprintf(uri, sizeof uri, "file://%s", path);
        ck_assert_str_eq(t->uri, uri);
    }
    buf_free(&tone);
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
    ck_assert_int_eq(back->outcome, OUTCOME_DONE);   /* to write again, not to render again */
    ck_assert_ptr_nonnull(back->audio.data);
    ck_assert_ptr_null(back->uri);
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

/* A 24 kHz WAV (OpenAI's rate) for a ulaw_8000 job: the file is a G.711 µ-law WAV, 8 kHz mono,
 * of the input's duration, and the task says what was written: duration from the audio, the
 * file's size and the SHA-256 of its exact bytes. */
START_TEST(test_wav_to_ulaw_8000)
{
    char err[512] = "";
    struct writer *w = writer_new(sink_new(root, true), wake[1], err, sizeof err);
    ck_assert_ptr_nonnull(w);
    struct buf tone = {0};
    audio_tone_wav(1500, 24000, &tone);
    writer_submit(w, rendered_as("c-ulaw", "ulaw_8000", &tone));
    buf_free(&tone);
    struct task *t = collect(w, 1, err, sizeof err);
    ck_assert_str_eq(err, "");
    ck_assert(t->file_written);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/camp/c-ulaw.wav", root);   /* every WAV kind ends in .wav */
    struct buf file = {0};
    read_file(path, &file);
    struct audio_info ai;
    ck_assert_int_eq(audio_wav_info(file.data, file.len, &ai), 0);
    ck_assert_uint_eq(ai.codec, CONVERT_CODEC_ULAW);
    ck_assert_uint_eq(ai.sample_rate, 8000);
    ck_assert_uint_eq(ai.channels, 1);
    ck_assert_uint_eq(ai.bits, 8);
    ck_assert_uint_eq(ai.data_bytes, 12000);                  /* 1.5 s × 8000 one-byte samples */
    ck_assert_int_eq(t->duration_ms, 1500);
    ck_assert_uint_eq(t->bytes, file.len);
    char sha[SHA256_HEX_LEN + 1];
    sha256_hex(file.data, file.len, sha);
    ck_assert_str_eq(t->sha256, sha);
    buf_free(&file);
    free_tasks(t);
    struct task *left;
    writer_free(w, &left);
    ck_assert_ptr_null(left);
}
END_TEST

/* Every format from one 22.05 kHz WAV (espeak's): the file's kind, rate and extension, and a
 * duration within one output frame of the input's (an MP3 within two 1152-sample frames: LAME
 * adds its delay and padding). */
START_TEST(test_every_format)
{
    static const struct { const char *format, *ext; int codec, rate; } rows[] = {
        {"wav", "wav", CONVERT_CODEC_PCM, 22050},
        {"ulaw_8000", "wav", CONVERT_CODEC_ULAW, 8000},
        {"alaw_8000", "wav", CONVERT_CODEC_ALAW, 8000},
        {"wav_8000", "wav", CONVERT_CODEC_PCM, 8000},
        {"wav_16000", "wav", CONVERT_CODEC_PCM, 16000},
        {"mp3", "mp3", CONVERT_CODEC_MP3, 22050},
    };
    size_t n = sizeof rows / sizeof rows[0];
    char err[512] = "";
    struct writer *w = writer_new(sink_new(root, false), wake[1], err, sizeof err);
    ck_assert_ptr_nonnull(w);
    struct buf tone = {0};
    audio_tone_wav(2000, 22050, &tone);
    for (size_t i = 0; i < n; i++)
        writer_submit(w, rendered_as(rows[i].format, rows[i].format, &tone));
    buf_free(&tone);
    struct task *back = collect(w, n, err, sizeof err);
    ck_assert_str_eq(err, "");
    for (struct task *t = back; t; t = t->next) {
        size_t i = 0;
        while (strcmp(rows[i].format, t->job.contact) != 0)
            i++;
        ck_assert_msg(t->file_written, "%s: %s", rows[i].format, t->error);
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/camp/%s.%s", root, rows[i].format, rows[i].ext);
        struct buf file = {0};
        read_file(path, &file);
        ck_assert_uint_eq(t->bytes, file.len);
        struct convert_info ci;
        if (strcmp(rows[i].ext, "mp3") == 0) {
            ck_assert_int_eq(convert_mp3_info(file.data, file.len, &ci), 0);
            ck_assert_int_ge(t->duration_ms, 2000);
            ck_assert_int_le(t->duration_ms, 2000 + 2 * 1152 * 1000 / 22050 + 1);
        } else {
            struct audio_info ai;
            ck_assert_int_eq(audio_wav_info(file.data, file.len, &ai), 0);
            ci = (struct convert_info){.sample_rate = ai.sample_rate, .codec = ai.codec, .channels = ai.channels};
            ck_assert_int_eq(ai.duration_ms, t->duration_ms);
            ck_assert_int_ge(t->duration_ms, 1999);
            ck_assert_int_le(t->duration_ms, 2001);
        }
        ck_assert_msg(ci.codec == (unsigned)rows[i].codec, "%s: codec %u", rows[i].format, ci.codec);
        ck_assert_uint_eq(ci.sample_rate, (unsigned)rows[i].rate);
        ck_assert_uint_eq(ci.channels, 1);
        buf_free(&file);
    }
    free_tasks(back);
    struct task *left;
    writer_free(w, &left);
    ck_assert_ptr_null(left);
}
END_TEST

/* One batch of many conversions, shared with the helper threads: every task converted once,
 * to its own file, each described by its own bytes. */
START_TEST(test_batch_shared)
{
    char err[512] = "";
    struct writer *w = writer_new(sink_new(root, true), wake[1], err, sizeof err);
    ck_assert_ptr_nonnull(w);
    struct buf tone = {0};
    audio_tone_wav(300, 24000, &tone);
    struct task *head = NULL;
    for (int i = 0; i < 64; i++) {
        char c[16];
        snprintf(c, sizeof c, "c-%02d", i);
        struct task *t = rendered_as(c, i % 2 ? "ulaw_8000" : "wav_16000", &tone);
        t->next = head;
        head = t;
    }
    buf_free(&tone);
    writer_submit(w, head);
    struct task *back = collect(w, 64, err, sizeof err);
    ck_assert_str_eq(err, "");
    for (struct task *t = back; t; t = t->next) {
        ck_assert_msg(t->file_written, "%s: %s", t->job.contact, t->error);
        char path[PATH_MAX], sha[SHA256_HEX_LEN + 1];
        snprintf(path, sizeof path, "%s/camp/%s.wav", root, t->job.contact);
        struct buf file = {0};
        read_file(path, &file);
        struct audio_info ai;
        ck_assert_int_eq(audio_wav_info(file.data, file.len, &ai), 0);
        bool ulaw = strcmp(t->job.format, "ulaw_8000") == 0;
        ck_assert_uint_eq(ai.codec, ulaw ? CONVERT_CODEC_ULAW : CONVERT_CODEC_PCM);
        ck_assert_uint_eq(ai.sample_rate, ulaw ? 8000 : 16000);
        ck_assert_int_eq(t->duration_ms, 300);
        ck_assert_uint_eq(t->bytes, file.len);
        sha256_hex(file.data, file.len, sha);
        ck_assert_str_eq(t->sha256, sha);
        buf_free(&file);
    }
    free_tasks(back);
    struct task *left;
    writer_free(w, &left);
    ck_assert_ptr_null(left);
}
END_TEST

/* An MP3 answer cannot become µ-law (convert.h decodes no MP3): the task comes back unrendered,
 * audio freed, the reason in t->error, no file; a twin in the same batch is written. */
START_TEST(test_unconvertible_comes_back)
{
    char err[512] = "";
    struct writer *w = writer_new(sink_new(root, true), wake[1], err, sizeof err);
    ck_assert_ptr_nonnull(w);
    struct buf mp3 = {0};
    audio_silent_mp3(500, &mp3);
    struct task *bad = rendered_as("c-bad", "ulaw_8000", &mp3);
    bad->next = rendered("c-good");
    writer_submit(w, bad);
    buf_free(&mp3);
    struct task *back = collect(w, 2, err, sizeof err);
    ck_assert_str_eq(err, "");   /* nothing failed to be written */
    for (struct task *t = back; t; t = t->next) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/camp/%s.wav", root, t->job.contact);
        if (strcmp(t->job.contact, "c-good") == 0) {
            ck_assert(t->file_written);
            ck_assert_int_eq(access(path, F_OK), 0);
            continue;
        }
        ck_assert(!t->file_written);
        ck_assert_int_eq(t->outcome, OUTCOME_NONE);
        ck_assert_ptr_null(t->audio.data);
        ck_assert_ptr_null(t->uri);
        ck_assert_str_eq(t->sha256, "");
        ck_assert_msg(strncmp(t->error, "the audio cannot be converted to ulaw_8000: ", 44) == 0,
                      "error: %s", t->error);
        ck_assert_int_ne(access(path, F_OK), 0);
    }
    free_tasks(back);
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
    tcase_add_test(tc, test_wav_to_ulaw_8000);
    tcase_add_test(tc, test_every_format);
    tcase_add_test(tc, test_unconvertible_comes_back);
    tcase_add_test(tc, test_batch_shared);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(writer_suite)
