/*
 * caresync fuzzing: what every harness shares.
 *
 *   FZ_CHECK(cond, fmt, ...)   an invariant: print what broke, abort()
 *   fz_vocab_*                 the core's own string literals, tokenized:
 *                              what answers and notes may be made of
 *   fz_json_*                  small jansson helpers
 *
 * Header-only on purpose: each harness is one translation unit.
 */

#ifndef CS_FUZZ_COMMON_H
#define CS_FUZZ_COMMON_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cs_fuzz_vocab.h"          /* generated: fz_vocab_literals[] */

#define FZ_UNUSED  __attribute__((unused))

#define FZ_CHECK(cond, ...)                                                   \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                  \
        }                                                                     \
    } while (0)


static void fz_fail(const char *file, int line, const char *cond,
    const char *fmt, ...) __attribute__((noreturn, format(printf, 4, 5)));

static void
fz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    va_list  ap;

    fprintf(stderr, "\n==FUZZ INVARIANT== %s:%d: %s\n    ", file, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}


/* Prints at most 300 bytes of a buffer, escaped, for failure messages. */
static FZ_UNUSED const char *
fz_show(const void *p, size_t n)
{
    static char          out[1300];
    size_t               i, k;
    const unsigned char *s = p;

    if (p == NULL) {
        return "(null)";
    }

    for (i = 0, k = 0; i < n && i < 300; i++) {
        if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\') {
            out[k++] = (char) s[i];
        } else {
            k += (size_t) snprintf(out + k, sizeof(out) - k, "\\x%02x", s[i]);
        }
    }

    if (i < n) {
        k += (size_t) snprintf(out + k, sizeof(out) - k, "…(+%zu)", n - i);
    }

    out[k] = '\0';

    return out;
}


/* ---- the vocabulary ---------------------------------------------------- */

/* What separates words in "event.patient.consents[3] must be a date". */
static FZ_UNUSED int
fz_sep(char c)
{
    return c == ' ' || c == '.' || c == '[' || c == ']' || c == ':'
           || c == ';' || c == ',' || c == '"' || c == '\n';
}


static FZ_UNUSED int
fz_digits(const char *s, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }

    return 1;
}


typedef struct {
    const char  *p;
    size_t       n;
} fz_tok_t;

static fz_tok_t  *fz_vocab;
static size_t     fz_nvocab;


static void
fz_vocab_add(const char *p, size_t n)
{
    static size_t  cap;

    if (n == 0) {
        return;
    }

    if (fz_nvocab == cap) {
        cap = cap ? cap * 2 : 1024;
        fz_vocab = realloc(fz_vocab, cap * sizeof(fz_tok_t));
        if (fz_vocab == NULL) {
            abort();
        }
    }

    fz_vocab[fz_nvocab].p = p;
    fz_vocab[fz_nvocab].n = n;
    fz_nvocab++;
}


/*
 * Words of every literal; printf directives ("%s", "%zu", "%u") are
 * separators too, so that "%s%spatient" yields "patient".
 */
static FZ_UNUSED void
fz_vocab_init(void)
{
    size_t       i, start;
    const char  *s;

    if (fz_vocab) {
        return;
    }

    for (i = 0; fz_vocab_literals[i]; i++) {
        s = fz_vocab_literals[i];
        start = 0;

        for (size_t j = 0; ; j++) {
            if (s[j] == '\0' || fz_sep(s[j]) || s[j] == '%') {
                fz_vocab_add(s + start, j - start);

                if (s[j] == '\0') {
                    break;
                }

                if (s[j] == '%') {
                    while (s[j + 1] == 'z' || s[j + 1] == 'l') {
                        j++;
                    }
                    if (s[j + 1]) {
                        j++;
                    }
                }

                start = j + 1;
            }
        }
    }
}


/* A whole word of the vocabulary, or a number (indexes, depths). */
static FZ_UNUSED int
fz_vocab_word(const char *p, size_t n)
{
    size_t  i;

    if (n == 0 || fz_digits(p, n)) {
        return 1;
    }

    for (i = 0; i < fz_nvocab; i++) {
        if (fz_vocab[i].n == n && memcmp(fz_vocab[i].p, p, n) == 0) {
            return 1;
        }
    }

    return 0;
}


/* `where` 1: a prefix of a word, 2: a suffix, 3: anywhere inside one. */
static FZ_UNUSED int
fz_vocab_part(const char *p, size_t n, int where)
{
    size_t  i, k;

    if (n == 0 || fz_digits(p, n)) {
        return 1;
    }

    for (i = 0; i < fz_nvocab; i++) {
        if (fz_vocab[i].n < n) {
            continue;
        }

        if (where == 1 && memcmp(fz_vocab[i].p, p, n) == 0) {
            return 1;
        }

        if (where == 2
            && memcmp(fz_vocab[i].p + fz_vocab[i].n - n, p, n) == 0)
        {
            return 1;
        }

        if (where == 3) {
            for (k = 0; k + n <= fz_vocab[i].n; k++) {
                if (memcmp(fz_vocab[i].p + k, p, n) == 0) {
                    return 1;
                }
            }
        }
    }

    return 0;
}


/*
 * Every word of `s` is a vocabulary word or a number.  Returns NULL if so,
 * else the first foreign word (its length in *bad_n).
 */
static FZ_UNUSED const char *
fz_vocab_text(const char *s, size_t n, size_t *bad_n)
{
    size_t  i, start;

    fz_vocab_init();

    for (i = 0, start = 0; i <= n; i++) {
        if (i == n || fz_sep(s[i])) {
            if (!fz_vocab_word(s + start, i - start)) {
                *bad_n = i - start;
                return s + start;
            }
            start = i + 1;
        }
    }

    return NULL;
}


/*
 * Could `v` be a piece of a text made only of vocabulary words?  Its
 * first word may be the end of a word, its last the start of one.
 */
static FZ_UNUSED int
fz_vocab_piece(const char *v, size_t n)
{
    size_t  i, first_end, last_start;

    fz_vocab_init();

    for (first_end = 0; first_end < n && !fz_sep(v[first_end]); first_end++)
    {
        /* void */
    }

    if (first_end == n) {
        return fz_vocab_part(v, n, 3);
    }

    for (last_start = n; last_start > 0 && !fz_sep(v[last_start - 1]);
         last_start--)
    {
        /* void */
    }

    if (!fz_vocab_part(v, first_end, 2)
        || !fz_vocab_part(v + last_start, n - last_start, 1))
    {
        return 0;
    }

    for (i = first_end + 1; i < last_start; ) {
        size_t  j = i;

        while (j < last_start && !fz_sep(v[j])) {
            j++;
        }

        if (!fz_vocab_word(v + i, j - i)) {
            return 0;
        }

        i = j + 1;
    }

    return 1;
}


/* ---- jansson helpers --------------------------------------------------- */

static FZ_UNUSED const void *
fz_memmem(const void *h, size_t hn, const void *n, size_t nn)
{
    size_t                i;
    const unsigned char  *hp = h;

    if (nn == 0) {
        return h;
    }

    for (i = 0; i + nn <= hn; i++) {
        if (hp[i] == *(const unsigned char *) n
            && memcmp(hp + i, n, nn) == 0)
        {
            return hp + i;
        }
    }

    return NULL;
}


/* Nesting depth: a scalar is 0, [] and {} are 1. */
static FZ_UNUSED size_t
fz_json_depth(const json_t *v)
{
    size_t       i, d, m;
    json_t      *el;
    const char  *key;

    m = 0;

    if (json_is_array(v)) {
        json_array_foreach((json_t *) v, i, el) {
            d = fz_json_depth(el);
            m = d > m ? d : m;
        }
        return m + 1;
    }

    if (json_is_object(v)) {
        json_object_foreach((json_t *) v, key, el) {
            d = fz_json_depth(el);
            m = d > m ? d : m;
        }
        return m + 1;
    }

    return 0;
}


/* Values in v, v included; member names are not values. */
static FZ_UNUSED size_t
fz_json_count(const json_t *v)
{
    size_t       i, n;
    json_t      *el;
    const char  *key;

    n = 1;

    if (json_is_array(v)) {
        json_array_foreach((json_t *) v, i, el) {
            n += fz_json_count(el);
        }

    } else if (json_is_object(v)) {
        json_object_foreach((json_t *) v, key, el) {
            n += fz_json_count(el);
        }
    }

    return n;
}


/* `f` on every object key and string value, with the key it sits under. */
typedef void (*fz_str_cb)(void *ctx, const char *parent_key, const char *key,
    const char *s, size_t n, int is_key);

static FZ_UNUSED void
fz_json_strings(const json_t *v, const char *parent_key, const char *key,
    fz_str_cb f, void *ctx)
{
    size_t       i;
    json_t      *el;
    const char  *k;

    if (json_is_string(v)) {
        f(ctx, parent_key, key, json_string_value(v), json_string_length(v),
          0);

    } else if (json_is_array(v)) {
        json_array_foreach((json_t *) v, i, el) {
            fz_json_strings(el, parent_key, key, f, ctx);
        }

    } else if (json_is_object(v)) {
        json_object_foreach((json_t *) v, k, el) {
            f(ctx, key, k, k, strlen(k), 1);
            fz_json_strings(el, key, k, f, ctx);
        }
    }
}


static FZ_UNUSED json_t *
fz_json_parse(const void *p, size_t n, json_error_t *err)
{
    json_error_t  e;

    return json_loadb(p, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
                      err ? err : &e);
}


/* A member that must be a string; returns it, or NULL. */
static FZ_UNUSED const char *
fz_json_str(const json_t *o, const char *key, size_t *n)
{
    json_t  *v = json_object_get(o, key);

    if (!json_is_string(v)) {
        return NULL;
    }

    if (n) {
        *n = json_string_length(v);
    }

    return json_string_value(v);
}


static FZ_UNUSED int
fz_hex(const char *s, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }

    return 1;
}

#endif /* CS_FUZZ_COMMON_H */
