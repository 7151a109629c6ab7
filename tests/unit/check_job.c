/* check_job.c - unit tests for job.c: every rule of schema v1, and encode -> decode round trips.
 *
 * Each rule gets a job that breaks only that rule, checked against the exact message, because
 * the message is what an operator reads in the DLQ. Failures late in validation (after strings
 * were copied) also prove, under the sanitizers, that nothing leaks and `out` stays zeroed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "job.h"

#define LIMIT 5000

static char err[256];
static struct job job;

static void teardown(void)
{
    job_free(&job);
}

static void decode_ok(const char *json)
{
    err[0] = '\0';
    int rc = job_decode(json, strlen(json), LIMIT, &job, err, sizeof err);
    ck_assert_msg(rc == 0, "decode failed: %s (%s)", err, json);
}

static bool zeroed(const struct job *j)
{
    static const struct job zero;
    return memcmp(j, &zero, sizeof zero) == 0;
}

static void decode_fails_n(const char *json, size_t len, size_t limit, const char *want)
{
    memset(&job, 0xA5, sizeof job); /* garbage in: decode must not free or keep it */
    int rc = job_decode(json, len, limit, &job, err, sizeof err);
    ck_assert_msg(rc == -1, "decode of %s succeeded", json);
    ck_assert(zeroed(&job));
    ck_assert_str_eq(err, want);
}

static void decode_fails(const char *json, const char *want)
{
    decode_fails_n(json, strlen(json), LIMIT, want);
}

/* A valid job with `field` set to the raw JSON value `value` (or removed when value is NULL). */
static char *with_field(const char *field, const char *value)
{
    static const char *const fields[][2] = {
        {"v", "1"}, {"campaign", "\"spring\""}, {"contact", "\"c-1\""}, {"text", "\"Hi\""},
    };
    static char out[131072];
    size_t n = 0;
    bool done = false;
    out[n++] = '{';
    for (size_t i = 0; i < 4; i++) {
        const char *v = fields[i][1];
        if (strcmp(fields[i][0], field) == 0) {
            v = value;
            done = true;
        }
        if (v)
            n += (size_t)snprintf(out + n, sizeof out - n, "%s\"%s\":%s", n > 1 ? "," : "",
                                  fields[i][0], v);
    }
    if (!done && value)
        n += (size_t)snprintf(out + n, sizeof out - n, ",\"%s\":%s", field, value);
    ck_assert_uint_lt(n + 1, sizeof out);
    snprintf(out + n, sizeof out - n, "}");
    return out;
}

static void field_fails(const char *field, const char *value, const char *want)
{
    decode_fails(with_field(field, value), want);
}

static void field_ok(const char *field, const char *value)
{
    decode_ok(with_field(field, value));
    job_free(&job);
}

/* "\"" + n copies of unit + "\"" (heap; the caller frees). */
static char *json_repeat(const char *unit, size_t n)
{
    size_t u = strlen(unit);
    char *s = malloc(n * u + 3);
    ck_assert_ptr_nonnull(s);
    s[0] = '"';
    for (size_t i = 0; i < n; i++)
        memcpy(s + 1 + i * u, unit, u);
    s[1 + n * u] = '"';
    s[2 + n * u] = '\0';
    return s;
}

START_TEST(test_minimal_defaults)
{
    decode_ok("{\"v\":1,\"campaign\":\"spring-promo\",\"contact\":\"c-000123\",\"text\":\"Hi\"}");
    ck_assert_int_eq(job.v, 1);
    ck_assert_str_eq(job.campaign, "spring-promo");
    ck_assert_str_eq(job.contact, "c-000123");
    ck_assert_str_eq(job.text, "Hi");
    ck_assert_str_eq(job.format, "wav");
    ck_assert_ptr_null(job.voice);
    ck_assert_ptr_null(job.lang);
    ck_assert_ptr_null(job.meta);
    ck_assert_ptr_null(job.enqueued_at);
    ck_assert_int_eq(job.replay, 0);
}
END_TEST

START_TEST(test_contract_example)
{
    decode_ok("{\"v\":1,\"campaign\":\"spring-promo\",\"contact\":\"c-000123\",\"text\":\"Hi Ana, "
              "your order ships today.\",\"voice\":\"alloy\",\"lang\":\"en\",\"format\":\"wav\","
              "\"meta\":{\"phone\":\"+15551230000\"},\"enqueued_at\":\"2026-11-22T18:00:00Z\","
              "\"replay\":0,\"future_field\":[1,2,{}]}");
    ck_assert_str_eq(job.voice, "alloy");
    ck_assert_str_eq(job.lang, "en");
    ck_assert_str_eq(job.enqueued_at, "2026-11-22T18:00:00Z");
    ck_assert(json_is_object(job.meta));
    ck_assert_str_eq(json_string_value(json_object_get(job.meta, "phone")), "+15551230000");
}
END_TEST

START_TEST(test_nulls_are_absent)
{
    decode_ok("{\"v\":1,\"campaign\":\"c\",\"contact\":\"x\",\"text\":\"t\",\"voice\":null,"
              "\"lang\":null,\"format\":null,\"meta\":null,\"enqueued_at\":null,\"replay\":null}");
    ck_assert_ptr_null(job.voice);
    ck_assert_ptr_null(job.lang);
    ck_assert_str_eq(job.format, "wav");
    ck_assert_ptr_null(job.meta);
    ck_assert_ptr_null(job.enqueued_at);
    ck_assert_int_eq(job.replay, 0);
}
END_TEST

START_TEST(test_missing_fields)
{
    field_fails("v", NULL, "missing field \"v\"");
    field_fails("campaign", NULL, "missing field \"campaign\"");
    field_fails("contact", NULL, "missing field \"contact\"");
    field_fails("text", NULL, "missing field \"text\"");
    decode_fails("{}", "missing field \"v\"");
}
END_TEST

START_TEST(test_version)
{
    field_fails("v", "2", "\"v\" must be 1");
    field_fails("v", "0", "\"v\" must be 1");
    field_fails("v", "1.0", "\"v\" must be 1");
    field_fails("v", "\"1\"", "\"v\" must be 1");
    field_fails("v", "true", "\"v\" must be 1");
    field_fails("v", "null", "\"v\" must be 1");
}
END_TEST

START_TEST(test_wrong_types)
{
    field_fails("campaign", "5", "\"campaign\" must be a string");
    field_fails("contact", "null", "\"contact\" must be a string");
    field_fails("contact", "123", "\"contact\" must be a string");
    field_fails("text", "[\"Hi\"]", "\"text\" must be a string");
    field_fails("voice", "5", "\"voice\" must be a string");
    field_fails("lang", "{}", "\"lang\" must be a string");
    field_fails("format", "1", "\"format\" must be a string");
    field_fails("enqueued_at", "1700000000", "\"enqueued_at\" must be a string");
}
END_TEST

START_TEST(test_campaign_rule)
{
    const char *msg = "\"campaign\" must be 1-64 of [A-Za-z0-9._-], not \".\" or \"..\"";
    field_fails("campaign", "\"\"", msg);
    field_fails("campaign", "\"a b\"", msg);
    field_fails("campaign", "\"a/b\"", msg);
    field_fails("campaign", "\"caf\\u00e9\"", msg);
    field_fails("campaign", "\"a:b\"", msg);
    field_fails("campaign", "\".\"", msg);   /* a folder name: "." and ".." leave output.dir */
    field_fails("campaign", "\"..\"", msg);
    field_ok("campaign", "\"...\"");
    char *c64 = json_repeat("x", 64), *c65 = json_repeat("x", 65);
    field_ok("campaign", c64);
    field_fails("campaign", c65, msg);
    free(c64);
    free(c65);
    field_ok("campaign", "\"Spring_2026.v-2\"");
    ck_assert(job_campaign_valid("a"));
    ck_assert(!job_campaign_valid(NULL));
    ck_assert(!job_campaign_valid(""));
    ck_assert(!job_campaign_valid(".x\n"));
}
END_TEST

START_TEST(test_contact_rule)
{
    const char *msg = "\"contact\" must be 1-256 bytes of UTF-8 without control characters";
    field_fails("contact", "\"\"", msg);
    field_fails("contact", "\"a\\nb\"", msg);
    field_fails("contact", "\"a\\tb\"", msg);
    field_fails("contact", "\"a\\u007fb\"", msg);
    field_fails("contact", "\"a\\u0085b\"", msg);          /* C1: NEL */
    field_fails("contact", "\"\\u009f\"", msg);
    char *c256 = json_repeat("x", 256), *c257 = json_repeat("x", 257);
    field_ok("contact", c256);
    field_fails("contact", c257, msg);
    free(c256);
    free(c257);
    /* 128 two-byte characters are 256 bytes; one more is over, although only 129 characters. */
    char *e128 = json_repeat("\xc3\xa9", 128), *e129 = json_repeat("\xc3\xa9", 129);
    field_ok("contact", e128);
    field_fails("contact", e129, msg);
    free(e128);
    free(e129);
    field_ok("contact", "\"Jos\\u00e9 / ../x @ +1 555\"");  /* any printable text is a contact */
    ck_assert(job_contact_valid("ok", 2));
    ck_assert(!job_contact_valid("\xff", 1));
    ck_assert(!job_contact_valid("a\0b", 3));
    ck_assert(!job_contact_valid(NULL, 0));
}
END_TEST

START_TEST(test_text_rule)
{
    field_fails("text", "\"\"", "\"text\" must not be empty");
    char *a5000 = json_repeat("a", 5000), *a5001 = json_repeat("a", 5001);
    field_ok("text", a5000);
    field_fails("text", a5001, "\"text\" is 5001 characters, over the limit of 5000");
    /* Counted in code points: 5000 'é' are 10000 bytes and still within the limit. */
    char *e5000 = json_repeat("\xc3\xa9", 5000), *e5001 = json_repeat("\\u00e9", 5001);
    field_ok("text", e5000);
    field_fails("text", e5001, "\"text\" is 5001 characters, over the limit of 5000");
    /* An astral character written as a surrogate pair is one character. */
    char *s5000 = json_repeat("\\ud83d\\ude00", 5000);
    field_ok("text", s5000);
    /* A limit of 0 means none. */
    const char *big = with_field("text", a5001);
    ck_assert_int_eq(job_decode(big, strlen(big), 0, &job, err, sizeof err), 0);
    ck_assert_uint_eq(strlen(job.text), 5001);
    free(a5000);
    free(a5001);
    free(e5000);
    free(e5001);
    free(s5000);
    job_free(&job);
    field_ok("text", "\"line one\\nline two\\ttab\"");      /* text may hold line breaks */
}
END_TEST

START_TEST(test_options_rule)
{
    field_fails("voice", "\"\"", "\"voice\" must be 1-256 bytes without control characters");
    field_fails("voice", "\"alloy\\r\\nX-Evil: 1\"",
                "\"voice\" must be 1-256 bytes without control characters");
    field_fails("lang", "\"en\\u0000\"", "invalid JSON at line 1 column 72: \\u0000 is not allowed "
                "without JSON_ALLOW_NUL near '\"en\\u0000\"'");
    char *l257 = json_repeat("x", 257);
    field_fails("lang", l257, "\"lang\" must be 1-256 bytes without control characters");
    free(l257);
    field_ok("voice", "\"21m00Tcm4TlvDq8ikWAM\"");
    /* model: the same rule as voice */
    field_fails("model", "\"\"", "\"model\" must be 1-256 bytes without control characters");
    field_fails("model", "\"tts-1\\nX\"", "\"model\" must be 1-256 bytes without control characters");
    field_fails("model", "7", "\"model\" must be a string");
    field_ok("model", "\"fast\"");
}
END_TEST

START_TEST(test_format_rule)
{
    const char *want = "\"format\" must be one of wav, mp3, ulaw_8000, alaw_8000, wav_8000, "
                       "wav_16000";
    field_fails("format", "\"ogg\"", want);
    field_fails("format", "\"WAV\"", want);
    field_fails("format", "\"\"", want);
    field_fails("format", "\"wav \"", want);
    field_fails("format", "\"ulaw\"", want);
    field_fails("format", "\"ulaw_16000\"", want);
    field_fails("format", "\"pcm_8000\"", want);
    field_fails("format", "\"ULAW_8000\"", want);
    /* every name of the contract decodes and is kept as it was spelt */
    static const char *names[] = {"wav", "mp3", "ulaw_8000", "alaw_8000", "wav_8000", "wav_16000"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char quoted[32];
        snprintf(quoted, sizeof quoted, "\"%s\"", names[i]);
        decode_ok(with_field("format", quoted));
        ck_assert_str_eq(job.format, names[i]);
        job_free(&job);
    }
}
END_TEST

START_TEST(test_meta_rule)
{
    field_fails("meta", "[]", "\"meta\" must be an object");
    field_fails("meta", "\"phone\"", "\"meta\" must be an object");
    field_fails("meta", "42", "\"meta\" must be an object");
    field_fails("meta", "false", "\"meta\" must be an object");
    decode_ok(with_field("meta", "{\"a\":{\"b\":[1,2.5,null,true]},\"n\":\"\\u00e9\"}"));
    ck_assert_int_eq(json_integer_value(json_array_get(
                         json_object_get(json_object_get(job.meta, "a"), "b"), 0)), 1);
}
END_TEST

/* meta is measured as compact JSON: {"k":"<n bytes>"} is n + 8 bytes, so n = 16376 sits exactly
 * on JOB_META_MAX and one byte more is an invalid job; a big meta made of many fields counts
 * the same way. */
START_TEST(test_meta_size_limit)
{
    char meta[JOB_META_MAX + 64];
    char *v = json_repeat("x", JOB_META_MAX - 8);
    snprintf(meta, sizeof meta, "{\"k\":%s}", v);
    free(v);
    decode_ok(with_field("meta", meta));
    ck_assert_uint_eq(job_meta_size(job.meta), JOB_META_MAX);
    job_free(&job);
    v = json_repeat("x", JOB_META_MAX - 7);
    snprintf(meta, sizeof meta, "{\"k\":%s}", v);
    free(v);
    field_fails("meta", meta, "\"meta\" is 16385 bytes of JSON, over the limit of 16384");
    /* 20 KiB of spaces around small fields is not meta: the measure is the compact form */
    char *spaced = malloc(20480 + 16);
    ck_assert_ptr_nonnull(spaced);
    memset(spaced, ' ', 20480);
    memcpy(spaced + 20480, "{\"a\":1}", 8);
    spaced[20488] = '\0';
    field_ok("meta", spaced);
    free(spaced);
    ck_assert_uint_eq(job_meta_size(NULL), 0);
}
END_TEST

START_TEST(test_replay_rule)
{
    const char *msg = "\"replay\" must be an integer >= 0";
    field_fails("replay", "-1", msg);
    field_fails("replay", "1.5", msg);
    field_fails("replay", "\"2\"", msg);
    field_fails("replay", "2147483648", msg);
    decode_ok(with_field("replay", "2147483647"));
    ck_assert_int_eq(job.replay, 2147483647);
}
END_TEST

START_TEST(test_not_utf8)
{
    decode_fails(with_field("text", "\"caf\xe9\""), "not valid UTF-8");
    decode_fails(with_field("contact", "\"\xed\xa0\x80\""), "not valid UTF-8"); /* raw surrogate */
    decode_fails(with_field("text", "\"\xc0\xaf\""), "not valid UTF-8");       /* overlong '/' */
}
END_TEST

/* Escapes that would decode to invalid UTF-8 are refused by the JSON parser. */
START_TEST(test_bad_escapes)
{
    const char *cases[] = {"\"\\ud800\"", "\"\\udc00\"", "\"a\\ud800b\"", "\"\\ud800\\u0041\"",
                           "\"\\u0000\"", "\"\\x41\""};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *json = with_field("text", cases[i]);
        memset(&job, 0, sizeof job);
        ck_assert_int_eq(job_decode(json, strlen(json), LIMIT, &job, err, sizeof err), -1);
        ck_assert_msg(strncmp(err, "invalid JSON at line 1 column ", 30) == 0, "%s", err);
        ck_assert(zeroed(&job));
    }
}
END_TEST

START_TEST(test_invalid_json)
{
    decode_fails("", "invalid JSON at line 1 column 0: unexpected token near end of file");
    decode_fails("{\"v\":1,", "invalid JSON at line 1 column 7: string or '}' expected near end "
                 "of file");
    decode_fails("[1]", "a job must be a JSON object");
    decode_fails("\"job\"", "a job must be a JSON object");
    decode_fails("null", "a job must be a JSON object");
    /* Raw control characters and NUL bytes inside strings are not JSON. */
    const char raw_nul[] = "{\"v\":1,\"campaign\":\"c\",\"contact\":\"a\0b\",\"text\":\"t\"}";
    memset(&job, 0, sizeof job);
    ck_assert_int_eq(job_decode(raw_nul, sizeof raw_nul - 1, LIMIT, &job, err, sizeof err), -1);
    ck_assert(strncmp(err, "invalid JSON", 12) == 0);
    const char *raw_nl = with_field("contact", "\"a\nb\"");
    ck_assert_int_eq(job_decode(raw_nl, strlen(raw_nl), LIMIT, &job, err, sizeof err), -1);
    ck_assert(strncmp(err, "invalid JSON", 12) == 0);
    /* Trailing garbage and repeated keys. */
    const char *trail = "{\"v\":1,\"campaign\":\"c\",\"contact\":\"x\",\"text\":\"t\"} x";
    ck_assert_int_eq(job_decode(trail, strlen(trail), LIMIT, &job, err, sizeof err), -1);
    ck_assert(strncmp(err, "invalid JSON", 12) == 0);
    const char *dup = "{\"v\":1,\"campaign\":\"c\",\"contact\":\"x\",\"contact\":\"y\",\"text\":\"t\"}";
    ck_assert_int_eq(job_decode(dup, strlen(dup), LIMIT, &job, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "duplicate object key"));
}
END_TEST

START_TEST(test_length_is_honoured)
{
    /* Only data[0..len) is parsed: the same bytes cut short are incomplete JSON. */
    const char *json = with_field("text", "\"Hi\"");
    ck_assert_int_eq(job_decode(json, strlen(json) - 1, LIMIT, &job, err, sizeof err), -1);
    ck_assert(strncmp(err, "invalid JSON", 12) == 0);
}
END_TEST

START_TEST(test_error_late_frees_everything)
{
    /* Fails on the last rule, after every string was copied (LeakSanitizer checks the frees). */
    decode_fails("{\"v\":1,\"campaign\":\"c\",\"contact\":\"x\",\"text\":\"t\",\"voice\":\"v\","
                 "\"lang\":\"l\",\"format\":\"mp3\",\"meta\":{\"k\":1},\"enqueued_at\":\"now\","
                 "\"replay\":-3}", "\"replay\" must be an integer >= 0");
}
END_TEST

START_TEST(test_encode_order)
{
    struct buf out = {0};
    struct job j = {0};
    j.campaign = "spring-promo";
    j.contact = "c-000123";
    j.text = "Hi Ana, your order ships today.";
    j.voice = "alloy";
    j.lang = "en";
    j.model = "fast";
    j.format = "wav";
    j.meta = json_pack("{s:s}", "phone", "+15551230000");
    j.enqueued_at = "2026-11-22T18:00:00Z";
    j.replay = 2;
    job_encode(&j, &out);
    ck_assert_str_eq(out.data,
                     "{\"v\":1,\"campaign\":\"spring-promo\",\"contact\":\"c-000123\",\"text\":"
                     "\"Hi Ana, your order ships today.\",\"voice\":\"alloy\",\"lang\":\"en\","
                     "\"model\":\"fast\",\"format\":\"wav\",\"meta\":{\"phone\":\"+15551230000\"},\"enqueued_at\":"
                     "\"2026-11-22T18:00:00Z\",\"replay\":2}");
    json_decref(j.meta);
    /* Absent optionals are omitted; the buffer's earlier content stays. */
    buf_reset(&out);
    buf_puts(&out, "prefix ");
    struct job m = {.v = 1, .campaign = "c", .contact = "x", .text = "t"};
    job_encode(&m, &out);
    ck_assert_str_eq(out.data, "prefix {\"v\":1,\"campaign\":\"c\",\"contact\":\"x\",\"text\":\"t\","
                               "\"replay\":0}");
    buf_free(&out);
}
END_TEST

START_TEST(test_round_trip)
{
    struct job j = {0};
    j.v = 1;
    j.campaign = "Spring_2026.v-2";
    j.contact = "Jos\xc3\xa9 \"the\" \\ contact \xf0\x9f\x98\x80";
    j.text = "\xc2\xa1Hola Jos\xc3\xa9! Say \"hi\"\nback\\slash\ttab \xe2\x82\xac \xed\x9f\xbf";
    j.voice = "nova \xc3\xa9";
    j.lang = "es-MX";
    j.model = "gpt-4o-mini-tts";
    j.format = "mp3";
    j.meta = json_pack("{s:s, s:{s:[i,f,b,n]}, s:s}", "phone", "+1 555 \"0\"", "nested", "list",
                       7, 2.5, 1, "q", "\xe2\x80\xa8\\");
    j.enqueued_at = "2026-11-22T18:00:00.123Z";
    j.replay = 3;
    struct buf out = {0};
    job_encode(&j, &out);

    decode_ok(out.data);
    ck_assert_int_eq(job.v, 1);
    ck_assert_str_eq(job.campaign, j.campaign);
    ck_assert_str_eq(job.contact, j.contact);
    ck_assert_str_eq(job.text, j.text);
    ck_assert_str_eq(job.voice, j.voice);
    ck_assert_str_eq(job.lang, j.lang);
    ck_assert_str_eq(job.model, j.model);
    ck_assert_str_eq(job.format, j.format);
    ck_assert(json_equal(job.meta, j.meta));
    ck_assert_str_eq(job.enqueued_at, j.enqueued_at);
    ck_assert_int_eq(job.replay, 3);

    /* Encoding the decoded job gives the same bytes. */
    struct buf again = {0};
    job_encode(&job, &again);
    ck_assert_str_eq(again.data, out.data);
    buf_free(&again);
    buf_free(&out);
    json_decref(j.meta);
}
END_TEST

START_TEST(test_free)
{
    job_free(NULL);
    decode_ok(with_field("voice", "\"v\""));
    job_free(&job);
    ck_assert(zeroed(&job));
    job_free(&job); /* twice is harmless */
}
END_TEST

/* A job inside a bigger document (a DLQ entry) decodes from the parsed object, with the same
 * rules, and keeps its own reference to meta once the document is gone. */
START_TEST(test_decode_object)
{
    json_t *doc = json_loads("{\"job\":{\"v\":1,\"campaign\":\"c\",\"contact\":\"x\","
                             "\"text\":\"hi\",\"meta\":{\"k\":1}},\"reason\":\"r\"}", 0, NULL);
    ck_assert_ptr_nonnull(doc);
    ck_assert_int_eq(job_decode_object(json_object_get(doc, "job"), LIMIT, &job, err, sizeof err), 0);
    json_decref(doc);
    ck_assert_str_eq(job.contact, "x");
    ck_assert_int_eq(json_integer_value(json_object_get(job.meta, "k")), 1);
    job_free(&job);

    json_t *arr = json_array();
    ck_assert_int_eq(job_decode_object(arr, LIMIT, &job, err, sizeof err), -1);
    ck_assert_str_eq(err, "a job must be a JSON object");
    ck_assert(zeroed(&job));
    json_decref(arr);

    json_t *bad = json_pack("{s:i,s:s,s:s,s:s}", "v", 1, "campaign", "c/..", "contact", "x", "text", "t");
    ck_assert_int_eq(job_decode_object(bad, LIMIT, &job, err, sizeof err), -1);
    ck_assert_str_eq(err, "\"campaign\" must be 1-64 of [A-Za-z0-9._-], not \".\" or \"..\"");
    ck_assert(zeroed(&job));
    json_decref(bad);
}
END_TEST

/* The lifecycle and cost fields: priority, expires_at, dedup and variants decode, are checked
 * with a message naming the field, and survive encode -> decode. */
START_TEST(test_lifecycle_fields)
{
    decode_ok("{\"v\":1,\"campaign\":\"c\",\"contact\":\"x\",\"text\":\"hi\",\"priority\":\"high\","
              "\"expires_at\":\"2026-12-03T18:00:00+01:00\",\"dedup\":false,"
              "\"variants\":[{\"name\":\"live\",\"text\":\"Hello\"},{\"name\":\"voicemail\",\"text\":\"Call us\"}]}");
    ck_assert_int_eq(job.priority, JOB_PRIORITY_HIGH);
    ck_assert_int_eq(job.expires_at_ms, 1796317200000LL); /* 17:00:00Z */
    ck_assert(job.no_dedup);
    ck_assert_uint_eq(job.nvariants, 2);
    ck_assert_str_eq(job.variants[1].name, "voicemail");
    ck_assert_str_eq(job.variants[1].text, "Call us");
    struct buf out = {0};
    job_encode(&job, &out);
    ck_assert_ptr_nonnull(strstr(out.data, "\"priority\":\"high\",\"expires_at\":\"2026-12-03T17:00:00.000Z\","
                                           "\"dedup\":false,\"variants\":[{\"name\":\"live\",\"text\":\"Hello\"},"));
    job_free(&job);
    decode_ok(out.data);
    ck_assert_int_eq(job.expires_at_ms, 1796317200000LL);
    ck_assert_uint_eq(job.nvariants, 2);
    ck_assert_str_eq(job.variants[0].text, "Hello");
    buf_free(&out);
    job_free(&job);

    decode_ok("{\"v\":1,\"campaign\":\"c\",\"contact\":\"x\",\"text\":\"hi\",\"priority\":null}");
    ck_assert_int_eq(job.priority, JOB_PRIORITY_NORMAL);
    ck_assert_int_eq(job.expires_at_ms, 0);
    ck_assert(!job.no_dedup);
    ck_assert_ptr_null(job.variants);
    job_encode(&job, &out);
    ck_assert_ptr_null(strstr(out.data, "priority"));
    ck_assert_ptr_null(strstr(out.data, "dedup"));
    buf_free(&out);
}
END_TEST

START_TEST(test_lifecycle_rules)
{
#define J(tail) "{\"v\":1,\"campaign\":\"c\",\"contact\":\"x\",\"text\":\"hi\"," tail "}"
    decode_fails(J("\"priority\":\"urgent\""), "\"priority\" must be one of high, normal, low");
    decode_fails(J("\"expires_at\":\"2026-12-03 18:00\""),
                 "\"expires_at\" must be an RFC 3339 time with its offset (2026-12-03T18:00:00Z)");
    decode_fails(J("\"expires_at\":\"2026-12-03T18:00:00\""),
                 "\"expires_at\" must be an RFC 3339 time with its offset (2026-12-03T18:00:00Z)");
    decode_fails(J("\"dedup\":0"), "\"dedup\" must be true or false");
    decode_fails(J("\"variants\":[]"), "\"variants\" must be an array of 1-8 variants");
    decode_fails(J("\"variants\":{}"), "\"variants\" must be an array of 1-8 variants");
    decode_fails(J("\"variants\":[1]"), "\"variants\"[0] must be an object");
    decode_fails(J("\"variants\":[{\"name\":\"Live\",\"text\":\"a\"}]"),
                 "\"variants\"[0].name must be 1-32 of [a-z0-9_-]");
    decode_fails(J("\"variants\":[{\"name\":\"a\",\"text\":\"a\"},{\"name\":\"a\",\"text\":\"b\"}]"),
                 "\"variants\"[1].name \"a\" is repeated");
    decode_fails(J("\"variants\":[{\"name\":\"a\",\"text\":\"\"}]"),
                 "\"variants\"[0].text must be a non-empty string");
#undef J
    const char *longer = "{\"v\":1,\"campaign\":\"c\",\"contact\":\"x\",\"text\":\"hi\","
                         "\"variants\":[{\"name\":\"a\",\"text\":\"abcdef\"}]}";
    decode_fails_n(longer, strlen(longer), 5, "\"variants\"[0].text is 6 characters, over the limit of 5");
}
END_TEST

static Suite *job_suite(void)
{
    Suite *s = suite_create("job");
    TCase *tc = tcase_create("decode");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_minimal_defaults);
    tcase_add_test(tc, test_contract_example);
    tcase_add_test(tc, test_nulls_are_absent);
    tcase_add_test(tc, test_missing_fields);
    tcase_add_test(tc, test_version);
    tcase_add_test(tc, test_wrong_types);
    tcase_add_test(tc, test_campaign_rule);
    tcase_add_test(tc, test_contact_rule);
    tcase_add_test(tc, test_text_rule);
    tcase_add_test(tc, test_options_rule);
    tcase_add_test(tc, test_format_rule);
    tcase_add_test(tc, test_meta_rule);
    tcase_add_test(tc, test_meta_size_limit);
    tcase_add_test(tc, test_replay_rule);
    tcase_add_test(tc, test_not_utf8);
    tcase_add_test(tc, test_bad_escapes);
    tcase_add_test(tc, test_invalid_json);
    tcase_add_test(tc, test_length_is_honoured);
    tcase_add_test(tc, test_error_late_frees_everything);
    tcase_add_test(tc, test_free);
    tcase_add_test(tc, test_decode_object);
    tcase_add_test(tc, test_lifecycle_fields);
    tcase_add_test(tc, test_lifecycle_rules);
    suite_add_tcase(s, tc);
    tc = tcase_create("encode");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_encode_order);
    tcase_add_test(tc, test_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(job_suite)
