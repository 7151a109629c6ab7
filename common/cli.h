/* cli.h - the options every voxcast program shares: -c FILE, -X key=value, --version.
 *
 * cli_take_common() pulls them out of argv wherever they appear (so `voxcast -X a=b launch ...`
 * and `voxcast launch ... -X a=b` both work) and leaves the rest for the program's own parser.
 * cli_load_config() then applies the contract's precedence: defaults < file < VOXCAST_* < -X. */
#ifndef VOXCAST_CLI_H
#define VOXCAST_CLI_H

#include <stddef.h>

#include "config.h"

#define CLI_MAX_OVERRIDES 64

struct cli_common {
    const char *config_file;                       /* -c / --config, or NULL */
    const char *overrides[CLI_MAX_OVERRIDES];      /* -X values, in order */
    size_t      noverrides;
};

/* Removes -c/--config FILE and -X k=v (also -Xk=v) from argv, compacting it and updating argc.
 * Returns 0, or -1 with err (missing argument, too many -X). */
int cli_take_common(int *argc, char **argv, struct cli_common *out, char *err, size_t errlen);

/* Builds the effective configuration. Returns a new config or NULL with err naming the file and
 * line, the variable, or the -X at fault. */
struct config *cli_load_config(const struct cli_common *cc, char *err, size_t errlen);

/* Sets the logger from log.level; -1 + err for an unknown level. */
int cli_init_log(const char *program, const struct config *cfg, char *err, size_t errlen);

#endif
