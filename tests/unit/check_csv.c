/* check_csv.c - unit tests for csv.c: the RFC 4180 dialect, line numbering, errors and resync.
 *
 * Every input is written to a tmpfile() so the reader sees a real stdio stream, including the
 * empty one; a long-input test crosses the reader's 64 KiB buffer boundary at every offset class
 * that matters (inside quotes, inside a CRLF, inside the BOM check). */
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "csv.h"

static FILE *fp;
static struct csv_reader *rd;
static struct csv_record rec;

static void open_mem(const char *data, size_t len)
{
    fp = tmpfile();
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(data, 1, len, fp), len);
    rewind(fp);
    rd = csv_open(fp);
    ck_assert_ptr_nonnull(rd);
}

#define OPEN(lit) open_mem((lit), sizeof(lit) - 1)

static void teardown(void)
{
    csv_free(rd);
    rd = NULL;
    if (fp)
        fclose(fp);
    fp = NULL;
}

/* Next record must have the given line and fields (NULL-terminated list). */
static void expect(long line, const char *const *want)
{
    ck_assert_int_eq(csv_next(rd, &rec), 1);
    ck_assert_int_eq(rec.line, line);
    size_t n = 0;
    while (want[n])
        n++;
    ck_assert_uint_eq(rec.nfields, n);
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(rec.lens[i], strlen(want[i]));
        ck_assert_str_eq(rec.fields[i], want[i]);
    }
}

#define EXPECT(line, ...) expect((line), (const char *const[]){__VA_ARGS__, NULL})

static void expect_error(long line, const char *msg)
{
    ck_assert_int_eq(csv_next(rd, &rec), -1);
    ck_assert_str_eq(csv_error(rd), msg);
    ck_assert_int_eq(csv_error_line(rd), line);
}

static void expect_end(void)
{
    ck_assert_int_eq(csv_next(rd, &rec), 0);
    ck_assert_int_eq(csv_next(rd, &rec), 0); /* and it stays at the end */
}

START_TEST(test_simple)
{
    OPEN("id,name\n1,Ana\n2,Bo\n");
    ck_assert_str_eq(csv_error(rd), "");
    ck_assert_int_eq(csv_error_line(rd), 0);
    EXPECT(1, "id", "name");
    EXPECT(2, "1", "Ana");
    EXPECT(3, "2", "Bo");
    expect_end();
}
END_TEST

START_TEST(test_no_trailing_newline)
{
    OPEN("a,b\nc,d");
    EXPECT(1, "a", "b");
    EXPECT(2, "c", "d");
    expect_end();
}
END_TEST

START_TEST(test_empty_inputs)
{
    OPEN("");
    expect_end();
    teardown();
    OPEN("\xEF\xBB\xBF");
    expect_end();
    teardown();
    OPEN("\n\r\n\r\n");
    expect_end();
}
END_TEST

START_TEST(test_line_endings)
{
    OPEN("a,b\r\nc,d\re,f\ng\r\n");
    EXPECT(1, "a", "b");
    EXPECT(2, "c", "d");
    EXPECT(3, "e", "f");
    EXPECT(4, "g");
    expect_end();
}
END_TEST

START_TEST(test_bom)
{
    OPEN("\xEF\xBB\xBFid,x\n1,\xEF\xBB\xBF\n");
    EXPECT(1, "id", "x");
    EXPECT(2, "1", "\xEF\xBB\xBF"); /* only a BOM at the very start is dropped */
    expect_end();
    teardown();
    OPEN("\xEF\xBB" "x\n"); /* a partial BOM is data */
    EXPECT(1, "\xEF\xBB" "x");
    expect_end();
}
END_TEST

START_TEST(test_quoted)
{
    OPEN("\"a,b\",\"say \"\"hi\"\"\",\"\"\n"
         "\"two\nlines\",x\n"
         "\"crlf\r\ninside\",\"cr\ronly\"\r\n"
         "last,\"q\"\n");
    EXPECT(1, "a,b", "say \"hi\"", "");
    EXPECT(2, "two\nlines", "x");
    EXPECT(4, "crlf\r\ninside", "cr\ronly");
    EXPECT(7, "last", "q");
    expect_end();
}
END_TEST

START_TEST(test_quoted_at_eof)
{
    OPEN("\"a\"");
    EXPECT(1, "a");
    expect_end();
    teardown();
    OPEN("x,\"\"");
    EXPECT(1, "x", "");
    expect_end();
}
END_TEST

START_TEST(test_empty_fields)
{
    OPEN(",,\na,\n,b\n\"\"\n \n");
    EXPECT(1, "", "", "");
    EXPECT(2, "a", "");
    EXPECT(3, "", "b");
    EXPECT(4, "");
    EXPECT(5, " "); /* spaces are data, and a line of spaces is a record */
    expect_end();
}
END_TEST

START_TEST(test_blank_lines_and_numbering)
{
    OPEN("\n\nh\n\r\n\n\"x\n\ny\"\n\rz\r\n\r\n");
    EXPECT(3, "h");
    EXPECT(6, "x\n\ny");
    EXPECT(10, "z");
    expect_end();
}
END_TEST

START_TEST(test_varying_field_counts)
{
    OPEN("a,b,c\nd\ne,f,g,h\n");
    EXPECT(1, "a", "b", "c");
    EXPECT(2, "d");
    EXPECT(3, "e", "f", "g", "h");
    expect_end();
}
END_TEST

START_TEST(test_nul_and_utf8_bytes)
{
    OPEN("a\0b,\xC3\xA9\xFF\n");
    ck_assert_int_eq(csv_next(rd, &rec), 1);
    ck_assert_uint_eq(rec.nfields, 2);
    ck_assert_uint_eq(rec.lens[0], 3);
    ck_assert_mem_eq(rec.fields[0], "a\0b", 4); /* NUL inside, NUL terminator after */
    ck_assert_str_eq(rec.fields[1], "\xC3\xA9\xFF");
    expect_end();
}
END_TEST

START_TEST(test_stray_quote_resyncs)
{
    OPEN("ok,1\nab\"c,2\nnext,3\n");
    EXPECT(1, "ok", "1");
    expect_error(2, "stray quote in unquoted field");
    EXPECT(3, "next", "3");
    expect_end();
}
END_TEST

START_TEST(test_after_closing_quote)
{
    OPEN("\"multi\nline\"x,rest\r\nnext\n");
    expect_error(2, "unexpected character after closing quote");
    EXPECT(3, "next");
    expect_end();
    teardown();
    OPEN("\"a\" ,b\n");
    expect_error(1, "unexpected character after closing quote");
    expect_end();
}
END_TEST

START_TEST(test_unterminated_quote)
{
    OPEN("h\n\nx,\"open\nmore\nstuff");
    EXPECT(1, "h");
    expect_error(3, "unterminated quoted field");
    expect_end();
}
END_TEST

START_TEST(test_error_at_last_line)
{
    OPEN("a\"b");
    expect_error(1, "stray quote in unquoted field");
    expect_end();
}
END_TEST

static char *repeat(char ch, size_t n)
{
    char *s = malloc(n + 1);
    ck_assert_ptr_nonnull(s);
    memset(s, ch, n);
    s[n] = '\0';
    return s;
}

START_TEST(test_record_limit)
{
    struct { size_t n; int ok; } cases[] = {{CSV_MAX_RECORD, 1}, {CSV_MAX_RECORD + 1, 0}};
    for (size_t k = 0; k < 2; k++) {
        char *big = repeat('x', cases[k].n);
        size_t blen = cases[k].n;
        char *in = malloc(blen + 32);
        ck_assert_ptr_nonnull(in);
        int n = snprintf(in, blen + 32, "a\n%s\r\nb\n", big);
        open_mem(in, (size_t)n);
        EXPECT(1, "a");
        if (cases[k].ok) {
            ck_assert_int_eq(csv_next(rd, &rec), 1);
            ck_assert_uint_eq(rec.lens[0], CSV_MAX_RECORD);
        } else {
            expect_error(2, "record longer than 1048576 bytes");
        }
        EXPECT(3, "b");
        expect_end();
        teardown();
        free(in);
        free(big);
    }
}
END_TEST

START_TEST(test_record_limit_in_quotes)
{
    /* An over-long quoted field is cut at the limit; the reader resumes on the next line, which
     * here is still inside the runaway field and ends with its closing quote. */
    char *big = repeat('y', CSV_MAX_RECORD);
    size_t cap = CSV_MAX_RECORD + 64;
    char *in = malloc(cap);
    ck_assert_ptr_nonnull(in);
    int n = snprintf(in, cap, "\"%s\nz\"\nok\n", big);
    open_mem(in, (size_t)n);
    expect_error(1, "record longer than 1048576 bytes");
    expect_error(2, "stray quote in unquoted field"); /* `z"` read as unquoted */
    EXPECT(3, "ok");
    expect_end();
    free(in);
    free(big);
}
END_TEST

/* Many records of varying shapes: every buffer boundary position is crossed. */
START_TEST(test_many_records)
{
    fp = tmpfile();
    ck_assert_ptr_nonnull(fp);
    fputs("\xEF\xBB\xBFid,text,n\r\n", fp);
    const int rows = 30000;
    for (int i = 0; i < rows; i++)
        fprintf(fp, "c%d,\"hi \"\"%d\"\",\r\nline\",%d\r\n", i, i, i * 7);
    rewind(fp);
    rd = csv_open(fp);
    ck_assert_ptr_nonnull(rd);
    EXPECT(1, "id", "text", "n");
    char id[32], text[64], num[32];
    for (int i = 0; i < rows; i++) {
        snprintf(id, sizeof id, "c%d", i);
        snprintf(text, sizeof text, "hi \"%d\",\r\nline", i);
        snprintf(num, sizeof num, "%d", i * 7);
        expect(2 + 2L * i, (const char *const[]){id, text, num, NULL});
    }
    expect_end();
}
END_TEST

START_TEST(test_read_error)
{
    fp = fopen("/", "r"); /* opening a directory works, reading it fails with EISDIR */
    if (!fp)
        return;
    rd = csv_open(fp);
    ck_assert_ptr_nonnull(rd);
    ck_assert_int_eq(csv_next(rd, &rec), -1);
    ck_assert_ptr_nonnull(strstr(csv_error(rd), "read error: "));
    expect_end();
}
END_TEST

START_TEST(test_free_null)
{
    csv_free(NULL);
}
END_TEST

static Suite *csv_suite(void)
{
    Suite *s = suite_create("csv");
    TCase *tc = tcase_create("dialect");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_simple);
    tcase_add_test(tc, test_no_trailing_newline);
    tcase_add_test(tc, test_empty_inputs);
    tcase_add_test(tc, test_line_endings);
    tcase_add_test(tc, test_bom);
    tcase_add_test(tc, test_quoted);
    tcase_add_test(tc, test_quoted_at_eof);
    tcase_add_test(tc, test_empty_fields);
    tcase_add_test(tc, test_blank_lines_and_numbering);
    tcase_add_test(tc, test_varying_field_counts);
    tcase_add_test(tc, test_nul_and_utf8_bytes);
    tcase_add_test(tc, test_many_records);
    tcase_add_test(tc, test_free_null);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_stray_quote_resyncs);
    tcase_add_test(tc, test_after_closing_quote);
    tcase_add_test(tc, test_unterminated_quote);
    tcase_add_test(tc, test_error_at_last_line);
    tcase_add_test(tc, test_record_limit);
    tcase_add_test(tc, test_record_limit_in_quotes);
    tcase_add_test(tc, test_read_error);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(csv_suite)
