/*
 * cs_trace_parse(): the W3C traceparent a sender may put on a webhook.
 *
 * Invariants:
 *   - it agrees with a plain reference written here from the grammar
 *     (version 00, 55 bytes, lower-case hex, non-zero ids);
 *   - an accepted header formats back to exactly its own bytes, so that
 *     nothing but what was checked is ever passed on;
 *   - a rejected one leaves the output untouched.
 */

#include <string.h>

#include "cs_trace.h"
#include "fuzz_common.h"


static int
ref_hex(const uint8_t *p, size_t n, int *nonzero)
{
    size_t  i;

    *nonzero = 0;

    for (i = 0; i < n; i++) {
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) {
            return 0;
        }
        if (p[i] != '0') {
            *nonzero = 1;
        }
    }

    return 1;
}


static int
ref_valid(const uint8_t *p, size_t n)
{
    int  nz1, nz2, nz3;

    return n == 55 && p[0] == '0' && p[1] == '0' && p[2] == '-'
           && p[35] == '-' && p[52] == '-'
           && ref_hex(p + 3, 32, &nz1) && nz1
           && ref_hex(p + 36, 16, &nz2) && nz2
           && ref_hex(p + 53, 2, &nz3);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int         rc;
    char        out[CS_TRACE_LEN + 1];
    cs_trace_t  t, before;

    memset(&t, 0xa5, sizeof(t));
    before = t;

    rc = cs_trace_parse(data, size, &t);

    FZ_CHECK((rc == 0) == ref_valid(data, size),
             "parse says %d, the grammar says %d", rc,
             ref_valid(data, size));

    if (rc == 0) {
        cs_trace_format(&t, out);
        FZ_CHECK(memcmp(out, data, CS_TRACE_LEN) == 0,
                 "%s is not what was accepted", out);
    } else {
        FZ_CHECK(memcmp(&t, &before, sizeof(t)) == 0,
                 "a rejected header changed the output");
    }

    return 0;
}
