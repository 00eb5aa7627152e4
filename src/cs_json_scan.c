/*
 * caresync core: the pre-scan (see cs_json_scan.h).
 */

#include <string.h>

#include "cs_json_scan.h"

/* Byte classes outside strings. */
#define CS_C_WORD   0     /* part of a number or a literal, or garbage */
#define CS_C_WS     1
#define CS_C_OPEN   2
#define CS_C_CLOSE  3
#define CS_C_COMMA  4
#define CS_C_COLON  5
#define CS_C_QUOTE  6
#define CS_C_NUL    7

/* What the last byte written ended. */
#define CS_P_OTHER  0
#define CS_P_WORD   1
#define CS_P_STRING 2

static const unsigned char  cs_scan_class[256] = {
    [0] = CS_C_NUL,
    [' '] = CS_C_WS, ['\t'] = CS_C_WS, ['\n'] = CS_C_WS, ['\r'] = CS_C_WS,
    ['{'] = CS_C_OPEN, ['['] = CS_C_OPEN,
    ['}'] = CS_C_CLOSE, [']'] = CS_C_CLOSE,
    [','] = CS_C_COMMA, [':'] = CS_C_COLON,
    ['"'] = CS_C_QUOTE,
};

/* Bytes that end a run inside a string. */
static const unsigned char  cs_scan_stop[256] = {
    [0] = 1, ['"'] = 1, ['\\'] = 1,
};


int
cs_json_scan(const unsigned char *p, size_t n, unsigned max_depth,
    size_t max_values, size_t *values, cs_buf_t *out)
{
    int             gap, prev, rc;
    char           *d;
    size_t          i, start, count;
    unsigned        depth;
    unsigned char   c, cls;

    count = 0;

    /* The copy never grows: reserve once, then write without checks. */
    if (cs_buf_reserve(out, n + 1) != 0) {
        rc = CS_SCAN_NOMEM;
        goto failed;
    }

    d = out->data + out->len;
    depth = 0;
    gap = 0;
    prev = CS_P_OTHER;
    rc = CS_SCAN_TOO_MANY;

    for (i = 0; i < n; i++) {
        c = p[i];
        cls = cs_scan_class[c];

        if (cls == CS_C_WS) {
            gap = 1;
            continue;
        }

        /*
         * A string is counted once the next token shows what it was:
         * followed by ':' it is a member name, not a value.
         */
        if (prev == CS_P_STRING && cls != CS_C_COLON && ++count > max_values)
        {
            goto failed;
        }

        switch (cls) {

        case CS_C_NUL:
            rc = CS_SCAN_NUL;
            goto failed;

        case CS_C_WORD:
            if (prev == CS_P_WORD && !gap) {
                *d++ = (char) c;        /* the same word goes on */
                continue;
            }

            /*
             * "1 2" must not become "12": keep one space between two
             * words so that the parser still sees two tokens.
             */
            if (prev == CS_P_WORD) {
                *d++ = ' ';
            }

            if (++count > max_values) {
                goto failed;
            }

            *d++ = (char) c;
            prev = CS_P_WORD;
            gap = 0;
            continue;

        case CS_C_OPEN:
            if (++depth > max_depth) {
                rc = CS_SCAN_TOO_DEEP;
                goto failed;
            }

            if (++count > max_values) {
                goto failed;
            }

            break;

        case CS_C_CLOSE:
            if (depth) {
                depth--;
            }
            break;

        case CS_C_QUOTE:
            *d++ = '"';
            i++;

            for ( ;; ) {
                /* most of a body is plain string bytes: copy them in runs */
                start = i;
                while (i < n && !cs_scan_stop[p[i]]) {
                    i++;
                }

                memcpy(d, p + start, i - start);
                d += i - start;

                if (i == n) {
                    /* unterminated: the parser will say so */
                    prev = CS_P_STRING;
                    goto done;
                }

                c = p[i];

                if (c == '"') {
                    break;
                }

                if (c == '\0') {
                    rc = CS_SCAN_NUL;
                    goto failed;
                }

                /* a backslash and the byte it escapes */
                *d++ = (char) c;

                if (++i == n) {
                    prev = CS_P_STRING;
                    goto done;
                }

                if (p[i] == '\0') {
                    rc = CS_SCAN_NUL;
                    goto failed;
                }

                *d++ = (char) p[i++];
            }

            *d++ = '"';
            prev = CS_P_STRING;
            gap = 0;
            continue;

        default: /* CS_C_COMMA, CS_C_COLON */
            break;
        }

        *d++ = (char) c;
        prev = CS_P_OTHER;
        gap = 0;
    }

done:

    /* a string at the very end is a value */
    if (prev == CS_P_STRING && ++count > max_values) {
        goto failed;
    }

    out->len = d - out->data;

    if (values) {
        *values = count;
    }

    return CS_SCAN_OK;

failed:

    if (values) {
        *values = count;
    }

    return rc;
}
