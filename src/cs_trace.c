/*
 * caresync core: W3C traceparent, strictly.
 */

#include <string.h>

#include "cs_id.h"
#include "cs_trace.h"


/* a lower-case hex digit's value, or -1 (upper case is invalid: §3.2.2) */
static int
cs_trace_nibble(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


static int
cs_trace_hex(const unsigned char *p, size_t nbytes, unsigned char *out)
{
    int            hi, lo;
    size_t         i;
    unsigned char  any = 0;

    for (i = 0; i < nbytes; i++) {
        hi = cs_trace_nibble(p[2 * i]);
        lo = cs_trace_nibble(p[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            return -1;
        }

        out[i] = (unsigned char) (hi << 4 | lo);
        any |= out[i];
    }

    /* the caller tells whether all zeros is allowed */
    return any ? 1 : 0;
}


int
cs_trace_parse(const unsigned char *v, size_t len, cs_trace_t *t)
{
    unsigned char  flags;
    cs_trace_t     x;

    /*
     * Version 00 only, and exactly its length: a later version may add
     * fields, but it is not ours to guess what a sender meant by them.
     */
    if (v == NULL || len != CS_TRACE_LEN || v[0] != '0' || v[1] != '0'
        || v[2] != '-' || v[35] != '-' || v[52] != '-')
    {
        return -1;
    }

    /* all-zero ids are invalid (§3.2.2.3, §3.2.2.4) */
    if (cs_trace_hex(v + 3, 16, x.trace_id) != 1
        || cs_trace_hex(v + 36, 8, x.span_id) != 1
        || cs_trace_hex(v + 53, 1, &flags) < 0)
    {
        return -1;
    }

    x.flags = flags;
    *t = x;
    return 0;
}


/* n random bytes, not all zero (an all-zero id is invalid) */
static int
cs_trace_random(unsigned char *p, size_t n)
{
    size_t  i;

    do {
        if (cs_id_random(p, n) != 0) {
            return -1;
        }

        for (i = 0; i < n && p[i] == 0; i++) {
            /* all zeros: draw again */
        }
    } while (i == n);

    return 0;
}


int
cs_trace_start(cs_trace_t *t)
{
    t->flags = CS_TRACE_SAMPLED;

    if (cs_trace_random(t->trace_id, sizeof(t->trace_id)) != 0) {
        return -1;
    }

    return cs_trace_random(t->span_id, sizeof(t->span_id));
}


int
cs_trace_child(cs_trace_t *t)
{
    return cs_trace_random(t->span_id, sizeof(t->span_id));
}


void
cs_trace_format(const cs_trace_t *t, char out[CS_TRACE_LEN + 1])
{
    out[0] = '0';
    out[1] = '0';
    out[2] = '-';
    cs_id_hex(t->trace_id, 16, out + 3);
    out[35] = '-';
    cs_id_hex(t->span_id, 8, out + 36);
    out[52] = '-';
    cs_id_hex(&t->flags, 1, out + 53);
    out[CS_TRACE_LEN] = '\0';
}


void
cs_trace_id_hex(const cs_trace_t *t, char out[CS_TRACE_ID_HEX + 1])
{
    cs_id_hex(t->trace_id, 16, out);
}
