/* check_sink_copy.c - render-once copies through the file sink (sink_stage_copy): a copy is a
 * hard link of the source under the contact's own name, in place after the commit and nothing
 * else left in the folder; the contact that rendered the source is left as it is; a source that
 * is missing, replaced (another size) or of another kind of store is "gone" without failing the
 * batch; across file systems the bytes are copied. A fresh directory under $TMPDIR per test. */
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
    snprintf(root, sizeof root, "%s/check_sink_copy.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(root));
}

static void teardown(void)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    ck_assert_int_eq(system(cmd), 0);
}

/* Writes contact's file in campaign through s and returns its uri (static buffer). */
static const char *render(struct sink *s, const char *campaign, const char *contact, const char *data)
{
    static char uri[PATH_MAX + 16];
    ck_assert_int_eq(sink_stage(s, campaign, contact, strlen(contact), "wav", data, strlen(data), err, sizeof err), 0);
    ck_assert_msg(sink_commit(s, err, sizeof err) == 0, "%s", err);
    sink_uri(s, campaign, contact, strlen(contact), "wav", uri, sizeof uri);
    return uri;
}

static int copy(struct sink *s, const char *campaign, const char *contact, const char *uri, uint64_t bytes,
                bool *gone)
{
    int rc = sink_stage_copy(s, campaign, contact, strlen(contact), "wav", uri, bytes, gone, err, sizeof err);
    if (rc == 0)
        rc = sink_commit(s, err, sizeof err);
    return rc;
}

static struct stat stat_of(const char *campaign, const char *file)
{
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s/%s", root, campaign, file);
    ck_assert_msg(stat(path, &st) == 0, "%s missing", path);
    return st;
}

static bool exists(const char *campaign, const char *file)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s/%s", root, campaign, file);
    return access(path, F_OK) == 0;
}

/* Entries in the campaign's folder, hidden ones included (0 when it is missing). */
static int entries(const char *campaign)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/%s", root, campaign);
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d)) != NULL;)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    if (d)
        closedir(d);
    return n;
}

START_TEST(test_copy_is_a_link)
{
    for (int fsync = 0; fsync <= 1; fsync++) {
        struct sink *s = sink_new(root, fsync);
        const char *camp = fsync ? "synced" : "plain";
        char uri[PATH_MAX + 16];
        snprintf(uri, sizeof uri, "%s", render(s, camp, "first", "RIFFaudio"));
        bool gone = true;
        ck_assert_msg(copy(s, camp, "second", uri, 9, &gone) == 0, "%s", err);
        ck_assert(!gone);
        struct stat a = stat_of(camp, "first.wav"), b = stat_of(camp, "second.wav");
        ck_assert_int_eq(a.st_ino, b.st_ino);
        ck_assert_int_eq(b.st_nlink, 2);
        ck_assert_int_eq(entries(camp), 2); /* nothing left aside */
        /* another campaign's contact links the same audio */
        ck_assert(copy(s, "other", "x", uri, 9, &gone) == 0 && !gone);
        ck_assert_int_eq(stat_of("other", "x.wav").st_ino, a.st_ino);
        /* a name that exists already is replaced */
        render(s, camp, "third", "RIFFolder!");
        ck_assert(copy(s, camp, "third", uri, 9, &gone) == 0 && !gone);
        ck_assert_int_eq(stat_of(camp, "third.wav").st_ino, a.st_ino);
        sink_free(s);
    }
}
END_TEST

START_TEST(test_copy_onto_its_source)
{
    struct sink *s = sink_new(root, true);
    const char *uri = render(s, "c", "first", "RIFFaudio");
    bool gone = true;
    ck_assert(copy(s, "c", "first", uri, 9, &gone) == 0 && !gone);
    ck_assert_int_eq(stat_of("c", "first.wav").st_nlink, 1);
    ck_assert_int_eq(entries("c"), 1);
    sink_free(s);
}
END_TEST

START_TEST(test_source_gone)
{
    struct sink *s = sink_new(root, true);
    char uri[PATH_MAX + 16];
    snprintf(uri, sizeof uri, "%s", render(s, "c", "first", "RIFFaudio"));
    bool gone = false;
    ck_assert(copy(s, "c", "two", uri, 10, &gone) == 0); /* replaced: another size */
    ck_assert(gone);
    ck_assert(!exists("c", "two.wav"));
    gone = false;
    ck_assert(copy(s, "c", "two", "s3://bucket/c/first.wav", 9, &gone) == 0); /* another store's */
    ck_assert(gone);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/c/first.wav", root);
    ck_assert_int_eq(unlink(path), 0);
    gone = false;
    ck_assert(copy(s, "c", "two", uri, 9, &gone) == 0); /* deleted */
    ck_assert(gone);
    ck_assert_int_eq(entries("c"), 0);
    sink_free(s);
}
END_TEST

/* A source on another file system (tmpfs /dev/shm when $TMPDIR is not): the bytes are copied. */
START_TEST(test_copy_across_file_systems)
{
    char shm[] = "/dev/shm/check_sink_copy.XXXXXX";
    if (!mkdtemp(shm))
        return; /* no tmpfs here: nothing to show */
    struct sink *src = sink_new(shm, false), *s = sink_new(root, true);
    const char *uri = render(src, "c", "first", "RIFFaudio");
    struct stat a, b;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/c/first.wav", shm);
    ck_assert_int_eq(stat(path, &a), 0);
    ck_assert_int_eq(stat(root, &b), 0);
    bool gone = true;
    int rc = copy(s, "c", "two", uri, 9, &gone);
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert(!gone);
    struct stat c = stat_of("c", "two.wav");
    ck_assert_int_eq(c.st_size, 9);
    if (a.st_dev != b.st_dev)
        ck_assert_int_ne(c.st_ino, a.st_ino); /* a copy, not a link */
    sink_free(src);
    sink_free(s);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", shm);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static Suite *sink_copy_suite(void)
{
    Suite *s = suite_create("sink_copy");
    TCase *tc = tcase_create("files");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_copy_is_a_link);
    tcase_add_test(tc, test_copy_onto_its_source);
    tcase_add_test(tc, test_source_gone);
    tcase_add_test(tc, test_copy_across_file_systems);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(sink_copy_suite)
