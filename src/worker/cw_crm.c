/*
 * caresync-worker: what every CRM implementation shares.
 */

#include <string.h>

#include "cw_crm.h"
#include "cw_util.h"


static int
cw_crm_empty(json_t *v)
{
    return v == NULL || json_is_null(v)
           || (json_is_string(v) && json_string_length(v) == 0);
}


static int
cw_crm_same(json_t *a, json_t *b)
{
    int64_t      ta, tb;
    const char  *sa, *sb;

    if (json_equal(a, b)) {
        return 1;
    }

    if (!json_is_string(a) || !json_is_string(b)) {
        return 0;
    }

    sa = json_string_value(a);
    sb = json_string_value(b);

    /* date-times only: "2026-01-02" and a time at midnight differ */
    if (strlen(sa) > 10 && strlen(sb) > 10
        && cw_parse_datetime(sa, &ta) == 0 && cw_parse_datetime(sb, &tb) == 0)
    {
        return ta == tb;
    }

    return 0;
}


json_t *
cw_crm_diff(json_t *have, json_t *want)
{
    json_t      *out = NULL, *v;
    const char  *k;

    json_object_foreach(want, k, v) {
        if (cw_crm_empty(v)) {
            continue;
        }

        if (have && cw_crm_same(json_object_get(have, k), v)) {
            continue;
        }

        if (out == NULL) {
            out = json_object();
        }

        json_object_set(out, k, v);
    }

    return out;
}


json_t *
cw_crm_only_equal(json_t *records, const char *field, const char *value)
{
    size_t       i;
    json_t      *out, *r;
    const char  *s;

    out = json_array();

    json_array_foreach(records, i, r) {
        s = json_string_value(json_object_get(r, field));
        if (s && strcmp(s, value) == 0) {
            json_array_append(out, r);
        }
    }

    return out;
}
