/*
 * caresync core: field normalizers (see cs_normalize.h).
 */

#include <stdlib.h>
#include <string.h>

#include "cs_normalize.h"

#define cs_lower(c)  ((c) >= 'A' && (c) <= 'Z' ? (c) + ('a' - 'A') : (c))
#define cs_upper(c)  ((c) >= 'a' && (c) <= 'z' ? (c) - ('a' - 'A') : (c))
#define cs_digit(c)  ((c) >= '0' && (c) <= '9')
#define cs_alpha(c)  (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))

/* Longest text worth matching against the word tables below. */
#define CS_WORD_MAX  48


cs_str_t
cs_norm_trim(cs_str_t s)
{
    if (s.data == NULL) {
        return s;
    }

    while (s.len && cs_norm_space((unsigned char) s.data[0])) {
        s.data++;
        s.len--;
    }

    while (s.len && cs_norm_space((unsigned char) s.data[s.len - 1])) {
        s.len--;
    }

    return s;
}


int
cs_norm_ci_eq(const char *a, size_t an, const char *b, size_t bn)
{
    size_t  i;

    if (an != bn) {
        return 0;
    }

    for (i = 0; i < an; i++) {
        if (cs_lower(a[i]) != cs_lower(b[i])) {
            return 0;
        }
    }

    return 1;
}


size_t
cs_norm_collapse(char *dst, const char *s, size_t n)
{
    int     gap;
    char   *d;
    size_t  i;

    d = dst;
    gap = 0;

    for (i = 0; i < n; i++) {
        if (cs_norm_space((unsigned char) s[i])) {
            gap = 1;
            continue;
        }

        if (gap && d != dst) {
            *d++ = ' ';
        }

        gap = 0;
        *d++ = s[i];
    }

    return d - dst;
}


void
cs_norm_put_name(cs_buf_t *b, cs_str_t s)
{
    char    tmp[512], *p;
    size_t  n;

    /* validated strings are short: the stack serves almost every call */
    p = s.len <= sizeof(tmp) ? tmp : malloc(s.len);

    if (p == NULL) {
        b->oom = 1;
        return;
    }

    n = cs_norm_collapse(p, s.data, s.len);
    cs_buf_json_str(b, p, n);

    if (p != tmp) {
        free(p);
    }
}


/*
 * Lower-case, trimmed, collapsed copy for table lookups; -1 if too long
 * to be any of the words.
 */
static int
cs_norm_word(const char *s, size_t n, char out[CS_WORD_MAX])
{
    size_t  i, k;
    char    tmp[CS_WORD_MAX];

    cs_str_t  v = { s, n };

    v = cs_norm_trim(v);

    if (v.len > CS_WORD_MAX) {
        return -1;
    }

    k = cs_norm_collapse(tmp, v.data, v.len);

    for (i = 0; i < k; i++) {
        out[i] = cs_lower(tmp[i]);
    }

    return (int) k;
}


int
cs_norm_phone(const char *s, size_t n, char out[CS_PHONE_LEN + 1])
{
    int     plus;
    char    dg[CS_PHONE_LEN + 2];          /* room for "00" + 15 */
    size_t  i, k, skip;

    plus = 0;
    k = 0;

    for (i = 0; i < n; i++) {
        switch (s[i]) {
        case ' ': case '\t': case '-': case '.': case '(': case ')':
            continue;

        case '+':
            if (k != 0 || plus) {
                return -1;
            }
            plus = 1;
            continue;

        default:
            if (!cs_digit(s[i]) || k == sizeof(dg)) {
                return -1;
            }
            dg[k++] = s[i];
        }
    }

    skip = 0;

    if (plus) {
        /* as sent */

    } else if (k >= 2 && dg[0] == '0' && dg[1] == '0') {
        skip = 2;                              /* international "00" */

    } else if (k == 10) {
        out[0] = '+';
        out[1] = '1';                          /* a bare US number */
        memcpy(out + 2, dg, 10);
        out[12] = '\0';
        return 0;
    }

    k -= skip;

    if (k < 8 || k > 15) {
        return -1;
    }

    out[0] = '+';
    memcpy(out + 1, dg + skip, k);
    out[k + 1] = '\0';

    return 0;
}


static const struct {
    const char  *code;
    const char  *name;              /* lower-case, single spaces */
} cs_states[] = {
    { "AL", "alabama" }, { "AK", "alaska" }, { "AZ", "arizona" },
    { "AR", "arkansas" }, { "CA", "california" }, { "CO", "colorado" },
    { "CT", "connecticut" }, { "DE", "delaware" },
    { "DC", "district of columbia" }, { "FL", "florida" },
    { "GA", "georgia" }, { "HI", "hawaii" }, { "ID", "idaho" },
    { "IL", "illinois" }, { "IN", "indiana" }, { "IA", "iowa" },
    { "KS", "kansas" }, { "KY", "kentucky" }, { "LA", "louisiana" },
    { "ME", "maine" }, { "MD", "maryland" }, { "MA", "massachusetts" },
    { "MI", "michigan" }, { "MN", "minnesota" }, { "MS", "mississippi" },
    { "MO", "missouri" }, { "MT", "montana" }, { "NE", "nebraska" },
    { "NV", "nevada" }, { "NH", "new hampshire" }, { "NJ", "new jersey" },
    { "NM", "new mexico" }, { "NY", "new york" },
    { "NC", "north carolina" }, { "ND", "north dakota" }, { "OH", "ohio" },
    { "OK", "oklahoma" }, { "OR", "oregon" }, { "PA", "pennsylvania" },
    { "RI", "rhode island" }, { "SC", "south carolina" },
    { "SD", "south dakota" }, { "TN", "tennessee" }, { "TX", "texas" },
    { "UT", "utah" }, { "VT", "vermont" }, { "VA", "virginia" },
    { "WA", "washington" }, { "WV", "west virginia" },
    { "WI", "wisconsin" }, { "WY", "wyoming" },
    /* territories and freely associated states */
    { "AS", "american samoa" }, { "GU", "guam" },
    { "MP", "northern mariana islands" }, { "PR", "puerto rico" },
    { "VI", "virgin islands" }, { "VI", "u.s. virgin islands" },
    { "VI", "us virgin islands" },
    { "UM", "united states minor outlying islands" },
    { "FM", "federated states of micronesia" },
    { "MH", "marshall islands" }, { "PW", "palau" },
    /* military mail: codes only */
    { "AA", NULL }, { "AE", NULL }, { "AP", NULL },
};


int
cs_norm_state(const char *s, size_t n, char out[3])
{
    int     k;
    char    w[CS_WORD_MAX];
    size_t  i;

    k = cs_norm_word(s, n, w);
    if (k < 2) {
        return -1;
    }

    for (i = 0; i < sizeof(cs_states) / sizeof(cs_states[0]); i++) {
        if (k == 2) {
            if (cs_upper(w[0]) != cs_states[i].code[0]
                || cs_upper(w[1]) != cs_states[i].code[1])
            {
                continue;
            }

        } else if (cs_states[i].name == NULL
                   || strlen(cs_states[i].name) != (size_t) k
                   || memcmp(cs_states[i].name, w, k) != 0)
        {
            continue;
        }

        out[0] = cs_states[i].code[0];
        out[1] = cs_states[i].code[1];
        out[2] = '\0';
        return 0;
    }

    return -1;
}


int
cs_norm_zip(const char *s, size_t n, char out[CS_ZIP_LEN + 1])
{
    size_t    i;
    cs_str_t  v = { s, n };

    v = cs_norm_trim(v);

    if (v.len != 5 && v.len != 9 && v.len != 10) {
        return -1;
    }

    for (i = 0; i < v.len; i++) {
        if (i == 5 && v.len == 10 ? v.data[i] != '-' : !cs_digit(v.data[i])) {
            return -1;
        }
    }

    memcpy(out, v.data, 5);

    if (v.len == 5) {
        out[5] = '\0';
        return 0;
    }

    out[5] = '-';
    memcpy(out + 6, v.data + v.len - 4, 4);
    out[10] = '\0';

    return 0;
}


int
cs_norm_country(const char *s, size_t n, char out[3])
{
    cs_str_t  v = { s, n };

    v = cs_norm_trim(v);

    if (v.len != 2 || !cs_alpha(v.data[0]) || !cs_alpha(v.data[1])) {
        return -1;
    }

    out[0] = cs_upper(v.data[0]);
    out[1] = cs_upper(v.data[1]);
    out[2] = '\0';

    return 0;
}


int
cs_norm_email(const char *s, size_t n, char out[CS_EMAIL_MAX + 1])
{
    size_t         i, at;
    unsigned char  c;
    cs_str_t       v = { s, n };

    v = cs_norm_trim(v);

    if (v.len == 0 || v.len > CS_EMAIL_MAX) {
        return -1;
    }

    at = v.len;

    for (i = 0; i < v.len; i++) {
        c = (unsigned char) v.data[i];

        if (c <= ' ' || c == 0x7f) {
            return -1;
        }

        if (c == '@') {
            if (at != v.len) {
                return -1;
            }
            at = i;
        }

        out[i] = cs_lower(c);
    }

    if (at == 0 || at == v.len
        || memchr(v.data + at + 1, '.', v.len - at - 1) == NULL)
    {
        return -1;
    }

    out[v.len] = '\0';

    return (int) v.len;
}


const char *
cs_norm_gender(const char *s, size_t n)
{
    int           k;
    char          w[CS_WORD_MAX];
    size_t        i;

    static const struct {
        const char  *word;
        const char  *gender;
    } map[] = {
        { "m", "male" }, { "male", "male" }, { "man", "male" },
        { "f", "female" }, { "female", "female" }, { "woman", "female" },
        { "u", "unknown" }, { "unknown", "unknown" },
        { "unspecified", "unknown" }, { "undisclosed", "unknown" },
        { "declined", "unknown" }, { "prefer not to say", "unknown" },
    };

    k = cs_norm_word(s, n, w);

    if (k == 0) {
        return NULL;
    }

    for (i = 0; k > 0 && i < sizeof(map) / sizeof(map[0]); i++) {
        if (strlen(map[i].word) == (size_t) k
            && memcmp(map[i].word, w, k) == 0)
        {
            return map[i].gender;
        }
    }

    return "other";
}
