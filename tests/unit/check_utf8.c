/* check_utf8.c - unit tests for utf8.c: validation edge cases, control detection, counting.
 *
 * The validator guards every text that reaches a provider and every file name decision, so the
 * tests walk the boundaries of each byte range rather than a few happy samples. */
#include <string.h>

#include "check_main.h"
#include "utf8.h"

#define V(lit) utf8_valid((lit), sizeof(lit) - 1)

START_TEST(test_valid_basic)
{
    ck_assert(V(""));
    ck_assert(V("hello"));
    ck_assert(V("ma\xc3\xb1" "ana"));                     /* mañana */
    ck_assert(V("\xe2\x82\xac"));                          /* € U+20AC */
    ck_assert(V("\xf0\x9f\x98\x80"));                      /* 😀 U+1F600 */
    ck_assert(V("a\0b"));                                  /* NUL is valid UTF-8 */
}
END_TEST

START_TEST(test_valid_boundaries)
{
    ck_assert(V("\x7f"));                                  /* U+007F */
    ck_assert(V("\xc2\x80"));                              /* U+0080 */
    ck_assert(V("\xdf\xbf"));                              /* U+07FF */
    ck_assert(V("\xe0\xa0\x80"));                          /* U+0800 */
    ck_assert(V("\xed\x9f\xbf"));                          /* U+D7FF */
    ck_assert(V("\xee\x80\x80"));                          /* U+E000 */
    ck_assert(V("\xef\xbf\xbf"));                          /* U+FFFF */
    ck_assert(V("\xf0\x90\x80\x80"));                      /* U+10000 */
    ck_assert(V("\xf4\x8f\xbf\xbf"));                      /* U+10FFFF */
}
END_TEST

START_TEST(test_invalid_overlong)
{
    ck_assert(!V("\xc0\x80"));                             /* overlong NUL */
    ck_assert(!V("\xc1\xbf"));
    ck_assert(!V("\xe0\x80\x80"));
    ck_assert(!V("\xe0\x9f\xbf"));                         /* overlong U+07FF */
    ck_assert(!V("\xf0\x80\x80\x80"));
    ck_assert(!V("\xf0\x8f\xbf\xbf"));                     /* overlong U+FFFF */
}
END_TEST

START_TEST(test_invalid_surrogates_and_range)
{
    ck_assert(!V("\xed\xa0\x80"));                         /* U+D800 */
    ck_assert(!V("\xed\xbf\xbf"));                         /* U+DFFF */
    ck_assert(!V("\xed\xa0\xbd\xed\xb8\x80"));             /* CESU-8 pair */
    ck_assert(!V("\xf4\x90\x80\x80"));                     /* U+110000 */
    ck_assert(!V("\xf5\x80\x80\x80"));
    ck_assert(!V("\xf8\x88\x80\x80\x80"));                 /* 5-byte form */
    ck_assert(!V("\xff"));
    ck_assert(!V("\xfe"));
}
END_TEST

START_TEST(test_invalid_structure)
{
    ck_assert(!V("\x80"));                                 /* lone continuation */
    ck_assert(!V("a\xbf" "b"));
    ck_assert(!V("\xc3"));                                 /* truncated at end */
    ck_assert(!V("\xe2\x82"));
    ck_assert(!V("\xf0\x9f\x98"));
    ck_assert(!V("\xc3" "a"));                             /* continuation missing */
    ck_assert(!V("\xe2\x28\xa1"));
    ck_assert(!V("\xf0\x9f\x28\x80"));
    ck_assert(!V("\xf0\x9f\x98\x28"));
    /* The length is honoured: a sequence cut by len is invalid even if memory goes on. */
    ck_assert(!utf8_valid("\xe2\x82\xac", 2));
    ck_assert(utf8_valid("\xe2\x82\xac", 0));
}
END_TEST

START_TEST(test_has_control)
{
    ck_assert(!utf8_has_control("", 0));
    ck_assert(!utf8_has_control("plain text", 10));
    ck_assert(utf8_has_control("a\nb", 3));
    ck_assert(utf8_has_control("a\tb", 3));
    ck_assert(utf8_has_control("a\0b", 3));
    ck_assert(utf8_has_control("\x1f", 1));
    ck_assert(utf8_has_control("\x7f", 1));
    ck_assert(utf8_has_control("x\xc2\x85", 3));           /* U+0085 NEL */
    ck_assert(utf8_has_control("\xc2\x80", 2));            /* U+0080 */
    ck_assert(utf8_has_control("\xc2\x9f", 2));            /* U+009F */
    ck_assert(!utf8_has_control("\xc2\xa0", 2));           /* U+00A0 NBSP is not a control */
    ck_assert(!utf8_has_control(" ~", 2));
    ck_assert(!utf8_has_control("\xe2\x80\xa8", 3));       /* U+2028 is a separator, not Cc */
}
END_TEST

START_TEST(test_count)
{
    ck_assert_uint_eq(utf8_count("", 0), 0);
    ck_assert_uint_eq(utf8_count("abc", 3), 3);
    ck_assert_uint_eq(utf8_count("ma\xc3\xb1" "ana", 7), 6);
    ck_assert_uint_eq(utf8_count("\xe2\x82\xac\xf0\x9f\x98\x80", 7), 2);
    ck_assert_uint_eq(utf8_count("a\0b", 3), 3);
}
END_TEST

static Suite *utf8_suite(void)
{
    Suite *s = suite_create("utf8");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_valid_basic);
    tcase_add_test(tc, test_valid_boundaries);
    tcase_add_test(tc, test_invalid_overlong);
    tcase_add_test(tc, test_invalid_surrogates_and_range);
    tcase_add_test(tc, test_invalid_structure);
    tcase_add_test(tc, test_has_control);
    tcase_add_test(tc, test_count);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(utf8_suite)
