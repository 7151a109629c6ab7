/* convert_bench.c - CPU cost of convert_audio() per job, for each output format.
 *
 * usage: convert_bench [MS RATE]...   (default: 3000 24000, 3000 22050, 200 22050)
 * For each input (a mono PCM16 440 Hz tone of MS milliseconds at RATE Hz, as audio_tone_wav
 * makes it) and each format, converts it repeatedly and prints the best of five rounds in CPU
 * microseconds per job (this thread's CPU clock, so other processes on the machine do not
 * inflate it) and per second of audio, and what the consumer's writer thread spends per job
 * before it writes the file (writer.c: the conversion, then the SHA-256 of the bytes saved).
 * bench/convert.sh runs it. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "audio.h"
#include "buf.h"
#include "convert.h"
#include "sha256.h"

static double cpu_us(void)
{
    struct timespec t;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t) != 0)
        return 0;
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* Best of five rounds of enough jobs to fill about 0.2 s of CPU each; -1 when a job fails.
 * With `hash`, each job also hashes the file it would save, as the writer does. */
static double cost_us(const struct buf *in, enum out_format want, bool hash)
{
    struct buf out = {0};
    char err[256];
    double best = -1;
    int jobs = 1;
    for (int round = 0; round < 5; round++) {
        double t0 = cpu_us();
        for (int i = 0; i < jobs; i++) {
            buf_reset(&out);
            int rc = convert_audio(in->data, in->len, CONVERT_IN_WAV, want, &out, NULL, err,
                                   sizeof err);
            if (rc < 0) {
                fprintf(stderr, "convert_bench: %s: %s\n", out_format_name(want), err);
                buf_free(&out);
                return -1;
            }
            if (hash) {
                char hex[SHA256_HEX_LEN + 1];
                const struct buf *saved = rc == CONVERT_UNCHANGED ? in : &out;
                sha256_hex(saved->data, saved->len, hex);
            }
        }
        double per = (cpu_us() - t0) / jobs;
        if (best < 0 || per < best)
            best = per;
        if (round == 0)   /* size the later rounds from the first */
            jobs = per > 0 ? (int)(200000 / per) + 1 : 1000;
    }
    buf_free(&out);
    return best;
}

static int bench_input(int ms, int rate)
{
    struct buf in = {0};
    audio_tone_wav(ms, rate, &in);
    printf("input: %d ms, %d Hz mono PCM16 (%zu bytes)\n", ms, rate, in.len);
    printf("  %-10s %12s %16s %18s\n", "format", "CPU us/job", "CPU us/audio s",
           "writer us/job");
    int rc = 0;
    for (int f = 0; f < OUT_FORMAT_COUNT; f++) {
        double us = cost_us(&in, (enum out_format)f, false);
        double writer = us < 0 ? -1 : cost_us(&in, (enum out_format)f, true);
        if (us < 0 || writer < 0) {
            rc = 1;
            continue;
        }
        printf("  %-10s %12.1f %16.1f %18.1f\n", out_format_name((enum out_format)f), us,
               us * 1000.0 / ms, writer);
    }
    buf_free(&in);
    return rc;
}

int main(int argc, char **argv)
{
    static const int defaults[][2] = {{3000, 24000}, {3000, 22050}, {200, 22050}};
    int rc = 0;
    if (argc > 1) {
        if (argc % 2 == 0) {
            fprintf(stderr, "usage: convert_bench [MS RATE]...\n");
            return 2;
        }
        for (int i = 1; i + 1 < argc; i += 2)
            rc |= bench_input(atoi(argv[i]), atoi(argv[i + 1]));
        return rc;
    }
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
        rc |= bench_input(defaults[i][0], defaults[i][1]);
    return rc;
}
