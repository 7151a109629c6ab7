/* rejects.c - CSV report of rejected rows; see rejects.h. */
#include "rejects.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

struct rejects {
    FILE *fp;
};

struct rejects *rejects_open(const char *path, char *err, size_t errlen)
{
    if (!path)
        return NULL;
    FILE *fp = fopen(path, "w");
    if (!fp) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct rejects *r = xmalloc(sizeof *r);
    r->fp = fp;
    fputs("line,contact,reason\r\n", fp);
    return r;
}

static bool starts_formula(const char *s, size_t len)
{
    return len > 0 && strchr("=+-@\t\r", s[0]) != NULL && s[0] != '\0';
}

static void put_field(FILE *fp, const char *s, size_t len)
{
    const char *mark = starts_formula(s, len) ? "'" : "";
    if (!memchr(s, '"', len) && !memchr(s, ',', len) && !memchr(s, '\n', len) && !memchr(s, '\r', len)) {
        fputs(mark, fp);
        fwrite(s, 1, len, fp);
        return;
    }
    fputc('"', fp);
    fputs(mark, fp);
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"')
            fputc('"', fp);
        fputc(s[i], fp);
    }
    fputc('"', fp);
}

void rejects_add(struct rejects *r, long line, const char *id, size_t id_len, const char *reason)
{
    if (!r)
        return;
    fprintf(r->fp, "%ld,", line);
    put_field(r->fp, id, id_len);
    fputc(',', r->fp);
    put_field(r->fp, reason, strlen(reason));
    fputs("\r\n", r->fp);
}

int rejects_close(struct rejects *r)
{
    if (!r)
        return 0;
    int rc = ferror(r->fp) ? -1 : 0;
    if (fclose(r->fp) != 0)   /* closed whatever ferror said: the FILE is never leaked */
        rc = -1;
    free(r);
    return rc;
}
