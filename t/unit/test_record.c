/*
 * cs_record: the initial `queued` record and the JSON of a record read
 * back from Redis.
 */

#include "cs_record.h"
#include "cs_test.h"

#define JOB_ID  "01FDQ0Y5R2K8ZQ3G4V6W7X8Y9Z"

static cs_buf_t  out;


static void
pairs(const char *const *kv, size_t n)
{
    size_t    i;
    cs_str_t  f[16], v[16];

    for (i = 0; i < n; i++) {
        f[i].data = kv[2 * i];
        f[i].len = strlen(kv[2 * i]);
        v[i].data = kv[2 * i + 1];
        v[i].len = strlen(kv[2 * i + 1]);
    }

    cs_buf_reset(&out);
    CHECK_INT(cs_record_json(f, v, n, &out), 0);
}


static void
test_queued(void)
{
    size_t       i;
    cs_str_t     id = cs_str_lit(JOB_ID);
    cs_record_t  r;

    static const char  *want[] = {
        "job_id", JOB_ID, "status", "queued", "type", "hint.patient",
        "attempts", "0", "created_at", "2021-08-23T08:45:25.123Z",
        "updated_at", "2021-08-23T08:45:25.123Z"
    };

    cs_record_queued(&r, id, "hint.patient", 1629708325123ULL);

    CHECK_INT(r.n, 6);

    for (i = 0; i < r.n && i < 6; i++) {
        CHECK_MEM(r.fields[i].data, r.fields[i].len, want[2 * i]);
        CHECK_MEM(r.values[i].data, r.values[i].len, want[2 * i + 1]);
    }

    cs_buf_reset(&out);
    CHECK_INT(cs_record_json(r.fields, r.values, r.n, &out), 0);
    CHECK_MEM(out.data, out.len,
              "{\"job_id\":\"" JOB_ID "\",\"status\":\"queued\","
              "\"type\":\"hint.patient\",\"attempts\":0,"
              "\"created_at\":\"2021-08-23T08:45:25.123Z\","
              "\"updated_at\":\"2021-08-23T08:45:25.123Z\"}");
}


static void
test_json(void)
{
    static const char  *done[] = {
        "updated_at", "2026-11-21T10:00:01.000Z",
        "attempts", "2",
        "status", "no_match",
        "message", "No matching HealthSherpa contact found",
        "job_id", JOB_ID,
        "crm_contact_id", "003Ab00000XyZ12AAA",
        "max_attempts", "5"
    };
    static const char  *odd[] = {
        "attempts", "007",
        "max_attempts", "-1",
        "last_error", "Hint said \"422\"\n\\ retry",
        "attempts", "9",
        "retry_after_ms", "1000"
    };
    static const char  *words[] = {
        "attempts", "two", "status", "running", "attempts", "2"
    };
    static const char  *big[] = {
        "attempts", "1234567890123456789", "max_attempts", "-",
        "message", "caf\xc3\xa9"
    };

    /* job_id and status lead; the rest keep their order */
    pairs(done, 7);
    CHECK_MEM(out.data, out.len,
              "{\"job_id\":\"" JOB_ID "\",\"status\":\"no_match\","
              "\"updated_at\":\"2026-11-21T10:00:01.000Z\",\"attempts\":2,"
              "\"message\":\"No matching HealthSherpa contact found\","
              "\"crm_contact_id\":\"003Ab00000XyZ12AAA\",\"max_attempts\":5}");

    /* numbers only when integers; escapes; a repeated name kept once;
       counters only: other numeric-looking values stay strings */
    pairs(odd, 5);
    CHECK_MEM(out.data, out.len,
              "{\"attempts\":\"007\",\"max_attempts\":-1,"
              "\"last_error\":\"Hint said \\\"422\\\"\\n\\\\ retry\","
              "\"retry_after_ms\":\"1000\"}");

    pairs(words, 3);
    CHECK_MEM(out.data, out.len,
              "{\"status\":\"running\",\"attempts\":\"two\"}");

    pairs(big, 3);
    CHECK_MEM(out.data, out.len,
              "{\"attempts\":\"1234567890123456789\",\"max_attempts\":\"-\","
              "\"message\":\"caf\xc3\xa9\"}");

    /* nothing: an empty object (the module answers 404 before this) */
    pairs(NULL, 0);
    CHECK_MEM(out.data, out.len, "{}");
}


int
main(void)
{
    cs_buf_init(&out);

    test_queued();
    test_json();

    cs_buf_free(&out);

    CS_TEST_DONE();
}
