/* xalloc.h - the one allocation policy: out of memory is fatal.
 *
 * A consumer or launch that cannot allocate a few hundred bytes cannot do anything useful
 * either, and a recovery path that is never exercised is a bug waiting in the dark. So, as
 * Redis's zmalloc does, every allocation of the project goes through these wrappers, which
 * print one line naming the size and abort() when the allocator fails. Callers never test
 * for NULL. Libraries' own allocations (jansson, hiredis, librdkafka) follow their policies;
 * where one reports failure through a NULL return, the caller treats it with xalloc_fail. */
#ifndef VOXCAST_XALLOC_H
#define VOXCAST_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);   /* at most n bytes, always NUL-terminated */

/* Reports an allocation of n bytes that failed elsewhere (a library returned NULL) and aborts. */
_Noreturn void xalloc_fail(size_t n);

#endif
