/* check_xalloc.c - the allocation policy: an allocation that cannot succeed prints one line
 * naming its size on stderr and aborts; xstrndup cuts at n bytes and always terminates. */
#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "xalloc.h"

#define IMPOSSIBLE (SIZE_MAX / 2)   /* more than any address space can hold */

/* AddressSanitizer (make test SANITIZE=1) reports an impossible malloc itself instead of
 * returning NULL; let it return NULL so that xalloc's own handling is what is tested. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

static void impossible_malloc(void)
{
    free(xmalloc(IMPOSSIBLE));
}

static void impossible_calloc(void)
{
    free(xcalloc(IMPOSSIBLE, 4));   /* the product wraps: reported as SIZE_MAX */
}

static void impossible_realloc(void)
{
    free(xrealloc(xmalloc(16), IMPOSSIBLE));
}

/* Runs fn in a child whose stderr is a pipe; checks that it died of SIGABRT after writing
 * the out-of-memory line for n bytes. */
static void expect_oom_abort(void (*fn)(void), size_t n)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        fn();
        _exit(0);   /* not reached when the policy holds */
    }
    close(fds[1]);
    char got[256] = {0};
    size_t len = 0;
    ssize_t r;
    while (len < sizeof got - 1 && (r = read(fds[0], got + len, sizeof got - 1 - len)) > 0)
        len += (size_t)r;
    close(fds[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "status %d", status);
    char want[96];
    snprintf(want, sizeof want, "voxcast: out of memory allocating %zu bytes\n", n);
    size_t wl = strlen(want);   /* a sanitizer's allocator may warn first: ours is the end */
    ck_assert_msg(len >= wl && strcmp(got + len - wl, want) == 0, "stderr: %s", got);
}

START_TEST(test_impossible_malloc_aborts)
{
    impossible_malloc();   /* the runner expects SIGABRT */
}
END_TEST

START_TEST(test_oom_message)
{
    expect_oom_abort(impossible_malloc, IMPOSSIBLE);
    expect_oom_abort(impossible_calloc, SIZE_MAX);
    expect_oom_abort(impossible_realloc, IMPOSSIBLE);
}
END_TEST

START_TEST(test_zero_bytes)
{
    void *p = xmalloc(0), *q = xcalloc(0, 8); /* never NULL: NULL would read as a failure */
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(q);
    p = xrealloc(p, 0);
    ck_assert_ptr_nonnull(p);
    free(p);
    free(q);
}
END_TEST

START_TEST(test_strndup_cuts_and_terminates)
{
    char *s = xstrndup("hello", 3);
    ck_assert_str_eq(s, "hel");
    free(s);
    s = xstrndup("hi", 10);        /* shorter than n: the whole string, not n bytes */
    ck_assert_str_eq(s, "hi");
    free(s);
    s = xstrndup("a\0b", 3);       /* stops at a NUL within n */
    ck_assert_str_eq(s, "a");
    free(s);
    s = xstrndup("abc", 0);
    ck_assert_str_eq(s, "");
    free(s);
    const char src[] = "copy";
    s = xstrdup(src);
    ck_assert_str_eq(s, src);
    ck_assert_ptr_ne(s, src);
    free(s);
}
END_TEST

static Suite *xalloc_suite(void)
{
    Suite *s = suite_create("xalloc");
    TCase *tc = tcase_create("core");
    tcase_add_test_raise_signal(tc, test_impossible_malloc_aborts, SIGABRT);
    tcase_add_test(tc, test_oom_message);
    tcase_add_test(tc, test_zero_bytes);
    tcase_add_test(tc, test_strndup_cuts_and_terminates);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(xalloc_suite)
