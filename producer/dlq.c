/* dlq.c - `voxcast dlq`: placeholder until the dead-letter commands land. */
#include "cmd.h"

int cmd_dlq(int argc, char **argv, const struct config *cfg)
{
    (void)argc;
    (void)argv;
    (void)cfg;
    cmd_error("dlq: not implemented yet");
    return EXIT_USAGE;
}
