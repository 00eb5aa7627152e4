/*
 * cs_record: the job status record as JSON (src/cs_record.h).
 *
 * Input: one byte (number of pairs, % 12), then the pairs' names and
 * values as length-prefixed fields (a length byte, then the bytes).
 *
 * Invariants, when every name and value is UTF-8 (what the worker
 * writes; NUL bytes allowed in values, they are escaped):
 *   - the output is one JSON object, no duplicate keys, compact;
 *   - its keys are the distinct names, job_id first, then status, then
 *     the others in the order given; each value is the first pair's;
 *   - attempts/max_attempts are numbers exactly when their text is a
 *     JSON integer of at most 18 digits, with that value;
 *   - the record of cs_record_queued() is job_id, "queued", type,
 *     attempts 0, created_at = updated_at = the instant, ISO-8601.
 * For any bytes: no out-of-bounds access, appended after what the buffer
 * held, balanced braces.
 */

#include <stdlib.h>
#include <string.h>

#include "cs_record.h"
#include "fuzz_common.h"

#define FZ_MAX_PAIRS  12


static cs_str_t
fz_field(const uint8_t **p, size_t *n)
{
    size_t    k;
    cs_str_t  s;

    if (*n == 0) {
        s.data = (const char *) *p;
        s.len = 0;
        return s;
    }

    k = (*p)[0];
    (*p)++;
    (*n)--;
    k = k < *n ? k : *n;

    s.data = (const char *) *p;
    s.len = k;
    *p += k;
    *n -= k;

    return s;
}


static int
fz_utf8(cs_str_t s)
{
    json_t  *v = json_stringn(s.data, s.len);
    int      ok = v != NULL;

    json_decref(v);

    return ok;
}


static int
fz_eq(cs_str_t s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.data, lit, s.len) == 0;
}


static int
fz_integer(cs_str_t v)
{
    size_t  st = (v.len && v.data[0] == '-') ? 1 : 0;

    return v.len > st && v.len - st <= 18
           && !(v.data[st] == '0' && v.len - st > 1)
           && fz_digits(v.data + st, v.len - st);
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int            utf8;
    size_t         n, i, j, k, rest, distinct;
    json_t        *o, *v;
    cs_buf_t       out;
    cs_str_t       f[FZ_MAX_PAIRS], val[FZ_MAX_PAIRS];
    const char    *key;
    const uint8_t *p;
    json_error_t   err;

    if (size < 1) {
        return 0;
    }

    n = data[0] % FZ_MAX_PAIRS;
    p = data + 1;
    rest = size - 1;
    utf8 = 1;

    for (i = 0; i < n; i++) {
        f[i] = fz_field(&p, &rest);
        val[i] = fz_field(&p, &rest);
        /* jansson cannot hold a NUL in a key: such names are not checked */
        utf8 = utf8 && fz_utf8(f[i]) && fz_utf8(val[i])
               && (f[i].len == 0 || memchr(f[i].data, 0, f[i].len) == NULL);
    }

    cs_buf_init(&out);
    cs_buf_puts(&out, "[1,");

    FZ_CHECK(cs_record_json(f, val, n, &out) == 0, "cs_record_json failed");
    FZ_CHECK(memcmp(out.data, "[1,{", 4) == 0 && out.data[out.len - 1] == '}',
             "not appended as an object: %s", fz_show(out.data, out.len));

    cs_buf_putc(&out, ']');

    if (utf8) {
        json_t  *arr = json_loadb(out.data, out.len,
                                  JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
                                  &err);

        FZ_CHECK(arr != NULL, "not JSON (%s): %s", err.text,
                 fz_show(out.data, out.len));

        o = json_array_get(arr, 1);
        FZ_CHECK(json_is_object(o), "not an object");

        for (i = 0, distinct = 0; i < n; i++) {
            for (j = 0; j < i; j++) {
                if (f[j].len == f[i].len
                    && (f[i].len == 0
                        || memcmp(f[j].data, f[i].data, f[i].len) == 0))
                {
                    break;
                }
            }
            distinct += j == i;
        }

        FZ_CHECK(json_object_size(o) == distinct, "%zu keys for %zu names",
                 json_object_size(o), distinct);

        /* order: job_id, status, then the rest as first given */
        k = 0;
        json_object_foreach(o, key, v) {
            if (k == 0 && json_object_get(o, "job_id")) {
                FZ_CHECK(strcmp(key, "job_id") == 0, "job_id is not first");
            }
            if ((k == 0 && !json_object_get(o, "job_id"))
                || (k == 1 && json_object_get(o, "job_id")))
            {
                if (json_object_get(o, "status")) {
                    FZ_CHECK(strcmp(key, "status") == 0,
                             "status does not follow job_id");
                }
            }
            k++;
        }

        for (i = 0; i < n; i++) {
            for (j = 0; j < i; j++) {
                if (f[j].len == f[i].len
                    && (f[i].len == 0
                        || memcmp(f[j].data, f[i].data, f[i].len) == 0))
                {
                    break;
                }
            }
            if (j < i) {
                continue;                       /* a repeat: first wins */
            }

            v = json_object_getn(o, f[i].data, f[i].len);
            FZ_CHECK(v != NULL, "name \"%s\" missing",
                     fz_show(f[i].data, f[i].len));

            if ((fz_eq(f[i], "attempts") || fz_eq(f[i], "max_attempts"))
                && fz_integer(val[i]))
            {
                char  buf[32];

                FZ_CHECK(json_is_integer(v), "counter is not a number");
                memcpy(buf, val[i].data, val[i].len);
                buf[val[i].len] = '\0';
                FZ_CHECK(json_integer_value(v) == strtoll(buf, NULL, 10),
                         "counter %s became %lld", buf,
                         (long long) json_integer_value(v));
            } else {
                FZ_CHECK(json_is_string(v) && json_string_length(v)
                         == val[i].len && (val[i].len == 0
                         || memcmp(json_string_value(v), val[i].data,
                                   val[i].len) == 0),
                         "value of \"%s\" differs",
                         fz_show(f[i].data, f[i].len));
            }
        }

        json_decref(arr);
    }

    cs_buf_free(&out);

    /* the queued record, at an instant from the input */
    {
        cs_record_t  r;
        uint64_t     ms = 0;
        cs_str_t     id = { (const char *) data, size < 26 ? size : 26 };
        char         at[CS_TIME_ISO_LEN + 1];

        memcpy(&ms, data, size < 8 ? size : 8);
        cs_record_queued(&r, id, "hint.patient", ms);

        FZ_CHECK(r.n == CS_RECORD_QUEUED_N, "queued record has %zu pairs",
                 r.n);
        cs_time_format_iso(cs_time_ms_valid((int64_t) ms) ? (int64_t) ms : 0,
                           at);
        FZ_CHECK(fz_eq(r.fields[1], "status") && fz_eq(r.values[1], "queued")
                 && fz_eq(r.fields[3], "attempts") && fz_eq(r.values[3], "0")
                 && fz_eq(r.values[4], at) && fz_eq(r.values[5], at)
                 && r.values[0].data == id.data,
                 "queued record");
    }

    return 0;
}
