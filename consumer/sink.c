/* sink.c - audio stored whole under its contact's name; see sink.h. This file names objects and
 * picks the backend (sink_file.c, sink_s3.c) from output.uri; the backends place the bytes. */
#include "sink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "names.h"
#include "s3.h"
#include "sink_backend.h"
#include "xalloc.h"

struct sink {
    const struct sink_ops *ops;
    void                  *be;
};

/* "<campaign>/<name>.<ext>" with room for the longest campaign, name and a generous extension
 * (a variant's is "<variant>.<ext>", up to 32 + 1 + 3 bytes: parts.h). */
#define OBJECT_MAX (NAMES_CAMPAIGN_MAX + 1 + NAMES_MAX + 1 + 48)

static struct sink *wrap(const struct sink_ops *ops, void *be)
{
    struct sink *s = xcalloc(1, sizeof *s);
    s->ops = ops;
    s->be = be;
    return s;
}

struct sink *sink_new(const char *output_dir, bool fsync)
{
    return wrap(&sink_file_ops, sink_file_new(output_dir, fsync));
}

static struct sink *open_s3(const struct config *cfg, const char *uri, char *err, size_t errlen)
{
    struct s3_options o = {
        .endpoint = config_get(cfg, "s3.endpoint"),
        .region = config_get(cfg, "s3.region"),
        .path_style = config_bool(cfg, "s3.path_style"),
    };
    void *be = sink_s3_new(uri, &o, err, errlen);
    return be ? wrap(&sink_s3_ops, be) : NULL;
}

/* The sink output.uri names; announce logs where the audio goes. */
static struct sink *open_uri(const struct config *cfg, bool announce, char *err, size_t errlen)
{
    const char *uri = config_get(cfg, "output.uri");
    bool fsync = config_bool(cfg, "output.fsync");
    struct sink *s = NULL;
    if (!uri || !*uri) {
        s = sink_new(config_get(cfg, "output.dir"), fsync);
    } else if (strncmp(uri, "file://", 7) == 0) {
        if (uri[7] != '/') {
            snprintf(err, errlen, "output.uri \"%s\": a file URI needs an absolute path "
                     "(file:///var/lib/voxcast/audio)", uri);
            return NULL;
        }
        s = sink_new(uri + 7, fsync);
    } else if (strncmp(uri, "s3://", 5) == 0) {
        s = open_s3(cfg, uri, err, errlen);
    } else {
        snprintf(err, errlen, "output.uri \"%s\": expected file:///ABS/PATH or s3://BUCKET/PREFIX", uri);
        return NULL;
    }
    if (s && announce) {
        char where[512];
        s->ops->locate(s->be, "CAMPAIGN/NAME.EXT", true, where, sizeof where);
        log_info("audio output", LOGS("uri", where));
    }
    return s;
}

struct sink *sink_open(const struct config *cfg, char *err, size_t errlen)
{
    return open_uri(cfg, true, err, errlen);
}

int sink_check(const struct config *cfg, char *err, size_t errlen)
{
    struct sink *s = open_uri(cfg, false, err, errlen);
    bool ok = s != NULL;
    sink_free(s);
    return ok ? 0 : -1;
}

void sink_free(struct sink *s)
{
    if (!s)
        return;
    s->ops->free(s->be);
    free(s);
}

/* The object name of a contact's audio: "<campaign>/<name>.<ext>" (names.h). */
static void object_name(const char *campaign, const char *contact, size_t contact_len,
                        const char *format, char out[OBJECT_MAX])
{
    char name[NAMES_MAX];
    names_for_contact(contact, contact_len, name);
    snprintf(out, OBJECT_MAX, "%s/%s.%s", campaign, name, format);
}

int sink_stage(struct sink *s, const char *campaign, const char *contact, size_t contact_len,
               const char *format, const void *data, size_t len, char *err, size_t errlen)
{
    char object[OBJECT_MAX];
    object_name(campaign, contact, contact_len, format, object);
    return s->ops->stage(s->be, campaign, object, data, len, err, errlen);
}

int sink_stage_copy(struct sink *s, const char *campaign, const char *contact, size_t contact_len,
                    const char *format, const char *src_uri, uint64_t bytes, bool *gone, char *err,
                    size_t errlen)
{
    char object[OBJECT_MAX];
    object_name(campaign, contact, contact_len, format, object);
    *gone = false;
    return s->ops->stage_copy(s->be, campaign, object, src_uri, bytes, gone, err, errlen);
}

int sink_commit(struct sink *s, char *err, size_t errlen)
{
    return s->ops->commit(s->be, err, errlen);
}

void sink_uri(const struct sink *s, const char *campaign, const char *contact, size_t contact_len,
              const char *format, char *out, size_t outlen)
{
    char object[OBJECT_MAX];
    object_name(campaign, contact, contact_len, format, object);
    s->ops->locate(s->be, object, true, out, outlen);
}

void sink_path(const struct sink *s, const char *campaign, const char *contact, size_t contact_len,
               const char *format, char *out, size_t outlen)
{
    char object[OBJECT_MAX];
    object_name(campaign, contact, contact_len, format, object);
    s->ops->locate(s->be, object, false, out, outlen);
}
