/* textsplit.h - cutting a text longer than a provider's limit into parts it accepts.
 *
 * Providers cap a request's text (OpenAI 4096 characters, ElevenLabs 5000 to 40000 by model);
 * a longer text is rendered in parts and the audio joined (audiojoin.h). Where a text is cut is
 * heard: a cut inside a sentence puts a pause where no reader would, a cut inside a word breaks
 * the word. So each cut goes at the best boundary within reach, in this order:
 *
 *   1. a sentence end: after . ! ? … 。 ！ ？ (and up to four closing quotes or brackets after
 *      them), or before a blank line (two line breaks with only white space between, or a
 *      paragraph separator U+2029);
 *   2. a clause mark: after , ; : – — 、 ， ； ：(and closers);
 *   3. a space: after a word, before white space;
 *   4. only when none of these is within reach - a single word (a run without white space or
 *      the marks above) longer than the limit - between two code points, never inside a UTF-8
 *      sequence.
 * The marks that Western text follows with a space (. ! ? , ; : –) count only before white space
 * or the end of the text, so "3.14", "e.g.x", "1,000" and "12:30" are never cut; the others
 * (… — and the full-width CJK marks, which are written without spaces) count anywhere, except
 * in the middle of a run of marks and closers ("?!", "……", "。」"), which is cut after its end.
 * White space is ASCII's (space, tab, line breaks, VT, FF), NEL, the Unicode spaces U+1680,
 * U+2000-U+200A, U+205F, U+3000 and the separators U+2028/U+2029; the no-break spaces (U+00A0,
 * U+2007, U+202F) are not white space, since they ask for no break.
 *
 * Greedy, not balanced: each part takes as much text as fits, up to the furthest boundary of the
 * best kind within max_chars code points. That makes the fewest requests the boundary rules
 * allow and keeps every sentence that fits whole; balancing the parts' lengths would cost cuts
 * at weaker boundaries for no gain (a provider's price and latency follow the characters, which
 * are the same either way). The price: the last part may be short.
 *
 * White space. A part never starts or ends with white space: the white space at each cut (all
 * of the run, possibly empty at a CJK mark or inside a long word), before the first part and
 * after the last belongs to no part. So the text is exactly
 *     gap[0] part[0] gap[1] part[1] ... part[n-1] gap[n]
 * where every gap is white space only and gap[i] = text[part[i-1].off + part[i-1].len ..
 * part[i].off): joining the parts with the text between them gives back every byte, once. A
 * caller that re-joins parts for display joins them with the gaps; a provider gets the parts.
 * White space inside a part is kept as it is. A text that fits is one part: itself, trimmed.
 *
 * The text is assumed valid UTF-8 (job texts are checked at launch and on decode); on invalid
 * input the result is still within bounds and cuts only before bytes that are not continuation
 * bytes. Code points are counted as utf8_count() counts them. Pure, no allocation, thread-safe;
 * time O(len + parts * max_chars). */
#ifndef VOXCAST_TEXTSPLIT_H
#define VOXCAST_TEXTSPLIT_H

#include <stddef.h>

/* One part: text[off .. off + len). */
struct textpart {
    size_t off;     /* byte offset in the text */
    size_t len;     /* bytes, > 0 */
    size_t chars;   /* code points, 1 .. max_chars */
};

/* Splits text[0..len) into parts of at most max_chars code points each, as described above.
 * Returns how many parts the text makes and writes the first min(that, maxparts) of them to
 * parts (which may be NULL when maxparts is 0): like snprintf, call once to count and again
 * with room. Returns 0 for a text that is empty or only white space, and when max_chars is 0. */
size_t textsplit(const char *text, size_t len, size_t max_chars, struct textpart *parts,
                 size_t maxparts);

#endif
