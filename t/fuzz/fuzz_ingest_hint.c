/*
 * cs_ingest() on Hint Health webhook bodies (spec/inbound.md §3).
 *
 * Input: one selector byte, then the body.
 *   bit 0     keep_raw
 *   bit 1     max_values 40 (the patient fixtures have 43) instead of the
 *             default
 *   bits 2-5  max_depth, from fz_depths[]
 *   bit 6     max_raw 256 (the patient fixtures' copy is over 1000 bytes)
 *             instead of the default
 *   bit 7     now_ms out of range
 *
 * Beyond the common invariants (fuzz_ingest_common.h): a 200 is exactly
 * {"received":true,"id":"<the body's id, as sent>"}; it is queued iff the
 * type is one of the synced patient.* events (job_type hint.patient),
 * otherwise job_type is hint.ignored and no job exists; the dedupe key is
 * SHA-256("hint\n" id); the job names the event and carries a normalized
 * patient whose source_id is object.id; a 400's data.id is the body's id.
 */

#include <string.h>

#include "cs_hint.h"
#include "fuzz_ingest_common.h"

static const unsigned  fz_depths[16] = {
    0, 1, 2, 3, 4, 5, 6, 7, 8, 16, 31, 32, 33, 100, 2048, 2049
};


static int
fz_synced(const char *t, size_t n)
{
    static const char *const  types[] = {
        "patient.created", "patient.updated", "patient.destroyed",
        "patient.inactive", NULL
    };
    size_t  i;

    for (i = 0; types[i]; i++) {
        if (n == strlen(types[i]) && memcmp(t, types[i], n) == 0) {
            return 1;
        }
    }

    return 0;
}


static void
fz_hint_check_ok(const fz_ingest_t *fz, json_t *input, json_t *body,
    json_t *job)
{
    size_t       n, idn, tn;
    json_t      *src, *pat, *obj;
    const char  *id, *type, *s, *parts[3];
    size_t       lens[3];
    char         want[65];
    int64_t      ms;

    FZ_CHECK(fz->out->status == 200, "status %d", fz->out->status);

    FZ_CHECK(json_object_size(body) == 2
             && json_is_true(json_object_get(body, "received")),
             "200 body is not {received:true,id}");

    id = fz_json_str(body, "id", &idn);
    FZ_CHECK(id && fz_input_has(input, NULL, "id", id, idn),
             "200 id is not the body's id");

    type = fz_json_str(input, "type", &tn);
    FZ_CHECK(type != NULL, "200 without a string type");
    FZ_CHECK(json_is_object(json_object_get(input, "object")),
             "200 without an object");

    FZ_CHECK(fz->out->enqueue == fz_synced(type, tn),
             "type \"%s\": enqueue %d", fz_show(type, tn), fz->out->enqueue);
    FZ_CHECK(strcmp(fz->out->job_type, fz->out->enqueue ? CS_HINT_JOB_TYPE
                                                        : CS_HINT_IGNORED) == 0,
             "job_type %s", fz->out->job_type);

    parts[0] = "hint\n";
    lens[0] = 5;
    parts[1] = id;
    lens[1] = idn;
    parts[2] = NULL;
    fz_sha256_hex(want, parts, lens);

    FZ_CHECK(strcmp(want, fz->out->idem_key) == 0,
             "idem_key is not SHA-256(\"hint\\n\" id)");

    if (job == NULL) {
        return;
    }

    src = json_object_get(job, "source");
    FZ_CHECK(json_is_object(src), "job.source");
    s = fz_json_str(src, "system", NULL);
    FZ_CHECK(s && strcmp(s, "hint") == 0, "job.source.system");
    s = fz_json_str(src, "event", &n);
    FZ_CHECK(s && n == tn && memcmp(s, type, n) == 0,
             "job.source.event is not the type");
    s = fz_json_str(src, "event_id", &n);
    FZ_CHECK(s && n == idn && memcmp(s, id, n) == 0,
             "job.source.event_id is not the id");

    s = fz_json_str(src, "created_at", &n);
    FZ_CHECK(s == NULL || cs_time_parse_date(s, n, &ms, NULL) == 0,
             "job.source.created_at \"%s\" is not a date",
             s ? fz_show(s, n) : "");

    pat = json_object_get(job, "patient");
    fz_check_patient(pat);

    obj = json_object_get(input, "object");
    s = fz_json_str(pat, "source_id", &n);
    FZ_CHECK(s && fz_input_has(obj, NULL, "id", s, n),
             "job.patient.source_id is not object.id");
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t           sel;
    fz_ingest_spec_t  spec;

    if (size < 1) {
        return 0;
    }

    sel = data[0];

    memset(&spec, 0, sizeof(spec));

    spec.kind = CS_WEBHOOK_HINT;
    spec.conf.keep_raw = sel & 1;
    spec.conf.max_depth = fz_depths[(sel >> 2) & 15];
    spec.conf.max_values = (sel & 2) ? 40 : 0;
    spec.conf.max_raw = (sel & 0x40) ? 256 : 0;
    spec.now_ms = (sel & 0x80) ? UINT64_MAX - 5 : FZ_NOW_MS;

    spec.data_key = "id";
    spec.id_key = "id";
    spec.id_parent = NULL;
    spec.data_required = 1;
    spec.raw = 1;
    spec.check_ok = fz_hint_check_ok;

    fz_ingest_run(&spec, data + 1, size - 1);

    return 0;
}
