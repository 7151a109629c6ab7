/* check_voicemap.c - the LOGICAL=PROVIDER map syntax (accepted, refused, and the message saying
 * which entry is at fault) and the resolution rule every provider and `launch` share. */
#include "check_main.h"

#include <string.h>

#include "voicemap.h"

static const char *lookup(const char *map, const char *logical, int want_rc)
{
    static char out[64];
    strcpy(out, "untouched");
    ck_assert_int_eq(voicemap_lookup(map, logical, out, sizeof out), want_rc);
    return out;
}

START_TEST(test_lookup)
{
    const char *map = "alloy=21m00Tcm4TlvDq8ikWAM, nova = EXAVITQu4vr4xnSDxMaL ,\techo=af_bella+af_sky";
    ck_assert_str_eq(lookup(map, "alloy", 1), "21m00Tcm4TlvDq8ikWAM");
    ck_assert_str_eq(lookup(map, "nova", 1), "EXAVITQu4vr4xnSDxMaL");   /* blanks trimmed */
    ck_assert_str_eq(lookup(map, "echo", 1), "af_bella+af_sky");
    ck_assert_str_eq(lookup(map, "Alloy", 0), "untouched");             /* names are exact */
    ck_assert_str_eq(lookup(map, "shimmer", 0), "untouched");
    ck_assert_str_eq(lookup(map, "", 0), "untouched");
    ck_assert_str_eq(lookup(map, NULL, 0), "untouched");
    ck_assert_str_eq(lookup(NULL, "alloy", 0), "untouched");
    ck_assert_str_eq(lookup("", "alloy", 0), "untouched");
    ck_assert_str_eq(lookup("  \t ", "alloy", 0), "untouched");
    ck_assert_str_eq(lookup("a=b", "a", 1), "b");
    /* the value must fit */
    char small[4];
    ck_assert_int_eq(voicemap_lookup("a=abcd", "a", small, sizeof small), -1);
    ck_assert_int_eq(voicemap_lookup("a=abc", "a", small, sizeof small), 1);
    ck_assert_str_eq(small, "abc");
    /* a malformed map answers for no entry, not even the good ones before the fault */
    ck_assert_str_eq(lookup("alloy=x, nova", "alloy", -1), "untouched");
}
END_TEST

static const char *check_err(const char *map)
{
    static char err[128];
    err[0] = '\0';
    ck_assert_int_eq(voicemap_check(map, err, sizeof err), -1);
    return err;
}

START_TEST(test_check)
{
    char err[128] = "";
    ck_assert_int_eq(voicemap_check(NULL, err, sizeof err), 0);
    ck_assert_int_eq(voicemap_check("", err, sizeof err), 0);
    ck_assert_int_eq(voicemap_check(" a = b , c=d ", err, sizeof err), 0);
    ck_assert_str_eq(err, "");
    ck_assert_str_eq(check_err("a=b, alloy"), "entry 2 \"alloy\" has no '='");
    ck_assert_str_eq(check_err("a=b=c"), "entry 1 \"a=b=c\" has more than one '='");
    ck_assert_str_eq(check_err(" =b"), "entry 1 \"=b\" has no logical name before '='");
    ck_assert_str_eq(check_err("a= "), "entry 1 \"a=\" has no provider name after '='");
    ck_assert_str_eq(check_err("a=b,,c=d"), "entry 2 is empty");
    ck_assert_str_eq(check_err("a=b,"), "entry 2 is empty");
    ck_assert_str_eq(check_err("a=b\n"), "entry 1 has a control character");
    ck_assert_str_eq(check_err("a=b, c=d, a=e"), "entry 3 \"a=e\" repeats the logical name of entry 1");
    ck_assert_int_eq(voicemap_check("a", NULL, 0), -1);   /* no err buffer: still -1 */
}
END_TEST

static const char *resolve(const char *map, const char *deflt, const char *logical,
                           const char *type_default, int want)
{
    static char out[64];
    ck_assert_int_eq(voicemap_resolve(map, deflt, logical, type_default, out, sizeof out), want);
    return out;
}

START_TEST(test_resolve)
{
    const char *map = "alloy=21m00Tcm4TlvDq8ikWAM";
    /* the map's entry first */
    ck_assert_str_eq(resolve(map, "EXAV", "alloy", "T", VOICEMAP_MAPPED), "21m00Tcm4TlvDq8ikWAM");
    /* no entry: the provider's own default, never the logical name */
    ck_assert_str_eq(resolve(map, "EXAV", "nova", "T", VOICEMAP_DEFAULT), "EXAV");
    ck_assert_str_eq(resolve(NULL, "EXAV", "nova", "T", VOICEMAP_DEFAULT), "EXAV");
    ck_assert_str_eq(resolve(NULL, "EXAV", NULL, "T", VOICEMAP_DEFAULT), "EXAV");
    /* neither map nor default: the provider speaks the campaign's names */
    ck_assert_str_eq(resolve(NULL, NULL, "nova", "T", VOICEMAP_LOGICAL), "nova");
    ck_assert_str_eq(resolve("", "", "nova", "T", VOICEMAP_LOGICAL), "nova");
    /* a map without the entry and no default: the type's default, not the foreign name */
    ck_assert_str_eq(resolve(map, NULL, "nova", "T", VOICEMAP_TYPE), "T");
    ck_assert_str_eq(resolve(NULL, NULL, NULL, "T", VOICEMAP_TYPE), "T");
    ck_assert_str_eq(resolve(NULL, NULL, "", "T", VOICEMAP_TYPE), "T");
    ck_assert_str_eq(resolve(map, NULL, "nova", NULL, VOICEMAP_NONE), "");
    /* a malformed map, or a result that does not fit */
    ck_assert_int_eq(voicemap_resolve("x", "d", "alloy", "T", (char[8]){0}, 8), -1);
    ck_assert_int_eq(voicemap_resolve(NULL, "0123456789", "alloy", "T", (char[8]){0}, 8), -1);
}
END_TEST

static Suite *voicemap_suite(void)
{
    Suite *s = suite_create("voicemap");
    TCase *tc = tcase_create("map");
    tcase_add_test(tc, test_lookup);
    tcase_add_test(tc, test_check);
    tcase_add_test(tc, test_resolve);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(voicemap_suite)
