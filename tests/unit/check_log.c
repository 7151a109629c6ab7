/* check_log.c - secret redaction: whole keys, JSON-escaped keys, keys cut short, NUL bytes. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "log.h"

/* Check forks per test, so secrets registered in one test do not leak into another. */
static char *redacted(const char *text)
{
    return log_redact(text);
}

START_TEST(test_whole_key)
{
    log_add_secret("sk-live-0123456789abcdef");
    char *r = redacted("401: invalid key sk-live-0123456789abcdef given");
    ck_assert_str_eq(r, "401: invalid key [REDACTED] given");
    free(r);
}
END_TEST

/* A provider body cut to 200 bytes can end inside the key: what is left must not leak. */
START_TEST(test_prefix_left_by_a_cut)
{
    log_add_secret("sk-live-0123456789abcdef");
    char *r = redacted("{\"error\":\"Incorrect API key provided: sk-live-01234");
    ck_assert_str_eq(r, "{\"error\":\"Incorrect API key provided: [REDACTED]");
    free(r);
    r = redacted("key sk-live-0123…(cut) more");
    ck_assert_str_eq(r, "key [REDACTED]…(cut) more");
    free(r);
    /* seven bytes of it is not enough to be a key's remains: left alone */
    r = redacted("the prefix sk-live is fine");
    ck_assert_str_eq(r, "the prefix sk-live is fine");
    free(r);
}
END_TEST

START_TEST(test_short_secret_whole_only)
{
    log_add_secret("hunter2");   /* under 8 bytes: only the whole secret */
    char *r = redacted("password hunter2, hunter");
    ck_assert_str_eq(r, "password [REDACTED], hunter");
    free(r);
}
END_TEST

/* The logger writes values JSON-escaped: a key holding a quote or backslash is still found. */
START_TEST(test_json_escaped_form)
{
    log_add_secret("pa\"ss\\word-42");
    char *r = redacted("url redis://:pa\\\"ss\\\\word-42@host");
    ck_assert_ptr_null(strstr(r, "word-42"));
    ck_assert_ptr_nonnull(strstr(r, "[REDACTED]"));
    free(r);
}
END_TEST

START_TEST(test_nul_inside_text)
{
    log_add_secret("sk-live-0123456789abcdef");
    const char body[] = "a\0b sk-live-0123456789abcdef";
    char *r = log_redact_mem(body, sizeof body - 1);
    ck_assert_int_eq(memcmp(r, "a\0b [REDACTED]", 14), 0);
    free(r);
}
END_TEST

START_TEST(test_null_and_tiny_ignored)
{
    log_add_secret(NULL);
    log_add_secret("ab");
    char *r = redacted("ab cd");
    ck_assert_str_eq(r, "ab cd");
    free(r);
}
END_TEST

static Suite *log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("redaction");
    tcase_add_test(tc, test_whole_key);
    tcase_add_test(tc, test_prefix_left_by_a_cut);
    tcase_add_test(tc, test_short_secret_whole_only);
    tcase_add_test(tc, test_json_escaped_form);
    tcase_add_test(tc, test_nul_inside_text);
    tcase_add_test(tc, test_null_and_tiny_ignored);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(log_suite)
