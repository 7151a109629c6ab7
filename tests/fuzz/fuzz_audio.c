/* fuzz_audio.c - libFuzzer target for audio validation (common/audio.c).
 *
 * audio_validate() reads the body a TTS provider sent, declared sizes and all, so it is the
 * parser most exposed to hostile bytes. The input is validated as WAV and as MP3 from a copy of
 * exactly its size (libFuzzer's buffer already is; the copy keeps that true if libFuzzer changes),
 * so AddressSanitizer catches a read one byte past the body. A rejection must give a reason, a
 * body accepted as WAV starts with "RIFF" and one accepted as MP3 with "ID3" or a frame sync, and
 * a validation with no error buffer (err NULL, errlen 0) must agree with one that has it.
 *
 * WAV bodies go on through the rest of the module: audio_wav_info() succeeds exactly when
 * validation does; sealing an accepted body succeeds and leaves a body that validates, whose
 * sizes are true (RIFF = length - 8, the chunks tile the body exactly, the data size is the audio
 * info counted) and that reads the same, and sealing it again changes nothing; a refused body is
 * left untouched by seal. The input is also wrapped as raw PCM (audio_wav_from_pcm), which
 * succeeds exactly when it is a non-empty whole number of frames and then validates. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio.h"
#include "buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_audio: %s\n", what);
        abort();
    }
}

static void check_format(const uint8_t *body, size_t size, enum audio_format f)
{
    char err[256] = "";
    int rc = audio_validate(body, size, f, err, sizeof err);
    fuzz_check(rc == 0 || rc == -1, "result is neither 0 nor -1");
    fuzz_check(rc == 0 || err[0] != '\0', "rejected without a reason");
    fuzz_check(audio_validate(body, size, f, NULL, 0) == rc, "result depends on the error buffer");
    if (rc == 0 && f == AUDIO_WAV)
        fuzz_check(size >= 12 && memcmp(body, "RIFF", 4) == 0, "WAV accepted without RIFF");
    if (rc == 0 && f == AUDIO_MP3)
        fuzz_check(size >= 4 && (memcmp(body, "ID3", 3) == 0 || body[0] == 0xFF),
                   "MP3 accepted without a tag or frame sync");
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* RIFF = len - 8 and the chunks after "WAVE", pads included, end exactly at len; *data_size is
 * the data chunk's size field. Written apart from audio.c. */
static bool sizes_are_true(const uint8_t *p, size_t len, uint32_t *data_size)
{
    if (len < 12 || le32(p + 4) != len - 8)
        return false;
    bool data = false;
    uint64_t off = 12;
    while (off < len) {
        if (off + 8 > len)
            return false;
        uint32_t size = le32(p + off + 4);
        if (!data && memcmp(p + off, "data", 4) == 0) {
            data = true;
            *data_size = size;
        }
        off += 8u + (uint64_t)size + (size & 1u);
    }
    return data && off == len;
}

static void check_seal(const uint8_t *body, size_t size, int valid)
{
    struct audio_info before, after;
    fuzz_check(audio_wav_info(body, size, &before) == (valid ? 0 : -1), "info disagrees with validate");
    struct buf b = {0};
    buf_append(&b, body, size);
    char err[256] = "";
    int rc = audio_wav_seal(&b, err, sizeof err);
    if (!valid) {
        fuzz_check(rc == -1 && err[0] != '\0', "seal accepted a body validate refused");
        fuzz_check(b.len == size && (size == 0 || memcmp(b.data, body, size) == 0),
                   "seal changed a refused body");
        buf_free(&b);
        return;
    }
    fuzz_check(rc == 0, "seal refused a valid body");
    fuzz_check(audio_validate(b.data, b.len, AUDIO_WAV, NULL, 0) == 0, "sealed body does not validate");
    uint32_t data_size = 0;
    fuzz_check(sizes_are_true((const uint8_t *)b.data, b.len, &data_size), "sealed sizes are not true");
    fuzz_check(data_size == before.data_bytes, "sealed data size is not the audio counted");
    fuzz_check(audio_wav_info(b.data, b.len, &after) == 0 && memcmp(&before, &after, sizeof before) == 0,
               "sealed body reads differently");
    struct buf again = {0};
    buf_append(&again, b.data, b.len);
    fuzz_check(audio_wav_seal(&again, NULL, 0) == 0 && again.len == b.len &&
               memcmp(again.data, b.data, b.len) == 0, "sealing twice changed the body");
    buf_free(&again);
    buf_free(&b);
}

static void check_pcm(const uint8_t *body, size_t size)
{
    int channels = size ? 1 + body[0] % 3 : 1;
    struct buf b = {0};
    int rc = audio_wav_from_pcm(body, size, 24000, channels, &b, NULL, 0);
    bool whole = size > 0 && size % (2u * (unsigned)channels) == 0;
    fuzz_check(rc == (whole ? 0 : -1), "PCM wrapping disagrees with the frame rule");
    fuzz_check(rc == 0 || b.len == 0, "PCM wrapping failed but wrote");
    if (rc == 0) {
        struct audio_info in;
        fuzz_check(audio_wav_info(b.data, b.len, &in) == 0 && in.data_bytes == size &&
                   in.channels == channels, "wrapped PCM does not read back");
    }
    buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *body = calloc(size ? size : 1, 1);
    if (!body)
        return 0;
    if (size)
        memcpy(body, data, size);
    check_format(body, size, AUDIO_WAV);
    check_format(body, size, AUDIO_MP3);
    check_seal(body, size, audio_validate(body, size, AUDIO_WAV, NULL, 0) == 0);
    check_pcm(body, size);
    free(body);
    return 0;
}
