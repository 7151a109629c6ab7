/* audiojoin.c - joining audio parts into one file; see audiojoin.h.
 *
 * Both formats have the same shape: read every part (validate it, find its audio bytes, note
 * the properties that must match part 1's), then write an optional header with the true total,
 * every part's audio bytes in order, and an optional pad byte. A format is a struct join_ops:
 * how to read a part, how to write the header, what its properties are called, how much audio
 * it can hold. Reading everything before writing anything means a refused join leaves out as
 * it was, and a WAV header is written once, with its true sizes, before the audio. */
#include "audiojoin.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "le.h"
#include "mpeg.h"
#include "xalloc.h"

#define JOIN_PROPS 4

/* What reading a part found. */
struct join_part {
    const uint8_t *audio;              /* the part's audio bytes, borrowed */
    size_t         len;
    uint32_t       prop[JOIN_PROPS];   /* must equal part 1's; the meaning is the format's */
};

/* One format's way of joining. */
struct join_ops {
    const char *name;                     /* "WAV" */
    const char *prop[JOIN_PROPS][2];      /* each property's name and unit; NULL name: unused */
    uint64_t    max_audio;                /* audio bytes one file can hold */
    bool        pad_even;                 /* an odd total gets a pad byte (RIFF chunks) */
    /* Reads part i (already validated as the format) into *jp; -1 with err. */
    int (*read)(const struct audiojoin_part *p, size_t i, struct join_part *jp, char *err,
                size_t errlen);
    /* Appends the header of a file holding `audio` bytes of part 1's format, or NULL. */
    void (*header)(struct buf *out, const struct join_part *first, uint64_t audio);
};

/* ---- WAV -------------------------------------------------------------------------------- */

#define WAV_MAX_HEADER 58   /* RIFF 12 + fmt 8 + 18 + fact 12 + data 8 */
enum { WAV_CODEC, WAV_RATE, WAV_CHANNELS, WAV_BITS };

/* Where the audio of a WAV that audio_wav_info() accepted starts: the same walk over the chunks
 * to "data", which that acceptance guarantees is there. */
static const uint8_t *wav_audio(const uint8_t *p)
{
    size_t off = 12;
    while (memcmp(p + off, "data", 4) != 0) {
        uint32_t size = get_le32(p + off + 4);
        off += 8 + (size_t)size + (size & 1u);
    }
    return p + off + 8;
}

static bool wav_codec_joinable(uint32_t codec)
{
    return codec == CONVERT_CODEC_PCM || codec == CONVERT_CODEC_FLOAT ||
           codec == CONVERT_CODEC_ALAW || codec == CONVERT_CODEC_ULAW;
}

/* Bytes per sample frame: what the header written here declares as block_align. */
static uint32_t wav_frame(const uint32_t *prop)
{
    return prop[WAV_CHANNELS] * ((prop[WAV_BITS] + 7u) / 8u);
}

static int wav_read(const struct audiojoin_part *p, size_t i, struct join_part *jp, char *err,
                    size_t errlen)
{
    struct audio_info ai;
    if (audio_wav_info(p->data, p->len, &ai) < 0)   /* cannot fail once it validated */
        return -1;
    *jp = (struct join_part){.audio = wav_audio(p->data), .len = (size_t)ai.data_bytes,
                             .prop = {ai.codec, ai.sample_rate, ai.channels, ai.bits}};
    if (wav_codec_joinable(ai.codec) && ai.bits > 0 && ai.data_bytes % wav_frame(jp->prop) == 0)
        return 0;
    snprintf(err, errlen, "part %zu: WAV codec tag %u with %u bits cannot be joined (PCM, "
             "float, A-law and mu-law can)", i + 1, ai.codec, ai.bits);
    return -1;
}

/* A fresh header: fmt (16 bytes for PCM; 18 and a fact chunk with the frame count for the
 * other codecs, as the WAV spec asks), then the data chunk's header. */
static void wav_header(struct buf *out, const struct join_part *first, uint64_t audio)
{
    const uint32_t *pr = first->prop;
    bool pcm = pr[WAV_CODEC] == CONVERT_CODEC_PCM;
    uint32_t frame = wav_frame(pr), fmt_len = pcm ? 16 : 18;
    uint8_t h[WAV_MAX_HEADER] = {0};
    size_t n = 12 + 8 + fmt_len;
    memcpy(h, "RIFF", 4);
    memcpy(h + 8, "WAVEfmt ", 8);
    put_le32(h + 16, fmt_len);
    put_le16(h + 20, (uint16_t)pr[WAV_CODEC]);
    put_le16(h + 22, (uint16_t)pr[WAV_CHANNELS]);
    put_le32(h + 24, pr[WAV_RATE]);
    put_le32(h + 28, pr[WAV_RATE] * frame);
    put_le16(h + 32, (uint16_t)frame);
    put_le16(h + 34, (uint16_t)pr[WAV_BITS]);   /* an 18-byte fmt's cbSize (h + 36) stays 0 */
    if (!pcm) {
        memcpy(h + n, "fact", 4);
        put_le32(h + n + 4, 4);
        put_le32(h + n + 8, (uint32_t)(audio / frame));
        n += 12;
    }
    memcpy(h + n, "data", 4);
    put_le32(h + n + 4, (uint32_t)audio);
    n += 8;
    put_le32(h + 4, (uint32_t)(n - 8 + audio + (audio & 1u)));
    buf_append(out, h, n);
}

static const struct join_ops wav_ops = {
    .name = "WAV",
    .prop = {{"codec tag", ""}, {"sample rate", " Hz"}, {"channels", ""}, {"bits per sample", ""}},
    .max_audio = UINT32_MAX - WAV_MAX_HEADER,   /* the RIFF size counts all but 8 bytes */
    .pad_even = true,
    .read = wav_read,
    .header = wav_header,
};

/* ---- MP3 -------------------------------------------------------------------------------- */

static int mp3_read(const struct audiojoin_part *p, size_t i, struct join_part *jp, char *err,
                    size_t errlen)
{
    struct mpeg_stream s;
    if (mpeg_scan(p->data, p->len, &s) < 0 || s.frames == 0) {
        snprintf(err, errlen, "part %zu: MP3 holds no audio frames", i + 1);
        return -1;
    }
    *jp = (struct join_part){.audio = (const uint8_t *)p->data + s.audio_off,
                             .len = s.audio_end - s.audio_off,
                             .prop = {s.first.layer, s.first.rate, s.first.channels}};
    return 0;
}

static const struct join_ops mp3_ops = {
    .name = "MP3",
    .prop = {{"MPEG layer", ""}, {"sample rate", " Hz"}, {"channels", ""}},
    .max_audio = SIZE_MAX,
    .read = mp3_read,
};

/* ---- joining ---------------------------------------------------------------------------- */

/* Validates and reads part i; for i > 0, checks it against part 1. -1 with err. */
static int join_read(const struct join_ops *ops, enum audio_format f,
                     const struct audiojoin_part *p, size_t i, struct join_part *jp, char *err,
                     size_t errlen)
{
    char why[160];
    if (audio_validate(p->data, p->len, f, why, sizeof why) < 0) {
        snprintf(err, errlen, "part %zu: %s", i + 1, why);
        return -1;
    }
    if (ops->read(p, i, &jp[i], err, errlen) < 0)
        return -1;
    for (size_t k = 0; i > 0 && k < JOIN_PROPS && ops->prop[k][0]; k++) {
        if (jp[i].prop[k] == jp[0].prop[k])
            continue;
        snprintf(err, errlen, "part %zu does not match part 1: %s %u%s, not %u%s", i + 1,
                 ops->prop[k][0], jp[i].prop[k], ops->prop[k][1], jp[0].prop[k],
                 ops->prop[k][1]);
        return -1;
    }
    return 0;
}

static int join(const struct join_ops *ops, enum audio_format f,
                const struct audiojoin_part *parts, size_t n, struct buf *out, char *err,
                size_t errlen)
{
    struct join_part *jp = xcalloc(n, sizeof *jp);
    uint64_t audio = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = join_read(ops, f, &parts[i], i, jp, err, errlen);
        audio += jp[i].len;
    }
    if (rc == 0 && audio > ops->max_audio) {
        snprintf(err, errlen, "joined %s would hold %llu bytes of audio, more than it can",
                 ops->name, (unsigned long long)audio);
        rc = -1;
    }
    if (rc == 0) {
        buf_reserve(out, WAV_MAX_HEADER + (size_t)audio + 1);
        if (ops->header)
            ops->header(out, &jp[0], audio);
        for (size_t i = 0; i < n; i++)
            buf_append(out, jp[i].audio, jp[i].len);
        if (ops->pad_even && (audio & 1u))
            buf_putc(out, '\0');
    }
    free(jp);
    return rc;
}

int audiojoin(enum audio_format f, const struct audiojoin_part *parts, size_t n, struct buf *out,
              char *err, size_t errlen)
{
    if (n == 0 || !parts) {
        snprintf(err, errlen, "nothing to join: no parts");
        return -1;
    }
    switch (f) {
    case AUDIO_WAV: return join(&wav_ops, f, parts, n, out, err, errlen);
    case AUDIO_MP3: return join(&mp3_ops, f, parts, n, out, err, errlen);
    }
    snprintf(err, errlen, "unknown audio format %d", (int)f);
    return -1;
}
