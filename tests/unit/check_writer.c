/* check_writer.c - unit tests for writer.c: tasks handed to the thread come back with their
 * files in place, converted into their job's format and described (duration, bytes, sha256,
 * uri), or marked unwritten with the reason, or sent back unrendered when their audio cannot be
 * converted; nothing is lost when it stops. Waits on the wake pipe with a deadline, never
 * sleeps. */
#include <fcntl.h>
#include <jansson.h>
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
#include "parts.h"
#include "results.h"
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

/* ---- jobs in children (parts.h) ---- */

/* A job of contact c: text of n sentences "Word number k." (15 code points each and a space),
 * format fmt, with variants_json (",\"variants\":[...]" or ""). */
static struct task *job_of(const char *c, const char *fmt, int n, const char *variants_json)
{
    struct buf text = {0}, json = {0};
    for (int i = 0; i < n; i++)
        buf_puts(&text, "Word number 0. ");
    buf_printf(&json, "{\"v\":1,\"campaign\":\"camp\",\"contact\":\"%s\",\"text\":\"%s\",\"format\":\"%s\"%s}", c,
               text.data, fmt, variants_json);
    struct task *t = task_from_message(json.data, json.len, c, strlen(c), 0, 0, 20000);
    ck_assert(t->valid);
    buf_free(&text);
    buf_free(&json);
    return t;
}

/* A child rendered: a tone of ms at 24 kHz (OpenAI's WAV rate), or the given audio. */
static void child_rendered(struct task *c, int ms, const struct buf *audio)
{
    struct buf tone = {0};
    if (!audio)
        audio_tone_wav(ms, 24000, &tone);
    buf_append(&c->audio, audio ? audio->data : tone.data, audio ? audio->len : tone.len);
    buf_free(&tone);
    c->outcome = OUTCOME_DONE;
    snprintf(c->provider, sizeof c->provider, "p");
    struct task *parent = c->parent, *complete = parts_child_back(c);
    ck_assert_ptr_eq(complete, parent->pending ? NULL : parent);
}

static void file_info(const char *name, struct audio_info *ai, struct buf *file)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/camp/%s", root, name);
    read_file(path, file);
    ck_assert_int_eq(audio_wav_info(file->data, file->len, ai), 0);
}

START_TEST(test_parts_joined)
{
    char err[512] = "";
    struct writer *w = writer_new(sink_new(root, true), wake[1], err, sizeof err);
    ck_assert_ptr_nonnull(w);
    struct task *t = job_of("c-long", "ulaw_8000", 30, ""); /* 449 code points */
    ck_assert_uint_eq(parts_expand(t, 160), 3);
    int ms[3] = {300, 500, 700};
    for (int i = 0; i < 3; i++)
        child_rendered(t->children[i], ms[i], NULL);
    ck_assert_int_eq(t->outcome, OUTCOME_DONE);
    writer_submit(w, t);
    t = collect(w, 1, err, sizeof err);
    ck_assert_str_eq(err, "");
    ck_assert(t->file_written);
    struct buf file = {0};
    struct audio_info ai;
    file_info("c-long.wav", &ai, &file);
    ck_assert_uint_eq(ai.codec, CONVERT_CODEC_ULAW);
    ck_assert_uint_eq(ai.sample_rate, 8000);
    ck_assert_uint_eq(ai.data_bytes, 12000); /* 300 + 500 + 700 ms at 8000 one-byte samples */
    ck_assert_int_eq(t->duration_ms, 1500);
    ck_assert_uint_eq(t->bytes, file.len);
    char sha[SHA256_HEX_LEN + 1], uri[PATH_MAX + 16];
    sha256_hex(file.data, file.len, sha);
    ck_assert_str_eq(t->sha256, sha);
    snprintf(uri, sizeof uri, "file://%s/camp/c-long.wav", root);
    ck_assert_str_eq(t->uri, uri);
    for (int i = 0; i < 3; i++)
        ck_assert_ptr_null(t->children[i]->audio.data); /* joined, then freed */
    buf_free(&file);
    free_tasks(t);
    struct task *left;
    writer_free(w, &left);
    ck_assert_ptr_null(left);
}
END_TEST

/* Parts of a "wav" job from two providers (24 kHz and 22.05 kHz): both made wav_16000, joined. */
START_TEST(test_parts_of_two_providers)
{
    char err[512] = "";
    struct writer *w = writer_new(sink_new(root, true), wake[1], err, sizeof err);
    ck_assert_ptr_nonnull(w);
    struct task *t = job_of("c-mixed", "wav", 20, "");
    ck_assert_uint_eq(parts_expand(t, 160), 2);
    struct buf other = {0};
    audio_tone_wav(500, 22050, &other);
    child_rendered(t->children[0], 300, NULL);
    child_rendered(t->children[1], 0, &other);
    buf_free(&other);
    writer_submit(w, t);
    t = collect(w, 1, err, sizeof err);
    ck_assert_str_eq(err, "");
    ck_assert(t->file_written);
    struct buf file = {0};
    struct audio_info ai;
    file_info("c-mixed.wav", &ai, &file);
    ck_assert_uint_eq(ai.codec, CONVERT_CODEC_PCM);
    ck_assert_uint_eq(ai.sample_rate, 16000);
    ck_assert_uint_eq(ai.channels, 1);
    ck_assert_uint_eq(ai.data_bytes, 800 * 32); /* 300 + 500 ms of 16-bit samples at 16 kHz */
    ck_assert_int_eq(t->duration_ms, 800);
    buf_free(&file);
    free_tasks(t);
    struct task *left;
    writer_free(w, &left);
    ck_assert_ptr_null(left);
}
END_TEST

START_TEST(test_variants_written)
{
    char err[512] = "";
    struct writer *w = writer_new(sink_new(root, true), wake[1], err, sizeof err);
    ck_assert_ptr_nonnull(w);
    struct task *t = job_of("c-var", "wav_8000", 1,
                            ",\"variants\":[{\"name\":\"live\",\"text\":\"Hello.\"},"
                            "{\"name\":\"voicemail\",\"text\":\"Sorry we missed you. Call us back.\"}]");
    ck_assert_uint_eq(parts_expand(t, 25), 2);
    struct task *live = t->children[0], *vm = t->children[1];
    ck_assert_uint_eq(parts_expand(live, 25), 0);
    ck_assert_uint_eq(parts_expand(vm, 25), 2);
    child_rendered(vm->children[0], 200, NULL);
    child_rendered(vm->children[1], 300, NULL);
    ck_assert_ptr_eq(parts_child_back(vm), NULL);
    child_rendered(live, 400, NULL);
    ck_assert_int_eq(t->outcome, OUTCOME_DONE);
    writer_submit(w, t);
    t = collect(w, 1, err, sizeof err);
    ck_assert_str_eq(err, "");
    ck_assert(t->file_written);
    struct buf file = {0};
    struct audio_info ai;
    file_info("c-var.live.wav", &ai, &file);
    ck_assert_uint_eq(ai.data_bytes, 400 * 16); /* 16-bit PCM at 8 kHz */
    buf_free(&file);
    file_info("c-var.voicemail.wav", &ai, &file);
    ck_assert_uint_eq(ai.data_bytes, 500 * 16);
    buf_free(&file);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/camp/c-var.wav", root);
    ck_assert_int_ne(access(path, F_OK), 0); /* no file of the job's own */
    ck_assert_ptr_null(t->uri);
    ck_assert_int_eq(t->duration_ms, 900);
    ck_assert_int_eq(live->duration_ms, 400);
    ck_assert_int_eq(vm->duration_ms, 500);
    struct buf ev = {0};
    results_event(&ev, t, 1796280302403);
    json_t *e = json_loads(ev.data, 0, NULL);
    ck_assert_ptr_nonnull(e);
    json_t *vs = json_object_get(e, "variants");
    ck_assert_uint_eq(json_array_size(vs), 2);
    char uri[PATH_MAX + 16];
    snprintf(uri, sizeof uri, "file://%s/camp/c-var.voicemail.wav", root);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(vs, 1), "name")), "voicemail");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(vs, 1), "uri")), uri);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(vs, 1), "duration_ms")), 500);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(vs, 0), "name")), "live");
    ck_assert_int_eq(json_integer_value(json_object_get(e, "duration_ms")), 900);
    ck_assert(json_is_null(json_object_get(e, "uri")));
    json_decref(e);
    buf_free(&ev);
    free_tasks(t);
    struct task *left;
    writer_free(w, &left);
    ck_assert_ptr_null(left);
}
END_TEST

/* A variant rendered for the render-once cache (cache.h) is written alone, its parts joined,
 * under <name>.<variant>.<ext>; its job, written later, leaves that file as it is. */
START_TEST(test_variant_written_alone)
{
    char err[512] = "";
    struct writer *w = writer_new(sink_new(root, true), wake[1], err, sizeof err);
    ck_assert_ptr_nonnull(w);
    struct task *t = job_of("c-alone", "wav_8000", 1,
                            ",\"variants\":[{\"name\":\"live\",\"text\":\"Hello.\"},"
                            "{\"name\":\"voicemail\",\"text\":\"Sorry we missed you. Call us back.\"}]");
    ck_assert_uint_eq(parts_expand(t, 25), 2);
    struct task *live = t->children[0], *vm = t->children[1];
    ck_assert_uint_eq(parts_expand(vm, 25), 2);
    child_rendered(vm->children[0], 200, NULL);
    child_rendered(vm->children[1], 300, NULL);
    writer_submit(w, vm); /* complete, not handed to its job yet */
    ck_assert_ptr_eq(collect(w, 1, err, sizeof err), vm);
    ck_assert_str_eq(err, "");
    ck_assert(vm->file_written);
    char uri[PATH_MAX + 16];
    snprintf(uri, sizeof uri, "file://%s/camp/c-alone.voicemail.wav", root);
    ck_assert_str_eq(vm->uri, uri);
    ck_assert_int_eq(vm->duration_ms, 500);
    char sha[SHA256_HEX_LEN + 1];
    snprintf(sha, sizeof sha, "%s", vm->sha256);
    ck_assert_ptr_null(parts_child_back(vm));
    child_rendered(live, 400, NULL);
    writer_submit(w, t);
    ck_assert_ptr_eq(collect(w, 1, err, sizeof err), t);
    ck_assert_str_eq(err, "");
    ck_assert_int_eq(t->outcome, OUTCOME_DONE);
    ck_assert(t->file_written);
    struct buf file = {0};
    struct audio_info ai;
    file_info("c-alone.voicemail.wav", &ai, &file);
    ck_assert_uint_eq(ai.data_bytes, 500 * 16); /* as written alone: not staged again */
    buf_free(&file);
    file_info("c-alone.live.wav", &ai, &file);
    ck_assert_uint_eq(ai.data_bytes, 400 * 16);
    buf_free(&file);
    ck_assert_str_eq(vm->uri, uri);
    ck_assert_str_eq(vm->sha256, sha);
    ck_assert_int_eq(t->duration_ms, 900);
    free_tasks(t);
    struct task *left;
    writer_free(w, &left);
    ck_assert_ptr_null(left);
}
END_TEST

START_TEST(test_unusable_part_comes_back)
{
    char err[512] = "";
    struct writer *w = writer_new(sink_new(root, true), wake[1], err, sizeof err);
    ck_assert_ptr_nonnull(w);
    struct task *t = job_of("c-bad", "ulaw_8000", 30, "");
    ck_assert_uint_eq(parts_expand(t, 160), 3);
    struct buf mp3 = {0};
    audio_silent_mp3(500, &mp3);
    child_rendered(t->children[0], 300, NULL);
    child_rendered(t->children[1], 0, &mp3); /* MP3 cannot become µ-law */
    child_rendered(t->children[2], 300, NULL);
    buf_free(&mp3);
    writer_submit(w, t);
    t = collect(w, 1, err, sizeof err);
    ck_assert_str_eq(err, "");
    ck_assert(!t->file_written);
    ck_assert_int_eq(t->outcome, OUTCOME_NONE);
    ck_assert_int_eq(t->children[1]->outcome, OUTCOME_NONE);
    ck_assert_int_eq(t->children[0]->outcome, OUTCOME_DONE);
    ck_assert_int_eq(t->children[2]->outcome, OUTCOME_DONE);
    struct task *again[4];
    ck_assert_uint_eq(parts_reopen(t, again, 4), 1);
    ck_assert_ptr_eq(again[0], t->children[1]);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/camp/c-bad.wav", root);
    ck_assert_int_ne(access(path, F_OK), 0);
    free_tasks(t);
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
    tcase_add_test(tc, test_parts_joined);
    tcase_add_test(tc, test_parts_of_two_providers);
    tcase_add_test(tc, test_variants_written);
    tcase_add_test(tc, test_variant_written_alone);
    tcase_add_test(tc, test_unusable_part_comes_back);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(writer_suite)
