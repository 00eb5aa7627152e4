/*
 * caresync core: the search box's request, and trimming Hint's patient
 * list for its answer.
 */

#include <string.h>

#include <jansson.h>

#include "cs_hint_search.h"


int
cs_hint_search_query(const void *body, size_t len, char *q, size_t *qlen)
{
    size_t         i, n;
    json_t        *root, *v;
    const char    *s;
    unsigned char  c;
    json_error_t   err;

    root = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &err);
    if (root == NULL) {
        return json_error_code(&err) == json_error_out_of_memory ? -1 : 1;
    }

    v = json_is_object(root) ? json_object_get(root, "q") : NULL;

    if (!json_is_string(v)) {
        json_decref(root);
        return 1;
    }

    s = json_string_value(v);
    n = json_string_length(v);

    if (n == 0 || n > CS_HINT_SEARCH_Q_MAX) {
        json_decref(root);
        return 2;
    }

    for (i = 0; i < n; i++) {
        c = (unsigned char) s[i];

        /* UTF-8 letters pass as their bytes; controls and syntax do not */

        if (!(c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || c == ' ' || c == '\'' || c == '.' || c == '-'))
        {
            json_decref(root);
            return 2;
        }
    }

    memcpy(q, s, n);
    *qlen = n;
    json_decref(root);

    return 0;
}


static void
cs_hint_search_field(cs_buf_t *out, json_t *patient, const char *name,
    int *first)
{
    json_t  *v = json_object_get(patient, name);

    if (!json_is_string(v)) {
        return;
    }

    if (!*first) {
        cs_buf_putc(out, ',');
    }

    *first = 0;
    cs_buf_json_key(out, name);
    cs_buf_json_str(out, json_string_value(v), json_string_length(v));
}


int
cs_hint_search_trim(const void *body, size_t len, cs_buf_t *out)
{
    int           first;
    size_t        i, n;
    json_t       *root, *list, *p;
    json_error_t  err;

    root = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &err);
    if (root == NULL) {
        return json_error_code(&err) == json_error_out_of_memory ? -1 : 1;
    }

    list = json_is_object(root) ? json_object_get(root, "data") : root;

    if (!json_is_array(list)) {
        json_decref(root);
        return 1;
    }

    cs_buf_putc(out, '[');
    n = 0;

    for (i = 0; i < json_array_size(list) && n < CS_HINT_SEARCH_MAX; i++) {
        p = json_array_get(list, i);

        if (!json_is_object(p) || !json_is_string(json_object_get(p, "id"))) {
            continue;
        }

        if (n++) {
            cs_buf_putc(out, ',');
        }

        cs_buf_putc(out, '{');
        first = 1;
        cs_hint_search_field(out, p, "id", &first);
        cs_hint_search_field(out, p, "first_name", &first);
        cs_hint_search_field(out, p, "last_name", &first);
        cs_hint_search_field(out, p, "dob", &first);
        cs_buf_putc(out, '}');
    }

    cs_buf_putc(out, ']');
    json_decref(root);

    return out->oom ? -1 : 0;
}
