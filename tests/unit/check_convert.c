/* check_convert.c - output format names and the conversion of rendered audio.
 *
 * Inputs are tones built here (audio_tone_wav, or interleaved by hand for stereo and for the
 * float / 24-bit / EXTENSIBLE codecs); outputs are read back with audio_wav_info and with this
 * file's own chunk walk and G.711 decoders (ITU-T G.711 tables written from the standard's
 * segment rules, independent of libsndfile's), so an encoder that wrote the wrong header, the
 * wrong rate or mangled samples fails here rather than on a carrier's phone line. */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audio.h"
#include "buf.h"
#include "check_main.h"
#include "convert.h"

static char err[256];

/* ---- helpers: building inputs ----------------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A WAV with the given fmt (16-byte chunk, or 40-byte EXTENSIBLE when ext) and audio bytes. */
static void wav_raw(struct buf *b, uint16_t tag, int ch, int rate, int bits, bool ext,
                    const void *audio, size_t n)
{
    uint8_t h[68] = {0};
    uint32_t fmt_len = ext ? 40 : 16, align = (uint32_t)(ch * bits / 8);
    size_t hl = 12 + 8 + fmt_len + 8;
    memcpy(h, "RIFF", 4);
    put32(h + 4, (uint32_t)(hl - 8 + n));
    memcpy(h + 8, "WAVEfmt ", 8);
    put32(h + 16, fmt_len);
    put16(h + 20, ext ? 0xFFFE : tag);
    put16(h + 22, (uint16_t)ch);
    put32(h + 24, (uint32_t)rate);
    put32(h + 28, (uint32_t)rate * align);
    put16(h + 32, (uint16_t)align);
    put16(h + 34, (uint16_t)bits);
    if (ext) {
        put16(h + 36, 22);                 /* cbSize */
        put16(h + 38, (uint16_t)bits);     /* valid bits */
        put32(h + 40, ch == 1 ? 4 : 3);    /* channel mask */
        put16(h + 44, tag);                /* sub-format GUID: tag + KSDATAFORMAT's tail */
        memcpy(h + 46, "\x00\x00\x00\x00\x10\x00\x80\x00\x00\xAA\x00\x38\x9B\x71", 14);
    }
    memcpy(h + hl - 8, "data", 4);
    put32(h + hl - 4, (uint32_t)n);
    buf_append(b, h, hl);
    buf_append(b, audio, n);
}

static double tone_at(size_t i, int rate, double amp)
{
    return amp * sin(2.0 * M_PI * 440.0 * (double)i / rate);
}

/* A stereo PCM16 440 Hz tone: left at amp_l, right at amp_r (of full scale). */
static void stereo_tone(struct buf *b, int ms, int rate, double amp_l, double amp_r)
{
    size_t n = (size_t)rate * (size_t)ms / 1000;
    int16_t *s = malloc(n * 2 * sizeof *s);
    ck_assert_ptr_nonnull(s);
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = (int16_t)lrint(32767 * tone_at(i, rate, amp_l));
        s[2 * i + 1] = (int16_t)lrint(32767 * tone_at(i, rate, amp_r));
    }
    ck_assert_int_eq(audio_wav_from_pcm(s, n * 4, rate, 2, b, err, sizeof err), 0);
    free(s);
}

/* ---- helpers: reading outputs ----------------------------------------------------------- */

/* Finds the data chunk; checks on the way that the chunks tile the file exactly (true sizes:
 * RIFF = length - 8, the data chunk ends at the end of the file). */
static const uint8_t *data_chunk(const struct buf *b, uint32_t *size)
{
    const uint8_t *p = (const uint8_t *)b->data;
    ck_assert_uint_ge(b->len, 44);
    ck_assert_int_eq(memcmp(p, "RIFF", 4), 0);
    ck_assert_uint_eq(get32(p + 4), b->len - 8);
    size_t off = 12;
    while (off + 8 <= b->len) {
        uint32_t n = get32(p + off + 4);
        if (memcmp(p + off, "data", 4) == 0) {
            ck_assert_uint_eq(off + 8 + n + (n & 1u), b->len);
            *size = n;
            return p + off + 8;
        }
        off += 8 + n + (n & 1u);
    }
    ck_abort_msg("no data chunk");
    return NULL;
}

/* G.711 µ-law byte -> linear, 16-bit scale (ITU-T G.711: bias 0x84, 3-bit segment, 4-bit step). */
static int ulaw_decode(uint8_t u)
{
    u = (uint8_t)~u;
    int t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4);
    return (u & 0x80) ? 0x84 - t : t - 0x84;
}

/* G.711 A-law byte -> linear, 16-bit scale (even bits inverted, 3-bit segment, 4-bit step). */
static int alaw_decode(uint8_t a)
{
    a ^= 0x55;
    int t = (a & 0x0F) << 4, seg = (a & 0x70) >> 4;
    t = seg == 0 ? t + 8 : ((t + 0x108) << (seg - 1));
    return (a & 0x80) ? t : -t;
}

/* The output's samples as linear 16-bit values (PCM16, µ-law or A-law), malloc'd. */
static int *samples_of(const struct buf *b, size_t *n)
{
    struct audio_info ai;
    ck_assert_int_eq(audio_wav_info(b->data, b->len, &ai), 0);
    uint32_t size;
    const uint8_t *d = data_chunk(b, &size);
    size_t bps = ai.codec == 1 ? 2 : 1;
    *n = size / bps;
    int *s = malloc((*n + 1) * sizeof *s);
    ck_assert_ptr_nonnull(s);
    for (size_t i = 0; i < *n; i++) {
        if (ai.codec == 1)
            s[i] = (int16_t)(d[2 * i] | d[2 * i + 1] << 8);
        else if (ai.codec == 7)
            s[i] = ulaw_decode(d[i]);
        else
            s[i] = alaw_decode(d[i]);
    }
    return s;
}

/* Goertzel power at freq over s[from..to). */
static double power_at(const int *s, size_t from, size_t to, double freq, int rate)
{
    double k = 2.0 * cos(2.0 * M_PI * freq / rate), a = 0, b = 0;
    for (size_t i = from; i < to; i++) {
        double y = s[i] + k * a - b;
        b = a;
        a = y;
    }
    return (a * a + b * b - k * a * b) / ((double)(to - from) * (to - from));
}

static double peak_of(const int *s, size_t n)
{
    int m = 0;
    for (size_t i = n / 4; i < 3 * n / 4; i++)
        m = abs(s[i]) > m ? abs(s[i]) : m;
    return m;
}

static int run(const struct buf *in, enum convert_input kind, enum out_format want,
               struct buf *out, struct convert_info *info)
{
    err[0] = '\0';
    return convert_audio(in->data, in->len, kind, want, out, info, err, sizeof err);
}

/* ---- format names ----------------------------------------------------------------------- */

START_TEST(format_names)
{
    static const char *names[] = {"wav", "mp3", "ulaw_8000", "alaw_8000", "wav_8000",
                                  "wav_16000"};
    for (int i = 0; i < OUT_FORMAT_COUNT; i++) {
        enum out_format f = OUT_FORMAT_WAV;
        ck_assert_int_eq(out_format_parse(names[i], &f), 0);
        ck_assert_int_eq(f, i);
        ck_assert_str_eq(out_format_name(f), names[i]);
        ck_assert_str_eq(out_format_ext(f), f == OUT_FORMAT_MP3 ? "mp3" : "wav");
        ck_assert(out_format_is_wav(f) == (f != OUT_FORMAT_MP3));
    }
    enum out_format f = OUT_FORMAT_ALAW_8000;
    ck_assert_int_eq(out_format_parse("ULAW_8000", &f), -1);
    ck_assert_int_eq(out_format_parse("ulaw", &f), -1);
    ck_assert_int_eq(out_format_parse("wav_22050", &f), -1);
    ck_assert_int_eq(out_format_parse("", &f), -1);
    ck_assert_int_eq(out_format_parse(NULL, &f), -1);
    ck_assert_int_eq(f, OUT_FORMAT_ALAW_8000);   /* untouched */
    ck_assert_str_eq(out_format_name((enum out_format)OUT_FORMAT_COUNT), "?");
    ck_assert_str_eq(out_format_ext((enum out_format)-1), "?");
    ck_assert(!out_format_is_wav((enum out_format)OUT_FORMAT_COUNT));
    ck_assert_int_eq(out_format_rate(OUT_FORMAT_WAV), 0);
    ck_assert_int_eq(out_format_rate(OUT_FORMAT_MP3), 0);
    ck_assert_int_eq(out_format_rate(OUT_FORMAT_ULAW_8000), 8000);
    ck_assert_int_eq(out_format_rate(OUT_FORMAT_WAV_16000), 16000);
    ck_assert_int_eq(out_format_codec(OUT_FORMAT_WAV), 0);
    ck_assert_int_eq(out_format_codec(OUT_FORMAT_ULAW_8000), CONVERT_CODEC_ULAW);
    ck_assert_int_eq(out_format_codec(OUT_FORMAT_ALAW_8000), CONVERT_CODEC_ALAW);
    ck_assert_int_eq(out_format_codec(OUT_FORMAT_WAV_8000), CONVERT_CODEC_PCM);
    ck_assert_int_eq(out_format_codec(OUT_FORMAT_MP3), CONVERT_CODEC_MP3);
}
END_TEST

/* ---- every WAV target from 24 / 22.05 kHz, mono / stereo -------------------------------- */

static const struct {
    int  rate;
    bool stereo;
} inputs[] = {{24000, false}, {24000, true}, {22050, false}, {22050, true}};

static const enum out_format wav_targets[] = {OUT_FORMAT_ULAW_8000, OUT_FORMAT_ALAW_8000,
                                              OUT_FORMAT_WAV_8000, OUT_FORMAT_WAV_16000};
#define N_WAV_TARGETS 4

/* _i picks an input and a target; stereo inputs carry the tone on both channels. */
START_TEST(wav_targets_from_tones)
{
    int rate = inputs[_i / N_WAV_TARGETS].rate;
    bool stereo = inputs[_i / N_WAV_TARGETS].stereo;
    enum out_format want = wav_targets[_i % N_WAV_TARGETS];
    struct buf in = {0}, out = {0};
    if (stereo)
        stereo_tone(&in, 1500, rate, 0.3, 0.3);
    else
        audio_tone_wav(1500, rate, &in);
    size_t in_frames = (size_t)rate * 1500 / 1000;

    struct convert_info ci;
    ck_assert_msg(run(&in, CONVERT_IN_WAV, want, &out, &ci) == 0, "%s", err);
    ck_assert_int_eq(audio_validate(out.data, out.len, AUDIO_WAV, err, sizeof err), 0);
    struct audio_info ai;
    ck_assert_int_eq(audio_wav_info(out.data, out.len, &ai), 0);
    int want_rate = out_format_rate(want);
    ck_assert_uint_eq(ai.sample_rate, (uint32_t)want_rate);
    ck_assert_uint_eq(ai.channels, 1);
    ck_assert_uint_eq(ai.codec, (uint16_t)out_format_codec(want));
    ck_assert_uint_eq(ai.bits, ai.codec == CONVERT_CODEC_PCM ? 16 : 8);

    /* True sizes, and the duration kept within one output frame. */
    uint32_t size;
    data_chunk(&out, &size);
    ck_assert_uint_eq(size, ai.data_bytes);
    double expect = (double)in_frames * want_rate / rate;
    double frames = (double)ai.data_bytes / (ai.bits / 8);
    ck_assert_msg(fabs(frames - expect) <= 1.0, "%.0f frames, expected %.1f", frames, expect);

    /* info describes the bytes written. */
    ck_assert_uint_eq(ci.sample_rate, ai.sample_rate);
    ck_assert_uint_eq(ci.channels, 1);
    ck_assert_uint_eq(ci.codec, ai.codec);
    ck_assert_uint_eq(ci.bytes, out.len);
    ck_assert_int_eq(ci.duration_ms, ai.duration_ms);
    ck_assert_int_le(llabs(ci.duration_ms - 1500), 1);

    /* The 440 Hz tone survives: its power dwarfs any other tone's, at its level (0.3 of full
     * scale, as audio_tone_wav makes it). */
    size_t n;
    int *s = samples_of(&out, &n);
    double p440 = power_at(s, n / 4, 3 * n / 4, 440, want_rate);
    double p1k = power_at(s, n / 4, 3 * n / 4, 1000, want_rate);
    double p3k = power_at(s, n / 4, 3 * n / 4, 3000, want_rate);
    ck_assert_msg(p440 > 1000 * p1k && p440 > 1000 * p3k, "440: %g 1k: %g 3k: %g", p440, p1k, p3k);
    double peak = peak_of(s, n);
    ck_assert_msg(peak > 0.27 * 32768 && peak < 0.33 * 32768, "peak %.0f", peak);
    free(s);
    buf_free(&in);
    buf_free(&out);
}
END_TEST

/* Mixing down is the channels' mean: a tone on the left only comes out at half its level. */
START_TEST(stereo_mix_is_the_mean)
{
    struct buf in = {0}, out = {0};
    stereo_tone(&in, 500, 24000, 0.8, 0.0);
    ck_assert_msg(run(&in, CONVERT_IN_WAV, OUT_FORMAT_WAV_16000, &out, NULL) == 0, "%s", err);
    size_t n;
    int *s = samples_of(&out, &n);
    double peak = peak_of(s, n);
    ck_assert_msg(fabs(peak - 0.4 * 32767) < 0.01 * 32767, "peak %.0f", peak);
    free(s);
    buf_free(&in);
    buf_free(&out);
}
END_TEST

/* A full-scale square wave rings past full scale in the resampler (Gibbs); the overshoot is
 * clipped, never wrapped around: wherever the input sits at +full scale the output is
 * positive, and negative at -full scale. */
START_TEST(full_scale_is_clipped)
{
    size_t n = 24000;
    int16_t *sq = malloc(n * sizeof *sq);
    for (size_t i = 0; i < n; i++)
        sq[i] = (i / 120) % 2 ? -32767 : 32767;   /* 100 Hz */
    struct buf in = {0}, out = {0};
    ck_assert_int_eq(audio_wav_from_pcm(sq, n * 2, 24000, 1, &in, err, sizeof err), 0);
    static const enum out_format wants[] = {OUT_FORMAT_WAV_8000, OUT_FORMAT_ULAW_8000};
    for (int w = 0; w < 2; w++) {
        buf_reset(&out);
        ck_assert_msg(run(&in, CONVERT_IN_WAV, wants[w], &out, NULL) == 0, "%s", err);
        size_t m;
        int *s = samples_of(&out, &m);
        for (size_t i = 3; i + 3 < m; i++) {
            size_t at = 3 * i;
            if (sq[at - 6] == sq[at + 6] && sq[at - 6] == sq[at])
                ck_assert_msg(sq[at] > 0 ? s[i] > 0 : s[i] < 0, "%s: sample %zu is %d",
                              out_format_name(wants[w]), i, s[i]);
        }
        free(s);
    }
    free(sq);
    buf_free(&in);
    buf_free(&out);
}
END_TEST

/* Float, 24-bit and EXTENSIBLE inputs decode; an EXTENSIBLE PCM16 8 kHz mono file is not passed
 * through for wav_8000 (telephony readers want the plain tag), its output has tag 1. */
START_TEST(other_codecs_decode)
{
    size_t n = 4000;
    float *f = malloc(n * sizeof *f);
    uint8_t *p24 = malloc(n * 3);
    int16_t *p16 = malloc(n * sizeof *p16);
    for (size_t i = 0; i < n; i++) {
        f[i] = (float)tone_at(i, 16000, 0.5);
        int32_t v = (int32_t)lrint(8388607 * tone_at(i, 16000, 0.5));
        p24[3 * i] = (uint8_t)v;
        p24[3 * i + 1] = (uint8_t)(v >> 8);
        p24[3 * i + 2] = (uint8_t)(v >> 16);
        p16[i] = (int16_t)lrint(32767 * tone_at(i, 8000, 0.5));
    }
    struct buf fl = {0}, b24 = {0}, ext = {0}, out = {0};
    wav_raw(&fl, 3, 1, 16000, 32, false, f, n * 4);
    wav_raw(&b24, 1, 1, 16000, 24, true, p24, n * 3);
    wav_raw(&ext, 1, 1, 8000, 16, true, p16, n * 2);
    struct convert_info ci;
    ck_assert_msg(run(&fl, CONVERT_IN_WAV, OUT_FORMAT_ULAW_8000, &out, &ci) == 0, "%s", err);
    ck_assert_int_eq(ci.duration_ms, 250);
    buf_reset(&out);
    ck_assert_msg(run(&b24, CONVERT_IN_WAV, OUT_FORMAT_WAV_16000, &out, &ci) == 0, "%s", err);
    ck_assert_int_eq(ci.duration_ms, 250);
    size_t m;
    int *s = samples_of(&out, &m);
    ck_assert_uint_eq(m, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_le(abs(s[i] - (int)lrint(32767 * tone_at(i, 16000, 0.5))), 1);
    free(s);
    buf_reset(&out);
    ck_assert_msg(run(&ext, CONVERT_IN_WAV, OUT_FORMAT_WAV_8000, &out, &ci) == 0, "%s", err);
    ck_assert_uint_eq(((uint8_t)out.data[20]) | ((uint8_t)out.data[21]) << 8, 1);
    ck_assert_int_eq(ci.duration_ms, 500);
    free(f);
    free(p24);
    free(p16);
    buf_free(&fl);
    buf_free(&b24);
    buf_free(&ext);
    buf_free(&out);
}
END_TEST

/* ---- G.711 round trips ------------------------------------------------------------------ */

/* A sweep of every magnitude, both signs, at 8 kHz (no resampling in the way). */
static int16_t *sweep(size_t *n)
{
    *n = 2 * 65536 / 8;
    int16_t *s = malloc(*n * sizeof *s);
    ck_assert_ptr_nonnull(s);
    for (size_t i = 0; i < *n / 2; i++) {
        s[2 * i] = (int16_t)(i * 8);
        s[2 * i + 1] = (int16_t)(-(int32_t)(i * 8) - 1);
    }
    return s;
}

/* PCM16 -> µ-law / A-law (our encoder) -> decoded twice: by this file's G.711 tables and by
 * converting the G.711 WAV back to wav_8000 (libsndfile's decoder). Both stay within G.711's
 * quantisation: a step is 1/16 of the segment's base, so the error is under |x|/16 plus the
 * smallest step (µ-law: 8, A-law: 16 on the 16-bit scale), and the two decoders agree. */
static void g711_round_trip(enum out_format want, int small_step)
{
    size_t n;
    int16_t *s = sweep(&n);
    struct buf in = {0}, g = {0}, back = {0};
    ck_assert_int_eq(audio_wav_from_pcm(s, n * 2, 8000, 1, &in, err, sizeof err), 0);
    struct convert_info ci;
    ck_assert_msg(run(&in, CONVERT_IN_WAV, want, &g, &ci) == 0, "%s", err);
    ck_assert_uint_eq(ci.codec, (uint16_t)out_format_codec(want));
    size_t m;
    int *dec = samples_of(&g, &m);
    ck_assert_uint_eq(m, n);
    ck_assert_msg(run(&g, CONVERT_IN_WAV, OUT_FORMAT_WAV_8000, &back, &ci) == 0, "%s", err);
    ck_assert_uint_eq(ci.codec, CONVERT_CODEC_PCM);
    size_t k;
    int *lib = samples_of(&back, &k);
    ck_assert_uint_eq(k, n);
    for (size_t i = 0; i < n; i++) {
        int bound = abs(s[i]) / 16 + 2 * small_step;
        ck_assert_msg(abs(dec[i] - s[i]) <= bound, "x=%d decoded %d", s[i], dec[i]);
        ck_assert_msg(abs(lib[i] - dec[i]) <= 1, "G.711 %d, libsndfile %d", dec[i], lib[i]);
    }
    free(s);
    free(dec);
    free(lib);
    buf_free(&in);
    buf_free(&g);
    buf_free(&back);
}

START_TEST(ulaw_round_trip)
{
    g711_round_trip(OUT_FORMAT_ULAW_8000, 8);
}
END_TEST

START_TEST(alaw_round_trip)
{
    g711_round_trip(OUT_FORMAT_ALAW_8000, 16);
}
END_TEST

/* ---- raw µ-law -------------------------------------------------------------------------- */

START_TEST(raw_ulaw_wrapped)
{
    struct buf raw = {0}, out = {0};
    for (int i = 0; i < 8000; i++)
        buf_putc(&raw, (char)(uint8_t)(i * 7));
    buf_append(&out, "keep", 4);   /* an append: earlier bytes stay */
    struct convert_info ci;
    ck_assert_msg(run(&raw, CONVERT_IN_ULAW_8000, OUT_FORMAT_ULAW_8000, &out, &ci) == 0, "%s",
                  err);
    ck_assert_int_eq(memcmp(out.data, "keep", 4), 0);
    struct buf wav = {0};
    buf_append(&wav, out.data + 4, out.len - 4);
    struct audio_info ai;
    ck_assert_int_eq(audio_wav_info(wav.data, wav.len, &ai), 0);
    ck_assert_uint_eq(ai.sample_rate, 8000);
    ck_assert_uint_eq(ai.channels, 1);
    ck_assert_uint_eq(ai.codec, 7);
    ck_assert_uint_eq(ai.bits, 8);
    ck_assert_int_eq(ai.duration_ms, 1000);
    ck_assert_uint_eq(ci.bytes, wav.len);
    ck_assert_int_eq(ci.duration_ms, 1000);
    uint32_t size;
    const uint8_t *d = data_chunk(&wav, &size);
    ck_assert_uint_eq(size, 8000);
    ck_assert_int_eq(memcmp(d, raw.data, 8000), 0);   /* the bytes as they were */
    /* The WAV spec's extras for a non-PCM codec: an 18-byte fmt and a fact chunk. */
    ck_assert_uint_eq(get32((const uint8_t *)wav.data + 16), 18);
    ck_assert_ptr_nonnull(memmem(wav.data, (size_t)(d - (const uint8_t *)wav.data), "fact", 4));
    /* And a µ-law WAV is already ulaw_8000. */
    ck_assert_int_eq(run(&wav, CONVERT_IN_WAV, OUT_FORMAT_ULAW_8000, &out, NULL),
                     CONVERT_UNCHANGED);
    buf_free(&raw);
    buf_free(&out);
    buf_free(&wav);
}
END_TEST

/* wav from raw µ-law is PCM16 at 8 kHz; every sample is the G.711 value of its byte. */
START_TEST(raw_ulaw_to_pcm)
{
    struct buf raw = {0}, out = {0};
    for (int i = 0; i < 4000; i++)
        buf_putc(&raw, (char)(uint8_t)i);
    struct convert_info ci;
    ck_assert_msg(run(&raw, CONVERT_IN_ULAW_8000, OUT_FORMAT_WAV, &out, &ci) == 0, "%s", err);
    ck_assert_uint_eq(ci.codec, CONVERT_CODEC_PCM);
    ck_assert_uint_eq(ci.sample_rate, 8000);
    ck_assert_int_eq(ci.duration_ms, 500);
    size_t n;
    int *s = samples_of(&out, &n);
    ck_assert_uint_eq(n, 4000);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_le(abs(s[i] - ulaw_decode((uint8_t)i)), 1);
    free(s);
    buf_reset(&out);
    ck_assert_msg(run(&raw, CONVERT_IN_ULAW_8000, OUT_FORMAT_WAV_16000, &out, &ci) == 0, "%s",
                  err);
    ck_assert_uint_eq(ci.sample_rate, 16000);
    ck_assert_int_eq(ci.duration_ms, 500);
    buf_free(&raw);
    buf_free(&out);
}
END_TEST

/* ---- MP3 -------------------------------------------------------------------------------- */

/* The first frame's header: bitrate (kbit/s) and mode (3 = mono), MPEG-1/2/2.5 Layer III. */
static void mp3_header(const struct buf *b, int *kbps, int *mode)
{
    static const int v1[16] = {0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320};
    static const int v2[16] = {0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160};
    const uint8_t *h = (const uint8_t *)b->data;
    ck_assert_int_eq(h[0], 0xFF);
    ck_assert_int_eq((h[1] >> 1) & 3, 1);   /* Layer III */
    *kbps = (((h[1] >> 3) & 3) == 3 ? v1 : v2)[h[2] >> 4];
    *mode = h[3] >> 6;
}

START_TEST(mp3_from_tones)
{
    static const struct {
        int  in_rate, out_rate;
        bool stereo;
    } cases[] = {{24000, 24000, false}, {22050, 22050, true}, {8000, 8000, false},
                 {44100, 44100, false}, {11000, 24000, false}};
    int in_rate = cases[_i].in_rate, out_rate = cases[_i].out_rate;
    struct buf in = {0}, out = {0};
    if (cases[_i].stereo)
        stereo_tone(&in, 3000, in_rate, 0.5, 0.5);
    else
        audio_tone_wav(3000, in_rate, &in);
    struct convert_info ci;
    ck_assert_msg(run(&in, CONVERT_IN_WAV, OUT_FORMAT_MP3, &out, &ci) == 0, "%s", err);
    ck_assert_msg(audio_validate(out.data, out.len, AUDIO_MP3, err, sizeof err) == 0, "%s", err);
    int kbps, mode;
    mp3_header(&out, &kbps, &mode);
    ck_assert_int_eq(kbps, 64);
    ck_assert_int_eq(mode, 3);
    ck_assert_uint_eq(ci.sample_rate, (uint32_t)out_rate);
    ck_assert_uint_eq(ci.channels, 1);
    ck_assert_uint_eq(ci.codec, CONVERT_CODEC_MP3);
    ck_assert_uint_eq(ci.bytes, out.len);
    /* Frames: the input's samples plus LAME's delay and padding (under two frames' worth plus
     * its 1105-sample decoder delay); CBR 64 kbit/s frames make the size follow. */
    int spf = out_rate >= 32000 ? 1152 : 576;
    int64_t n = (int64_t)out_rate * 3;
    int64_t frames = ci.duration_ms * out_rate / 1000 / spf;
    ck_assert_msg(frames * spf >= n - spf && frames * spf <= n + 1105 + 2 * spf,
                  "%lld frames of %d for %lld samples", (long long)frames, spf, (long long)n);
    ck_assert_int_ge(ci.duration_ms, 3000);
    ck_assert_int_le(ci.duration_ms, 3000 + (1105 + 2 * spf) * 1000 / out_rate);
    double kbit = out.len * 8.0 / (ci.duration_ms / 1000.0) / 1000;
    ck_assert_msg(fabs(kbit - 64) < 2, "%.1f kbit/s", kbit);
    buf_free(&in);
    buf_free(&out);
}
END_TEST

/* The frame walker against a file whose frame count is known by construction. */
START_TEST(mp3_info_counts_frames)
{
    struct buf m = {0};
    audio_silent_mp3(1000, &m);   /* ceil(1000 ms * 44100 / 1152) = 39 frames */
    struct convert_info ci;
    ck_assert_int_eq(convert_mp3_info(m.data, m.len, &ci), 0);
    ck_assert_uint_eq(ci.sample_rate, 44100);
    ck_assert_uint_eq(ci.channels, 1);
    ck_assert_int_eq(ci.duration_ms, 39 * 1152 * 1000 / 44100);
    ck_assert_uint_eq(ci.bytes, m.len);
    /* A trailing ID3v1 tag and a cut last frame are not counted. */
    buf_append(&m, "TAG", 3);
    ck_assert_int_eq(convert_mp3_info(m.data, m.len, &ci), 0);
    ck_assert_int_eq(ci.duration_ms, 39 * 1152 * 1000 / 44100);
    ck_assert_int_eq(convert_mp3_info(m.data, m.len - 3 - 10, &ci), 0);
    ck_assert_int_eq(ci.duration_ms, 38 * 1152 * 1000 / 44100);
    /* A leading Info tag frame carries no audio. */
    struct buf t = {0};
    buf_append(&t, m.data, m.len);
    memcpy(t.data + 4 + 17, "Info", 4);   /* MPEG-1 mono: 17 bytes of side information */
    ck_assert_int_eq(convert_mp3_info(t.data, t.len, &ci), 0);
    ck_assert_int_eq(ci.duration_ms, 38 * 1152 * 1000 / 44100);
    ck_assert_int_eq(convert_mp3_info("{\"a\":1}", 7, &ci), -1);
    ck_assert_uint_eq(ci.bytes, 0);
    buf_free(&m);
    buf_free(&t);
}
END_TEST

/* ---- pass-through ----------------------------------------------------------------------- */

static void assert_unchanged(const struct buf *in, enum convert_input kind, enum out_format want)
{
    struct buf out = {0};
    struct convert_info ci;
    ck_assert_msg(run(in, kind, want, &out, &ci) == CONVERT_UNCHANGED, "%s: %s",
                  out_format_name(want), err);
    ck_assert_ptr_null(out.data);   /* nothing copied, nothing allocated */
    ck_assert_uint_eq(out.len, 0);
    ck_assert_uint_eq(ci.bytes, in->len);
}

START_TEST(pass_through)
{
    struct buf st = {0}, t8 = {0}, t16 = {0}, mp3 = {0}, out = {0};
    stereo_tone(&st, 200, 24000, 0.5, 0.5);
    audio_tone_wav(200, 8000, &t8);
    audio_tone_wav(200, 16000, &t16);
    audio_silent_mp3(500, &mp3);
    struct convert_info ci;

    assert_unchanged(&st, CONVERT_IN_WAV, OUT_FORMAT_WAV);   /* any WAV is a wav */
    ck_assert_int_eq(run(&st, CONVERT_IN_WAV, OUT_FORMAT_WAV, &out, &ci), CONVERT_UNCHANGED);
    ck_assert_uint_eq(ci.sample_rate, 24000);
    ck_assert_uint_eq(ci.channels, 2);
    ck_assert_int_eq(ci.duration_ms, 200);
    assert_unchanged(&t8, CONVERT_IN_WAV, OUT_FORMAT_WAV_8000);
    assert_unchanged(&t16, CONVERT_IN_WAV, OUT_FORMAT_WAV_16000);
    assert_unchanged(&mp3, CONVERT_IN_MP3, OUT_FORMAT_MP3);
    ck_assert_int_eq(run(&mp3, CONVERT_IN_MP3, OUT_FORMAT_MP3, &out, &ci), CONVERT_UNCHANGED);
    ck_assert_int_eq(ci.duration_ms, 20 * 1152 * 1000 / 44100);   /* ceil(500 ms / frame) */

    /* Made here, then already what was asked for. */
    struct buf a = {0};
    ck_assert_int_eq(run(&t16, CONVERT_IN_WAV, OUT_FORMAT_ALAW_8000, &a, NULL), 0);
    assert_unchanged(&a, CONVERT_IN_WAV, OUT_FORMAT_ALAW_8000);
    /* ...but not for another format: A-law is not µ-law, 8 kHz is not 16, stereo is not mono. */
    ck_assert_int_eq(run(&a, CONVERT_IN_WAV, OUT_FORMAT_ULAW_8000, &out, NULL), 0);
    ck_assert_int_eq(run(&t8, CONVERT_IN_WAV, OUT_FORMAT_WAV_16000, &out, NULL), 0);
    struct buf st8 = {0};
    stereo_tone(&st8, 200, 8000, 0.5, 0.5);
    buf_reset(&out);
    ck_assert_int_eq(run(&st8, CONVERT_IN_WAV, OUT_FORMAT_WAV_8000, &out, &ci), 0);
    ck_assert_uint_eq(ci.channels, 1);
    buf_free(&st);
    buf_free(&t8);
    buf_free(&t16);
    buf_free(&mp3);
    buf_free(&a);
    buf_free(&st8);
    buf_free(&out);
}
END_TEST

/* A streamed WAV whose header still holds placeholder sizes converts with its whole length. */
START_TEST(streamed_placeholders)
{
    static const uint32_t sizes[] = {0xFFFFFFFFu, 0x7FFFFFFFu, 0};
    for (size_t k = 0; k < 3; k++) {
        struct buf in = {0}, out = {0};
        audio_tone_wav(1000, 24000, &in);
        put32((uint8_t *)in.data + 4, sizes[k]);
        put32((uint8_t *)in.data + 40, sizes[k]);
        struct convert_info ci;
        ck_assert_msg(run(&in, CONVERT_IN_WAV, OUT_FORMAT_ULAW_8000, &out, &ci) == 0, "%s", err);
        ck_assert_int_eq(ci.duration_ms, 1000);
        uint32_t size;
        data_chunk(&out, &size);
        ck_assert_uint_eq(size, 8000);
        buf_free(&in);
        buf_free(&out);
    }
}
END_TEST

/* ---- refusals --------------------------------------------------------------------------- */

START_TEST(refusals)
{
    struct buf out = {0}, json = {0}, mp3 = {0}, wav = {0};
    buf_append(&out, "keep", 4);
    buf_puts(&json, "{\"detail\":\"quota exceeded\"}");
    audio_silent_mp3(200, &mp3);
    audio_tone_wav(100, 24000, &wav);
    struct convert_info ci;

    ck_assert_int_eq(convert_audio(NULL, 0, CONVERT_IN_WAV, OUT_FORMAT_WAV, &out, &ci, err,
                                   sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "empty"));
    ck_assert_int_eq(convert_audio("", 0, CONVERT_IN_ULAW_8000, OUT_FORMAT_ULAW_8000, &out, &ci,
                                   err, sizeof err), -1);
    ck_assert_int_eq(run(&json, CONVERT_IN_WAV, OUT_FORMAT_ULAW_8000, &out, &ci), -1);
    ck_assert_msg(strstr(err, "JSON") != NULL, "%s", err);
    ck_assert_int_eq(run(&json, CONVERT_IN_MP3, OUT_FORMAT_MP3, &out, &ci), -1);
    ck_assert_int_eq(run(&mp3, CONVERT_IN_MP3, OUT_FORMAT_ULAW_8000, &out, &ci), -1);
    ck_assert_msg(strstr(err, "MP3 to ulaw_8000 is not supported") != NULL, "%s", err);
    ck_assert_int_eq(run(&mp3, CONVERT_IN_MP3, OUT_FORMAT_WAV, &out, &ci), -1);
    ck_assert_int_eq(run(&mp3, CONVERT_IN_WAV, OUT_FORMAT_MP3, &out, &ci), -1);
    ck_assert_int_eq(run(&wav, CONVERT_IN_ULAW_8000, OUT_FORMAT_ULAW_8000, &out, &ci), -1);
    ck_assert_msg(strstr(err, "WAV") != NULL, "%s", err);
    ck_assert_int_eq(run(&mp3, CONVERT_IN_ULAW_8000, OUT_FORMAT_WAV, &out, &ci), -1);
    ck_assert_int_eq(run(&wav, CONVERT_IN_WAV, (enum out_format)OUT_FORMAT_COUNT, &out, &ci), -1);
    ck_assert_int_eq(run(&wav, (enum convert_input)7, OUT_FORMAT_ULAW_8000, &out, &ci), -1);
    /* A codec libsndfile cannot decode (WMA, tag 0x0161) is named in the refusal. */
    struct buf wma = {0};
    wav_raw(&wma, 0x0161, 1, 16000, 16, false, "\x01\x02\x03\x04", 4);
    ck_assert_int_eq(run(&wma, CONVERT_IN_WAV, OUT_FORMAT_ULAW_8000, &out, &ci), -1);
    ck_assert_msg(strstr(err, "0x0161") != NULL, "%s", err);
    buf_free(&wma);
    /* Too short for one output frame: one sample at 24 kHz is a third of one at 8 kHz. */
    struct buf one = {0};
    audio_tone_wav(0, 24000, &one);
    ck_assert_int_eq(run(&one, CONVERT_IN_WAV, OUT_FORMAT_ULAW_8000, &out, &ci), -1);
    ck_assert_msg(strstr(err, "no audio") != NULL, "%s", err);
    buf_free(&one);
    /* A WAV cut inside a frame is refused by validation, before any work. */
    ck_assert_int_eq(convert_audio(wav.data, wav.len - 1, CONVERT_IN_WAV, OUT_FORMAT_ULAW_8000,
                                   &out, &ci, err, sizeof err), -1);
    ck_assert_uint_eq(out.len, 4);   /* out as it was after every refusal */
    ck_assert_str_eq(out.data, "keep");
    buf_free(&out);
    buf_free(&json);
    buf_free(&mp3);
    buf_free(&wav);
}
END_TEST

/* ---- threads ---------------------------------------------------------------------------- */

struct job {
    const struct buf *in;
    enum out_format   want;
    struct buf        out;
    int               rc;
};

static void *convert_thread(void *arg)
{
    struct job *j = arg;
    char e[128];
    for (int i = 0; i < 3 && j->rc == 0; i++) {
        buf_reset(&j->out);
        j->rc = convert_audio(j->in->data, j->in->len, CONVERT_IN_WAV, j->want, &j->out, NULL, e,
                              sizeof e);
    }
    return NULL;
}

/* Concurrent calls (the writer threads) give byte for byte what one call alone gives. */
START_TEST(concurrent_calls_agree)
{
    struct buf in = {0};
    audio_tone_wav(700, 22050, &in);
    static const enum out_format wants[4] = {OUT_FORMAT_MP3, OUT_FORMAT_ULAW_8000,
                                             OUT_FORMAT_MP3, OUT_FORMAT_WAV_16000};
    struct job jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (struct job){.in = &in, .want = wants[i]};
        ck_assert_int_eq(pthread_create(&th[i], NULL, convert_thread, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < 4; i++) {
        struct buf alone = {0};
        ck_assert_int_eq(jobs[i].rc, 0);
        ck_assert_int_eq(run(&in, CONVERT_IN_WAV, wants[i], &alone, NULL), 0);
        ck_assert_uint_eq(alone.len, jobs[i].out.len);
        ck_assert_int_eq(memcmp(alone.data, jobs[i].out.data, alone.len), 0);
        buf_free(&alone);
        buf_free(&jobs[i].out);
    }
    buf_free(&in);
}
END_TEST

static Suite *convert_suite(void)
{
    Suite *s = suite_create("convert");
    TCase *tc = tcase_create("formats");
    tcase_add_test(tc, format_names);
    suite_add_tcase(s, tc);

    tc = tcase_create("wav");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, wav_targets_from_tones, 0, 4 * N_WAV_TARGETS);
    tcase_add_test(tc, stereo_mix_is_the_mean);
    tcase_add_test(tc, full_scale_is_clipped);
    tcase_add_test(tc, other_codecs_decode);
    tcase_add_test(tc, ulaw_round_trip);
    tcase_add_test(tc, alaw_round_trip);
    tcase_add_test(tc, raw_ulaw_wrapped);
    tcase_add_test(tc, raw_ulaw_to_pcm);
    tcase_add_test(tc, streamed_placeholders);
    suite_add_tcase(s, tc);

    tc = tcase_create("mp3");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, mp3_from_tones, 0, 5);
    tcase_add_test(tc, mp3_info_counts_frames);
    suite_add_tcase(s, tc);

    tc = tcase_create("edges");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, pass_through);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, concurrent_calls_agree);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(convert_suite)
