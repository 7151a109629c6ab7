/* audio.h - audio formats: names, validation of provider answers, small generated files.
 *
 * A TTS provider that answers 200 has not necessarily sent audio: proxies send HTML error pages,
 * APIs send JSON errors with the wrong status, and a streamed answer can stop half-way with the
 * status already sent. audio_validate() is the one place that decides "this body is a whole audio
 * file", so the consumer can classify such a 200 as a retryable failure. The generators build the
 * tiny files voxcast-ttsd and the tests need (a tone, MP3 silence) without any encoder library.
 * Everything here is pure and thread-safe. */
#ifndef VOXCAST_AUDIO_H
#define VOXCAST_AUDIO_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum audio_format { AUDIO_WAV, AUDIO_MP3 };

/* Parses "wav" or "mp3" (exact, lower case) into *out. Returns 0, or -1 leaving *out untouched. */
int audio_format_parse(const char *s, enum audio_format *out);

/* "wav" or "mp3" (static string; "?" for a value outside the enum). Also the file extension. */
const char *audio_format_name(enum audio_format f);

/* Returns 0 when data[0..len) is a whole audio file of format f, else -1 with the reason in err.
 *
 * WAV: "RIFF" <size> "WAVE", then chunks; a "fmt " chunk (any codec, 1-16 channels, 1000-768000
 * Hz) must come before a "data" chunk whose declared size is > 0 and whose bytes are all present.
 * The data chunk is the authority on completeness: a RIFF size larger than the body fails (body
 * cut short), except the placeholders 0 and 0xFFFFFFFF that streaming writers leave, which are
 * tolerated when the data chunk itself is complete. Chunks after "data" are not inspected.
 *
 * MP3: an optional ID3v2 tag (its syncsafe size skipped), then immediately an MPEG audio frame
 * header (11-bit sync, MPEG 1/2/2.5, Layer I/II/III, a bitrate index other than free/bad, a
 * sample rate index other than reserved, emphasis not reserved) and that whole first frame.
 *
 * A JSON or HTML body, an empty body, and anything else fail; err then names what the body looks
 * like ("body is JSON, not audio"). err may be NULL when errlen is 0. */
int audio_validate(const void *data, size_t len, enum audio_format f, char *err, size_t errlen);

/* Appends a mono 16-bit PCM WAV (44-byte header, little-endian) of samples[0..n) at sample_rate
 * to out (sample_rate <= 0 means 22050). n may be 0 (a header-only file, which audio_validate
 * rejects on purpose); n beyond what the u32 size fields hold (about 2^31 samples) is cut. */
void audio_wav_from_pcm16(const int16_t *samples, size_t n, int sample_rate, struct buf *out);

/* Appends a mono PCM16 WAV of a 440 Hz sine tone, duration_ms long (at least one sample), with
 * 5 ms fades so it does not click; sample_rate <= 0 means 22050. For benchmarks and tests that
 * need audio without synthesis. */
void audio_tone_wav(int duration_ms, int sample_rate, struct buf *out);

/* Appends MPEG-1 Layer III frames of silence (CBR 128 kbit/s, 44.1 kHz, mono, no CRC): as many
 * 1152-sample frames as cover duration_ms, at least one. Each frame is a header followed by zero
 * side information and no main data, which every decoder plays as digital silence. */
void audio_silent_mp3(int duration_ms, struct buf *out);

#endif
