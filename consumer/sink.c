/* sink.c - whole audio files; see sink.h. */
#include "sink.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "names.h"

struct staged {
    char tmp[PATH_MAX];
    char final[PATH_MAX];
};

struct sink {
    char          *dir;
    bool           fsync;
    struct staged *items;
    size_t         n, cap;
    unsigned long  seq;            /* unique temp names within this process */
    char           last_campaign[72];  /* campaign folder known to exist */
};

struct sink *sink_new(const char *output_dir, bool fsync)
{
    struct sink *s = calloc(1, sizeof *s);
    s->dir = strdup(output_dir);
    s->fsync = fsync;
    return s;
}

void sink_free(struct sink *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        unlink(s->items[i].tmp);
    free(s->items);
    free(s->dir);
    free(s);
}

void sink_path(const struct sink *s, const char *campaign, const char *contact, size_t contact_len,
               const char *format, char *out, size_t outlen)
{
    char name[NAMES_MAX];
    names_for_contact(contact, contact_len, name);
    snprintf(out, outlen, "%s/%s/%s.%s", s->dir, campaign, name, format);
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

static int ensure_campaign_dir(struct sink *s, const char *campaign, char *err, size_t errlen)
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

int sink_stage(struct sink *s, const char *campaign, const char *contact, size_t contact_len,
               const char *format, const void *data, size_t len, char *err, size_t errlen)
{
    if (ensure_campaign_dir(s, campaign, err, errlen) != 0)
        return -1;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->items = realloc(s->items, s->cap * sizeof *s->items);
    }
    struct staged *it = &s->items[s->n];
    sink_path(s, campaign, contact, contact_len, format, it->final, sizeof it->final);
    snprintf(it->tmp, sizeof it->tmp, "%s/%s/.tmp-%d-%lu", s->dir, campaign, (int)getpid(), ++s->seq);
    int fd = open(it->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write_all(fd, data, len) != 0 || close(fd) != 0) {
        snprintf(err, errlen, "%s: %s", it->tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        unlink(it->tmp);
        return -1;
    }
    s->n++;
    return 0;
}

static int sync_dir(const struct sink *s)
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

int sink_commit(struct sink *s, char *err, size_t errlen)
{
    int rc = 0;
    if (s->n == 0)
        return 0;
    if (sync_dir(s) != 0) {
        snprintf(err, errlen, "%s: sync: %s", s->dir, strerror(errno));
        rc = -1;
    }
    for (size_t i = 0; i < s->n; i++) {
        if (rc == 0 && rename(s->items[i].tmp, s->items[i].final) != 0) {
            snprintf(err, errlen, "%s: %s", s->items[i].final, strerror(errno));
            rc = -1;
        }
        if (rc != 0)
            unlink(s->items[i].tmp);
    }
    if (rc == 0 && sync_dir(s) != 0) {
        snprintf(err, errlen, "%s: sync: %s", s->dir, strerror(errno));
        rc = -1;
    }
    s->n = 0;
    return rc;
}
