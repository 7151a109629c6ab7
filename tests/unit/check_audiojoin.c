/* check_audiojoin.c - joining WAV and MP3 parts: durations add up, sizes are true, the result
 * is valid audio, tags of the parts are gone, and parts of different formats are refused.
 *
 * Parts are made the way the consumer will make them: tones (audio_tone_wav) converted with
 * convert_audio to the job's format, or MP3 silence (audio_silent_mp3) with tags added by hand.
 * Results are read back with audio_validate, audio_wav_info and convert_mp3_info. */
#include "check_main.h"

#include <stdint.h>
#include <string.h>

#include "audio.h"
#include "audiojoin.h"
#include "buf.h"
#include "convert.h"
#include "le.h"

static char err[256];
static struct buf p[3], raw[2], out;   /* parts, their sources, the joined file */

static void teardown(void)
{
    for (size_t i = 0; i < 3; i++)
        buf_free(&p[i]);
    for (size_t i = 0; i < 2; i++)
        buf_free(&raw[i]);
    buf_free(&out);
}

/* ---- helpers ------------------------------------------------------------------------------- */

static int join(enum audio_format f, const struct buf *parts, size_t n, struct buf *dst)
{
    struct audiojoin_part ap[8];
    ck_assert_uint_le(n, 8);
    for (size_t i = 0; i < n; i++)
        ap[i] = (struct audiojoin_part){parts[i].data, parts[i].len};
    err[0] = '\0';
    return audiojoin(f, ap, n, dst, err, sizeof err);
}

/* Joins and expects a refusal whose message is want; out must be left as it was. */
static void refused(enum audio_format f, const struct buf *parts, size_t n, const char *want)
{
    buf_reset(&out);
    buf_puts(&out, "kept");
    ck_assert_int_eq(join(f, parts, n, &out), -1);
    ck_assert_msg(strstr(err, want) != NULL, "error \"%s\", wanted \"%s\"", err, want);
    ck_assert_uint_eq(out.len, 4);
    ck_assert_str_eq(out.data, "kept");
}

/* A tone converted to format want (the consumer's uniform parts). */
static void part_as(struct buf *b, int ms, int rate, enum out_format want)
{
    struct buf tone = {0};
    audio_tone_wav(ms, rate, &tone);
    int rc = convert_audio(tone.data, tone.len, CONVERT_IN_WAV, want, b, NULL, err, sizeof err);
    ck_assert_msg(rc == 0, "%s", err);
    buf_free(&tone);
}

static const uint8_t *u8(const struct buf *b)
{
    return (const uint8_t *)b->data;
}

/* ---- WAV ------------------------------------------------------------------------------------ */

START_TEST(wav_pcm16_durations_add_up)
{
    audio_tone_wav(300, 16000, &p[0]);
    audio_tone_wav(450, 16000, &p[1]);
    audio_tone_wav(250, 16000, &p[2]);
    ck_assert_msg(join(AUDIO_WAV, p, 3, &out) == 0, "%s", err);
    ck_assert_msg(audio_validate(out.data, out.len, AUDIO_WAV, err, sizeof err) == 0, "%s", err);
    struct audio_info ai;
    ck_assert_int_eq(audio_wav_info(out.data, out.len, &ai), 0);
    ck_assert_uint_eq(ai.codec, CONVERT_CODEC_PCM);
    ck_assert_uint_eq(ai.sample_rate, 16000);
    ck_assert_uint_eq(ai.channels, 1);
    ck_assert_uint_eq(ai.bits, 16);
    ck_assert_int_eq(ai.duration_ms, 1000);
    /* True sizes: a 44-byte header, RIFF = length - 8, data = every part's samples, in order. */
    size_t audio = (p[0].len - 44) + (p[1].len - 44) + (p[2].len - 44);
    ck_assert_uint_eq(out.len, 44 + audio);
    ck_assert_uint_eq(get_le32(u8(&out) + 4), out.len - 8);
    ck_assert_int_eq(memcmp(out.data + 36, "data", 4), 0);
    ck_assert_uint_eq(get_le32(u8(&out) + 40), audio);
    size_t at = 44;
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(memcmp(out.data + at, p[i].data + 44, p[i].len - 44), 0);
        at += p[i].len - 44;
    }
}
END_TEST

/* A streamed part (placeholder sizes) with a LIST chunk: its audio is found, the LIST dropped,
 * and a single part comes back sealed. */
START_TEST(wav_streamed_part_with_list)
{
    struct buf tone = {0};
    audio_tone_wav(200, 8000, &tone);
    buf_append(&p[0], tone.data, 36);
    buf_append(&p[0], "LIST\x05\x00\x00\x00" "abcde\0", 14);   /* odd size: a pad byte */
    buf_append(&p[0], tone.data + 36, tone.len - 36);
    put_le32((uint8_t *)p[0].data + 4, 0xFFFFFFFFu);
    put_le32((uint8_t *)p[0].data + 36 + 14 + 4, 0xFFFFFFFFu);
    audio_tone_wav(300, 8000, &p[1]);
    ck_assert_msg(join(AUDIO_WAV, p, 2, &out) == 0, "%s", err);
    struct audio_info ai;
    ck_assert_int_eq(audio_wav_info(out.data, out.len, &ai), 0);
    ck_assert_int_eq(ai.duration_ms, 500);
    ck_assert_uint_eq(ai.data_bytes, (tone.len - 44) + (p[1].len - 44));
    ck_assert_ptr_null(memmem(out.data, out.len, "LIST", 4));
    buf_reset(&out);
    ck_assert_msg(join(AUDIO_WAV, p, 1, &out) == 0, "%s", err);
    ck_assert_uint_eq(out.len, tone.len);
    ck_assert_int_eq(memcmp(out.data, tone.data, tone.len), 0);   /* the same file, sealed */
    buf_free(&tone);
}
END_TEST

/* µ-law parts as convert_audio makes them: an 18-byte fmt, a fact chunk with the true frame
 * count, 8 bits, 8 kHz. */
START_TEST(wav_ulaw_join)
{
    part_as(&p[0], 700, 24000, OUT_FORMAT_ULAW_8000);
    part_as(&p[1], 900, 22050, OUT_FORMAT_ULAW_8000);
    struct audio_info a0, a1, ai;
    ck_assert_int_eq(audio_wav_info(p[0].data, p[0].len, &a0), 0);
    ck_assert_int_eq(audio_wav_info(p[1].data, p[1].len, &a1), 0);
    ck_assert_msg(join(AUDIO_WAV, p, 2, &out) == 0, "%s", err);
    ck_assert_msg(audio_validate(out.data, out.len, AUDIO_WAV, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(audio_wav_info(out.data, out.len, &ai), 0);
    ck_assert_uint_eq(ai.codec, CONVERT_CODEC_ULAW);
    ck_assert_uint_eq(ai.sample_rate, 8000);
    ck_assert_uint_eq(ai.bits, 8);
    uint64_t frames = a0.data_bytes + a1.data_bytes;   /* one byte a frame */
    ck_assert_uint_eq(ai.data_bytes, frames);
    ck_assert_int_eq(ai.duration_ms, (int64_t)(frames * 1000 / 8000));
    ck_assert_int_le(ai.duration_ms - (a0.duration_ms + a1.duration_ms), 1);
    const uint8_t *h = u8(&out);
    ck_assert_uint_eq(get_le32(h + 4), out.len - 8);
    ck_assert_uint_eq(get_le32(h + 16), 18);
    ck_assert_int_eq(memcmp(h + 38, "fact", 4), 0);
    ck_assert_uint_eq(get_le32(h + 46), frames);
    ck_assert_int_eq(memcmp(h + 50, "data", 4), 0);
    ck_assert_uint_eq(get_le32(h + 54), frames);
    ck_assert_uint_eq(out.len, 58 + frames + (frames & 1));
}
END_TEST

/* Rewrites a PCM16 WAV's header (from audio_wav_from_pcm) as 8-bit PCM holding n bytes. */
static void pcm8(struct buf *b, size_t n)
{
    static const uint8_t silence[64] = {0};
    ck_assert_int_eq(audio_wav_from_pcm(silence, (n + 1) / 2 * 2, 8000, 1, b, err, sizeof err), 0);
    uint8_t *h = (uint8_t *)b->data;
    put_le32(h + 28, 8000);
    put_le16(h + 32, 1);
    put_le16(h + 34, 8);
    put_le32(h + 40, (uint32_t)n);
    b->len = 44 + n;
    put_le32(h + 4, (uint32_t)(b->len - 8));
}

START_TEST(wav_odd_audio_gets_its_pad_byte)
{
    pcm8(&p[0], 3);
    pcm8(&p[1], 2);
    ck_assert_msg(join(AUDIO_WAV, p, 2, &out) == 0, "%s", err);
    ck_assert_uint_eq(out.len, 44 + 5 + 1);
    ck_assert_uint_eq(get_le32(u8(&out) + 40), 5);
    ck_assert_uint_eq(get_le32(u8(&out) + 4), out.len - 8);
    ck_assert_msg(audio_validate(out.data, out.len, AUDIO_WAV, err, sizeof err) == 0, "%s", err);
}
END_TEST

START_TEST(wav_mismatch_refused)
{
    part_as(&p[0], 200, 16000, OUT_FORMAT_ULAW_8000);
    part_as(&p[1], 200, 16000, OUT_FORMAT_ALAW_8000);
    refused(AUDIO_WAV, p, 2, "part 2 does not match part 1: codec tag 6, not 7");
    teardown();
    audio_tone_wav(200, 8000, &p[0]);
    audio_tone_wav(200, 16000, &p[1]);
    refused(AUDIO_WAV, p, 2, "part 2 does not match part 1: sample rate 16000 Hz, not 8000 Hz");
    buf_reset(&p[1]);
    static const int16_t st[8] = {0};
    ck_assert_int_eq(audio_wav_from_pcm(st, sizeof st, 8000, 2, &p[1], err, sizeof err), 0);
    refused(AUDIO_WAV, p, 2, "part 2 does not match part 1: channels 2, not 1");
    buf_reset(&p[1]);
    pcm8(&p[1], 4);
    refused(AUDIO_WAV, p, 2, "part 2 does not match part 1: bits per sample 8, not 16");
}
END_TEST

START_TEST(wav_bad_parts_refused)
{
    audio_tone_wav(100, 8000, &p[0]);
    buf_puts(&p[1], "{\"error\":\"quota\"}");
    refused(AUDIO_WAV, p, 2, "part 2: body is JSON");
    refused(AUDIO_WAV, p, 0, "nothing to join");
    /* A block codec (IMA ADPCM, tag 0x11) cannot be cut and glued by bytes. */
    buf_reset(&p[1]);
    audio_tone_wav(100, 8000, &p[1]);
    put_le16((uint8_t *)p[1].data + 20, 0x11);
    refused(AUDIO_WAV, p, 2, "part 2: WAV codec tag 17 with 16 bits cannot be joined");
}
END_TEST

/* ---- MP3 ------------------------------------------------------------------------------------ */

/* LAME parts from tones (24 kHz: MPEG-2 Layer III, 576 samples = 24 ms a frame). */
START_TEST(mp3_durations_add_up)
{
    static const int ms[3] = {700, 1100, 400};
    int64_t sum = 0;
    size_t bytes = 0;
    for (int i = 0; i < 3; i++) {
        part_as(&p[i], ms[i], 24000, OUT_FORMAT_MP3);
        struct convert_info ci;
        ck_assert_int_eq(convert_mp3_info(p[i].data, p[i].len, &ci), 0);
        sum += ci.duration_ms;
        bytes += p[i].len;
    }
    ck_assert_msg(join(AUDIO_MP3, p, 3, &out) == 0, "%s", err);
    ck_assert_msg(audio_validate(out.data, out.len, AUDIO_MP3, err, sizeof err) == 0, "%s", err);
    struct convert_info ci;
    ck_assert_int_eq(convert_mp3_info(out.data, out.len, &ci), 0);
    ck_assert_uint_eq(ci.sample_rate, 24000);
    ck_assert_uint_eq(ci.channels, 1);
    ck_assert_int_ge(ci.duration_ms, sum);        /* each part's ms are rounded down */
    ck_assert_int_le(ci.duration_ms, sum + 24);   /* within one frame */
    ck_assert_uint_le(out.len, bytes);
}
END_TEST

/* Bytes of the first MPEG-1 Layer III frame of audio_silent_mp3 (128 kbit/s, 44.1 kHz). */
static size_t first_frame_len(const struct buf *b)
{
    return 144 * 128000 / 44100 + ((u8(b)[2] >> 1) & 1);
}

/* Tags of every part are dropped: ID3v2, an Info frame, a trailing ID3v1. */
START_TEST(mp3_tags_dropped)
{
    audio_silent_mp3(500, &raw[0]);   /* 20 frames */
    audio_silent_mp3(300, &raw[1]);   /* 12 frames */
    buf_append(&p[0], raw[0].data, raw[0].len);
    memcpy(p[0].data + 4 + 17, "Info", 4);   /* the first frame becomes a tag frame */
    static const char id3v2[30] = "ID3\x04\x00\x00\x00\x00\x00\x14"   /* 20 bytes follow */
                                  "TIT2\x00\x00\x00\x05\x00\x00\x03part";   /* then padding */
    buf_append(&p[1], id3v2, sizeof id3v2);
    buf_append(&p[1], raw[1].data, raw[1].len);
    static const char id3v1[128] = "TAG";
    buf_append(&p[1], id3v1, sizeof id3v1);
    ck_assert_msg(join(AUDIO_MP3, p, 2, &out) == 0, "%s", err);
    ck_assert_uint_eq(out.len, raw[0].len - first_frame_len(&raw[0]) + raw[1].len);
    ck_assert_int_eq(memcmp(out.data, raw[0].data + first_frame_len(&raw[0]), 4), 0);
    ck_assert_ptr_null(memmem(out.data, out.len, "Info", 4));
    ck_assert_ptr_null(memmem(out.data, out.len, "ID3", 3));
    ck_assert_ptr_null(memmem(out.data, out.len, "TAG", 3));
    struct convert_info c0, c1, ci;
    ck_assert_int_eq(convert_mp3_info(p[0].data, p[0].len, &c0), 0);
    ck_assert_int_eq(convert_mp3_info(p[1].data, p[1].len, &c1), 0);
    ck_assert_int_eq(convert_mp3_info(out.data, out.len, &ci), 0);
    ck_assert_int_eq(ci.duration_ms, (19 + 12) * 1152 * 1000 / 44100);
    ck_assert_int_le(ci.duration_ms - (c0.duration_ms + c1.duration_ms), 1);
}
END_TEST

START_TEST(mp3_mismatch_refused)
{
    part_as(&p[0], 300, 24000, OUT_FORMAT_MP3);
    audio_silent_mp3(300, &p[1]);
    refused(AUDIO_MP3, p, 2, "part 2 does not match part 1: sample rate 44100 Hz, not 24000 Hz");
    buf_reset(&p[0]);
    audio_silent_mp3(300, &p[0]);
    p[1].data[3] = (char)(p[1].data[3] & 0x3F);   /* mode bits 00: stereo */
    refused(AUDIO_MP3, p, 2, "part 2 does not match part 1: channels 2, not 1");
    buf_reset(&p[1]);
    audio_silent_mp3(300, &p[1]);
    p[1].data[1] = (char)((p[1].data[1] & ~0x06) | 0x04);   /* layer bits 10: Layer II */
    refused(AUDIO_MP3, p, 2, "part 2 does not match part 1: MPEG layer 2, not 3");
}
END_TEST

START_TEST(mp3_bad_parts_refused)
{
    audio_tone_wav(100, 8000, &p[0]);
    audio_silent_mp3(100, &p[1]);
    refused(AUDIO_MP3, p, 2, "part 1: body is");
    buf_reset(&p[0]);
    audio_silent_mp3(1, &p[0]);   /* one frame, made a tag frame: no audio */
    memcpy(p[0].data + 4 + 17, "Xing", 4);
    refused(AUDIO_MP3, p, 2, "part 1: MP3 holds no audio frames");
    refused((enum audio_format)7, p, 2, "unknown audio format 7");
}
END_TEST

static Suite *audiojoin_suite(void)
{
    Suite *s = suite_create("audiojoin");
    TCase *tc = tcase_create("wav");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, wav_pcm16_durations_add_up);
    tcase_add_test(tc, wav_streamed_part_with_list);
    tcase_add_test(tc, wav_ulaw_join);
    tcase_add_test(tc, wav_odd_audio_gets_its_pad_byte);
    tcase_add_test(tc, wav_mismatch_refused);
    tcase_add_test(tc, wav_bad_parts_refused);
    suite_add_tcase(s, tc);
    tc = tcase_create("mp3");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, mp3_durations_add_up);
    tcase_add_test(tc, mp3_tags_dropped);
    tcase_add_test(tc, mp3_mismatch_refused);
    tcase_add_test(tc, mp3_bad_parts_refused);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(audiojoin_suite)
