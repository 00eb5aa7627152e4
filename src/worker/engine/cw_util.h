/*
 * caresync-worker: small helpers shared by every file.
 */
#ifndef CW_UTIL_H
#define CW_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cs_buf.h"
#include "cs_json.h"

/* Wall clock (for records) and monotonic clock (for timers), in ms. */
uint64_t cw_now_ms(void);
uint64_t cw_mono_ms(void);
/* CPU time of this process, user + system, in microseconds. */
uint64_t cw_cpu_us(void);

/* Allocation failure is fatal in the worker: it exits, jobs are reclaimed. */
char *cw_strdup(const char *s);
char *cw_strndup(const char *s, size_t n);
void *cw_calloc(size_t n, size_t size);
void *cw_malloc(size_t size);
/* Appends a copy of `s` to a growing array of strings (v, n, cap). */
void cw_strs_push(char ***v, size_t *n, size_t *cap, const char *s);
/*
 * Appends the string at `key` of each object of the array `list` that
 * `ok` accepts (an id a list of records names); returns how many were
 * left out.
 */
size_t cw_strs_push_ids(char ***v, size_t *n, size_t *cap, json_t *list,
    const char *key, int (*ok)(const char *s));

/* A random number in [0, n) for jitter (not for secrets). */
uint64_t cw_rand(uint64_t n);

/*
 * Walks a configured list separated by commas and blanks
 * ("a@x.org, b@x.org"): the next entry and its length in *n, NULL after
 * the last.  *p is where the walk is.
 */
const char *cw_list_next(const char **p, size_t *n);
/* 1 when `s` is one of the entries of `list`, as written (exactly). */
int cw_list_has(const char *list, const char *s);

/* The span [*s, *s + *n) without white space at either end. */
void cw_trim_span(const char **s, size_t *n);
/* The same in place: the end is cut with a NUL, the start returned. */
char *cw_trim(char *s);
/*
 * A JSON string's value without white space at either end, as a new
 * string (sync-rules §C: names are compared trimmed, so they are sought
 * trimmed too); NULL when it is not a string or nothing is left.
 */
json_t *cw_json_trimmed(json_t *v);

/* o[k] when it is a string with something in it, else NULL. */
const char *cw_json_str(json_t *o, const char *k);

/*
 * A jansson copy of a value read with the core's parser (new reference;
 * NULL for NULL): JSON is parsed with cs_json.h, and the code that keeps,
 * edits or writes it back works on jansson values.
 */
json_t *cw_json_from_tape(const cs_json_t *v);

/* printf() appended to a buffer (metrics text, timeline lines). */
void cw_buf_printf(cs_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Percent-encoding of a URL component (RFC 3986 unreserved kept). */
void cw_url_escape(cs_buf_t *b, const char *s);
/*
 * One "k=v" of a form or a query string, after an '&' unless it is the
 * first thing in `b`; v escaped, k as given (a name of ours); a NULL v
 * adds nothing.
 */
void cw_form_add(cs_buf_t *b, const char *k, const char *v);

/* The whole file in a NUL-terminated heap string; NULL on error. */
char *cw_read_file(const char *path, size_t *len);

/*
 * A secret file (a private key): a regular file that neither its group
 * nor others may read or write.  0, or -1 with the reason in `why`.
 */
int cw_file_private(const char *path, char *why, size_t n);

/* "2026-11-21T10:00:00.000+0000" or "...Z" or "...+00:00" to ms; -1 bad */
int cw_parse_datetime(const char *s, int64_t *ms);

#endif /* CW_UTIL_H */
