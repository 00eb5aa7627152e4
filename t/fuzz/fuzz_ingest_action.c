/*
 * cs_ingest() on the CRM's action bodies (spec/inbound.md §4).
 *
 * Input: one selector byte, then the body.
 *   bits 0-1  the action: healthsherpa-sync, hint-sync, hint-unlink,
 *             crm-contact-changed
 *   bit 2     keep_raw
 *   bits 3-4  status_base: none, "https://caresync.example/jobs/",
 *             "/jobs/", one that needs escaping
 *   bits 5-6  max_depth 0 (32), 1, 2, 3
 *   bit 7     now_ms out of range; with bits 0-1 = 3, 2 or 1, the action
 *             is an operator's instead: dlq-replay, hs-login, hs-exchange
 *             (with an actor, and now_ms in range)
 *
 * Beyond the common invariants (fuzz_ingest_common.h): a 202 is exactly
 * {"job_id":"<job id>","status_url":"<status_base><job id>"}, always
 * queued, the dedupe key SHA-256(job id); the job has no patient and an
 * "action" whose contact_id is a 15/18-character alphanumeric id, the
 * input's contact_id trimmed; agent (healthsherpa-sync only) at most 254
 * bytes; patient_id (hint-sync only) "pat-" [A-Za-z0-9_-]; dlq-replay:
 * no contact_id, a dead_id of digits "-" digits (at most 41 bytes, the
 * input's trimmed) and the configured actor; a 400 has no "data" at all.
 */

#include <string.h>

#include "cs_action.h"
#include "fuzz_ingest_common.h"

static const cs_webhook_t  fz_kinds[7] = {
    CS_API_HEALTHSHERPA_SYNC, CS_API_HINT_SYNC, CS_API_HINT_UNLINK,
    CS_API_CRM_CONTACT_CHANGED, CS_API_DLQ_REPLAY, CS_API_HS_LOGIN,
    CS_API_HS_EXCHANGE
};

static const char *const  fz_types[7] = {
    "healthsherpa.sync", "hint.sync", "hint.unlink", "crm.contact_changed",
    "ops.dlq_replay", "ops.hs_login", "ops.hs_exchange"
};

#define FZ_ACTOR  "token-0123456789ab"

static const char *const  fz_bases[4] = {
    NULL, "https://caresync.example/jobs/", "/jobs/", "/j\"o\\b\x01/"
};


static int
fz_alnum(const char *s, size_t n, const char *extra)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
              || (s[i] >= '0' && s[i] <= '9') || strchr(extra, s[i])))
        {
            return 0;
        }
    }

    return 1;
}


/* The input's member under `key`, trimmed, equals s[0..n). */
static int
fz_trimmed_is(json_t *input, const char *key, const char *s, size_t n)
{
    json_t    *v = json_object_get(input, key);
    cs_str_t   t;

    if (!json_is_string(v)) {
        return 0;
    }

    t.data = json_string_value(v);
    t.len = json_string_length(v);
    t = cs_norm_trim(t);

    return t.len == n && memcmp(t.data, s, n) == 0;
}


static int  fz_action;


static void
fz_action_check_ok(const fz_ingest_t *fz, json_t *input, json_t *body,
    json_t *job)
{
    size_t       n, bn;
    json_t      *a, *v;
    const char  *s, *base, *parts[2];
    size_t       lens[2];
    char         want[65], url[256];

    FZ_CHECK(fz->out->status == 202, "status %d", fz->out->status);
    FZ_CHECK(fz->out->enqueue && job, "a 202 that is not queued");
    FZ_CHECK(strcmp(fz->out->job_type, fz_types[fz_action]) == 0,
             "job_type %s", fz->out->job_type);

    FZ_CHECK(json_object_size(body) == 2, "202 body is not {job_id,status_url}");
    s = fz_json_str(body, "job_id", &n);
    FZ_CHECK(s && strcmp(s, FZ_JOB_ID) == 0, "202 job_id is not the job id");

    base = fz->spec->conf.status_base;
    bn = fz->spec->conf.status_base_len;
    snprintf(url, sizeof(url), "%.*s%s", (int) bn, base ? base : "",
             FZ_JOB_ID);
    s = fz_json_str(body, "status_url", &n);
    FZ_CHECK(s && strcmp(s, url) == 0, "202 status_url \"%s\", want \"%s\"",
             s ? fz_show(s, n) : "-", fz_show(url, strlen(url)));

    parts[0] = FZ_JOB_ID;
    lens[0] = strlen(FZ_JOB_ID);
    parts[1] = NULL;
    fz_sha256_hex(want, parts, lens);
    FZ_CHECK(strcmp(want, fz->out->idem_key) == 0,
             "idem_key is not SHA-256(job id)");

    FZ_CHECK(json_object_get(job, "patient") == NULL, "an action's patient");
    s = fz_json_str(json_object_get(job, "source"), "system", NULL);
    FZ_CHECK(s && strcmp(s, "crm") == 0, "job.source.system");

    a = json_object_get(job, "action");
    FZ_CHECK(json_is_object(a), "job without an action");

    if (fz_kinds[fz_action] == CS_API_HS_LOGIN) {
        s = fz_json_str(a, "agent", &n);
        FZ_CHECK(s && n > 0 && n <= CS_ACTION_AGENT_MAX
                 && fz_trimmed_is(input, "agent", s, n),
                 "hs-login agent \"%s\"", s ? fz_show(s, n) : "-");
        s = fz_json_str(a, "actor", NULL);
        FZ_CHECK(s && strcmp(s, FZ_ACTOR) == 0, "actor is not the edge's");
        FZ_CHECK(json_object_size(a) == 2, "hs-login's action holds more");
        return;
    }

    if (fz_kinds[fz_action] == CS_API_HS_EXCHANGE) {
        s = fz_json_str(a, "state", &n);
        /* not trimmed: the vendor's exact bytes */
        FZ_CHECK(s && n == 32 && strspn(s, "0123456789abcdef") == 32
                 && json_equal(json_object_get(a, "state"),
                               json_object_get(input, "state")),
                 "state \"%s\"", s ? fz_show(s, n) : "-");
        s = fz_json_str(a, "code", &n);
        FZ_CHECK(s && n > 0 && n <= 512 && fz_alnum(s, n, "._~+/=@-")
                 && json_equal(json_object_get(a, "code"),
                               json_object_get(input, "code")),
                 "code \"%s\"", s ? fz_show(s, n) : "-");
        FZ_CHECK(json_object_size(a) == 3, "hs-exchange's action holds more");
        return;
    }

    if (fz_kinds[fz_action] == CS_API_DLQ_REPLAY) {
        size_t  i, dash = 0;

        FZ_CHECK(json_object_get(a, "contact_id") == NULL,
                 "a contact_id on dlq-replay");
        s = fz_json_str(a, "dead_id", &n);
        FZ_CHECK(s && n >= 3 && n <= 41
                 && fz_trimmed_is(input, "dead_id", s, n),
                 "dead_id \"%s\"", s ? fz_show(s, n) : "-");
        for (i = 0; i < n; i++) {
            FZ_CHECK((s[i] >= '0' && s[i] <= '9')
                     || (s[i] == '-' && !dash && i && i + 1 < n
                         && (dash = i)),
                     "dead_id \"%s\"", fz_show(s, n));
        }
        FZ_CHECK(dash, "dead_id \"%s\" has no dash", fz_show(s, n));
        s = fz_json_str(a, "actor", &n);
        FZ_CHECK(s && strcmp(s, FZ_ACTOR) == 0, "actor is not the edge's");
        FZ_CHECK(json_object_size(a) == 2, "dlq-replay's action holds more");
        return;
    }

    FZ_CHECK(json_object_get(a, "actor") == NULL, "an actor on a CRM action");

    s = fz_json_str(a, "contact_id", &n);
    FZ_CHECK(s && (n == 15 || n == 18) && fz_alnum(s, n, ""),
             "contact_id \"%s\"", s ? fz_show(s, n) : "-");
    FZ_CHECK(fz_trimmed_is(input, "contact_id", s, n),
             "contact_id is not the input's, trimmed");

    s = fz_json_str(a, "agent", &n);
    if (fz_kinds[fz_action] == CS_API_HEALTHSHERPA_SYNC) {
        FZ_CHECK(s && n > 0 && n <= CS_ACTION_AGENT_MAX
                 && fz_trimmed_is(input, "agent", s, n),
                 "agent \"%s\"", s ? fz_show(s, n) : "-");
    } else {
        FZ_CHECK(s == NULL, "agent on another action");
    }

    s = fz_json_str(a, "patient_id", &n);
    if (s) {
        FZ_CHECK(fz_kinds[fz_action] == CS_API_HINT_SYNC,
                 "patient_id on another action");
        FZ_CHECK(n > 4 && n <= CS_ACTION_PATIENT_ID_MAX
                 && memcmp(s, "pat-", 4) == 0 && fz_alnum(s, n, "_-")
                 && fz_trimmed_is(input, "patient_id", s, n),
                 "patient_id \"%s\"", fz_show(s, n));
    }

    v = json_object_get(a, "create");
    FZ_CHECK(v == NULL || (json_is_boolean(v)
                           && fz_kinds[fz_action] == CS_API_HINT_SYNC
                           && json_equal(v, json_object_get(input, "create"))),
             "create is not the input's boolean");
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t           sel;
    const char       *base;
    fz_ingest_spec_t  spec;

    if (size < 1) {
        return 0;
    }

    sel = data[0];

    memset(&spec, 0, sizeof(spec));

    fz_action = sel & 3;

    if ((sel & 0x80) && fz_action) {
        fz_action = 7 - fz_action;     /* 3, 2, 1 -> 4, 5, 6 */
    }
    spec.kind = fz_kinds[fz_action];
    /* the edge names who asked; only an operator's action carries it */
    spec.conf.actor = FZ_ACTOR;
    spec.conf.actor_len = sizeof(FZ_ACTOR) - 1;
    spec.conf.keep_raw = (sel >> 2) & 1;

    base = fz_bases[(sel >> 3) & 3];
    spec.conf.status_base = base;
    spec.conf.status_base_len = base ? strlen(base) : 0;

    spec.conf.max_depth = (sel >> 5) & 3;
    spec.now_ms = (sel & 0x80) && fz_action < 4 ? UINT64_MAX - 5
                                                : FZ_NOW_MS;

    spec.data_key = NULL;
    spec.raw = 1;
    spec.check_ok = fz_action_check_ok;

    fz_ingest_run(&spec, data + 1, size - 1);

    return 0;
}
