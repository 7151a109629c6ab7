/* listen.c - resolve, bind and listen; see listen.h. */
#include "listen.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LISTEN_BACKLOG 512

static int copy_part(char *dst, size_t dstlen, const char *src, size_t n)
{
    if (n >= dstlen)
        return -1;
    memcpy(dst, src, n);
    dst[n] = '\0';
    return 0;
}

int listen_split(const char *spec, char *host, size_t hostlen, char *port, size_t portlen,
                 char *err, size_t errlen)
{
    const char *colon = strrchr(spec, ':');
    const char *h = spec;
    size_t hn = colon ? (size_t)(colon - spec) : 0;
    if (hn >= 2 && h[0] == '[' && h[hn - 1] == ']')
        h++, hn -= 2;   /* [::1]:9400 */
    char *end;
    long p = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || colon[1] == '\0' || *end != '\0' || p < 0 || p > 65535) {
        snprintf(err, errlen, "--listen: expected HOST:PORT with a port from 0 to 65535, got '%s'", spec);
        return -1;
    }
    if (hn == 0)
        h = "127.0.0.1", hn = strlen(h);
    if (copy_part(host, hostlen, h, hn) < 0 || copy_part(port, portlen, colon + 1, strlen(colon + 1)) < 0) {
        snprintf(err, errlen, "--listen: address too long");
        return -1;
    }
    return 0;
}

/* Formats the socket's bound address as HOST:PORT (IPv6 in brackets). */
static void bound_address(int fd, char *addr, size_t addrlen)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char h[NI_MAXHOST], p[NI_MAXSERV];
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 ||
        getnameinfo((struct sockaddr *)&ss, sl, h, sizeof h, p, sizeof p, NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        snprintf(addr, addrlen, "?");
        return;
    }
    snprintf(addr, addrlen, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", h, p);
}

static int open_one(const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return -1;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int listen_open(const char *host, const char *port, char *addr, size_t addrlen, int *family,
                char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "cannot listen on %s:%s: %s", host, port, gai_strerror(gai));
        return -1;
    }
    int fd = -1, saved = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = open_one(ai);
        saved = errno;
        if (fd >= 0)
            *family = ai->ai_family;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "cannot listen on %s:%s: %s", host, port, strerror(saved));
        return -1;
    }
    bound_address(fd, addr, addrlen);
    return fd;
}
