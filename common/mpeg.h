/* mpeg.h - MPEG audio frames (the stuff of MP3 files): headers, tags, and where the audio is.
 *
 * An MP3 file is a run of self-describing MPEG audio frames, optionally behind an ID3v2 tag and
 * followed by an ID3v1 or APE tag. Its first frame may be a Xing/Info (LAME, ffmpeg) or VBRI
 * (Fraunhofer) tag frame: a valid frame holding no audio, only the stream's length and a seek
 * table. Measuring an MP3 (convert_mp3_info) and joining MP3s (audiojoin) both need to know
 * which bytes are audio frames; this module is the one place that decides it. It does not judge
 * whether a body is an MP3 at all (audio_validate does, with reasons). Pure, no allocation. */
#ifndef VOXCAST_MPEG_H
#define VOXCAST_MPEG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One frame, as its 4-byte header describes it. */
struct mpeg_frame {
    uint32_t len;        /* bytes, header included */
    uint32_t rate;       /* Hz */
    uint32_t samples;    /* per channel in this frame: 384, 576 or 1152 */
    uint16_t channels;   /* 1 (mono) or 2 */
    uint16_t layer;      /* 1, 2 or 3 (Layer III: MP3) */
    uint32_t side_info;  /* Layer III side information bytes after the header (no CRC) */
};

/* Parses the 4-byte frame header at h (the caller guarantees 4 readable bytes). Returns 0, or -1
 * when h is not a usable header: no sync, reserved version, layer, sample rate or emphasis,
 * free-format or invalid bitrate. */
int mpeg_frame_parse(const uint8_t *h, struct mpeg_frame *f);

/* Where the audio is in p[0..len): after a leading ID3v2 tag and a leading tag frame, up to the
 * first bytes that are not a whole frame (an ID3v1 or APE tag, junk, a frame cut short). */
struct mpeg_stream {
    size_t            audio_off;  /* first audio frame */
    size_t            audio_end;  /* end of the last whole frame (== audio_off: no audio) */
    uint64_t          samples;    /* per channel, summed over the audio frames */
    uint64_t          frames;     /* audio frames, the tag frame not counted */
    bool              tag_frame;  /* a Xing/Info/VBRI frame was skipped */
    struct mpeg_frame first;      /* the first frame (the tag frame when there is one) */
};

/* Walks p[0..len) and fills *s. Returns 0, or -1 (with *s zeroed) when no whole frame follows
 * the optional ID3v2 tag. */
int mpeg_scan(const uint8_t *p, size_t len, struct mpeg_stream *s);

#endif
