/* check_s3.c - S3 output: request signing, uploads and the sink's S3 backend.
 *
 * Signing is libcurl's (CURLOPT_AWS_SIGV4), which signs with the current time, so it is checked
 * in two steps: (a) a small SigV4 written here from AWS's description (HMAC-SHA256 on
 * common/sha256.h) reproduces AWS's published examples ("Signature Calculations for the
 * Authorization Header: Transferring Payload in a Single Chunk", Amazon S3 API reference: GET
 * Object and PUT Object, AKIAIOSFODNN7EXAMPLE, 20130524, examplebucket); (b) a real PUT made by
 * s3.c is captured byte for byte on a loopback socket, and (a) recomputes its signature from the
 * captured method, path and headers: the two must be equal.
 *
 * The store is a small HTTP/1.1 server on a thread of the test (127.0.0.1, port chosen by the
 * kernel) that records every request and answers 200, or, for keys holding "fail", 503 with
 * the error document of the S3 API reference (Error responses: <Error><Code>SlowDown</Code>...).
 * Waits have deadlines; nothing sleeps. */
#include "check_main.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "log.h"
#include "s3.h"
#include "sha256.h"
#include "../../consumer/sink.h"

#define AWS_KEY_ID "AKIAIOSFODNN7EXAMPLE"
#define AWS_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

/* ================================================================ (a) SigV4, written here */

static void hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen, uint8_t out[32])
{
    uint8_t k[64] = {0}, pad[64], inner[32];
    if (klen > 64)
        sha256(key, klen, k);
    else
        memcpy(k, key, klen);
    struct sha256_ctx c;
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x36;
    sha256_init(&c);
    sha256_update(&c, pad, 64);
    sha256_update(&c, msg, mlen);
    sha256_final(&c, inner);
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x5c;
    sha256_init(&c);
    sha256_update(&c, pad, 64);
    sha256_update(&c, inner, 32);
    sha256_final(&c, out);
}

static void hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

struct header {
    const char *name, *value;
};

static int by_name(const void *a, const void *b)
{
    return strcasecmp(((const struct header *)a)->name, ((const struct header *)b)->name);
}

/* The canonical request of AWS's description: method, canonical URI (as sent), empty query,
 * the signed headers lower-cased, sorted, values trimmed, their names, the payload hash. */
static void canonical_request(const char *method, const char *path, struct header *h, size_t n,
                              const char *payload_hash, struct buf *out)
{
    qsort(h, n, sizeof *h, by_name);
    buf_printf(out, "%s\n%s\n\n", method, path);
    for (size_t i = 0; i < n; i++) {
        for (const char *p = h[i].name; *p; p++)
            buf_putc(out, (char)tolower((unsigned char)*p));
        const char *v = h[i].value, *end = v + strlen(v);
        while (*v == ' ')
            v++;
        while (end > v && end[-1] == ' ')
            end--;
        buf_putc(out, ':');
        buf_append(out, v, (size_t)(end - v));
        buf_putc(out, '\n');
    }
    buf_putc(out, '\n');
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_putc(out, ';');
        for (const char *p = h[i].name; *p; p++)
            buf_putc(out, (char)tolower((unsigned char)*p));
    }
    buf_printf(out, "\n%s", payload_hash);
}

/* Signature of a canonical request made at amz_date (20130524T000000Z) for region's s3. */
static void sigv4(const char *secret, const char *amz_date, const char *region, const char *creq,
                  char sig[65])
{
    uint8_t d[32], k[32];
    char creq_hash[65], day[9], scope[128], key0[128];
    snprintf(day, sizeof day, "%.8s", amz_date);
    snprintf(scope, sizeof scope, "%s/%s/s3/aws4_request", day, region);
    sha256_hex(creq, strlen(creq), creq_hash);
    struct buf sts = {0};
    buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date, scope, creq_hash);
    snprintf(key0, sizeof key0, "AWS4%s", secret);
    hmac_sha256(key0, strlen(key0), day, strlen(day), k);
    hmac_sha256(k, 32, region, strlen(region), k);
    hmac_sha256(k, 32, "s3", 2, k);
    hmac_sha256(k, 32, "aws4_request", 12, k);
    hmac_sha256(k, 32, sts.data, sts.len, d);
    hex(d, 32, sig);
    buf_free(&sts);
}

/* RFC 4231 test case 2: the HMAC under the signer is HMAC-SHA256. */
START_TEST(test_hmac_rfc4231)
{
    uint8_t d[32];
    char h[65];
    hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, d);
    hex(d, 32, h);
    ck_assert_str_eq(h, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}
END_TEST

/* AWS's example "GET Object": the first 10 bytes of test.txt from examplebucket. */
START_TEST(test_sigv4_aws_get_object)
{
    const char *empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    struct header h[] = {{"Host", "examplebucket.s3.amazonaws.com"}, {"Range", "bytes=0-9"},
                         {"x-amz-content-sha256", empty}, {"x-amz-date", "20130524T000000Z"}};
    struct buf creq = {0};
    canonical_request("GET", "/test.txt", h, 4, empty, &creq);
    char creq_hash[65], sig[65];
    sha256_hex(creq.data, creq.len, creq_hash);
    ck_assert_str_eq(creq_hash, "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
    sigv4(AWS_SECRET, "20130524T000000Z", "us-east-1", creq.data, sig);
    ck_assert_str_eq(sig, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    buf_free(&creq);
}
END_TEST

/* AWS's example "PUT Object": "Welcome to Amazon S3." as test$file.text, whose '$' the
 * canonical URI carries encoded - as s3_key_encode writes it. */
START_TEST(test_sigv4_aws_put_object)
{
    const char *body = "Welcome to Amazon S3.";
    char hash[65];
    sha256_hex(body, strlen(body), hash);
    ck_assert_str_eq(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    struct buf path = {0};
    buf_putc(&path, '/');
    s3_key_encode("test$file.text", &path);
    ck_assert_str_eq(path.data, "/test%24file.text");
    struct header h[] = {{"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                         {"Host", "examplebucket.s3.amazonaws.com"},
                         {"x-amz-date", "20130524T000000Z"},
                         {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                         {"x-amz-content-sha256", hash}};
    struct buf creq = {0};
    canonical_request("PUT", path.data, h, 5, hash, &creq);
    char creq_hash[65], sig[65];
    sha256_hex(creq.data, creq.len, creq_hash);
    ck_assert_str_eq(creq_hash, "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d");
    sigv4(AWS_SECRET, "20130524T000000Z", "us-east-1", creq.data, sig);
    ck_assert_str_eq(sig, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
    buf_free(&creq);
    buf_free(&path);
}
END_TEST

/* ================================================================ the store on a thread */

#define MAX_REQS 512
#define MAX_CONNS 64

struct request {
    char      *head;                 /* request line and headers, as received */
    struct buf body;
};

struct conn {
    int        fd;
    struct buf in;
};

static struct {
    int             listen_fd;
    int             port;
    pthread_t       thread;
    atomic_bool     stop;
    pthread_mutex_t lock;
    struct request  reqs[MAX_REQS];  /* guarded by lock */
    size_t          nreqs;
    int             max_open;        /* most connections open at once */
} srv;

/* The value of header name in a request head ("" when absent); out holds it. */
static const char *header_of(const char *head, const char *name, char *out, size_t outlen)
{
    out[0] = '\0';
    size_t n = strlen(name);
    for (const char *line = strstr(head, "\r\n"); line && line[2]; line = strstr(line + 2, "\r\n")) {
        const char *l = line + 2;
        if (strncasecmp(l, name, n) == 0 && l[n] == ':') {
            const char *v = l + n + 1, *end = strstr(v, "\r\n");
            while (*v == ' ')
                v++;
            snprintf(out, outlen, "%.*s", (int)(end - v), v);
            break;
        }
    }
    return out;
}

/* S3 API reference, "Error responses": the error document a store sends with a 503. */
static const char *const SLOW_DOWN =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce "
    "your request rate.</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>";

/* Answers one whole request at the front of c->in, if there is one; true if it did. */
static bool serve_one(struct conn *c)
{
    char *end = c->in.data ? strstr(c->in.data, "\r\n\r\n") : NULL;
    if (!end)
        return false;
    size_t head_len = (size_t)(end - c->in.data) + 4;
    char cl[32];
    char *head = strndup(c->in.data, head_len);
    size_t body_len = (size_t)atol(header_of(head, "Content-Length", cl, sizeof cl));
    if (c->in.len < head_len + body_len) {
        free(head);
        return false;
    }
    bool fail = strstr(head, "fail") != NULL;
    pthread_mutex_lock(&srv.lock);
    if (srv.nreqs < MAX_REQS) {
        struct request *r = &srv.reqs[srv.nreqs++];
        r->head = head;
        r->body = (struct buf){0};
        buf_append(&r->body, c->in.data + head_len, body_len);
        head = NULL;
    }
    pthread_mutex_unlock(&srv.lock);
    free(head);
    char answer[512];
    int n;
    if (fail)
        n = snprintf(answer, sizeof answer, "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\n"
                     "Content-Length: %zu\r\n\r\n%s", strlen(SLOW_DOWN), SLOW_DOWN);
    else
        n = snprintf(answer, sizeof answer, "HTTP/1.1 200 OK\r\nETag: \"x\"\r\nContent-Length: 0\r\n\r\n");
    ck_assert_int_eq(write(c->fd, answer, (size_t)n), n);
    memmove(c->in.data, c->in.data + head_len + body_len, c->in.len - head_len - body_len);
    c->in.len -= head_len + body_len;
    c->in.data[c->in.len] = '\0';
    return true;
}

static void *serve(void *arg)
{
    (void)arg;
    struct conn conns[MAX_CONNS];
    size_t nconns = 0;
    while (!atomic_load(&srv.stop)) {
        struct pollfd p[MAX_CONNS + 1];
        p[0] = (struct pollfd){.fd = srv.listen_fd, .events = POLLIN};
        for (size_t i = 0; i < nconns; i++)
            p[i + 1] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
        if (poll(p, nconns + 1, 50) <= 0)
            continue;
        for (size_t i = nconns; i-- > 0;) {
            if (!p[i + 1].revents)
                continue;
            char chunk[65536];
            ssize_t got = read(conns[i].fd, chunk, sizeof chunk);
            if (got <= 0) {
                close(conns[i].fd);
                buf_free(&conns[i].in);
                conns[i] = conns[--nconns];
                continue;
            }
            buf_append(&conns[i].in, chunk, (size_t)got);
            while (serve_one(&conns[i]))
                ;
        }
        if ((p[0].revents & POLLIN) && nconns < MAX_CONNS) {
            int fd = accept(srv.listen_fd, NULL, NULL);
            if (fd >= 0)
                conns[nconns++] = (struct conn){.fd = fd};
            if ((int)nconns > srv.max_open)
                srv.max_open = (int)nconns;
        }
    }
    for (size_t i = 0; i < nconns; i++) {
        close(conns[i].fd);
        buf_free(&conns[i].in);
    }
    return NULL;
}

static void store_start(void)
{
    memset(&srv, 0, sizeof srv);
    pthread_mutex_init(&srv.lock, NULL);
    srv.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ck_assert_int_eq(bind(srv.listen_fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(srv.listen_fd, 64), 0);
    ck_assert_int_eq(getsockname(srv.listen_fd, (struct sockaddr *)&a, &len), 0);
    srv.port = ntohs(a.sin_port);
    ck_assert_int_eq(pthread_create(&srv.thread, NULL, serve, NULL), 0);
}

static void store_stop(void)
{
    atomic_store(&srv.stop, true);
    pthread_join(srv.thread, NULL);
    close(srv.listen_fd);
}

/* Forgets the recorded requests (after the test has looked at them). */
static void store_forget(void)
{
    for (size_t i = 0; i < srv.nreqs; i++) {
        free(srv.reqs[i].head);
        buf_free(&srv.reqs[i].body);
    }
}

/* The request whose request line holds path (NULL if none came). */
static struct request *request_for(const char *path)
{
    char line[1024];
    for (size_t i = 0; i < srv.nreqs; i++) {
        snprintf(line, sizeof line, "PUT %s HTTP/1.1\r\n", path);
        if (strncmp(srv.reqs[i].head, line, strlen(line)) == 0)
            return &srv.reqs[i];
    }
    return NULL;
}

static void credentials(const char *token)
{
    setenv("AWS_ACCESS_KEY_ID", AWS_KEY_ID, 1);
    setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET, 1);
    if (token)
        setenv("AWS_SESSION_TOKEN", token, 1);
    else
        unsetenv("AWS_SESSION_TOKEN");
}

static struct s3 *local_s3(const char *endpoint)
{
    char err[512];
    struct s3_options o = {.endpoint = endpoint, .region = "eu-west-3", .bucket = "voxbucket",
                           .path_style = true, .timeout_ms = 10000};
    struct s3 *s = s3_new(&o, err, sizeof err);
    ck_assert_msg(s != NULL, "s3_new: %s", err);
    return s;
}

static const char *store_url(void)
{
    static char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", srv.port);
    return url;
}

/* ================================================================ (b) libcurl's signature */

/* Pulls "Credential=...", "SignedHeaders=..." and "Signature=..." out of an Authorization. */
static void auth_part(const char *auth, const char *name, char *out, size_t outlen)
{
    const char *p = strstr(auth, name);
    ck_assert_msg(p != NULL, "no %s in %s", name, auth);
    p += strlen(name);
    size_t n = strcspn(p, ", ");
    snprintf(out, outlen, "%.*s", (int)n, p);
}

START_TEST(test_libcurl_signature_recomputed)
{
    store_start();
    credentials("FwoGZXIvYXdzEXAMPLEsessiontoken0123");
    struct s3 *s = local_s3(store_url());
    const char *body = "RIFF....WAVEfmt the audio";
    struct s3_put put = {.key = "pre fix/camp/sha256=ab+c.wav", .data = body, .len = strlen(body),
                         .content_type = "audio/wav"};
    ck_assert_uint_eq(s3_put_batch(s, &put, 1), 0);
    ck_assert(put.stored);
    ck_assert_int_eq(put.http_status, 200);
    s3_free(s);
    store_stop();

    /* the key went out encoded the SigV4 way, under the bucket (path style) */
    struct request *r = request_for("/voxbucket/pre%20fix/camp/sha256%3Dab%2Bc.wav");
    ck_assert_msg(r != NULL, "request: %s", srv.nreqs ? srv.reqs[0].head : "(none)");
    ck_assert_uint_eq(r->body.len, strlen(body));
    ck_assert_mem_eq(r->body.data, body, strlen(body));

    char auth[1024], amz_date[32], payload[80], cred[256], signed_names[256], sig[80];
    header_of(r->head, "Authorization", auth, sizeof auth);
    header_of(r->head, "X-Amz-Date", amz_date, sizeof amz_date);
    header_of(r->head, "x-amz-content-sha256", payload, sizeof payload);
    char want_hash[65];
    sha256_hex(body, strlen(body), want_hash);
    ck_assert_str_eq(payload, want_hash); /* the signed payload hash is the body's */
    ck_assert_msg(strncmp(auth, "AWS4-HMAC-SHA256 ", 17) == 0, "auth: %s", auth);
    auth_part(auth, "Credential=", cred, sizeof cred);
    auth_part(auth, "SignedHeaders=", signed_names, sizeof signed_names);
    auth_part(auth, "Signature=", sig, sizeof sig);
    char want_cred[256];
    snprintf(want_cred, sizeof want_cred, AWS_KEY_ID "/%.8s/eu-west-3/s3/aws4_request", amz_date);
    ck_assert_str_eq(cred, want_cred);
    ck_assert_str_eq(signed_names, "content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token");

    /* recompute from what was captured */
    struct header h[8];
    char values[8][512], names[8][64];
    size_t n = 0;
    for (const char *tok = signed_names; *tok && n < 8; n++) {
        size_t len = strcspn(tok, ";");
        snprintf(names[n], sizeof names[n], "%.*s", (int)len, tok);
        header_of(r->head, names[n], values[n], sizeof values[n]);
        ck_assert_msg(values[n][0], "signed header %s was not sent", names[n]);
        h[n] = (struct header){names[n], values[n]};
        tok += len + (tok[len] == ';');
    }
    struct buf creq = {0};
    canonical_request("PUT", "/voxbucket/pre%20fix/camp/sha256%3Dab%2Bc.wav", h, n, payload, &creq);
    char mine[65];
    sigv4(AWS_SECRET, amz_date, "eu-west-3", creq.data, mine);
    ck_assert_str_eq(sig, mine);
    buf_free(&creq);
    store_forget();
}
END_TEST

/* ================================================================ uploads */

/* Many objects at once: every one arrives whole, at most S3_PARALLEL connections are open, and
 * one refused object is reported as such (status, the store's code) without failing the rest. */
START_TEST(test_batch_reports_each_object)
{
    store_start();
    credentials(NULL);
    struct s3 *s = local_s3(store_url());
    enum { N = 40 };
    struct s3_put puts[N];
    char keys[N][32], bodies[N][32];
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], i == 7 ? "camp/fail-%02d.wav" : "camp/c-%02d.wav", i);
        snprintf(bodies[i], sizeof bodies[i], "audio of %d", i);
        puts[i] = (struct s3_put){.key = keys[i], .data = bodies[i], .len = strlen(bodies[i])};
    }
    ck_assert_uint_eq(s3_put_batch(s, puts, N), 1);
    for (int i = 0; i < N; i++)
        ck_assert_msg(puts[i].stored == (i != 7), "object %d: %s", i, puts[i].error);
    ck_assert_int_eq(puts[7].http_status, 503);
    ck_assert_str_eq(puts[7].error, "HTTP 503 SlowDown");
    /* the connections are kept: a second batch goes over them again */
    ck_assert_uint_eq(s3_put_batch(s, puts, 1), 0);
    s3_free(s);
    store_stop();
    ck_assert_uint_eq(srv.nreqs, N + 1);
    ck_assert_int_le(srv.max_open, S3_PARALLEL);
    char path[128], ctype[64];
    for (int i = 0; i < N; i++) {
        snprintf(path, sizeof path, "/voxbucket/%.31s", keys[i]);
        struct request *r = request_for(path);
        ck_assert_msg(r != NULL, "%s never arrived", path);
        ck_assert_str_eq(r->body.data, bodies[i]);
        ck_assert_str_eq(header_of(r->head, "Content-Type", ctype, sizeof ctype), "application/octet-stream");
    }
    store_forget();
}
END_TEST

/* No store listening: each object fails with a transport error and no status. */
START_TEST(test_store_down)
{
    store_start();
    char url[64];
    snprintf(url, sizeof url, "%s", store_url());
    store_stop(); /* the port is closed now */
    credentials(NULL);
    struct s3 *s = local_s3(url);
    struct s3_put put = {.key = "camp/c-1.wav", .data = "x", .len = 1};
    ck_assert_uint_eq(s3_put_batch(s, &put, 1), 1);
    ck_assert(!put.stored);
    ck_assert_int_eq(put.http_status, 0);
    ck_assert_msg(strstr(put.error, "onnect") != NULL, "error: %s", put.error);
    s3_free(s);
}
END_TEST

/* ================================================================ names, options, secrets */

START_TEST(test_uri_parse)
{
    char bucket[S3_BUCKET_MAX + 1], err[256];
    struct buf prefix = {0};
    ck_assert_int_eq(s3_uri_parse("s3://audio-bucket/calls/2026/", bucket, &prefix, err, sizeof err), 0);
    ck_assert_str_eq(bucket, "audio-bucket");
    ck_assert_str_eq(prefix.data, "calls/2026");
    ck_assert_int_eq(s3_uri_parse("s3://audio.bucket", bucket, &prefix, err, sizeof err), 0);
    ck_assert_str_eq(bucket, "audio.bucket");
    ck_assert_uint_eq(prefix.len, 0);
    ck_assert_int_eq(s3_uri_parse("s3://b1//x/", bucket, &prefix, err, sizeof err), -1); /* too short */
    ck_assert_msg(strstr(err, "3-63") != NULL, "err: %s", err);
    ck_assert_int_eq(s3_uri_parse("s3://Audio/x", bucket, &prefix, err, sizeof err), -1);
    ck_assert_int_eq(s3_uri_parse("s3://-audio/x", bucket, &prefix, err, sizeof err), -1);
    ck_assert_int_eq(s3_uri_parse("http://audio/x", bucket, &prefix, err, sizeof err), -1);
    ck_assert_int_eq(s3_uri_parse("s3://audio/a\nb", bucket, &prefix, err, sizeof err), -1);
    buf_free(&prefix);
}
END_TEST

START_TEST(test_object_urls)
{
    credentials(NULL);
    char err[256];
    struct buf url = {0};
    struct s3_options o = {.bucket = "voxbucket", .region = "eu-west-3"};
    struct s3 *s = s3_new(&o, err, sizeof err); /* AWS, virtual-hosted */
    ck_assert_ptr_nonnull(s);
    s3_object_url(s, "p/camp/c 1.wav", &url);
    ck_assert_str_eq(url.data, "https://voxbucket.s3.eu-west-3.amazonaws.com/p/camp/c%201.wav");
    s3_free(s);
    buf_reset(&url);
    o.endpoint = "http://127.0.0.1:9000/";
    o.path_style = true;
    s = s3_new(&o, err, sizeof err);
    s3_object_url(s, "camp/c-1.wav", &url);
    ck_assert_str_eq(url.data, "http://127.0.0.1:9000/voxbucket/camp/c-1.wav");
    s3_free(s);
    buf_reset(&url);
    o.endpoint = "https://minio.internal:9000";
    o.path_style = false;
    s = s3_new(&o, err, sizeof err);
    s3_object_url(s, "k", &url);
    ck_assert_str_eq(url.data, "https://voxbucket.minio.internal:9000/k");
    s3_free(s);
    o.endpoint = "minio:9000";
    ck_assert_ptr_null(s3_new(&o, err, sizeof err));
    ck_assert_msg(strstr(err, "s3.endpoint") != NULL, "err: %s", err);
    o.endpoint = NULL;
    o.region = "EU West";
    ck_assert_ptr_null(s3_new(&o, err, sizeof err));
    ck_assert_msg(strstr(err, "s3.region") != NULL, "err: %s", err);
    buf_free(&url);
}
END_TEST

/* Credentials come from the environment only; the error names the variables, never a value,
 * and what was read is redacted from every later log line. */
START_TEST(test_credentials)
{
    char err[256];
    struct s3_options o = {.bucket = "voxbucket"};
    unsetenv("AWS_ACCESS_KEY_ID");
    setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET, 1);
    ck_assert_ptr_null(s3_new(&o, err, sizeof err));
    ck_assert_msg(strstr(err, "AWS_ACCESS_KEY_ID") && strstr(err, "AWS_SECRET_ACCESS_KEY"), "err: %s", err);
    ck_assert_ptr_null(strstr(err, AWS_SECRET));
    credentials("token-0123456789-session");
    struct s3 *s = s3_new(&o, err, sizeof err);
    ck_assert_ptr_nonnull(s);
    char *red = log_redact("key " AWS_KEY_ID " secret " AWS_SECRET " token token-0123456789-session");
    ck_assert_ptr_null(strstr(red, AWS_KEY_ID));
    ck_assert_ptr_null(strstr(red, AWS_SECRET));
    ck_assert_ptr_null(strstr(red, "token-0123456789"));
    free(red);
    s3_free(s);
}
END_TEST

/* ================================================================ the sink's S3 backend */

static struct config *s3_config(const char *uri, const char *endpoint)
{
    struct config *c = config_new();
    char err[256];
    ck_assert_int_eq(config_set(c, "output.uri", uri, "test", err, sizeof err), 0);
    ck_assert_int_eq(config_set(c, "s3.endpoint", endpoint, "test", err, sizeof err), 0);
    ck_assert_int_eq(config_set(c, "s3.path_style", "true", "test", err, sizeof err), 0);
    return c;
}

static void stage(struct sink *s, const char *contact, const char *data)
{
    char err[512];
    int rc = sink_stage(s, "camp", contact, strlen(contact), "wav", data, strlen(data), err, sizeof err);
    ck_assert_msg(rc == 0, "stage %s: %s", contact, err);
}

/* Staged objects go out at commit, under PREFIX/<campaign>/<name>.<ext>, as audio/wav; the
 * caller's bytes may be gone by then; sink_uri names them as s3://BUCKET/KEY. */
START_TEST(test_sink_uploads_at_commit)
{
    store_start();
    credentials(NULL);
    struct config *cfg = s3_config("s3://voxbucket/calls/", store_url());
    char err[512], uri[512];
    struct sink *s = sink_open(cfg, err, sizeof err);
    ck_assert_msg(s != NULL, "sink_open: %s", err);
    char *bytes = strdup("first");
    stage(s, "c-1", bytes);
    free(bytes);
    stage(s, "a/b", "second");
    pthread_mutex_lock(&srv.lock);
    ck_assert_uint_eq(srv.nreqs, 0); /* nothing before the commit */
    pthread_mutex_unlock(&srv.lock);
    ck_assert_int_eq(sink_commit(s, err, sizeof err), 0);
    ck_assert_int_eq(sink_commit(s, err, sizeof err), 0); /* an empty batch is a no-op */
    sink_uri(s, "camp", "c-1", 3, "wav", uri, sizeof uri);
    ck_assert_str_eq(uri, "s3://voxbucket/calls/camp/c-1.wav");
    sink_uri(s, "camp", "a/b", 3, "wav", uri, sizeof uri);
    ck_assert_str_eq(uri, "s3://voxbucket/calls/camp/"
                          "sha256=c14cddc033f64b9dea80ea675cf280a015e672516090a5626781153dc68fea11.wav");
    sink_free(s);
    config_free(cfg);
    store_stop();
    ck_assert_uint_eq(srv.nreqs, 2);
    struct request *r = request_for("/voxbucket/calls/camp/c-1.wav");
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(r->body.data, "first");
    char ctype[64];
    ck_assert_str_eq(header_of(r->head, "Content-Type", ctype, sizeof ctype), "audio/wav");
    r = request_for("/voxbucket/calls/camp/"
                    "sha256%3Dc14cddc033f64b9dea80ea675cf280a015e672516090a5626781153dc68fea11.wav");
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(r->body.data, "second");
    store_forget();
}
END_TEST

/* One object refused: the commit fails naming it, the batch is dropped, and the same batch
 * staged again is uploaded again in full (PUT replaces: the stored ones are overwritten). */
START_TEST(test_sink_commit_fails_whole_batch)
{
    store_start();
    credentials(NULL);
    struct config *cfg = s3_config("s3://voxbucket", store_url());
    char err[512];
    struct sink *s = sink_open(cfg, err, sizeof err);
    ck_assert_ptr_nonnull(s);
    stage(s, "c-1", "one");
    stage(s, "fail-2", "two");
    ck_assert_int_eq(sink_commit(s, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "s3://voxbucket/camp/fail-2.wav") && strstr(err, "503"), "err: %s", err);
    ck_assert_int_eq(sink_commit(s, err, sizeof err), 0); /* nothing held any more */
    stage(s, "c-1", "one again");
    ck_assert_int_eq(sink_commit(s, err, sizeof err), 0);
    sink_free(s);
    config_free(cfg);
    store_stop();
    ck_assert_uint_eq(srv.nreqs, 3);
    ck_assert_str_eq(srv.reqs[2].body.data, "one again");
    ck_assert_msg(strncmp(srv.reqs[2].head, "PUT /voxbucket/camp/c-1.wav HTTP/1.1\r\n", 38) == 0,
                  "third request: %s", srv.reqs[2].head);
    store_forget();
}
END_TEST

/* Configuration errors: each names what is wrong. */
START_TEST(test_sink_open_errors)
{
    char err[512];
    const char *bad[][2] = {{"ftp://host/x", "expected file:///ABS/PATH or s3://BUCKET/PREFIX"},
                            {"file://relative/dir", "absolute path"},
                            {"s3://x", "3-63"}};
    credentials(NULL);
    for (size_t i = 0; i < 3; i++) {
        struct config *cfg = s3_config(bad[i][0], "http://127.0.0.1:9");
        ck_assert_ptr_null(sink_open(cfg, err, sizeof err));
        ck_assert_msg(strstr(err, bad[i][1]) != NULL, "%s: %s", bad[i][0], err);
        err[0] = '\0';
        ck_assert_int_eq(sink_check(cfg, err, sizeof err), -1); /* the same verdict, up front */
        ck_assert_msg(strstr(err, bad[i][1]) != NULL, "%s: %s", bad[i][0], err);
        config_free(cfg);
    }
    struct config *cfg = s3_config("s3://voxbucket/p", "http://127.0.0.1:9");
    ck_assert_int_eq(sink_check(cfg, err, sizeof err), 0);
    config_free(cfg);
    unsetenv("AWS_SECRET_ACCESS_KEY");
    cfg = s3_config("s3://voxbucket/p", "http://127.0.0.1:9");
    ck_assert_ptr_null(sink_open(cfg, err, sizeof err));
    ck_assert_msg(strstr(err, "AWS_SECRET_ACCESS_KEY") != NULL, "err: %s", err);
    config_free(cfg);
}
END_TEST

static Suite *s3_suite(void)
{
    Suite *s = suite_create("s3");
    TCase *sig = tcase_create("signing");
    tcase_add_test(sig, test_hmac_rfc4231);
    tcase_add_test(sig, test_sigv4_aws_get_object);
    tcase_add_test(sig, test_sigv4_aws_put_object);
    tcase_add_test(sig, test_libcurl_signature_recomputed);
    suite_add_tcase(s, sig);
    TCase *up = tcase_create("uploads");
    tcase_set_timeout(up, 30);
    tcase_add_test(up, test_batch_reports_each_object);
    tcase_add_test(up, test_store_down);
    tcase_add_test(up, test_uri_parse);
    tcase_add_test(up, test_object_urls);
    tcase_add_test(up, test_credentials);
    suite_add_tcase(s, up);
    TCase *sk = tcase_create("sink");
    tcase_set_timeout(sk, 30);
    tcase_add_test(sk, test_sink_uploads_at_commit);
    tcase_add_test(sk, test_sink_commit_fails_whole_batch);
    tcase_add_test(sk, test_sink_open_errors);
    suite_add_tcase(s, sk);
    return s;
}

CHECK_MAIN(s3_suite)
