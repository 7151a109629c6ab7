/* check_parts.c - one job in several requests: planning (when a text splits, parts within the
 * limit, nothing of the text lost or duplicated, variants one child each and their file names),
 * and the children's way back (done, the DLQ naming the part or variant, orphans, a part
 * rendered again). */
#include "check_main.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "job.h"
#include "parts.h"
#include "task.h"
#include "utf8.h"
#include "xalloc.h"

/* A sentence of 50 code points ("é" is two bytes, so bytes and code points differ). */
#define SENTENCE "Caf\xC3\xA9 au lait, s'il vous pla\xC3\xAEt, merci bien, ok a.  "

/* A task as the engine holds it after the done-check: a valid job of this text. */
static struct task *job_task(const char *text)
{
    struct task *t = xcalloc(1, sizeof *t);
    t->valid = true;
    t->partition = 3;
    t->offset = 77;
    t->gen = 5;
    snprintf(t->key, sizeof t->key, "c-1");
    t->job.v = 1;
    t->job.campaign = xstrdup("camp");
    t->job.contact = xstrdup("c-1");
    t->job.text = xstrdup(text);
    t->job.voice = xstrdup("alloy");
    t->job.format = xstrdup("ulaw_8000");
    t->job.meta = json_pack("{s:s}", "phone", "+15550000");
    t->job.replay = 2;
    t->job.no_dedup = true;
    return t;
}

static char *repeat(const char *s, size_t n)
{
    struct buf b = {0};
    for (size_t i = 0; i < n; i++)
        buf_puts(&b, s);
    return buf_steal(&b);
}

static void add_variants(struct task *t, const char *const *names, const char *const *texts, size_t n)
{
    t->job.variants = xcalloc(n, sizeof *t->job.variants);
    t->job.nvariants = n;
    for (size_t i = 0; i < n; i++) {
        t->job.variants[i].name = xstrdup(names[i]);
        t->job.variants[i].text = xstrdup(texts[i]);
    }
}

static bool only_white(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strchr(" \t\n\r", s[i]))
            return false;
    return true;
}

/* The parts, in order, are pieces of text with only white space before, between and after:
 * together they are the whole text, nothing lost, nothing twice. */
static void assert_rebuilds(const struct task *t, const char *text, size_t max_chars)
{
    size_t at = 0, len = strlen(text);
    for (size_t i = 0; i < t->nchildren; i++) {
        const char *p = t->children[i]->job.text;
        size_t plen = strlen(p);
        ck_assert_msg(plen > 0, "part %zu empty", i);
        ck_assert_uint_le(utf8_count(p, plen), max_chars);
        ck_assert_msg(utf8_valid(p, plen), "part %zu cut inside a UTF-8 sequence", i);
        const char *found = strstr(text + at, p);
        ck_assert_msg(found != NULL, "part %zu is not the text's next piece", i);
        ck_assert_msg(only_white(text + at, (size_t)(found - (text + at))), "text lost before part %zu", i);
        at = (size_t)(found - text) + plen;
    }
    ck_assert_msg(only_white(text + at, len - at), "text lost after the last part");
}

START_TEST(short_text_renders_whole)
{
    struct task *t = job_task("Hello there.");
    ck_assert_uint_eq(parts_expand(t, 4096), 0);
    ck_assert_uint_eq(parts_expand(t, 12), 0); /* exactly the limit fits */
    ck_assert_uint_eq(parts_expand(t, 0), 0);  /* no limit */
    ck_assert_ptr_null(t->children);
    ck_assert(!parts_has_variants(t));
    task_free(t);
}
END_TEST

START_TEST(long_text_splits_within_the_limit)
{
    char *text = repeat(SENTENCE, 200); /* 200 x 50 = 10,000 code points */
    ck_assert_uint_eq(utf8_count(text, strlen(text)), 10000);
    struct task *t = job_task(text);
    ck_assert_uint_eq(parts_expand(t, 4096), 3);
    ck_assert_uint_eq(t->nchildren, 3);
    ck_assert_uint_eq(t->pending, 3);
    assert_rebuilds(t, text, 4096);
    for (size_t i = 0; i < 3; i++) {
        const struct task *c = t->children[i];
        ck_assert_ptr_eq(c->parent, t);
        ck_assert_uint_eq(c->child_index, i);
        ck_assert(parts_is_child(c));
        ck_assert(c->valid);
        ck_assert_int_eq(c->partition, 3);
        ck_assert_int_eq(c->offset, 77);
        ck_assert_uint_eq(c->gen, 5);
        ck_assert_str_eq(c->key, "c-1");
        /* an ordinary job of its own: what the render-once cache keys on is all there */
        ck_assert_str_eq(c->job.campaign, "camp");
        ck_assert_str_eq(c->job.contact, "c-1");
        ck_assert_str_eq(c->job.voice, "alloy");
        ck_assert_ptr_null(c->job.lang);
        ck_assert_str_eq(c->job.format, "ulaw_8000");
        ck_assert(json_equal(c->job.meta, t->job.meta));
        ck_assert_int_eq(c->job.replay, 2);
        ck_assert(c->job.no_dedup);
        ck_assert_uint_eq(c->job.nvariants, 0);
        ck_assert_str_eq(c->variant, "");
        ck_assert_uint_eq(parts_expand(t->children[i], 4096), 0); /* a part never splits again */
    }
    /* greedy at sentence ends: 81 + 81 + 38 sentences */
    ck_assert_uint_eq(utf8_count(t->children[0]->job.text, strlen(t->children[0]->job.text)), 81 * 50 - 2);
    ck_assert_uint_eq(parts_expand(t, 4096), 3); /* asked again: the same children */
    task_free(t);
    free(text);
}
END_TEST

START_TEST(one_char_over_the_limit_splits)
{
    char *text = repeat("ab cd. ", 10); /* 70 code points, the last a space */
    struct task *t = job_task(text);
    ck_assert_uint_eq(parts_expand(t, 69), 1); /* over only by white space: one part, trimmed */
    ck_assert_uint_eq(strlen(t->children[0]->job.text), 69);
    task_free(t);
    text[69] = '\0';
    t = job_task(text);
    ck_assert_uint_eq(parts_expand(t, 68), 2);
    assert_rebuilds(t, text, 68);
    ck_assert_str_eq(t->children[1]->job.text, "ab cd.");
    task_free(t);
    free(text);
}
END_TEST

START_TEST(too_many_parts_renders_whole)
{
    char *text = repeat("Word. ", 200); /* 1200 code points: 200 parts at a limit of 6 */
    struct task *t = job_task(text);
    ck_assert_uint_eq(parts_expand(t, 6), 0);
    ck_assert_uint_eq(parts_expand(t, 30), 40); /* five words a part: within PARTS_MAX */
    task_free(t);
    free(text);
}
END_TEST

START_TEST(variants_one_child_each)
{
    struct task *t = job_task("Hi, this is the live one.");
    const char *names[] = {"live", "voicemail"};
    const char *texts[] = {"Hi, this is the live one.", "Sorry we missed you."};
    add_variants(t, names, texts, 2);
    ck_assert_uint_eq(parts_expand(t, 4096), 2);
    ck_assert(parts_has_variants(t));
    for (size_t i = 0; i < 2; i++) {
        struct task *v = t->children[i];
        ck_assert_str_eq(v->variant, names[i]);
        ck_assert_str_eq(v->job.text, texts[i]);
        ck_assert_uint_eq(v->job.nvariants, 0);
        ck_assert_ptr_null(v->job.variants);
        ck_assert(!parts_has_variants(v));
        ck_assert_uint_eq(parts_expand(v, 4096), 0);
    }
    char ext[64];
    parts_file_ext(t->children[0], "wav", ext, sizeof ext);
    ck_assert_str_eq(ext, "live.wav");
    parts_file_ext(t->children[1], "mp3", ext, sizeof ext);
    ck_assert_str_eq(ext, "voicemail.mp3");
    parts_file_ext(t, "wav", ext, sizeof ext);
    ck_assert_str_eq(ext, "wav");
    parts_file_ext(t->children[1], "wav", ext, 8); /* does not fit: nothing */
    ck_assert_str_eq(ext, "");
    task_free(t);
}
END_TEST

START_TEST(long_variant_splits_in_turn)
{
    char *longtext = repeat(SENTENCE, 100); /* 5000 */
    struct task *t = job_task("Short.");
    const char *names[] = {"live", "voicemail"};
    const char *texts[] = {"Short.", longtext};
    add_variants(t, names, texts, 2);
    /* a job with variants splits into its variants whatever the limit */
    ck_assert_uint_eq(parts_expand(t, 4096), 2);
    ck_assert_uint_eq(parts_expand(t->children[0], 4096), 0);
    ck_assert_uint_eq(parts_expand(t->children[1], 4096), 2);
    assert_rebuilds(t->children[1], longtext, 4096);
    ck_assert_ptr_eq(parts_root(t->children[1]->children[1]), t);
    ck_assert_str_eq(t->children[1]->children[0]->variant, "");
    task_free(t);
    free(longtext);
}
END_TEST

static void render(struct task *c, const char *provider, int attempts)
{
    c->outcome = OUTCOME_DONE;
    c->attempts = attempts;
    snprintf(c->provider, sizeof c->provider, "%s", provider);
}

START_TEST(all_back_completes_the_job)
{
    char *text = repeat(SENTENCE, 200);
    struct task *t = job_task(text);
    ck_assert_uint_eq(parts_expand(t, 4096), 3);
    render(t->children[2], "p2", 2);
    ck_assert_ptr_null(parts_child_back(t->children[2]));
    render(t->children[0], "p1", 1);
    ck_assert_ptr_null(parts_child_back(t->children[0]));
    ck_assert_int_eq(t->outcome, OUTCOME_NONE);
    render(t->children[1], "p2", 1);
    ck_assert_ptr_eq(parts_child_back(t->children[1]), t);
    ck_assert_int_eq(t->outcome, OUTCOME_DONE);
    ck_assert_str_eq(t->provider, "p1"); /* the first part's */
    ck_assert_int_eq(t->attempts, 4);
    ck_assert_uint_eq(t->pending, 0);
    task_free(t);
    free(text);
}
END_TEST

START_TEST(a_failed_part_sends_the_job_to_the_dlq)
{
    char *text = repeat(SENTENCE, 400); /* 20,000: 5 parts */
    struct task *t = job_task(text);
    ck_assert_uint_eq(parts_expand(t, 4096), 5);
    struct task *out[5];
    memcpy(out, t->children, sizeof out);
    render(out[0], "p1", 1);
    ck_assert_ptr_null(parts_child_back(out[0]));
    task_note_attempt(out[2], "p1", 500, "retry", "HTTP 500 server_error", 0.1);
    out[2]->attempts = 3;
    task_set_dlq(out[2], "retry_exhausted", NULL);
    ck_assert_ptr_eq(parts_child_back(out[2]), t); /* at once: the others are not waited for */
    ck_assert_int_eq(t->outcome, OUTCOME_DLQ);
    ck_assert_str_eq(t->reason, "retry_exhausted");
    ck_assert_str_eq(t->error, "part 3 of 5: HTTP 500 server_error");
    ck_assert_str_eq(t->provider, "p1");
    ck_assert_int_eq(t->http_status, 500);
    ck_assert_int_eq(t->attempts, 4);
    ck_assert_int_eq(t->failed_part, 3);
    ck_assert_int_eq(t->failed_parts, 5);
    /* back ones stay the job's; the ones still out are orphans now */
    ck_assert_ptr_eq(t->children[0], out[0]);
    ck_assert_ptr_eq(t->children[2], out[2]);
    size_t orphans[] = {1, 3, 4};
    for (size_t i = 0; i < 3; i++) {
        struct task *o = out[orphans[i]];
        ck_assert(o->orphan);
        ck_assert_ptr_null(o->parent);
        ck_assert_ptr_null(t->children[orphans[i]]);
        task_free(o);
    }
    char *entry = task_dlq_entry(t, 1796280302403);
    json_t *e = json_loads(entry, 0, NULL);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(json_integer_value(json_object_get(e, "part")), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(e, "parts")), 5);
    ck_assert_ptr_null(json_object_get(e, "variant"));
    ck_assert_str_eq(json_string_value(json_object_get(e, "error")), "part 3 of 5: HTTP 500 server_error");
    ck_assert_uint_eq(json_array_size(json_object_get(e, "history")), 1);
    /* the job replayed is the whole job, not the part */
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(e, "job"), "text")), text);
    json_decref(e);
    free(entry);
    task_free(t);
    free(text);
}
END_TEST

START_TEST(a_failed_variant_part_names_both)
{
    char *longtext = repeat(SENTENCE, 200); /* 3 parts */
    struct task *t = job_task("Short.");
    const char *names[] = {"live", "voicemail"};
    const char *texts[] = {"Short.", longtext};
    add_variants(t, names, texts, 2);
    ck_assert_uint_eq(parts_expand(t, 4096), 2);
    struct task *live = t->children[0], *vm = t->children[1];
    ck_assert_uint_eq(parts_expand(vm, 4096), 3);
    struct task *p0 = vm->children[0], *p1 = vm->children[1], *p2 = vm->children[2];
    render(p0, "p1", 1);
    ck_assert_ptr_null(parts_child_back(p0));
    task_set_dlq(p1, "non_retryable", "HTTP 400 bad input");
    ck_assert_ptr_eq(parts_child_back(p1), vm);
    ck_assert_str_eq(vm->error, "part 2 of 3: HTTP 400 bad input");
    ck_assert(p2->orphan);
    ck_assert_ptr_eq(parts_child_back(vm), t);
    ck_assert_int_eq(t->outcome, OUTCOME_DLQ);
    ck_assert_str_eq(t->reason, "non_retryable");
    ck_assert_str_eq(t->error, "variant voicemail: part 2 of 3: HTTP 400 bad input");
    ck_assert_str_eq(t->failed_variant, "voicemail");
    ck_assert_int_eq(t->failed_part, 2);
    ck_assert_int_eq(t->failed_parts, 3);
    ck_assert(live->orphan); /* still out: abandoned */
    ck_assert_ptr_null(t->children[0]);
    char *entry = task_dlq_entry(t, 1796280302403);
    json_t *e = json_loads(entry, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(e, "variant")), "voicemail");
    ck_assert_int_eq(json_integer_value(json_object_get(e, "part")), 2);
    json_decref(e);
    free(entry);
    task_free(live);
    task_free(p2);
    task_free(t);
    free(longtext);
}
END_TEST

START_TEST(abandon_orphans_only_what_is_out)
{
    char *longtext = repeat(SENTENCE, 200);
    struct task *t = job_task("Short.");
    const char *names[] = {"live", "voicemail"};
    const char *texts[] = {"Short.", longtext};
    add_variants(t, names, texts, 2);
    parts_expand(t, 4096);
    struct task *live = t->children[0], *vm = t->children[1];
    parts_expand(vm, 4096);
    struct task *p1 = vm->children[1], *p2 = vm->children[2];
    render(live, "p1", 1);
    ck_assert_ptr_null(parts_child_back(live));
    render(vm->children[0], "p1", 1);
    ck_assert_ptr_null(parts_child_back(vm->children[0]));
    parts_abandon(t);
    ck_assert_uint_eq(t->pending, 0);
    ck_assert_ptr_eq(t->children[0], live);  /* back: kept */
    ck_assert_ptr_eq(t->children[1], vm);    /* in no queue: kept, its out children gone */
    ck_assert(!vm->orphan);
    ck_assert(p1->orphan && p2->orphan);
    ck_assert_ptr_null(vm->children[1]);
    ck_assert_ptr_null(vm->children[2]);
    ck_assert_ptr_nonnull(vm->children[0]);
    task_free(p1);
    task_free(p2);
    task_free(t); /* frees live, vm and vm's first part */
    free(longtext);
}
END_TEST

/* A variant rendered (or copied) for the render-once cache is written alone before it goes back
 * to its job: complete but out, it is abandoned like a child rendering, its parts with it. */
START_TEST(abandon_orphans_a_complete_child_not_back)
{
    char *longtext = repeat(SENTENCE, 200);
    struct task *t = job_task("Short.");
    const char *names[] = {"live", "voicemail"};
    const char *texts[] = {"Short.", longtext};
    add_variants(t, names, texts, 2);
    parts_expand(t, 4096);
    struct task *live = t->children[0], *vm = t->children[1];
    parts_expand(vm, 4096);
    render(live, "p1", 1); /* done, being written alone: not back */
    struct task *done = NULL;
    for (size_t i = 0; i < 3; i++) {
        render(vm->children[i], "p1", 1);
        done = parts_child_back(vm->children[i]);
    }
    ck_assert_ptr_eq(done, vm); /* complete, being written alone: not back */
    ck_assert(!live->back && !vm->back && vm->children[0]->back);
    parts_abandon(t);
    ck_assert(live->orphan && vm->orphan);
    ck_assert_ptr_null(t->children[0]);
    ck_assert_ptr_null(t->children[1]);
    ck_assert_ptr_nonnull(vm->children[2]); /* its parts go with it */
    task_free(live);
    task_free(vm);
    task_free(t);
    free(longtext);
}
END_TEST

/* A child rendered again after the writer could not use it is out again: abandoned if need be. */
START_TEST(reopened_child_is_out_again)
{
    struct task *t = job_task("Short.");
    const char *names[] = {"live", "voicemail"};
    const char *texts[] = {"Short.", "Call us back."};
    add_variants(t, names, texts, 2);
    parts_expand(t, 4096);
    struct task *live = t->children[0], *vm = t->children[1];
    render(live, "p1", 1);
    ck_assert_ptr_null(parts_child_back(live));
    render(vm, "p1", 1);
    ck_assert_ptr_eq(parts_child_back(vm), t);
    ck_assert(vm->back);
    vm->outcome = OUTCOME_NONE; /* not convertible */
    struct task *again[4];
    ck_assert_uint_eq(parts_reopen(t, again, 4), 1);
    ck_assert_ptr_eq(again[0], vm);
    ck_assert(!vm->back);
    parts_abandon(t);
    ck_assert(vm->orphan);
    ck_assert_ptr_eq(t->children[0], live);
    task_free(vm);
    task_free(t);
}
END_TEST

START_TEST(unusable_audio_renders_that_part_again)
{
    char *longtext = repeat(SENTENCE, 200);
    struct task *t = job_task("Short.");
    const char *names[] = {"live", "voicemail"};
    const char *texts[] = {"Short.", longtext};
    add_variants(t, names, texts, 2);
    parts_expand(t, 4096);
    struct task *live = t->children[0], *vm = t->children[1];
    parts_expand(vm, 4096);
    render(live, "p1", 1);
    parts_child_back(live);
    struct task *done = NULL;
    for (size_t i = 0; i < 3; i++) {
        render(vm->children[i], "p1", 1);
        done = parts_child_back(vm->children[i]);
    }
    ck_assert_ptr_eq(done, vm);
    ck_assert_ptr_eq(parts_child_back(vm), t);
    ck_assert_int_eq(t->outcome, OUTCOME_DONE);
    /* the writer could not use part 2 of the voicemail */
    vm->children[1]->outcome = OUTCOME_NONE;
    t->outcome = OUTCOME_NONE;
    struct task *again[8];
    ck_assert_uint_eq(parts_reopen(t, again, 8), 1);
    ck_assert_ptr_eq(again[0], vm->children[1]);
    ck_assert_uint_eq(t->pending, 1);
    ck_assert_uint_eq(vm->pending, 1);
    ck_assert_int_eq(vm->outcome, OUTCOME_NONE);
    ck_assert_int_eq(live->outcome, OUTCOME_DONE);
    render(again[0], "p2", 1);
    ck_assert_ptr_eq(parts_child_back(again[0]), vm);
    ck_assert_ptr_eq(parts_child_back(vm), t);
    ck_assert_int_eq(t->outcome, OUTCOME_DONE);
    task_free(t);
    free(longtext);
}
END_TEST

static Suite *parts_suite(void)
{
    Suite *s = suite_create("parts");
    TCase *tc = tcase_create("plan");
    tcase_add_test(tc, short_text_renders_whole);
    tcase_add_test(tc, long_text_splits_within_the_limit);
    tcase_add_test(tc, one_char_over_the_limit_splits);
    tcase_add_test(tc, too_many_parts_renders_whole);
    tcase_add_test(tc, variants_one_child_each);
    tcase_add_test(tc, long_variant_splits_in_turn);
    suite_add_tcase(s, tc);
    tc = tcase_create("back");
    tcase_add_test(tc, all_back_completes_the_job);
    tcase_add_test(tc, a_failed_part_sends_the_job_to_the_dlq);
    tcase_add_test(tc, a_failed_variant_part_names_both);
    tcase_add_test(tc, abandon_orphans_only_what_is_out);
    tcase_add_test(tc, abandon_orphans_a_complete_child_not_back);
    tcase_add_test(tc, reopened_child_is_out_again);
    tcase_add_test(tc, unusable_audio_renders_that_part_again);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(parts_suite)
