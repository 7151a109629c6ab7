/* floor_bench.c - the kernel's share of a consumer's job, measured without the consumer.
 *
 *   floor_bench files DIR N BYTES BATCH
 *       What the audio writer asks of the file system per job, nothing else: an unnamed
 *       O_TMPFILE inode in DIR, one write of BYTES, linkat(AT_EMPTY_PATH) to a name of the
 *       consumer's shape, close; syncfs before and after linking each BATCH files (the writer's
 *       order: data durable before the name exists, the name durable before Redis says done).
 *   floor_bench http HOST:PORT PATH N CONC BODY_JSON
 *       What a provider request costs on the wire: CONC keep-alive connections, each sending a
 *       prebuilt POST and reading the answer (status line, Content-Length, body) before the next,
 *       one epoll loop; no parsing beyond finding the end of the answer.
 *
 * Both print "us_per_op=X" (user+sys CPU of this process, getrusage) and the wall time. They are
 * the floor bench/consumer.sh sets beside the consumer's CPU per job: what any program doing the
 * same durable, one-file-per-contact work over HTTP pays on this machine. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "floor_bench: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void report(long n, double c0, double w0)
{
    printf("ops=%ld us_per_op=%.1f wall_s=%.2f\n", n, (cpu_s() - c0) * 1e6 / (double)n, wall_s() - w0);
}

/* ---- files ---- */

static int files(const char *dir, long n, size_t bytes, long batch)
{
    char *data = malloc(bytes);
    if (!data)
        die("malloc");
    memset(data, 0x55, bytes);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        die(dir);
    int *fds = calloc((size_t)batch, sizeof *fds);
    double c0 = cpu_s(), w0 = wall_s();
    for (long i = 0; i < n; i += batch) {
        long m = n - i < batch ? n - i : batch;
        for (long j = 0; j < m; j++) {
            char path[4096];
            snprintf(path, sizeof path, "%s", dir);
            if ((fds[j] = open(path, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644)) < 0)
                die("open O_TMPFILE");
            if (write(fds[j], data, bytes) != (ssize_t)bytes)
                die("write");
        }
        if (syncfs(dfd) != 0)
            die("syncfs");
        for (long j = 0; j < m; j++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/c-%07ld.wav", dir, i + j);
            if (linkat(fds[j], "", AT_FDCWD, path, AT_EMPTY_PATH) != 0)
                die("linkat");
            close(fds[j]);
        }
        if (syncfs(dfd) != 0)
            die("syncfs");
    }
    report(n, c0, w0);
    return 0;
}

/* ---- http ---- */

struct conn {
    int    fd;
    char   in[65536];
    size_t have;
};

static int connect_to(const char *hostport)
{
    char host[64];
    const char *colon = strrchr(hostport, ':');
    if (!colon || (size_t)(colon - hostport) >= sizeof host)
        return -1;
    snprintf(host, sizeof host, "%.*s", (int)(colon - hostport), hostport);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/* Bytes of a whole answer at the start of in, or 0 while it is incomplete. */
static size_t answer_len(const char *in, size_t have)
{
    const char *end = memmem(in, have, "\r\n\r\n", 4);
    if (!end)
        return 0;
    const char *cl = memmem(in, (size_t)(end - in), "Content-Length:", 15);
    if (!cl)
        cl = memmem(in, (size_t)(end - in), "content-length:", 15);
    size_t body = cl ? strtoul(cl + 15, NULL, 10) : 0;
    size_t total = (size_t)(end - in) + 4 + body;
    return have >= total ? total : 0;
}

static int http(const char *hostport, const char *path, long n, int conc, const char *body)
{
    char req[4096];
    int rl = snprintf(req, sizeof req,
                      "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\n\r\n%s", path, hostport, strlen(body), body);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct conn *c = calloc((size_t)conc, sizeof *c);
    long sent = 0, done = 0;
    double c0 = cpu_s(), w0 = wall_s();
    for (int i = 0; i < conc && sent < n; i++, sent++) {
        c[i].fd = connect_to(hostport);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &c[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &ev);
        if (send(c[i].fd, req, (size_t)rl, MSG_NOSIGNAL) != rl)
            die("send");
    }
    struct epoll_event evs[256];
    while (done < n) {
        int k = epoll_wait(ep, evs, 256, 5000);
        if (k <= 0)
            die("epoll_wait (no answer in 5 s)");
        for (int i = 0; i < k; i++) {
            struct conn *x = evs[i].data.ptr;
            ssize_t r = recv(x->fd, x->in + x->have, sizeof x->in - x->have, 0);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN)
                    continue;
                die("recv (connection closed)");
            }
            x->have += (size_t)r;
            size_t len = answer_len(x->in, x->have);
            if (len == 0)
                continue;
            memmove(x->in, x->in + len, x->have - len);
            x->have -= len;
            done++;
            if (sent < n && send(x->fd, req, (size_t)rl, MSG_NOSIGNAL) == rl)
                sent++;
        }
    }
    report(n, c0, w0);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "files") == 0)
        return files(argv[2], atol(argv[3]), (size_t)atol(argv[4]), atol(argv[5]) > 0 ? atol(argv[5]) : 1);
    if (argc == 7 && strcmp(argv[1], "http") == 0)
        return http(argv[2], argv[3], atol(argv[4]), atoi(argv[5]) > 0 ? atoi(argv[5]) : 1, argv[6]);
    fprintf(stderr, "usage: floor_bench files DIR N BYTES BATCH\n"
                    "       floor_bench http HOST:PORT PATH N CONC BODY_JSON\n");
    return 2;
}
