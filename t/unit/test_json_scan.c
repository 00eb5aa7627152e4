/*
 * cs_json_scan: compact copy, NUL bytes, depth.
 */

#include "cs_json_scan.h"
#include "cs_test.h"


static int
scan(const char *s, size_t n, unsigned depth, cs_buf_t *b)
{
    cs_buf_reset(b);
    return cs_json_scan((const unsigned char *) s, n, depth, b);
}


static void
nest(char *p, int levels)
{
    int  i;

    for (i = 0; i < levels; i++) {
        p[i] = '[';
    }
    for (i = 0; i < levels; i++) {
        p[levels + i] = ']';
    }
    p[2 * levels] = '\0';
}


int
main(void)
{
    char        deep[200];
    cs_buf_t    b;
    const char  *s;

    cs_buf_init(&b);

    s = " { \"a b\" : [ 1 , true ,\n\t\"x\\\" y\" ] ,\r\n\"c\":{ } } ";
    CHECK_INT(scan(s, strlen(s), 32, &b), CS_SCAN_OK);
    CHECK_MEM(b.data, b.len, "{\"a b\":[1,true,\"x\\\" y\"],\"c\":{}}");

    /* escaped backslash before the closing quote */
    s = "{\"k\" : \"a\\\\\" , \"l\" : \"{[\" }";
    CHECK_INT(scan(s, strlen(s), 1, &b), CS_SCAN_OK);
    CHECK_MEM(b.data, b.len, "{\"k\":\"a\\\\\",\"l\":\"{[\"}");

    /* two tokens stay two tokens */
    s = "{\"a\":1 2, \"b\": tr ue}";
    CHECK_INT(scan(s, strlen(s), 32, &b), CS_SCAN_OK);
    CHECK_MEM(b.data, b.len, "{\"a\":1 2,\"b\":tr ue}");

    /* \u escapes are copied, not decoded */
    s = "{\"a\": \"\\u0041\\u00e9\"}";
    CHECK_INT(scan(s, strlen(s), 32, &b), CS_SCAN_OK);
    CHECK_MEM(b.data, b.len, "{\"a\":\"\\u0041\\u00e9\"}");

    CHECK_INT(scan("{\"a\":\"x\0y\"}", 11, 32, &b), CS_SCAN_NUL);
    CHECK_INT(scan("{\"a\":1}\0", 8, 32, &b), CS_SCAN_NUL);
    CHECK_INT(scan("{\"a\":\"\\\0\"}", 10, 32, &b), CS_SCAN_NUL);

    nest(deep, 32);
    CHECK_INT(scan(deep, strlen(deep), 32, &b), CS_SCAN_OK);
    nest(deep, 33);
    CHECK_INT(scan(deep, strlen(deep), 32, &b), CS_SCAN_TOO_DEEP);
    CHECK_INT(scan(deep, strlen(deep), 33, &b), CS_SCAN_OK);

    /* brackets in strings do not count; siblings do not add up */
    CHECK_INT(scan("[\"[[[[\"]", 8, 1, &b), CS_SCAN_OK);
    CHECK_INT(scan("[[],[],[]]", 10, 2, &b), CS_SCAN_OK);

    /* unterminated input is the parser's business */
    CHECK_INT(scan("{\"a", 3, 32, &b), CS_SCAN_OK);
    CHECK_MEM(b.data, b.len, "{\"a");
    CHECK_INT(scan("{\"a\":\"x\\", 8, 32, &b), CS_SCAN_OK);
    CHECK_MEM(b.data, b.len, "{\"a\":\"x\\");
    CHECK_INT(scan("\"", 1, 32, &b), CS_SCAN_OK);
    CHECK_MEM(b.data, b.len, "\"");
    CHECK_INT(scan("", 0, 32, &b), CS_SCAN_OK);
    CHECK_INT(b.len, 0);

    cs_buf_free(&b);

    CS_TEST_DONE();
}
