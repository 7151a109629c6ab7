/* convert.h - output formats and the conversion of rendered audio into them.
 *
 * A campaign asks for one output format (job field `format`, `launch --format`); dialers need
 * telephony audio (G.711 µ-law or A-law at 8 kHz mono, what Twilio, Asterisk and most carriers
 * play), while providers answer in their own rates and codecs. Any provider serves any format:
 * the consumer asks a provider for the format natively where it can (ElevenLabs
 * `output_format=ulaw_8000`, which answers raw µ-law bytes) and otherwise converts the rendered
 * audio here, after rendering:
 *
 *     decode (libsndfile, from memory) -> mix down to mono -> resample (libsoxr) ->
 *     encode (libsndfile: µ-law / A-law / PCM16 WAV; libmp3lame: MP3)
 *
 * Audio streams through in blocks, so memory per call is a few tens of KiB plus the output,
 * whatever the input's length (plus one copy of a streamed WAV whose header still holds
 * placeholder sizes, sealed before decoding). Every call creates and frees its own decoder,
 * resampler and encoder: there is no shared mutable state, and the writer thread (or several) may call
 * convert_audio() concurrently. When the input already is the wanted format nothing is done
 * and nothing is copied (CONVERT_UNCHANGED): the caller keeps its own buffer.
 *
 * Durations are always computed from the audio itself (frames / rate for WAV; MPEG frames ×
 * samples per frame / rate for MP3), never taken from a provider's claims. */
#ifndef VOXCAST_CONVERT_H
#define VOXCAST_CONVERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* The formats a campaign can ask for. Every kind but OUT_FORMAT_MP3 is a WAV file (`.wav`). */
enum out_format {
    OUT_FORMAT_WAV,        /* "wav": the provider's own WAV (its rate, codec and channels) */
    OUT_FORMAT_MP3,        /* "mp3": MPEG Layer III, mono 64 kbit/s when voxcast encodes it */
    OUT_FORMAT_ULAW_8000,  /* "ulaw_8000": G.711 µ-law WAV, 8 kHz mono (format tag 7) */
    OUT_FORMAT_ALAW_8000,  /* "alaw_8000": G.711 A-law WAV, 8 kHz mono (format tag 6) */
    OUT_FORMAT_WAV_8000,   /* "wav_8000": 16-bit PCM WAV, 8 kHz mono (format tag 1) */
    OUT_FORMAT_WAV_16000   /* "wav_16000": 16-bit PCM WAV, 16 kHz mono (format tag 1) */
};
#define OUT_FORMAT_COUNT 6

/* WAV format tags (the fmt chunk's wFormatTag), also used for convert_info.codec. */
#define CONVERT_CODEC_PCM   1
#define CONVERT_CODEC_FLOAT 3
#define CONVERT_CODEC_ALAW  6
#define CONVERT_CODEC_ULAW  7
#define CONVERT_CODEC_MP3   0x55   /* WAVE_FORMAT_MPEGLAYER3: what convert_info says for MP3 */

/* Parses a format name (exact, lower case: "wav", "mp3", "ulaw_8000", "alaw_8000", "wav_8000",
 * "wav_16000") into *out. Returns 0, or -1 leaving *out untouched (also for NULL). */
int out_format_parse(const char *s, enum out_format *out);

/* The format's name as out_format_parse() reads it (static; "?" outside the enum). */
const char *out_format_name(enum out_format f);

/* The file extension without the dot: "mp3" for OUT_FORMAT_MP3, "wav" for every other kind
 * (static; "?" outside the enum). */
const char *out_format_ext(enum out_format f);

/* True for the WAV kinds (everything but OUT_FORMAT_MP3). */
bool out_format_is_wav(enum out_format f);

/* The sample rate the format fixes (8000 or 16000), or 0 when it keeps the input's (wav, mp3). */
int out_format_rate(enum out_format f);

/* The WAV format tag the format fixes (CONVERT_CODEC_ULAW, _ALAW, _PCM), CONVERT_CODEC_MP3 for
 * mp3, or 0 for wav (any codec the provider sends). */
int out_format_codec(enum out_format f);

/* What a provider's answer holds, as the consumer knows from what it asked for. */
enum convert_input {
    CONVERT_IN_WAV,        /* a WAV of any PCM (8-32 bit), float, µ-law or A-law codec (other
                            * codecs libsndfile reads, such as IMA ADPCM, work too), any rate,
                            * mono or stereo (more channels are mixed down as well) */
    CONVERT_IN_MP3,        /* an MP3 (only ever passed through: decoding MP3 is not done) */
    CONVERT_IN_ULAW_8000   /* raw G.711 µ-law bytes, 8 kHz mono, no header (ElevenLabs
                            * `ulaw_8000`) */
};

/* What an output (or an unchanged input) holds. */
struct convert_info {
    uint32_t sample_rate;   /* Hz */
    uint16_t channels;
    uint16_t codec;         /* WAV format tag (CONVERT_CODEC_*); CONVERT_CODEC_MP3 for MP3 */
    uint64_t bytes;         /* size of the whole file */
    int64_t  duration_ms;   /* from the audio: WAV frames / rate; MP3 frames × samples per
                             * frame / rate (a Xing/Info/VBRI tag frame not counted); -1 when a
                             * WAV's header gives no way to know (byte rate 0) */
};

/* convert_audio() result when the input already is the wanted format. */
#define CONVERT_UNCHANGED 1

/* Converts in[0..len), of kind `kind`, into format `want`.
 *
 * Returns 0 with the new file appended to out (out's earlier bytes are kept; on failure out is
 * as it was); CONVERT_UNCHANGED when in already is `want`: nothing is appended, nothing copied,
 * and the caller keeps its own buffer; -1 with the reason in err (err may be NULL when errlen
 * is 0). In every success case *info (when info is not NULL) describes the file to save.
 *
 * Unchanged means: for wav, any WAV input; for mp3, an MP3 input; for ulaw_8000 / alaw_8000, a
 * mono 8 kHz WAV whose fmt tag is µ-law / A-law; for wav_8000 / wav_16000, a mono 16-bit PCM WAV
 * (plain tag 1, not WAVE_FORMAT_EXTENSIBLE, which some telephony readers refuse) at that rate.
 * A WAV input must pass audio_validate(AUDIO_WAV); pass it sealed (audio_wav_seal()) when it may
 * come back unchanged, since the caller saves its own bytes then.
 *
 * Otherwise the audio is decoded, mixed down to mono (the channels' mean), resampled with libsoxr
 * when the rate differs (a linear-phase low-pass at quality SOXR_LQ: 16-bit precision, which is
 * above what G.711 or a 64 kbit/s MP3 keeps) and clipped to full scale, then encoded:
 *   - ulaw_8000 / alaw_8000 / wav_8000 / wav_16000: libsndfile's WAV (fmt chunk of 16 bytes for
 *     PCM, 18 bytes plus a `fact` chunk for µ-law and A-law, as the WAV spec asks for non-PCM
 *     codecs), sizes true.
 *   - mp3: libmp3lame, mono CBR 64 kbit/s, no Xing/Info tag frame, at the input's rate when MPEG
 *     has it (8, 11.025, 12, 16, 22.05, 24, 32, 44.1, 48 kHz), else resampled to 24 kHz. LAME
 *     adds its encoder delay and padding, so the MP3's duration exceeds the input's by less than
 *     two frames (about 50-100 ms).
 *   - wav from raw µ-law: 16-bit PCM WAV, 8 kHz mono (the kind every reader takes).
 *   - ulaw_8000 from raw µ-law: the bytes as they are, behind a µ-law WAV header.
 * A WAV input's duration is kept within one output frame.
 *
 * Refused (-1): an empty input; a WAV input that fails audio_validate (err says what it is:
 * "body is JSON, not audio", ...); an MP3 input that is not an MP3; any format but mp3 from an
 * MP3 input ("converting MP3 to ulaw_8000 is not supported: ask the provider for WAV"); a raw
 * µ-law input that is in fact a WAV or MP3; a codec libsndfile cannot decode (err names its
 * format tag); an input too short to make one output frame ("no audio to convert"); a `want` or
 * `kind` outside its enum; an output that does not read back as a valid file (every output is
 * checked as a provider's answer is, so an encoder fault is never saved). */
int convert_audio(const void *in, size_t len, enum convert_input kind, enum out_format want,
                  struct buf *out, struct convert_info *info, char *err, size_t errlen);

/* Fills *out for the MP3 in data[0..len) by walking its frames (after an optional ID3v2 tag,
 * up to the first bytes that are not a whole frame, such as an ID3v1 tag): rate, channels and
 * mode of the first frame, bytes = len, duration = frames × samples per frame / rate, a leading
 * Xing/Info/VBRI tag frame not counted. Returns 0, or -1 leaving *out zeroed when data does not
 * pass audio_validate(AUDIO_MP3). Pure, no allocation. */
int convert_mp3_info(const void *data, size_t len, struct convert_info *out);

#endif
