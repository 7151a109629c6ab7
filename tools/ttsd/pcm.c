/* pcm.c - WAV sample lookup, linear resampling, G.711 µ-law, WAV headers; see pcm.h.
 *
 * Samples are read and written byte by byte in little-endian order, so the code does not depend
 * on the host's byte order or on the alignment of a sample inside the WAV buffer. */
#include "pcm.h"

#include <stdbool.h>
#include <string.h>

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static int16_t sample_at(const uint8_t *in, size_t i)
{
    return (int16_t)rd16(in + 2 * i);
}

static void put16(struct buf *out, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    buf_append(out, b, 2);
}

static void put32(struct buf *out, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    buf_append(out, b, 4);
}

int pcm_from_wav(const void *wav, size_t len, const uint8_t **data, size_t *n, int *rate)
{
    const uint8_t *p = wav;
    if (len < 12 || memcmp(p, "RIFF", 4) != 0 || memcmp(p + 8, "WAVE", 4) != 0)
        return -1;
    bool fmt_ok = false;
    for (size_t off = 12; off + 8 <= len;) {
        uint32_t size = rd32(p + off + 4);
        const uint8_t *body = p + off + 8;
        size_t room = len - off - 8;
        if (memcmp(p + off, "fmt ", 4) == 0 && size >= 16 && room >= 16) {
            fmt_ok = rd16(body) == 1 && rd16(body + 2) == 1 && rd16(body + 14) == 16;
            *rate = (int)rd32(body + 4);
        } else if (memcmp(p + off, "data", 4) == 0) {
            size_t bytes = size < room ? size : room;
            if (!fmt_ok || *rate <= 0 || bytes < 2)
                return -1;
            *data = body;
            *n = bytes / 2;
            return 0;
        }
        if (size > room)
            return -1;
        off += 8 + size + (size & 1);
    }
    return -1;
}

void pcm_resample(const uint8_t *in, size_t n, int from, int to, struct buf *out)
{
    if (n == 0)
        return;
    if (from == to || from <= 0 || to <= 0) {
        buf_append(out, in, 2 * n);
        return;
    }
    size_t m = (size_t)((double)n * to / from);
    if (m == 0)
        m = 1;
    buf_reserve(out, 2 * m);
    for (size_t i = 0; i < m; i++) {
        double pos = (double)i * from / to;
        size_t j = (size_t)pos;
        double frac = pos - (double)j;
        if (j >= n - 1) {
            j = n - 1;
            frac = 0.0;
        }
        double a = sample_at(in, j), b = frac > 0.0 ? sample_at(in, j + 1) : a;
        double v = a + (b - a) * frac;
        put16(out, (uint16_t)(int16_t)(v < 0 ? v - 0.5 : v + 0.5));
    }
}

/* G.711 µ-law on the 14-bit magnitude (the reference encoder's arithmetic, so every byte matches
 * what telephony tools produce): bias 33, clip at 8159, eight segments, bits inverted. */
uint8_t pcm_ulaw_byte(int16_t sample)
{
    enum { BIAS = 0x21, CLIP = 8159 };
    int v = sample >> 2;   /* arithmetic shift: -1 stays -1, as in the reference */
    int mask = 0xFF;
    if (v < 0) {
        v = -v;
        mask = 0x7F;
    }
    if (v > CLIP)
        v = CLIP;
    v += BIAS;
    int seg = 0;
    while (seg < 8 && v > (0x40 << seg) - 1)   /* segment ends 0x3F, 0x7F, ... 0x1FFF */
        seg++;
    if (seg == 8)
        return (uint8_t)(0x7F ^ mask);
    return (uint8_t)(((seg << 4) | ((v >> (seg + 1)) & 0x0F)) ^ mask);
}

void pcm_to_ulaw(const uint8_t *in, size_t n, struct buf *out)
{
    buf_reserve(out, n);
    for (size_t i = 0; i < n; i++) {
        uint8_t b = pcm_ulaw_byte(sample_at(in, i));
        buf_append(out, &b, 1);
    }
}

void pcm_wav_header(struct buf *out, int rate, uint32_t riff_size, uint32_t data_size)
{
    buf_append(out, "RIFF", 4);
    put32(out, riff_size);
    buf_append(out, "WAVEfmt ", 8);
    put32(out, 16);
    put16(out, 1);                    /* PCM */
    put16(out, 1);                    /* mono */
    put32(out, (uint32_t)rate);
    put32(out, (uint32_t)rate * 2);   /* byte rate */
    put16(out, 2);                    /* block align */
    put16(out, 16);                   /* bits per sample */
    buf_append(out, "data", 4);
    put32(out, data_size);
}
