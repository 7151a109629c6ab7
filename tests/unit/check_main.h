/* check_main.h - the one runner every Check unit binary shares.
 *
 * Each tests/unit/check_<module>.c builds a Suite and ends with
 *     CHECK_MAIN(module_suite)
 * The runner forks per test (CK_FORK default) so one crash fails one test, not the binary. */
#ifndef VOXCAST_CHECK_MAIN_H
#define VOXCAST_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

#define CHECK_MAIN(suite_fn)                                   \
    int main(void)                                             \
    {                                                          \
        SRunner *runner = srunner_create(suite_fn());          \
        srunner_run_all(runner, CK_NORMAL);                    \
        int failed = srunner_ntests_failed(runner);            \
        srunner_free(runner);                                  \
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;      \
    }

#endif
