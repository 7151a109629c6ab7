/* voicecheck.h - what each provider of the consumers' chain makes of a campaign's voice and model.
 *
 * `launch --voice V` and `--model M` name *logical* values that every provider translates on its
 * own (common/voicemap.h; docs/contract.md, "Voices belong to providers"). When launch is given the
 * consumers' configuration (-c, -X, VOXCAST_*), it says before enqueueing, one line per provider
 * of the `providers` chain, what V and M become there, and warns where the campaign's choice is
 * lost: no entry in the provider's map (it speaks with its own default), or a provider with
 * neither map nor default in a chain of several (the logical name is sent as it is to a provider
 * type that may not know it). Nothing here fails a launch for an unmapped name; a malformed map,
 * or an elevenlabs provider without provider.NAME.voice (which no consumer would start with), is
 * a configuration error naming the key. No I/O: lines go to a callback. */
#ifndef VOXCAST_VOICECHECK_H
#define VOXCAST_VOICECHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

enum voicecheck_level {
    VOICECHECK_INFO,   /* where the name goes: "provider.a renders voice 'alloy' as 'nova'" */
    VOICECHECK_WARN    /* the campaign's choice is lost, or may be, on that provider */
};

/* Receives one line, without a trailing newline or a program prefix. */
typedef void (*voicecheck_say_fn)(void *ctx, enum voicecheck_level level, const char *line);

/* True when cfg says anything about the provider chain: `providers` is not the default, or a
 * provider of the chain has a type, voice, voices, model or models set. With the defaults alone
 * launch cannot know the consumers' chain, and says nothing. */
bool voicecheck_configured(const struct config *cfg);

/* Checks the voices and models maps of every provider of cfg's chain (and that an elevenlabs
 * provider has a voice), then says for each provider what voice (when non-NULL) and model (when
 * non-NULL) become there. Returns 0, or -1 having said nothing, with err naming the key at fault
 * ("provider.b.voices: entry 2 \"alloy\" has no '=' (want LOGICAL=PROVIDER, ...)"). */
int voicecheck_run(const struct config *cfg, const char *voice, const char *model,
                   voicecheck_say_fn say, void *ctx, char *err, size_t errlen);

#endif
