/* sink_file.c - the sink's file backend: whole files, written aside, synced, linked into place.
 * See sink.h for the guarantees and sink_backend.h for the backend interface. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "sink_backend.h"
#include "xalloc.h"

/* A file written aside: an unnamed O_TMPFILE inode (fd >= 0), linked to its name at commit, or
 * a hidden temporary name (fd < 0) renamed into place, where O_TMPFILE or /proc is missing. */
struct staged {
    int  fd;
    char tmp[PATH_MAX];
    char final[PATH_MAX];
};

struct file_sink {
    char          *dir;            /* as configured: paths for logs keep the operator's form */
    char          *uri_base;       /* "file://" + the absolute dir ("" when getcwd failed) */
    bool           fsync;
    bool           no_tmpfile;     /* the file system (or /proc) cannot do unnamed files */
    bool           no_empty_path;  /* linkat(AT_EMPTY_PATH) refused: link through /proc */
    struct staged *items;
    size_t         n, cap;
    unsigned long  seq;            /* unique temp names within this process */
    char           last_campaign[72];  /* campaign folder known to exist */
};

/* Files held open (unnamed) until the next commit: the engine stages at most a batch, but a
 * bound keeps any caller far from the descriptor limit. */
#define SINK_MAX_HELD 256

/* "file://" and the absolute form of dir, once: the working directory does not change under a
 * running consumer, and a getcwd per finished job was a system call for nothing. Leading "./"
 * and trailing slashes are dropped ("./voxcast-audio/" -> "file:///CWD/voxcast-audio"). "" when
 * the working directory cannot be read (sink_uri then writes ""). */
static char *uri_base_of(const char *dir)
{
    char cwd[PATH_MAX], out[2 * PATH_MAX];
    int n = -1;
    if (dir[0] == '/') {
        n = snprintf(out, sizeof out, "file://%s", dir);
    } else if (getcwd(cwd, sizeof cwd)) {
        while (strncmp(dir, "./", 2) == 0)
            dir += 2 + strspn(dir + 2, "/");
        bool here = dir[0] == '\0' || strcmp(dir, ".") == 0;
        n = snprintf(out, sizeof out, "file://%s%s%s", strcmp(cwd, "/") == 0 ? "" : cwd,
                     here ? "" : "/", here ? "" : dir);
    }
    if (n < 0 || (size_t)n >= sizeof out)
        return xstrdup("");
    for (size_t len = strlen(out); len > strlen("file:///") && out[len - 1] == '/'; len--)
        out[len - 1] = '\0';
    return xstrdup(out);
}

void *sink_file_new(const char *dir, bool fsync)
{
    struct file_sink *s = xcalloc(1, sizeof *s);
    s->dir = xstrdup(dir);
    s->uri_base = uri_base_of(dir);
    s->fsync = fsync;
    s->no_tmpfile = access("/proc/self/fd", X_OK) != 0;
    return s;
}

static void drop_staged(struct staged *it)
{
    if (it->fd >= 0)
        close(it->fd); /* an unnamed file vanishes with its last descriptor */
    else
        unlink(it->tmp);
    it->fd = -1;
}

static void file_free(void *be)
{
    struct file_sink *s = be;
    for (size_t i = 0; i < s->n; i++)
        drop_staged(&s->items[i]);
    free(s->items);
    free(s->dir);
    free(s->uri_base);
    free(s);
}

static void file_locate(const void *be, const char *object, bool uri, char *out, size_t outlen)
{
    const struct file_sink *s = be;
    int n;
    if (uri)
        n = s->uri_base[0] ? snprintf(out, outlen, "%s/%s", s->uri_base, object) : -1;
    else
        n = snprintf(out, outlen, "%s/%s", s->dir, object);
    if (n < 0 || (size_t)n >= outlen)
        out[0] = '\0';
}

static int mkdir_p(const char *path)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return (mkdir(tmp, 0755) != 0 && errno != EEXIST) ? -1 : 0;
}

static int ensure_campaign_dir(struct file_sink *s, const char *campaign, char *err, size_t errlen)
{
    if (strcmp(s->last_campaign, campaign) == 0)
        return 0;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/%s", s->dir, campaign);
    if (mkdir_p(dir) != 0) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    snprintf(s->last_campaign, sizeof s->last_campaign, "%s", campaign);
    return 0;
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Length of the folder part of it->final (its campaign folder). */
static int folder_len(const struct staged *it)
{
    return (int)(strrchr(it->final, '/') - it->final);
}

/* A hidden temporary name beside it->final, unique within this process, into it->tmp. */
static int name_aside(struct file_sink *s, struct staged *it)
{
    int n = snprintf(it->tmp, sizeof it->tmp, "%.*s/.tmp-%d-%lu", folder_len(it), it->final,
                     (int)getpid(), ++s->seq);
    if (n < 0 || (size_t)n >= sizeof it->tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

/* Links the unnamed file fd at path. linkat(fd, "", AT_EMPTY_PATH) links the descriptor
 * itself; resolving "/proc/self/fd/N" instead was a fifth of the call's CPU (a procfs walk per
 * file). Kernels before 6.10 allow AT_EMPTY_PATH only with CAP_DAC_READ_SEARCH (ENOENT without
 * it): the /proc form is then used, and once it has worked where AT_EMPTY_PATH did not, always. */
static int link_fd(struct file_sink *s, int fd, const char *path)
{
    if (!s->no_empty_path) {
        if (linkat(fd, "", AT_FDCWD, path, AT_EMPTY_PATH) == 0)
            return 0;
        if (errno != ENOENT && errno != EPERM && errno != EINVAL)
            return -1; /* EEXIST and real failures: the /proc form would say the same */
    }
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
    if (linkat(AT_FDCWD, self, AT_FDCWD, path, AT_SYMLINK_FOLLOW) != 0)
        return -1;
    s->no_empty_path = true;
    return 0;
}

/* Gives an unnamed file its name. linkat cannot replace, so a name that exists already (the
 * contact rendered before) gets the new file through a temporary name and a rename. */
static int link_into_place(struct file_sink *s, struct staged *it)
{
    if (link_fd(s, it->fd, it->final) == 0)
        return 0;
    if (errno != EEXIST || name_aside(s, it) != 0)
        return -1;
    if (link_fd(s, it->fd, it->tmp) != 0)
        return -1;
    if (rename(it->tmp, it->final) != 0) {
        unlink(it->tmp);
        return -1;
    }
    return 0;
}

/* Opens the file to write aside: unnamed when possible (no directory entry to add and remove,
 * which is most of a small file's cost on ext4, and nothing left behind by a crash). */
static int open_aside(struct file_sink *s, struct staged *it)
{
    it->fd = -1;
    if (!s->no_tmpfile) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%.*s", folder_len(it), it->final);
        int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
        if (fd >= 0) {
            it->fd = fd;
            return fd;
        }
        if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
            return -1;
        s->no_tmpfile = true;
    }
    if (name_aside(s, it) != 0)
        return -1;
    return open(it->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}

static int file_commit(void *be, char *err, size_t errlen);

static int file_stage(void *be, const char *campaign, const char *object, const void *data, size_t len,
                      char *err, size_t errlen)
{
    struct file_sink *s = be;
    if (ensure_campaign_dir(s, campaign, err, errlen) != 0)
        return -1;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->items = xrealloc(s->items, s->cap * sizeof *s->items);
    }
    struct staged *it = &s->items[s->n];
    file_locate(s, object, false, it->final, sizeof it->final);
    int fd = open_aside(s, it);
    if (fd < 0) {
        snprintf(err, errlen, "%s/%s: %s", s->dir, campaign, strerror(errno));
        s->last_campaign[0] = '\0'; /* the folder may be gone: make it again next time */
        return -1;
    }
    bool ok = write_all(fd, data, len) == 0;
    int why = errno;
    if (it->fd < 0 && close(fd) != 0 && ok) { /* a named file is closed now, an unnamed one at commit */
        ok = false;
        why = errno;
    }
    if (!ok) {
        snprintf(err, errlen, "%s: %s", it->final, strerror(why));
        drop_staged(it);
        return -1;
    }
    s->n++;
    if (!s->fsync || s->n >= SINK_MAX_HELD)
        return file_commit(s, err, errlen); /* nothing to sync first, or enough held */
    return 0;
}

/* ---------------------------------------------------------------- copies (render once) */

/* Reads the whole file at path into out; 0, or -1 with errno. */
static int read_file(const char *path, struct buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char chunk[65536];
    ssize_t r;
    while ((r = read(fd, chunk, sizeof chunk)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int why = errno;
            close(fd);
            errno = why;
            return -1;
        }
        buf_append(out, chunk, (size_t)r);
    }
    close(fd);
    return 0;
}

/* Where a link is refused (another file system, the inode's link limit), the bytes are copied
 * and staged like any file. */
static int stage_bytes_of(struct file_sink *s, const char *campaign, const char *object, const char *src,
                          bool *gone, char *err, size_t errlen)
{
    struct buf data = {0};
    int rc = 0;
    if (read_file(src, &data) != 0) {
        if (errno == ENOENT)
            *gone = true;
        else
            snprintf(err, errlen, "%s: %s", src, strerror(errno));
        rc = *gone ? 0 : -1;
    } else {
        rc = file_stage(s, campaign, object, data.data ? data.data : "", data.len, err, errlen);
    }
    buf_free(&data);
    return rc;
}

/* The source, if it is still the audio the entry names: 0 with *st, 1 gone, -1 error. */
static int source_of(const char *src_uri, uint64_t bytes, const char **path, struct stat *st,
                     char *err, size_t errlen)
{
    if (strncmp(src_uri, "file:///", 8) != 0)
        return 1; /* another kind of store's: not ours to copy */
    *path = src_uri + 7;
    if (stat(*path, st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 1;
        snprintf(err, errlen, "%s: %s", *path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st->st_mode) || (bytes > 0 && (uint64_t)st->st_size != bytes))
        return 1; /* replaced by other audio since: the entry is stale */
    return 0;
}

static int file_stage_copy(void *be, const char *campaign, const char *object, const char *src_uri,
                           uint64_t bytes, bool *gone, char *err, size_t errlen)
{
    struct file_sink *s = be;
    const char *src = NULL;
    struct stat st, here;
    int rc = source_of(src_uri, bytes, &src, &st, err, errlen);
    if (rc != 0) {
        *gone = rc == 1;
        return rc == 1 ? 0 : -1;
    }
    if (ensure_campaign_dir(s, campaign, err, errlen) != 0)
        return -1;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->items = xrealloc(s->items, s->cap * sizeof *s->items);
    }
    struct staged *it = &s->items[s->n];
    it->fd = -1;
    file_locate(s, object, false, it->final, sizeof it->final);
    if (stat(it->final, &here) == 0 && here.st_ino == st.st_ino && here.st_dev == st.st_dev)
        return 0; /* this name is the source itself (the contact that rendered it) */
    if (name_aside(s, it) != 0) {
        snprintf(err, errlen, "%s: %s", it->final, strerror(errno));
        return -1;
    }
    if (link(src, it->tmp) != 0) {
        if (errno == ENOENT)
            *gone = true;
        if (errno == EXDEV || errno == EMLINK || errno == EPERM)
            return stage_bytes_of(s, campaign, object, src, gone, err, errlen);
        if (!*gone)
            snprintf(err, errlen, "%s: link to %s: %s", it->final, src, strerror(errno));
        return *gone ? 0 : -1;
    }
    s->n++;
    if (!s->fsync || s->n >= SINK_MAX_HELD)
        return file_commit(s, err, errlen);
    return 0;
}

static int sync_dir(const struct file_sink *s)
{
    if (!s->fsync)
        return 0;
    int fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = syncfs(fd);
    close(fd);
    return rc;
}

static int file_commit(void *be, char *err, size_t errlen)
{
    struct file_sink *s = be;
    int rc = 0;
    if (s->n == 0)
        return 0;
    if (sync_dir(s) != 0) {
        snprintf(err, errlen, "%s: sync: %s", s->dir, strerror(errno));
        rc = -1;
    }
    for (size_t i = 0; i < s->n; i++) {
        struct staged *it = &s->items[i];
        int placed = rc != 0 ? -1 : it->fd >= 0 ? link_into_place(s, it) : rename(it->tmp, it->final);
        if (rc == 0 && placed != 0) {
            snprintf(err, errlen, "%s: %s", it->final, strerror(errno));
            rc = -1;
        }
        if (it->fd >= 0)
            close(it->fd);
        else if (placed != 0)
            unlink(it->tmp);
    }
    if (rc == 0 && sync_dir(s) != 0) {
        snprintf(err, errlen, "%s: sync: %s", s->dir, strerror(errno));
        rc = -1;
    }
    s->n = 0;
    return rc;
}

const struct sink_ops sink_file_ops = {
    .stage = file_stage,
    .stage_copy = file_stage_copy,
    .commit = file_commit,
    .locate = file_locate,
    .free = file_free,
};
