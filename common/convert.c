/* convert.c - output formats and conversion of rendered audio; see convert.h.
 *
 * One pipeline serves every conversion: a decoder (libsndfile reading the input from memory
 * through its virtual I/O), a mono mix-down, an optional resampler (libsoxr in streaming mode)
 * and an encoder (libsndfile writing a WAV into a struct buf through the same virtual I/O, or
 * libmp3lame). Audio moves in blocks of BLOCK_FRAMES frames so a long clip costs no more
 * memory than a short one. Everything a call uses is created and freed by that call.
 *
 * Resampling quality: SOXR_LQ (16-bit precision, 0.24 dB down at 3 kHz for an 8 kHz output,
 * aliases about 60 dB down) costs 53 µs of CPU per second of audio from 24 kHz to 8 kHz and
 * 88 µs from 22.05 kHz; SOXR_MQ (flat to 0.02 dB, the same alias rejection) 65 and 102 µs.
 * G.711 keeps about 38 dB of signal to noise, so the cheaper filter loses nothing audible. A
 * resampler is not kept between calls: soxr_clear() re-initialises the filter, which costs as
 * much as soxr_create() (about 20 µs for 24 -> 8 kHz, 50-70 µs for 22.05 -> 8 kHz).
 *
 * The one static is a lock around LAME's set-up: lame_init_params() fills a few tables that are
 * process-wide (always with the same values), so concurrent set-ups are serialised; encoding
 * itself touches only the call's own lame_t. */
#include "convert.h"

#include <lame/lame.h>
#include <math.h>
#include <pthread.h>
#include <sndfile.h>
#include <soxr.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio.h"
#include "le.h"
#include "mpeg.h"
#include "xalloc.h"

#define BLOCK_FRAMES   2048          /* frames per decode / resample / encode step */
#define MP3_BITRATE    64            /* kbit/s, mono: clear speech at any MPEG rate */
#define MP3_QUALITY    7             /* LAME's "ok quality, really fast" (0 best .. 9 worst) */
#define MP3_FALLBACK_RATE 24000      /* for input rates MPEG does not have */
#define RESAMPLE_QUALITY  SOXR_LQ    /* the choice is explained at the top */

/* ---- formats ------------------------------------------------------------------------------ */

static const struct {
    const char *name;
    int         rate;    /* 0: the input's */
    int         codec;   /* 0: any */
} formats[OUT_FORMAT_COUNT] = {
    [OUT_FORMAT_WAV]       = {"wav", 0, 0},
    [OUT_FORMAT_MP3]       = {"mp3", 0, CONVERT_CODEC_MP3},
    [OUT_FORMAT_ULAW_8000] = {"ulaw_8000", 8000, CONVERT_CODEC_ULAW},
    [OUT_FORMAT_ALAW_8000] = {"alaw_8000", 8000, CONVERT_CODEC_ALAW},
    [OUT_FORMAT_WAV_8000]  = {"wav_8000", 8000, CONVERT_CODEC_PCM},
    [OUT_FORMAT_WAV_16000] = {"wav_16000", 16000, CONVERT_CODEC_PCM},
};

static bool format_ok(enum out_format f)
{
    return (unsigned)f < OUT_FORMAT_COUNT;
}

int out_format_parse(const char *s, enum out_format *out)
{
    if (!s)
        return -1;
    for (int i = 0; i < OUT_FORMAT_COUNT; i++) {
        if (strcmp(s, formats[i].name) == 0) {
            *out = (enum out_format)i;
            return 0;
        }
    }
    return -1;
}

const char *out_format_name(enum out_format f)
{
    return format_ok(f) ? formats[f].name : "?";
}

const char *out_format_ext(enum out_format f)
{
    if (!format_ok(f))
        return "?";
    return f == OUT_FORMAT_MP3 ? "mp3" : "wav";
}

bool out_format_is_wav(enum out_format f)
{
    return format_ok(f) && f != OUT_FORMAT_MP3;
}

int out_format_rate(enum out_format f)
{
    return format_ok(f) ? formats[f].rate : 0;
}

int out_format_codec(enum out_format f)
{
    return format_ok(f) ? formats[f].codec : 0;
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

/* The fmt chunk's own format tag (0xFFFE for WAVE_FORMAT_EXTENSIBLE, where audio_wav_info()
 * reports the sub-format), or 0 when there is none. The body has passed validation, so the
 * walk only needs to stay inside len. */
static uint16_t wav_raw_tag(const uint8_t *p, size_t len)
{
    uint64_t off = 12;
    while (off + 8 <= len) {
        uint32_t size = get_le32(p + off + 4);
        if (memcmp(p + off, "fmt ", 4) == 0)
            return off + 10 <= len ? get_le16(p + off + 8) : 0;
        if (memcmp(p + off, "data", 4) == 0)
            return 0;
        off += 8 + (uint64_t)size + (size & 1u);
    }
    return 0;
}

/* Whether a valid WAV's RIFF or data size is a streaming placeholder (see audio.h), which
 * libsndfile reads as "no audio" (0) or warns about: such a body is sealed first. */
static bool wav_has_placeholder(const uint8_t *p, size_t len)
{
    uint32_t riff = get_le32(p + 4);
    if (riff == 0 || riff >= AUDIO_WAV_SIZE_PLACEHOLDER)
        return true;
    uint64_t off = 12;
    while (off + 8 <= len) {
        uint32_t size = get_le32(p + off + 4);
        if (memcmp(p + off, "data", 4) == 0)
            return size == 0 || size >= AUDIO_WAV_SIZE_PLACEHOLDER;
        off += 8 + (uint64_t)size + (size & 1u);
    }
    return false;
}

/* Drops what a failed conversion appended: out is as the caller gave it. */
static void cut_back(struct buf *out, size_t len)
{
    if (out->data) {
        out->len = len;
        out->data[len] = '\0';
    }
}

/* ---- memory I/O for libsndfile ---------------------------------------------------------- */

/* A file in memory: read-only over the input, or growing inside `wr` from offset `base`.
 * libsndfile seeks back to write the header's sizes when it closes, so writes may land before
 * the end. */
struct memio {
    const uint8_t *rd;     /* the input, when reading */
    struct buf    *wr;     /* the output, when writing */
    size_t         base;   /* where the file starts inside wr */
    sf_count_t     len;    /* the file's length */
    sf_count_t     pos;    /* the current offset */
};

static sf_count_t mio_len(void *user)
{
    return ((struct memio *)user)->len;
}

static sf_count_t mio_seek(sf_count_t off, int whence, void *user)
{
    struct memio *m = user;
    sf_count_t at = whence == SEEK_SET ? off : whence == SEEK_CUR ? m->pos + off : m->len + off;
    if (at < 0)
        return -1;
    m->pos = at;
    return at;
}

static sf_count_t mio_read(void *ptr, sf_count_t count, void *user)
{
    struct memio *m = user;
    if (count <= 0 || m->pos >= m->len)
        return 0;
    sf_count_t n = m->len - m->pos < count ? m->len - m->pos : count;
    const uint8_t *src = m->rd ? m->rd : (const uint8_t *)m->wr->data + m->base;
    memcpy(ptr, src + m->pos, (size_t)n);
    m->pos += n;
    return n;
}

static sf_count_t mio_write(const void *ptr, sf_count_t count, void *user)
{
    struct memio *m = user;
    if (!m->wr || count <= 0)
        return 0;
    sf_count_t end = m->pos + count;
    if (end > m->len) {
        struct buf *b = m->wr;
        buf_reserve(b, (size_t)(end - m->len));
        memset(b->data + m->base + m->len, 0, (size_t)(end - m->len));   /* a gap after a seek */
        m->len = end;
        b->len = m->base + (size_t)end;
        b->data[b->len] = '\0';
    }
    memcpy(m->wr->data + m->base + m->pos, ptr, (size_t)count);
    m->pos = end;
    return count;
}

static sf_count_t mio_tell(void *user)
{
    return ((struct memio *)user)->pos;
}

static SF_VIRTUAL_IO mio_ops = {mio_len, mio_seek, mio_read, mio_write, mio_tell};

/* ---- encoders --------------------------------------------------------------------------- */

/* Where mono float samples go: a WAV through libsndfile, or an MP3 through LAME. */
struct encoder {
    SNDFILE      *snd;
    lame_t        lame;
    struct memio  mio;     /* the WAV file inside out (snd) */
    struct buf   *out;
    uint64_t      frames;  /* samples taken */
};

static pthread_mutex_t lame_setup_lock = PTHREAD_MUTEX_INITIALIZER;

static int wav_sf_format(enum out_format want)
{
    switch (formats[want].codec) {
    case CONVERT_CODEC_ULAW: return SF_FORMAT_WAV | SF_FORMAT_ULAW;
    case CONVERT_CODEC_ALAW: return SF_FORMAT_WAV | SF_FORMAT_ALAW;
    default:                 return SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    }
}

static int encoder_open_wav(struct encoder *e, enum out_format want, int rate, char *err,
                            size_t errlen)
{
    SF_INFO si = {.samplerate = rate, .channels = 1, .format = wav_sf_format(want)};
    e->mio = (struct memio){.wr = e->out, .base = e->out->len};
    e->snd = sf_open_virtual(&mio_ops, SFM_WRITE, &si, &e->mio);
    if (!e->snd)
        return fail(err, errlen, "cannot start a %s WAV at %d Hz", out_format_name(want), rate);
    return 0;
}

static int encoder_open_mp3(struct encoder *e, int rate, char *err, size_t errlen)
{
    if (pthread_mutex_lock(&lame_setup_lock) != 0)
        return fail(err, errlen, "cannot lock the MP3 encoder's set-up");
    int rc = -1;
    e->lame = lame_init();
    if (e->lame && lame_set_num_channels(e->lame, 1) == 0 &&
        lame_set_in_samplerate(e->lame, rate) == 0 && lame_set_out_samplerate(e->lame, rate) == 0 &&
        lame_set_mode(e->lame, MONO) == 0 && lame_set_VBR(e->lame, vbr_off) == 0 &&
        lame_set_brate(e->lame, MP3_BITRATE) == 0 && lame_set_quality(e->lame, MP3_QUALITY) == 0 &&
        lame_set_bWriteVbrTag(e->lame, 0) == 0)
        rc = lame_init_params(e->lame);
    if (pthread_mutex_unlock(&lame_setup_lock) != 0)
        rc = -1;
    if (rc < 0)
        return fail(err, errlen, "cannot start an MP3 encoder at %d Hz", rate);
    return 0;
}

/* Worst case of LAME's output for n samples, as lame.h states it: 1.25 n + 7200. */
static size_t mp3_bound(size_t n)
{
    return n + n / 4 + 7200;
}

static int encoder_write(struct encoder *e, const float *s, size_t n, char *err, size_t errlen)
{
    e->frames += n;
    if (e->snd) {
        if (sf_writef_float(e->snd, s, (sf_count_t)n) != (sf_count_t)n)
            return fail(err, errlen, "WAV encoder: %s", sf_strerror(e->snd));
        return 0;
    }
    while (n > 0) {   /* LAME takes an int count: feed it in blocks */
        int k = n > BLOCK_FRAMES ? BLOCK_FRAMES : (int)n;
        size_t room = mp3_bound((size_t)k);
        buf_reserve(e->out, room);
        int w = lame_encode_buffer_ieee_float(e->lame, s, NULL, k,
                                              (unsigned char *)e->out->data + e->out->len, (int)room);
        if (w < 0)
            return fail(err, errlen, "MP3 encoder failed (%d)", w);
        e->out->len += (size_t)w;
        s += k;
        n -= (size_t)k;
    }
    e->out->data[e->out->len] = '\0';
    return 0;
}

/* Writes what the encoder still holds (LAME's last frames, the WAV header's true sizes). */
static int encoder_finish(struct encoder *e, char *err, size_t errlen)
{
    if (e->snd) {
        int rc = sf_close(e->snd);
        e->snd = NULL;
        return rc == 0 ? 0 : fail(err, errlen, "WAV encoder: %s", sf_error_number(rc));
    }
    size_t room = mp3_bound(0);
    buf_reserve(e->out, room);
    int w = lame_encode_flush(e->lame, (unsigned char *)e->out->data + e->out->len, (int)room);
    if (w < 0)
        return fail(err, errlen, "MP3 encoder failed to flush (%d)", w);
    e->out->len += (size_t)w;
    e->out->data[e->out->len] = '\0';
    return 0;
}

static void encoder_close(struct encoder *e)
{
    if (e->snd)
        sf_close(e->snd);   /* failure path: the bytes are discarded anyway */
    if (e->lame)
        lame_close(e->lame);
    e->snd = NULL;
    e->lame = NULL;
}

/* ---- the pipeline ----------------------------------------------------------------------- */

struct pipeline {
    SNDFILE        *src;
    int             channels;
    soxr_t          rs;        /* NULL when the rates are equal */
    float          *in;        /* BLOCK_FRAMES frames of the input's channels */
    float          *rsout;     /* resampled block */
    size_t          rscap;     /* frames rsout holds */
    struct encoder  enc;
};

/* The mean of the channels, in place: frame i's mono sample lands at s[i]. */
static void mix_mono(float *s, size_t n, int channels)
{
    if (channels == 1)
        return;
    for (size_t i = 0; i < n; i++) {
        float sum = 0;
        for (int c = 0; c < channels; c++)
            sum += s[i * (size_t)channels + (size_t)c];
        s[i] = sum / (float)channels;
    }
}

/* A resampler's overshoot on a full-scale input must not wrap around in an integer codec, and
 * a float WAV's NaN must not reach an encoder's float-to-int conversion: it becomes silence. */
static void clip(float *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] > 1.0f)
            s[i] = 1.0f;
        else if (!(s[i] >= -1.0f))
            s[i] = s[i] < -1.0f ? -1.0f : 0.0f;
    }
}

static int pipeline_start(struct pipeline *p, int in_rate, int out_rate, char *err, size_t errlen)
{
    p->in = xmalloc(sizeof *p->in * BLOCK_FRAMES * (size_t)p->channels);
    if (in_rate == out_rate)
        return 0;
    soxr_error_t se = NULL;
    soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    soxr_quality_spec_t q = soxr_quality_spec(RESAMPLE_QUALITY, 0);
    soxr_runtime_spec_t rt = soxr_runtime_spec(1);   /* no worker threads of its own */
    p->rs = soxr_create(in_rate, out_rate, 1, &se, &io, &q, &rt);
    if (!p->rs || se)
        return fail(err, errlen, "cannot resample %d Hz to %d Hz: %s", in_rate, out_rate,
                    se ? se : "soxr_create failed");
    p->rscap = (size_t)ceil((double)BLOCK_FRAMES * out_rate / in_rate) + 64;
    p->rsout = xmalloc(sizeof *p->rsout * p->rscap);
    return 0;
}

static int emit(struct pipeline *p, float *s, size_t n, char *err, size_t errlen)
{
    clip(s, n);
    return encoder_write(&p->enc, s, n, err, errlen);
}

/* Resamples s[0..n) (s NULL: the end of the input, flush) and encodes the result. */
static int feed(struct pipeline *p, float *s, size_t n, char *err, size_t errlen)
{
    if (!p->rs)
        return s ? emit(p, s, n, err, errlen) : 0;
    for (;;) {
        size_t used = 0, made = 0;
        soxr_error_t se = soxr_process(p->rs, s, n, &used, p->rsout, p->rscap, &made);
        if (se)
            return fail(err, errlen, "resampler: %s", se);
        if (made > 0 && emit(p, p->rsout, made, err, errlen) < 0)
            return -1;
        if (s) {
            if (used == 0 && made == 0)
                return fail(err, errlen, "resampler made no progress");
            s += used;
            n -= used;
            if (n == 0)
                return 0;
        } else if (made == 0) {
            return 0;   /* flushed */
        }
    }
}

static int pipeline_run(struct pipeline *p, char *err, size_t errlen)
{
    for (;;) {
        sf_count_t got = sf_readf_float(p->src, p->in, BLOCK_FRAMES);
        if (got < 0)
            return fail(err, errlen, "decoder: %s", sf_strerror(p->src));
        if (got == 0)
            break;
        mix_mono(p->in, (size_t)got, p->channels);
        if (feed(p, p->in, (size_t)got, err, errlen) < 0)
            return -1;
    }
    if (sf_error(p->src) != SF_ERR_NO_ERROR)
        return fail(err, errlen, "decoder: %s", sf_strerror(p->src));
    if (feed(p, NULL, 0, err, errlen) < 0)
        return -1;
    return encoder_finish(&p->enc, err, errlen);
}

static void pipeline_free(struct pipeline *p)
{
    encoder_close(&p->enc);
    if (p->rs)
        soxr_delete(p->rs);
    free(p->rsout);
    free(p->in);
    if (p->src)
        sf_close(p->src);
}

/* ---- MP3 frames --------------------------------------------------------------------------- */

int convert_mp3_info(const void *data, size_t len, struct convert_info *out)
{
    memset(out, 0, sizeof *out);
    struct mpeg_stream ms;
    if (audio_validate(data, len, AUDIO_MP3, NULL, 0) != 0 || mpeg_scan(data, len, &ms) != 0)
        return -1;
    out->sample_rate = ms.first.rate;
    out->channels = ms.first.channels;
    out->codec = CONVERT_CODEC_MP3;
    out->bytes = len;
    out->duration_ms = (int64_t)(ms.samples * 1000 / ms.first.rate);
    return 0;
}

/* ---- convert_audio ---------------------------------------------------------------------- */

/* Fills *info from a file's own bytes (see convert_info). 0, or -1 when it does not read. */
static int describe(const void *data, size_t len, bool mp3, struct convert_info *info)
{
    if (mp3)
        return convert_mp3_info(data, len, info);
    struct audio_info ai;
    if (audio_wav_info(data, len, &ai) != 0) {
        memset(info, 0, sizeof *info);
        return -1;
    }
    *info = (struct convert_info){.sample_rate = ai.sample_rate, .channels = ai.channels,
                                  .codec = ai.codec, .bytes = len,
                                  .duration_ms = ai.duration_ms};
    return 0;
}

/* Whether a valid WAV already is `want` (see convert.h). */
static bool wav_is_already(const void *in, size_t len, enum out_format want)
{
    if (want == OUT_FORMAT_WAV)
        return true;
    if (want == OUT_FORMAT_MP3)
        return false;
    struct audio_info ai;
    if (audio_wav_info(in, len, &ai) != 0)
        return false;
    uint16_t tag = wav_raw_tag(in, len);
    if (ai.channels != 1 || ai.sample_rate != (uint32_t)formats[want].rate ||
        tag != formats[want].codec)
        return false;
    return tag != CONVERT_CODEC_PCM || ai.bits == 16;
}

/* The MPEG rate to encode at: the input's when MPEG has it, else MP3_FALLBACK_RATE. */
static int mp3_rate(int in_rate)
{
    static const int ok[] = {8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (ok[i] == in_rate)
            return in_rate;
    return MP3_FALLBACK_RATE;
}

/* Opens the decoder over the input. */
static int open_source(struct pipeline *p, struct memio *mio, const void *in, size_t len,
                       enum convert_input kind, int *rate, char *err, size_t errlen)
{
    SF_INFO si = {0};
    if (kind == CONVERT_IN_ULAW_8000)
        si = (SF_INFO){.samplerate = 8000, .channels = 1, .format = SF_FORMAT_RAW | SF_FORMAT_ULAW};
    *mio = (struct memio){.rd = in, .len = (sf_count_t)len};
    p->src = sf_open_virtual(&mio_ops, SFM_READ, &si, mio);
    if (!p->src) {
        struct audio_info ai;
        if (audio_wav_info(in, len, &ai) != 0)   /* validated before, so this reads */
            return fail(err, errlen, "cannot decode this audio");
        return fail(err, errlen, "cannot decode this WAV (format tag 0x%04x, %u bits)",
                    ai.codec, ai.bits);
    }
    if (si.channels < 1 || si.samplerate < 1)
        return fail(err, errlen, "cannot decode this WAV (%d channels at %d Hz)", si.channels,
                    si.samplerate);
    p->channels = si.channels;
    *rate = si.samplerate;
    return 0;
}

/* Decodes, mixes, resamples and encodes in into out (see convert.h). */
static int transcode(const void *in, size_t len, enum convert_input kind, enum out_format want,
                     struct buf *out, char *err, size_t errlen)
{
    struct pipeline p = {.enc.out = out};
    struct memio src_io;
    struct buf sealed = {0};   /* a sealed copy of a streamed WAV, when it has placeholders */
    size_t start = out->len;
    int in_rate = 0;
    int rc = 0;
    if (kind == CONVERT_IN_WAV && wav_has_placeholder(in, len)) {
        buf_append(&sealed, in, len);
        rc = audio_wav_seal(&sealed, err, errlen);
        in = sealed.data;
        len = sealed.len;
    }
    if (rc == 0)
        rc = open_source(&p, &src_io, in, len, kind, &in_rate, err, errlen);
    int out_rate = want == OUT_FORMAT_MP3 ? mp3_rate(in_rate)
                 : formats[want].rate ? formats[want].rate : in_rate;
    if (rc == 0)
        rc = pipeline_start(&p, in_rate, out_rate, err, errlen);
    if (rc == 0)
        rc = want == OUT_FORMAT_MP3 ? encoder_open_mp3(&p.enc, out_rate, err, errlen)
                                    : encoder_open_wav(&p.enc, want, out_rate, err, errlen);
    if (rc == 0)
        rc = pipeline_run(&p, err, errlen);
    if (rc == 0 && p.enc.frames == 0)
        rc = fail(err, errlen, "no audio to convert");
    pipeline_free(&p);
    buf_free(&sealed);
    if (rc != 0)
        cut_back(out, start);
    return rc;
}

/* Raw µ-law behind a µ-law WAV header: libsndfile writes the header, the bytes go as they are. */
static int wrap_ulaw(const void *in, size_t len, struct buf *out, char *err, size_t errlen)
{
    struct encoder e = {.out = out};
    size_t start = out->len;
    int rc = encoder_open_wav(&e, OUT_FORMAT_ULAW_8000, 8000, err, errlen);
    if (rc == 0 && sf_write_raw(e.snd, in, (sf_count_t)len) != (sf_count_t)len)
        rc = fail(err, errlen, "WAV encoder: %s", sf_strerror(e.snd));
    if (rc == 0)
        rc = encoder_finish(&e, err, errlen);
    encoder_close(&e);
    if (rc != 0)
        cut_back(out, start);
    return rc;
}

/* Checks the input against its kind; 0, CONVERT_UNCHANGED, or -1 + err. */
static int check_input(const void *in, size_t len, enum convert_input kind, enum out_format want,
                       char *err, size_t errlen)
{
    if (!format_ok(want))
        return fail(err, errlen, "unknown output format %d", (int)want);
    if (!in || len == 0)
        return fail(err, errlen, "no audio: the body is empty");
    switch (kind) {
    case CONVERT_IN_WAV:
        if (audio_validate(in, len, AUDIO_WAV, err, errlen) != 0)
            return -1;
        return wav_is_already(in, len, want) ? CONVERT_UNCHANGED : 0;
    case CONVERT_IN_MP3:
        if (audio_validate(in, len, AUDIO_MP3, err, errlen) != 0)
            return -1;
        if (want != OUT_FORMAT_MP3)
            return fail(err, errlen, "converting MP3 to %s is not supported: ask the provider for "
                        "WAV", out_format_name(want));
        return CONVERT_UNCHANGED;
    case CONVERT_IN_ULAW_8000:
        /* Any byte is a µ-law sample, so only a whole file of another kind can be told apart. */
        if (audio_validate(in, len, AUDIO_WAV, NULL, 0) == 0)
            return fail(err, errlen, "body is a WAV file, not raw mu-law");
        if (audio_validate(in, len, AUDIO_MP3, NULL, 0) == 0)
            return fail(err, errlen, "body is an MP3 file, not raw mu-law");
        return 0;
    }
    return fail(err, errlen, "unknown input kind %d", (int)kind);
}

int convert_audio(const void *in, size_t len, enum convert_input kind, enum out_format want,
                  struct buf *out, struct convert_info *info, char *err, size_t errlen)
{
    struct convert_info got;
    int rc = check_input(in, len, kind, want, err, errlen);
    if (rc < 0)
        return -1;
    if (rc == CONVERT_UNCHANGED) {
        if (describe(in, len, kind == CONVERT_IN_MP3, &got) != 0)   /* validated: cannot fail */
            return fail(err, errlen, "cannot read the audio's header");
        if (info)
            *info = got;
        return CONVERT_UNCHANGED;
    }
    size_t start = out->len;
    if (kind == CONVERT_IN_ULAW_8000 && want == OUT_FORMAT_ULAW_8000)
        rc = wrap_ulaw(in, len, out, err, errlen);
    else
        rc = transcode(in, len, kind, want == OUT_FORMAT_WAV && kind == CONVERT_IN_ULAW_8000
                                          ? OUT_FORMAT_WAV_8000 : want,
                       out, err, errlen);
    if (rc != 0)
        return -1;
    /* The output is read back as any provider's answer would be: a file that does not read
     * is an encoder fault, never saved. */
    if (describe(out->data + start, out->len - start, want == OUT_FORMAT_MP3, &got) != 0) {
        cut_back(out, start);
        return fail(err, errlen, "the %s encoder wrote an unreadable file", out_format_name(want));
    }
    if (info)
        *info = got;
    return 0;
}
