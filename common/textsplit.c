/* textsplit.c - cutting long texts at the best boundary within reach; see textsplit.h.
 *
 * One part at a time: from the part's start, walk code point by code point while the part would
 * still fit, and grade the position after each one (the cut "part ends here") with
 * textsplit_grade(); keep the best grade seen, the furthest on ties. The walk also peeks at the
 * code point just past the limit, since a part of exactly max_chars code points followed by a
 * space is a clean cut. The next part starts after the white space at the cut.
 *
 * The grading looks only at the code points around the position, so it cannot know that the
 * period of "Dr. Smith" ends no sentence; it takes it for a sentence end. Since the furthest
 * boundary wins, such a cut happens only when the abbreviation is the last sentence mark within
 * reach, and it costs a short pause, not a lost word. */
#include "textsplit.h"

#include <stdbool.h>
#include <stdint.h>

#define MAX_CLOSERS 4   /* closing quotes and brackets kept with the mark before them */

/* How good a cut is; the higher the better. */
enum textsplit_grade {
    TS_NONE,       /* inside a word: only for a word longer than the limit */
    TS_SPACE,      /* after a word, before white space */
    TS_CLAUSE,     /* after a clause mark */
    TS_SENTENCE,   /* after a sentence mark, or before a blank line */
    TS_END         /* the end of the text: the rest fits */
};

/* A punctuation mark that ends a sentence or a clause. */
struct textsplit_mark {
    uint32_t cp;
    uint8_t  grade;    /* TS_SENTENCE or TS_CLAUSE */
    bool     spaced;   /* counts only before white space or the end of the text */
};

static const struct textsplit_mark marks[] = {
    {'.', TS_SENTENCE, true},      {'!', TS_SENTENCE, true},     {'?', TS_SENTENCE, true},
    {0x2026, TS_SENTENCE, false},  /* … */
    {0x3002, TS_SENTENCE, false},  /* 。 */
    {0xFF01, TS_SENTENCE, false},  /* ！ */
    {0xFF1F, TS_SENTENCE, false},  /* ？ */
    {',', TS_CLAUSE, true},        {';', TS_CLAUSE, true},       {':', TS_CLAUSE, true},
    {0x2013, TS_CLAUSE, true},     /* – en dash: also "pages 10–20" */
    {0x2014, TS_CLAUSE, false},    /* — em dash, often written without spaces */
    {0x3001, TS_CLAUSE, false},    /* 、 */
    {0xFF0C, TS_CLAUSE, false},    /* ， */
    {0xFF1B, TS_CLAUSE, false},    /* ； */
    {0xFF1A, TS_CLAUSE, false},    /* ： */
};

/* Closing quotes and brackets, which stay with the mark before them. */
static const uint32_t closers[] = {
    '"', '\'', ')', ']', '}', 0x00BB /* » */, 0x2019 /* ’ */, 0x201D /* ” */,
    0x300B /* 》 */, 0x300D /* 」 */, 0x300F /* 』 */, 0x3011 /* 】 */, 0xFF09 /* ） */,
    0xFF3D /* ］ */,
};

/* ---- code points ---------------------------------------------------------------------------- */

static bool is_cont(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

/* The offset of the code point after the one at i (i < len). */
static size_t next_cp(const unsigned char *p, size_t len, size_t i)
{
    for (i++; i < len && is_cont(p[i]); i++)
        ;
    return i;
}

/* The offset of the code point before position i (i > 0). */
static size_t prev_cp(const unsigned char *p, size_t i)
{
    for (i--; i > 0 && is_cont(p[i]); i--)
        ;
    return i;
}

/* The code point at i (i < len); U+FFFD for bytes that are not a whole sequence. */
static uint32_t decode(const unsigned char *p, size_t len, size_t i)
{
    unsigned char c = p[i];
    if (c < 0x80)
        return c;
    size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    if (is_cont(c) || n > len - i)
        return 0xFFFD;
    uint32_t cp = c & (0xFFu >> (n + 1));
    for (size_t k = 1; k < n; k++)
        cp = cp << 6 | (p[i + k] & 0x3Fu);
    return cp;
}

static bool is_space(uint32_t c)
{
    return c == ' ' || (c >= '\t' && c <= '\r') || c == 0x85 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A && c != 0x2007) || c == 0x2028 || c == 0x2029 ||
           c == 0x205F || c == 0x3000;
}

static bool is_closer(uint32_t c)
{
    for (size_t i = 0; i < sizeof closers / sizeof closers[0]; i++)
        if (closers[i] == c)
            return true;
    return false;
}

static const struct textsplit_mark *find_mark(uint32_t c)
{
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++)
        if (marks[i].cp == c)
            return &marks[i];
    return NULL;
}

/* ---- grading a cut -------------------------------------------------------------------------- */

/* The text being split: bytes, and where its content ends (trailing white space cut off). */
struct textsplit_text {
    const unsigned char *p;
    size_t               end;
};

static bool space_at(const struct textsplit_text *t, size_t i)
{
    return i < t->end && is_space(decode(t->p, t->end, i));
}

/* Skips the white space that starts at i. */
static size_t skip_space(const struct textsplit_text *t, size_t i)
{
    while (space_at(t, i))
        i = next_cp(t->p, t->end, i);
    return i;
}

/* True when the white space at i holds a blank line: two line feeds, or a U+2029. */
static bool blank_line_at(const struct textsplit_text *t, size_t i)
{
    int feeds = 0;
    for (; space_at(t, i) && feeds < 2; i = next_cp(t->p, t->end, i)) {
        uint32_t c = decode(t->p, t->end, i);
        if (c == 0x2029)
            return true;
        feeds += c == '\n';
    }
    return feeds == 2;
}

/* The grade of the mark that ends text[s..e), closers after it skipped (a few: a longer run is
 * no quotation, and the bound keeps the walk linear), or TS_NONE. next is the code point at e
 * (0 at the end), white whether it is white space or the end. */
static int mark_grade(const struct textsplit_text *t, size_t s, size_t e, uint32_t next,
                      bool white)
{
    if (!white && (is_closer(next) || find_mark(next)))
        return TS_NONE;   /* inside a run of marks and closers: cut after its end */
    for (size_t j = e, k = 0; j > s && k <= MAX_CLOSERS; k++) {
        j = prev_cp(t->p, j);
        uint32_t c = decode(t->p, t->end, j);
        if (is_closer(c))
            continue;
        const struct textsplit_mark *m = find_mark(c);
        return m && (white || !m->spaced) ? m->grade : TS_NONE;
    }
    return TS_NONE;
}

/* How good a cut at e is for a part that starts at s (s < e <= end, s not white space). */
static int textsplit_grade(const struct textsplit_text *t, size_t s, size_t e)
{
    if (e == t->end)
        return TS_END;
    if (is_space(decode(t->p, t->end, prev_cp(t->p, e))))
        return TS_NONE;   /* a part never ends with white space */
    uint32_t next = decode(t->p, t->end, e);
    bool white = is_space(next);
    if (white && blank_line_at(t, e))
        return TS_SENTENCE;
    int g = mark_grade(t, s, e, next, white);
    return g != TS_NONE ? g : white ? TS_SPACE : TS_NONE;
}

/* ---- splitting -------------------------------------------------------------------------------- */

/* Fills *part with the part that starts at s (not white space, s < end); returns the offset
 * where the next one starts. */
static size_t textsplit_one(const struct textsplit_text *t, size_t s, size_t max_chars,
                            struct textpart *part)
{
    size_t e = s, chars = 0;
    int best = -1;
    *part = (struct textpart){.off = s};
    while (e < t->end && chars < max_chars) {
        e = next_cp(t->p, t->end, e);
        chars++;
        int g = textsplit_grade(t, s, e);
        if (g >= best) {
            best = g;
            part->len = e - s;
            part->chars = chars;
        }
    }
    return skip_space(t, s + part->len);
}

/* Where the text's content ends: before its trailing white space. */
static size_t content_end(const unsigned char *p, size_t len)
{
    size_t end = len;
    while (end > 0) {
        size_t i = prev_cp(p, end);
        if (!is_space(decode(p, len, i)))
            break;
        end = i;
    }
    return end;
}

size_t textsplit(const char *text, size_t len, size_t max_chars, struct textpart *parts,
                 size_t maxparts)
{
    if (!text || max_chars == 0)
        return 0;
    struct textsplit_text t = {.p = (const unsigned char *)text};
    t.end = content_end(t.p, len);
    size_t n = 0;
    for (size_t s = skip_space(&t, 0); s < t.end; n++) {
        struct textpart part;
        s = textsplit_one(&t, s, max_chars, &part);
        if (n < maxparts)
            parts[n] = part;
    }
    return n;
}
