/* cli.c - shared option handling; see cli.h. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

extern char **environ;

static int take_value(int *i, int argc, char **argv, const char **out, char *err, size_t errlen)
{
    if (*i + 1 >= argc) {
        snprintf(err, errlen, "option %s needs a value", argv[*i]);
        return -1;
    }
    *out = argv[++*i];
    return 0;
}

int cli_take_common(int *argc, char **argv, struct cli_common *out, char *err, size_t errlen)
{
    int kept = 1;
    memset(out, 0, sizeof *out);
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (strcmp(a, "--") == 0) {
            while (i < *argc)
                argv[kept++] = argv[i++];
            break;
        }
        if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
            if (take_value(&i, *argc, argv, &out->config_file, err, errlen))
                return -1;
            continue;
        }
        if (strcmp(a, "-X") == 0) {
            if (take_value(&i, *argc, argv, &v, err, errlen))
                return -1;
        } else if (strncmp(a, "-X", 2) == 0) {
            v = a + 2;
        } else {
            argv[kept++] = argv[i];
            continue;
        }
        if (out->noverrides == CLI_MAX_OVERRIDES) {
            snprintf(err, errlen, "too many -X options (at most %d)", CLI_MAX_OVERRIDES);
            return -1;
        }
        out->overrides[out->noverrides++] = v;
    }
    argv[kept] = NULL;
    *argc = kept;
    return 0;
}

struct config *cli_load_config(const struct cli_common *cc, char *err, size_t errlen)
{
    struct config *cfg = config_new();
    if (cc->config_file && config_load_file(cfg, cc->config_file, err, errlen) != 0)
        goto fail;
    if (config_load_env(cfg, environ, err, errlen) != 0)
        goto fail;
    for (size_t i = 0; i < cc->noverrides; i++)
        if (config_set_arg(cfg, cc->overrides[i], "-X", err, errlen) != 0)
            goto fail;
    return cfg;
fail:
    config_free(cfg);
    return NULL;
}

int cli_init_log(const char *program, const struct config *cfg, char *err, size_t errlen)
{
    enum log_level level;
    const char *name = config_get(cfg, "log.level");
    if (log_level_parse(name, &level) != 0) {
        snprintf(err, errlen, "log.level: unknown level \"%s\" (debug, info, warn, error)", name);
        return -1;
    }
    log_init(program, level);
    return 0;
}
