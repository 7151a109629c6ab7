/* check_audio.c - audio format names, validation of bodies, generated WAV/MP3.
 *
 * Validation decides whether a provider's 200 is usable audio, so the failure cases matter as
 * much as the happy ones: a body cut by one byte, an HTML error page, a JSON error, a header that
 * lies. Bodies are built in the test from the generators and then damaged byte by byte. The
 * espeak-ng renderer lives here too: its whole output contract is "a valid WAV". */
#include <check.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audio.h"
#include "buf.h"
#include "check_main.h"
#include "convert.h"
#include "espeak.h"

static char err[256];

static int check_wav(const struct buf *b)
{
    err[0] = '\0';
    return audio_validate(b->data, b->len, AUDIO_WAV, err, sizeof err);
}

static int check_mp3(const void *p, size_t len)
{
    err[0] = '\0';
    return audio_validate(p, len, AUDIO_MP3, err, sizeof err);
}

static void put32(struct buf *b, size_t at, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b->data[at + (size_t)i] = (char)(uint8_t)(v >> (8 * i));
}

static void small_wav(struct buf *b)
{
    static const int16_t s[] = {0, 1000, -1000, 32767, -32768, 5};
    audio_wav_from_pcm16(s, 6, 16000, b);
}

/* ---- names ---- */

START_TEST(format_parse_and_name)
{
    enum audio_format f = AUDIO_MP3;
    ck_assert_int_eq(audio_format_parse("wav", &f), 0);
    ck_assert_int_eq(f, AUDIO_WAV);
    ck_assert_int_eq(audio_format_parse("mp3", &f), 0);
    ck_assert_int_eq(f, AUDIO_MP3);
    ck_assert_int_eq(audio_format_parse("WAV", &f), -1);
    ck_assert_int_eq(audio_format_parse("ogg", &f), -1);
    ck_assert_int_eq(audio_format_parse("", &f), -1);
    ck_assert_int_eq(audio_format_parse(NULL, &f), -1);
    ck_assert_int_eq(f, AUDIO_MP3);   /* untouched on failure */
    ck_assert_str_eq(audio_format_name(AUDIO_WAV), "wav");
    ck_assert_str_eq(audio_format_name(AUDIO_MP3), "mp3");
    ck_assert_str_eq(audio_format_name((enum audio_format)7), "?");
}
END_TEST

/* ---- WAV generation ---- */

START_TEST(wav_from_pcm16_layout)
{
    struct buf b = {0};
    small_wav(&b);
    ck_assert_uint_eq(b.len, 44 + 12);
    ck_assert_int_eq(memcmp(b.data, "RIFF", 4), 0);
    ck_assert_int_eq(memcmp(b.data + 8, "WAVEfmt ", 8), 0);
    const uint8_t *p = (const uint8_t *)b.data;
    ck_assert_uint_eq(p[4] | p[5] << 8, 36 + 12);
    ck_assert_uint_eq(p[24] | p[25] << 8, 16000);
    ck_assert_uint_eq(p[40], 12);
    ck_assert_uint_eq(p[44 + 6], 0xFF);   /* 32767 little-endian */
    ck_assert_uint_eq(p[44 + 7], 0x7F);
    ck_assert_uint_eq(p[44 + 8], 0x00);   /* -32768 */
    ck_assert_uint_eq(p[44 + 9], 0x80);
    ck_assert_int_eq(check_wav(&b), 0);
    buf_free(&b);
}
END_TEST

START_TEST(wav_appends_after_existing_bytes)
{
    struct buf b = {0};
    buf_puts(&b, "xyz");
    small_wav(&b);
    ck_assert_uint_eq(b.len, 3 + 44 + 12);
    ck_assert_int_eq(audio_validate(b.data + 3, b.len - 3, AUDIO_WAV, err, sizeof err), 0);
    buf_free(&b);
}
END_TEST

START_TEST(tone_is_valid_and_sized)
{
    struct buf b = {0};
    audio_tone_wav(200, 22050, &b);
    ck_assert_uint_eq(b.len, 44 + 2 * 4410);
    ck_assert_int_eq(check_wav(&b), 0);
    int peak = 0;
    for (size_t i = 44; i + 1 < b.len; i += 2) {
        int v = (int16_t)((uint8_t)b.data[i] | (uint8_t)b.data[i + 1] << 8);
        peak = v > peak ? v : peak;
    }
    ck_assert_int_gt(peak, 8000);    /* audible, not silence */
    ck_assert_int_lt(peak, 12000);   /* 0.3 of full scale, no clipping */
    ck_assert_int_eq(b.data[44], 0); /* starts from zero: faded in */
    buf_free(&b);
}
END_TEST

START_TEST(tone_degenerate_arguments)
{
    struct buf b = {0};
    audio_tone_wav(0, 0, &b);   /* one sample at the default rate */
    ck_assert_uint_eq(b.len, 46);
    ck_assert_int_eq(check_wav(&b), 0);
    buf_reset(&b);
    audio_tone_wav(-5, 8000, &b);
    ck_assert_uint_eq(b.len, 46);
    buf_free(&b);
}
END_TEST

/* ---- WAV validation failures ---- */

START_TEST(wav_cut_by_one_byte_fails)
{
    struct buf b = {0};
    audio_tone_wav(50, 16000, &b);
    ck_assert_int_eq(audio_validate(b.data, b.len - 1, AUDIO_WAV, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "cut short"));
    buf_free(&b);
}
END_TEST

START_TEST(wav_data_declared_larger_fails)
{
    struct buf b = {0};
    small_wav(&b);
    put32(&b, 40, 1000);   /* what a truncating server sends: header promises more */
    put32(&b, 4, 0);       /* even with the streaming placeholder for RIFF */
    ck_assert_int_eq(check_wav(&b), -1);
    ck_assert_ptr_nonnull(strstr(err, "1000"));
    buf_free(&b);
}
END_TEST

START_TEST(wav_wrong_magic_fails)
{
    struct buf b = {0};
    small_wav(&b);
    memcpy(b.data, "RIFX", 4);
    ck_assert_int_eq(check_wav(&b), -1);
    memcpy(b.data, "RIFF", 4);
    memcpy(b.data + 8, "AVI ", 4);
    ck_assert_int_eq(check_wav(&b), -1);
    ck_assert_ptr_nonnull(strstr(err, "not a WAV"));
    buf_free(&b);
}
END_TEST

START_TEST(html_and_json_fail)
{
    const char *html = "<!DOCTYPE html><html><body>502 Bad Gateway</body></html>";
    const char *json = "  {\"error\":{\"message\":\"quota\"}}";
    ck_assert_int_eq(audio_validate(html, strlen(html), AUDIO_WAV, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "HTML"));
    ck_assert_int_eq(audio_validate(html, strlen(html), AUDIO_MP3, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "HTML"));
    ck_assert_int_eq(audio_validate(json, strlen(json), AUDIO_WAV, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "JSON"));
    ck_assert_int_eq(audio_validate(json, strlen(json), AUDIO_MP3, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "JSON"));
}
END_TEST

START_TEST(empty_fails)
{
    ck_assert_int_eq(audio_validate("", 0, AUDIO_WAV, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "empty"));
    ck_assert_int_eq(audio_validate(NULL, 0, AUDIO_MP3, err, sizeof err), -1);
    ck_assert_int_eq(audio_validate("RIFF", 4, AUDIO_WAV, err, sizeof err), -1);
    ck_assert_int_eq(audio_validate("\n\n", 2, AUDIO_WAV, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "blank"));
}
END_TEST

START_TEST(zero_data_size_fails)
{
    struct buf b = {0};
    audio_wav_from_pcm16(NULL, 0, 22050, &b);
    ck_assert_uint_eq(b.len, 44);
    ck_assert_int_eq(check_wav(&b), -1);
    ck_assert_ptr_nonnull(strstr(err, "0 bytes"));
    buf_free(&b);
}
END_TEST

START_TEST(wav_streaming_riff_size_tolerated)
{
    struct buf b = {0};
    small_wav(&b);
    put32(&b, 4, 0xFFFFFFFFu);
    ck_assert_int_eq(check_wav(&b), 0);
    put32(&b, 4, 0);
    ck_assert_int_eq(check_wav(&b), 0);
    put32(&b, 40, 0xFFFFFFFFu);   /* data size unknown too: the rest of the body is the audio */
    ck_assert_int_eq(check_wav(&b), 0);
    ck_assert_int_eq(audio_validate(b.data, b.len - 1, AUDIO_WAV, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "whole number of sample frames"));
    buf_free(&b);
}
END_TEST

START_TEST(wav_riff_larger_than_body_fails)
{
    struct buf b = {0};
    small_wav(&b);
    put32(&b, 4, 36 + 12 + 100);   /* data complete, but a trailing chunk never arrived */
    ck_assert_int_eq(check_wav(&b), -1);
    ck_assert_ptr_nonnull(strstr(err, "RIFF"));
    put32(&b, 4, 20);              /* smaller than the body: trailing bytes are tolerated */
    ck_assert_int_eq(check_wav(&b), 0);
    buf_free(&b);
}
END_TEST

/* RIFF, WAVE, fmt (16 bytes), then an odd-sized LIST chunk with its pad byte, then data. */
static void wav_with_list(struct buf *b, int pad)
{
    struct buf w = {0};
    small_wav(&w);
    buf_append(b, w.data, 36);
    buf_append(b, "LIST\x03\x00\x00\x00" "abc", 11);
    if (pad)
        buf_putc(b, '\0');
    buf_append(b, w.data + 36, w.len - 36);
    put32(b, 4, (uint32_t)b->len - 8);
    buf_free(&w);
}

START_TEST(wav_extra_chunk_and_padding)
{
    struct buf b = {0};
    wav_with_list(&b, 1);
    ck_assert_int_eq(check_wav(&b), 0);
    buf_reset(&b);
    wav_with_list(&b, 0);   /* missing pad byte: the walk lands one byte off */
    ck_assert_int_eq(check_wav(&b), -1);
    buf_free(&b);
}
END_TEST

START_TEST(wav_chunk_order_and_fmt_sanity)
{
    struct buf b = {0};
    small_wav(&b);
    b.data[22] = 0;   /* 0 channels */
    ck_assert_int_eq(check_wav(&b), -1);
    ck_assert_ptr_nonnull(strstr(err, "channels"));
    b.data[22] = 1;
    put32(&b, 24, 0);   /* 0 Hz */
    ck_assert_int_eq(check_wav(&b), -1);
    ck_assert_ptr_nonnull(strstr(err, "rate"));
    put32(&b, 24, 16000);
    memcpy(b.data + 12, "junk", 4);   /* fmt renamed: data comes first */
    ck_assert_int_eq(check_wav(&b), -1);
    ck_assert_ptr_nonnull(strstr(err, "before"));
    buf_free(&b);
}
END_TEST

START_TEST(wav_chunk_cut_before_data_fails)
{
    struct buf b = {0};
    small_wav(&b);
    put32(&b, 16, 1000);   /* fmt claims 1000 bytes: runs past the end */
    ck_assert_int_eq(check_wav(&b), -1);
    ck_assert_ptr_nonnull(strstr(err, "'fmt '"));
    b.len = 36;            /* header and fmt only */
    put32(&b, 16, 16);
    ck_assert_int_eq(check_wav(&b), -1);
    ck_assert_ptr_nonnull(strstr(err, "no 'data'"));
    buf_free(&b);
}
END_TEST

START_TEST(mp3_body_is_not_wav)
{
    struct buf b = {0};
    audio_silent_mp3(100, &b);
    ck_assert_int_eq(check_wav(&b), -1);
    ck_assert_ptr_nonnull(strstr(err, "MPEG"));
    buf_reset(&b);
    small_wav(&b);
    ck_assert_int_eq(check_mp3(b.data, b.len), -1);
    ck_assert_ptr_nonnull(strstr(err, "WAV"));
    buf_free(&b);
}
END_TEST

/* ---- streamed WAV: the headers real providers send ---- */

/* OpenAI POST /v1/audio/speech with response_format "wav" streams this header: RIFF and data
 * sizes 0xFFFFFFFF, then PCM, mono, 24000 Hz, 48000 bytes/s. The first 32 bytes are the
 * `curl | xxd` dump in speaches-ai/speaches issue #493; the rest (block align 2, 16 bits, "data",
 * 0xFFFFFFFF) is the canonical 44-byte layout the issue describes ("maximally large values for
 * the file size and data chunk size"). Kokoro-FastAPI writes the same header on purpose to match
 * OpenAI (remsky/Kokoro-FastAPI PR #94). */
static const uint8_t openai_wav_header[44] = {
    'R', 'I', 'F', 'F', 0xff, 0xff, 0xff, 0xff, 'W', 'A', 'V', 'E', 'f', 'm', 't', ' ',
    0x10, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0xc0, 0x5d, 0x00, 0x00, 0x80, 0xbb, 0x00, 0x00,
    0x02, 0x00, 0x10, 0x00, 'd', 'a', 't', 'a', 0xff, 0xff, 0xff, 0xff};

/* ElevenLabs streams its wav_* output formats with 0x7FFFFFFF in the RIFF and data sizes, never
 * patched afterwards (pollinations/pollinations PR #11457); here wav_22050: PCM, mono, 22050 Hz,
 * 44100 bytes/s, 16 bits. */
static const uint8_t elevenlabs_wav_header[44] = {
    'R', 'I', 'F', 'F', 0xff, 0xff, 0xff, 0x7f, 'W', 'A', 'V', 'E', 'f', 'm', 't', ' ',
    0x10, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x22, 0x56, 0x00, 0x00, 0x44, 0xac, 0x00, 0x00,
    0x02, 0x00, 0x10, 0x00, 'd', 'a', 't', 'a', 0xff, 0xff, 0xff, 0x7f};

static uint32_t get32(const struct buf *b, size_t at)
{
    const uint8_t *p = (const uint8_t *)b->data + at;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* n bytes of a deterministic waveform (any bytes are valid 16-bit PCM). */
static void pcm_bytes(struct buf *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf_putc(b, (char)(uint8_t)(i * 37u + 11u));
}

/* True when the header's sizes are the file's: RIFF = length - 8, no size is a placeholder, and
 * the chunks after "WAVE" (each with its pad byte) end exactly at the end of the file, so the
 * data chunk ends where the file or the next chunk does. Written independently of audio.c. */
static bool sizes_are_true(const struct buf *b, uint32_t *data_size)
{
    if (b->len < 12 || get32(b, 4) != b->len - 8)
        return false;
    bool data = false;
    uint64_t off = 12;
    while (off < b->len) {
        if (off + 8 > b->len)
            return false;
        uint32_t size = get32(b, (size_t)off + 4);
        if (memcmp(b->data + off, "data", 4) == 0) {
            if (size == 0 || size >= 0x7FFFF000u)
                return false;
            data = true;
            *data_size = size;
        }
        off += 8u + (uint64_t)size + (size & 1u);
    }
    return data && off == b->len;
}

/* Validates, reads, seals and re-reads a streamed body of `audio` bytes; checks the sealed
 * header is true and the duration is the audio's. */
static void assert_streamed_ok(struct buf *b, uint64_t audio, uint32_t rate, int64_t ms)
{
    struct audio_info before, after;
    ck_assert_msg(check_wav(b) == 0, "%s", err);
    ck_assert_int_eq(audio_wav_info(b->data, b->len, &before), 0);
    ck_assert_uint_eq(before.data_bytes, audio);
    ck_assert_uint_eq(before.sample_rate, rate);
    ck_assert_int_eq(before.duration_ms, ms);
    size_t len = b->len;
    ck_assert_int_eq(audio_wav_seal(b, err, sizeof err), 0);
    ck_assert_uint_eq(b->len, len);
    uint32_t data_size = 0;
    ck_assert(sizes_are_true(b, &data_size));
    ck_assert_uint_eq(data_size, audio);
    ck_assert_int_eq(check_wav(b), 0);
    ck_assert_int_eq(audio_wav_info(b->data, b->len, &after), 0);
    ck_assert_mem_eq(&before, &after, sizeof before);
}

START_TEST(wav_openai_streamed_header)
{
    struct buf b = {0};
    buf_append(&b, openai_wav_header, sizeof openai_wav_header);
    pcm_bytes(&b, 48000 + 4800);   /* 1.1 s at 24 kHz mono 16-bit */
    assert_streamed_ok(&b, 52800, 24000, 1100);
    struct audio_info in;
    ck_assert_int_eq(audio_wav_info(b.data, b.len, &in), 0);
    ck_assert_uint_eq(in.channels, 1);
    ck_assert_uint_eq(in.bits, 16);
    ck_assert_uint_eq(in.codec, 1);
    ck_assert_uint_eq(get32(&b, 4), 44 + 52800 - 8);
    ck_assert_uint_eq(get32(&b, 40), 52800);
    ck_assert_int_eq(memcmp(b.data + 8, openai_wav_header + 8, 32), 0);   /* the rest untouched */
    buf_free(&b);
}
END_TEST

START_TEST(wav_elevenlabs_streamed_header)
{
    struct buf b = {0};
    buf_append(&b, elevenlabs_wav_header, sizeof elevenlabs_wav_header);
    pcm_bytes(&b, 44100 * 3 / 2);   /* 1.5 s at 22050 Hz */
    assert_streamed_ok(&b, 66150, 22050, 1500);
    ck_assert_uint_eq(get32(&b, 40), 66150);
    buf_free(&b);
}
END_TEST

/* Other placeholders streaming writers leave: libsndfile and Python's wave before close (0, or
 * RIFF 36 for an empty data chunk), sox on a pipe (data 0x7FFFF000, RIFF 0x7FFFF024), writers
 * that put 0xFFFFFFFF - 36 in the data size. Each pair is RIFF, data. */
START_TEST(wav_other_placeholders)
{
    static const uint32_t pairs[][2] = {
        {0, 0}, {36, 0}, {0x7FFFF024u, 0x7FFFF000u}, {0xFFFFFFFFu, 0xFFFFFFDBu},
        {0xFFFFFFFFu, 0}, {0, 0xFFFFFFFFu}, {0x7FFFF000u, 0x7FFFFFFFu}, {44 + 4800 - 8, 0xFFFFFFFFu},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        struct buf b = {0};
        buf_append(&b, openai_wav_header, sizeof openai_wav_header);
        put32(&b, 4, pairs[i][0]);
        put32(&b, 40, pairs[i][1]);
        pcm_bytes(&b, 4800);
        assert_streamed_ok(&b, 4800, 24000, 100);
        buf_free(&b);
    }
}
END_TEST

START_TEST(wav_streamed_odd_bytes_fail)
{
    struct buf b = {0};
    buf_append(&b, openai_wav_header, sizeof openai_wav_header);
    pcm_bytes(&b, 4801);   /* the stream stopped inside a sample */
    ck_assert_int_eq(check_wav(&b), -1);
    ck_assert_ptr_nonnull(strstr(err, "not a whole number of sample frames"));
    size_t len = b.len;
    ck_assert_int_eq(audio_wav_seal(&b, err, sizeof err), -1);
    ck_assert_uint_eq(b.len, len);
    ck_assert_uint_eq(get32(&b, 40), 0xFFFFFFFFu);   /* untouched */
    struct audio_info in;
    ck_assert_int_eq(audio_wav_info(b.data, b.len, &in), -1);
    ck_assert_uint_eq(in.sample_rate, 0);
    put32(&b, 40, 4801);   /* a real odd size is judged the same way */
    ck_assert_int_eq(check_wav(&b), -1);
    ck_assert_ptr_nonnull(strstr(err, "sample frames"));
    b.data[22] = 2;        /* stereo: frames of 4 bytes */
    b.data[32] = 4;
    put32(&b, 40, 0xFFFFFFFFu);
    b.len = 44 + 4802;
    ck_assert_int_eq(check_wav(&b), -1);
    ck_assert_ptr_nonnull(strstr(err, "4 bytes each"));
    b.len = 44 + 4800;
    ck_assert_int_eq(check_wav(&b), 0);
    buf_free(&b);
}
END_TEST

/* The limit of the rule: a streamed body cut exactly between two frames looks whole here. That
 * cut is the transport's to see (no final chunk, or fewer than Content-Length bytes: libcurl
 * fails the transfer), which is why the judge runs only on completed transfers. */
START_TEST(wav_streamed_cut_on_a_frame_is_the_transports_to_see)
{
    struct buf b = {0};
    buf_append(&b, openai_wav_header, sizeof openai_wav_header);
    pcm_bytes(&b, 4800);
    for (size_t cut = 1; cut < 4800; cut += 479) {
        int rc = audio_validate(b.data, b.len - cut, AUDIO_WAV, err, sizeof err);
        ck_assert_int_eq(rc, cut % 2 == 0 ? 0 : -1);
    }
    buf_free(&b);
}
END_TEST

START_TEST(wav_streamed_header_only_fails)
{
    struct buf b = {0};
    buf_append(&b, openai_wav_header, sizeof openai_wav_header);
    ck_assert_int_eq(check_wav(&b), -1);
    ck_assert_ptr_nonnull(strstr(err, "0 bytes"));
    buf_free(&b);
}
END_TEST

/* A real size is believed even when the transfer completed: the server sent less than its own
 * header promised. Just below the placeholder range is still a real size. */
START_TEST(wav_real_size_beyond_body_is_cut_short)
{
    static const uint32_t sizes[] = {4802, 9600, 0x7FFFEFFEu};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        struct buf b = {0};
        buf_append(&b, openai_wav_header, sizeof openai_wav_header);
        put32(&b, 40, sizes[i]);
        pcm_bytes(&b, 4800);
        ck_assert_int_eq(check_wav(&b), -1);
        ck_assert_ptr_nonnull(strstr(err, "cut short"));
        ck_assert_int_eq(audio_wav_seal(&b, err, sizeof err), -1);
        put32(&b, 40, 0xFFFFFFFFu);
        put32(&b, 4, sizes[i] < 0x7FFFEFDAu ? 36 + sizes[i] : 0x7FFFEFFFu);   /* RIFF alike */
        ck_assert_int_eq(check_wav(&b), -1);
        ck_assert_ptr_nonnull(strstr(err, "RIFF"));
        buf_free(&b);
    }
}
END_TEST

/* WAVE_FORMAT_EXTENSIBLE: fmt of 40 bytes, the real format in the SubFormat GUID. */
static void extensible_wav(struct buf *b, uint16_t sub_tag, uint16_t channels, uint16_t bits,
                           uint32_t rate, size_t audio)
{
    uint16_t align = (uint16_t)(channels * (bits / 8));
    uint8_t h[68] = {'R', 'I', 'F', 'F', 0xff, 0xff, 0xff, 0xff, 'W', 'A', 'V', 'E', 'f', 'm', 't', ' ',
                     40, 0, 0, 0, 0xfe, 0xff};
    h[22] = (uint8_t)channels;
    for (int i = 0; i < 4; i++) {
        h[24 + i] = (uint8_t)(rate >> (8 * i));
        h[28 + i] = (uint8_t)((rate * align) >> (8 * i));
    }
    h[32] = (uint8_t)align;
    h[34] = (uint8_t)bits;
    h[36] = 22;                   /* cbSize */
    h[38] = (uint8_t)bits;        /* valid bits */
    h[40] = 3;                    /* channel mask: front left, front right */
    h[44] = (uint8_t)sub_tag;     /* SubFormat: tag, then the KSDATAFORMAT_SUBTYPE base */
    h[45] = (uint8_t)(sub_tag >> 8);
    static const uint8_t tail[14] = {0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71};
    memcpy(h + 46, tail, sizeof tail);
    memcpy(h + 60, "data\xff\xff\xff\xff", 8);
    buf_append(b, h, sizeof h);
    pcm_bytes(b, audio);
}

START_TEST(wav_extensible_fmt)
{
    struct buf b = {0};
    extensible_wav(&b, 1, 2, 16, 48000, 19200);   /* 100 ms of 16-bit stereo */
    struct audio_info in;
    ck_assert_msg(check_wav(&b) == 0, "%s", err);
    ck_assert_int_eq(audio_wav_info(b.data, b.len, &in), 0);
    ck_assert_uint_eq(in.codec, 1);
    ck_assert_uint_eq(in.channels, 2);
    ck_assert_int_eq(in.duration_ms, 100);
    ck_assert_int_eq(audio_wav_seal(&b, err, sizeof err), 0);
    uint32_t data_size = 0;
    ck_assert(sizes_are_true(&b, &data_size));
    ck_assert_uint_eq(data_size, 19200);
    buf_reset(&b);
    extensible_wav(&b, 1, 2, 16, 48000, 19202);   /* half a frame too many */
    ck_assert_int_eq(check_wav(&b), -1);
    ck_assert_ptr_nonnull(strstr(err, "sample frames"));
    buf_reset(&b);
    extensible_wav(&b, 3, 1, 32, 16000, 6400);    /* IEEE float */
    ck_assert_int_eq(audio_wav_info(b.data, b.len, &in), 0);
    ck_assert_uint_eq(in.codec, 3);
    ck_assert_int_eq(in.duration_ms, 100);
    b.data[50] = 0x11;                            /* an unknown SubFormat GUID */
    ck_assert_int_eq(audio_wav_info(b.data, b.len, &in), 0);
    ck_assert_uint_eq(in.codec, 0xFFFE);
    put32(&b, 16, 18);                            /* too small for the extension */
    ck_assert_int_eq(check_wav(&b), -1);
    ck_assert_ptr_nonnull(strstr(err, "EXTENSIBLE"));
    buf_free(&b);
}
END_TEST

/* A LIST chunk of odd size (with its pad byte) between fmt and a streamed data chunk. */
START_TEST(wav_list_before_streamed_data)
{
    struct buf b = {0};
    buf_append(&b, openai_wav_header, 36);
    buf_append(&b, "LIST\x05\x00\x00\x00INFOx\x00", 14);
    buf_append(&b, openai_wav_header + 36, 8);
    pcm_bytes(&b, 2400);
    assert_streamed_ok(&b, 2400, 24000, 50);
    ck_assert_uint_eq(get32(&b, 4), 36 + 14 + 8 + 2400 - 8);
    buf_free(&b);
}
END_TEST

/* After a real-sized data chunk: whole chunks stay, bytes that are no whole chunk go, and an
 * odd-sized last chunk gets its pad byte. */
START_TEST(wav_seal_chunks_after_data)
{
    struct buf b = {0};
    small_wav(&b);                                  /* data: 12 bytes, real */
    put32(&b, 4, 0xFFFFFFFFu);
    buf_append(&b, "LIST\x03\x00\x00\x00" "abc", 11);   /* odd, pad byte missing at the end */
    ck_assert_int_eq(check_wav(&b), 0);
    ck_assert_int_eq(audio_wav_seal(&b, err, sizeof err), 0);
    ck_assert_uint_eq(b.len, 56 + 12);
    ck_assert_uint_eq((uint8_t)b.data[b.len - 1], 0);
    uint32_t data_size = 0;
    ck_assert(sizes_are_true(&b, &data_size));
    ck_assert_uint_eq(data_size, 12);

    buf_append(&b, "id3 \x04\x00\x00\x00" "ID3x" "junk", 16);   /* a whole chunk, then junk */
    ck_assert_int_eq(audio_wav_seal(&b, err, sizeof err), 0);
    ck_assert_uint_eq(b.len, 68 + 12);
    ck_assert(sizes_are_true(&b, &data_size));

    buf_append(&b, "LIST\x64\x00\x00\x00" "only ten..", 18);   /* declares 100, has 10 */
    ck_assert_int_eq(audio_wav_seal(&b, err, sizeof err), 0);
    ck_assert_uint_eq(b.len, 80);
    ck_assert(sizes_are_true(&b, &data_size));
    buf_free(&b);
}
END_TEST

/* 8-bit mono PCM: odd audio lengths are whole frames; the sealed file gains its pad byte. */
START_TEST(wav_seal_pads_odd_data)
{
    struct buf b = {0};
    buf_append(&b, openai_wav_header, sizeof openai_wav_header);
    b.data[32] = 1;   /* block align 1 */
    b.data[34] = 8;   /* 8 bits */
    put32(&b, 24, 8000);
    put32(&b, 28, 8000);
    pcm_bytes(&b, 801);
    ck_assert_int_eq(check_wav(&b), 0);
    ck_assert_int_eq(audio_wav_seal(&b, err, sizeof err), 0);
    ck_assert_uint_eq(b.len, 44 + 801 + 1);
    ck_assert_uint_eq(get32(&b, 40), 801);
    uint32_t data_size = 0;
    ck_assert(sizes_are_true(&b, &data_size));
    struct audio_info in;
    ck_assert_int_eq(audio_wav_info(b.data, b.len, &in), 0);
    ck_assert_uint_eq(in.data_bytes, 801);
    ck_assert_int_eq(in.duration_ms, 100);
    ck_assert_int_eq(audio_wav_seal(&b, err, sizeof err), 0);   /* sealing again changes nothing */
    ck_assert_uint_eq(b.len, 44 + 801 + 1);
    buf_free(&b);
}
END_TEST

START_TEST(wav_seal_refuses_invalid)
{
    struct buf b = {0};
    ck_assert_int_eq(audio_wav_seal(&b, err, sizeof err), -1);
    ck_assert_int_eq(audio_wav_seal(NULL, NULL, 0), -1);
    buf_puts(&b, "{\"error\":\"quota\"}");
    ck_assert_int_eq(audio_wav_seal(&b, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "JSON"));
    ck_assert_str_eq(b.data, "{\"error\":\"quota\"}");
    buf_free(&b);
}
END_TEST

/* mu-law 8 kHz (what ulaw_8000 files hold): one byte per sample; duration from the frames. A
 * codec without frames (MS ADPCM) takes its duration from the byte rate, or -1 without one. */
START_TEST(wav_info_codecs)
{
    struct buf b = {0};
    buf_append(&b, openai_wav_header, sizeof openai_wav_header);
    b.data[20] = 7;
    b.data[32] = 1;
    b.data[34] = 8;
    put32(&b, 24, 8000);
    put32(&b, 28, 8000);
    pcm_bytes(&b, 12000);
    struct audio_info in;
    ck_assert_int_eq(audio_wav_info(b.data, b.len, &in), 0);
    ck_assert_uint_eq(in.codec, 7);
    ck_assert_int_eq(in.duration_ms, 1500);
    b.data[20] = 2;         /* MS ADPCM: blocks are not frames, byte rate 8000 */
    b.data[32] = 0;
    b.data[33] = 1;         /* block align 256 */
    pcm_bytes(&b, 3);       /* not a whole block: not judged for a codec without frames */
    ck_assert_int_eq(audio_wav_info(b.data, b.len, &in), 0);
    ck_assert_int_eq(in.duration_ms, 1500);
    put32(&b, 28, 0);
    ck_assert_int_eq(audio_wav_info(b.data, b.len, &in), 0);
    ck_assert_int_eq(in.duration_ms, -1);
    ck_assert_int_eq(audio_wav_info(b.data, 40, &in), -1);
    ck_assert_int_eq(audio_wav_info(NULL, 0, &in), -1);
    buf_free(&b);
}
END_TEST

/* ---- raw PCM wrapped in WAV ---- */

START_TEST(pcm_openai_24k_wrapped)
{
    struct buf pcm = {0}, b = {0};
    pcm_bytes(&pcm, 4800);   /* OpenAI response_format "pcm": 24 kHz, 16-bit LE, mono, no header */
    buf_puts(&b, "x");
    ck_assert_int_eq(audio_wav_from_pcm(pcm.data, pcm.len, 24000, 1, &b, err, sizeof err), 0);
    ck_assert_uint_eq(b.len, 1 + 44 + 4800);
    struct buf w = {0};
    buf_append(&w, b.data + 1, b.len - 1);
    uint8_t want[44];
    memcpy(want, openai_wav_header, sizeof want);   /* OpenAI's own header, with true sizes */
    for (int i = 0; i < 4; i++) {
        want[4 + i] = (uint8_t)((36u + 4800u) >> (8 * i));
        want[40 + i] = (uint8_t)(4800u >> (8 * i));
    }
    ck_assert_mem_eq(w.data, want, sizeof want);
    ck_assert_mem_eq(w.data + 44, pcm.data, pcm.len);
    uint32_t data_size = 0;
    ck_assert(sizes_are_true(&w, &data_size));
    struct audio_info in;
    ck_assert_int_eq(audio_wav_info(w.data, w.len, &in), 0);
    ck_assert_int_eq(in.duration_ms, 100);
    buf_free(&w);
    buf_free(&b);
    buf_free(&pcm);
}
END_TEST

START_TEST(pcm_elevenlabs_16k_wrapped)
{
    struct buf pcm = {0}, b = {0};
    pcm_bytes(&pcm, 16000);   /* ElevenLabs output_format pcm_16000: 16-bit LE mono */
    ck_assert_int_eq(audio_wav_from_pcm(pcm.data, pcm.len, 16000, 1, &b, err, sizeof err), 0);
    struct audio_info in;
    ck_assert_int_eq(audio_wav_info(b.data, b.len, &in), 0);
    ck_assert_uint_eq(in.sample_rate, 16000);
    ck_assert_int_eq(in.duration_ms, 500);
    ck_assert_int_eq(check_wav(&b), 0);
    buf_reset(&b);
    ck_assert_int_eq(audio_wav_from_pcm(pcm.data, 6400, 16000, 2, &b, err, sizeof err), 0);
    ck_assert_int_eq(audio_wav_info(b.data, b.len, &in), 0);
    ck_assert_uint_eq(in.channels, 2);
    ck_assert_int_eq(in.duration_ms, 100);
    buf_free(&b);
    buf_free(&pcm);
}
END_TEST

/* ElevenLabs output_format=ulaw_8000 answers raw G.711 µ-law bytes, 8 kHz mono, no header
 * (elevenlabs-python text_to_speech_convert_request_output_format.py). Wrapped: RIFF, an 18-byte
 * fmt chunk with tag 7, a fact chunk, the data as sent; sizes true; and libsndfile (through
 * convert_audio) reads it as the same audio as the raw bytes. */
START_TEST(ulaw_wrapped)
{
    struct buf raw = {0}, b = {0};
    for (int i = 0; i < 4000; i++)           /* half a second of assorted µ-law codes */
        buf_putc(&raw, (char)(uint8_t)(i * 37 + 11));
    buf_puts(&b, "x");
    ck_assert_int_eq(audio_wav_from_ulaw(raw.data, raw.len, 8000, &b, err, sizeof err), 0);
    ck_assert_uint_eq(b.len, 1 + 58 + 4000);
    struct buf w = {0};
    buf_append(&w, b.data + 1, b.len - 1);
    static const uint8_t want[58] = {
        'R', 'I', 'F', 'F', 0xD2, 0x0F, 0, 0, 'W', 'A', 'V', 'E',      /* 50 + 4000 */
        'f', 'm', 't', ' ', 18, 0, 0, 0, 7, 0, 1, 0,                   /* tag 7, mono */
        0x40, 0x1F, 0, 0, 0x40, 0x1F, 0, 0, 1, 0, 8, 0, 0, 0,          /* 8000 Hz, 8000 B/s, 8 bit */
        'f', 'a', 'c', 't', 4, 0, 0, 0, 0xA0, 0x0F, 0, 0,              /* 4000 sample frames */
        'd', 'a', 't', 'a', 0xA0, 0x0F, 0, 0,
    };
    ck_assert_mem_eq(w.data, want, sizeof want);
    ck_assert_mem_eq(w.data + 58, raw.data, raw.len);
    ck_assert_int_eq(check_wav(&w), 0);
    struct audio_info in;
    ck_assert_int_eq(audio_wav_info(w.data, w.len, &in), 0);
    ck_assert_uint_eq(in.codec, 7);
    ck_assert_uint_eq(in.sample_rate, 8000);
    ck_assert_uint_eq(in.bits, 8);
    ck_assert_uint_eq(in.data_bytes, 4000);
    ck_assert_int_eq(in.duration_ms, 500);
    /* already a ulaw_8000 file: nothing to convert */
    struct buf out = {0}, pcm_a = {0}, pcm_b = {0};
    struct convert_info ci;
    ck_assert_int_eq(convert_audio(w.data, w.len, CONVERT_IN_WAV, OUT_FORMAT_ULAW_8000, &out, &ci,
                                   err, sizeof err), CONVERT_UNCHANGED);
    ck_assert_int_eq(ci.duration_ms, 500);
    /* decoded by libsndfile, it is the audio of the raw bytes */
    ck_assert_int_eq(convert_audio(w.data, w.len, CONVERT_IN_WAV, OUT_FORMAT_WAV_8000, &pcm_a, NULL,
                                   err, sizeof err), 0);
    ck_assert_int_eq(convert_audio(raw.data, raw.len, CONVERT_IN_ULAW_8000, OUT_FORMAT_WAV_8000,
                                   &pcm_b, NULL, err, sizeof err), 0);
    ck_assert_uint_eq(pcm_a.len, pcm_b.len);
    ck_assert_mem_eq(pcm_a.data, pcm_b.data, pcm_a.len);
    /* refused: empty, insane rate; out untouched */
    buf_reset(&out);
    buf_puts(&out, "keep");
    ck_assert_int_eq(audio_wav_from_ulaw(raw.data, 0, 8000, &out, err, sizeof err), -1);
    ck_assert_str_eq(err, "µ-law body is empty, no audio");
    ck_assert_int_eq(audio_wav_from_ulaw(raw.data, raw.len, 999, &out, err, sizeof err), -1);
    ck_assert_uint_eq(out.len, 4);
    buf_free(&out);
    buf_free(&pcm_a);
    buf_free(&pcm_b);
    buf_free(&w);
    buf_free(&b);
    buf_free(&raw);
}
END_TEST

START_TEST(pcm_refused)
{
    struct buf b = {0};
    buf_puts(&b, "keep");
    const char pcm[8] = {0};
    ck_assert_int_eq(audio_wav_from_pcm(pcm, 0, 24000, 1, &b, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "empty"));
    ck_assert_int_eq(audio_wav_from_pcm(pcm, 7, 24000, 1, &b, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "sample frames"));
    ck_assert_int_eq(audio_wav_from_pcm(pcm, 6, 24000, 2, &b, err, sizeof err), -1);
    ck_assert_int_eq(audio_wav_from_pcm(pcm, 8, 999, 1, &b, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "rate"));
    ck_assert_int_eq(audio_wav_from_pcm(pcm, 8, 24000, 0, &b, err, sizeof err), -1);
    ck_assert_int_eq(audio_wav_from_pcm(pcm, 8, 24000, 17, &b, NULL, 0), -1);
    ck_assert_int_eq(audio_wav_from_pcm(NULL, 8, 24000, 1, &b, err, sizeof err), -1);
    ck_assert_str_eq(b.data, "keep");   /* out untouched on failure */
    buf_free(&b);
}
END_TEST

/* ---- seal against random bodies ---- */

static uint32_t pick_size(uint32_t truth)
{
    static const uint32_t placeholders[] = {0, 0x7FFFF000u, 0x7FFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFDBu};
    switch (random() % 5) {
    case 0:  return placeholders[random() % 5];
    case 1:  return truth + 1 + (uint32_t)(random() % 8);   /* larger than what arrived */
    case 2:  return truth > 0 ? truth - 1 - (uint32_t)(random() % truth) : 0;
    default: return truth;
    }
}

/* One random body: fmt (PCM 8/16/24-bit or extensible, 1-3 channels, sometimes block align 0),
 * an optional odd LIST chunk, data with a random size field, random audio (sometimes a partial
 * frame), then maybe a trailing chunk or junk; RIFF size random as well. */
static void random_wav(struct buf *b)
{
    uint16_t ch = (uint16_t)(1 + random() % 3), bits = (uint16_t)(8 * (1 + random() % 3));
    uint16_t align = random() % 8 == 0 ? 0 : (uint16_t)(ch * bits / 8);
    size_t audio = (size_t)(random() % 40) * (size_t)(ch * bits / 8);
    if (random() % 4 == 0)
        audio += (size_t)(random() % 3);   /* often a partial frame */
    buf_append(b, "RIFF\0\0\0\0WAVEfmt \x10\0\0\0", 20);
    uint8_t f[16] = {1, 0, (uint8_t)ch, 0, 0x40, 0x1f, 0, 0,   /* PCM, 8000 Hz */
                     0, 0, 0, 0, (uint8_t)align, 0, (uint8_t)bits, 0};
    buf_append(b, f, sizeof f);
    if (random() % 3 == 0)
        buf_append(b, "LIST\x03\0\0\0xyz\0", 12);
    size_t data_at = b->len;
    buf_append(b, "data\0\0\0\0", 8);
    pcm_bytes(b, audio);
    switch (random() % 4) {
    case 0: buf_append(b, "LIST\x01\0\0\0z", 9); break;      /* odd, pad missing */
    case 1: buf_append(b, "junk!", 5); break;
    default: break;
    }
    put32(b, data_at + 4, pick_size((uint32_t)audio));
    put32(b, 4, pick_size((uint32_t)b->len - 8));
}

START_TEST(wav_seal_random_bodies)
{
    srandom(4242);
    int accepted = 0, rejected = 0;
    for (int round = 0; round < 20000; round++) {
        struct buf b = {0};
        random_wav(&b);
        struct audio_info before, after;
        if (check_wav(&b) != 0) {
            ck_assert_int_eq(audio_wav_info(b.data, b.len, &before), -1);
            struct buf copy = {0};
            buf_append(&copy, b.data, b.len);
            ck_assert_int_eq(audio_wav_seal(&copy, err, sizeof err), -1);
            ck_assert_mem_eq(copy.data, b.data, b.len);   /* untouched */
            buf_free(&copy);
            buf_free(&b);
            rejected++;
            continue;
        }
        accepted++;
        ck_assert_int_eq(audio_wav_info(b.data, b.len, &before), 0);
        ck_assert_int_gt(before.data_bytes, 0);
        ck_assert_msg(audio_wav_seal(&b, err, sizeof err) == 0, "round %d: %s", round, err);
        uint32_t data_size = 0;
        ck_assert_msg(sizes_are_true(&b, &data_size), "round %d: sizes not true", round);
        ck_assert_uint_eq(data_size, before.data_bytes);
        ck_assert_int_eq(check_wav(&b), 0);
        ck_assert_int_eq(audio_wav_info(b.data, b.len, &after), 0);
        ck_assert_mem_eq(&before, &after, sizeof before);
        struct buf again = {0};
        buf_append(&again, b.data, b.len);
        ck_assert_int_eq(audio_wav_seal(&again, err, sizeof err), 0);
        ck_assert_uint_eq(again.len, b.len);   /* sealing is idempotent */
        ck_assert_mem_eq(again.data, b.data, b.len);
        buf_free(&again);
        buf_free(&b);
    }
    ck_assert_int_gt(accepted, 2000);   /* both verdicts well exercised */
    ck_assert_int_gt(rejected, 2000);
}
END_TEST

/* ---- MP3 ---- */

START_TEST(silent_mp3_valid_and_sized)
{
    struct buf b = {0};
    audio_silent_mp3(1000, &b);
    ck_assert_uint_eq(b.len, 39 * 417);   /* ceil(44100 / 1152) frames */
    ck_assert_int_eq(check_mp3(b.data, b.len), 0);
    ck_assert_uint_eq((uint8_t)b.data[417], 0xFF);   /* second frame starts where expected */
    ck_assert_uint_eq((uint8_t)b.data[418], 0xFB);
    buf_reset(&b);
    audio_silent_mp3(0, &b);
    ck_assert_uint_eq(b.len, 417);
    ck_assert_int_eq(check_mp3(b.data, b.len), 0);
    ck_assert_int_eq(check_mp3(b.data, b.len - 1), -1);
    ck_assert_ptr_nonnull(strstr(err, "cut short"));
    buf_free(&b);
}
END_TEST

START_TEST(mp3_bad_headers_fail)
{
    struct buf b = {0};
    audio_silent_mp3(0, &b);
    uint8_t *h = (uint8_t *)b.data;
    h[2] = 0xF0;   /* bitrate index 15 */
    ck_assert_int_eq(check_mp3(b.data, b.len), -1);
    ck_assert_ptr_nonnull(strstr(err, "bitrate"));
    h[2] = 0x00;   /* free format */
    ck_assert_int_eq(check_mp3(b.data, b.len), -1);
    h[2] = 0x9C;   /* reserved sample rate */
    ck_assert_int_eq(check_mp3(b.data, b.len), -1);
    ck_assert_ptr_nonnull(strstr(err, "sample rate"));
    h[2] = 0x90;
    h[1] = 0xEB;   /* version bits 01: reserved */
    ck_assert_int_eq(check_mp3(b.data, b.len), -1);
    ck_assert_ptr_nonnull(strstr(err, "version"));
    h[1] = 0xF9;   /* layer bits 00: reserved */
    ck_assert_int_eq(check_mp3(b.data, b.len), -1);
    h[1] = 0xFB;
    h[3] = 0xC6;   /* emphasis 10: reserved */
    ck_assert_int_eq(check_mp3(b.data, b.len), -1);
    h[3] = 0xC4;
    h[1] = 0x7B;   /* sync broken */
    ck_assert_int_eq(check_mp3(b.data, b.len), -1);
    h[1] = 0xFB;
    ck_assert_int_eq(check_mp3(b.data, b.len), 0);   /* repaired: passes again */
    buf_free(&b);
}
END_TEST

START_TEST(mp3_other_versions_frame_length)
{
    /* MPEG-2 Layer III, 64 kbit/s, 22.05 kHz: 72 * 64000 / 22050 = 208 bytes. */
    uint8_t f[300] = {0xFF, 0xF3, 0x80, 0xC4};
    ck_assert_int_eq(check_mp3(f, 208), 0);
    ck_assert_int_eq(check_mp3(f, 207), -1);
    /* MPEG-1 Layer I, 32 kbit/s, 32 kHz, padded: (12 * 32000 / 32000 + 1) * 4 = 52 bytes. */
    uint8_t l1[64] = {0xFF, 0xFF, 0x1A, 0xC4};
    ck_assert_int_eq(check_mp3(l1, 52), 0);
    ck_assert_int_eq(check_mp3(l1, 51), -1);
}
END_TEST

START_TEST(mp3_with_id3_passes)
{
    struct buf b = {0};
    /* ID3v2.4 tag, size 0x81 = 129 in syncsafe form (01 01), then the frames. */
    buf_append(&b, "ID3\x04\x00\x00\x00\x00\x01\x01", 10);
    for (int i = 0; i < 129; i++)
        buf_putc(&b, 'T');
    audio_silent_mp3(100, &b);
    ck_assert_int_eq(check_mp3(b.data, b.len), 0);
    ck_assert_int_eq(check_mp3(b.data, 10 + 129 + 416), -1);   /* first frame cut */
    b.data[9] = (char)0x81;                                      /* not syncsafe */
    ck_assert_int_eq(check_mp3(b.data, b.len), -1);
    ck_assert_ptr_nonnull(strstr(err, "ID3"));
    b.data[9] = 0x02;   /* size off by one: lands on a non-frame byte */
    ck_assert_int_eq(check_mp3(b.data, b.len), -1);
    buf_free(&b);
}
END_TEST

START_TEST(mp3_id3_without_audio_fails)
{
    const char tag[] = "ID3\x03\x00\x00\x00\x00\x00\x02zz";
    ck_assert_int_eq(check_mp3(tag, 12), -1);
    ck_assert_ptr_nonnull(strstr(err, "no audio frame"));
    const char big[] = "ID3\x03\x00\x00\x00\x00\x7f\x7fzz";   /* tag larger than the body */
    ck_assert_int_eq(check_mp3(big, 12), -1);
    ck_assert_int_eq(check_mp3("ID3", 3), -1);
}
END_TEST

START_TEST(err_buffer_optional_and_bounded)
{
    ck_assert_int_eq(audio_validate("{}", 2, AUDIO_WAV, NULL, 0), -1);
    char tiny[8];
    ck_assert_int_eq(audio_validate("{}", 2, AUDIO_WAV, tiny, sizeof tiny), -1);
    ck_assert_uint_eq(strlen(tiny), sizeof tiny - 1);
    ck_assert_int_eq(audio_validate("{}", 2, (enum audio_format)9, err, sizeof err), -1);
}
END_TEST

/* ---- espeak-ng ---- */

static uint32_t wav_rate(const char *wav)
{
    const uint8_t *p = (const uint8_t *)wav;
    return (uint32_t)p[24] | (uint32_t)p[25] << 8 | (uint32_t)p[26] << 16;
}

START_TEST(espeak_renders_valid_wav)
{
    struct buf b = {0};
    buf_puts(&b, "x");   /* appends after what is there */
    ck_assert_int_eq(espeak_render_wav("Hello Ana, your order ships today.", "en", &b, err, sizeof err), 0);
    const char *wav = b.data + 1;
    size_t len = b.len - 1;
    ck_assert_int_eq(audio_validate(wav, len, AUDIO_WAV, err, sizeof err), 0);
    ck_assert_uint_eq(wav_rate(wav), 22050);
    ck_assert_uint_gt(len, 44 + 22050);   /* over half a second of speech */
    buf_free(&b);
}
END_TEST

START_TEST(espeak_unknown_voices_fall_back)
{
    static const char *voices[] = {NULL, "", "alloy", "21m00Tcm4TlvDq8ikWAM", "../../etc/passwd",
                                   "mb-en1", "fr", "en+f3", "a voice with spaces"};
    for (size_t i = 0; i < sizeof voices / sizeof *voices; i++) {
        struct buf b = {0};
        ck_assert_msg(espeak_render_wav("Testing one two three.", voices[i], &b, err, sizeof err) == 0,
                      "voice %zu: %s", i, err);
        ck_assert_int_eq(audio_validate(b.data, b.len, AUDIO_WAV, err, sizeof err), 0);
        /* MBROLA without its program leaves espeak-ng producing a fraction of a second: every
         * voice here must still give full speech. */
        ck_assert_msg(b.len > 44 + 2 * 11025, "voice %zu gave %zu bytes", i, b.len);
        buf_free(&b);
    }
}
END_TEST

START_TEST(espeak_rejects_empty_and_huge_text)
{
    struct buf b = {0};
    ck_assert_int_eq(espeak_render_wav("", "en", &b, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "empty"));
    ck_assert_int_eq(espeak_render_wav(NULL, "en", &b, err, sizeof err), -1);
    size_t n = 100 * 1024;
    char *big = malloc(n + 1);
    ck_assert_ptr_nonnull(big);
    memset(big, 'a', n);
    big[n] = '\0';
    ck_assert_int_eq(espeak_render_wav(big, "en", &b, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "exceeds"));
    ck_assert_uint_eq(b.len, 0);   /* out untouched on failure */
    free(big);
}
END_TEST

static void *espeak_worker(void *arg)
{
    const char *voice = arg;
    for (int i = 0; i < 5; i++) {
        struct buf b = {0};
        char e[128];
        int ok = espeak_render_wav("Concurrent callers are serialised.", voice, &b, e, sizeof e) == 0 &&
                 audio_validate(b.data, b.len, AUDIO_WAV, e, sizeof e) == 0;
        buf_free(&b);
        if (!ok)
            return (void *)1;
    }
    return NULL;
}

START_TEST(espeak_concurrent_callers)
{
    static char *voices[] = {"en", "fr", "alloy", "de"};
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, espeak_worker, voices[i]), 0);
    for (int i = 0; i < 4; i++) {
        void *res = (void *)1;
        pthread_join(t[i], &res);
        ck_assert_ptr_null(res);
    }
}
END_TEST

static Suite *audio_suite(void)
{
    Suite *s = suite_create("audio");
    TCase *names = tcase_create("names");
    tcase_add_test(names, format_parse_and_name);
    suite_add_tcase(s, names);

    TCase *gen = tcase_create("generate");
    tcase_add_test(gen, wav_from_pcm16_layout);
    tcase_add_test(gen, wav_appends_after_existing_bytes);
    tcase_add_test(gen, tone_is_valid_and_sized);
    tcase_add_test(gen, tone_degenerate_arguments);
    tcase_add_test(gen, silent_mp3_valid_and_sized);
    suite_add_tcase(s, gen);

    TCase *wav = tcase_create("wav");
    tcase_add_test(wav, wav_cut_by_one_byte_fails);
    tcase_add_test(wav, wav_data_declared_larger_fails);
    tcase_add_test(wav, wav_wrong_magic_fails);
    tcase_add_test(wav, html_and_json_fail);
    tcase_add_test(wav, empty_fails);
    tcase_add_test(wav, zero_data_size_fails);
    tcase_add_test(wav, wav_streaming_riff_size_tolerated);
    tcase_add_test(wav, wav_riff_larger_than_body_fails);
    tcase_add_test(wav, wav_extra_chunk_and_padding);
    tcase_add_test(wav, wav_chunk_order_and_fmt_sanity);
    tcase_add_test(wav, wav_chunk_cut_before_data_fails);
    tcase_add_test(wav, mp3_body_is_not_wav);
    tcase_add_test(wav, err_buffer_optional_and_bounded);
    suite_add_tcase(s, wav);

    TCase *streamed = tcase_create("streamed");
    tcase_add_test(streamed, wav_openai_streamed_header);
    tcase_add_test(streamed, wav_elevenlabs_streamed_header);
    tcase_add_test(streamed, wav_other_placeholders);
    tcase_add_test(streamed, wav_streamed_odd_bytes_fail);
    tcase_add_test(streamed, wav_streamed_cut_on_a_frame_is_the_transports_to_see);
    tcase_add_test(streamed, wav_streamed_header_only_fails);
    tcase_add_test(streamed, wav_real_size_beyond_body_is_cut_short);
    tcase_add_test(streamed, wav_extensible_fmt);
    tcase_add_test(streamed, wav_list_before_streamed_data);
    tcase_add_test(streamed, wav_seal_chunks_after_data);
    tcase_add_test(streamed, wav_seal_pads_odd_data);
    tcase_add_test(streamed, wav_seal_refuses_invalid);
    tcase_add_test(streamed, wav_info_codecs);
    tcase_add_test(streamed, pcm_openai_24k_wrapped);
    tcase_add_test(streamed, pcm_elevenlabs_16k_wrapped);
    tcase_add_test(streamed, pcm_refused);
    tcase_add_test(streamed, ulaw_wrapped);
    tcase_add_test(streamed, wav_seal_random_bodies);
    suite_add_tcase(s, streamed);

    TCase *mp3 = tcase_create("mp3");
    tcase_add_test(mp3, mp3_bad_headers_fail);
    tcase_add_test(mp3, mp3_other_versions_frame_length);
    tcase_add_test(mp3, mp3_with_id3_passes);
    tcase_add_test(mp3, mp3_id3_without_audio_fails);
    suite_add_tcase(s, mp3);

    TCase *es = tcase_create("espeak");
    tcase_set_timeout(es, 30);
    tcase_add_test(es, espeak_renders_valid_wav);
    tcase_add_test(es, espeak_unknown_voices_fall_back);
    tcase_add_test(es, espeak_rejects_empty_and_huge_text);
    tcase_add_test(es, espeak_concurrent_callers);
    suite_add_tcase(s, es);
    return s;
}

CHECK_MAIN(audio_suite)
