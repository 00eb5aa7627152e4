/*
 * caresync core: the few date formats the senders use.
 *
 * Instants are int64 milliseconds since the Unix epoch, UTC, limited to the
 * years 0000-9999 so that every one of them prints as four-digit ISO-8601.
 * Parsers return 0 on success and -1 when the text is not a real date.
 */

#ifndef CS_TIME_H
#define CS_TIME_H

#include <stddef.h>
#include <stdint.h>

#define CS_TIME_MIN_MS  (-62167219200000LL)     /* 0000-01-01T00:00:00Z */
#define CS_TIME_MAX_MS  (253402300799999LL)     /* 9999-12-31T23:59:59.999Z */

#define CS_TIME_DATE_LEN  10                    /* YYYY-MM-DD */
#define CS_TIME_ISO_LEN   24                    /* YYYY-MM-DDThh:mm:ss.sssZ */

/* Strict `YYYY-MM-DDThh:mm:ss[.f{1,9}]Z`; `ms` may be NULL. */
int cs_time_parse_utc(const char *s, size_t n, int64_t *ms);

/*
 * `YYYY-MM-DD`, or a date-time `YYYY-MM-DDThh:mm:ss[.f{1,9}]` followed by
 * `Z` or `±hh:mm`.  `ms` gets the instant (midnight UTC for a bare date),
 * `date` the date part as written, NUL-terminated.
 */
int cs_time_parse_date(const char *s, size_t n, int64_t *ms,
    char date[CS_TIME_DATE_LEN + 1]);

int cs_time_ms_valid(int64_t ms);

/* Both need a valid `ms` and NUL-terminate. */
void cs_time_format_date(int64_t ms, char out[CS_TIME_DATE_LEN + 1]);
void cs_time_format_iso(int64_t ms, char out[CS_TIME_ISO_LEN + 1]);

#endif /* CS_TIME_H */
