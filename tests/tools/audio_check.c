/* audio_check.c - validates audio files the way the consumer validates provider answers
 * (audio_validate: whole WAV/MP3, nothing cut short). Prints one line per bad file; exit 1 when
 * any is bad.
 *
 * usage: audio_check [--strict] [--info] FILE...
 *   --strict  a WAV must also have TRUE header sizes, as a saved file must (audio_wav_seal): no
 *             placeholder (0 or >= 0x7FFFF000) in the RIFF or data size, RIFF = file size - 8,
 *             and the chunks (each with its pad byte) tile the file exactly, so the data chunk
 *             ends where the file or the next chunk does. Checked here from the bytes, apart
 *             from audio.c, so a mistake in the sealing code cannot hide itself.
 *   --info    prints "FILE: RATE Hz, CH ch, BITS bit, codec TAG, BYTES bytes, MS ms" for each
 *             good WAV (audio_wav_info). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio.h"
#include "buf.h"

static uint32_t le32(const struct buf *b, uint64_t at)
{
    const uint8_t *p = (const uint8_t *)b->data + at;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool is_placeholder(uint32_t size)
{
    return size == 0 || size >= AUDIO_WAV_SIZE_PLACEHOLDER;
}

/* The --strict rule; 0, or -1 with the reason in err. b already passed audio_validate. */
static int strict_sizes(const struct buf *b, char *err, size_t errlen)
{
    uint32_t riff = le32(b, 4);
    if (is_placeholder(riff) || (uint64_t)riff + 8 != b->len) {
        snprintf(err, errlen, "RIFF size %u is not the file's size - 8 (%zu)", riff, b->len - 8);
        return -1;
    }
    bool data = false;
    uint64_t off = 12;
    while (off < b->len) {
        if (off + 8 > b->len) {
            snprintf(err, errlen, "%llu stray bytes after the last chunk",
                     (unsigned long long)(b->len - off));
            return -1;
        }
        uint32_t size = le32(b, off + 4);
        bool is_data = memcmp(b->data + off, "data", 4) == 0;
        if (is_data && is_placeholder(size)) {
            snprintf(err, errlen, "'data' size %u is a placeholder", size);
            return -1;
        }
        uint64_t next = off + 8 + size + (size & 1u);
        if (next > b->len) {
            snprintf(err, errlen, "chunk at %llu (%u bytes%s) runs %llu bytes past the end of the file",
                     (unsigned long long)off, size, size & 1u ? " and a pad byte" : "",
                     (unsigned long long)(next - b->len));
            return -1;
        }
        data = data || is_data;
        off = next;
    }
    if (!data) {
        snprintf(err, errlen, "no 'data' chunk");
        return -1;
    }
    return 0;
}

static int read_file(const char *path, struct buf *b)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return -1;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        buf_append(b, chunk, n);
    int bad = ferror(fp);
    fclose(fp);
    return bad ? -1 : 0;
}

static int check(const char *path, bool strict, bool info)
{
    struct buf b = {0};
    if (read_file(path, &b) < 0) {
        printf("%s: cannot read\n", path);
        buf_free(&b);
        return -1;
    }
    const char *dot = strrchr(path, '.');
    enum audio_format f = dot && strcmp(dot, ".mp3") == 0 ? AUDIO_MP3 : AUDIO_WAV;
    char err[256];
    int rc = audio_validate(b.data ? b.data : "", b.len, f, err, sizeof err);
    if (rc == 0 && f == AUDIO_WAV && strict)
        rc = strict_sizes(&b, err, sizeof err);
    if (rc != 0) {
        printf("%s: %s\n", path, err);
    } else if (f == AUDIO_WAV && info) {
        struct audio_info in;
        if (audio_wav_info(b.data, b.len, &in) == 0)
            printf("%s: %u Hz, %u ch, %u bit, codec %u, %llu bytes, %lld ms\n", path,
                   in.sample_rate, in.channels, in.bits, in.codec,
                   (unsigned long long)in.data_bytes, (long long)in.duration_ms);
    }
    buf_free(&b);
    return rc;
}

int main(int argc, char **argv)
{
    bool strict = false, info = false;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
        if (strcmp(argv[i], "--strict") == 0) {
            strict = true;
        } else if (strcmp(argv[i], "--info") == 0) {
            info = true;
        } else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else {
            fprintf(stderr, "audio_check: unknown option %s\n"
                    "usage: audio_check [--strict] [--info] FILE...\n", argv[i]);
            return 2;
        }
    }
    int bad = 0;
    for (; i < argc; i++)
        bad += check(argv[i], strict, info) != 0;
    return bad ? 1 : 0;
}
