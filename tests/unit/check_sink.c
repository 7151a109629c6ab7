/* check_sink.c - unit tests for sink.c: files appear whole, under their contact's name, inside
 * their campaign's folder, and nothing else is ever left in that folder. Runs in a fresh
 * directory under $TMPDIR per test. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "sink.h"

static char root[256];
static char err[512];

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/check_sink.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(root));
}

static void teardown(void)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    ck_assert_int_eq(system(cmd), 0);
}

/* Names in the campaign folder, sorted and joined by spaces ("" when empty or missing). */
static const char *listing(const char *campaign)
{
    static char out[8192];
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/%s", root, campaign);
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i]->d_name, ".") != 0 && strcmp(names[i]->d_name, "..") != 0) {
            if (out[0])
                strcat(out, " ");
            strcat(out, names[i]->d_name);
        }
        free(names[i]);
    }
    if (n >= 0)
        free(names);
    return out;
}

static const char *content(const char *campaign, const char *file)
{
    static char out[256];
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s/%s", root, campaign, file);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    fclose(f);
    return out;
}

static void stage(struct sink *s, const char *campaign, const char *contact, const char *data)
{
    int rc = sink_stage(s, campaign, contact, strlen(contact), "wav", data, strlen(data), err, sizeof err);
    ck_assert_msg(rc == 0, "stage %s: %s", contact, err);
}

START_TEST(test_synced_batch_appears_at_commit)
{
    struct sink *s = sink_new(root, true);
    stage(s, "camp", "c-1", "one");
    stage(s, "camp", "c-2", "two");
    ck_assert_str_eq(listing("camp"), ""); /* written aside: no name yet, not even a temporary */
    ck_assert_int_eq(sink_commit(s, err, sizeof err), 0);
    ck_assert_str_eq(listing("camp"), "c-1.wav c-2.wav");
    ck_assert_str_eq(content("camp", "c-1.wav"), "one");
    ck_assert_str_eq(content("camp", "c-2.wav"), "two");
    ck_assert_int_eq(sink_commit(s, err, sizeof err), 0); /* an empty batch is a no-op */
    sink_free(s);
}
END_TEST

START_TEST(test_unsynced_file_appears_at_once)
{
    struct sink *s = sink_new(root, false);
    stage(s, "camp", "c-1", "one");
    ck_assert_str_eq(listing("camp"), "c-1.wav");
    ck_assert_str_eq(content("camp", "c-1.wav"), "one");
    ck_assert_int_eq(sink_commit(s, err, sizeof err), 0);
    sink_free(s);
}
END_TEST

/* A contact rendered twice: the second file replaces the first whole, for both modes. */
START_TEST(test_existing_name_is_replaced)
{
    for (int fsync = 0; fsync < 2; fsync++) {
        struct sink *s = sink_new(root, fsync);
        stage(s, "camp", "c-1", fsync ? "third" : "first");
        ck_assert_int_eq(sink_commit(s, err, sizeof err), 0);
        stage(s, "camp", "c-1", fsync ? "fourth" : "second");
        ck_assert_int_eq(sink_commit(s, err, sizeof err), 0);
        ck_assert_str_eq(listing("camp"), "c-1.wav");
        ck_assert_str_eq(content("camp", "c-1.wav"), fsync ? "fourth" : "second");
        sink_free(s);
    }
}
END_TEST

/* A staged batch that is never committed (the consumer stopping) leaves nothing behind. */
START_TEST(test_uncommitted_leaves_nothing)
{
    struct sink *s = sink_new(root, true);
    stage(s, "camp", "c-1", "one");
    stage(s, "camp", "c-2", "two");
    sink_free(s);
    ck_assert_str_eq(listing("camp"), "");
}
END_TEST

/* More files than the sink holds open: the early ones are put in place, none is lost. */
START_TEST(test_big_batch)
{
    struct sink *s = sink_new(root, true);
    char contact[32];
    for (int i = 0; i < 700; i++) {
        snprintf(contact, sizeof contact, "c-%04d", i);
        stage(s, "camp", contact, contact);
    }
    ck_assert_int_eq(sink_commit(s, err, sizeof err), 0);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/camp", root);
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    ck_assert_int_eq(n, 700 + 2);
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    ck_assert_str_eq(content("camp", "c-0699.wav"), "c-0699");
    sink_free(s);
}
END_TEST

/* A contact id that names a path lands inside its campaign's folder under its digest name. */
START_TEST(test_hostile_contact_stays_inside)
{
    struct sink *s = sink_new(root, false);
    stage(s, "camp", "../../etc/evil", "x");
    const char *l = listing("camp");
    ck_assert_msg(strncmp(l, "sha256=", 7) == 0 && strchr(l, ' ') == NULL, "listing: %s", l);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/etc", root);
    ck_assert_int_ne(access(path, F_OK), 0);
    sink_free(s);
}
END_TEST

/* The output folder cannot be made: a clear error naming it, nothing staged. */
START_TEST(test_unwritable_output)
{
    char file[PATH_MAX];
    snprintf(file, sizeof file, "%s/not-a-dir", root);
    FILE *f = fopen(file, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    struct sink *s = sink_new(file, true);
    ck_assert_int_eq(sink_stage(s, "camp", "c-1", 3, "wav", "x", 1, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "not-a-dir") != NULL, "err: %s", err);
    ck_assert_int_eq(sink_commit(s, err, sizeof err), 0);
    sink_free(s);
}
END_TEST

/* The campaign's folder vanishes (an operator cleaning up) or is blocked: the stage fails with a
 * clear error, and once the path is free again the folder is made anew. */
START_TEST(test_folder_made_again)
{
    struct sink *s = sink_new(root, false);
    stage(s, "camp", "c-1", "one");
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/camp", root);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    FILE *f = fopen(dir, "w"); /* a file where the folder was */
    ck_assert_ptr_nonnull(f);
    fclose(f);
    ck_assert_int_eq(sink_stage(s, "camp", "c-2", 3, "wav", "two", 3, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "camp") != NULL, "err: %s", err);
    ck_assert_int_eq(unlink(dir), 0);
    stage(s, "camp", "c-2", "two");
    ck_assert_str_eq(listing("camp"), "c-2.wav");
    sink_free(s);
}
END_TEST

/* sink_uri names a file absolutely, from the working directory of the moment the sink was
 * made ("./out" -> file:///ROOT/out/...), without asking for it again per file. */
START_TEST(test_uri_absolute_from_start)
{
    char cwd[PATH_MAX], real[PATH_MAX], uri[PATH_MAX + 16], want[PATH_MAX + 64];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_ptr_nonnull(realpath(root, real));
    ck_assert_int_eq(chdir(root), 0);
    struct sink *s = sink_new("./out", false);
    ck_assert_int_eq(chdir("/"), 0);
    sink_uri(s, "camp", "c-1", 3, "wav", uri, sizeof uri);
    snprintf(want, sizeof want, "file://%s/out/camp/c-1.wav", real);
    ck_assert_str_eq(uri, want);
    sink_free(s);
    s = sink_new(root, false);
    sink_uri(s, "camp", "a/b", 3, "mp3", uri, sizeof uri);
    snprintf(want, sizeof want, "file://%s/camp/sha256=c14cddc033f64b9dea80ea675cf280a015e672516090a5626781153dc68fea11.mp3", root);
    ck_assert_str_eq(uri, want);
    sink_free(s);
    ck_assert_int_eq(chdir(cwd), 0);
}
END_TEST

static Suite *sink_suite(void)
{
    Suite *s = suite_create("sink");
    TCase *tc = tcase_create("files");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_synced_batch_appears_at_commit);
    tcase_add_test(tc, test_unsynced_file_appears_at_once);
    tcase_add_test(tc, test_existing_name_is_replaced);
    tcase_add_test(tc, test_uncommitted_leaves_nothing);
    tcase_add_test(tc, test_big_batch);
    tcase_add_test(tc, test_hostile_contact_stays_inside);
    tcase_add_test(tc, test_unwritable_output);
    tcase_add_test(tc, test_folder_made_again);
    tcase_add_test(tc, test_uri_absolute_from_start);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(sink_suite)
