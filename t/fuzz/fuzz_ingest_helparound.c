/*
 * cs_ingest() on HelpAround bodies (spec/inbound.md §1, §2).
 *
 * Input: one selector byte, then the body.
 *   bit 0     0: enrollment, 1: user action
 *   bit 1     keep_raw
 *   bits 2-5  max_depth, from fz_depths[]
 *   bit 6     partner_source "Source" (the fixture's) instead of the default
 *   bit 7     now_ms out of range (received_at falls back to the epoch)
 *
 * Beyond the common invariants (fuzz_ingest_common.h), a 200 must be
 * {"success":true,"data":{supportProgramId, patientId, externalId}} with
 * the values the spec names, and the job must carry them, with a
 * normalized patient (E.164 phones, dates, codes).
 */

#include <string.h>

#include "cs_helparound.h"
#include "cs_normalize.h"
#include "fuzz_ingest_common.h"

static const unsigned  fz_depths[16] = {
    0, 1, 2, 3, 4, 5, 6, 7, 8, 16, 31, 32, 33, 100, 2048, 2049
};


/* sourceId values of externalIds[], for the externalId check */
typedef struct {
    const char  *want;
    size_t       want_len;
    int          found;
} fz_xid_ctx_t;


static void
fz_xid_cb(void *ctx, const char *parent_key, const char *key, const char *s,
    size_t n, int is_key)
{
    cs_str_t       v = { s, n };
    fz_xid_ctx_t  *xc = ctx;

    if (is_key || parent_key == NULL || strcmp(parent_key, "externalIds")
        || strcmp(key, "sourceId"))
    {
        return;
    }

    v = cs_norm_trim(v);

    if (v.len == xc->want_len && memcmp(v.data, xc->want, v.len) == 0) {
        xc->found = 1;
    }
}


/* [A-Za-z0-9_.-] */
static int
fz_action_name(const char *s, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
              || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '.'
              || s[i] == '-'))
        {
            return 0;
        }
    }

    return 1;
}


/* §1: the dedupe key is the four strings as sent, newline-separated. */
static void
fz_ha_idem(const fz_ingest_t *fz, json_t *src, json_t *pat)
{
    char          want[65];
    const char   *parts[8];
    size_t        lens[8];

    parts[0] = fz_json_str(src, "event", &lens[0]);
    parts[2] = fz_json_str(src, "program_id", &lens[2]);
    parts[4] = fz_json_str(pat, "source_id", &lens[4]);
    parts[6] = fz_json_str(src, "sent_at", &lens[6]);
    parts[1] = parts[3] = parts[5] = "\n";
    lens[1] = lens[3] = lens[5] = 1;
    parts[7] = NULL;

    FZ_CHECK(parts[0] && parts[2] && parts[4] && parts[6],
             "job lacks a member of the dedupe key");

    fz_sha256_hex(want, parts, lens);

    FZ_CHECK(strcmp(want, fz->out->idem_key) == 0,
             "idem_key is not SHA-256(event\\nprogram\\npatient\\nsent_at)");
}


static void
fz_ha_check_ok(const fz_ingest_t *fz, json_t *input, json_t *body,
    json_t *job)
{
    size_t        n, pn, xn;
    json_t       *data, *v, *src, *pat;
    size_t        an;
    const char   *key, *prog, *pid, *xid, *s, *type, *act;
    fz_xid_ctx_t  xc;

    FZ_CHECK(fz->out->status == 200, "status %d", fz->out->status);
    FZ_CHECK(fz->out->enqueue, "a HelpAround 200 that is not queued");
    FZ_CHECK(job != NULL, "no job");

    FZ_CHECK(json_object_size(body) == 2
             && json_is_true(json_object_get(body, "success")),
             "200 body is not {success:true,data}");

    data = json_object_get(body, "data");
    FZ_CHECK(json_is_object(data) && json_object_size(data) == 3,
             "200 data is not 3 members");

    json_object_foreach(data, key, v) {
        FZ_CHECK(json_is_string(v), "200 data.%s is not a string", key);
    }

    prog = fz_json_str(data, "supportProgramId", &n);
    pid = fz_json_str(data, "patientId", &pn);
    xid = fz_json_str(data, "externalId", &xn);

    FZ_CHECK(prog && pid && xid, "200 data lacks a member");
    FZ_CHECK(fz_input_has(input, "event", "supportProgramId", prog, n),
             "supportProgramId \"%s\" is not the input's", fz_show(prog, n));
    FZ_CHECK(fz_input_has(input, "patient", "id", pid, pn),
             "patientId \"%s\" is not the input's", fz_show(pid, pn));

    xc.want = xid;
    xc.want_len = xn;
    xc.found = 0;
    fz_json_strings(input, NULL, NULL, fz_xid_cb, &xc);

    /* a sourceId (trimmed), else a UUIDv5 */
    FZ_CHECK(xc.found
             || (xn == 36 && xid[8] == '-' && xid[13] == '-' && xid[14] == '5'
                 && xid[18] == '-' && xid[23] == '-'),
             "externalId \"%s\" is neither a sourceId nor a UUIDv5",
             fz_show(xid, xn));

    /* the job */
    s = fz_json_str(job, "type", NULL);
    if (fz->spec->kind == CS_WEBHOOK_HELPAROUND_ENROLLMENT) {
        FZ_CHECK(strcmp(s, "helparound.enrollment") == 0, "type %s", s);
        FZ_CHECK(json_object_get(job, "action") == NULL, "enrollment action");
    } else {
        FZ_CHECK(strcmp(s, "helparound.user_action") == 0
                 || strcmp(s, "helparound.user_action.other") == 0,
                 "type %s", s);
        FZ_CHECK(json_is_object(json_object_get(job, "action")),
                 "user action without job.action");
    }

    src = json_object_get(job, "source");
    FZ_CHECK(json_is_object(src), "job.source");
    s = fz_json_str(src, "system", NULL);
    FZ_CHECK(s && strcmp(s, "helparound") == 0, "job.source.system");
    s = fz_json_str(src, "program_id", &n);
    FZ_CHECK(s && n == strlen(prog) && memcmp(s, prog, n) == 0,
             "job.source.program_id is not the answer's");
    s = fz_json_str(src, "sent_at", &n);
    FZ_CHECK(s && cs_time_parse_utc(s, n, NULL) == 0,
             "job.source.sent_at \"%s\" is not a UTC date-time",
             s ? fz_show(s, n) : "-");
    /* §1/§2: the event names, and the action the job carries */
    s = fz_json_str(src, "event", &n);
    FZ_CHECK(s != NULL, "job.source.event");

    type = fz_json_str(job, "type", NULL);
    act = fz_json_str(json_object_get(job, "action"), "user_action", &an);

    if (strcmp(type, "helparound.enrollment") == 0) {
        FZ_CHECK(strcmp(s, CS_HA_ENROLLMENT_EVENT) == 0 && n == strlen(s),
                 "enrollment event \"%s\"", fz_show(s, n));

    } else if (strcmp(type, "helparound.user_action") == 0) {
        FZ_CHECK(strcmp(s, CS_HA_VIEWED_EVENT) == 0 && n == strlen(s),
                 "viewed-tracker event \"%s\"", fz_show(s, n));
        FZ_CHECK(act && strcmp(act, "viewedTracker") == 0 && an == 13,
                 "viewed-tracker action");

    } else {
        FZ_CHECK(n > sizeof(CS_HA_ACTION_PREFIX) - 1
                 && memcmp(s, CS_HA_ACTION_PREFIX,
                           sizeof(CS_HA_ACTION_PREFIX) - 1) == 0,
                 "other action's event \"%s\"", fz_show(s, n));
        FZ_CHECK(act && an >= 1 && an <= 64 && fz_action_name(act, an)
                 && strcmp(act, "viewedTracker") != 0,
                 "other action \"%s\"", act ? fz_show(act, an) : "-");
    }

    pat = json_object_get(job, "patient");
    fz_check_patient(pat);

    fz_ha_idem(fz, src, pat);

    s = fz_json_str(pat, "source_id", &n);
    FZ_CHECK(s && n == pn && memcmp(s, pid, n) == 0,
             "job.patient.source_id is not the answer's patientId");
    s = fz_json_str(pat, "external_id", &n);
    FZ_CHECK(s && n == xn && memcmp(s, xid, n) == 0,
             "job.patient.external_id is not the answer's externalId");
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

    spec.kind = (sel & 1) ? CS_WEBHOOK_HELPAROUND_USER_ACTION
                          : CS_WEBHOOK_HELPAROUND_ENROLLMENT;
    spec.conf.keep_raw = (sel >> 1) & 1;
    spec.conf.max_depth = fz_depths[(sel >> 2) & 15];

    if (sel & 0x40) {
        spec.conf.partner_source = "Source";
        spec.conf.partner_source_len = 6;
    }

    spec.now_ms = (sel & 0x80) ? UINT64_MAX - 5 : FZ_NOW_MS;

    spec.data_key = "patientId";
    spec.id_key = "id";
    spec.id_parent = "patient";
    spec.data_required = 1;
    spec.raw = 1;
    spec.check_ok = fz_ha_check_ok;

    fz_ingest_run(&spec, data + 1, size - 1);

    return 0;
}
