/* check_template.c - unit tests for template.c: syntax, positions in errors, rendering.
 *
 * Rendering is driven through a lookup over a small name -> value table, the same shape launch
 * uses over a CSV row. */
#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "template.h"

static char err[200];

struct row {
    const char *const *names;        /* NULL-terminated */
    const char *const *values;
    const struct template *t;
};

static const char *row_lookup(void *ctx, size_t i, size_t *len)
{
    const struct row *r = ctx;
    const char *name = template_var(r->t, i);
    for (size_t k = 0; r->names[k]; k++)
        if (strcmp(r->names[k], name) == 0) {
            *len = r->values[k] ? strlen(r->values[k]) : 0;
            return r->values[k];
        }
    return NULL;
}

static struct template *compile_ok(const char *text)
{
    err[0] = '\0';
    struct template *t = template_compile(text, err, sizeof err);
    ck_assert_msg(t != NULL, "compile failed: %s", err);
    return t;
}

static void compile_fails(const char *text, const char *want)
{
    struct template *t = template_compile(text, err, sizeof err);
    ck_assert_ptr_null(t);
    ck_assert_str_eq(err, want);
}

/* Renders text with the table; returns the output (static) or NULL with the missing name. */
static const char *render(const char *text, const char *const *names, const char *const *values,
                          const char **missing)
{
    static char result[512];
    struct template *t = compile_ok(text);
    struct row r = {names, values, t};
    struct buf out = {0};
    *missing = NULL;
    int rc = template_render(t, row_lookup, &r, &out, missing);
    snprintf(result, sizeof result, "%s", out.data ? out.data : "");
    buf_free(&out);
    if (rc < 0) {
        static char miss[64];
        ck_assert_ptr_nonnull(*missing);
        snprintf(miss, sizeof miss, "%s", *missing);
        *missing = miss;
        template_free(t);
        return NULL;
    }
    ck_assert_ptr_null(*missing);
    template_free(t);
    return result;
}

static const char *const names[] = {"first_name", "city", "x.y-z_9", "empty", "null", NULL};
static const char *const values[] = {"Ana", "Montr\xc3\xa9" "al", "V", "", NULL, NULL};

START_TEST(test_vars_in_order)
{
    struct template *t = compile_ok("Hi {{first_name}}, {{ city }}! Bye {{\tfirst_name\t}}.");
    ck_assert_uint_eq(template_nvars(t), 3);
    ck_assert_str_eq(template_var(t, 0), "first_name");
    ck_assert_str_eq(template_var(t, 1), "city");
    ck_assert_str_eq(template_var(t, 2), "first_name");
    ck_assert_ptr_null(template_var(t, 3));
    template_free(t);
}
END_TEST

START_TEST(test_render)
{
    const char *miss;
    ck_assert_str_eq(render("Hi {{first_name}}, from {{ city }}.", names, values, &miss),
                     "Hi Ana, from Montr\xc3\xa9" "al.");
    ck_assert_str_eq(render("{{first_name}}{{first_name}}", names, values, &miss), "AnaAna");
    ck_assert_str_eq(render("{{x.y-z_9}}", names, values, &miss), "V");
    ck_assert_str_eq(render("no placeholders", names, values, &miss), "no placeholders");
    ck_assert_str_eq(render("", names, values, &miss), "");
    ck_assert_str_eq(render("\xc2\xa1Hola {{first_name}}!", names, values, &miss),
                     "\xc2\xa1Hola Ana!");
}
END_TEST

START_TEST(test_literal_braces)
{
    const char *miss;
    ck_assert_str_eq(render("{\"a\": {{first_name}}}", names, values, &miss), "{\"a\": Ana}");
    ck_assert_str_eq(render("50% }} {x} { {first_name} }", names, values, &miss),
                     "50% }} {x} { {first_name} }");
    ck_assert_str_eq(render("}}{{city}}}}", names, values, &miss), "}}Montr\xc3\xa9" "al}}");
    ck_assert_str_eq(render("end {", names, values, &miss), "end {");
}
END_TEST

START_TEST(test_missing)
{
    const char *miss;
    ck_assert_ptr_null(render("Hi {{first_name}} {{unknown}} {{city}}", names, values, &miss));
    ck_assert_str_eq(miss, "unknown");
    ck_assert_ptr_null(render("{{empty}}", names, values, &miss));
    ck_assert_str_eq(miss, "empty");
    ck_assert_ptr_null(render("a {{ null }} b", names, values, &miss));
    ck_assert_str_eq(miss, "null");
}
END_TEST

START_TEST(test_partial_output_and_null_missing)
{
    struct template *t = compile_ok("Hi {{first_name}} {{nope}} tail");
    struct row r = {names, values, t};
    struct buf out = {0};
    buf_puts(&out, "prev|");
    ck_assert_int_eq(template_render(t, row_lookup, &r, &out, NULL), -1);
    ck_assert_str_eq(out.data, "prev|Hi Ana ");
    buf_reset(&out);
    ck_assert_int_eq(template_render(t, row_lookup, &r, &out, NULL), -1);
    ck_assert_str_eq(out.data, "Hi Ana ");
    buf_free(&out);
    template_free(t);
}
END_TEST

START_TEST(test_compile_errors)
{
    compile_fails("Hi {{first_name", "{{ at line 1 column 4 has no closing }}");
    compile_fails("ok {{a}} then {{b", "{{ at line 1 column 15 has no closing }}");
    compile_fails("line one\n\xc3\xa9\xc3\xa9{{first name}}",
                  "bad placeholder {{first name}} at line 2 column 3: a name is [A-Za-z0-9_.-]+");
    compile_fails("{{}}", "bad placeholder {{}} at line 1 column 1: a name is [A-Za-z0-9_.-]+");
    compile_fails("{{   }}", "bad placeholder {{   }} at line 1 column 1: a name is [A-Za-z0-9_.-]+");
    compile_fails("{{{a}}}", "bad placeholder {{{a}} at line 1 column 1: a name is [A-Za-z0-9_.-]+");
    compile_fails("{{a/b}}", "bad placeholder {{a/b}} at line 1 column 1: a name is [A-Za-z0-9_.-]+");
    compile_fails("{{n\xc3\xa9}}", "bad placeholder {{n\xc3\xa9}} at line 1 column 1: a name is "
                  "[A-Za-z0-9_.-]+");
    compile_fails("{{a\n}}", "bad placeholder {{a\n}} at line 1 column 1: a name is [A-Za-z0-9_.-]+");
    compile_fails("bad \xff byte", "template is not valid UTF-8");
}
END_TEST

START_TEST(test_error_truncated_to_buffer)
{
    char small[16];
    ck_assert_ptr_null(template_compile("{{a b}}", small, sizeof small));
    ck_assert_uint_eq(strlen(small), sizeof small - 1);
    ck_assert_int_eq(strncmp(small, "bad placeholder", 15), 0);
}
END_TEST

START_TEST(test_many_placeholders)
{
    struct buf text = {0};
    for (int i = 0; i < 1000; i++)
        buf_puts(&text, "[{{city}}]");
    struct template *t = compile_ok(text.data);
    ck_assert_uint_eq(template_nvars(t), 1000);
    struct row r = {names, values, t};
    struct buf out = {0};
    ck_assert_int_eq(template_render(t, row_lookup, &r, &out, NULL), 0);
    ck_assert_uint_eq(out.len, 1000 * (2 + strlen(values[1])));
    buf_free(&out);
    buf_free(&text);
    template_free(t);
}
END_TEST

START_TEST(test_free_null)
{
    template_free(NULL);
}
END_TEST

static Suite *template_suite(void)
{
    Suite *s = suite_create("template");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_vars_in_order);
    tcase_add_test(tc, test_render);
    tcase_add_test(tc, test_literal_braces);
    tcase_add_test(tc, test_missing);
    tcase_add_test(tc, test_partial_output_and_null_missing);
    tcase_add_test(tc, test_compile_errors);
    tcase_add_test(tc, test_error_truncated_to_buffer);
    tcase_add_test(tc, test_many_placeholders);
    tcase_add_test(tc, test_free_null);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(template_suite)
