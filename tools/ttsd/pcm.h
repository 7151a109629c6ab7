/* pcm.h - sample-level helpers for the provider mimics: read, resample, µ-law, WAV headers.
 *
 * The mimics (mimic.h) answer in the byte shapes real providers send: raw 16-bit PCM at a rate
 * the format name fixes (OpenAI `pcm` 24 kHz, ElevenLabs `pcm_16000`), G.711 µ-law at 8 kHz,
 * and WAV whose header carries placeholder sizes because it was written before the length was
 * known. espeak-ng (and --tone) render mono 16-bit WAV at their own rate; these helpers take the
 * samples out of that file and produce the shapes, so every rate written in a header or implied
 * by a format name is the true rate of the samples that follow. Pure, thread-safe, no I/O. */
#ifndef VOXCAST_TTSD_PCM_H
#define VOXCAST_TTSD_PCM_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Finds the samples of a mono 16-bit PCM WAV (any chunk order before "data"). Sets *data to the
 * first sample byte inside wav, *n to the number of samples and *rate to the sample rate.
 * Returns 0, or -1 when wav is not mono 16-bit PCM or has no data. */
int pcm_from_wav(const void *wav, size_t len, const uint8_t **data, size_t *n, int *rate);

/* Appends n little-endian 16-bit samples read from `in` (LE bytes), resampled from rate `from` to
 * rate `to` by linear interpolation, as little-endian 16-bit bytes. Equal rates copy. At least
 * one sample is written when n > 0. Good enough for speech labelled honestly; not hi-fi. */
void pcm_resample(const uint8_t *in, size_t n, int from, int to, struct buf *out);

/* Appends one G.711 µ-law byte per little-endian 16-bit sample of in[0..n). */
void pcm_to_ulaw(const uint8_t *in, size_t n, struct buf *out);

/* One G.711 µ-law byte for a linear 16-bit sample: the reference encoder (bias 33 on the 14-bit
 * magnitude, eight segments); equal to CPython audioop.lin2ulaw for all 65536 inputs. */
uint8_t pcm_ulaw_byte(int16_t sample);

/* Appends a 44-byte mono 16-bit PCM WAV header for `rate` whose RIFF and data size fields hold
 * riff_size and data_size as given: true sizes for a whole file, or a streaming writer's
 * placeholder (0xFFFFFFFF OpenAI and Kokoro-FastAPI, 0x7FFFFFFF ElevenLabs). */
void pcm_wav_header(struct buf *out, int rate, uint32_t riff_size, uint32_t data_size);

#endif
