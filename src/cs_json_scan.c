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
#define CS_C_PUNCT  4     /* ':' ',' */
#define CS_C_QUOTE  5
#define CS_C_NUL    6

static const unsigned char  cs_scan_class[256] = {
    [0] = CS_C_NUL,
    [' '] = CS_C_WS, ['\t'] = CS_C_WS, ['\n'] = CS_C_WS, ['\r'] = CS_C_WS,
    ['{'] = CS_C_OPEN, ['['] = CS_C_OPEN,
    ['}'] = CS_C_CLOSE, [']'] = CS_C_CLOSE,
    [':'] = CS_C_PUNCT, [','] = CS_C_PUNCT,
    ['"'] = CS_C_QUOTE,
};

/* Bytes that end a run inside a string. */
static const unsigned char  cs_scan_stop[256] = {
    [0] = 1, ['"'] = 1, ['\\'] = 1,
};


int
cs_json_scan(const unsigned char *p, size_t n, unsigned max_depth,
    cs_buf_t *out)
{
    int             gap, prev_word;
    char           *d;
    size_t          i, start;
    unsigned        depth;
    unsigned char   c, cls;

    /* The copy never grows: reserve once, then write without checks. */
    if (cs_buf_reserve(out, n + 1) != 0) {
        return CS_SCAN_NOMEM;
    }

    d = out->data + out->len;
    depth = 0;
    gap = 0;
    prev_word = 0;

    for (i = 0; i < n; i++) {
        c = p[i];
        cls = cs_scan_class[c];

        switch (cls) {

        case CS_C_WS:
            gap = 1;
            continue;

        case CS_C_NUL:
            return CS_SCAN_NUL;

        case CS_C_WORD:
            /*
             * "1 2" must not become "12": keep one space between two
             * words so that the parser still sees two tokens.
             */
            if (gap && prev_word) {
                *d++ = ' ';
            }
            *d++ = (char) c;
            prev_word = 1;
            gap = 0;
            continue;

        case CS_C_OPEN:
            if (++depth > max_depth) {
                return CS_SCAN_TOO_DEEP;
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
                    goto done;
                }

                c = p[i];

                if (c == '"') {
                    break;
                }

                if (c == '\0') {
                    return CS_SCAN_NUL;
                }

                /* a backslash and the byte it escapes */
                *d++ = (char) c;

                if (++i == n) {
                    goto done;
                }

                if (p[i] == '\0') {
                    return CS_SCAN_NUL;
                }

                *d++ = (char) p[i++];
            }

            break;

        default: /* CS_C_PUNCT */
            break;
        }

        *d++ = (char) c;
        prev_word = 0;
        gap = 0;
    }

done:

    out->len = d - out->data;

    return CS_SCAN_OK;
}
