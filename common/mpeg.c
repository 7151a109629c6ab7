/* mpeg.c - MPEG audio frames: headers, tags, and where the audio is; see mpeg.h.
 *
 * Frame lengths follow ISO 11172-3 / 13818-3: Layer I frames are 4-byte slots
 * (12 * bitrate / rate + padding), Layer II and III frames bytes (samples / 8 * bitrate / rate
 * + padding), with 576 samples per Layer III frame in MPEG-2 and 2.5 and 1152 otherwise. */
#include "mpeg.h"

#include <string.h>

int mpeg_frame_parse(const uint8_t *h, struct mpeg_frame *f)
{
    static const uint16_t br_v1[3][16] = {
        {0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448, 0},
        {0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 0},
        {0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0}};
    static const uint16_t br_v2[2][16] = {
        {0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256, 0},
        {0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0}};
    static const uint32_t rates[3] = {44100, 48000, 32000};
    if (h[0] != 0xFF || (h[1] & 0xE0) != 0xE0)
        return -1;
    unsigned ver = (h[1] >> 3) & 3, layer = (h[1] >> 1) & 3;   /* ver 3: MPEG-1, 2: 2, 0: 2.5 */
    unsigned bri = h[2] >> 4, sri = (h[2] >> 2) & 3, pad = (h[2] >> 1) & 1;
    if (ver == 1 || layer == 0 || bri == 0 || bri == 15 || sri == 3 || (h[3] & 3) == 2)
        return -1;
    unsigned li = 3 - layer;                                    /* 0: Layer I .. 2: Layer III */
    bool v1 = ver == 3;
    uint32_t kbps = v1 ? br_v1[li][bri] : br_v2[li == 0 ? 0 : 1][bri];
    f->rate = rates[sri] >> (v1 ? 0 : ver == 2 ? 1 : 2);
    f->channels = (h[3] >> 6) == 3 ? 1 : 2;
    f->layer = (uint16_t)(li + 1);
    if (li == 0) {
        f->samples = 384;
        f->len = (12000u * kbps / f->rate + pad) * 4;
    } else {
        f->samples = li == 2 && !v1 ? 576 : 1152;
        f->len = (f->samples / 8) * 1000u * kbps / f->rate + pad;
    }
    f->side_info = v1 ? (f->channels == 1 ? 17 : 32) : (f->channels == 1 ? 9 : 17);
    return f->len >= 4 ? 0 : -1;
}

/* A Xing/Info tag sits right after the side information, a VBRI tag at a fixed 36 bytes. */
static bool mpeg_is_tag_frame(const uint8_t *p, const struct mpeg_frame *f)
{
    size_t x = 4 + f->side_info;
    if (x + 4 <= f->len && (memcmp(p + x, "Xing", 4) == 0 || memcmp(p + x, "Info", 4) == 0))
        return true;
    return 36 + 4 <= f->len && memcmp(p + 36, "VBRI", 4) == 0;
}

/* Length of a leading ID3v2 tag (header, syncsafe size, optional footer), 0 when absent. */
static size_t mpeg_id3v2_len(const uint8_t *p, size_t len)
{
    if (len < 10 || memcmp(p, "ID3", 3) != 0)
        return 0;
    size_t n = 10 + ((size_t)(p[6] & 0x7F) << 21 | (size_t)(p[7] & 0x7F) << 14 |
                     (size_t)(p[8] & 0x7F) << 7 | (size_t)(p[9] & 0x7F));
    if (p[5] & 0x10)
        n += 10;   /* footer */
    return n;
}

/* The whole frame at p[off..len) into *f; false at the end of the frames. */
static bool mpeg_whole_frame(const uint8_t *p, size_t len, size_t off, struct mpeg_frame *f)
{
    return off <= len && len - off >= 4 && mpeg_frame_parse(p + off, f) == 0 && f->len <= len - off;
}

int mpeg_scan(const uint8_t *p, size_t len, struct mpeg_stream *s)
{
    memset(s, 0, sizeof *s);
    size_t off = mpeg_id3v2_len(p, len);
    struct mpeg_frame f;
    if (!mpeg_whole_frame(p, len, off, &f))
        return -1;
    s->first = f;
    if (mpeg_is_tag_frame(p + off, &f)) {
        s->tag_frame = true;
        off += f.len;
    }
    s->audio_off = off;
    while (mpeg_whole_frame(p, len, off, &f)) {
        s->samples += f.samples;
        s->frames++;
        off += f.len;
    }
    s->audio_end = off;
    return 0;
}
