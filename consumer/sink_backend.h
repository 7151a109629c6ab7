/* sink_backend.h - what a sink backend provides; sink.c picks one and dispatches to it.
 *
 * Private to the sink (sink.c, sink_file.c, sink_s3.c): callers use sink.h. sink.c turns
 * (campaign, contact, extension) into the object name "<campaign>/<name>.<ext>" (names.h), so
 * every backend stores one contact under one name, and a backend only places bytes under it:
 *   sink_file.c  <dir>/<object>, written aside, synced, linked into place;
 *   sink_s3.c    s3://BUCKET/PREFIX/<object>, one signed PUT each, a batch at once (s3.h).
 * The contract of stage and commit is sink.h's. */
#ifndef VOXCAST_SINK_BACKEND_H
#define VOXCAST_SINK_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sink_ops {
    /* Holds data for object (campaign is its first component). 0, or -1 + err. */
    int  (*stage)(void *be, const char *campaign, const char *object, const void *data, size_t len,
                  char *err, size_t errlen);
    /* Holds a copy of the object at src_uri (sink.h, sink_stage_copy) for object. 0, or -1 + err;
     * *gone set (at once or at commit) when the source is not there. */
    int  (*stage_copy)(void *be, const char *campaign, const char *object, const char *src_uri,
                       uint64_t bytes, bool *gone, char *err, size_t errlen);
    /* Makes every held object durable under its name; 0, or -1 + err (then none counts). */
    int  (*commit)(void *be, char *err, size_t errlen);
    /* Where object lands: a URI ("file:///...", "s3://...") when uri, else a local form. */
    void (*locate)(const void *be, const char *object, bool uri, char *out, size_t outlen);
    void (*free)(void *be);   /* drops what is held and not committed */
};

extern const struct sink_ops sink_file_ops;
extern const struct sink_ops sink_s3_ops;

/* dir may be relative: it is made absolute once, here. Cannot fail (xalloc.h). */
void *sink_file_new(const char *dir, bool fsync);

struct s3_options;
/* uri is "s3://BUCKET[/PREFIX]"; o gives the endpoint, region and addressing (bucket unset). */
void *sink_s3_new(const char *uri, const struct s3_options *o, char *err, size_t errlen);

#endif
