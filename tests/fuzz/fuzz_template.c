/* fuzz_template.c - libFuzzer target for `{{name}}` templates (common/template.c).
 *
 * A campaign's text comes from whoever writes the campaign, so compile must reject or accept any
 * bytes without reading past them, and render must never see a half-parsed template. The input
 * (up to its first NUL) is compiled; a template that compiles is rendered twice, once with the
 * value "X" and once with "XY" for every placeholder, and must then have grown by exactly one
 * byte per placeholder (literal text is the same in both); rendered output never holds `{{`
 * (values carry no braces, and any `{{` in the source was a placeholder), every name is a valid
 * name, and a lookup that fails on the last placeholder makes render report that one. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_template: %s\n", what);
        abort();
    }
}

struct values {
    const char *value;   /* given for every placeholder */
    size_t      fail_at; /* index whose lookup gives NULL; SIZE_MAX for none */
};

static const char *lookup(void *ctx, size_t var_index, size_t *len)
{
    const struct values *v = ctx;
    if (var_index == v->fail_at)
        return NULL;
    *len = strlen(v->value);
    return v->value;
}

static int name_valid(const char *name)
{
    if (name == NULL || name[0] == '\0')
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.' || *p == '-'))
            return 0;
    return 1;
}

static void check_renders(const struct template *t)
{
    size_t n = template_nvars(t);
    struct buf one = {0}, two = {0};
    struct values v1 = {"X", SIZE_MAX}, v2 = {"XY", SIZE_MAX};
    fuzz_check(template_render(t, lookup, &v1, &one, NULL) == 0, "render failed with values");
    fuzz_check(template_render(t, lookup, &v2, &two, NULL) == 0, "render failed with values");
    fuzz_check(two.len == one.len + n, "output length is not literals plus values");
    fuzz_check(one.len == 0 || memmem(one.data, one.len, "{{", 2) == NULL, "output holds {{");
    if (n > 0) {
        struct buf part = {0};
        struct values vf = {"X", n - 1};
        const char *missing = NULL;
        fuzz_check(template_render(t, lookup, &vf, &part, &missing) == -1,
                   "missing value accepted");
        fuzz_check(missing == template_var(t, n - 1), "wrong placeholder named missing");
        fuzz_check(part.len <= one.len, "partial render longer than the whole");
        buf_free(&part);
    }
    buf_free(&one);
    buf_free(&two);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char err[256] = "";
    struct template *t = template_compile(text, err, sizeof err);
    if (!t) {
        fuzz_check(err[0] != '\0', "compile failed without a message");
    } else {
        for (size_t i = 0; i < template_nvars(t); i++)
            fuzz_check(name_valid(template_var(t, i)), "placeholder name is not a valid name");
        fuzz_check(template_var(t, template_nvars(t)) == NULL, "name past the last placeholder");
        check_renders(t);
        template_free(t);
    }
    free(text);
    return 0;
}
