/*
 * cs_json: the tape, each strictness rule and the reason it gives, which
 * of two problems wins, the limits at their boundaries, the compact copy,
 * member lookups, reuse of a document.
 */

#include <float.h>
#include <stdint.h>
#include <stdlib.h>

#include "cs_ingest.h"
#include "cs_json.h"
#include "cs_test.h"

static cs_json_doc_t  doc;


/* The reason for s (NUL-terminated) with the given limits. */
static int
parse_n(const char *s, size_t n, unsigned depth, size_t values)
{
    return cs_json_parse(&doc, (const unsigned char *) s, n, depth, values);
}


static int
parse(const char *s)
{
    return parse_n(s, strlen(s), 32, 10000);
}


/* The only element of a one-element array, after a successful parse. */
static const cs_json_t *
only(const char *s)
{
    const cs_json_t  *r;

    if (parse(s) != CS_JSON_OK) {
        return NULL;
    }

    r = cs_json_root(&doc);

    return cs_json_is_array(r) && r->len == 1 ? r + 1 : NULL;
}


static void
test_values(void)
{
    size_t            i;
    cs_str_t          s;
    const char       *body;
    const cs_json_t  *r, *v, *el, *name, *val;

    body = "{\"s\":\"text\",\"i\":-12,\"r\":1.5,\"t\":true,\"f\":false,"
           "\"n\":null,\"a\":[1,[2,3],{}],\"o\":{\"k\":\"v\"}}";

    CHECK_INT(parse(body), CS_JSON_OK);

    r = cs_json_root(&doc);
    CHECK(cs_json_is_object(r));
    CHECK_INT(r->len, 8);
    CHECK(cs_json_skip(r) == doc.tape + doc.n);

    /* a string without escapes is a view into the body itself */
    v = cs_json_member(r, "s", 1);
    s = cs_json_str(v);
    CHECK_MEM(s.data, s.len, "text");
    CHECK(s.data == body + 6);
    CHECK_INT(v->flags & CS_JSON_ESCAPED, 0);

    v = cs_json_member(r, "i", 1);
    CHECK(cs_json_is_integer(v) && v->u.i == -12);

    v = cs_json_member(r, "r", 1);
    CHECK(cs_json_is_real(v) && v->u.r == 1.5);

    CHECK(cs_json_is_true(cs_json_member(r, "t", 1)));
    CHECK(cs_json_is(cs_json_member(r, "f", 1), CS_JSON_FALSE));
    CHECK(cs_json_is_boolean(cs_json_member(r, "f", 1)));
    CHECK(cs_json_is_null(cs_json_member(r, "n", 1)));

    v = cs_json_member(r, "a", 1);
    CHECK(cs_json_is_array(v) && cs_json_size(v) == 3);
    i = 0;
    cs_json_array_foreach(v, i, el) {
        if (i == 1) {
            CHECK(cs_json_is_array(el) && el->len == 2);
            CHECK(el[2].u.i == 3);
        }
        if (i == 2) {
            CHECK(cs_json_is_object(el) && el->len == 0);
        }
    }
    CHECK_INT(i, 3);

    v = cs_json_member(r, "o", 1);
    s = cs_json_str(cs_json_member(v, "k", 1));
    CHECK_MEM(s.data, s.len, "v");

    /* names in document order, each with its value */
    i = 0;
    cs_json_object_foreach(r, i, name, val) {
        if (i == 0) {
            CHECK_MEM(name->u.s, name->len, "s");
            CHECK(cs_json_is_string(val));
        }
        if (i == 7) {
            CHECK_MEM(name->u.s, name->len, "o");
        }
    }
    CHECK_INT(i, 8);

    /* reading NULL or the wrong type reads nothing */
    CHECK(cs_json_member(NULL, "s", 1) == NULL);
    CHECK(cs_json_member(cs_json_member(r, "a", 1), "s", 1) == NULL);
    CHECK(cs_json_str(cs_json_member(r, "i", 1)).data == NULL);
    CHECK_INT(cs_json_size(NULL), 0);
    i = 7;
    cs_json_array_foreach((const cs_json_t *) NULL, i, el) {
        CHECK(0);
    }
    CHECK_INT(i, 0);
    cs_json_array_foreach(cs_json_member(r, "o", 1), i, el) {
        CHECK(0);
    }

    /* any value may be at the top */
    CHECK_INT(parse("\"x\""), CS_JSON_OK);
    CHECK(cs_json_is_string(cs_json_root(&doc)));
    CHECK_INT(parse(" 7 "), CS_JSON_OK);
    CHECK(cs_json_root(&doc)->u.i == 7);
}


static void
test_member(void)
{
    const cs_json_t  *r;

    CHECK_INT(parse("{\"a\":1,\"b\":2,\"c\":3,\"\":4}"), CS_JSON_OK);
    r = cs_json_root(&doc);

    /* in order, backwards, twice, the empty name, a missing one */
    CHECK(cs_json_member(r, "a", 1)->u.i == 1);
    CHECK(cs_json_member(r, "b", 1)->u.i == 2);
    CHECK(cs_json_member(r, "c", 1)->u.i == 3);
    CHECK(cs_json_member(r, "", 0)->u.i == 4);
    CHECK(cs_json_member(r, "c", 1)->u.i == 3);
    CHECK(cs_json_member(r, "b", 1)->u.i == 2);
    CHECK(cs_json_member(r, "a", 1)->u.i == 1);
    CHECK(cs_json_member(r, "a", 1)->u.i == 1);
    CHECK(cs_json_member(r, "d", 1) == NULL);
    CHECK(cs_json_member(r, "ab", 2) == NULL);
    CHECK(cs_json_member(r, "c", 1)->u.i == 3);

    /* names compare after unescaping */
    CHECK_INT(parse("{\"\\u0069d\":\"x\"}"), CS_JSON_OK);
    CHECK(cs_json_member(cs_json_root(&doc), "id", 2) != NULL);

    CHECK_INT(parse("{}"), CS_JSON_OK);
    CHECK(cs_json_member(cs_json_root(&doc), "", 0) == NULL);
}


static void
test_strings(void)
{
    cs_str_t          s;
    const cs_json_t  *v;

    v = only("[\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"]");
    CHECK(v != NULL && (v->flags & CS_JSON_ESCAPED));
    s = cs_json_str(v);
    CHECK_MEM(s.data, s.len, "a\"b\\c/d\b\f\n\r\t");

    s = cs_json_str(only("[\"\\u00e9\\u20AC\\ud83d\\ude00\"]"));
    CHECK_MEM(s.data, s.len, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");

    s = cs_json_str(only("[\"Jos\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"]"));
    CHECK_MEM(s.data, s.len, "Jos\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");

    /* DEL and everything from 0x20 stay; U+10FFFF is the last */
    s = cs_json_str(only("[\"\x7f \xf4\x8f\xbf\xbf\"]"));
    CHECK_INT(s.len, 6);

    /* long strings, and one that ends exactly at a word's end */
    CHECK_INT(cs_json_str(only("[\"0123456789abcdefghijklmnopqrstuvwxyz\"]"))
              .len, 36);
    CHECK_INT(cs_json_str(only("[\"1234567\"]")).len, 7);
    CHECK_INT(parse("\"1234567"), CS_JSON_SYNTAX);

    /* controls, bad escapes, surrogate escapes that are not a pair */
    CHECK_INT(parse("[\"a\tb\"]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[\"a\nb\"]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[\"a\x1f\"]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[\"\\x\"]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[\"\\u12\"]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[\"\\u12g4\"]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[\"\\"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[\"\\ud800\"]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[\"\\ud800x\"]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[\"\\ud800\\n\"]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[\"\\ud800\\ud800\"]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[\"\\udc00\"]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[\"\\udfff\\ud800\"]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[\"abc"), CS_JSON_SYNTAX);
}


static void
test_utf8(void)
{
    /* overlong forms, encoded surrogates, past U+10FFFF, stray bytes */
    CHECK_INT(parse("[\"\xc0\xaf\"]"), CS_JSON_BAD_UTF8);
    CHECK_INT(parse("[\"\xc1\xbf\"]"), CS_JSON_BAD_UTF8);
    CHECK_INT(parse("[\"\xe0\x80\xaf\"]"), CS_JSON_BAD_UTF8);
    CHECK_INT(parse("[\"\xe0\x9f\xbf\"]"), CS_JSON_BAD_UTF8);
    CHECK_INT(parse("[\"\xf0\x80\x80\xaf\"]"), CS_JSON_BAD_UTF8);
    CHECK_INT(parse("[\"\xf0\x8f\xbf\xbf\"]"), CS_JSON_BAD_UTF8);
    CHECK_INT(parse("[\"\xed\xa0\x80\"]"), CS_JSON_BAD_UTF8);
    CHECK_INT(parse("[\"\xed\xbf\xbf\"]"), CS_JSON_BAD_UTF8);
    CHECK_INT(parse("[\"\xf4\x90\x80\x80\"]"), CS_JSON_BAD_UTF8);
    CHECK_INT(parse("[\"\xf5\x80\x80\x80\"]"), CS_JSON_BAD_UTF8);
    CHECK_INT(parse("[\"\xff\"]"), CS_JSON_BAD_UTF8);
    CHECK_INT(parse("[\"\x80\"]"), CS_JSON_BAD_UTF8);
    CHECK_INT(parse("[\"\xc3\"]"), CS_JSON_BAD_UTF8);
    CHECK_INT(parse("[\"\xe2\x82\"]"), CS_JSON_BAD_UTF8);

    /* cut by the end of the body: bad UTF-8, not an open string */
    CHECK_INT(parse("[\"\xe2\x82"), CS_JSON_BAD_UTF8);

    /* in a name, outside strings, after a number, in a literal */
    CHECK_INT(parse("{\"\xff\":1}"), CS_JSON_BAD_UTF8);
    CHECK_INT(parse("[\xff]"), CS_JSON_BAD_UTF8);
    CHECK_INT(parse("[1\xff]"), CS_JSON_BAD_UTF8);
    CHECK_INT(parse("[1.5\xff]"), CS_JSON_BAD_UTF8);
    CHECK_INT(parse("[-\xff]"), CS_JSON_BAD_UTF8);
    CHECK_INT(parse("[tru\xff]"), CS_JSON_BAD_UTF8);
    CHECK_INT(parse("{}\xff"), CS_JSON_BAD_UTF8);
    CHECK_INT(parse("[\"\\u12\xff\"]"), CS_JSON_BAD_UTF8);

    /* a valid character where none may be is not JSON, not bad UTF-8 */
    CHECK_INT(parse("[\xc3\xa9]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[1\xc3\xa9]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("{}\xc3\xa9"), CS_JSON_SYNTAX);

    /* a token in the wrong place is still read whole first */
    CHECK_INT(parse("[1 \"\xff\"]"), CS_JSON_BAD_UTF8);
    CHECK_INT(parse("{\"a\" \"\xff\"}"), CS_JSON_BAD_UTF8);
    CHECK_INT(parse("[1 \"\\u0000\"]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[1 2\xff]"), CS_JSON_BAD_UTF8);
    CHECK_INT(parse("[1 \"x\" \xff]"), CS_JSON_SYNTAX);

    /* the first problem in reading order wins */
    CHECK_INT(parse("[\"\xff\", \"\\x\"]"), CS_JSON_BAD_UTF8);
    CHECK_INT(parse("[\"\\x\", \"\xff\"]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[\"\\ud800\xff\"]"), CS_JSON_BAD_UTF8);
}


static void
test_nul(void)
{
    /* raw, anywhere, before or after any other problem */
    CHECK_INT(parse_n("[\"a\0\"]", 6, 32, 10000), CS_JSON_NUL);
    CHECK_INT(parse_n("[1]\0", 4, 32, 10000), CS_JSON_NUL);
    CHECK_INT(parse_n("[1 2 \xff \0", 9, 32, 10000), CS_JSON_NUL);

    /* escaped, in a value or a name */
    CHECK_INT(parse("{\"a\":\"x\\u0000\"}"), CS_JSON_NUL);
    CHECK_INT(parse("{\"\\u0000\":1}"), CS_JSON_NUL);

    /* the string is decoded whole before its \u0000 counts */
    CHECK_INT(parse("[\"\\u0000\\ud800\"]"), CS_JSON_SYNTAX);

    /* \u0000 in a name comes before its duplicate */
    CHECK_INT(parse("{\"\\u0000\":1,\"\\u0000\":2}"), CS_JSON_NUL);
}


static void
test_duplicates(void)
{
    int      i;
    char     body[2048];
    size_t   n;

    CHECK_INT(parse("{\"a\":1,\"a\":2}"), CS_JSON_DUPLICATE);
    CHECK_INT(parse("{\"a\":1,\"\\u0061\":2}"), CS_JSON_DUPLICATE);
    CHECK_INT(parse("{\"a\":{\"a\":1},\"b\":{\"a\":2}}"), CS_JSON_OK);
    CHECK_INT(parse("{\"a\":1,\"A\":2,\"a \":3}"), CS_JSON_OK);

    /* found when the second name is read, before what follows it */
    CHECK_INT(parse("{\"a\":1,\"a\" 2}"), CS_JSON_DUPLICATE);
    CHECK_INT(parse("{\"a\":1,\"a\":\xff}"), CS_JSON_DUPLICATE);
    CHECK_INT(parse("{\"a\":\xff,\"a\":1}"), CS_JSON_BAD_UTF8);
    CHECK_INT(parse("{\"a\":1 \"a\":2}"), CS_JSON_SYNTAX);

    /*
     * A large object's names are compared when it closes, or when
     * something fails inside it: the answer is the same.
     */
    for (i = 40; i <= 41; i++) {
        int  k;

        n = (size_t) snprintf(body, sizeof(body), "{");
        for (k = 0; k < i; k++) {
            n += (size_t) snprintf(body + n, sizeof(body) - n, "%s\"k%d\":%d",
                                   k ? "," : "", k < 40 ? k : 3, k);
        }
        snprintf(body + n, sizeof(body) - n, "}");

        CHECK_INT(parse(body), i == 40 ? CS_JSON_OK : CS_JSON_DUPLICATE);
    }

    /* a duplicate among many, then a later problem in the same object */
    n = (size_t) snprintf(body, sizeof(body), "{");
    for (i = 0; i < 36; i++) {
        n += (size_t) snprintf(body + n, sizeof(body) - n, "\"k%d\":[%d],",
                               i, i);
    }
    snprintf(body + n, sizeof(body) - n, "\"k3\":0,\"z\":[\"\xff\"]}");
    CHECK_INT(parse(body), CS_JSON_DUPLICATE);

    snprintf(body + n, sizeof(body) - n, "\"z\":[\"\xff\"],\"k3\":0}");
    CHECK_INT(parse(body), CS_JSON_BAD_UTF8);

    /* ... and inside an object nested in it */
    snprintf(body + n, sizeof(body) - n, "\"k3\":0,\"z\":{\"y\":1 2}}");
    CHECK_INT(parse(body), CS_JSON_DUPLICATE);
}


static void
test_numbers(void)
{
    const cs_json_t  *v;

    v = only("[9223372036854775807]");
    CHECK(cs_json_is_integer(v) && v->u.i == INT64_MAX);
    v = only("[-9223372036854775808]");
    CHECK(cs_json_is_integer(v) && v->u.i == INT64_MIN);
    CHECK_INT(parse("[9223372036854775808]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[-9223372036854775809]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[99999999999999999999]"), CS_JSON_SYNTAX);

    v = only("[-0]");
    CHECK(cs_json_is_integer(v) && v->u.i == 0);
    v = only("[0]");
    CHECK(cs_json_is_integer(v) && v->u.i == 0);
    v = only("[1614556800000]");
    CHECK(cs_json_is_integer(v) && v->u.i == 1614556800000LL);

    /* a fraction or an exponent makes a real, even when it is whole */
    v = only("[1614556800000.0]");
    CHECK(cs_json_is_real(v) && v->u.r == 1614556800000.0);
    v = only("[1E5]");
    CHECK(cs_json_is_real(v) && v->u.r == 100000.0);
    v = only("[2e+2]");
    CHECK(cs_json_is_real(v) && v->u.r == 200.0);
    v = only("[-0.0]");
    CHECK(cs_json_is_real(v) && v->u.r == 0.0);
    v = only("[0.1]");
    CHECK(cs_json_is_real(v) && v->u.r == 0.1);
    v = only("[1.7976931348623157e308]");
    CHECK(cs_json_is_real(v) && v->u.r == DBL_MAX);

    /* overflow is refused, underflow is a small number */
    CHECK_INT(parse("[1e400]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[-1e400]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[1.8e308]"), CS_JSON_SYNTAX);
    v = only("[1e-400]");
    CHECK(cs_json_is_real(v) && v->u.r == 0.0);

    /* what JSON does not write */
    CHECK_INT(parse("[01]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[-01]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[1.]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[.5]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[+1]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[-]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[1e]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[1e+]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[0x10]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[1.5.3]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[NaN]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[Infinity]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("-"), CS_JSON_SYNTAX);
    CHECK_INT(parse("1"), CS_JSON_OK);
}


static void
test_grammar(void)
{
    CHECK_INT(parse("[true,false,null]"), CS_JSON_OK);
    CHECK_INT(parse("[True]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[nul]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[truex]"), CS_JSON_SYNTAX);

    CHECK_INT(parse(""), CS_JSON_SYNTAX);
    CHECK_INT(parse(" \n\t\r"), CS_JSON_SYNTAX);
    CHECK_INT(cs_json_parse(&doc, NULL, 0, 32, 10000), CS_JSON_SYNTAX);
    CHECK_INT(parse("{} x"), CS_JSON_SYNTAX);
    CHECK_INT(parse("{}}"), CS_JSON_SYNTAX);
    CHECK_INT(parse("{}{}"), CS_JSON_SYNTAX);
    CHECK_INT(parse("1 2"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[1,]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[,1]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[1 2]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("{\"a\":1,}"), CS_JSON_SYNTAX);
    CHECK_INT(parse("{\"a\" 1}"), CS_JSON_SYNTAX);
    CHECK_INT(parse("{\"a\":}"), CS_JSON_SYNTAX);
    CHECK_INT(parse("{1:1}"), CS_JSON_SYNTAX);
    CHECK_INT(parse("{'a':1}"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[1}"), CS_JSON_SYNTAX);
    CHECK_INT(parse("{\"a\":1]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("[[]"), CS_JSON_SYNTAX);
    CHECK_INT(parse("["), CS_JSON_SYNTAX);
    CHECK_INT(parse("\xef\xbb\xbf{}"), CS_JSON_SYNTAX);

    /* only space, \t, \n and \r are whitespace */
    CHECK_INT(parse(" \t\n\r{ \t\n\r} \t\n\r"), CS_JSON_OK);
    CHECK_INT(parse("{\f}"), CS_JSON_SYNTAX);
    CHECK_INT(parse("{\v}"), CS_JSON_SYNTAX);
}


static void
test_limits(void)
{
    char    *deep;
    size_t   i;

    /* max_depth counts open containers; exactly the limit passes */
    CHECK_INT(parse_n("[[[1]]]", 7, 3, 10000), CS_JSON_OK);
    CHECK_INT(parse_n("[[[[1]]]]", 9, 3, 10000), CS_JSON_TOO_DEEP);
    CHECK_INT(parse_n("{\"a\":{\"b\":{}}}", 14, 3, 10000), CS_JSON_OK);
    CHECK_INT(parse_n("{\"a\":{\"b\":{\"c\":{}}}}", 20, 3, 10000),
              CS_JSON_TOO_DEEP);

    /* max_values counts values, not names; exactly the limit passes */
    CHECK_INT(parse_n("{\"a\":[1,\"b\"]}", 13, 32, 4), CS_JSON_OK);
    CHECK_INT(parse_n("{\"a\":[1,\"b\"]}", 13, 32, 3), CS_JSON_TOO_MANY);
    CHECK_INT(parse_n("\"a\"", 3, 32, 1), CS_JSON_OK);
    CHECK_INT(parse_n("\"a\"", 3, 32, 0), CS_JSON_TOO_MANY);

    /* the pre-scan's limits come first, wherever they are crossed */
    CHECK_INT(parse_n("[1 2,[[[[", 9, 3, 10000), CS_JSON_TOO_DEEP);
    CHECK_INT(parse_n("[\xff,1,1,1]", 10, 32, 3), CS_JSON_TOO_MANY);
    CHECK_INT(parse_n("[[[[\0", 5, 3, 10000), CS_JSON_TOO_DEEP);
    CHECK_INT(parse_n("[\0[[[[", 6, 3, 10000), CS_JSON_NUL);

    /*
     * The pre-scan takes a string before ':' for a name wherever it is:
     * ["a":1] has two values for it, not three, and is not JSON.
     */
    CHECK_INT(parse_n("[\"a\":1]", 7, 32, 2), CS_JSON_SYNTAX);
    CHECK_INT(parse_n("[\"id\":", 6, 4, 1), CS_JSON_SYNTAX);

    /* jansson's own 2048 levels, for a max_depth above them */
    deep = malloc(2 * 2049 + 1);
    for (i = 0; i < 2048; i++) {
        deep[i] = '[';
        deep[2048 + i] = ']';
    }
    CHECK_INT(parse_n(deep, 4096, 5000, SIZE_MAX), CS_JSON_OK);
    CHECK_INT(parse_n(deep, 4096, 2047, SIZE_MAX), CS_JSON_TOO_DEEP);

    memmove(deep + 2049, deep + 2048, 2048);
    deep[2048] = '1';
    CHECK_INT(parse_n(deep, 4097, 5000, SIZE_MAX), CS_JSON_TOO_DEEP);

    for (i = 0; i < 2049; i++) {
        deep[i] = '[';
        deep[2049 + i] = ']';
    }
    CHECK_INT(parse_n(deep, 4098, 5000, SIZE_MAX), CS_JSON_TOO_DEEP);
    free(deep);
}


static void
test_compact(void)
{
    cs_buf_t     b;
    const char  *pretty;

    pretty = "  {\n  \"a\" : [ 1 , \"x y\\n\" ] ,\r\n\t\"b\":{ }\n}\n\n";

    CHECK_INT(parse(pretty), CS_JSON_OK);

    cs_buf_init(&b);
    cs_buf_puts(&b, "raw=");
    cs_json_compact(&doc, &b);
    CHECK_MEM(b.data, b.len, "raw={\"a\":[1,\"x y\\n\"],\"b\":{}}");
    CHECK_INT(doc.compact_len, b.len - 4);

    /* a compact body is its own copy */
    cs_buf_reset(&b);
    CHECK_INT(parse("{\"a\":\"b c\"}"), CS_JSON_OK);
    cs_json_compact(&doc, &b);
    CHECK_MEM(b.data, b.len, "{\"a\":\"b c\"}");
    CHECK_INT(doc.ngaps, 0);

    cs_buf_free(&b);
}


static void
test_reuse(void)
{
    int               i;
    char             *big;
    size_t            n;
    const cs_json_t  *r;

    /* a large body, then a small one: nothing of the first remains */
    big = malloc(400000);
    n = 0;
    big[n++] = '[';
    for (i = 0; i < 20000; i++) {
        n += (size_t) sprintf(big + n, "%s\"\\u00e9%d\"", i ? "," : "", i);
    }
    big[n++] = ']';

    CHECK_INT(parse_n(big, n, 32, SIZE_MAX), CS_JSON_OK);
    CHECK_INT(cs_json_root(&doc)->len, 20000);
    CHECK_MEM(cs_json_root(&doc)[20000].u.s, 7, "\xc3\xa9" "19999");

    CHECK_INT(parse("{\"k\":2}"), CS_JSON_OK);
    r = cs_json_root(&doc);
    CHECK_INT(doc.n, 3);
    CHECK(cs_json_member(r, "k", 1)->u.i == 2);

    /* a failed parse leaves no document */
    CHECK_INT(parse("{\"k\":"), CS_JSON_SYNTAX);
    CHECK(cs_json_root(&doc) == NULL);

    /* trim gives large buffers back, keeps small ones */
    CHECK_INT(parse_n(big, n, 32, SIZE_MAX), CS_JSON_OK);
    cs_json_trim(&doc, 8 << 20);
    CHECK(doc.tape != NULL);
    cs_json_trim(&doc, 4096);
    CHECK(doc.tape == NULL && doc.cap == 0);
    CHECK_INT(parse("[1]"), CS_JSON_OK);

    free(big);
}


/*
 * Through cs_ingest(): the 4096-byte limit of a string is on its value,
 * after unescaping, as it was with jansson; a body that is not JSON is
 * answered before any rule runs.
 */
static void
test_ingest(void)
{
    int          i;
    char        *body, *p;
    cs_ingest_t  in;

    static const char  head[] =
        "{\"event\":{\"supportProgramId\":\"p1\","
        "\"sendDate\":\"2021-08-23T08:45:24.000Z\","
        "\"eventName\":\"HelpAround.Patient.CompleteEnrollment\","
        "\"patient\":{\"id\":\"ha1\",\"phoneNumber\":\"+12027953213\","
        "\"lastName\":\"Doe\",\"firstName\":\"";

    cs_ingest_init(&in);
    memcpy(in.job_id, "01HZX00000000000000000000A", 27);

    body = malloc(sizeof(head) + 6 * 2048 + 16);

    for (i = 0; i < 2; i++) {
        p = body + sizeof(head) - 1;
        memcpy(body, head, sizeof(head) - 1);

        /* 2048 escaped e-acutes: 4096 bytes of value, 12288 of body */
        for (int k = 0; k < 2048; k++) {
            memcpy(p, "\\u00e9", 6);
            p += 6;
        }

        if (i == 1) {
            *p++ = 'a';
        }

        memcpy(p, "\"}}}", 4);
        p += 4;

        CHECK_INT(cs_ingest(CS_WEBHOOK_HELPAROUND_ENROLLMENT, NULL,
                            (unsigned char *) body, (size_t) (p - body), &in),
                  CS_OK);

        if (i == 0) {
            CHECK_INT(in.status, 200);
        } else {
            CHECK_INT(in.status, 400);
            CHECK_MEM(in.body.data, in.body.len, "{\"errorMessage\":"
                      "\"event.patient.firstName is too long\","
                      "\"data\":{\"patientId\":\"ha1\"}}");
        }
    }

    CHECK_INT(cs_ingest(CS_WEBHOOK_HELPAROUND_ENROLLMENT, NULL,
                        (unsigned char *) "{\"event\":1,\"event\":2}", 21,
                        &in),
              CS_OK);
    CHECK_MEM(in.body.data, in.body.len,
              "{\"errorMessage\":\"body has a duplicate key\",\"data\":{}}");

    free(body);
    cs_ingest_free(&in);
}


int
main(void)
{
    cs_json_init(&doc);

    test_values();
    test_member();
    test_strings();
    test_utf8();
    test_nul();
    test_duplicates();
    test_numbers();
    test_grammar();
    test_limits();
    test_compact();
    test_reuse();
    test_ingest();

    cs_json_free(&doc);

    CS_TEST_DONE();
}
