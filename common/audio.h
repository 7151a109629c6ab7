/* audio.h - audio formats: names, validation of provider answers, small generated files.
 *
 * A TTS provider that answers 200 has not necessarily sent audio: proxies send HTML error pages,
 * APIs send JSON errors with the wrong status, and a streamed answer can stop half-way with the
 * status already sent. audio_validate() is the one place that decides "this body is a whole audio
 * file", so the consumer can classify such a 200 as a retryable failure. Streamed WAV answers carry
 * placeholder sizes in their header; audio_wav_seal() writes the true ones before a file is saved,
 * audio_wav_from_pcm() and audio_wav_from_ulaw() wrap headerless PCM and µ-law answers, and
 * audio_wav_info() reads rate, channels and duration. The generators build the tiny files voxcast-ttsd and the tests need (a tone, MP3
 * silence) without any encoder library. Everything here is pure and thread-safe. */
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
 * It is called only on a body whose HTTP transfer completed (the final chunk of a chunked body, or
 * all Content-Length bytes, arrived): a body cut in transit is the transport's failure, not this
 * judge's, so "the end of the body" is the end of what the provider sent.
 *
 * WAV: "RIFF" <size> "WAVE", then chunks (each padded to an even length; LIST and other chunks
 * are walked past); a "fmt " chunk (PCM, IEEE float, A-law, mu-law or any other codec, also
 * inside WAVE_FORMAT_EXTENSIBLE; 1-16 channels, 1000-768000 Hz) must come before the "data"
 * chunk. Streaming writers cannot know the length when they send the header, so:
 *
 *   - A size that is a placeholder, 0 or >= AUDIO_WAV_SIZE_PLACEHOLDER (0x7FFFF000), means
 *     "until the end of the body", in the RIFF header and in the data chunk alike. OpenAI and
 *     Kokoro-FastAPI send 0xFFFFFFFF in both, ElevenLabs 0x7FFFFFFF, libsndfile and Python's
 *     wave 0, sox 0x7FFFF000 (RIFF 0x7FFFF024). No answer body is 2 GiB, so no real size is
 *     mistaken for one.
 *   - Any other (real) size is believed: a data chunk or RIFF size larger than the body fails as
 *     "WAV cut short", even though the transfer completed (the server sent less than its own
 *     header promised). So "a size beyond what arrived means until the end" holds only for the
 *     placeholder values, which no real file can have; a size a real file could have is taken
 *     at its word. A RIFF size smaller than the body is tolerated (trailing bytes).
 *   - The audio bytes (the data size, or with a placeholder the rest of the body) must be more
 *     than 0 and, for PCM, float, A-law and mu-law, a whole number of sample frames (block_align
 *     bytes; channels * bytes per sample when block_align is 0): a stream that stopped inside a
 *     frame fails ("not a whole number of sample frames"). Other codecs' blocks are not checked.
 *   - Chunks after the data chunk (a real-sized one) are not inspected.
 *
 * MP3: an optional ID3v2 tag (its syncsafe size skipped), then immediately an MPEG audio frame
 * header (11-bit sync, MPEG 1/2/2.5, Layer I/II/III, a bitrate index other than free/bad, a
 * sample rate index other than reserved, emphasis not reserved) and that whole first frame.
 *
 * A JSON or HTML body, an empty body, and anything else fail; err then names what the body looks
 * like ("body is JSON, not audio"). err may be NULL when errlen is 0. */
int audio_validate(const void *data, size_t len, enum audio_format f, char *err, size_t errlen);

/* Sizes at or above this (and 0) in a WAV's RIFF or data field are streaming placeholders. */
#define AUDIO_WAV_SIZE_PLACEHOLDER 0x7FFFF000u

/* Rewrites, in place, a WAV body that passed audio_validate(AUDIO_WAV) so its header tells the
 * truth, and strict readers (Python's wave, SDL, Asterisk, sox) read its real length: the data
 * size becomes the audio bytes present (with a placeholder, the rest of the body, which
 * validation has already checked is whole frames) and the RIFF size the total length - 8.
 * After a real-sized data chunk, whole chunks (LIST, id3, ...) are kept and trailing bytes that
 * do not form a whole chunk are dropped; an odd-sized last chunk gets its pad byte. So wav->len
 * may shrink, or grow by one. Returns 0, or -1 with err and wav untouched when the body does not
 * validate or would exceed the 4 GiB a RIFF size can express. */
int audio_wav_seal(struct buf *wav, char *err, size_t errlen);

/* Appends to out a WAV holding raw 16-bit little-endian PCM pcm[0..len): a 44-byte header with
 * true sizes, then the bytes as they are. This is how OpenAI's `pcm` (24 kHz mono, no header)
 * and ElevenLabs' `pcm_<rate>` (mono) answers are saved as WAV. Returns 0, or -1 with err and out
 * untouched when len is 0, not a whole number of frames (2 * channels bytes) or too large for a
 * WAV, or sample_rate (1000-768000) or channels (1-16) is out of range. */
int audio_wav_from_pcm(const void *pcm, size_t len, int sample_rate, int channels,
                       struct buf *out, char *err, size_t errlen);

/* Appends to out a WAV holding raw G.711 µ-law bytes ulaw[0..len) (mono, 8 bits a sample, no
 * header): RIFF, an 18-byte fmt chunk with format tag 7, a fact chunk and the data, sizes true
 * (58 bytes of header). This is how ElevenLabs' `ulaw_8000` answers (raw µ-law at 8 kHz) are
 * saved as the WAV every telephony reader plays. Returns 0, or -1 with err and out untouched when
 * len is 0 or too large for a WAV, or sample_rate is outside 1000-768000. */
int audio_wav_from_ulaw(const void *ulaw, size_t len, int sample_rate, struct buf *out, char *err,
                        size_t errlen);

/* What a WAV holds. codec is the format tag (1 PCM, 3 IEEE float, 6 A-law, 7 mu-law, ...), the
 * sub-format's tag for WAVE_FORMAT_EXTENSIBLE. */
struct audio_info {
    uint32_t sample_rate;   /* Hz */
    uint16_t channels;
    uint16_t bits;          /* bits per sample as the fmt chunk declares it */
    uint16_t codec;         /* format tag */
    uint64_t data_bytes;    /* audio bytes: what audio_wav_seal() writes as the data size */
    int64_t  duration_ms;   /* from the audio bytes (frames / rate; other codecs: byte rate);
                             * -1 when the header gives no way to know (byte rate 0) */
};

/* Fills *out for a WAV that passes audio_validate(AUDIO_WAV) (sealed or not: a placeholder size
 * counts the audio the body holds, cut down to whole frames, as seal does). Returns 0, or -1
 * leaving *out zeroed when the body is not a valid WAV. */
int audio_wav_info(const void *data, size_t len, struct audio_info *out);

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
