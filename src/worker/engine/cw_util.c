/*
 * caresync-worker: small helpers shared by every file.
 */

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cs_time.h"
#include "engine/cw_util.h"


uint64_t
cw_now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}


uint64_t
cw_mono_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}


uint64_t
cw_cpu_us(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}


static void
cw_oom(void)
{
    fputs("caresync-worker: out of memory\n", stderr);
    abort();
}


void *
cw_calloc(size_t n, size_t size)
{
    void  *p = calloc(n, size);

    if (p == NULL) {
        cw_oom();
    }

    return p;
}


void *
cw_malloc(size_t size)
{
    void  *p = malloc(size);

    if (p == NULL) {
        cw_oom();
    }

    return p;
}


void
cw_strs_push(char ***v, size_t *n, size_t *cap, const char *s)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *v = realloc(*v, *cap * sizeof(char *));
        if (*v == NULL) {
            abort();
        }
    }

    (*v)[(*n)++] = cw_strdup(s);
}


size_t
cw_strs_push_ids(char ***v, size_t *n, size_t *cap, json_t *list,
    const char *key, int (*ok)(const char *s))
{
    size_t       i, out = 0;
    json_t      *rec;
    const char  *id;

    json_array_foreach(list, i, rec) {
        id = json_string_value(json_object_get(rec, key));

        if (id == NULL || !ok(id)) {
            out++;
            continue;
        }

        cw_strs_push(v, n, cap, id);
    }

    return out;
}


char *
cw_strndup(const char *s, size_t n)
{
    char  *p = malloc(n + 1);

    if (p == NULL) {
        cw_oom();
    }

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}


char *
cw_strdup(const char *s)
{
    return s ? cw_strndup(s, strlen(s)) : NULL;
}


uint64_t
cw_rand(uint64_t n)
{
    /* xorshift64*, seeded from the clock: good enough to spread retries */
    static uint64_t  x;

    if (x == 0) {
        x = cw_mono_ms() ^ ((uint64_t) clock() << 20) ^ 0x9e3779b97f4a7c15ULL;
    }

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;

    return n ? (x * 0x2545f4914f6cdd1dULL) % n : 0;
}


const char *
cw_list_next(const char **p, size_t *n)
{
    const char  *s = *p, *e;

    while (*s == ',' || *s == ' ' || *s == '\t') {
        s++;
    }

    for (e = s; *e && *e != ',' && *e != ' ' && *e != '\t'; e++) {
        /* void */
    }

    *p = e;
    *n = (size_t) (e - s);

    return *n ? s : NULL;
}


int
cw_list_has(const char *list, const char *s)
{
    size_t       n, len = strlen(s);
    const char  *e;

    while (list && (e = cw_list_next(&list, &n)) != NULL) {
        if (n == len && memcmp(e, s, n) == 0) {
            return 1;
        }
    }

    return 0;
}


void
cw_trim_span(const char **s, size_t *n)
{
    while (*n && isspace((unsigned char) **s)) {
        (*s)++;
        (*n)--;
    }

    while (*n && isspace((unsigned char) (*s)[*n - 1])) {
        (*n)--;
    }
}


char *
cw_trim(char *s)
{
    size_t       n = strlen(s), off;
    const char  *t = s;

    cw_trim_span(&t, &n);
    off = (size_t) (t - s);
    s[off + n] = '\0';

    return s + off;
}


const char *
cw_json_str(json_t *o, const char *k)
{
    const char  *s = json_string_value(json_object_get(o, k));

    return (s && *s) ? s : NULL;
}


json_t *
cw_json_trimmed(json_t *v)
{
    size_t       n;
    const char  *s;

    if (!json_is_string(v)) {
        return NULL;
    }

    s = json_string_value(v);
    n = json_string_length(v);
    cw_trim_span(&s, &n);

    return n ? json_stringn(s, n) : NULL;
}


void
cw_url_escape(cs_buf_t *b, const char *s)
{
    static const char  hex[] = "0123456789ABCDEF";
    unsigned char      c;

    for (; *s; s++) {
        c = (unsigned char) *s;

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
            || c == '~')
        {
            cs_buf_putc(b, (char) c);

        } else {
            cs_buf_putc(b, '%');
            cs_buf_putc(b, hex[c >> 4]);
            cs_buf_putc(b, hex[c & 15]);
        }
    }
}


void
cw_form_add(cs_buf_t *b, const char *k, const char *v)
{
    if (v == NULL) {
        return;
    }

    if (b->len) {
        cs_buf_putc(b, '&');
    }

    cs_buf_puts(b, k);
    cs_buf_putc(b, '=');
    cw_url_escape(b, v);
}


char *
cw_read_file(const char *path, size_t *len)
{
    FILE    *f;
    char    *p;
    long     n;
    size_t   got;

    f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }

    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET) != 0)
    {
        fclose(f);
        return NULL;
    }

    p = cw_calloc(1, (size_t) n + 1);
    got = fread(p, 1, (size_t) n, f);
    fclose(f);

    if (got != (size_t) n) {
        free(p);
        return NULL;
    }

    if (len) {
        *len = got;
    }

    return p;
}


int
cw_parse_datetime(const char *s, int64_t *ms)
{
    char    tmp[64];
    size_t  n;

    if (s == NULL) {
        return -1;
    }

    n = strlen(s);
    if (n < 10 || n >= sizeof(tmp) - 2) {
        return -1;
    }

    memcpy(tmp, s, n + 1);

    /* Salesforce writes the offset without a colon: "+0000" */
    if (n > 5 && (tmp[n - 5] == '+' || tmp[n - 5] == '-')
        && tmp[n - 3] != ':')
    {
        tmp[n + 1] = '\0';
        tmp[n] = tmp[n - 1];
        tmp[n - 1] = tmp[n - 2];
        tmp[n - 2] = ':';
        n++;
    }

    return cs_time_parse_date(tmp, n, ms, NULL) == 0 ? 0 : -1;
}


json_t *
cw_json_from_tape(const cs_json_t *v)
{
    size_t            i;
    json_t           *j;
    const cs_json_t  *el, *name;

    if (v == NULL) {
        return NULL;
    }

    switch (v->type) {

    case CS_JSON_NULL:
        return json_null();

    case CS_JSON_FALSE:
        return json_false();

    case CS_JSON_TRUE:
        return json_true();

    case CS_JSON_INTEGER:
        return json_integer(v->u.i);

    case CS_JSON_REAL:
        return json_real(v->u.r);

    case CS_JSON_STRING:
        return json_stringn_nocheck(v->u.s, v->len);

    case CS_JSON_ARRAY:
        j = json_array();
        cs_json_array_foreach(v, i, el) {
            json_array_append_new(j, cw_json_from_tape(el));
        }
        return j;

    default:
        j = json_object();
        cs_json_object_foreach(v, i, name, el) {
            json_object_setn_new_nocheck(j, name->u.s, name->len,
                                         cw_json_from_tape(el));
        }
        return j;
    }
}


int
cw_file_private(const char *path, char *why, size_t n)
{
    struct stat  st;

    if (stat(path, &st) != 0) {
        snprintf(why, n, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }

    if (!S_ISREG(st.st_mode)) {
        snprintf(why, n, "%s is not a regular file", path);
        return -1;
    }

    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        snprintf(why, n, "%s is open to its group or others (mode %03o): "
                 "chmod 600 it", path, (unsigned) (st.st_mode & 0777));
        return -1;
    }

    return 0;
}


void
cw_buf_printf(cs_buf_t *b, const char *fmt, ...)
{
    int      n;
    char     small[256];
    va_list  ap;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);

    if (n < 0) {
        return;
    }

    if ((size_t) n < sizeof(small)) {
        cs_buf_put(b, small, (size_t) n);
        return;
    }

    if (cs_buf_reserve(b, (size_t) n + 1) != 0) {
        return;
    }

    va_start(ap, fmt);
    (void) vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t) n;
}
