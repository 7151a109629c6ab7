/* voicemap.c - "LOGICAL=PROVIDER, ..." maps of voice and model names.
 *
 * The map is scanned in place every time: maps are a handful of entries and a lookup happens once
 * per attempt, so a parsed copy would only add ownership to get wrong. Every lookup validates the
 * whole map first, so a malformed map never answers for the entries before its fault. */
#include "voicemap.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* One name: [s, s + len) after trimming blanks. */
struct span {
    const char *s;
    size_t len;
};

/* One entry of the map, as found by next_entry(). */
struct entry {
    struct span raw;    /* the whole entry, trimmed, for messages */
    struct span key;    /* logical name */
    struct span val;    /* provider's name */
    int eq;             /* number of '=' in the entry */
};

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static struct span trim(const char *s, size_t len)
{
    while (len > 0 && is_blank(*s)) {
        s++;
        len--;
    }
    while (len > 0 && is_blank(s[len - 1]))
        len--;
    return (struct span){ s, len };
}

static bool has_control(struct span sp)
{
    for (size_t i = 0; i < sp.len; i++)
        if ((unsigned char)sp.s[i] < 0x20 || sp.s[i] == 0x7f)
            return true;
    return false;
}

/* Splits the entry [s, s + len) at its first '='. */
static struct entry split_entry(const char *s, size_t len)
{
    struct entry e = { .raw = trim(s, len) };
    const char *eq = memchr(s, '=', len);
    for (size_t i = 0; i < len; i++)
        e.eq += s[i] == '=';
    if (eq == NULL) {
        e.key = e.raw;
        return e;
    }
    e.key = trim(s, (size_t)(eq - s));
    e.val = trim(eq + 1, len - (size_t)(eq - s) - 1);
    return e;
}

/* Moves *cursor past the next entry and returns it; false at the end of the map. */
static bool next_entry(const char **cursor, struct entry *e)
{
    const char *s = *cursor;
    if (s == NULL)
        return false;
    const char *comma = strchr(s, ',');
    size_t len = comma ? (size_t)(comma - s) : strlen(s);
    *e = split_entry(s, len);
    *cursor = comma ? comma + 1 : NULL;
    return true;
}

static bool blank_map(const char *map)
{
    if (map == NULL)
        return true;
    for (; *map; map++)
        if (!is_blank(*map))
            return false;
    return true;
}

static bool span_eq(struct span a, struct span b)
{
    return a.len == b.len && memcmp(a.s, b.s, a.len) == 0;
}

/* The fault of entry e (number n), written to err; false when it has none. */
static bool entry_fault(const struct entry *e, int n, char *err, size_t errlen)
{
    const char *why = NULL;
    if (e->raw.len == 0)
        why = "is empty";
    else if (e->eq == 0)
        why = "has no '='";
    else if (e->eq > 1)
        why = "has more than one '='";
    else if (e->key.len == 0)
        why = "has no logical name before '='";
    else if (e->val.len == 0)
        why = "has no provider name after '='";
    else if (has_control(e->raw))
        why = "has a control character";
    if (why == NULL)
        return false;
    if (err != NULL && errlen > 0) {
        if (e->raw.len == 0 || has_control(e->raw))   /* an error is one printable line */
            snprintf(err, errlen, "entry %d %s", n, why);
        else
            snprintf(err, errlen, "entry %d \"%.*s\" %s", n, (int)e->raw.len, e->raw.s, why);
    }
    return true;
}

/* Whether an entry before number n (starting at map) has the same logical name as e. */
static int earlier_duplicate(const char *map, const struct entry *e, int n)
{
    struct entry prev;
    const char *cur = map;
    for (int i = 1; i < n && next_entry(&cur, &prev); i++)
        if (span_eq(prev.key, e->key))
            return i;
    return 0;
}

int voicemap_check(const char *map, char *err, size_t errlen)
{
    if (blank_map(map))
        return 0;
    struct entry e;
    const char *cur = map;
    for (int n = 1; next_entry(&cur, &e); n++) {
        if (entry_fault(&e, n, err, errlen))
            return -1;
        int dup = earlier_duplicate(map, &e, n);
        if (dup > 0) {
            if (err != NULL && errlen > 0)
                snprintf(err, errlen, "entry %d \"%.*s\" repeats the logical name of entry %d",
                         n, (int)e.raw.len, e.raw.s, dup);
            return -1;
        }
    }
    return 0;
}

static int copy_out(const char *s, size_t len, char *out, size_t outlen)
{
    if (out == NULL || len >= outlen)
        return -1;
    memcpy(out, s, len);
    out[len] = '\0';
    return 0;
}

int voicemap_lookup(const char *map, const char *logical, char *out, size_t outlen)
{
    if (voicemap_check(map, NULL, 0) != 0)
        return -1;
    if (blank_map(map) || logical == NULL || *logical == '\0')
        return 0;
    struct span want = { logical, strlen(logical) };
    struct entry e;
    const char *cur = map;
    while (next_entry(&cur, &e))
        if (span_eq(e.key, want))
            return copy_out(e.val.s, e.val.len, out, outlen) == 0 ? 1 : -1;
    return 0;
}

static bool set(const char *s)
{
    return s != NULL && *s != '\0';
}

static int resolved(const char *s, enum voicemap_source src, char *out, size_t outlen)
{
    return copy_out(s, strlen(s), out, outlen) == 0 ? (int)src : -1;
}

int voicemap_resolve(const char *map, const char *deflt, const char *logical,
                     const char *type_default, char *out, size_t outlen)
{
    int found = voicemap_lookup(map, logical, out, outlen);
    if (found != 0)
        return found == 1 ? (int)VOICEMAP_MAPPED : -1;
    if (set(deflt))
        return resolved(deflt, VOICEMAP_DEFAULT, out, outlen);
    if (set(logical) && blank_map(map))
        return resolved(logical, VOICEMAP_LOGICAL, out, outlen);
    if (type_default != NULL)
        return resolved(type_default, VOICEMAP_TYPE, out, outlen);
    return resolved("", VOICEMAP_NONE, out, outlen);
}
