/* fuzz_audio.c - libFuzzer target for audio validation (common/audio.c).
 *
 * audio_validate() reads the body a TTS provider sent, declared sizes and all, so it is the
 * parser most exposed to hostile bytes. The input is validated as WAV and as MP3 from a copy of
 * exactly its size (libFuzzer's buffer already is; the copy keeps that true if libFuzzer changes),
 * so AddressSanitizer catches a read one byte past the body. A rejection must give a reason, a
 * body accepted as WAV starts with "RIFF" and one accepted as MP3 with "ID3" or a frame sync, and
 * a validation with no error buffer (err NULL, errlen 0) must agree with one that has it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *body = malloc(size ? size : 1);
    if (!body)
        return 0;
    if (size)
        memcpy(body, data, size);
    check_format(body, size, AUDIO_WAV);
    check_format(body, size, AUDIO_MP3);
    free(body);
    return 0;
}
