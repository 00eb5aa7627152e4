/*
 * cs_trace: the W3C traceparent, accepted only when exactly version 00.
 */

#include "cs_test.h"
#include "cs_trace.h"

#define OK_TP  "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


static int
parse(const char *s)
{
    cs_trace_t  t;

    return cs_trace_parse((const unsigned char *) s, strlen(s), &t);
}


int
main(void)
{
    char        out[CS_TRACE_LEN + 1], id[CS_TRACE_ID_HEX + 1];
    cs_trace_t  t, u;

    CHECK_INT(parse(OK_TP), 0);
    CHECK_INT(parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"),
              0);

    /* round trip */
    CHECK_INT(cs_trace_parse((const unsigned char *) OK_TP,
                             strlen(OK_TP), &t), 0);
    cs_trace_format(&t, out);
    CHECK_STR(out, OK_TP);
    cs_trace_id_hex(&t, id);
    CHECK_STR(id, "4bf92f3577b34da6a3ce929d0e0e4736");

    /* invalid: each rule */
    CHECK_INT(parse(""), -1);
    CHECK_INT(parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
              -1);                                      /* version */
    CHECK_INT(parse("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
              -1);
    CHECK_INT(parse("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"),
              -1);                                      /* upper case */
    CHECK_INT(parse("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
              -1);                                      /* zero trace */
    CHECK_INT(parse("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"),
              -1);                                      /* zero parent */
    CHECK_INT(parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0"),
              -1);                                      /* short */
    CHECK_INT(parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-"),
              -1);                                      /* long */
    CHECK_INT(parse("00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01"),
              -1);                                      /* separator */
    CHECK_INT(parse("00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01"),
              -1);                                      /* not hex */
    CHECK_INT(parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz"),
              -1);
    CHECK_INT(cs_trace_parse(NULL, 0, &t), -1);

    /* started: valid, sampled, and new each time */
    CHECK_INT(cs_trace_start(&t), 0);
    cs_trace_format(&t, out);
    CHECK_INT(parse(out), 0);
    CHECK_INT(t.flags, CS_TRACE_SAMPLED);
    CHECK_INT(cs_trace_start(&u), 0);
    CHECK(memcmp(t.trace_id, u.trace_id, 16) != 0);

    /* a child keeps the trace, changes the span */
    u = t;
    CHECK_INT(cs_trace_child(&u), 0);
    CHECK(memcmp(t.trace_id, u.trace_id, 16) == 0);
    CHECK(memcmp(t.span_id, u.span_id, 8) != 0);

    CS_TEST_DONE();
}
