/*
 * caresync core: a growable byte buffer and a JSON writer over it.
 *
 * Every core function that produces text (response bodies, jobs) writes
 * into a cs_buf_t, so callers decide where the bytes go and nothing is
 * built twice.  An allocation failure sets `oom` and turns later writes
 * into no-ops: callers check once, at the end.
 */

#ifndef CS_BUF_H
#define CS_BUF_H

#include <stddef.h>
#include <string.h>

typedef struct {
    char    *data;
    size_t   len;
    size_t   cap;
    int      oom;
} cs_buf_t;

void cs_buf_init(cs_buf_t *b);
void cs_buf_free(cs_buf_t *b);
void cs_buf_reset(cs_buf_t *b);

/* cs_buf_reserve() when there is no room yet: grows the buffer. */
int  cs_buf_grow(cs_buf_t *b, size_t extra);

/* cs_buf_put() when the bytes do not fit yet: grows, then appends. */
void cs_buf_put_grow(cs_buf_t *b, const void *p, size_t n);

/*
 * Room for `extra` more bytes: 0, or -1 once out of memory.  This and the
 * writers are inline: most writes are a few bytes into room that is
 * already there, and a call each would cost more than the copy.
 */
static inline int
cs_buf_reserve(cs_buf_t *b, size_t extra)
{
    if (!b->oom && extra <= b->cap - b->len) {
        return 0;
    }

    return cs_buf_grow(b, extra);
}

static inline void
cs_buf_put(cs_buf_t *b, const void *p, size_t n)
{
    if (!b->oom && n <= b->cap - b->len) {
        if (n) {
            memcpy(b->data + b->len, p, n);
            b->len += n;
        }
        return;
    }

    cs_buf_put_grow(b, p, n);
}

static inline void
cs_buf_puts(cs_buf_t *b, const char *s)
{
    cs_buf_put(b, s, strlen(s));
}

static inline void
cs_buf_putc(cs_buf_t *b, char c)
{
    if (!b->oom && b->len < b->cap) {
        b->data[b->len++] = c;
        return;
    }

    cs_buf_put_grow(b, &c, 1);
}

/* A JSON string literal: quotes added, escapes applied, input is UTF-8. */
void cs_buf_json_str(cs_buf_t *b, const char *s, size_t n);

/* `"key":` — key must be a plain literal that needs no escaping. */
void cs_buf_json_key(cs_buf_t *b, const char *key);

#endif /* CS_BUF_H */
