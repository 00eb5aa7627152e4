/*
 * cs_buf: growth, reset, JSON string escaping.
 */

#include "cs_buf.h"
#include "cs_test.h"


static void
test_grow(void)
{
    int       i;
    cs_buf_t  b;

    cs_buf_init(&b);

    for (i = 0; i < 1000; i++) {
        cs_buf_puts(&b, "0123456789");
    }

    CHECK_INT(b.len, 10000);
    CHECK(b.cap >= 10000);
    CHECK(!b.oom);
    CHECK(memcmp(b.data + 9990, "0123456789", 10) == 0);

    cs_buf_reset(&b);
    CHECK_INT(b.len, 0);
    CHECK(b.cap >= 10000);

    cs_buf_putc(&b, 'x');
    cs_buf_put(&b, "", 0);
    CHECK_MEM(b.data, b.len, "x");

    cs_buf_free(&b);
    CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
}


static void
test_json(void)
{
    cs_buf_t  b;

    cs_buf_init(&b);

    cs_buf_putc(&b, '{');
    cs_buf_json_key(&b, "k");
    cs_buf_json_str(&b, "a\"b\\c\n\t\r\b\f\x01\x1f/é", 15);
    cs_buf_putc(&b, '}');
    CHECK_MEM(b.data, b.len,
              "{\"k\":\"a\\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\\u001f/é\"}");

    cs_buf_reset(&b);
    cs_buf_json_str(&b, "", 0);
    CHECK_MEM(b.data, b.len, "\"\"");

    cs_buf_free(&b);
}


static void
test_oom_sticky(void)
{
    cs_buf_t  b;

    cs_buf_init(&b);
    b.oom = 1;
    cs_buf_puts(&b, "abc");
    CHECK_INT(b.len, 0);
    CHECK(cs_buf_reserve(&b, 1) != 0);
    CHECK(cs_buf_reserve(&b, (size_t) -1) != 0);
    cs_buf_reset(&b);
    CHECK(!b.oom);
    CHECK(cs_buf_reserve(&b, (size_t) -1) != 0);
    CHECK(b.oom);
    cs_buf_free(&b);
}


int
main(void)
{
    test_grow();
    test_json();
    test_oom_sticky();

    CS_TEST_DONE();
}
