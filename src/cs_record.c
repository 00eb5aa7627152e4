/*
 * caresync core: the job status record (see cs_record.h).
 */

#include <string.h>

#include "cs_record.h"

/* JSON integers that fit an int64 comfortably. */
#define CS_RECORD_DIGITS_MAX  18


static int
cs_record_eq(cs_str_t s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.data, lit, s.len) == 0;
}


static int
cs_record_numeric_field(cs_str_t name)
{
    return cs_record_eq(name, "attempts")
           || cs_record_eq(name, "max_attempts");
}


/* -?(0|[1-9][0-9]*), short enough for any reader's integer. */
static int
cs_record_integer(cs_str_t v)
{
    size_t  i, start;

    start = (v.len && v.data[0] == '-') ? 1 : 0;

    if (v.len == start || v.len - start > CS_RECORD_DIGITS_MAX
        || (v.data[start] == '0' && v.len - start > 1))
    {
        return 0;
    }

    for (i = start; i < v.len; i++) {
        if (v.data[i] < '0' || v.data[i] > '9') {
            return 0;
        }
    }

    return 1;
}


/* Index of the first pair named `name`, or n. */
static size_t
cs_record_find(const cs_str_t *fields, size_t n, cs_str_t name)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (fields[i].len == name.len
            && (name.len == 0
                || memcmp(fields[i].data, name.data, name.len) == 0))
        {
            return i;
        }
    }

    return n;
}


static void
cs_record_pair(cs_buf_t *out, int *first, cs_str_t name, cs_str_t value)
{
    if (!*first) {
        cs_buf_putc(out, ',');
    }

    *first = 0;

    cs_buf_json_str(out, name.data, name.len);
    cs_buf_putc(out, ':');

    if (cs_record_numeric_field(name) && cs_record_integer(value)) {
        cs_buf_put(out, value.data, value.len);
    } else {
        cs_buf_json_str(out, value.data, value.len);
    }
}


int
cs_record_json(const cs_str_t *fields, const cs_str_t *values, size_t n,
    cs_buf_t *out)
{
    int       first;
    size_t    i, job_id, status;
    cs_str_t  k_job_id = cs_str_lit("job_id");
    cs_str_t  k_status = cs_str_lit("status");

    job_id = cs_record_find(fields, n, k_job_id);
    status = cs_record_find(fields, n, k_status);

    first = 1;
    cs_buf_putc(out, '{');

    if (job_id < n) {
        cs_record_pair(out, &first, fields[job_id], values[job_id]);
    }

    if (status < n) {
        cs_record_pair(out, &first, fields[status], values[status]);
    }

    for (i = 0; i < n; i++) {
        if (i == job_id || i == status
            || cs_record_find(fields, i, fields[i]) < i
            || cs_record_eq(fields[i], "job_id")
            || cs_record_eq(fields[i], "status"))
        {
            continue;                           /* written, or a repeat */
        }

        cs_record_pair(out, &first, fields[i], values[i]);
    }

    cs_buf_putc(out, '}');

    return out->oom ? -1 : 0;
}


void
cs_record_queued(cs_record_t *r, cs_str_t job_id, const char *type,
    uint64_t now_ms)
{
    size_t  i;

    static const char  *names[CS_RECORD_QUEUED_N] = {
        "job_id", "status", "type", "attempts", "created_at", "updated_at"
    };

    cs_time_format_iso(cs_time_ms_valid((int64_t) now_ms)
                       ? (int64_t) now_ms : 0, r->at);

    for (i = 0; i < CS_RECORD_QUEUED_N; i++) {
        r->fields[i].data = names[i];
        r->fields[i].len = strlen(names[i]);
    }

    r->values[0] = job_id;
    r->values[1].data = "queued";
    r->values[1].len = 6;
    r->values[2].data = type;
    r->values[2].len = strlen(type);
    r->values[3].data = "0";
    r->values[3].len = 1;
    r->values[4].data = r->at;
    r->values[4].len = CS_TIME_ISO_LEN;
    r->values[5] = r->values[4];

    r->n = CS_RECORD_QUEUED_N;
}
