/*
 * caresync core: the inbound body parsed once, into a flat tape.
 *
 * cs_json_parse() walks every byte of the body once and leaves one entry
 * per value (and per member name, just before its value) in document
 * order: no allocation per value, no copy of the body.  A string points
 * into the body, or, only when it has escapes, to its decoded bytes in
 * the document's scratch; numbers are converted once, as the rules read
 * them.  The whitespace runs between tokens are noted on the way, so that
 * the compact copy kept as `raw` is written straight from the body.
 *
 * What it accepts and refuses is exactly what the edge did with the
 * pre-scan and jansson (cs_json_scan(), then json_loadb() with
 * JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, on the compact copy), down to
 * which of several problems is reported:
 *   - the pre-scan's limits first, over the whole body: a raw NUL byte
 *     (CS_JSON_NUL), more than max_depth open containers
 *     (CS_JSON_TOO_DEEP), more than max_values values (CS_JSON_TOO_MANY),
 *     whichever comes first;
 *   - then the first problem in reading order, as jansson meets them:
 *     invalid UTF-8 anywhere, including overlong forms, encoded
 *     surrogates, truncated sequences and the byte a number or a literal
 *     is read up to (CS_JSON_BAD_UTF8); an object with the same name
 *     twice, compared after unescaping (CS_JSON_DUPLICATE); \u0000 in a
 *     string or a name (CS_JSON_NUL); a value nested deeper than jansson's
 *     2048 levels (CS_JSON_TOO_DEEP, only reachable when max_depth is
 *     above it); anything else (CS_JSON_SYNTAX): a control character in
 *     a string, a bad escape, a lone or unpaired surrogate escape, a
 *     number that is not JSON ("01", "1.", "-", "+1", ".5") or does not
 *     fit (an integer outside int64, a real that overflows a double;
 *     underflow is fine), a literal other than true/false/null, a
 *     missing or extra comma, colon or bracket, trailing bytes, an empty
 *     body.
 * Whitespace is space, \t, \n and \r, as in RFC 8259.  Any value may be
 * at the top; the caller decides that only an object will do.  Integers
 * are what strtoll() reads, reals what strtod() reads (the C locale).
 *
 * A document is reused from one body to the next: its buffers grow to
 * the largest body seen (cs_json_trim() gives them back) and nothing is
 * allocated per value.  Entries and the strings they point to live until
 * the next parse of the same document, or its free; those pointing into
 * the body, as long as the body.  Not for concurrent use from threads.
 */

#ifndef CS_JSON_H
#define CS_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "cs_buf.h"
#include "cs_str.h"

#define CS_JSON_OK          0
#define CS_JSON_NOMEM      -1
#define CS_JSON_NUL         1
#define CS_JSON_TOO_DEEP    2
#define CS_JSON_TOO_MANY    3
#define CS_JSON_BAD_UTF8    4
#define CS_JSON_DUPLICATE   5
#define CS_JSON_SYNTAX      6

/* jansson's own nesting limit, which the edge inherited */
#define CS_JSON_MAX_NESTING  2048

typedef enum {
    CS_JSON_NULL = 1,
    CS_JSON_FALSE,
    CS_JSON_TRUE,
    CS_JSON_INTEGER,
    CS_JSON_REAL,
    CS_JSON_STRING,
    CS_JSON_ARRAY,
    CS_JSON_OBJECT
} cs_json_type_t;

/* cs_json_t.flags */
#define CS_JSON_ESCAPED   1       /* a string decoded into the scratch */

/*
 * One value, or one member name (a string entry followed by its value).
 * An array's elements follow it; an object's members follow it as name,
 * value, name, value …; `inside` is how many entries that makes, so the
 * entry after a container and all it holds is `v + 1 + inside`.
 */
typedef struct {
    uint8_t          type;        /* cs_json_type_t */
    uint8_t          flags;
    uint16_t         next;        /* object: where cs_json_member() looks
                                     first, entries after the object's */
    uint32_t         len;         /* string: bytes; array: elements;
                                     object: members */
    union {
        const char  *s;           /* string: its bytes, decoded */
        int64_t      i;           /* integer */
        double       r;           /* real */
        uint32_t     inside;      /* array, object */
    } u;
} cs_json_t;

typedef struct {
    cs_json_t       *tape;
    size_t           n;           /* entries; tape[0] is the top value */
    size_t           cap;
    char            *scratch;     /* decoded strings, number texts */
    size_t           scratch_used;
    size_t           scratch_cap;
    uint32_t        *gaps;        /* (offset, length) of each whitespace
                                     run outside strings */
    size_t           ngaps;
    size_t           gaps_cap;
    const unsigned char  *body;
    size_t           body_len;
    size_t           compact_len; /* the body without those runs */
} cs_json_doc_t;

void cs_json_init(cs_json_doc_t *doc);
void cs_json_free(cs_json_doc_t *doc);

/* Frees the buffers if they hold more than `keep` bytes. */
void cs_json_trim(cs_json_doc_t *doc, size_t keep);

/*
 * Parses p[0..n) into doc (whatever it held is dropped).  max_depth and
 * max_values are the pre-scan's limits (values counted as cs_json_scan.h
 * says).  Returns CS_JSON_OK, a reason above, or CS_JSON_NOMEM.
 */
int cs_json_parse(cs_json_doc_t *doc, const unsigned char *p, size_t n,
    unsigned max_depth, size_t max_values);

/* The top value of a parsed document. */
static inline const cs_json_t *
cs_json_root(const cs_json_doc_t *doc)
{
    return doc->n ? &doc->tape[0] : NULL;
}

/* Appends the body without whitespace outside strings (the raw copy). */
void cs_json_compact(const cs_json_doc_t *doc, cs_buf_t *out);


/* ---- reading values: every function takes NULL as "absent" ----------- */

static inline int
cs_json_is(const cs_json_t *v, cs_json_type_t type)
{
    return v != NULL && v->type == type;
}

#define cs_json_is_object(v)   cs_json_is((v), CS_JSON_OBJECT)
#define cs_json_is_array(v)    cs_json_is((v), CS_JSON_ARRAY)
#define cs_json_is_string(v)   cs_json_is((v), CS_JSON_STRING)
#define cs_json_is_integer(v)  cs_json_is((v), CS_JSON_INTEGER)
#define cs_json_is_real(v)     cs_json_is((v), CS_JSON_REAL)
#define cs_json_is_true(v)     cs_json_is((v), CS_JSON_TRUE)
#define cs_json_is_null(v)     cs_json_is((v), CS_JSON_NULL)

static inline int
cs_json_is_boolean(const cs_json_t *v)
{
    return cs_json_is_true(v) || cs_json_is(v, CS_JSON_FALSE);
}

/* A string's bytes (decoded); a NULL view for anything else. */
static inline cs_str_t
cs_json_str(const cs_json_t *v)
{
    cs_str_t  s = cs_str_null;

    if (cs_json_is_string(v)) {
        s.data = v->u.s;
        s.len = v->len;
    }

    return s;
}

/* Elements of an array, members of an object, else 0. */
static inline size_t
cs_json_size(const cs_json_t *v)
{
    return (cs_json_is_array(v) || cs_json_is_object(v)) ? v->len : 0;
}

/* The entry after v and everything v holds. */
static inline const cs_json_t *
cs_json_skip(const cs_json_t *v)
{
    return v + 1 + ((v->type == CS_JSON_ARRAY || v->type == CS_JSON_OBJECT)
                    ? v->u.inside : 0);
}

/*
 * An object's member by name (bytes, after unescaping), NULL when v is
 * not an object or has no such member.  JSON null is returned as such.
 * The search starts after the member found last in the same object and
 * goes round: members read in the order they were sent, as the rules
 * read them, cost one step each.  That is the one thing it writes (into
 * the object's `next`, never the value).
 */
const cs_json_t *cs_json_member(const cs_json_t *v, const char *name,
    size_t len);

/* The first entry inside v when it is a non-empty `type`, else NULL. */
static inline const cs_json_t *
cs_json_first(const cs_json_t *v, cs_json_type_t type)
{
    if (!cs_json_is(v, type) || v->len == 0) {
        return NULL;
    }

    return v + 1;
}

/*
 * Elements of an array (NULL or another type: none):
 *   cs_json_array_foreach(a, i, el) { … }
 */
#define cs_json_array_foreach(a, i, el)                                       \
    for ((i) = 0, (el) = cs_json_first((a), CS_JSON_ARRAY);                   \
         (el) != NULL;                                                        \
         (el) = ++(i) < (a)->len ? cs_json_skip(el) : NULL)

/*
 * Members of an object, in document order:
 *   cs_json_object_foreach(o, i, name, val) { … }
 */
#define cs_json_object_foreach(o, i, name, val)                               \
    for ((i) = 0, (name) = cs_json_first((o), CS_JSON_OBJECT);                \
         (name) != NULL && ((val) = (name) + 1, 1);                           \
         (name) = ++(i) < (o)->len ? cs_json_skip(val) : NULL)

#endif /* CS_JSON_H */
