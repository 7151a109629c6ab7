/* voicemap.h - a provider's translation of the campaign's logical voice and model names.
 *
 * A job names a *logical* voice ("alloy", from `launch --voice`) and optionally a logical model.
 * Providers do not share a vocabulary: OpenAI speaks "alloy", ElevenLabs speaks voice ids such as
 * "21m00Tcm4TlvDq8ikWAM", Kokoro speaks "af_bella". So each provider carries a map,
 * `provider.NAME.voices` / `provider.NAME.models`, written
 *
 *     LOGICAL=PROVIDER, LOGICAL=PROVIDER
 *
 * Blanks around names are ignored; a name is any run of characters other than ',' and '='
 * without control characters. An entry with no '=', a second '=', an empty side, an empty entry
 * (",," or a trailing ',') or a logical name given twice makes the whole map malformed: a map is
 * configuration, read once at start, so it is better refused than half used.
 *
 * Resolution (the one rule shared by the consumer and `launch`'s warnings): for logical name V on
 * a provider, the map's entry for V; else the provider's own default (`provider.NAME.voice` /
 * `.model`) when set, so a foreign name is never sent; else V itself, for a provider that declares
 * neither (it speaks the campaign's names: the single-provider setup); else the caller's type
 * default. This module does no I/O and keeps no state. */
#ifndef VOXCAST_VOICEMAP_H
#define VOXCAST_VOICEMAP_H

#include <stddef.h>

/* Looks `logical` up in `map`. Returns 1 and copies the provider's name into out (NUL-terminated)
 * when logical has an entry; 0 when it has none, or map is NULL or blank, or logical is NULL or
 * empty; -1 when the map is malformed (see voicemap_check) or the value does not fit in outlen.
 * out is untouched unless 1 is returned. */
int voicemap_lookup(const char *map, const char *logical, char *out, size_t outlen);

/* Checks a map's syntax. 0 (a NULL or blank map is valid and empty), or -1 with err naming the
 * bad entry, counted from 1: `entry 2 "alloy" has no '='`. */
int voicemap_check(const char *map, char *err, size_t errlen);

/* Where a resolved name came from. */
enum voicemap_source {
    VOICEMAP_MAPPED,    /* the map's entry for the logical name */
    VOICEMAP_DEFAULT,   /* the provider's own default: logical had no entry (or was empty) */
    VOICEMAP_LOGICAL,   /* the logical name itself: the provider declares no map and no default */
    VOICEMAP_TYPE,      /* type_default: nothing else applied */
    VOICEMAP_NONE       /* nothing applied and type_default is NULL: out is "" */
};

/* Applies the resolution rule above: map (may be NULL), the provider's default `deflt` (NULL or
 * "" = none), the job's `logical` name (NULL or "" = none) and the type's `type_default` (may be
 * NULL). A provider that declares a map but has no entry for V and no default gets the type
 * default, never V: declaring a map says "these are my names". Copies the result into out and
 * returns its source, or -1 when the map is malformed or the result does not fit. */
int voicemap_resolve(const char *map, const char *deflt, const char *logical,
                     const char *type_default, char *out, size_t outlen);

#endif
