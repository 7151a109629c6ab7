/* check_names.c - unit tests for sha256.c (FIPS 180-4 vectors) and names.c (file-name rule).
 *
 * The digest names files on every consumer, so it must be exactly SHA-256: the standard vectors
 * cover padding edge cases (empty input, one block, the 448-bit message that forces a second
 * padding block, and a long multi-block input fed in odd-sized pieces). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "names.h"
#include "sha256.h"

static void check_hex(const char *msg, size_t len, const char *want)
{
    char got[SHA256_HEX_LEN + 1];
    sha256_hex(msg, len, got);
    ck_assert_str_eq(got, want);
}

START_TEST(test_sha256_vectors)
{
    check_hex("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check_hex(NULL, 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check_hex("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    check_hex(m448, strlen(m448),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                       "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    check_hex(m896, strlen(m896),
              "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}
END_TEST

START_TEST(test_sha256_million_a)
{
    size_t n = 1000000;
    char *a = malloc(n);
    ck_assert_ptr_nonnull(a);
    memset(a, 'a', n);
    check_hex(a, n, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

    /* Same input through the incremental API in uneven pieces crossing block boundaries. */
    struct sha256_ctx c;
    sha256_init(&c);
    size_t off = 0, step = 1;
    while (off < n) {
        size_t take = step < n - off ? step : n - off;
        sha256_update(&c, a + off, take);
        off += take;
        step = step * 7 % 193 + 1;
    }
    uint8_t d[SHA256_DIGEST_LEN], want[SHA256_DIGEST_LEN];
    sha256_final(&c, d);
    sha256(a, n, want);
    ck_assert_mem_eq(d, want, sizeof d);
    free(a);
}
END_TEST

/* Lengths around the padding boundary: 55 bytes fit one block, 56..63 need two. */
START_TEST(test_sha256_padding_lengths)
{
    char buf[64];
    memset(buf, 'x', sizeof buf);
    uint8_t one[SHA256_DIGEST_LEN], inc[SHA256_DIGEST_LEN];
    for (size_t len = 54; len <= 64; len++) {
        sha256(buf, len, one);
        struct sha256_ctx c;
        sha256_init(&c);
        sha256_update(&c, buf, 1);
        sha256_update(&c, buf + 1, len - 1);
        sha256_final(&c, inc);
        ck_assert_mem_eq(one, inc, sizeof one);
    }
    check_hex(buf, 55, "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072");
    check_hex(buf, 56, "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e");
}
END_TEST

static void check_name(const char *id, size_t len, const char *want)
{
    char out[NAMES_MAX];
    memset(out, '#', sizeof out);
    names_for_contact(id, len, out);
    ck_assert_str_eq(out, want);
}

static void check_digest_name(const char *id, size_t len)
{
    char out[NAMES_MAX], hex[SHA256_HEX_LEN + 1], want[NAMES_MAX];
    names_for_contact(id, len, out);
    sha256_hex(id, len, hex);
    snprintf(want, sizeof want, "sha256=%s", hex);
    ck_assert_str_eq(out, want);
    ck_assert(!names_is_plain(id, len));
}

START_TEST(test_names_plain)
{
    check_name("c-000123", 8, "c-000123");
    check_name("A.b_C-9", 7, "A.b_C-9");
    check_name("...", 3, "...");               /* only "." and ".." are special */
    check_name(".hidden", 7, ".hidden");
    check_name("-", 1, "-");
    ck_assert(names_is_plain("x", 1));
}
END_TEST

START_TEST(test_names_digest)
{
    check_name("a/b", 3, "sha256=c14cddc033f64b9dea80ea675cf280a015e672516090a5626781153dc68fea11");
    check_name(".", 1, "sha256=cdb4ee2aea69cc6a83331bbe96dc2caa9a299d21329efb0336fc02a82e1839a8");
    check_name("..", 2, "sha256=5ec1f7e700f37c3d0b2981d04855fc34b94aaa15457b05ca571817442d228f81");
    check_name("../../etc/passwd", 16,
               "sha256=3754d6cb3a38e1185e5b382d5f3ef3f118af75bf4bf0254d1fdb8437f51423e0");
    check_name("jos\xc3\xa9", 5,
               "sha256=d994e1d001886fe5b45b1267bd1fa2b752ac50742579bd3dad7b2a2aa0ed6866");
    check_name("", 0, "sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check_name(NULL, 0, "sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check_digest_name("a b", 3);
    check_digest_name("a\0b", 3);              /* the length counts, not the C string */
    check_digest_name("a=b", 3);
    check_digest_name("a\\b", 3);
    check_digest_name("\n", 1);
}
END_TEST

START_TEST(test_names_length_limit)
{
    char id[130];
    memset(id, 'x', sizeof id);
    char out[NAMES_MAX];
    names_for_contact(id, 128, out);
    ck_assert_uint_eq(strlen(out), 128);
    ck_assert_int_eq(memcmp(out, id, 128), 0);
    check_name(id, 129, "sha256=0ec9eb33e74510bcdd1f2ea55206e82f21649c5c2becbf2b433eb475b34c01bd");
    ck_assert_uint_eq(strlen(out), 128);
    ck_assert(NAMES_MAX >= 129 && NAMES_MAX >= sizeof NAMES_DIGEST_PREFIX + SHA256_HEX_LEN);
}
END_TEST

/* Every name is one safe path component, and digest names cannot look like plain ones. */
/* One rule for campaign ids everywhere (job, launch, store, dlq): "." and ".." are folder names
 * that leave output.dir, so they are refused though every byte of them is allowed. */
START_TEST(test_campaign_rule_refuses_dot_folders)
{
    ck_assert(!names_campaign_valid("."));
    ck_assert(!names_campaign_valid(".."));
    ck_assert(names_campaign_valid("..."));
    ck_assert(names_campaign_valid(".hidden"));
    ck_assert(names_campaign_valid("a..b"));
    ck_assert(!names_campaign_valid(""));
    ck_assert(!names_campaign_valid(NULL));
    ck_assert(!names_campaign_valid("a/b"));
    ck_assert(names_campaign_valid("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));  /* 64 */
    ck_assert(!names_campaign_valid("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")); /* 65 */
}
END_TEST

START_TEST(test_names_never_escape)
{
    const char *ids[] = {"/", "a/../b", "..\\..", "./x", "x/", "\xff\xfe", "c:\\w", "=", "sha256=x"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        char out[NAMES_MAX];
        names_for_contact(ids[i], strlen(ids[i]), out);
        ck_assert_ptr_null(strchr(out, '/'));
        ck_assert_ptr_null(strchr(out, '\\'));
        ck_assert_str_ne(out, ".");
        ck_assert_str_ne(out, "..");
        ck_assert_int_eq(strncmp(out, "sha256=", 7), 0);
        ck_assert_uint_eq(strlen(out), 7 + SHA256_HEX_LEN);
    }
}
END_TEST

static Suite *names_suite(void)
{
    Suite *s = suite_create("names");
    TCase *tc = tcase_create("sha256");
    tcase_add_test(tc, test_campaign_rule_refuses_dot_folders);
    tcase_add_test(tc, test_sha256_vectors);
    tcase_add_test(tc, test_sha256_million_a);
    tcase_add_test(tc, test_sha256_padding_lengths);
    suite_add_tcase(s, tc);
    tc = tcase_create("names");
    tcase_add_test(tc, test_names_plain);
    tcase_add_test(tc, test_names_digest);
    tcase_add_test(tc, test_names_length_limit);
    tcase_add_test(tc, test_names_never_escape);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(names_suite)
