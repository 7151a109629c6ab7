/* provider_types.c - the list of provider types, the one place that names them all.
 *
 * provider.c finds a type here by its provider.NAME.type value and drives it through its
 * struct provider_ops alone; a new type is one more provider_*.c file and one line here. */
#include "provider_ops.h"

const struct provider_ops *const provider_types[PROVIDER_NTYPES] = {
    [PROVIDER_OPENAI] = &provider_openai_ops,
    [PROVIDER_ELEVENLABS] = &provider_elevenlabs_ops,
    [PROVIDER_ESPEAK] = &provider_espeak_ops,
};
