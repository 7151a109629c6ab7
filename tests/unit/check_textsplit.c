/* check_textsplit.c - cutting long texts: each boundary kind and its fallback, CJK, UTF-8 at the
 * limit, the white space between parts, and a random comparison against a brute-force model.
 *
 * Every split in this file also goes through check_parts(), which checks what must hold for
 * any text: parts in order, within the limit, on UTF-8 sequence boundaries, not starting or
 * ending with white space, only white space between them, the text rebuilt byte for byte from
 * parts and gaps, and no cut inside a word unless that word is longer than the limit.
 *
 * The model: random texts are built from words and separators whose cut grade is known by
 * construction (", " is a clause end, "。" a sentence end, ...), recorded in a map as the text
 * is generated. The model then picks, from each part's start, the furthest position of the best
 * grade within reach by scanning that map backwards from the limit: slow and obviously right. */
#include "check_main.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "textsplit.h"
#include "utf8.h"

#define MAX_PARTS 4096

/* ---- what holds for every split ------------------------------------------------------------ */

/* Length of the white space at s[0..n) (the kinds the tests use: ASCII, U+3000, U+2029), or 0. */
static size_t white_len(const char *s, size_t n)
{
    if (n >= 1 && s[0] != '\0' && strchr(" \t\n\r", s[0]))
        return 1;
    if (n >= 3 && (memcmp(s, "\xE3\x80\x80", 3) == 0 || memcmp(s, "\xE2\x80\xA9", 3) == 0))
        return 3;
    return 0;
}

static bool all_white(const char *s, size_t n)
{
    for (size_t i = 0, w; i < n; i += w)
        if ((w = white_len(s + i, n - i)) == 0)
            return false;
    return true;
}

static bool is_cont(const char *s, size_t i, size_t len)
{
    return i < len && ((unsigned char)s[i] & 0xC0) == 0x80;
}

/* Offset of the last code point of s[0..n) (n > 0). */
static size_t last_cp(const char *s, size_t n)
{
    size_t i = n - 1;
    while (i > 0 && is_cont(s, i, n))
        i--;
    return i;
}

/* True when the cut at position c with no white space is at a mark that may be cut after. */
static bool cut_after_mark(const char *text, size_t c)
{
    static const char *const after[] = {"\xE2\x80\xA6", "\xE3\x80\x82", "\xEF\xBC\x81",
                                        "\xEF\xBC\x9F", "\xE2\x80\x94", "\xE3\x80\x81",
                                        "\xEF\xBC\x8C", "\xEF\xBC\x9B", "\xEF\xBC\x9A",
                                        "\xE3\x80\x8D", "\""};
    size_t i = last_cp(text, c);
    for (size_t k = 0; k < sizeof after / sizeof after[0]; k++)
        if (c - i == strlen(after[k]) && memcmp(text + i, after[k], c - i) == 0)
            return true;
    return false;
}

/* Code points of the run without white space around position c. */
static size_t word_chars(const char *text, size_t len, size_t c)
{
    size_t a = c, b = c;
    while (a > 0) {
        size_t i = last_cp(text, a);
        if (white_len(text + i, len - i))
            break;
        a = i;
    }
    while (b < len && !white_len(text + b, len - b))
        b++;
    return utf8_count(text + a, b - a);
}

static void check_part(const char *text, size_t len, size_t max, const struct textpart *p)
{
    ck_assert_uint_gt(p->len, 0);
    ck_assert_uint_le(p->off + p->len, len);
    ck_assert(!is_cont(text, p->off, len) && !is_cont(text, p->off + p->len, len));
    ck_assert_uint_eq(p->chars, utf8_count(text + p->off, p->len));
    ck_assert_uint_ge(p->chars, 1);
    ck_assert_uint_le(p->chars, max);
    ck_assert_msg(white_len(text + p->off, p->len) == 0, "part starts with white space");
    size_t l = last_cp(text + p->off, p->len);
    ck_assert_msg(white_len(text + p->off + l, p->len - l) == 0, "part ends with white space");
}

static void check_parts(const char *text, size_t len, size_t max, const struct textpart *p,
                        size_t n)
{
    struct buf join = {0};
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        check_part(text, len, max, &p[i]);
        ck_assert_uint_ge(p[i].off, at);
        ck_assert_msg(all_white(text + at, p[i].off - at), "gap before part %zu", i);
        if (i > 0 && p[i].off == at)
            ck_assert_msg(cut_after_mark(text, at) || word_chars(text, len, at) > max,
                          "cut inside a word that fits, at byte %zu", at);
        buf_append(&join, text + at, p[i].off - at);
        buf_append(&join, text + p[i].off, p[i].len);
        at = p[i].off + p[i].len;
    }
    ck_assert(all_white(text + at, len - at));
    buf_append(&join, text + at, len - at);
    ck_assert_uint_eq(join.len, len);
    ck_assert(len == 0 || memcmp(join.data, text, len) == 0);
    buf_free(&join);
}

/* Splits text, checks the invariants, and compares the parts with want[] (NULL-terminated). */
static void expect(const char *text, size_t max, const char *const *want)
{
    static struct textpart p[MAX_PARTS];
    size_t len = strlen(text), n = textsplit(text, len, max, p, MAX_PARTS);
    check_parts(text, len, max, p, n);
    size_t k = 0;
    for (; want[k]; k++) {
        ck_assert_msg(k < n, "%zu parts, wanted more (next \"%s\")", n, want[k]);
        ck_assert_msg(p[k].len == strlen(want[k]) && memcmp(text + p[k].off, want[k], p[k].len) == 0,
                      "part %zu is \"%.*s\", wanted \"%s\"", k, (int)p[k].len, text + p[k].off,
                      want[k]);
    }
    ck_assert_uint_eq(n, k);
}

#define EXPECT(text, max, ...) expect((text), (max), (const char *const[]){__VA_ARGS__, NULL})

/* ---- boundaries ---------------------------------------------------------------------------- */

START_TEST(fits_is_one_trimmed_part)
{
    EXPECT("Hello world.", 12, "Hello world.");
    EXPECT("  Hello world. \n", 12, "Hello world.");
    EXPECT("Hello world.", 5000, "Hello world.");
}
END_TEST

START_TEST(nothing_to_say)
{
    struct textpart p[2];
    ck_assert_uint_eq(textsplit("", 0, 10, p, 2), 0);
    ck_assert_uint_eq(textsplit(" \n\t \xE3\x80\x80", 7, 10, p, 2), 0);
    ck_assert_uint_eq(textsplit("abc", 3, 0, p, 2), 0);
    ck_assert_uint_eq(textsplit(NULL, 0, 10, p, 2), 0);
}
END_TEST

START_TEST(sentence_first)
{
    /* A clause mark and spaces lie further, but the sentence end wins. */
    EXPECT("One two. Three, four five six", 24, "One two.", "Three, four five six");
    EXPECT("Stop! Go? Yes.", 10, "Stop! Go?", "Yes.");
    /* The furthest sentence end within reach. */
    EXPECT("A b. C d. E f g h i j", 11, "A b. C d.", "E f g h i j");
}
END_TEST

START_TEST(clause_then_space)
{
    EXPECT("one two, three four five six", 20, "one two,", "three four five six");
    EXPECT("alpha; beta: gamma delta", 14, "alpha; beta:", "gamma delta");
    EXPECT("one two three four", 10, "one two", "three four");
    EXPECT("en \xE2\x80\x93 dash and more", 6, "en \xE2\x80\x93", "dash", "and", "more");
    EXPECT("word\xE2\x80\x94word more", 10, "word\xE2\x80\x94", "word more");
}
END_TEST

START_TEST(spaced_marks_need_space)
{
    /* "3.14", "1,000", "12:30" and "e.g.x" are words, not boundaries. */
    EXPECT("pi is 3.14159 ok", 10, "pi is", "3.14159 ok");
    EXPECT("cost 1,000,000 now", 12, "cost", "1,000,000", "now");
    EXPECT("at 12:30:00 sharp", 10, "at", "12:30:00", "sharp");
    EXPECT("e.g.x", 3, "e.g", ".x");   /* one word over the limit: cut by count only */
}
END_TEST

START_TEST(closers_stay_with_their_mark)
{
    EXPECT("He said \"Stop.\" Then he left the room.", 20, "He said \"Stop.\"",
           "Then he left the", "room.");
    EXPECT("(Really?) Yes, really.", 12, "(Really?)", "Yes, really.");
    EXPECT("\xE3\x80\x8C\xE5\xA5\xBD\xE3\x80\x82\xE3\x80\x8D\xE6\x88\x91\xE4\xBB\xAC", 4,
           "\xE3\x80\x8C\xE5\xA5\xBD\xE3\x80\x82\xE3\x80\x8D", "\xE6\x88\x91\xE4\xBB\xAC");
}
END_TEST

START_TEST(blank_lines_are_sentence_ends)
{
    EXPECT("first para\n\nsecond para, more", 25, "first para", "second para, more");
    EXPECT("first para\r\n  \r\nsecond", 15, "first para", "second");
    EXPECT("line one\nline two, three", 16, "line one\nline", "two, three");
    EXPECT("a\xE2\x80\xA9" "b c", 3, "a", "b c");   /* U+2029 paragraph separator */
}
END_TEST

START_TEST(ellipsis)
{
    EXPECT("Wait\xE2\x80\xA6 then go on now", 14, "Wait\xE2\x80\xA6", "then go on now");
    EXPECT("Wait\xE2\x80\xA6then go", 9, "Wait\xE2\x80\xA6", "then go");
    /* A run of marks is cut after its end. */
    EXPECT("Hmm\xE2\x80\xA6\xE2\x80\xA6no way", 7, "Hmm\xE2\x80\xA6\xE2\x80\xA6", "no way");
    EXPECT("Really?! Yes sir", 10, "Really?!", "Yes sir");
}
END_TEST

START_TEST(cjk)
{
    /* 今天天气很好。我们去公园吧！好的。 at 8: the full stops, with no spaces at all. */
    const char *t = "\xE4\xBB\x8A\xE5\xA4\xA9\xE5\xA4\xA9\xE6\xB0\x94\xE5\xBE\x88\xE5\xA5\xBD"
                    "\xE3\x80\x82\xE6\x88\x91\xE4\xBB\xAC\xE5\x8E\xBB\xE5\x85\xAC\xE5\x9B\xAD"
                    "\xE5\x90\xA7\xEF\xBC\x81\xE5\xA5\xBD\xE7\x9A\x84\xE3\x80\x82";
    EXPECT(t, 8, "\xE4\xBB\x8A\xE5\xA4\xA9\xE5\xA4\xA9\xE6\xB0\x94\xE5\xBE\x88\xE5\xA5\xBD"
                 "\xE3\x80\x82",
           "\xE6\x88\x91\xE4\xBB\xAC\xE5\x8E\xBB\xE5\x85\xAC\xE5\x9B\xAD\xE5\x90\xA7\xEF\xBC\x81",
           "\xE5\xA5\xBD\xE7\x9A\x84\xE3\x80\x82");
    /* 一二、三四，五六 at 4: the clause marks. */
    EXPECT("\xE4\xB8\x80\xE4\xBA\x8C\xE3\x80\x81\xE4\xB8\x89\xE5\x9B\x9B\xEF\xBC\x8C\xE4\xBA\x94"
           "\xE5\x85\xAD", 4,
           "\xE4\xB8\x80\xE4\xBA\x8C\xE3\x80\x81", "\xE4\xB8\x89\xE5\x9B\x9B\xEF\xBC\x8C",
           "\xE4\xBA\x94\xE5\x85\xAD");
    /* A CJK run without marks is one long word: cut by count. Ideographic space separates. */
    EXPECT("\xE4\xB8\x80\xE4\xBA\x8C\xE4\xB8\x89\xE3\x80\x80\xE5\x9B\x9B", 2,
           "\xE4\xB8\x80\xE4\xBA\x8C", "\xE4\xB8\x89", "\xE5\x9B\x9B");
}
END_TEST

START_TEST(long_word_cut_by_count)
{
    EXPECT("supercalifragilistic", 5, "super", "calif", "ragil", "istic");
    EXPECT("a supercalifragilistic b", 8, "a", "supercal", "ifragili", "stic b");
    /* A word that fits is moved whole to the next part, never cut. */
    EXPECT("aaaa bbbbbb", 7, "aaaa", "bbbbbb");
}
END_TEST

START_TEST(limit_one)
{
    EXPECT("ab c.", 1, "a", "b", "c", ".");
    EXPECT("\xC3\xA9\xE5\xAD\x97 \xF0\x9F\x98\x80", 1, "\xC3\xA9", "\xE5\xAD\x97",
           "\xF0\x9F\x98\x80");
}
END_TEST

/* Multi-byte sequences of every length right at the limit are kept whole. */
START_TEST(utf8_at_the_limit)
{
    static const char *seq[] = {"\xC3\xA9", "\xE5\xAD\x97", "\xF0\x9F\x98\x80"};
    static struct textpart p[MAX_PARTS];
    for (size_t k = 0; k < 3; k++) {
        for (size_t max = 1; max <= 7; max++) {
            struct buf t = {0};
            buf_puts(&t, "ab");
            for (int i = 0; i < 12; i++)
                buf_puts(&t, seq[(k + (size_t)i) % 3]);
            size_t n = textsplit(t.data, t.len, max, p, MAX_PARTS);
            check_parts(t.data, t.len, max, p, n);
            ck_assert_uint_eq(n, (14 + max - 1) / max);
            for (size_t i = 0; i + 1 < n; i++)
                ck_assert_uint_eq(p[i].chars, max);
            buf_free(&t);
        }
    }
}
END_TEST

START_TEST(counts_like_snprintf)
{
    const char *t = "one. two. six. ten.";
    struct textpart p[2];
    ck_assert_uint_eq(textsplit(t, strlen(t), 5, NULL, 0), 4);
    ck_assert_uint_eq(textsplit(t, strlen(t), 5, p, 2), 4);
    ck_assert_uint_eq(p[0].off, 0);
    ck_assert_uint_eq(p[0].len, 4);
    ck_assert_uint_eq(p[1].off, 5);
    ck_assert_uint_eq(p[1].len, 4);
}
END_TEST

/* ---- random texts against the model -------------------------------------------------------- */

enum { G_NONE, G_SPACE, G_CLAUSE, G_SENTENCE, G_END };

#define GEN_MAX 2048

/* A separator between words: its bytes, how many of them are the mark (the cut is after those),
 * and the grade of that cut. */
static const struct {
    const char *s;
    size_t      mark;
    int         grade;
} seps[] = {
    {" ", 0, G_SPACE},   {" ", 0, G_SPACE},           {"  ", 0, G_SPACE},
    {"\n", 0, G_SPACE},  {"\t", 0, G_SPACE},          {"\xE3\x80\x80", 0, G_SPACE},
    {", ", 1, G_CLAUSE}, {"; ", 1, G_CLAUSE},         {"\xEF\xBC\x8C", 3, G_CLAUSE},
    {"\xE3\x80\x81", 3, G_CLAUSE},                    {"\xE2\x80\x94", 3, G_CLAUSE},
    {". ", 1, G_SENTENCE}, {"! ", 1, G_SENTENCE},     {"? ", 1, G_SENTENCE},
    {"\xE2\x80\xA6 ", 3, G_SENTENCE},                 {"\xE2\x80\xA6", 3, G_SENTENCE},
    {"\xE3\x80\x82", 3, G_SENTENCE},                  {"\xE3\x80\x82 ", 3, G_SENTENCE},
    {"\n\n", 0, G_SENTENCE},                          {".\n\n", 1, G_SENTENCE},
};

/* Word characters of 1 to 4 bytes, and words holding spaced marks that are not boundaries. */
static const char *const wchars[] = {"a", "b", "k", "z", "7", "\xC3\xA9", "\xD0\x96",
                                     "\xE5\xAD\x97", "\xE3\x81\x82", "\xF0\x9F\x98\x80"};
static const char *const odd_words[] = {"3.14", "1,000", "12:30", "e.g.x", "x-y"};

struct gen {
    uint64_t rng;
    struct buf text;
    uint8_t grade[GEN_MAX + 1];   /* the grade of a cut at each byte offset */
};

static uint64_t rnd(struct gen *g, uint64_t n)
{
    g->rng ^= g->rng << 13;
    g->rng ^= g->rng >> 7;
    g->rng ^= g->rng << 17;
    return g->rng % n;
}

static void gen_word(struct gen *g)
{
    if (rnd(g, 12) == 0) {
        buf_puts(&g->text, odd_words[rnd(g, 5)]);
        return;
    }
    size_t n = 1 + rnd(g, rnd(g, 10) == 0 ? 40 : 9);
    for (size_t i = 0; i < n; i++)
        buf_puts(&g->text, wchars[rnd(g, sizeof wchars / sizeof wchars[0])]);
}

/* A random text with its grade map; optional white space around it. */
static void gen_text(struct gen *g)
{
    buf_reset(&g->text);
    memset(g->grade, G_NONE, sizeof g->grade);
    if (rnd(g, 4) == 0)
        buf_puts(&g->text, rnd(g, 2) ? "  " : "\n");
    size_t words = 1 + rnd(g, 60);
    for (size_t w = 0; w < words && g->text.len < GEN_MAX - 200; w++) {
        if (w > 0) {
            size_t k = rnd(g, sizeof seps / sizeof seps[0]);
            g->grade[g->text.len + seps[k].mark] = (uint8_t)seps[k].grade;
            buf_puts(&g->text, seps[k].s);
        }
        gen_word(g);
    }
    if (rnd(g, 4) == 0)
        buf_puts(&g->text, rnd(g, 2) ? " \n" : "\xE3\x80\x80");
}

static size_t cp_next(const char *t, size_t len, size_t i)
{
    for (i++; is_cont(t, i, len); i++)
        ;
    return i;
}

static size_t skip_white(const char *t, size_t len, size_t i)
{
    size_t w;
    while ((w = white_len(t + i, len - i)) > 0)
        i += w;
    return i;
}

/* The model's next part from s: the furthest position of the best grade within max_chars. */
static struct textpart model_part(const struct gen *g, size_t s, size_t end, size_t max)
{
    const char *t = g->text.data;
    size_t reach = s, k = 0;
    for (; k < max && reach < end; k++)
        reach = cp_next(t, end, reach);
    int top = G_NONE;
    for (size_t e = cp_next(t, end, s); e <= reach; e = cp_next(t, end, e)) {
        int gr = e == end ? G_END : g->grade[e];
        top = gr > top ? gr : top;
        if (e == end)
            break;
    }
    size_t e = reach;
    while (e > s && (e == end ? G_END : g->grade[e]) != top)
        e = last_cp(t, e);
    if (e == s)   /* no graded position: the furthest code point boundary */
        e = reach;
    return (struct textpart){.off = s, .len = e - s, .chars = utf8_count(t + s, e - s)};
}

static size_t model_split(const struct gen *g, size_t max, struct textpart *p)
{
    const char *t = g->text.data;
    size_t len = g->text.len, end = len, n = 0;
    while (end > 0 && white_len(t + last_cp(t, end), end - last_cp(t, end)))
        end = last_cp(t, end);
    for (size_t s = skip_white(t, end, 0); s < end; s = skip_white(t, end, p[n - 1].off + p[n - 1].len))
        p[n++] = model_part(g, s, end, max);
    return n;
}

START_TEST(random_texts_match_the_model)
{
    static struct gen g = {.rng = 0x9E3779B97F4A7C15ull};
    static struct textpart got[MAX_PARTS], want[MAX_PARTS];
    size_t split = 0, tight = 0;   /* texts cut in parts; cuts without white space */
    for (int round = 0; round < 4000; round++) {
        gen_text(&g);
        size_t max = rnd(&g, 8) == 0 ? 1 + rnd(&g, 2000) : 1 + rnd(&g, 40);
        size_t n = textsplit(g.text.data, g.text.len, max, got, MAX_PARTS);
        check_parts(g.text.data, g.text.len, max, got, n);
        size_t m = model_split(&g, max, want);
        ck_assert_msg(n == m, "round %d, max %zu: %zu parts, model %zu: \"%s\"", round, max, n,
                      m, g.text.data);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(got[i].off == want[i].off && got[i].len == want[i].len &&
                          got[i].chars == want[i].chars,
                          "round %d, max %zu, part %zu: [%zu+%zu], model [%zu+%zu]: \"%s\"",
                          round, max, i, got[i].off, got[i].len, want[i].off, want[i].len,
                          g.text.data);
        split += n > 1;
        for (size_t i = 1; i < n; i++)
            tight += got[i].off == got[i - 1].off + got[i - 1].len;
    }
    /* The generator reaches what it is for: many splits, many cuts at CJK marks and in words. */
    ck_assert_uint_gt(split, 2000);
    ck_assert_uint_gt(tight, 1000);
    buf_free(&g.text);
}
END_TEST

static Suite *textsplit_suite(void)
{
    Suite *s = suite_create("textsplit");
    TCase *tc = tcase_create("boundaries");
    tcase_add_test(tc, fits_is_one_trimmed_part);
    tcase_add_test(tc, nothing_to_say);
    tcase_add_test(tc, sentence_first);
    tcase_add_test(tc, clause_then_space);
    tcase_add_test(tc, spaced_marks_need_space);
    tcase_add_test(tc, closers_stay_with_their_mark);
    tcase_add_test(tc, blank_lines_are_sentence_ends);
    tcase_add_test(tc, ellipsis);
    tcase_add_test(tc, cjk);
    tcase_add_test(tc, long_word_cut_by_count);
    tcase_add_test(tc, limit_one);
    tcase_add_test(tc, utf8_at_the_limit);
    tcase_add_test(tc, counts_like_snprintf);
    suite_add_tcase(s, tc);
    tc = tcase_create("model");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, random_texts_match_the_model);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(textsplit_suite)
