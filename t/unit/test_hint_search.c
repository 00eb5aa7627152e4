/*
 * The search box: its request body {"q":"<name>"}, and its answer, only
 * id, names and birth date of Hint's patients, whatever else Hint sends.
 */

#include <string.h>

#include "cs_test.h"
#include "cs_hint_search.h"


static int
trim(const char *in, cs_buf_t *out)
{
    cs_buf_reset(out);
    return cs_hint_search_trim(in, strlen(in), out);
}


static int
query(const char *in, char *q, size_t *qlen)
{
    *qlen = 0;
    return cs_hint_search_query(in, strlen(in), q, qlen);
}


int
main(void)
{
    char      q[CS_HINT_SEARCH_Q_MAX], body[CS_HINT_SEARCH_Q_MAX + 16];
    size_t    qlen;
    cs_buf_t  out;

    cs_buf_init(&out);

    /* the name, whatever else the object holds; UTF-8 letters pass */
    CHECK_INT(query("{\"q\":\"Lopez\"}", q, &qlen), 0);
    CHECK_MEM(q, qlen, "Lopez");
    CHECK_INT(query("{\"v\":2,\"q\":\"O'Brien de la Pe\\u00f1a-Sm. \"}",
                    q, &qlen), 0);
    CHECK_MEM(q, qlen, "O'Brien de la Pe\xc3\xb1" "a-Sm. ");

    /* not an object with a string q */
    CHECK_INT(query("", q, &qlen), 1);
    CHECK_INT(query("Lopez", q, &qlen), 1);
    CHECK_INT(query("\"Lopez\"", q, &qlen), 1);
    CHECK_INT(query("[\"Lopez\"]", q, &qlen), 1);
    CHECK_INT(query("{}", q, &qlen), 1);
    CHECK_INT(query("{\"q\":[\"Lopez\"]}", q, &qlen), 1);
    CHECK_INT(query("{\"q\":null}", q, &qlen), 1);
    CHECK_INT(query("{\"q\":\"Lopez\",\"q\":\"Doe\"}", q, &qlen), 1);
    CHECK_INT(query("{\"q\":\"Lo\\u0000pez\"}", q, &qlen), 1);
    CHECK_INT(query("{\"q\":\"Lopez\"} x", q, &qlen), 1);

    /* q is not a name: nothing that could add to Hint's query */
    CHECK_INT(query("{\"q\":\"\"}", q, &qlen), 2);
    CHECK_INT(query("{\"q\":\"Lopez&limit=1000\"}", q, &qlen), 2);
    CHECK_INT(query("{\"q\":\"Lopez%26\"}", q, &qlen), 2);
    CHECK_INT(query("{\"q\":\"Lopez\\n\"}", q, &qlen), 2);
    CHECK_INT(query("{\"q\":\"1958-04-12\"}", q, &qlen), 2);
    CHECK_INT(qlen, 0);

    /* 1 to CS_HINT_SEARCH_Q_MAX bytes */
    memset(body, 0, sizeof(body));
    memcpy(body, "{\"q\":\"", 6);
    memset(body + 6, 'a', CS_HINT_SEARCH_Q_MAX);
    memcpy(body + 6 + CS_HINT_SEARCH_Q_MAX, "\"}", 2);
    CHECK_INT(query(body, q, &qlen), 0);
    CHECK_INT(qlen, CS_HINT_SEARCH_Q_MAX);
    memcpy(body + 6 + CS_HINT_SEARCH_Q_MAX, "a\"}", 3);
    CHECK_INT(query(body, q, &qlen), 2);

    /* the fields a user chooses by; phones, email, address dropped */
    CHECK_INT(trim("[{\"id\":\"pat-1\",\"first_name\":\"Maria\","
                   "\"middle_name\":\"Elena\",\"last_name\":\"Lopez\","
                   "\"dob\":\"1958-04-12\",\"email\":\"m@example.org\","
                   "\"phones\":[{\"number\":\"5035550143\"}],"
                   "\"address_line1\":\"1200 NW Everett St\"}]", &out), 0);
    CHECK_MEM(out.data, out.len,
              "[{\"id\":\"pat-1\",\"first_name\":\"Maria\","
              "\"last_name\":\"Lopez\",\"dob\":\"1958-04-12\"}]");
    CHECK_NOT_CONTAINS(out.data, out.len, "example.org");
    CHECK_NOT_CONTAINS(out.data, out.len, "5035550143");

    /* {"data":[…]} too; entries without a string id skipped */
    CHECK_INT(trim("{\"data\":[{\"id\":7},{\"first_name\":\"A\"},"
                   "{\"id\":\"pat-2\",\"dob\":null}]}", &out), 0);
    CHECK_MEM(out.data, out.len, "[{\"id\":\"pat-2\"}]");

    CHECK_INT(trim("[]", &out), 0);
    CHECK_MEM(out.data, out.len, "[]");

    /* escapes survive */
    CHECK_INT(trim("[{\"id\":\"pat-3\",\"last_name\":\"O\\\"Brien\"}]",
                   &out), 0);
    CHECK_MEM(out.data, out.len,
              "[{\"id\":\"pat-3\",\"last_name\":\"O\\\"Brien\"}]");

    /* not a list */
    CHECK_INT(trim("{\"status\":422,\"message\":\"x\"}", &out), 1);
    CHECK_INT(trim("not json", &out), 1);
    CHECK_INT(trim("", &out), 1);

    /* at most CS_HINT_SEARCH_MAX */
    {
        char    big[CS_HINT_SEARCH_MAX * 24 + 64], *p = big;
        size_t  i, n = 0;

        p += sprintf(p, "[");
        for (i = 0; i < CS_HINT_SEARCH_MAX + 10; i++) {
            p += sprintf(p, "%s{\"id\":\"p%zu\"}", i ? "," : "", i);
        }
        sprintf(p, "]");

        CHECK_INT(trim(big, &out), 0);
        for (i = 0; i < out.len; i++) {
            n += out.data[i] == '{';
        }
        CHECK_INT(n, CS_HINT_SEARCH_MAX);
    }

    cs_buf_free(&out);

    CS_TEST_DONE();
}
