/*
 * The worker's reading of JSON (src/worker/engine/cw_env.h, cw_util.h):
 * a job's envelope parsed once with the core's parser, its strings made
 * C strings in place, and a value copied into jansson values (what the
 * field maps read, what a vendor's answer becomes).
 *
 * Input: the bytes of an envelope (or of an answer).
 *
 * Invariants:
 *   - cw_env_parse() accepts exactly what cs_json_parse() accepts with an
 *     object at the top, and leaves the input as it was;
 *   - its tape is the core's tape of the same input, entry by entry, and
 *     every string in it (values and names) is a C string of its own
 *     length: NUL-terminated there, no NUL inside, the decoded bytes;
 *   - cw_json_from_tape() of the top value is the tape: the same types,
 *     strings, integers, reals bit for bit, members in document order;
 *   - cw_env_str() of each member is its value when that is a non-empty
 *     string, else NULL.
 */

#include <string.h>

#include "cs_json.h"
#include "engine/cw_env.h"
#include "engine/cw_util.h"
#include "fuzz_common.h"

static cs_json_doc_t  fz_ref;


/* The tape's type of a jansson value. */
static int
fz_type(json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:  return CS_JSON_OBJECT;
    case JSON_ARRAY:   return CS_JSON_ARRAY;
    case JSON_STRING:  return CS_JSON_STRING;
    case JSON_INTEGER: return CS_JSON_INTEGER;
    case JSON_REAL:    return CS_JSON_REAL;
    case JSON_TRUE:    return CS_JSON_TRUE;
    case JSON_FALSE:   return CS_JSON_FALSE;
    default:           return CS_JSON_NULL;
    }
}


/* v is j; returns the entry after v and all it holds. */
static const cs_json_t *
fz_same(const cs_json_t *v, json_t *j)
{
    size_t            i, n;
    double            d;
    json_t           *el;
    const char       *key;
    const cs_json_t  *e = v + 1;

    FZ_CHECK(j != NULL && fz_type(j) == v->type,
             "an entry of type %d copied as type %d", v->type,
             j ? fz_type(j) : -1);

    n = json_is_object(j) ? json_object_size(j) : json_array_size(j);
    FZ_CHECK(cs_json_size(v) == n, "%zu entries copied as %zu",
             cs_json_size(v), n);

    switch (v->type) {

    case CS_JSON_OBJECT:
        json_object_foreach(j, key, el) {
            FZ_CHECK(strlen(key) == e->len
                     && memcmp(key, e->u.s, e->len) == 0,
                     "member \"%s\" copied as \"%s\"",
                     fz_show(e->u.s, e->len), key);
            e = fz_same(e + 1, el);
        }
        return e;

    case CS_JSON_ARRAY:
        json_array_foreach(j, i, el) {
            e = fz_same(e, el);
        }
        return e;

    case CS_JSON_STRING:
        FZ_CHECK(json_string_length(j) == v->len
                 && memcmp(json_string_value(j), v->u.s, v->len) == 0,
                 "a string copied otherwise: %s", fz_show(v->u.s, v->len));
        return e;

    case CS_JSON_INTEGER:
        FZ_CHECK(json_integer_value(j) == v->u.i,
                 "an integer copied otherwise");
        return e;

    case CS_JSON_REAL:
        d = json_real_value(j);
        FZ_CHECK(memcmp(&d, &v->u.r, sizeof(d)) == 0,
                 "a real copied otherwise");
        return e;

    default:
        return e;
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int               rc, ok;
    char             *in;
    size_t            i;
    json_t           *j;
    cw_env_t          env;
    const cs_json_t  *a, *b, *name, *val;

    /* the worker's input is a heap copy of the stream entry */
    in = malloc(size + 1);
    FZ_CHECK(in != NULL, "out of memory");
    memcpy(in, data, size);
    in[size] = '\0';

    rc = cs_json_parse(&fz_ref, data, size, CS_JSON_MAX_NESTING, SIZE_MAX);
    ok = rc == CS_JSON_OK && cs_json_is_object(cs_json_root(&fz_ref));

    memset(&env, 0, sizeof(env));
    FZ_CHECK((cw_env_parse(&env, in, size) == 0) == ok,
             "cw_env_parse() and the core's parser disagree (%d): %s", rc,
             fz_show(data, size));
    FZ_CHECK(memcmp(in, data, size) == 0, "the input was written to");
    FZ_CHECK((env.root != NULL) == ok, "root %p for a verdict of %d",
             (const void *) env.root, ok);

    if (!ok) {
        cw_env_free(&env);
        free(in);
        return 0;
    }

    FZ_CHECK(env.doc.n == fz_ref.n, "%zu entries, the core's parser %zu",
             env.doc.n, fz_ref.n);

    for (i = 0; i < fz_ref.n; i++) {
        a = &env.doc.tape[i];
        b = &fz_ref.tape[i];
        FZ_CHECK(a->type == b->type && a->len == b->len,
                 "entry %zu differs", i);

        if (a->type == CS_JSON_STRING) {
            FZ_CHECK(memcmp(a->u.s, b->u.s, a->len) == 0
                     && a->u.s[a->len] == '\0'
                     && memchr(a->u.s, '\0', a->len) == NULL,
                     "string %zu is not the C string %s", i,
                     fz_show(b->u.s, b->len));
        }
    }

    j = cw_json_from_tape(env.root);
    FZ_CHECK(fz_same(env.root, j) == cs_json_skip(env.root),
             "the copy does not end with the object");
    json_decref(j);

    cs_json_object_foreach(env.root, i, name, val) {
        const char  *s = cw_env_str(env.root, name->u.s);

        if (cs_json_is_string(val) && val->len) {
            FZ_CHECK(s == val->u.s, "cw_env_str(\"%s\") is not its value",
                     fz_show(name->u.s, name->len));
        } else {
            FZ_CHECK(s == NULL, "cw_env_str(\"%s\") of a %s",
                     fz_show(name->u.s, name->len),
                     cs_json_is_string(val) ? "empty string" : "non-string");
        }
    }

    cw_env_free(&env);
    free(in);

    return 0;
}
