/* voicecheck.c - the chain's view of a campaign's voice and model; see voicecheck.h. */
#include "voicecheck.h"

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "voicemap.h"

#define NAME_MAX_LEN 128

/* One kind of logical name: the voice or the model, and the words that go with it. */
struct kind {
    const char *noun;    /* "voice" */
    const char *map;     /* the provider field of the map: "voices" */
    const char *deflt;   /* the provider field of its own default: "voice" */
    const char *verb;    /* what the provider does with its default: "speak with" */
};

static const struct kind VOICE = {"voice", "voices", "voice", "speak with"};
static const struct kind MODEL = {"model", "models", "model", "use"};

static bool blank(const char *s)
{
    return !s || !s[strspn(s, " \t")];
}

/* Calls fn(ctx, name) for each provider of the chain, blanks around names trimmed (as the
 * consumer reads it); stops at the first non-zero result. Empty names are the consumer's to
 * refuse. */
static int each_provider(const struct config *cfg, int (*fn)(void *ctx, const char *name), void *ctx)
{
    const char *p = config_get(cfg, "providers");
    while (p && *p) {
        const char *comma = strchr(p, ','), *end = comma ? comma : p + strlen(p);
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        const char *e = end;
        while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        char name[NAME_MAX_LEN];
        if (e > p && (size_t)(e - p) < sizeof name) {
            memcpy(name, p, (size_t)(e - p));
            name[e - p] = '\0';
            int rc = fn(ctx, name);
            if (rc)
                return rc;
        }
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

static int count_one(void *ctx, const char *name)
{
    (void)name;
    (*(size_t *)ctx)++;
    return 0;
}

struct configured {
    const struct config *cfg;
};

static int provider_configured(void *ctx, const char *name)
{
    const struct configured *c = ctx;
    static const char *const fields[] = {"type", "voice", "voices", "model", "models"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (!blank(config_provider(c->cfg, name, fields[i])))
            return 1;
    return 0;
}

bool voicecheck_configured(const struct config *cfg)
{
    struct config *defaults = config_new();
    bool set = strcmp(config_get(cfg, "providers"), config_get(defaults, "providers")) != 0;
    config_free(defaults);
    struct configured c = {cfg};
    return set || each_provider(cfg, provider_configured, &c) != 0;
}

struct run {
    const struct config *cfg;
    const char          *voice, *model;
    size_t               nproviders;
    voicecheck_say_fn    say;
    void                *ctx;
    char                *err;
    size_t               errlen;
    struct buf           line;
};

static void say(struct run *r, enum voicecheck_level level)
{
    r->say(r->ctx, level, r->line.data ? r->line.data : "");
    buf_reset(&r->line);
}

/* The map of kind k on provider `name` must parse, whether or not this campaign uses it: a
 * consumer would refuse to start with it. */
static int check_map(struct run *r, const char *name, const struct kind *k)
{
    char why[200];
    if (voicemap_check(config_provider(r->cfg, name, k->map), why, sizeof why) == 0)
        return 0;
    snprintf(r->err, r->errlen, "provider.%s.%s: %s (want LOGICAL=PROVIDER, ...)", name, k->map, why);
    return -1;
}

/* One line: what the logical name becomes on provider `name`. */
static int explain(struct run *r, const char *name, const struct kind *k, const char *logical)
{
    const char *map = config_provider(r->cfg, name, k->map);
    const char *own = config_provider(r->cfg, name, k->deflt);
    char out[1024];
    int src = voicemap_resolve(map, blank(own) ? NULL : own, logical, NULL, out, sizeof out);
    struct buf *b = &r->line;
    switch (src) {
    case VOICEMAP_MAPPED:
        buf_printf(b, "provider.%s renders %s '%s' as '%s'", name, k->noun, logical, out);
        say(r, VOICECHECK_INFO);
        return 0;
    case VOICEMAP_DEFAULT:
        buf_printf(b, "provider.%s has no mapping for %s '%s' in provider.%s.%s; it will %s its own %s '%s'",
                   name, k->noun, logical, name, k->map, k->verb, k->noun, out);
        say(r, VOICECHECK_WARN);
        return 0;
    case VOICEMAP_LOGICAL:
        if (r->nproviders == 1) {
            buf_printf(b, "provider.%s renders %s '%s' as it is (no provider.%s.%s or .%s)", name,
                       k->noun, logical, name, k->map, k->deflt);
            say(r, VOICECHECK_INFO);
        } else {
            buf_printf(b, "provider.%s has neither provider.%s.%s nor provider.%s.%s; it will be sent "
                       "%s '%s' as it is, which in a chain of several providers is likely another "
                       "type's name (map it, or give it its own %s)", name, name, k->map, name,
                       k->deflt, k->noun, logical, k->noun);
            say(r, VOICECHECK_WARN);
        }
        return 0;
    case VOICEMAP_TYPE:
    case VOICEMAP_NONE:
        buf_printf(b, "provider.%s has no mapping for %s '%s' in provider.%s.%s and no provider.%s.%s; "
                   "it will %s its type's default %s", name, k->noun, logical, name, k->map, name,
                   k->deflt, k->verb, k->noun);
        say(r, VOICECHECK_WARN);
        return 0;
    default: /* the map was checked: only a name longer than out gets here; say nothing */
        return 0;
    }
}

/* A type whose voices are per account cannot fall back on the logical name (the consumer's rule). */
static int check_required_voice(struct run *r, const char *name)
{
    if (strcmp(config_provider(r->cfg, name, "type"), "elevenlabs") != 0 ||
        !blank(config_provider(r->cfg, name, "voice")))
        return 0;
    snprintf(r->err, r->errlen,
             "provider.%s.voice: required for type elevenlabs (the voice id used for logical voices "
             "without an entry in provider.%s.voices)", name, name);
    return -1;
}

/* The keys no consumer would start without, checked on every provider before anything is said. */
static int check_keys(void *ctx, const char *name)
{
    struct run *r = ctx;
    return check_map(r, name, &VOICE) || check_map(r, name, &MODEL) || check_required_voice(r, name);
}

static int explain_provider(void *ctx, const char *name)
{
    struct run *r = ctx;
    if (r->voice && explain(r, name, &VOICE, r->voice))
        return -1;
    if (r->model && explain(r, name, &MODEL, r->model))
        return -1;
    return 0;
}

int voicecheck_run(const struct config *cfg, const char *voice, const char *model,
                   voicecheck_say_fn say_fn, void *ctx, char *err, size_t errlen)
{
    struct run r = {.cfg = cfg, .voice = voice, .model = model, .say = say_fn, .ctx = ctx,
                    .err = err, .errlen = errlen};
    each_provider(cfg, count_one, &r.nproviders);
    int rc = each_provider(cfg, check_keys, &r);
    if (rc == 0)
        rc = each_provider(cfg, explain_provider, &r);
    buf_free(&r.line);
    return rc ? -1 : 0;
}
