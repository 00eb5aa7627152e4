/*
 * caresync core: the job's status record (spec/job.md, "status record").
 *
 * In Redis it is a hash {caresync}:job:<job_id> of text fields; the
 * module writes the first one (`queued`) in the same script as the XADD,
 * the worker moves it on, and GET …/jobs/<job_id> answers it as JSON.
 * Field names of the record:
 *   job_id, status, type, attempts, created_at, updated_at, last_error,
 *   message, crm_contact_id, healthsherpa_contact_id, hint_patient_id …
 * Times are ISO-8601 UTC text ("2026-11-21T10:00:00.123Z").
 */

#ifndef CS_RECORD_H
#define CS_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "cs_buf.h"
#include "cs_str.h"
#include "cs_time.h"

#define CS_RECORD_QUEUED_N  6

/* The pairs of a new record; views into `at` and the caller's strings. */
typedef struct {
    size_t     n;
    cs_str_t   fields[CS_RECORD_QUEUED_N];
    cs_str_t   values[CS_RECORD_QUEUED_N];
    char       at[CS_TIME_ISO_LEN + 1];
} cs_record_t;

/*
 * A compact JSON object of the pairs (HGETALL's answer): job_id and status
 * first, then the others in the order given; a name given twice is kept
 * once (the first).  Known counters ("attempts", "max_attempts") are
 * numbers when their text is an integer, everything else is a string.
 * Text is written as JSON strings with escapes; the worker writes UTF-8.
 * Returns 0, or -1 when out of memory.
 */
int cs_record_json(const cs_str_t *fields, const cs_str_t *values, size_t n,
    cs_buf_t *out);

/*
 * The initial record: job_id, status "queued", type, attempts "0",
 * created_at and updated_at = now_ms.  `job_id` and `type` must outlive
 * `r` (they are the request's job id and a static job type).
 */
void cs_record_queued(cs_record_t *r, cs_str_t job_id, const char *type,
    uint64_t now_ms);

#endif /* CS_RECORD_H */
