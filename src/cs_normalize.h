/*
 * caresync core: normalizers for single patient fields (spec/job.md).
 *
 * Each one reads a value as sent and writes the canonical form into a
 * small caller buffer; a return of -1 means "not a valid value", which the
 * caller turns into a 400 (required field) or a dropped value and a note
 * (optional field).  "Whitespace" is ASCII space, \t, \n, \v, \f, \r.
 */

#ifndef CS_NORMALIZE_H
#define CS_NORMALIZE_H

#include <stddef.h>

#include "cs_buf.h"
#include "cs_str.h"

#define CS_PHONE_LEN   16        /* "+" and up to 15 digits */
#define CS_EMAIL_MAX   254       /* RFC 5321 path limit */
#define CS_ZIP_LEN     10        /* NNNNN-NNNN */

static inline int
cs_norm_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Leading and trailing whitespace removed; a NULL view stays NULL. */
cs_str_t cs_norm_trim(cs_str_t s);

/* ASCII case-insensitive equality. */
int cs_norm_ci_eq(const char *a, size_t an, const char *b, size_t bn);

/* Trim and collapse inner whitespace runs to one space; returns length. */
size_t cs_norm_collapse(char *dst, const char *s, size_t n);

/* A JSON string of the trimmed, collapsed text (names keep their case). */
void cs_norm_put_name(cs_buf_t *b, cs_str_t s);

/* E.164, NUL-terminated: "+12027953213". */
int cs_norm_phone(const char *s, size_t n, char out[CS_PHONE_LEN + 1]);

/* USPS code ("AL"), from a code in any case or a full state name. */
int cs_norm_state(const char *s, size_t n, char out[3]);

/* NNNNN or NNNNN-NNNN (nine bare digits gain the dash). */
int cs_norm_zip(const char *s, size_t n, char out[CS_ZIP_LEN + 1]);

/* ISO-3166 alpha-2 upper-cased; any two ASCII letters pass. */
int cs_norm_country(const char *s, size_t n, char out[3]);

/* Lower-cased address; returns its length, or -1. */
int cs_norm_email(const char *s, size_t n, char out[CS_EMAIL_MAX + 1]);

/* "male", "female", "other" or "unknown"; NULL for a blank value. */
const char *cs_norm_gender(const char *s, size_t n);

#endif /* CS_NORMALIZE_H */
