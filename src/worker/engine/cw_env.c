/*
 * caresync-worker: a job's envelope, parsed once (cw_env.h).
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cw_env.h"
#include "engine/cw_util.h"


int
cw_env_parse(cw_env_t *e, const char *p, size_t n)
{
    char       *d;
    size_t      i, esc;
    cs_json_t  *v;

    cs_json_init(&e->doc);
    e->copy = cw_strndup(p, n);
    e->copy_len = n;
    e->strs = NULL;
    e->strs_len = 0;
    e->root = NULL;

    /*
     * The edge bounds what it queues; the worker keeps jansson's nesting
     * limit, which it read envelopes with before, and counts no values.
     */
    switch (cs_json_parse(&e->doc, (const unsigned char *) e->copy, n,
                          CS_JSON_MAX_NESTING, SIZE_MAX))
    {
    case CS_JSON_OK:
        break;

    case CS_JSON_NOMEM:
        abort();

    default:
        return -1;
    }

    if (!cs_json_is_object(cs_json_root(&e->doc))) {
        return -1;
    }

    esc = 0;
    for (i = 0; i < e->doc.n; i++) {
        v = &e->doc.tape[i];
        if (v->type == CS_JSON_STRING && (v->flags & CS_JSON_ESCAPED)) {
            esc += v->len + 1;
        }
    }

    d = e->strs = esc ? malloc(esc) : NULL;
    e->strs_len = esc;
    if (esc && d == NULL) {
        abort();
    }

    for (i = 0; i < e->doc.n; i++) {
        v = &e->doc.tape[i];
        if (v->type != CS_JSON_STRING) {
            continue;
        }

        if (v->flags & CS_JSON_ESCAPED) {
            memcpy(d, v->u.s, v->len);
            d[v->len] = '\0';
            v->u.s = d;
            d += v->len + 1;

        } else {
            /* its closing quote, in the copy the job owns */
            ((char *) v->u.s)[v->len] = '\0';
        }
    }

    e->root = cs_json_root(&e->doc);

    return 0;
}


void
cw_env_free(cw_env_t *e)
{
    /* an opened envelope holds PHI: nothing of it stays in freed memory */
    if (e->copy) {
        explicit_bzero(e->copy, e->copy_len);
    }
    if (e->strs) {
        explicit_bzero(e->strs, e->strs_len);
    }

    cs_json_free(&e->doc);
    free(e->copy);
    free(e->strs);
    e->copy = e->strs = NULL;
    e->root = NULL;
}


const cs_json_t *
cw_env_get(const cs_json_t *o, const char *key)
{
    return cs_json_member(o, key, strlen(key));
}


const char *
cw_env_str(const cs_json_t *o, const char *key)
{
    const cs_json_t  *v = cw_env_get(o, key);

    return cs_json_is_string(v) && v->len ? v->u.s : NULL;
}
