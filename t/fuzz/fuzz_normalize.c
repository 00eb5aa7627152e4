/*
 * cs_normalize: the single-field normalizers (src/cs_normalize.h).
 *
 * Input: one byte choosing the normalizer (byte % 10), then the value.
 *   0 phone  1 state  2 zip  3 email  4 gender  5 country
 *   6 trim   7 collapse  8 put_name  9 ci_eq (value split at its middle)
 *
 * Invariants, beyond "no out-of-bounds access" (the value is passed
 * without a terminating NUL, so ASan sees every over-read):
 *   - every accepted value comes out in its canonical shape (E.164, a
 *     USPS code of the table, NNNNN[-NNNN], a lower-cased address with
 *     one '@' and a dot after it, one of the four genders …), NUL-
 *     terminated within the documented size;
 *   - canonical output is a fixed point: normalizing it again gives it;
 *   - phone keeps the digits it was given (a suffix of them, after a
 *     "00" or the "+1" of a bare US number); zip keeps its digits;
 *   - rejections leave nothing half-written that callers could read
 *     (checked by the fixed points above on accepted values only);
 *   - trim/collapse only remove whitespace; put_name writes a JSON string
 *     that decodes to the collapsed text.
 */

#include <stdlib.h>
#include <string.h>

#include "cs_normalize.h"
#include "fuzz_common.h"

#define lower(c)  ((c) >= 'A' && (c) <= 'Z' ? (c) + 32 : (c))


static int
fz_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}


/* The ASCII digits of s, in order. */
static size_t
fz_digits_of(const char *s, size_t n, char *out)
{
    size_t  i, k;

    for (i = 0, k = 0; i < n; i++) {
        if (s[i] >= '0' && s[i] <= '9') {
            out[k++] = s[i];
        }
    }

    return k;
}


static void
fz_phone(const char *s, size_t n)
{
    char    out[CS_PHONE_LEN + 1], again[CS_PHONE_LEN + 1];
    char   *dg;
    size_t  k, on;

    memset(out, 'x', sizeof(out));

    if (cs_norm_phone(s, n, out) != 0) {
        return;
    }

    on = strnlen(out, sizeof(out));

    FZ_CHECK(on < sizeof(out), "phone: not NUL-terminated");
    FZ_CHECK(on >= 9 && on <= 16 && out[0] == '+'
             && fz_digits(out + 1, on - 1),
             "phone(\"%s\") = \"%s\" is not E.164", fz_show(s, n), out);

    dg = malloc(n + 1);
    k = fz_digits_of(s, n, dg);

    /* the output's digits end the input's, "+1" aside */
    FZ_CHECK(k >= on - 1 ? memcmp(dg + k - (on - 1), out + 1, on - 1) == 0
                         : (k == 10 && on == 12 && out[1] == '1'
                            && memcmp(dg, out + 2, 10) == 0),
             "phone(\"%s\") = \"%s\" has other digits", fz_show(s, n), out);
    free(dg);

    FZ_CHECK(cs_norm_phone(out, on, again) == 0 && strcmp(again, out) == 0,
             "phone: \"%s\" is not a fixed point", out);
}


static void
fz_state(const char *s, size_t n)
{
    char  out[3], again[3];

    memset(out, 'x', sizeof(out));

    if (cs_norm_state(s, n, out) != 0) {
        return;
    }

    FZ_CHECK(out[2] == '\0' && out[0] >= 'A' && out[0] <= 'Z'
             && out[1] >= 'A' && out[1] <= 'Z',
             "state(\"%s\") = \"%s\"", fz_show(s, n), fz_show(out, 3));
    FZ_CHECK(cs_norm_state(out, 2, again) == 0 && strcmp(again, out) == 0,
             "state: \"%s\" is not a fixed point", out);

    /* case does not matter */
    {
        char    *lo = malloc(n ? n : 1);
        size_t   i;

        for (i = 0; i < n; i++) {
            lo[i] = (char) lower(s[i]);
        }

        FZ_CHECK(cs_norm_state(lo, n, again) == 0 && strcmp(again, out) == 0,
                 "state: the lower-cased \"%s\" differs", fz_show(s, n));
        free(lo);
    }
}


static void
fz_zip(const char *s, size_t n)
{
    char    out[CS_ZIP_LEN + 1], again[CS_ZIP_LEN + 1], b[CS_ZIP_LEN + 1];
    char   *a;
    size_t  on, na, nb;

    memset(out, 'x', sizeof(out));

    if (cs_norm_zip(s, n, out) != 0) {
        return;
    }

    on = strnlen(out, sizeof(out));

    FZ_CHECK((on == 5 && fz_digits(out, 5))
             || (on == 10 && fz_digits(out, 5) && out[5] == '-'
                 && fz_digits(out + 6, 4)),
             "zip(\"%s\") = \"%s\"", fz_show(s, n), fz_show(out, on));
    a = malloc(n + 1);
    na = fz_digits_of(s, n, a);
    nb = fz_digits_of(out, on, b);
    FZ_CHECK(na == nb && memcmp(a, b, na) == 0,
             "zip(\"%s\") = \"%s\" has other digits", fz_show(s, n), out);
    free(a);
    FZ_CHECK(cs_norm_zip(out, on, again) == 0 && strcmp(again, out) == 0,
             "zip: \"%s\" is not a fixed point", out);
}


static void
fz_email(const char *s, size_t n)
{
    int          r;
    char         out[CS_EMAIL_MAX + 1], again[CS_EMAIL_MAX + 1];
    size_t       i, ats;
    const char  *at;

    memset(out, 'x', sizeof(out));

    r = cs_norm_email(s, n, out);

    if (r < 0) {
        FZ_CHECK(r == -1, "email returned %d", r);
        return;
    }

    FZ_CHECK(r > 0 && r <= CS_EMAIL_MAX && out[r] == '\0'
             && strlen(out) == (size_t) r,
             "email(\"%s\") returned %d for \"%s\"", fz_show(s, n), r,
             fz_show(out, sizeof(out)));

    for (i = 0, ats = 0; i < (size_t) r; i++) {
        FZ_CHECK((unsigned char) out[i] > ' ' && out[i] != 0x7f
                 && !(out[i] >= 'A' && out[i] <= 'Z'),
                 "email: \"%s\" has a blank, control or capital",
                 fz_show(out, (size_t) r));
        ats += out[i] == '@';
    }

    at = strchr(out, '@');

    FZ_CHECK(ats == 1 && at != out && strchr(at + 1, '.') != NULL,
             "email: \"%s\" is not local@domain.tld",
             fz_show(out, (size_t) r));
    FZ_CHECK(cs_norm_email(out, (size_t) r, again) == r
             && strcmp(again, out) == 0,
             "email: \"%s\" is not a fixed point", out);
}


static void
fz_gender(const char *s, size_t n)
{
    size_t       i;
    const char  *g;
    cs_str_t     v = { s, n };

    g = cs_norm_gender(s, n);

    v = cs_norm_trim(v);

    FZ_CHECK((g == NULL) == (v.len == 0),
             "gender(\"%s\") = %s", fz_show(s, n), g ? g : "NULL");

    if (g == NULL) {
        return;
    }

    FZ_CHECK(strcmp(g, "male") == 0 || strcmp(g, "female") == 0
             || strcmp(g, "other") == 0 || strcmp(g, "unknown") == 0,
             "gender(\"%s\") = \"%s\"", fz_show(s, n), g);
    FZ_CHECK(strcmp(cs_norm_gender(g, strlen(g)), g) == 0,
             "gender: \"%s\" is not a fixed point", g);

    /* case does not matter */
    {
        char  *lo = malloc(n);

        for (i = 0; i < n; i++) {
            lo[i] = (char) lower(s[i]);
        }

        FZ_CHECK(strcmp(cs_norm_gender(lo, n), g) == 0,
                 "gender: the lower-cased \"%s\" differs", fz_show(s, n));
        free(lo);
    }
}


static void
fz_country(const char *s, size_t n)
{
    char  out[3], again[3];

    memset(out, 'x', sizeof(out));

    if (cs_norm_country(s, n, out) != 0) {
        return;
    }

    FZ_CHECK(out[2] == '\0' && out[0] >= 'A' && out[0] <= 'Z'
             && out[1] >= 'A' && out[1] <= 'Z',
             "country(\"%s\") = \"%s\"", fz_show(s, n), fz_show(out, 3));
    FZ_CHECK(cs_norm_country(out, 2, again) == 0 && strcmp(again, out) == 0,
             "country: \"%s\" is not a fixed point", out);
}


static void
fz_trim(const char *s, size_t n)
{
    cs_str_t  v = { s, n }, t;

    t = cs_norm_trim(v);

    FZ_CHECK(t.data >= s && t.data + t.len <= s + n,
             "trim: the view leaves the value");
    FZ_CHECK(t.len == 0 || (!fz_space(t.data[0])
                            && !fz_space(t.data[t.len - 1])),
             "trim(\"%s\") = \"%s\"", fz_show(s, n), fz_show(t.data, t.len));

    {
        size_t  i;

        for (i = 0; s + i < t.data; i++) {
            FZ_CHECK(fz_space(s[i]), "trim removed a non-blank");
        }
        for (i = (size_t) (t.data - s) + t.len; i < n; i++) {
            FZ_CHECK(fz_space(s[i]), "trim removed a non-blank");
        }
    }

    v.data = NULL;
    v.len = 0;
    t = cs_norm_trim(v);
    FZ_CHECK(t.data == NULL, "trim: NULL stays NULL");
}


static void
fz_collapse(const char *s, size_t n)
{
    char    *d, *d2, *a, *b;
    size_t   k, k2, i, na, nb;

    d = malloc(n ? n : 1);
    d2 = malloc(n ? n : 1);
    k = cs_norm_collapse(d, s, n);

    FZ_CHECK(k <= n, "collapse grew the text");

    for (i = 0; i < k; i++) {
        FZ_CHECK(!fz_space(d[i]) || (d[i] == ' ' && i > 0 && i + 1 < k
                                     && d[i - 1] != ' '),
                 "collapse(\"%s\") = \"%s\"", fz_show(s, n), fz_show(d, k));
    }

    /* same non-blank bytes, in order */
    a = malloc(n ? n : 1);
    b = malloc(n ? n : 1);
    for (i = 0, na = 0; i < n; i++) {
        if (!fz_space(s[i])) {
            a[na++] = s[i];
        }
    }
    for (i = 0, nb = 0; i < k; i++) {
        if (!fz_space(d[i])) {
            b[nb++] = d[i];
        }
    }
    FZ_CHECK(na == nb && memcmp(a, b, na) == 0,
             "collapse changed a non-blank byte");

    k2 = cs_norm_collapse(d2, d, k);
    FZ_CHECK(k2 == k && memcmp(d, d2, k) == 0, "collapse: not a fixed point");

    free(a);
    free(b);
    free(d);
    free(d2);
}


static void
fz_put_name(const char *s, size_t n)
{
    char      *d;
    size_t     k;
    json_t    *v, *probe;
    cs_buf_t   b;
    cs_str_t   name = { s, n };

    cs_buf_init(&b);
    cs_norm_put_name(&b, name);

    FZ_CHECK(!b.oom && b.len >= 2 && b.data[0] == '"'
             && b.data[b.len - 1] == '"',
             "put_name wrote %s", fz_show(b.data, b.len));

    v = json_loadb(b.data, b.len, JSON_DECODE_ANY, NULL);

    /* a valid JSON string iff the input is UTF-8 without NUL */
    probe = json_stringn(s, n);

    if (probe != NULL && memchr(s, 0, n) == NULL) {
        FZ_CHECK(json_is_string(v), "put_name(\"%s\") is not JSON: %s",
                 fz_show(s, n), fz_show(b.data, b.len));

        d = malloc(n ? n : 1);
        k = cs_norm_collapse(d, s, n);

        FZ_CHECK(json_string_length(v) == k
                 && memcmp(json_string_value(v), d, k) == 0,
                 "put_name(\"%s\") decodes to another text", fz_show(s, n));
        free(d);
    }

    json_decref(probe);
    json_decref(v);
    cs_buf_free(&b);
}


static void
fz_ci_eq(const char *s, size_t n)
{
    size_t       h = n / 2, i;
    const char  *a = s, *b = s + h;
    size_t       an = h, bn = n - h;
    int          r, want;

    r = cs_norm_ci_eq(a, an, b, bn);
    FZ_CHECK(r == cs_norm_ci_eq(b, bn, a, an), "ci_eq is not symmetric");
    FZ_CHECK(cs_norm_ci_eq(a, an, a, an), "ci_eq is not reflexive");

    want = an == bn;
    for (i = 0; want && i < an; i++) {
        want = lower((unsigned char) a[i]) == lower((unsigned char) b[i]);
    }

    FZ_CHECK(!r == !want, "ci_eq(\"%s\") = %d", fz_show(s, n), r);
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char  *s;
    size_t       n;

    if (size < 1) {
        return 0;
    }

    s = (const char *) data + 1;
    n = size - 1;

    switch (data[0] % 10) {
    case 0: fz_phone(s, n); break;
    case 1: fz_state(s, n); break;
    case 2: fz_zip(s, n); break;
    case 3: fz_email(s, n); break;
    case 4: fz_gender(s, n); break;
    case 5: fz_country(s, n); break;
    case 6: fz_trim(s, n); break;
    case 7: fz_collapse(s, n); break;
    case 8: fz_put_name(s, n); break;
    default: fz_ci_eq(s, n); break;
    }

    return 0;
}
