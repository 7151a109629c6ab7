/* check_cachekey.c - the render-once cache key: its shape, a pinned value (the key must not
 * change between builds, or every cached sound is lost), and no two requests sharing a key by
 * accident of encoding: moved bytes between fields, absent against empty, swapped fields. */
#include "check_main.h"

#include <ctype.h>
#include <string.h>

#include "cachekey.h"

static void key(const struct cachekey_req *r, char out[CACHEKEY_LEN + 1])
{
    memset(out, 'x', CACHEKEY_LEN + 1);
    cachekey(r, out);
}

static void assert_differ(struct cachekey_req a, struct cachekey_req b)
{
    char ka[CACHEKEY_LEN + 1], kb[CACHEKEY_LEN + 1];
    key(&a, ka);
    key(&b, kb);
    ck_assert_str_ne(ka, kb);
}

START_TEST(shape)
{
    char k[CACHEKEY_LEN + 1];
    key(&(struct cachekey_req){.text = "Hello"}, k);
    ck_assert_uint_eq(CACHEKEY_LEN, 67);
    ck_assert_uint_eq(strlen(k), CACHEKEY_LEN);
    ck_assert_int_eq(strncmp(k, "v1-", 3), 0);
    for (size_t i = 3; i < CACHEKEY_LEN; i++)
        ck_assert(isxdigit((unsigned char)k[i]) && !isupper((unsigned char)k[i]));
}
END_TEST

/* The value computed independently (Python's hashlib over the encoding cachekey.c describes):
 * sha256(b"voxcast-cachekey-v1\0" + field(text) + ... + field(model)), field(None) = b"\0",
 * field(s) = b"\1" + len(s).to_bytes(8, "big") + s. */
START_TEST(pinned)
{
    char k[CACHEKEY_LEN + 1];
    key(&(struct cachekey_req){.text = "Hi Ana, your order 42 shipped.", .voice = "alloy",
                               .lang = "en", .format = "mp3", .model = NULL}, k);
    ck_assert_str_eq(k, "v1-"
                        "292477a6940f57bf73d3a87d6df69f285e0f72a708f53fca3b490b7936c0b10d");
    key(&(struct cachekey_req){0}, k);
    ck_assert_str_eq(k, "v1-"
                        "9c691b569178304d1992bf23d9c9050243373a0045d99e2b59346b342e21c17a");
}
END_TEST

START_TEST(same_request_same_key)
{
    char a[CACHEKEY_LEN + 1], b[CACHEKEY_LEN + 1];
    char text[] = "Bonjour", voice[] = "nova";
    key(&(struct cachekey_req){.text = "Bonjour", .voice = "nova", .format = "wav"}, a);
    key(&(struct cachekey_req){.text = text, .voice = voice, .format = "wav"}, b);
    ck_assert_str_eq(a, b);
}
END_TEST

/* Field i of r, so every field can be tried in turn. */
static const char **field(struct cachekey_req *r, size_t i)
{
    const char **f[] = {&r->text, &r->voice, &r->lang, &r->format, &r->model};
    return f[i];
}

START_TEST(every_field_counts)
{
    struct cachekey_req base = {.text = "t", .voice = "v", .lang = "l", .format = "f",
                                .model = "m"};
    for (size_t i = 0; i < 5; i++) {
        struct cachekey_req other = base, absent = base, empty = base;
        *field(&other, i) = "other";
        *field(&absent, i) = NULL;
        *field(&empty, i) = "";
        assert_differ(base, other);
        assert_differ(base, absent);
        assert_differ(absent, empty);   /* empty is not absent */
    }
}
END_TEST

START_TEST(no_ambiguous_encoding)
{
    /* Bytes moved across a field boundary. */
    assert_differ((struct cachekey_req){.text = "ab", .voice = "c"},
                  (struct cachekey_req){.text = "a", .voice = "bc"});
    assert_differ((struct cachekey_req){.lang = "en", .format = "mp3"},
                  (struct cachekey_req){.lang = "enm", .format = "p3"});
    /* The same value in another field. */
    assert_differ((struct cachekey_req){.text = "x", .voice = "alloy"},
                  (struct cachekey_req){.text = "x", .model = "alloy"});
    assert_differ((struct cachekey_req){.text = "", .voice = NULL},
                  (struct cachekey_req){.text = NULL, .voice = ""});
    /* Whitespace and case are the request's own: never folded. */
    assert_differ((struct cachekey_req){.text = "Hello"}, (struct cachekey_req){.text = "Hello "});
    assert_differ((struct cachekey_req){.text = "Hello"}, (struct cachekey_req){.text = "hello"});
}
END_TEST

static Suite *cachekey_suite(void)
{
    Suite *s = suite_create("cachekey");
    TCase *tc = tcase_create("key");
    tcase_add_test(tc, shape);
    tcase_add_test(tc, pinned);
    tcase_add_test(tc, same_request_same_key);
    tcase_add_test(tc, every_field_counts);
    tcase_add_test(tc, no_ambiguous_encoding);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(cachekey_suite)
