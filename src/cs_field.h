/*
 * caresync core: typed reads from a parsed body, with the first problem
 * kept as the 400 message.
 *
 * A field is named by the path of its parent ("event.patient", "" for the
 * top level) and its key; a message is "<path>.<key> <what>", built only
 * from those literals and array indexes, never from a value.  Every getter
 * treats JSON null as absent and a NULL parent as an absent parent.  They
 * return 0, or -1 once a problem has been recorded in the cs_check_t.
 */

#ifndef CS_FIELD_H
#define CS_FIELD_H

#include <stdint.h>

#include "cs_buf.h"
#include "cs_json.h"
#include "cs_normalize.h"
#include "cs_str.h"
#include "cs_time.h"

#define CS_FIELD_STR_MAX     4096     /* bytes in one string value */
#define CS_FIELD_ARRAY_MAX   100      /* entries in one array */
#define CS_FIELD_PATH_MAX    128
#define CS_FIELD_MSG_MAX     192

#define CS_FIELD_OPTIONAL    0
#define CS_FIELD_REQUIRED    1

/*
 * Reasons (static labels for metrics and logs):
 *   missing_field  a required field absent, null, empty or blank
 *   wrong_type     a field of another JSON type, a date of a non-date type
 *   bad_value      right type, unacceptable value (date, phone, names)
 *   too_long       a string over CS_FIELD_STR_MAX bytes
 *   too_many       an array over CS_FIELD_ARRAY_MAX entries
 */
typedef struct {
    const char  *reason;              /* NULL while all is well */
    char         msg[CS_FIELD_MSG_MAX];
    cs_buf_t    *notes;               /* "path: why; " of dropped values */
} cs_check_t;

typedef struct {
    int          set;
    int64_t      ms;                  /* the instant, UTC */
    char         date[CS_TIME_DATE_LEN + 1];  /* as written, or from ms */
} cs_date_t;

void cs_check_init(cs_check_t *ck, cs_buf_t *notes);

/* Records the problem (the first one only) and returns -1. */
int cs_field_fail(cs_check_t *ck, const char *reason, const char *path,
    const char *key, const char *what);

/* Appends "<path>.<key>: <why>; " to the notes. */
void cs_field_note(cs_check_t *ck, const char *path, const char *key,
    const char *why);

/* "<path>.<key>" into dst ("<key>" when path is ""). */
void cs_field_path(char dst[CS_FIELD_PATH_MAX], const char *path,
    const char *key);

/* "<path>.<key>[<i>]" into dst. */
void cs_field_index(char dst[CS_FIELD_PATH_MAX], const char *path,
    const char *key, size_t i);

/* The member, NULL when the parent is NULL or the member absent/null. */
const cs_json_t *cs_field_get(const cs_json_t *obj, const char *key);

/* `out` is the string as sent; NULL view when absent (optional). */
int cs_field_string(cs_check_t *ck, const cs_json_t *obj, const char *path,
    const char *key, int required, cs_str_t *out);

/* Optional, trimmed; a blank value counts as absent (NULL view). */
int cs_field_text(cs_check_t *ck, const cs_json_t *obj, const char *path,
    const char *key, cs_str_t *out);

/* Optional e-mail, normalized; an unusable one is dropped with a note. */
int cs_field_email(cs_check_t *ck, const cs_json_t *obj, const char *path,
    const char *key, char out[CS_EMAIL_MAX + 1]);

/*
 * An optional text normalized by one of cs_normalize.h's functions (-1
 * for a value it cannot use) into `out`: absent, `out` is left as it is
 * (a default stays); unusable, it is emptied and the field noted with
 * `note` ("not a US state").
 */
typedef int (*cs_field_norm_pt)(const char *s, size_t n, char *out);

int cs_field_norm(cs_check_t *ck, const cs_json_t *obj, const char *path,
    const char *key, cs_field_norm_pt norm, char *out, const char *note);

int cs_field_object(cs_check_t *ck, const cs_json_t *obj, const char *path,
    const char *key, const cs_json_t **out);

int cs_field_array(cs_check_t *ck, const cs_json_t *obj, const char *path,
    const char *key, const cs_json_t **out);

/* out: 1, 0, or -1 when absent. */
int cs_field_bool(cs_check_t *ck, const cs_json_t *obj, const char *path,
    const char *key, int *out);

/* Epoch milliseconds (integer, or a real with no fraction) or ISO-8601. */
int cs_field_date(cs_check_t *ck, const cs_json_t *obj, const char *path,
    const char *key, cs_date_t *out);

#endif /* CS_FIELD_H */
