/*
 * cs_json_scan: compact copy, NUL bytes, depth, the count of values.
 */

#include <stdint.h>

#include "cs_json_scan.h"
#include "cs_test.h"


static int
scan(const char *s, size_t n, unsigned depth, cs_buf_t *b)
{
    cs_buf_reset(b);
    return cs_json_scan((const unsigned char *) s, n, depth, SIZE_MAX, NULL,
                        b);
}


/* The values counted in s, or -1 - rc when the scan fails. */
static long
count(const char *s, size_t max_values)
{
    int       rc;
    size_t    n;
    cs_buf_t  b;

    cs_buf_init(&b);
    n = 12345;
    rc = cs_json_scan((const unsigned char *) s, strlen(s), 32, max_values,
                      &n, &b);
    cs_buf_free(&b);

    return rc == CS_SCAN_OK ? (long) n : -1 - rc;
}


static void
test_count(void)
{
    size_t   i;
    char    *big;

    CHECK_INT(count("", SIZE_MAX), 0);
    CHECK_INT(count("1", SIZE_MAX), 1);
    CHECK_INT(count(" true ", SIZE_MAX), 1);
    CHECK_INT(count("\"a\"", SIZE_MAX), 1);
    CHECK_INT(count("{}", SIZE_MAX), 1);
    CHECK_INT(count("[]", SIZE_MAX), 1);

    /* member names are not values; what they name is */
    CHECK_INT(count("{\"a\":1}", SIZE_MAX), 2);
    CHECK_INT(count("{ \"a\" : \"b\" , \"c\" :null}", SIZE_MAX), 3);
    CHECK_INT(count("{\"a\":{\"b\":[1,\"x\",false,{}]}}", SIZE_MAX), 7);
    CHECK_INT(count("[\"a\",\"b\",\"c\"]", SIZE_MAX), 4);

    /* numbers and literals are one each, however long */
    CHECK_INT(count("[-12.5e+3,1234567890123]", SIZE_MAX), 3);

    /* what the parser will refuse is still counted, never less */
    CHECK_INT(count("1 2", SIZE_MAX), 2);
    CHECK_INT(count("[\"a\" \"b\"]", SIZE_MAX), 3);
    CHECK_INT(count("{\"a", SIZE_MAX), 2);
    CHECK_INT(count("[\"x\\", SIZE_MAX), 2);

    /* the limit: exactly max_values passes, one more does not */
    CHECK_INT(count("{\"a\":1}", 2), 2);
    CHECK_INT(count("{\"a\":1}", 1), -1 - CS_SCAN_TOO_MANY);
    CHECK_INT(count("{\"a\":\"b\"}", 2), 2);
    CHECK_INT(count("{\"a\":\"b\"}", 1), -1 - CS_SCAN_TOO_MANY);
    CHECK_INT(count("[\"a\",\"b\"]", 2), -1 - CS_SCAN_TOO_MANY);
    CHECK_INT(count("\"a\"", 0), -1 - CS_SCAN_TOO_MANY);
    CHECK_INT(count("", 0), 0);

    /* a name followed by ':' is never counted, even against the limit */
    CHECK_INT(count("{\"a\":{\"b\":{\"c\":1}}}", 4), 4);

    /* the body the cap is for: 1 MiB of empty arrays stops early */
    big = malloc(1 << 20);
    big[0] = '[';
    for (i = 1; i + 3 < (1 << 20); i += 3) {
        memcpy(big + i, "[],", 3);
    }
    memcpy(big + i - 1, "]", 2);
    CHECK_INT(count(big, 10000), -1 - CS_SCAN_TOO_MANY);
    CHECK_INT(count(big, SIZE_MAX), (long) (i - 1) / 3 + 1);
    free(big);

    /* the count of the part scanned comes back with a refusal */
    {
        size_t    n;
        cs_buf_t  b;

        cs_buf_init(&b);
        CHECK_INT(cs_json_scan((const unsigned char *) "[1,2,3]", 7, 32, 2,
                               &n, &b), CS_SCAN_TOO_MANY);
        CHECK_INT(n, 3);
        CHECK_INT(b.len, 0);
        cs_buf_free(&b);
    }
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

    test_count();

    CS_TEST_DONE();
}
