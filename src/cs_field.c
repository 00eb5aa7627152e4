/*
 * caresync core: typed field reads (see cs_field.h).
 */

#include <stdio.h>
#include <string.h>

#include "cs_field.h"
#include "cs_normalize.h"


void
cs_check_init(cs_check_t *ck, cs_buf_t *notes)
{
    ck->reason = NULL;
    ck->msg[0] = '\0';
    ck->notes = notes;
}


int
cs_field_fail(cs_check_t *ck, const char *reason, const char *path,
    const char *key, const char *what)
{
    if (ck->reason == NULL) {
        ck->reason = reason;
        snprintf(ck->msg, sizeof(ck->msg), "%s%s%s %s", path,
                 (*path && key) ? "." : "", key ? key : "", what);
    }

    return -1;
}


void
cs_field_note(cs_check_t *ck, const char *path, const char *key,
    const char *why)
{
    cs_buf_puts(ck->notes, path);
    if (*path) {
        cs_buf_putc(ck->notes, '.');            /* "" is the top level */
    }
    cs_buf_puts(ck->notes, key);
    cs_buf_puts(ck->notes, ": ");
    cs_buf_puts(ck->notes, why);
    cs_buf_puts(ck->notes, "; ");
}


/* Appends s to the path being built in dst[*at], cut to fit. */
static void
cs_field_cat(char dst[CS_FIELD_PATH_MAX], size_t *at, const char *s,
    size_t n)
{
    if (n > CS_FIELD_PATH_MAX - 1 - *at) {
        n = CS_FIELD_PATH_MAX - 1 - *at;
    }

    memcpy(dst + *at, s, n);
    *at += n;
    dst[*at] = '\0';
}


/* Paths are built for every object read, not only for a 400: no printf. */
static size_t
cs_field_join(char dst[CS_FIELD_PATH_MAX], const char *path, const char *key)
{
    size_t  at;

    at = 0;
    dst[0] = '\0';

    cs_field_cat(dst, &at, path, strlen(path));

    if (*path) {
        cs_field_cat(dst, &at, ".", 1);         /* "" is the top level */
    }

    cs_field_cat(dst, &at, key, strlen(key));

    return at;
}


void
cs_field_path(char dst[CS_FIELD_PATH_MAX], const char *path, const char *key)
{
    (void) cs_field_join(dst, path, key);
}


void
cs_field_index(char dst[CS_FIELD_PATH_MAX], const char *path,
    const char *key, size_t i)
{
    char    num[24], *d;
    size_t  at;

    at = cs_field_join(dst, path, key);

    d = num + sizeof(num);
    *--d = ']';

    do {
        *--d = (char) ('0' + i % 10);
        i /= 10;
    } while (i);

    *--d = '[';

    cs_field_cat(dst, &at, d, (size_t) (num + sizeof(num) - d));
}


const cs_json_t *
cs_field_get(const cs_json_t *obj, const char *key)
{
    const cs_json_t  *v;

    if (obj == NULL) {
        return NULL;
    }

    v = cs_json_member(obj, key, strlen(key));

    return cs_json_is_null(v) ? NULL : v;
}


int
cs_field_string(cs_check_t *ck, const cs_json_t *obj, const char *path,
    const char *key, int required, cs_str_t *out)
{
    const cs_json_t  *v;
    cs_str_t          s;

    out->data = NULL;
    out->len = 0;

    v = cs_field_get(obj, key);

    if (v == NULL) {
        return required ? cs_field_fail(ck, "missing_field", path, key,
                                        "is required")
                        : 0;
    }

    if (!cs_json_is_string(v)) {
        return cs_field_fail(ck, "wrong_type", path, key, "must be a string");
    }

    s = cs_json_str(v);

    if (s.len > CS_FIELD_STR_MAX) {
        return cs_field_fail(ck, "too_long", path, key, "is too long");
    }

    if (required && cs_norm_trim(s).len == 0) {
        return cs_field_fail(ck, "missing_field", path, key, "is required");
    }

    *out = s;

    return 0;
}


int
cs_field_text(cs_check_t *ck, const cs_json_t *obj, const char *path,
    const char *key, cs_str_t *out)
{
    if (cs_field_string(ck, obj, path, key, CS_FIELD_OPTIONAL, out) != 0) {
        return -1;
    }

    *out = cs_norm_trim(*out);

    if (out->len == 0) {
        out->data = NULL;
    }

    return 0;
}


int
cs_field_email(cs_check_t *ck, const cs_json_t *obj, const char *path,
    const char *key, char out[CS_EMAIL_MAX + 1])
{
    out[0] = '\0';

    return cs_field_norm(ck, obj, path, key, cs_norm_email, out,
                         "not an email address");
}


int
cs_field_norm(cs_check_t *ck, const cs_json_t *obj, const char *path,
    const char *key, cs_field_norm_pt norm, char *out, const char *note)
{
    cs_str_t  s;

    if (cs_field_text(ck, obj, path, key, &s) != 0) {
        return -1;
    }

    if (s.len && norm(s.data, s.len, out) < 0) {
        out[0] = '\0';
        cs_field_note(ck, path, key, note);
    }

    return 0;
}


int
cs_field_object(cs_check_t *ck, const cs_json_t *obj, const char *path,
    const char *key, const cs_json_t **out)
{
    const cs_json_t  *v;

    v = cs_field_get(obj, key);
    *out = NULL;

    if (v != NULL && !cs_json_is_object(v)) {
        return cs_field_fail(ck, "wrong_type", path, key,
                             "must be an object");
    }

    *out = v;

    return 0;
}


int
cs_field_array(cs_check_t *ck, const cs_json_t *obj, const char *path,
    const char *key, const cs_json_t **out)
{
    const cs_json_t  *v;

    v = cs_field_get(obj, key);
    *out = NULL;

    if (v == NULL) {
        return 0;
    }

    if (!cs_json_is_array(v)) {
        return cs_field_fail(ck, "wrong_type", path, key, "must be an array");
    }

    if (cs_json_size(v) > CS_FIELD_ARRAY_MAX) {
        return cs_field_fail(ck, "too_many", path, key,
                             "has too many entries");
    }

    *out = v;

    return 0;
}


int
cs_field_bool(cs_check_t *ck, const cs_json_t *obj, const char *path,
    const char *key, int *out)
{
    const cs_json_t  *v;

    v = cs_field_get(obj, key);
    *out = -1;

    if (v == NULL) {
        return 0;
    }

    if (!cs_json_is_boolean(v)) {
        return cs_field_fail(ck, "wrong_type", path, key,
                             "must be a boolean");
    }

    *out = cs_json_is_true(v);

    return 0;
}


int
cs_field_date(cs_check_t *ck, const cs_json_t *obj, const char *path,
    const char *key, cs_date_t *out)
{
    double            d;
    const cs_json_t  *v;
    int64_t           ms;
    cs_str_t          s;

    out->set = 0;

    v = cs_field_get(obj, key);

    if (v == NULL) {
        return 0;
    }

    if (cs_json_is_integer(v)) {
        ms = v->u.i;

    } else if (cs_json_is_real(v)) {
        /* range first, so that the cast below is defined */
        d = v->u.r;

        if (!(d >= CS_TIME_MIN_MS && d <= CS_TIME_MAX_MS)
            || (double) (int64_t) d != d)
        {
            return cs_field_fail(ck, "bad_value", path, key,
                                 "must be a date");
        }

        ms = (int64_t) d;

    } else if (cs_json_is_string(v)) {
        s = cs_json_str(v);
        s = cs_norm_trim(s);

        if (cs_time_parse_date(s.data, s.len, &out->ms, out->date) != 0) {
            return cs_field_fail(ck, "bad_value", path, key,
                                 "must be a date");
        }

        out->set = 1;
        return 0;

    } else {
        return cs_field_fail(ck, "wrong_type", path, key, "must be a date");
    }

    if (!cs_time_ms_valid(ms)) {
        return cs_field_fail(ck, "bad_value", path, key, "must be a date");
    }

    out->set = 1;
    out->ms = ms;
    cs_time_format_date(ms, out->date);

    return 0;
}
