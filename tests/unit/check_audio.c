/* check_audio.c - audio format names, validation of bodies, generated WAV/MP3.
 *
 * Validation decides whether a provider's 200 is usable audio, so the failure cases matter as
 * much as the happy ones: a body cut by one byte, an HTML error page, a JSON error, a header that
 * lies. Bodies are built in the test from the generators and then damaged byte by byte. The
 * espeak-ng renderer lives here too: its whole output contract is "a valid WAV". */
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audio.h"
#include "buf.h"
#include "check_main.h"
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
    put32(&b, 40, 0xFFFFFFFFu);   /* data size unknown too: cannot prove it complete */
    ck_assert_int_eq(check_wav(&b), -1);
    ck_assert_ptr_nonnull(strstr(err, "streamed"));
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
