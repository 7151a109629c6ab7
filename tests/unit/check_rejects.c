/* check_rejects.c - the --rejects CSV: RFC 4180 quoting, and fields that a spreadsheet would run
 * as formulas written as text. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "../../producer/rejects.h"

static char path[64];

static char *report(const char *const *ids, size_t n)
{
    snprintf(path, sizeof path, "/tmp/voxcast-rejects-%d.csv", (int)getpid());
    char err[128] = "";
    struct rejects *r = rejects_open(path, err, sizeof err);
    ck_assert_msg(r != NULL, "%s", err);
    for (size_t i = 0; i < n; i++)
        rejects_add(r, (long)i + 2, ids[i], strlen(ids[i]), "empty text");
    ck_assert_int_eq(rejects_close(r), 0);
    FILE *fp = fopen(path, "r");
    static char text[4096];
    size_t len = fread(text, 1, sizeof text - 1, fp);
    text[len] = '\0';
    fclose(fp);
    unlink(path);
    return text;
}

START_TEST(test_quoting)
{
    const char *ids[] = {"c-1", "a,b", "say \"hi\""};
    ck_assert_str_eq(report(ids, 3), "line,contact,reason\r\n2,c-1,empty text\r\n"
                                     "3,\"a,b\",empty text\r\n4,\"say \"\"hi\"\"\",empty text\r\n");
}
END_TEST

START_TEST(test_formulas_written_as_text)
{
    const char *ids[] = {"=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "\tx", "a=b"};
    ck_assert_str_eq(report(ids, 6),
                     "line,contact,reason\r\n"
                     "2,\"'=HYPERLINK(\"\"http://x\"\")\",empty text\r\n"
                     "3,'+1,empty text\r\n4,'-2,empty text\r\n5,'@SUM(A1),empty text\r\n"
                     "6,'\tx,empty text\r\n7,a=b,empty text\r\n");
}
END_TEST

/* A write error is reported, and the FILE is closed all the same (ASan's leak check sees it). */
START_TEST(test_write_error_reported)
{
    char err[128] = "";
    struct rejects *r = rejects_open("/dev/full", err, sizeof err);
    ck_assert_ptr_nonnull(r);
    for (int i = 0; i < 2000; i++)
        rejects_add(r, i, "contact", 7, "a reason long enough to fill stdio's buffer quickly");
    ck_assert_int_eq(rejects_close(r), -1);
    ck_assert_int_eq(rejects_close(NULL), 0);
}
END_TEST

static Suite *rejects_suite(void)
{
    Suite *s = suite_create("rejects");
    TCase *tc = tcase_create("report");
    tcase_add_test(tc, test_quoting);
    tcase_add_test(tc, test_formulas_written_as_text);
    tcase_add_test(tc, test_write_error_reported);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(rejects_suite)
