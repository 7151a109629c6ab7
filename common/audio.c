/* audio.c - audio format names, validation, WAV sealing and PCM wrapping, tiny generators;
 * see audio.h.
 *
 * One walk over a WAV's chunks (wav_scan) serves validation, audio_wav_info and audio_wav_seal,
 * so the three can never disagree about where the audio is or how long it is.
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

#include "le.h"

#define WAV_HEADER_LEN   44
#define WAV_MAX_SAMPLES  ((UINT32_MAX - 36u) / 2u)   /* data size must fit the u32 fields */
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

#define WAV_TAG_PCM         1u
#define WAV_TAG_FLOAT       3u
#define WAV_TAG_ALAW        6u
#define WAV_TAG_MULAW       7u
#define WAV_TAG_EXTENSIBLE  0xFFFEu
#define WAV_FMT_MIN         16u
#define WAV_FMT_EXT_MIN     40u   /* 16 + cbSize, validBits, channelMask, SubFormat GUID */

/* The SubFormat GUID of WAVE_FORMAT_EXTENSIBLE is the KSDATAFORMAT_SUBTYPE base
 * {0000xxxx-0000-0010-8000-00aa00389b71} with the format tag in its first two bytes; these are
 * its other fourteen, as stored (little-endian fields, then bytes). */
static const uint8_t wav_ext_guid_tail[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
                                              0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};

/* What one walk of a WAV found: the format and where the audio is. */
struct wav_scan {
    bool     have_fmt;
    bool     framed;       /* PCM, float, A-law, mu-law: audio is whole frames of `frame` bytes */
    uint16_t codec;        /* format tag; the sub-format's for WAVE_FORMAT_EXTENSIBLE */
    uint16_t channels;
    uint16_t bits;
    uint32_t rate;
    uint32_t byte_rate;
    uint32_t frame;        /* bytes per sample frame when framed, else 1 */
    uint64_t data_off;     /* offset of the "data" chunk's 8-byte header */
    uint64_t audio;        /* audio bytes: the declared size, or the rest of the body */
    bool     placeholder;  /* the data size was a streaming placeholder */
};

static bool wav_size_is_placeholder(uint32_t size)
{
    return size == 0 || size >= AUDIO_WAV_SIZE_PLACEHOLDER;
}

static bool wav_tag_is_framed(uint16_t tag)
{
    return tag == WAV_TAG_PCM || tag == WAV_TAG_FLOAT || tag == WAV_TAG_ALAW || tag == WAV_TAG_MULAW;
}

/* The real format tag: WAVE_FORMAT_EXTENSIBLE names it in its SubFormat GUID. */
static int wav_fmt_tag(const uint8_t *body, uint32_t size, uint16_t *tag, char *err, size_t errlen)
{
    *tag = get_le16(body);
    if (*tag != WAV_TAG_EXTENSIBLE)
        return 0;
    if (size < WAV_FMT_EXT_MIN)
        return fail(err, errlen, "WAV WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk too small (%u bytes)", size);
    if (memcmp(body + 26, wav_ext_guid_tail, sizeof wav_ext_guid_tail) == 0)
        *tag = get_le16(body + 24);   /* else an unknown sub-format: the tag stays 0xFFFE */
    return 0;
}

static int wav_check_fmt(const uint8_t *body, uint32_t size, struct wav_scan *ws,
                         char *err, size_t errlen)
{
    if (size < WAV_FMT_MIN)
        return fail(err, errlen, "WAV 'fmt ' chunk too small (%u bytes)", size);
    if (wav_fmt_tag(body, size, &ws->codec, err, errlen) < 0)
        return -1;
    ws->channels = get_le16(body + 2);
    ws->rate = get_le32(body + 4);
    ws->byte_rate = get_le32(body + 8);
    uint16_t block_align = get_le16(body + 12);
    ws->bits = get_le16(body + 14);
    if (ws->channels < 1 || ws->channels > 16)
        return fail(err, errlen, "WAV has %u channels", ws->channels);
    if (ws->rate < 1000 || ws->rate > 768000)
        return fail(err, errlen, "WAV sample rate %u Hz is not sane", ws->rate);
    ws->framed = wav_tag_is_framed(ws->codec);
    ws->frame = 1;
    if (ws->framed) {
        /* block_align is the frame; a writer that left it 0 still implies one */
        ws->frame = block_align ? block_align : (uint32_t)ws->channels * ((ws->bits + 7u) / 8u);
        if (ws->frame == 0)
            return fail(err, errlen, "WAV 'fmt ' declares 0 bits per sample");
    }
    ws->have_fmt = true;
    return 0;
}

/* Judges the data chunk whose size field is `size` and whose bytes start at body_off. */
static int wav_check_data(uint64_t body_off, uint32_t size, size_t len, struct wav_scan *ws,
                          char *err, size_t errlen)
{
    if (!ws->have_fmt)
        return fail(err, errlen, "WAV 'data' chunk before any 'fmt ' chunk");
    ws->placeholder = wav_size_is_placeholder(size);
    if (!ws->placeholder && body_off + size > len)
        return fail(err, errlen, "WAV cut short: 'data' declares %u bytes, %llu received", size,
                    (unsigned long long)(len - body_off));
    ws->audio = ws->placeholder ? len - body_off : size;
    if (ws->audio == 0)
        return fail(err, errlen, "WAV has no audio: 'data' chunk holds 0 bytes");
    if (ws->audio > UINT32_MAX - 36u)
        return fail(err, errlen, "WAV audio is %llu bytes, more than a WAV can hold",
                    (unsigned long long)ws->audio);
    if (ws->audio % ws->frame != 0)
        return fail(err, errlen, "WAV audio is %llu bytes, not a whole number of sample frames "
                    "(%u bytes each)", (unsigned long long)ws->audio, ws->frame);
    return 0;
}

static int wav_check_riff(const uint8_t *p, size_t len, char *err, size_t errlen)
{
    uint32_t riff = get_le32(p + 4);
    if (!wav_size_is_placeholder(riff) && (uint64_t)riff + 8 > len)
        return fail(err, errlen, "WAV cut short: RIFF declares %llu bytes, %zu received",
                    (unsigned long long)riff + 8, len);
    return 0;
}

/* Walks the chunks after "WAVE" until the data chunk; see audio.h for the rules. */
static int wav_scan(const uint8_t *p, size_t len, struct wav_scan *ws, char *err, size_t errlen)
{
    memset(ws, 0, sizeof *ws);
    if (len < 12 || memcmp(p, "RIFF", 4) != 0 || memcmp(p + 8, "WAVE", 4) != 0)
        return fail(err, errlen, "body is %s, not a WAV file (%zu bytes)", body_kind(p, len), len);
    uint64_t off = 12;
    while (off + 8 <= len) {
        const uint8_t *id = p + off;
        uint32_t size = get_le32(p + off + 4);
        uint64_t body = off + 8;
        if (memcmp(id, "data", 4) == 0) {
            ws->data_off = off;
            if (wav_check_data(body, size, len, ws, err, errlen) < 0)
                return -1;
            return wav_check_riff(p, len, err, errlen);
        }
        if (body + size > len) {
            char name[12];
            fourcc_text(id, name);
            return fail(err, errlen, "WAV cut short inside chunk %s", name);
        }
        if (memcmp(id, "fmt ", 4) == 0 && wav_check_fmt(p + body, size, ws, err, errlen) < 0)
            return -1;
        off = body + size + (size & 1u);   /* chunks are padded to an even length */
    }
    return fail(err, errlen, ws->have_fmt ? "WAV has no 'data' chunk" : "WAV has no 'fmt ' chunk");
}

static int wav_validate(const uint8_t *p, size_t len, char *err, size_t errlen)
{
    struct wav_scan ws;
    return wav_scan(p, len, &ws, err, errlen);
}

/* Where a sealed file ends: the data chunk (its true size `audio`), then every whole chunk after
 * it, each with its pad byte. *pad is set when the last chunk is odd-sized and the body ends
 * before its pad byte, which the caller appends. */
static uint64_t wav_sealed_end(const uint8_t *p, size_t len, const struct wav_scan *ws, bool *pad)
{
    uint64_t off = ws->data_off, end = off;
    uint64_t size = ws->audio;
    *pad = false;
    while (off + 8 + size <= len) {
        end = off + 8 + size;
        if (size & 1u) {
            if (end == len) {
                *pad = true;
                break;
            }
            end++;
        }
        off = end;
        if (off + 8 > len)
            break;
        size = get_le32(p + off + 4);
    }
    return end;
}

int audio_wav_seal(struct buf *wav, char *err, size_t errlen)
{
    if (!wav || !wav->data || wav->len == 0)
        return fail(err, errlen, "body is empty, not audio");
    uint8_t *p = (uint8_t *)wav->data;
    struct wav_scan ws;
    if (wav_scan(p, wav->len, &ws, err, errlen) < 0)
        return -1;
    bool pad = false;
    uint64_t end = wav_sealed_end(p, wav->len, &ws, &pad);
    uint64_t total = end + (pad ? 1u : 0u);
    if (total - 8 > UINT32_MAX)
        return fail(err, errlen, "WAV of %llu bytes is too large for a RIFF size",
                    (unsigned long long)total);
    wav->len = (size_t)end;
    wav->data[wav->len] = '\0';
    if (pad)
        buf_putc(wav, '\0');
    p = (uint8_t *)wav->data;   /* buf_putc may have moved it */
    put_le32(p + ws.data_off + 4, (uint32_t)ws.audio);
    put_le32(p + 4, (uint32_t)(wav->len - 8));
    return 0;
}

int audio_wav_info(const void *data, size_t len, struct audio_info *out)
{
    memset(out, 0, sizeof *out);
    struct wav_scan ws;
    if (!data || len == 0 || wav_scan(data, len, &ws, NULL, 0) < 0)
        return -1;
    out->sample_rate = ws.rate;
    out->channels = ws.channels;
    out->bits = ws.bits;
    out->codec = ws.codec;
    out->data_bytes = ws.audio;
    if (ws.framed)
        out->duration_ms = (int64_t)(ws.audio / ws.frame * 1000u / ws.rate);
    else if (ws.byte_rate > 0)
        out->duration_ms = (int64_t)(ws.audio * 1000u / ws.byte_rate);
    else
        out->duration_ms = -1;
    return 0;
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

/* Writes the 44-byte header of a PCM16 WAV holding data_len bytes of audio. */
static void wav_header(uint8_t h[WAV_HEADER_LEN], uint32_t data_len, uint32_t rate, uint16_t channels)
{
    uint16_t block_align = (uint16_t)(2u * channels);
    memcpy(h, "RIFF", 4);
    put_le32(h + 4, 36u + data_len);
    memcpy(h + 8, "WAVEfmt ", 8);
    put_le32(h + 16, 16);                    /* fmt chunk size */
    put_le16(h + 20, WAV_TAG_PCM);
    put_le16(h + 22, channels);
    put_le32(h + 24, rate);
    put_le32(h + 28, rate * block_align);    /* byte rate */
    put_le16(h + 32, block_align);
    put_le16(h + 34, 16);                    /* bits per sample */
    memcpy(h + 36, "data", 4);
    put_le32(h + 40, data_len);
}

/* Appends the 44-byte header of a mono PCM16 WAV holding n samples and reserves room for them;
 * returns where the samples go. The caller fills them and calls wav_end(). */
static uint8_t *wav_begin(struct buf *out, size_t n, uint32_t rate)
{
    uint32_t data_len = (uint32_t)n * 2u;
    uint8_t h[WAV_HEADER_LEN];
    wav_header(h, data_len, rate, 1);
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

int audio_wav_from_pcm(const void *pcm, size_t len, int sample_rate, int channels,
                       struct buf *out, char *err, size_t errlen)
{
    if (channels < 1 || channels > 16)
        return fail(err, errlen, "PCM with %d channels", channels);
    if (sample_rate < 1000 || sample_rate > 768000)
        return fail(err, errlen, "PCM sample rate %d Hz is not sane", sample_rate);
    if (len == 0 || !pcm)
        return fail(err, errlen, "PCM body is empty, no audio");
    size_t frame = 2u * (size_t)channels;
    if (len % frame != 0)
        return fail(err, errlen, "PCM body is %zu bytes, not a whole number of sample frames "
                    "(%zu bytes each)", len, frame);
    if (len > UINT32_MAX - 36u)
        return fail(err, errlen, "PCM body of %zu bytes is too large for a WAV", len);
    uint8_t h[WAV_HEADER_LEN];
    wav_header(h, (uint32_t)len, (uint32_t)sample_rate, (uint16_t)channels);
    buf_reserve(out, sizeof h + len);
    buf_append(out, h, sizeof h);
    buf_append(out, pcm, len);
    return 0;
}

/* The 58-byte header of a mono 8-bit G.711 WAV: RIFF, an 18-byte fmt chunk (cbSize 0) and a
 * fact chunk (sample frames), as the WAV spec asks of every codec other than PCM. */
#define WAV_G711_HEADER_LEN 58

static void wav_g711_header(uint8_t h[WAV_G711_HEADER_LEN], uint32_t data_len, uint32_t rate,
                            uint16_t tag)
{
    memcpy(h, "RIFF", 4);
    put_le32(h + 4, WAV_G711_HEADER_LEN - 8u + data_len);
    memcpy(h + 8, "WAVEfmt ", 8);
    put_le32(h + 16, 18);                    /* fmt chunk size */
    put_le16(h + 20, tag);
    put_le16(h + 22, 1);                     /* mono */
    put_le32(h + 24, rate);
    put_le32(h + 28, rate);                  /* byte rate: one byte a sample */
    put_le16(h + 32, 1);                     /* block align */
    put_le16(h + 34, 8);                     /* bits per sample */
    put_le16(h + 36, 0);                     /* cbSize: no extra format bytes */
    memcpy(h + 38, "fact", 4);
    put_le32(h + 42, 4);
    put_le32(h + 46, data_len);              /* sample frames */
    memcpy(h + 50, "data", 4);
    put_le32(h + 54, data_len);
}

int audio_wav_from_ulaw(const void *ulaw, size_t len, int sample_rate, struct buf *out, char *err,
                        size_t errlen)
{
    if (sample_rate < 1000 || sample_rate > 768000)
        return fail(err, errlen, "µ-law sample rate %d Hz is not sane", sample_rate);
    if (len == 0 || !ulaw)
        return fail(err, errlen, "µ-law body is empty, no audio");
    if (len > UINT32_MAX - WAV_G711_HEADER_LEN)
        return fail(err, errlen, "µ-law body of %zu bytes is too large for a WAV", len);
    uint8_t h[WAV_G711_HEADER_LEN];
    wav_g711_header(h, (uint32_t)len, (uint32_t)sample_rate, WAV_TAG_MULAW);
    buf_reserve(out, sizeof h + len);
    buf_append(out, h, sizeof h);
    buf_append(out, ulaw, len);
    return 0;
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
