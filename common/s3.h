/* s3.h - objects stored in an S3-compatible store: one signed PUT per object, a batch at once.
 *
 * Signing: libcurl signs every request itself (CURLOPT_AWS_SIGV4, "aws:amz:REGION:s3"). The
 * request carries x-amz-content-sha256 = the hex SHA-256 of its body; libcurl signs that header
 * and takes its value as the payload hash, so the signature covers the bytes and a store that
 * checks it (AWS, MinIO) refuses a body changed on the way. The body goes as POSTFIELDS of a
 * custom PUT, so libcurl adds no "Expect: 100-continue" round trip below 1 MiB, and no header is
 * added or removed after signing. Content-Type is set by the caller and signed too.
 *
 * Credentials come from the environment only: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and, for
 * temporary credentials, AWS_SESSION_TOKEN (sent as x-amz-security-token, a signed header).
 * s3_new() registers all three with log_add_secret() as it reads them; no error text of this
 * module ever holds one (store answers are reduced to their <Code>).
 *
 * Addressing: path style ENDPOINT/BUCKET/KEY (MinIO and other local stores) or virtual-hosted
 * SCHEME://BUCKET.HOST/KEY (AWS); an empty endpoint means https://s3.REGION.amazonaws.com. A key
 * is percent-encoded byte by byte except RFC 3986's unreserved characters and '/': that is both
 * the URL path and the canonical URI SigV4 signs (libcurl signs the path as given).
 *
 * A batch (s3_put_batch) goes out over one curl multi handle, S3_PARALLEL transfers at a time
 * (curl's 10-at-a-time pattern), and returns when every object has an answer or has timed out.
 * An object counts as stored only when the store answered 200 to its PUT. Connections are kept
 * alive from one batch to the next. A struct s3 is used by one thread at a time. */
#ifndef VOXCAST_S3_H
#define VOXCAST_S3_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

#define S3_BUCKET_MAX 63             /* AWS's bucket name rule: 3-63 of [a-z0-9.-] */
#define S3_PARALLEL 16               /* PUTs in flight at once within a batch */

struct s3_options {
    const char *endpoint;            /* "http://127.0.0.1:9000", "" or NULL: AWS's for region */
    const char *region;              /* "us-east-1" when NULL or "" */
    const char *bucket;              /* required, see s3_uri_parse */
    bool        path_style;          /* ENDPOINT/BUCKET/KEY instead of BUCKET.HOST/KEY */
    long        connect_timeout_ms;  /* 0: 5000 */
    long        timeout_ms;          /* whole request; 0: 30000 */
};

/* One object to store. The caller fills key, data, len and content_type (borrowed until
 * s3_put_batch returns); s3_put_batch fills the rest. */
struct s3_put {
    const char *key;                 /* object key, unencoded: "prefix/campaign/c-1.wav" */
    const void *data;
    size_t      len;
    const char *content_type;        /* "audio/wav"; NULL: application/octet-stream */
    const char *copy_source;         /* NULL, or a server-side copy (no body): "/BUCKET/KEY" of
                                      * the source, percent-encoded as s3_key_encode does; sent
                                      * as x-amz-copy-source. A copy is stored only when answered
                                      * 200 without an <Error> document in it (S3 reports a copy
                                      * that failed midway inside a 200) */
    bool        stored;              /* the store answered 200 */
    long        http_status;         /* its answer, 0 when none came */
    char        error[160];          /* why not stored: "HTTP 503 SlowDown", "connect: ..." */
};

/* Splits "s3://BUCKET[/PREFIX]" into bucket and prefix (slashes at either end of the prefix
 * dropped; "" when none). Returns 0, or -1 with err naming what is wrong. */
int s3_uri_parse(const char *uri, char bucket[S3_BUCKET_MAX + 1], struct buf *prefix, char *err,
                 size_t errlen);

/* Reads the credentials from the environment (registering them as log secrets) and checks the
 * options. NULL + err when a credential variable is missing or an option is malformed. Free
 * with s3_free (NULL-safe). */
struct s3 *s3_new(const struct s3_options *o, char *err, size_t errlen);
void s3_free(struct s3 *s);

/* The URL a key is stored at (the request's URL), appended to out. */
void s3_object_url(const struct s3 *s, const char *key, struct buf *out);

/* Appends key percent-encoded the SigV4/S3 way (unreserved characters and '/' kept). */
void s3_key_encode(const char *key, struct buf *out);

/* Copy objects (copy_source): a 404 (NoSuchKey) means the source is gone. */
/* PUTs every object concurrently; fills stored/http_status/error of each. Returns how many
 * were not stored (0: all of them are). */
size_t s3_put_batch(struct s3 *s, struct s3_put *puts, size_t n);

#endif
