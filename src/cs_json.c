/*
 * caresync core: the one-pass parser and its tape (see cs_json.h).
 *
 * The reading order of jansson's lexer is kept where it decides which
 * problem is reported: a token is read whole (for a number or a literal,
 * up to and including the byte after it) before the grammar looks at it,
 * so a bad token in the wrong place is reported for its bytes first; a
 * string is read to its closing quote before its escapes are decoded;
 * a member name is checked for \u0000 before it is compared with the
 * names before it.  On any failure the pre-scan (cs_json_scan()) runs
 * over the whole body: its limits come first, as they did when it ran
 * before jansson.
 */

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cs_bytes.h"
#include "cs_json.h"
#include "cs_json_scan.h"

/* Not a reason: the pre-scan's verdict decides (see cs_json_parse()). */
#define CS_JP_LIMIT       100

/* no container is open */
#define CS_JP_NONE        UINT32_MAX

/*
 * Names of an object are compared with each other as they come, up to
 * this many; the names of a larger object are sorted and compared when it
 * closes (or fails), so that no body costs more than n log n.
 */
#define CS_JP_PAIRWISE    32

/* cs_json_t.flags of an open object: its names are checked at the end */
#define CS_JP_DEFERRED    2

/* the first guess of the tape's size, in body bytes per entry */
#define CS_JP_BYTES_PER_ENTRY  8

typedef struct {
    cs_json_doc_t        *doc;
    const unsigned char  *p;
    size_t                n;
    size_t                last;       /* past the last non-whitespace */
    unsigned              max_depth;
    size_t                max_values;
    size_t                values;
    unsigned              depth;      /* containers open */
    uint32_t              open;       /* the innermost, or CS_JP_NONE */
    unsigned              deferred;   /* open objects with CS_JP_DEFERRED */
    int                   nomem;      /* a whitespace run was not noted */
} cs_jp_t;


/* 1: a byte that goes on a string as it is (0x20-0x7f but " and \). */
static const unsigned char  cs_jp_plain[256] = {
    [0x20] = 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

static const unsigned char  cs_jp_space[256] = {
    [' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1,
};

#define cs_jp_digit(c)  ((c) >= '0' && (c) <= '9')
#define cs_jp_alpha(c)                                                        \
    (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))


void
cs_json_init(cs_json_doc_t *doc)
{
    memset(doc, 0, sizeof(cs_json_doc_t));
}


void
cs_json_free(cs_json_doc_t *doc)
{
    free(doc->tape);
    free(doc->scratch);
    free(doc->gaps);
    cs_json_init(doc);
}


void
cs_json_trim(cs_json_doc_t *doc, size_t keep)
{
    if (doc->cap * sizeof(cs_json_t) + doc->scratch_cap
        + doc->gaps_cap * 2 * sizeof(uint32_t) > keep)
    {
        cs_json_free(doc);
    }
}


/* Room for `need` more entries of `size` bytes in *buf (capacity *cap). */
static int
cs_jp_grow(void **buf, size_t *cap, size_t used, size_t need, size_t size)
{
    size_t   c;
    void    *p;

    if (need <= *cap - used) {
        return 0;
    }

    c = *cap ? *cap : 16;

    while (c - used < need) {
        if (c > SIZE_MAX / 2 / size) {
            return -1;
        }
        c *= 2;
    }

    p = realloc(*buf, c * size);
    if (p == NULL) {
        return -1;
    }

    *buf = p;
    *cap = c;

    return 0;
}


/* A new entry's index, or -1 when out of memory. */
static inline int64_t
cs_jp_push(cs_jp_t *jp, cs_json_type_t type)
{
    cs_json_t      *v;
    cs_json_doc_t  *doc = jp->doc;

    if (doc->n == doc->cap
        && cs_jp_grow((void **) &doc->tape, &doc->cap, doc->n, 1,
                      sizeof(cs_json_t)) != 0)
    {
        return -1;
    }

    v = &doc->tape[doc->n];
    v->type = (uint8_t) type;
    v->flags = 0;
    v->next = 0;
    v->len = 0;

    return (int64_t) doc->n++;
}


/* Skips whitespace from p[i], noting the run; returns where it ends. */
static inline size_t
cs_jp_ws(cs_jp_t *jp, size_t i)
{
    size_t                start;
    cs_json_doc_t        *doc;
    const unsigned char  *p = jp->p;

    if (i < jp->last) {
        if (!cs_jp_space[p[i]]) {
            return i;
        }

        /* p[last - 1] is not whitespace: it stops the loop */
        start = i;

        do {
            i++;
        } while (cs_jp_space[p[i]]);

    } else if (i < jp->n) {
        start = i;              /* the whitespace the body ends with */
        i = jp->n;

    } else {
        return i;
    }

    doc = jp->doc;

    if (doc->ngaps == doc->gaps_cap
        && cs_jp_grow((void **) &doc->gaps, &doc->gaps_cap, doc->ngaps, 1,
                      2 * sizeof(uint32_t)) != 0)
    {
        jp->nomem = 1;
        return i;
    }

    doc->gaps[2 * doc->ngaps] = (uint32_t) start;
    doc->gaps[2 * doc->ngaps + 1] = (uint32_t) (i - start);
    doc->ngaps++;
    doc->compact_len -= i - start;

    return i;
}


/*
 * The length of the UTF-8 sequence at p[i], 0 if it is not one (jansson's
 * check: a 2-4 byte form of a code point up to U+10FFFF, not a surrogate,
 * not overlong; a sequence cut by the end of the body is invalid).
 */
static size_t
cs_jp_utf8(const unsigned char *p, size_t n, size_t i)
{
    size_t         k, len;
    uint32_t       cp, min;
    unsigned char  c = p[i];

    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
        min = 0x80;

    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
        min = 0x800;

    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
        min = 0x10000;

    } else {
        return 0;               /* ASCII, a continuation byte, C0, C1, F5+ */
    }

    if (len > n - i) {
        return 0;
    }

    for (k = 1; k < len; k++) {
        c = p[i + k];

        if (c < 0x80 || c > 0xbf) {
            return 0;
        }

        cp = (cp << 6) | (c & 0x3f);
    }

    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }

    return len;
}


/*
 * The lexer has read the byte at p[i] (or the end): a byte that starts
 * no valid UTF-8 sequence is reported as such, before anything else.
 */
static inline int
cs_jp_read(const cs_jp_t *jp, size_t i, int rc)
{
    if (i < jp->n && jp->p[i] >= 0x80 && cs_jp_utf8(jp->p, jp->n, i) == 0) {
        return CS_JSON_BAD_UTF8;
    }

    return rc;
}


static int
cs_jp_hex(unsigned char c)
{
    if (cs_jp_digit(c)) {
        return c - '0';
    }

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }

    return -1;
}


static uint32_t
cs_jp_u4(const unsigned char *p)
{
    return (uint32_t) (cs_jp_hex(p[0]) << 12 | cs_jp_hex(p[1]) << 8
                       | cs_jp_hex(p[2]) << 4 | cs_jp_hex(p[3]));
}


static char *
cs_jp_utf8_put(char *d, uint32_t cp)
{
    if (cp < 0x80) {
        *d++ = (char) cp;

    } else if (cp < 0x800) {
        *d++ = (char) (0xc0 | cp >> 6);
        *d++ = (char) (0x80 | (cp & 0x3f));

    } else if (cp < 0x10000) {
        *d++ = (char) (0xe0 | cp >> 12);
        *d++ = (char) (0x80 | ((cp >> 6) & 0x3f));
        *d++ = (char) (0x80 | (cp & 0x3f));

    } else {
        *d++ = (char) (0xf0 | cp >> 18);
        *d++ = (char) (0x80 | ((cp >> 12) & 0x3f));
        *d++ = (char) (0x80 | ((cp >> 6) & 0x3f));
        *d++ = (char) (0x80 | (cp & 0x3f));
    }

    return d;
}


/*
 * Decodes the escapes of p[0..n), lexically valid already, into the
 * scratch.  CS_JSON_SYNTAX for a surrogate escape that is not half of a
 * pair; *nul when a \u0000 was decoded.
 */
static int
cs_jp_unescape(cs_json_doc_t *doc, const unsigned char *p, size_t n,
    cs_json_t *v, int *nul)
{
    char      *d, *start;
    size_t     i;
    uint32_t   cp, lo;

    start = doc->scratch + doc->scratch_used;
    d = start;

    for (i = 0; i < n; ) {
        if (p[i] != '\\') {
            *d++ = (char) p[i++];
            continue;
        }

        switch (p[i + 1]) {
        case 'b': *d++ = '\b'; break;
        case 'f': *d++ = '\f'; break;
        case 'n': *d++ = '\n'; break;
        case 'r': *d++ = '\r'; break;
        case 't': *d++ = '\t'; break;
        case 'u': break;
        default:  *d++ = (char) p[i + 1]; break;     /* " \ / */
        }

        if (p[i + 1] != 'u') {
            i += 2;
            continue;
        }

        cp = cs_jp_u4(p + i + 2);
        i += 6;

        if (cp >= 0xdc00 && cp <= 0xdfff) {
            return CS_JSON_SYNTAX;          /* a low half first */
        }

        if (cp >= 0xd800 && cp <= 0xdbff) {
            /* the low half must follow at once */
            if (i + 1 >= n || p[i] != '\\' || p[i + 1] != 'u') {
                return CS_JSON_SYNTAX;
            }

            lo = cs_jp_u4(p + i + 2);
            i += 6;

            if (lo < 0xdc00 || lo > 0xdfff) {
                return CS_JSON_SYNTAX;
            }

            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }

        if (cp == 0) {
            *nul = 1;
        }

        d = cs_jp_utf8_put(d, cp);
    }

    v->u.s = start;
    v->len = (uint32_t) (d - start);
    v->flags = CS_JSON_ESCAPED;
    doc->scratch_used += (size_t) (d - start);

    return CS_JSON_OK;
}


/*
 * A string from the byte after its opening quote at p[*pi]: read to the
 * closing quote (controls, escapes, UTF-8, the end), then decoded if it
 * has escapes.  On success v holds it and *pi is past the quote.
 */
static int
cs_jp_string(cs_jp_t *jp, size_t *pi, cs_json_t *v, int *nul)
{
    int                   esc, k;
    size_t                i, start, n, len;
    unsigned              run;
    unsigned char         c;
    const unsigned char  *p = jp->p;

    n = jp->n;
    i = *pi;
    start = i;
    esc = 0;

    for ( ;; ) {
        while (n - i >= 8) {
            run = cs_bytes_stop(p + i, 1);
            i += run;

            if (run < 8) {
                goto stop;
            }
        }

        while (i < n && cs_jp_plain[p[i]]) {
            i++;
        }

    stop:

        if (i == n) {
            return CS_JSON_SYNTAX;          /* no closing quote */
        }

        c = p[i];

        if (c == '"') {
            break;
        }

        if (c == '\\') {
            esc = 1;

            if (++i == n) {
                return CS_JSON_SYNTAX;
            }

            c = p[i];

            if (c == 'u') {
                for (k = 0; k < 4; k++) {
                    if (++i == n) {
                        return CS_JSON_SYNTAX;
                    }

                    if (cs_jp_hex(p[i]) < 0) {
                        return cs_jp_read(jp, i, CS_JSON_SYNTAX);
                    }
                }

                i++;
                continue;
            }

            if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f'
                || c == 'n' || c == 'r' || c == 't')
            {
                i++;
                continue;
            }

            return cs_jp_read(jp, i, CS_JSON_SYNTAX);
        }

        if (c < 0x20) {
            return CS_JSON_SYNTAX;          /* a control character */
        }

        len = cs_jp_utf8(p, n, i);

        if (len == 0) {
            return CS_JSON_BAD_UTF8;
        }

        i += len;
    }

    *pi = i + 1;
    *nul = 0;

    if (esc) {
        return cs_jp_unescape(jp->doc, p + start, i - start, v, nul);
    }

    v->u.s = (const char *) p + start;
    v->len = (uint32_t) (i - start);

    return CS_JSON_OK;
}


/*
 * A number from p[*pi] ('-' or a digit), as jansson reads one: an integer
 * when it has no fraction or exponent (strtoll's range), else a real
 * (strtod's, overflow refused).  The byte it stops at has been read.
 */
static int
cs_jp_number(cs_jp_t *jp, size_t *pi, cs_json_t *v)
{
    int                   neg;
    char                 *t;
    double                r;
    size_t                i, start, n;
    uint64_t              u, limit;
    const unsigned char  *p = jp->p;

    n = jp->n;
    i = *pi;
    start = i;
    neg = 0;

    if (p[i] == '-') {
        neg = 1;
        i++;
    }

    if (i < n && p[i] == '0') {
        if (++i < n && cs_jp_digit(p[i])) {
            return CS_JSON_SYNTAX;          /* "01" */
        }

    } else if (i < n && cs_jp_digit(p[i])) {
        while (++i < n && cs_jp_digit(p[i])) {
            /* void */
        }

    } else {
        return cs_jp_read(jp, i, CS_JSON_SYNTAX);
    }

    if (i == n || (p[i] != '.' && p[i] != 'e' && p[i] != 'E')) {
        if (cs_jp_read(jp, i, CS_JSON_OK) != CS_JSON_OK) {
            return CS_JSON_BAD_UTF8;
        }

        /* strtoll's range: down to -2^63, up to 2^63 - 1 */
        limit = neg ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
        u = 0;

        for (size_t k = start + neg; k < i; k++) {
            unsigned  d = p[k] - '0';

            if (u > (limit - d) / 10) {
                return CS_JSON_SYNTAX;
            }

            u = u * 10 + d;
        }

        v->type = CS_JSON_INTEGER;
        v->u.i = !neg ? (int64_t) u
                 : u > (uint64_t) INT64_MAX ? INT64_MIN : -(int64_t) u;
        v->len = (uint32_t) (i - start);
        *pi = i;

        return CS_JSON_OK;
    }

    if (p[i] == '.') {
        if (++i == n || !cs_jp_digit(p[i])) {
            return cs_jp_read(jp, i, CS_JSON_SYNTAX);       /* "1." */
        }

        while (++i < n && cs_jp_digit(p[i])) {
            /* void */
        }
    }

    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        if (++i < n && (p[i] == '+' || p[i] == '-')) {
            i++;
        }

        if (i == n || !cs_jp_digit(p[i])) {
            return cs_jp_read(jp, i, CS_JSON_SYNTAX);       /* "1e" */
        }

        while (++i < n && cs_jp_digit(p[i])) {
            /* void */
        }
    }

    if (cs_jp_read(jp, i, CS_JSON_OK) != CS_JSON_OK) {
        return CS_JSON_BAD_UTF8;
    }

    /* strtod needs the text alone: a NUL-terminated copy, not kept */
    t = jp->doc->scratch + jp->doc->scratch_used;
    memcpy(t, p + start, i - start);
    t[i - start] = '\0';

    errno = 0;
    r = strtod(t, NULL);

    if ((r == HUGE_VAL || r == -HUGE_VAL) && errno == ERANGE) {
        return CS_JSON_SYNTAX;
    }

    v->type = CS_JSON_REAL;
    v->u.r = r;
    v->len = (uint32_t) (i - start);
    *pi = i;

    return CS_JSON_OK;
}


/* A literal from p[*pi] (a letter): the letters, then the byte after. */
static int
cs_jp_literal(cs_jp_t *jp, size_t *pi, cs_json_t *v)
{
    size_t                i, len;
    const unsigned char  *p = jp->p, *s;

    i = *pi;
    s = p + i;

    while (i < jp->n && cs_jp_alpha(p[i])) {
        i++;
    }

    if (cs_jp_read(jp, i, CS_JSON_OK) != CS_JSON_OK) {
        return CS_JSON_BAD_UTF8;
    }

    len = i - *pi;

    if (len == 4 && memcmp(s, "true", 4) == 0) {
        v->type = CS_JSON_TRUE;
    } else if (len == 5 && memcmp(s, "false", 5) == 0) {
        v->type = CS_JSON_FALSE;
    } else if (len == 4 && memcmp(s, "null", 4) == 0) {
        v->type = CS_JSON_NULL;
    } else {
        return CS_JSON_SYNTAX;
    }

    *pi = i;

    return CS_JSON_OK;
}


/*
 * A token where the grammar wants another: it is still read whole first,
 * as jansson does, so bad UTF-8 inside it is what gets reported.
 */
static int
cs_jp_unexpected(cs_jp_t *jp, size_t i)
{
    int        nul;
    cs_json_t  v;
    size_t     save;

    if (i >= jp->n) {
        return CS_JSON_SYNTAX;
    }

    save = jp->doc->scratch_used;

    switch (jp->p[i]) {

    case '"':
        i++;
        if (cs_jp_string(jp, &i, &v, &nul) == CS_JSON_BAD_UTF8) {
            return CS_JSON_BAD_UTF8;
        }
        break;

    case '-': case '0': case '1': case '2': case '3': case '4': case '5':
    case '6': case '7': case '8': case '9':
        if (cs_jp_number(jp, &i, &v) == CS_JSON_BAD_UTF8) {
            return CS_JSON_BAD_UTF8;
        }
        break;

    default:
        if (cs_jp_alpha(jp->p[i])) {
            return cs_jp_literal(jp, &i, &v) == CS_JSON_BAD_UTF8
                   ? CS_JSON_BAD_UTF8 : CS_JSON_SYNTAX;
        }

        return cs_jp_read(jp, i, CS_JSON_SYNTAX);
    }

    jp->doc->scratch_used = save;

    return CS_JSON_SYNTAX;
}


static int
cs_jp_name_cmp(const void *a, const void *b)
{
    const cs_json_t  *x = *(const cs_json_t * const *) a;
    const cs_json_t  *y = *(const cs_json_t * const *) b;

    if (x->len != y->len) {
        return x->len < y->len ? -1 : 1;
    }

    return memcmp(x->u.s, y->u.s, x->len);
}


/*
 * 1 when the object at tape[obj] has a name twice among its `len` members
 * so far (the value of the last one may still be open), 0 if not, -1 out
 * of memory.
 */
static int
cs_jp_sorted_dups(cs_json_doc_t *doc, uint32_t obj)
{
    int               dup;
    size_t            i, m;
    const cs_json_t  *k, **names;

    m = doc->tape[obj].len;

    names = malloc(m * sizeof(cs_json_t *));
    if (names == NULL) {
        return -1;
    }

    k = &doc->tape[obj + 1];

    for (i = 0; i < m; i++) {
        names[i] = k;
        if (i + 1 < m) {
            k = cs_json_skip(k + 1);
        }
    }

    qsort(names, m, sizeof(cs_json_t *), cs_jp_name_cmp);

    dup = 0;

    for (i = 1; i < m && !dup; i++) {
        dup = cs_jp_name_cmp(&names[i - 1], &names[i]) == 0;
    }

    free(names);

    return dup;
}


/*
 * A problem at the current place: unless it is a limit (the pre-scan
 * decides those), a duplicate name earlier in an object still open was
 * met first.
 */
static int
cs_jp_fail(cs_jp_t *jp, int rc)
{
    int        dup;
    uint32_t   c;
    cs_json_t *v;

    if (rc == CS_JP_LIMIT || rc == CS_JSON_NOMEM || jp->deferred == 0) {
        return rc;
    }

    for (c = jp->open; c != CS_JP_NONE; c = v->u.inside) {
        v = &jp->doc->tape[c];

        if (v->flags & CS_JP_DEFERRED) {
            dup = cs_jp_sorted_dups(jp->doc, c);

            if (dup) {
                return dup < 0 ? CS_JSON_NOMEM : CS_JSON_DUPLICATE;
            }
        }
    }

    return rc;
}


/* 1 when the name `k` is already one of the open object's members. */
static int
cs_jp_dup(const cs_json_doc_t *doc, const cs_json_t *obj, const cs_json_t *k)
{
    size_t            i;
    const cs_json_t  *m = obj + 1;

    for (i = 0; i < obj->len; i++) {
        if (m->len == k->len
            && (k->len == 0
                || (m->u.s[0] == k->u.s[0]
                    && memcmp(m->u.s, k->u.s, k->len) == 0)))
        {
            return 1;
        }

        m = cs_json_skip(m + 1);
    }

    return 0;
}


/* A container opens at p[i] ('{' or '['). */
static int
cs_jp_open(cs_jp_t *jp, cs_json_type_t type)
{
    int64_t  idx;

    if (jp->depth >= jp->max_depth || ++jp->values > jp->max_values) {
        return CS_JP_LIMIT;
    }

    if (jp->depth >= CS_JSON_MAX_NESTING) {
        return CS_JSON_TOO_DEEP;
    }

    idx = cs_jp_push(jp, type);
    if (idx < 0) {
        return CS_JSON_NOMEM;
    }

    /* while open, `inside` links to the container around it */
    jp->doc->tape[idx].u.inside = jp->open;
    jp->open = (uint32_t) idx;
    jp->depth++;

    return CS_JSON_OK;
}


/* The innermost container closes: its size, and its names if deferred. */
static int
cs_jp_close(cs_jp_t *jp)
{
    int             dup;
    uint32_t        c;
    cs_json_t      *v;
    cs_json_doc_t  *doc = jp->doc;

    c = jp->open;
    v = &doc->tape[c];

    if (v->flags & CS_JP_DEFERRED) {
        dup = cs_jp_sorted_dups(doc, c);

        if (dup) {
            return dup < 0 ? CS_JSON_NOMEM : CS_JSON_DUPLICATE;
        }

        v->flags &= ~CS_JP_DEFERRED;
        jp->deferred--;
    }

    jp->open = v->u.inside;
    v->u.inside = (uint32_t) (doc->n - c - 1);
    jp->depth--;

    return CS_JSON_OK;
}


/* A scalar at p[*pi]: its entry, counted. */
static int
cs_jp_scalar(cs_jp_t *jp, size_t *pi)
{
    int        rc, nul;
    int64_t    idx;
    cs_json_t  v;

    v.flags = 0;
    v.next = 0;
    v.len = 0;
    nul = 0;

    switch (jp->p[*pi]) {

    case '"':
        (*pi)++;
        v.type = CS_JSON_STRING;
        rc = cs_jp_string(jp, pi, &v, &nul);
        break;

    case '-': case '0': case '1': case '2': case '3': case '4': case '5':
    case '6': case '7': case '8': case '9':
        rc = cs_jp_number(jp, pi, &v);
        break;

    default:
        if (!cs_jp_alpha(jp->p[*pi])) {
            return cs_jp_unexpected(jp, *pi);
        }

        rc = cs_jp_literal(jp, pi, &v);
    }

    if (rc != CS_JSON_OK) {
        return rc;
    }

    /* as jansson: its own depth, then \u0000 */
    if (jp->depth >= CS_JSON_MAX_NESTING) {
        return CS_JSON_TOO_DEEP;
    }

    if (nul) {
        return CS_JSON_NUL;
    }

    if (++jp->values > jp->max_values) {
        return CS_JP_LIMIT;
    }

    idx = cs_jp_push(jp, (cs_json_type_t) v.type);
    if (idx < 0) {
        return CS_JSON_NOMEM;
    }

    jp->doc->tape[idx] = v;

    return CS_JSON_OK;
}


/* A member name at p[i] and the ':' after it; *pi ends past the ':'. */
static int
cs_jp_name(cs_jp_t *jp, size_t *pi)
{
    int         rc, nul;
    size_t      i;
    int64_t     idx;
    cs_json_t   k, *obj;

    i = *pi;

    if (i >= jp->n || jp->p[i] != '"') {
        return cs_jp_unexpected(jp, i);
    }

    i++;
    k.type = CS_JSON_STRING;
    k.flags = 0;
    k.next = 0;

    rc = cs_jp_string(jp, &i, &k, &nul);
    if (rc != CS_JSON_OK) {
        return rc;
    }

    if (nul) {
        return CS_JSON_NUL;
    }

    obj = &jp->doc->tape[jp->open];

    if (obj->len < CS_JP_PAIRWISE) {
        if (cs_jp_dup(jp->doc, obj, &k)) {
            return CS_JSON_DUPLICATE;
        }

    } else if (!(obj->flags & CS_JP_DEFERRED)) {
        obj->flags |= CS_JP_DEFERRED;
        jp->deferred++;
    }

    idx = cs_jp_push(jp, CS_JSON_STRING);
    if (idx < 0) {
        return CS_JSON_NOMEM;
    }

    jp->doc->tape[idx] = k;
    jp->doc->tape[jp->open].len++;

    i = cs_jp_ws(jp, i);

    if (i >= jp->n || jp->p[i] != ':') {
        return cs_jp_unexpected(jp, i);
    }

    *pi = i + 1;

    return CS_JSON_OK;
}


/* The grammar, without recursion: the open containers are on the tape. */
static int
cs_jp_run(cs_jp_t *jp)
{
    int            rc;
    size_t         i;
    unsigned char  c;
    cs_json_t     *top;

    i = 0;

value:

    /* an array counts its elements as they start, an object its names */
    if (jp->open != CS_JP_NONE) {
        top = &jp->doc->tape[jp->open];

        if (top->type == CS_JSON_ARRAY) {
            top->len++;
        }
    }

member:

    i = cs_jp_ws(jp, i);

    if (i >= jp->n) {
        return CS_JSON_SYNTAX;
    }

    c = jp->p[i];

    if (c == '{' || c == '[') {
        rc = cs_jp_open(jp, c == '{' ? CS_JSON_OBJECT : CS_JSON_ARRAY);
        if (rc != CS_JSON_OK) {
            return rc;
        }

        i = cs_jp_ws(jp, i + 1);

        if (i < jp->n && jp->p[i] == (c == '{' ? '}' : ']')) {
            i++;
            rc = cs_jp_close(jp);
            if (rc != CS_JSON_OK) {
                return rc;
            }
            goto after;
        }

        if (c == '[') {
            goto value;
        }

        goto name;
    }

    rc = cs_jp_scalar(jp, &i);
    if (rc != CS_JSON_OK) {
        return rc;
    }

after:

    i = cs_jp_ws(jp, i);

    if (jp->open == CS_JP_NONE) {
        return i == jp->n ? CS_JSON_OK : cs_jp_unexpected(jp, i);
    }

    if (i >= jp->n) {
        return CS_JSON_SYNTAX;
    }

    top = &jp->doc->tape[jp->open];
    c = jp->p[i];

    if (c == ',') {
        i = cs_jp_ws(jp, i + 1);

        if (top->type == CS_JSON_ARRAY) {
            goto value;
        }

        goto name;
    }

    if (c == (top->type == CS_JSON_ARRAY ? ']' : '}')) {
        i++;
        rc = cs_jp_close(jp);
        if (rc != CS_JSON_OK) {
            return rc;
        }
        goto after;
    }

    return cs_jp_unexpected(jp, i);

name:

    rc = cs_jp_name(jp, &i);
    if (rc != CS_JSON_OK) {
        return rc;
    }

    goto member;
}


/* One reading of the body into doc, limits included. */
static int
cs_jp_go(cs_json_doc_t *doc, const unsigned char *p, size_t n,
    unsigned max_depth, size_t max_values)
{
    int      rc;
    cs_jp_t  jp;

    doc->n = 0;
    doc->scratch_used = 0;
    doc->ngaps = 0;
    doc->compact_len = n;

    jp.doc = doc;
    jp.p = p;
    jp.n = n;
    jp.last = n;

    while (jp.last > 0 && cs_jp_space[p[jp.last - 1]]) {
        jp.last--;
    }
    jp.max_depth = max_depth;
    jp.max_values = max_values;
    jp.values = 0;
    jp.depth = 0;
    jp.open = CS_JP_NONE;
    jp.deferred = 0;
    jp.nomem = 0;

    rc = cs_jp_run(&jp);

    if (jp.nomem) {
        return CS_JSON_NOMEM;
    }

    return rc == CS_JSON_OK ? rc : cs_jp_fail(&jp, rc);
}


int
cs_json_parse(cs_json_doc_t *doc, const unsigned char *p, size_t n,
    unsigned max_depth, size_t max_values)
{
    int       rc, scan;
    cs_buf_t  copy;

    if (p == NULL) {
        p = (const unsigned char *) "";
        n = 0;
    }

    doc->n = 0;
    doc->body = p;
    doc->body_len = n;

    /* offsets and lengths are 32 bits; no webhook body comes near that */
    if (n >= UINT32_MAX) {
        return CS_JSON_NOMEM;
    }

    /* decoded strings are never longer than their escaped form */
    if (cs_jp_grow((void **) &doc->scratch, &doc->scratch_cap, 0, n + 1, 1)
        != 0
        || cs_jp_grow((void **) &doc->tape, &doc->cap, 0,
                      n / CS_JP_BYTES_PER_ENTRY + 1, sizeof(cs_json_t))
           != 0)
    {
        return CS_JSON_NOMEM;
    }

    rc = cs_jp_go(doc, p, n, max_depth, max_values);

    if (rc == CS_JSON_OK) {
        return rc;
    }

    doc->n = 0;

    if (rc == CS_JSON_NOMEM) {
        return rc;
    }

    /* the pre-scan's limits, over the whole body, come first */
    cs_buf_init(&copy);
    scan = cs_json_scan(p, n, max_depth, max_values, NULL, &copy);
    cs_buf_free(&copy);

    switch (scan) {
    case CS_SCAN_OK:
        break;
    case CS_SCAN_NUL:
        return CS_JSON_NUL;
    case CS_SCAN_TOO_DEEP:
        return CS_JSON_TOO_DEEP;
    case CS_SCAN_TOO_MANY:
        return CS_JSON_TOO_MANY;
    default:
        return CS_JSON_NOMEM;
    }

    if (rc == CS_JP_LIMIT) {
        /*
         * The pre-scan takes a string before ':' for a name wherever it
         * is, so it can count one value less than there is: such a body
         * breaks the grammar at that very ':'.  Read it again without the
         * limits, for jansson's verdict.
         */
        rc = cs_jp_go(doc, p, n, UINT_MAX, SIZE_MAX);
        doc->n = 0;

        if (rc == CS_JSON_OK || rc == CS_JP_LIMIT) {
            rc = CS_JSON_TOO_MANY;          /* cannot be; refused anyway */
        }
    }

    return rc;
}


void
cs_json_compact(const cs_json_doc_t *doc, cs_buf_t *out)
{
    char                  *d;
    size_t                 g, from, at;
    const unsigned char   *p = doc->body;

    if (cs_buf_reserve(out, doc->compact_len) != 0) {
        return;
    }

    /* the runs between the gaps, one copy each */
    d = out->data + out->len;
    from = 0;

    for (g = 0; g < doc->ngaps; g++) {
        at = doc->gaps[2 * g];
        memcpy(d, p + from, at - from);
        d += at - from;
        from = at + doc->gaps[2 * g + 1];
    }

    memcpy(d, p + from, doc->body_len - from);
    out->len += doc->compact_len;
}


const cs_json_t *
cs_json_member(const cs_json_t *v, const char *name, size_t len)
{
    size_t            off;
    const cs_json_t  *k, *first, *start, *end, *next;

    if (!cs_json_is_object(v) || v->len == 0) {
        return NULL;
    }

    first = v + 1;
    end = cs_json_skip(v);
    start = first + v->next;
    k = start;

    do {
        if (k->len == len
            && (len == 0
                || (k->u.s[0] == name[0] && memcmp(k->u.s, name, len) == 0)))
        {
            next = cs_json_skip(k + 1);
            off = next == end ? 0 : (size_t) (next - first);

            /* the tape is the document's own memory, never const */
            ((cs_json_t *) v)->next = off <= UINT16_MAX ? (uint16_t) off : 0;

            return k + 1;
        }

        k = cs_json_skip(k + 1);

        if (k == end) {
            k = first;
        }

    } while (k != start);

    return NULL;
}
