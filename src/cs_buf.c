/*
 * caresync core: growable byte buffer and JSON string writer.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cs_buf.h"
#include "cs_bytes.h"

#define CS_BUF_MIN  256


void
cs_buf_init(cs_buf_t *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->oom = 0;
}


void
cs_buf_free(cs_buf_t *b)
{
    free(b->data);
    cs_buf_init(b);
}


/* Keeps the memory: one buffer serves many requests. */
void
cs_buf_reset(cs_buf_t *b)
{
    b->len = 0;
    b->oom = 0;
}


int
cs_buf_grow(cs_buf_t *b, size_t extra)
{
    size_t   need, cap;
    char    *p;

    if (b->oom) {
        return -1;
    }

    if (extra <= b->cap - b->len) {
        return 0;
    }

    if (extra > SIZE_MAX / 2 - b->len) {
        b->oom = 1;
        return -1;
    }

    need = b->len + extra;
    cap = b->cap ? b->cap : CS_BUF_MIN;

    while (cap < need) {
        cap *= 2;
    }

    p = realloc(b->data, cap);
    if (p == NULL) {
        b->oom = 1;
        return -1;
    }

    b->data = p;
    b->cap = cap;

    return 0;
}


void
cs_buf_put_grow(cs_buf_t *b, const void *p, size_t n)
{
    if (n == 0 || cs_buf_reserve(b, n) != 0) {
        return;
    }

    memcpy(b->data + b->len, p, n);
    b->len += n;
}


/*
 * Bytes that need escaping: '"', '\\' and the controls.  Everything else,
 * UTF-8 included, is copied in runs.
 */
static const unsigned char  cs_json_esc[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
};


void
cs_buf_json_str(cs_buf_t *b, const char *s, size_t n)
{
    char                 *d;
    size_t                i, run;
    unsigned              k;
    unsigned char         c;
    char                  esc[6];
    static const char     hex[] = "0123456789abcdef";

    for (i = 0; n - i >= 8; i += 8) {
        k = cs_bytes_stop((const unsigned char *) s + i, 0);

        if (k < 8) {
            i += k;
            goto stop;
        }
    }

    while (i < n && !cs_json_esc[(unsigned char) s[i]]) {
        i++;
    }

stop:

    /* the usual value needs no escape: one copy between the quotes */
    if (i == n) {
        if (cs_buf_reserve(b, n + 2) != 0) {
            return;
        }

        d = b->data + b->len;
        *d++ = '"';
        if (n) {
            memcpy(d, s, n);
        }
        d[n] = '"';
        b->len += n + 2;

        return;
    }

    cs_buf_putc(b, '"');

    run = 0;

    for ( /* void */ ; i < n; i++) {
        c = (unsigned char) s[i];

        if (!cs_json_esc[c]) {
            continue;
        }

        cs_buf_put(b, s + run, i - run);
        run = i + 1;

        esc[0] = '\\';

        switch (c) {
        case '"':  esc[1] = '"';  break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b';  break;
        case '\f': esc[1] = 'f';  break;
        case '\n': esc[1] = 'n';  break;
        case '\r': esc[1] = 'r';  break;
        case '\t': esc[1] = 't';  break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xf];
            cs_buf_put(b, esc, 6);
            continue;
        }

        cs_buf_put(b, esc, 2);
    }

    cs_buf_put(b, s + run, n - run);
    cs_buf_putc(b, '"');
}


void
cs_buf_json_key(cs_buf_t *b, const char *key)
{
    size_t  n;

    n = strlen(key);

    if (cs_buf_reserve(b, n + 3) != 0) {
        return;
    }

    b->data[b->len++] = '"';
    memcpy(b->data + b->len, key, n);
    b->len += n;
    b->data[b->len++] = '"';
    b->data[b->len++] = ':';
}
