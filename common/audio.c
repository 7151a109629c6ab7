/* audio.c - audio format names, validation and tiny generators; see audio.h.
 *
 * Validation reads headers byte by byte (little-endian for RIFF, big-endian bit fields for MPEG)
 * with 64-bit arithmetic for every offset, so no declared size in a hostile body can overflow an
 * index or send a read past `len`. The generators write little-endian explicitly, so the files
 * are the same on any host. */
#include "audio.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define WAV_HEADER_LEN   44
#define WAV_MAX_SAMPLES  ((UINT32_MAX - 36u) / 2u)   /* data size must fit the u32 fields */
#define RIFF_SIZE_UNSET  0xFFFFFFFFu
#define ID3_HEADER_LEN   10

int audio_format_parse(const char *s, enum audio_format *out)
{
    if (!s)
        return -1;
    if (strcmp(s, "wav") == 0)
        *out = AUDIO_WAV;
    else if (strcmp(s, "mp3") == 0)
        *out = AUDIO_MP3;
    else
        return -1;
    return 0;
}

const char *audio_format_name(enum audio_format f)
{
    switch (f) {
    case AUDIO_WAV: return "wav";
    case AUDIO_MP3: return "mp3";
    }
    return "?";
}

/* ---- small helpers ---------------------------------------------------------------------- */

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* A chunk id for messages: the four characters when printable, else hex. */
static void fourcc_text(const uint8_t *p, char out[12])
{
    bool printable = true;
    for (int i = 0; i < 4; i++)
        printable = printable && p[i] >= 0x20 && p[i] < 0x7f;
    if (printable)
        snprintf(out, 12, "'%c%c%c%c'", p[0], p[1], p[2], p[3]);
    else
        snprintf(out, 12, "%02x%02x%02x%02x", p[0], p[1], p[2], p[3]);
}

/* Names what a non-audio body looks like, so an error says "JSON" rather than "bad magic":
 * that is what an operator needs to recognise an API error sent with status 200. */
static const char *body_kind(const uint8_t *p, size_t len)
{
    size_t i = 0;
    if (len >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
        i = 3;   /* UTF-8 byte order mark */
    while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    if (i == len)
        return len ? "blank text" : "empty";
    if (p[i] == '{' || p[i] == '[')
        return "JSON";
    if (p[i] == '<')
        return "HTML or XML";
    if (len - i >= 4 && memcmp(p + i, "RIFF", 4) == 0)
        return "WAV";
    if (len - i >= 3 && memcmp(p + i, "ID3", 3) == 0)
        return "MP3";
    if (len - i >= 2 && p[i] == 0xFF && (p[i + 1] & 0xE0) == 0xE0)
        return "MPEG audio";
    return "unrecognised data";
}

/* ---- WAV -------------------------------------------------------------------------------- */

struct wav_scan {
    bool     have_fmt;
    uint16_t channels;
    uint32_t rate;
};

static int wav_check_fmt(const uint8_t *body, uint32_t size, struct wav_scan *ws, char *err, size_t errlen)
{
    if (size < 16)
        return fail(err, errlen, "WAV 'fmt ' chunk too small (%u bytes)", size);
    ws->channels = get_le16(body + 2);
    ws->rate = get_le32(body + 4);
    if (ws->channels < 1 || ws->channels > 16)
        return fail(err, errlen, "WAV has %u channels", ws->channels);
    if (ws->rate < 1000 || ws->rate > 768000)
        return fail(err, errlen, "WAV sample rate %u Hz is not sane", ws->rate);
    ws->have_fmt = true;
    return 0;
}

static int wav_check_data(uint64_t body_off, uint32_t size, size_t len, const struct wav_scan *ws,
                          char *err, size_t errlen)
{
    if (!ws->have_fmt)
        return fail(err, errlen, "WAV 'data' chunk before any 'fmt ' chunk");
    if (size == 0)
        return fail(err, errlen, "WAV 'data' chunk declares 0 bytes");
    if (size == RIFF_SIZE_UNSET)
        return fail(err, errlen, "WAV 'data' size unknown (0xFFFFFFFF, a streamed file)");
    if (body_off + size > len)
        return fail(err, errlen, "WAV cut short: 'data' declares %u bytes, %llu received", size,
                    (unsigned long long)(len - body_off));
    return 0;
}

/* Walks the chunks after "WAVE" until the data chunk; see audio.h for the rules. */
static int wav_validate(const uint8_t *p, size_t len, char *err, size_t errlen)
{
    if (len < 12 || memcmp(p, "RIFF", 4) != 0 || memcmp(p + 8, "WAVE", 4) != 0)
        return fail(err, errlen, "body is %s, not a WAV file (%zu bytes)", body_kind(p, len), len);
    struct wav_scan ws = {0};
    uint64_t off = 12;
    while (off + 8 <= len) {
        const uint8_t *id = p + off;
        uint32_t size = get_le32(p + off + 4);
        uint64_t body = off + 8;
        if (memcmp(id, "data", 4) == 0) {
            if (wav_check_data(body, size, len, &ws, err, errlen) < 0)
                return -1;
            uint32_t riff = get_le32(p + 4);
            if (riff != 0 && riff != RIFF_SIZE_UNSET && (uint64_t)riff + 8 > len)
                return fail(err, errlen, "WAV cut short: RIFF declares %llu bytes, %zu received",
                            (unsigned long long)riff + 8, len);
            return 0;
        }
        if (body + size > len) {
            char name[12];
            fourcc_text(id, name);
            return fail(err, errlen, "WAV cut short inside chunk %s", name);
        }
        if (memcmp(id, "fmt ", 4) == 0 && wav_check_fmt(p + body, size, &ws, err, errlen) < 0)
            return -1;
        off = body + size + (size & 1u);   /* chunks are padded to an even length */
    }
    return fail(err, errlen, ws.have_fmt ? "WAV has no 'data' chunk" : "WAV has no 'fmt ' chunk");
}

/* ---- MP3 -------------------------------------------------------------------------------- */

/* Bitrates in kbit/s by [MPEG-1 or MPEG-2/2.5][layer I, II, III][index 1..14]. */
static const uint16_t mp3_kbps[2][3][15] = {
    {{0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448},
     {0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384},
     {0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320}},
    {{0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256},
     {0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},
     {0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160}},
};

/* Sample rates by the header's version bits (0 MPEG-2.5, 1 reserved, 2 MPEG-2, 3 MPEG-1). */
static const uint32_t mp3_rates[4][3] = {
    {11025, 12000, 8000}, {0, 0, 0}, {22050, 24000, 16000}, {44100, 48000, 32000}};

/* Decodes the 4-byte frame header at h into the frame's length in bytes. */
static int mp3_frame_len(const uint8_t *h, uint32_t *flen, char *err, size_t errlen)
{
    unsigned version = (h[1] >> 3) & 3, layer_bits = (h[1] >> 1) & 3;
    unsigned br_idx = h[2] >> 4, sr_idx = (h[2] >> 2) & 3, pad = (h[2] >> 1) & 1;
    if (h[0] != 0xFF || (h[1] & 0xE0) != 0xE0)
        return fail(err, errlen, "no MPEG frame sync");
    if (version == 1 || layer_bits == 0)
        return fail(err, errlen, "MPEG header has a reserved version or layer");
    if (br_idx == 0 || br_idx == 15)
        return fail(err, errlen, "MPEG header has a free-format or invalid bitrate index");
    if (sr_idx == 3 || (h[3] & 3) == 2)
        return fail(err, errlen, "MPEG header has a reserved sample rate or emphasis");
    unsigned layer = 4 - layer_bits;   /* bits 11 = Layer I, 10 = II, 01 = III */
    uint32_t bps = mp3_kbps[version == 3 ? 0 : 1][layer - 1][br_idx] * 1000u;
    uint32_t rate = mp3_rates[version][sr_idx];
    if (layer == 1)
        *flen = (12u * bps / rate + pad) * 4u;
    else if (layer == 3 && version != 3)
        *flen = 72u * bps / rate + pad;   /* MPEG-2/2.5 Layer III: 576 samples per frame */
    else
        *flen = 144u * bps / rate + pad;
    return 0;
}

/* Size of a leading ID3v2 tag (0 when absent), or -1 when the tag is malformed or cut. */
static int64_t id3_skip(const uint8_t *p, size_t len)
{
    if (len < 3 || memcmp(p, "ID3", 3) != 0)
        return 0;
    if (len < ID3_HEADER_LEN || p[3] == 0xFF || p[4] == 0xFF)
        return -1;
    uint32_t size = 0;
    for (int i = 6; i < 10; i++) {
        if (p[i] & 0x80)
            return -1;   /* a syncsafe integer never has the top bit set */
        size = size << 7 | p[i];
    }
    int64_t total = ID3_HEADER_LEN + (int64_t)size + ((p[5] & 0x10) ? ID3_HEADER_LEN : 0);
    return total <= (int64_t)len ? total : -1;
}

static int mp3_validate(const uint8_t *p, size_t len, char *err, size_t errlen)
{
    int64_t off = id3_skip(p, len);
    if (off < 0)
        return fail(err, errlen, "MP3 ID3v2 tag malformed or cut short");
    if ((size_t)off + 4 > len) {
        if (off > 0)
            return fail(err, errlen, "MP3 has an ID3 tag but no audio frame");
        return fail(err, errlen, "body is %s, not an MP3 file (%zu bytes)", body_kind(p, len), len);
    }
    uint32_t flen = 0;
    char why[96];
    if (mp3_frame_len(p + off, &flen, why, sizeof why) < 0) {
        if (off == 0 && p[0] != 0xFF)
            return fail(err, errlen, "body is %s, not an MP3 file (%zu bytes)", body_kind(p, len), len);
        return fail(err, errlen, "MP3 bad frame header%s: %s", off ? " after the ID3 tag" : "", why);
    }
    if ((uint64_t)off + flen > len)
        return fail(err, errlen, "MP3 cut short: first frame needs %u bytes, %llu received", flen,
                    (unsigned long long)(len - (size_t)off));
    return 0;
}

int audio_validate(const void *data, size_t len, enum audio_format f, char *err, size_t errlen)
{
    const uint8_t *p = data;
    if (len == 0 || !data)
        return fail(err, errlen, "body is empty, not audio");
    switch (f) {
    case AUDIO_WAV: return wav_validate(p, len, err, errlen);
    case AUDIO_MP3: return mp3_validate(p, len, err, errlen);
    }
    return fail(err, errlen, "unknown audio format %d", (int)f);
}

/* ---- generators ------------------------------------------------------------------------- */

/* Appends the 44-byte header of a mono PCM16 WAV holding n samples and reserves room for them;
 * returns where the samples go. The caller fills them and calls wav_end(). */
static uint8_t *wav_begin(struct buf *out, size_t n, uint32_t rate)
{
    uint32_t data_len = (uint32_t)n * 2u;
    uint8_t h[WAV_HEADER_LEN];
    memcpy(h, "RIFF", 4);
    put_le32(h + 4, 36u + data_len);
    memcpy(h + 8, "WAVEfmt ", 8);
    put_le32(h + 16, 16);        /* fmt chunk size */
    put_le16(h + 20, 1);         /* PCM */
    put_le16(h + 22, 1);         /* mono */
    put_le32(h + 24, rate);
    put_le32(h + 28, rate * 2u); /* byte rate */
    put_le16(h + 32, 2);         /* block align */
    put_le16(h + 34, 16);        /* bits per sample */
    memcpy(h + 36, "data", 4);
    put_le32(h + 40, data_len);
    buf_reserve(out, sizeof h + data_len);
    buf_append(out, h, sizeof h);
    return (uint8_t *)out->data + out->len;
}

static void wav_end(struct buf *out, size_t n)
{
    out->len += n * 2u;
    out->data[out->len] = '\0';
}

void audio_wav_from_pcm16(const int16_t *samples, size_t n, int sample_rate, struct buf *out)
{
    if (n > WAV_MAX_SAMPLES)
        n = WAV_MAX_SAMPLES;
    uint8_t *dst = wav_begin(out, n, sample_rate > 0 ? (uint32_t)sample_rate : 22050u);
    for (size_t i = 0; i < n; i++)
        put_le16(dst + 2 * i, (uint16_t)samples[i]);
    wav_end(out, n);
}

void audio_tone_wav(int duration_ms, int sample_rate, struct buf *out)
{
    int rate = sample_rate > 0 ? sample_rate : 22050;
    size_t n = duration_ms > 0 ? (size_t)((int64_t)duration_ms * rate / 1000) : 0;
    if (n == 0)
        n = 1;
    if (n > WAV_MAX_SAMPLES)
        n = WAV_MAX_SAMPLES;
    size_t fade = (size_t)rate / 200;   /* 5 ms ramps: a hard start or stop clicks */
    const double step = 2.0 * M_PI * 440.0 / rate;
    uint8_t *dst = wav_begin(out, n, (uint32_t)rate);
    for (size_t i = 0; i < n; i++) {
        double gain = 0.3;
        size_t edge = i < n - 1 - i ? i : n - 1 - i;
        if (edge < fade)
            gain *= (double)edge / (double)fade;
        put_le16(dst + 2 * i, (uint16_t)(int16_t)lrint(gain * 32767.0 * sin(step * (double)i)));
    }
    wav_end(out, n);
}

/* MPEG-1 Layer III, no CRC (FF FB); 128 kbit/s, 44.1 kHz, no padding (90); mono, original (C4).
 * 144 * 128000 / 44100 = 417 bytes per frame; the 17 bytes of mono side information after the
 * header are zero: no main data, no scale factors, so the frame decodes to silence. */
static const uint8_t mp3_silent_header[4] = {0xFF, 0xFB, 0x90, 0xC4};
#define MP3_SILENT_FRAME_LEN    417
#define MP3_SAMPLES_PER_FRAME   1152
#define MP3_SILENT_RATE         44100

void audio_silent_mp3(int duration_ms, struct buf *out)
{
    int64_t samples = duration_ms > 0 ? (int64_t)duration_ms * MP3_SILENT_RATE / 1000 : 0;
    int64_t frames = (samples + MP3_SAMPLES_PER_FRAME - 1) / MP3_SAMPLES_PER_FRAME;
    if (frames < 1)
        frames = 1;
    buf_reserve(out, (size_t)frames * MP3_SILENT_FRAME_LEN);
    for (int64_t i = 0; i < frames; i++) {
        uint8_t *dst = (uint8_t *)out->data + out->len;
        memset(dst, 0, MP3_SILENT_FRAME_LEN);
        memcpy(dst, mp3_silent_header, sizeof mp3_silent_header);
        out->len += MP3_SILENT_FRAME_LEN;
    }
    out->data[out->len] = '\0';
}
