/* listen.h - the listening socket of voxcast-ttsd, opened before the HTTP server starts.
 *
 * Opening it ourselves (instead of letting libmicrohttpd bind) gives two things the contract
 * needs: the exact reason when the address cannot be bound (exit 1 naming it), and the real port
 * when port 0 asked the kernel for a free one (tests read it from the ready line). */
#ifndef VOXCAST_TTSD_LISTEN_H
#define VOXCAST_TTSD_LISTEN_H

#include <stddef.h>

/* Splits "HOST:PORT", "[IPV6]:PORT" or ":PORT" (host then 127.0.0.1) into host and port; the
 * port must be 0-65535. Returns 0, or -1 with err (a usage error). */
int listen_split(const char *spec, char *host, size_t hostlen, char *port, size_t portlen,
                 char *err, size_t errlen);

/* Resolves host and port, then socket, SO_REUSEADDR, bind and listen (close-on-exec). Returns the
 * socket, owned by the caller, and writes the bound address ("127.0.0.1:41234", "[::1]:41234")
 * to addr and its family (AF_INET or AF_INET6) to *family. -1 with err naming the address. */
int listen_open(const char *host, const char *port, char *addr, size_t addrlen, int *family,
                char *err, size_t errlen);

#endif
