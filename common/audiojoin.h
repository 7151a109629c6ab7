/* audiojoin.h - joining audio parts into one file of the same format.
 *
 * A text longer than a provider's limit is split (textsplit.h), each part rendered and converted
 * to the job's format (convert_audio), and the parts joined here into the one file the contact
 * hears. Joining never decodes or resamples: the caller hands over parts that already share one
 * format, and a part that does not is refused with an error naming the difference, never
 * silently mixed into noise.
 *
 *   WAV: every part must pass audio_validate(AUDIO_WAV) and hold PCM, IEEE float, A-law or µ-law
 *        audio (codecs whose audio is whole sample frames, so bytes can be concatenated), with
 *        the codec tag, sample rate, channels and bits of part 1. The result is a fresh header
 *        (a 16-byte fmt chunk for PCM; for the others an 18-byte one and a `fact` chunk with the
 *        frame count, as the WAV spec asks and libsndfile writes), then one data chunk holding
 *        every part's audio bytes in order, all sizes true. Parts' other chunks (LIST, ...) are
 *        dropped: they described the parts, not the whole. Its duration is the sum of the parts'
 *        to the frame.
 *   MP3: every part must pass audio_validate(AUDIO_MP3) and hold at least one audio frame with
 *        the layer, sample rate and channels of part 1's. The result is every part's audio
 *        frames in order and nothing else: ID3v2 tags, Xing/Info/VBRI tag frames and trailing
 *        ID3v1/APE tags are dropped from every part, the first included, because what they say
 *        (a length, a seek table, LAME's gapless delay and padding) describes one part and would
 *        be false for the whole. What remains is a plain frame stream like convert_audio's own
 *        MP3s, whose duration (convert_mp3_info) is the sum of the parts' to the sample. Each
 *        part keeps its encoder delay and padding, so about 50 ms of silence sits between parts:
 *        at a sentence end, where the splitter puts them, it is not heard as a gap. A part's
 *        first frame never borrows bytes from before it (an encoder starts every stream with an
 *        empty bit reservoir), so cutting streams at their frame boundaries is safe.
 *
 * Pure: no I/O, no shared state; thread-safe. */
#ifndef VOXCAST_AUDIOJOIN_H
#define VOXCAST_AUDIOJOIN_H

#include <stddef.h>

#include "audio.h"
#include "buf.h"

/* One part to join: borrowed bytes of a whole audio file. */
struct audiojoin_part {
    const void *data;
    size_t      len;
};

/* Joins parts[0..n) (in that order), each a whole file of format f, into one file of format f
 * appended to out (out's earlier bytes are kept). n may be 1 (the part comes back rewritten:
 * a sealed WAV, a bare MP3 frame stream). Returns 0, or -1 with out untouched and the reason in
 * err (err may be NULL when errlen is 0): no parts, a part that is not valid audio ("part 2:
 * WAV cut short: ..."), a WAV codec that cannot be joined, a part whose format differs from
 * part 1's ("part 3 does not match part 1: sample rate 16000 Hz, not 8000 Hz"), an MP3 part
 * without audio frames, or a joined WAV past the 4 GiB a RIFF size can express. */
int audiojoin(enum audio_format f, const struct audiojoin_part *parts, size_t n, struct buf *out,
              char *err, size_t errlen);

#endif
