/* timefmt.h - the times and durations users type: RFC 3339 instants and short durations.
 *
 * `launch --expires-at 2026-12-03T18:00:00+01:00` and `--ttl 30m` end up as one epoch-ms deadline
 * in every job (job.h "expires_at"), so the producer, the consumer and DLQ replay must read and
 * write that instant the same way. Parsing depends on no locale or time zone setting: an instant
 * must carry its offset ("Z" or "+HH:MM"). */
#ifndef VOXCAST_TIMEFMT_H
#define VOXCAST_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* Parses "YYYY-MM-DDTHH:MM:SS[.fff...]" followed by "Z" or "+HH:MM"/"-HH:MM" (a space may stand
 * for the T; lower-case t and z are accepted, as RFC 3339 allows). The whole string must be
 * used. Fractions below a millisecond are dropped. Returns 0 with *ms_out, or -1. */
int timefmt_parse_rfc3339(const char *s, int64_t *ms_out);

#define TIMEFMT_RFC3339_LEN 48 /* "2026-12-03T18:00:00.000Z" (25 bytes with its NUL), with room for any year */
/* Writes ms as "2026-12-03T18:00:00.000Z" (UTC) into out (at least TIMEFMT_RFC3339_LEN bytes). */
void timefmt_format_rfc3339(int64_t ms, char *out);

/* Parses a duration: a positive whole number followed by one unit, s, m, h or d ("90s", "30m",
 * "6h", "2d"); up to 366 days. Returns 0 with *ms_out, or -1. */
int timefmt_parse_duration(const char *s, int64_t *ms_out);

#endif
