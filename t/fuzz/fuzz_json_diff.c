/*
 * cs_json_parse() against what the edge did before it (src/cs_json.h):
 * the pre-scan, then jansson on the compact copy with the flags the edge
 * used (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY).
 *
 * Input: one byte choosing max_depth from fz_depths[] (low 4 bits) and
 * max_values from fz_values[] (high 4 bits), then the body.
 *
 * Invariants:
 *   - both accept or both refuse, and for the same reason: the
 *     pre-scan's, else jansson's error as the edge mapped it (invalid
 *     UTF-8, duplicate key, NUL in a string or a name, jansson's depth,
 *     anything else is "not JSON");
 *   - when both accept, the tape is jansson's tree: the same types, the
 *     same strings after unescaping (bytes and length), integers equal,
 *     reals bit for bit, arrays element by element, objects member by
 *     member in document order with the same names, each name found by
 *     cs_json_member() at its own member and an unknown one not at all;
 *     the walk ends exactly at the end of the tape;
 *   - the compact copy (cs_json_compact(), appended after what the buffer
 *     held) is byte for byte the pre-scan's copy, and compact_len is its
 *     length;
 *   - the document is reused from one input to the next, as the edge
 *     reuses it.
 */

#include <string.h>

#include "cs_json.h"
#include "cs_json_scan.h"
#include "fuzz_common.h"

static const unsigned  fz_depths[16] = {
    0, 1, 2, 3, 4, 5, 8, 32, 33, 64, 100, 1000, 2047, 2048, 2049, 1u << 30
};

static const size_t  fz_values[16] = {
    SIZE_MAX, 0, 1, 2, 3, 4, 5, 7, 10, 16, 32, 64, 100, 1000, 10000,
    SIZE_MAX - 1
};

#define FZ_PREFIX  "prefix!"

static cs_json_doc_t  fz_doc;

static const char  *fz_input;       /* for failure messages */


static const char *
fz_reason(int rc)
{
    switch (rc) {
    case CS_JSON_OK:        return "ok";
    case CS_JSON_NOMEM:     return "nomem";
    case CS_JSON_NUL:       return "nul";
    case CS_JSON_TOO_DEEP:  return "too_deep";
    case CS_JSON_TOO_MANY:  return "too_many";
    case CS_JSON_BAD_UTF8:  return "bad_utf8";
    case CS_JSON_DUPLICATE: return "duplicate";
    case CS_JSON_SYNTAX:    return "syntax";
    default:                return "?";
    }
}


/* jansson's error as the edge answered it (cs_ingest.c before the tape). */
static int
fz_jansson_reason(const json_error_t *err)
{
    switch (json_error_code(err)) {
    case json_error_invalid_utf8:
        return CS_JSON_BAD_UTF8;
    case json_error_duplicate_key:
        return CS_JSON_DUPLICATE;
    case json_error_null_character:
    case json_error_null_byte_in_key:
        return CS_JSON_NUL;
    case json_error_stack_overflow:
        return CS_JSON_TOO_DEEP;
    case json_error_out_of_memory:
        return CS_JSON_NOMEM;
    default:
        return CS_JSON_SYNTAX;
    }
}


static const cs_json_t *fz_same(const cs_json_t *v, json_t *j, int depth);


static void
fz_check_member(const cs_json_t *o, const cs_json_t *name,
    const cs_json_t *val)
{
    const cs_json_t  *m;

    m = cs_json_member(o, name->u.s, name->len);
    FZ_CHECK(m == val, "cs_json_member(\"%s\") finds another member",
             fz_show(name->u.s, name->len));
}


/* v is j; returns the entry after v and all it holds. */
static const cs_json_t *
fz_same(const cs_json_t *v, json_t *j, int depth)
{
    size_t             i, k;
    double             d;
    json_t            *el;
    const char        *key;
    const cs_json_t   *e, *name, *val;

    switch (json_typeof(j)) {

    case JSON_OBJECT:
        FZ_CHECK(v->type == CS_JSON_OBJECT, "type %d for an object: %s",
                 v->type, fz_input);
        FZ_CHECK(v->len == json_object_size(j), "object of %zu members, "
                 "tape %u: %s", json_object_size(j), v->len, fz_input);

        /* jansson keeps members in the order they were read */
        k = 0;
        name = v + 1;
        json_object_foreach(j, key, el) {
            size_t  kl = strlen(key);

            FZ_CHECK(name->type == CS_JSON_STRING, "a name of type %d",
                     name->type);
            FZ_CHECK(name->len == kl && memcmp(name->u.s, key, kl) == 0,
                     "member %zu is \"%s\" in jansson", k, key);
            fz_check_member(v, name, name + 1);
            name = fz_same(name + 1, el, depth + 1);
            k++;
        }

        FZ_CHECK(cs_json_member(v, "\x01no such name", 13) == NULL,
                 "an unknown name is found");

        FZ_CHECK(name == cs_json_skip(v), "the object's entries end at %td, "
                 "not %td", name - v, cs_json_skip(v) - v);

        e = name;
        i = 0;
        cs_json_object_foreach(v, i, name, val) {
            FZ_CHECK(json_object_getn(j, name->u.s, name->len) != NULL,
                     "member \"%s\" is not in jansson's object",
                     fz_show(name->u.s, name->len));
        }
        FZ_CHECK(i == k, "foreach saw %zu members of %zu", i, k);

        return e;

    case JSON_ARRAY:
        FZ_CHECK(v->type == CS_JSON_ARRAY, "type %d for an array: %s",
                 v->type, fz_input);
        FZ_CHECK(v->len == json_array_size(j), "array of %zu, tape %u",
                 json_array_size(j), v->len);

        e = v + 1;
        json_array_foreach(j, i, el) {
            e = fz_same(e, el, depth + 1);
        }

        FZ_CHECK(e == cs_json_skip(v), "the array's entries end at %td, "
                 "not %td", e - v, cs_json_skip(v) - v);

        k = 0;
        cs_json_array_foreach(v, i, val) {
            k++;
        }
        FZ_CHECK(k == v->len, "foreach saw %zu elements of %u", k, v->len);

        return e;

    case JSON_STRING:
        FZ_CHECK(v->type == CS_JSON_STRING, "type %d for a string: %s",
                 v->type, fz_input);
        FZ_CHECK(v->len == json_string_length(j)
                 && memcmp(v->u.s, json_string_value(j), v->len) == 0,
                 "string \"%s\"", fz_show(v->u.s, v->len));
        return v + 1;

    case JSON_INTEGER:
        FZ_CHECK(v->type == CS_JSON_INTEGER && v->u.i == json_integer_value(j),
                 "integer %lld, tape type %d value %lld",
                 (long long) json_integer_value(j), v->type,
                 (long long) v->u.i);
        return v + 1;

    case JSON_REAL:
        d = json_real_value(j);
        FZ_CHECK(v->type == CS_JSON_REAL
                 && memcmp(&v->u.r, &d, sizeof(double)) == 0,
                 "real %.17g, tape type %d value %.17g", d, v->type, v->u.r);
        return v + 1;

    case JSON_TRUE:
        FZ_CHECK(v->type == CS_JSON_TRUE, "type %d for true", v->type);
        return v + 1;

    case JSON_FALSE:
        FZ_CHECK(v->type == CS_JSON_FALSE, "type %d for false", v->type);
        return v + 1;

    default:
        FZ_CHECK(v->type == CS_JSON_NULL, "type %d for null", v->type);
        return v + 1;
    }
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int             rc, want, scan;
    char            shown[1400];
    size_t          n, max_values;
    json_t         *root;
    unsigned        max_depth;
    cs_buf_t        copy, compact;
    json_error_t    err;
    const uint8_t  *p;

    if (size < 1) {
        return 0;
    }

    max_depth = fz_depths[data[0] & 15];
    max_values = fz_values[data[0] >> 4];
    p = data + 1;
    n = size - 1;

    snprintf(shown, sizeof(shown), "%s (max_depth %u, max_values %zu)",
             fz_show(p, n), max_depth, max_values);
    fz_input = shown;

    /* what the edge did: the pre-scan, then jansson on its copy */
    cs_buf_init(&copy);
    scan = cs_json_scan(p, n, max_depth, max_values, NULL, &copy);
    root = NULL;

    switch (scan) {
    case CS_SCAN_OK:
        root = json_loadb(copy.data ? copy.data : "", copy.len,
                          JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
        want = root ? CS_JSON_OK : fz_jansson_reason(&err);
        break;
    case CS_SCAN_NUL:
        want = CS_JSON_NUL;
        break;
    case CS_SCAN_TOO_DEEP:
        want = CS_JSON_TOO_DEEP;
        break;
    case CS_SCAN_TOO_MANY:
        want = CS_JSON_TOO_MANY;
        break;
    default:
        want = CS_JSON_NOMEM;
    }

    rc = cs_json_parse(&fz_doc, p, n, max_depth, max_values);

    if (want == CS_JSON_NOMEM || rc == CS_JSON_NOMEM) {
        json_decref(root);
        cs_buf_free(&copy);
        return 0;
    }

    FZ_CHECK(rc == want, "cs_json_parse says %s, the pre-scan and jansson "
             "%s%s%s: %s", fz_reason(rc), fz_reason(want),
             root == NULL && scan == CS_SCAN_OK ? " — " : "",
             root == NULL && scan == CS_SCAN_OK ? err.text : "", shown);

    if (rc == CS_JSON_OK) {
        const cs_json_t  *end;

        end = fz_same(cs_json_root(&fz_doc), root, 0);
        FZ_CHECK(end == fz_doc.tape + fz_doc.n, "the walk ends at entry %td "
                 "of %zu", end - fz_doc.tape, fz_doc.n);

        cs_buf_init(&compact);
        cs_buf_put(&compact, FZ_PREFIX, sizeof(FZ_PREFIX) - 1);
        cs_json_compact(&fz_doc, &compact);

        FZ_CHECK(fz_doc.compact_len == copy.len, "compact_len %zu, the "
                 "pre-scan's copy %zu", fz_doc.compact_len, copy.len);
        FZ_CHECK(compact.len == sizeof(FZ_PREFIX) - 1 + copy.len
                 && memcmp(compact.data, FZ_PREFIX, sizeof(FZ_PREFIX) - 1)
                    == 0
                 && memcmp(compact.data + sizeof(FZ_PREFIX) - 1,
                           copy.data ? copy.data : "", copy.len) == 0,
                 "the compact copy differs: %s", fz_show(compact.data,
                                                         compact.len));
        cs_buf_free(&compact);
    }

    json_decref(root);
    cs_buf_free(&copy);

    return 0;
}
