/* names.h - the audio file name of a contact.
 *
 * The contact id comes from a user's CSV or a Kafka message and may hold anything ("../x", "a/b",
 * spaces, unicode, 300 bytes). The file name derived from it must never leave
 * <output.dir>/<campaign>/, must be the same on every consumer (so a redelivered job finds the
 * file it already wrote), and two different ids must never share a name. The rule:
 *
 *   - an id that matches [A-Za-z0-9._-]{1,128} and is not "." or ".." is its own name:
 *     "c-000123" -> "c-000123";
 *   - any other id (empty, longer than 128 bytes, or holding any other byte) is named
 *     "sha256=" followed by the 64 lowercase hex digits of the SHA-256 of the id's bytes (as
 *     given, no normalisation): "a/b" ->
 *     "sha256=c14cddc033f64b9dea80ea675cf280a015e672516090a5626781153dc68fea11".
 *
 * A plain name never contains '=', so a digest name can never equal a plain one; two digest
 * names are equal only if SHA-256 collides. Neither form contains '/' or NUL, and neither is "."
 * or "..", so the name is always a single path component inside the campaign folder. The
 * extension (".wav", ".mp3") is added by the caller. */
#ifndef VOXCAST_NAMES_H
#define VOXCAST_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#define NAMES_PLAIN_MAX 128          /* longest id used as is */
#define NAMES_DIGEST_PREFIX "sha256="
#define NAMES_MAX 136                /* room for the longest name, either form, plus the NUL */

/* The campaign id rule, shared by every place that checks one (job decoding, launch, the store,
 * dlq commands): 1-64 of [A-Za-z0-9._-], and not "." or "..", because the id is a folder name
 * under output.dir (and an object key prefix): ".." would write one folder above it. */
#define NAMES_CAMPAIGN_MAX 64
bool names_campaign_valid(const char *campaign);

/* True when contact[0..len) is used as its own file name (the first rule above). */
bool names_is_plain(const char *contact, size_t len);

/* Writes the NUL-terminated file name (without extension) of contact[0..len) into out.
 * contact may hold any bytes, including NUL; it may be NULL when len is 0. Cannot fail. */
void names_for_contact(const char *contact, size_t len, char out[NAMES_MAX]);

#endif
