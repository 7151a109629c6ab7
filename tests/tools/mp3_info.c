/* mp3_info.c - what an MP3 file really holds, for tests of servers that answer MP3.
 *
 * usage: mp3_info FILE...
 * Prints, per file, one line:
 *   FILE: RATE Hz, CH ch, FRAMES_MS ms, DECODED_MS ms, peak P, rms R
 * FRAMES_MS is the duration convert_mp3_info() reads from the frame headers (what the consumer
 * records); DECODED_MS, peak and rms (of full scale 1.0, all channels) come from decoding the
 * file with libsndfile (its MPEG decoder is libmpg123), so a file of silent frames shows peak 0
 * and a file that does not decode fails. Exit 1 when any file is not a valid, decodable MP3. */
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>

#include "audio.h"
#include "buf.h"
#include "convert.h"

static int read_file(const char *path, struct buf *b)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return -1;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        buf_append(b, chunk, n);
    int rc = ferror(fp) ? -1 : 0;
    fclose(fp);
    return rc;
}

/* Decodes path; fills frames, rate, peak and rms. 0, or -1 with the reason printed. */
static int decode(const char *path, sf_count_t *frames, int *rate, double *peak, double *rms)
{
    SF_INFO info = {0};
    SNDFILE *sf = sf_open(path, SFM_READ, &info);
    if (!sf) {
        printf("%s: libsndfile cannot decode it: %s\n", path, sf_strerror(NULL));
        return -1;
    }
    double block[4096], sum = 0;
    sf_count_t got, samples = 0;
    *peak = 0;
    while ((got = sf_read_double(sf, block, 4096 - 4096 % info.channels)) > 0) {
        for (sf_count_t i = 0; i < got; i++) {
            double v = fabs(block[i]);
            *peak = v > *peak ? v : *peak;
            sum += block[i] * block[i];
        }
        samples += got;
    }
    sf_close(sf);
    *frames = samples / info.channels;
    *rate = info.samplerate;
    *rms = samples > 0 ? sqrt(sum / (double)samples) : 0;
    return 0;
}

static int info_of(const char *path)
{
    struct buf b = {0};
    struct convert_info ci;
    if (read_file(path, &b) < 0 || convert_mp3_info(b.data, b.len, &ci) < 0) {
        printf("%s: not an MP3\n", path);
        buf_free(&b);
        return -1;
    }
    buf_free(&b);
    sf_count_t frames;
    int rate;
    double peak, rms;
    if (decode(path, &frames, &rate, &peak, &rms) < 0)
        return -1;
    printf("%s: %u Hz, %u ch, %lld ms, %lld ms, peak %.4f, rms %.4f\n", path, ci.sample_rate, ci.channels,
           (long long)ci.duration_ms, (long long)(rate > 0 ? frames * 1000 / rate : 0), peak, rms);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: mp3_info FILE...\n");
        return 2;
    }
    int rc = 0;
    for (int i = 1; i < argc; i++)
        if (info_of(argv[i]) < 0)
            rc = 1;
    return rc;
}
