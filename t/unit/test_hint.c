/*
 * cs_ingest(CS_WEBHOOK_HINT): the shared fixtures' exact answers and
 * envelopes, types that are answered but not queued, every required
 * member missing or mistyped, optional members' types, and no PHI in a
 * 400 or in the notes.
 */

#include <jansson.h>

#include "cs_ingest.h"
#include "cs_test.h"

#define HINT    CS_WEBHOOK_HINT
#define JOB_ID  "01FDQ0Y5R2K8ZQ3G4V6W7X8Y9Z"

/* python3: hashlib.sha256(b"hint\nevt-2QfX8c91").hexdigest() */
#define CREATED_KEY                                                           \
    "ca98774a45312793999bfdba0caa55f7e244b796f50b5dd278cd944e66db8822"
#define UPDATED_KEY                                                           \
    "5a91298c5843030f613722da0ed6a8f6fa8ac31e7702c619604fdd3e6a1119c3"
#define MEMBERSHIP_KEY                                                        \
    "387dcea6e2a90101c973eb665882db44131ac4dafe4b33bac01f8800222df0b4"

#define FIXTURE_PATIENT                                                       \
    "\"patient\":{\"source_id\":\"pat-8Kd02LmQz1\","                          \
    "\"first_name\":\"Maria\",\"middle_name\":\"Elena\","                     \
    "\"last_name\":\"Lopez\",\"prefix\":\"Ms.\",\"dob\":\"1958-04-12\","      \
    "\"gender\":\"female\",\"email\":\"maria.lopez@example.org\","            \
    "\"phones\":[{\"type\":\"mobile\",\"number\":\"+15035550143\"},"          \
    "{\"type\":\"home\",\"number\":\"+15035550199\"}],"                       \
    "\"address\":{\"line1\":\"1200 NW Everett St\",\"line2\":\"Apt 4\","      \
    "\"city\":\"Portland\",\"state\":\"OR\",\"zip\":\"97209\","               \
    "\"country\":\"US\"},"                                                    \
    "\"insurance\":{\"primary\":{\"member_id\":\"W123456789\","               \
    "\"group_num\":\"GRP-551\"}},"                                            \
    "\"practitioner\":{\"id\":\"pra-9zKq1\",\"name\":\"Dr. Alan Reyes\"},"    \
    "\"payer_name\":\"Acme Health\",\"payer_id\":\"60054\","                  \
    "\"membership_status\":\"active\"}"

#define CREATED_JOB                                                           \
    "{\"v\":1,\"id\":\"" JOB_ID "\",\"type\":\"hint.patient\","               \
    "\"received_at\":\"2026-11-20T09:12:42.500Z\","                           \
    "\"idempotency_key\":\"" CREATED_KEY "\","                                \
    "\"source\":{\"system\":\"hint\",\"event\":\"patient.created\","          \
    "\"event_id\":\"evt-2QfX8c91\",\"practice_id\":\"pra-Ab12Cd34\","         \
    "\"created_at\":\"2026-11-20T09:12:41Z\"},"                               \
    FIXTURE_PATIENT "}"

static cs_ingest_t       in;
static cs_ingest_conf_t  conf;


static int
run(const void *body, size_t len)
{
    in.now_ms = 1795165962500ULL;               /* 2026-11-20T09:12:42.5Z */
    memcpy(in.job_id, JOB_ID, 27);

    CHECK_INT(cs_ingest(HINT, &conf, body, len, &in), CS_OK);

    return in.status;
}


static int
runs(const char *body)
{
    return run(body, strlen(body));
}


static char *
fixture(const char *name, size_t *len)
{
    char  path[256];

    snprintf(path, sizeof(path), "%s/hint/%s", CS_FIXTURES, name);

    return cs_t_read(path, len);
}


/* A patient event around the given members of "object". */
static int
patient(const char *members)
{
    char  body[2048];

    snprintf(body, sizeof(body),
             "{\"id\":\"evt-1\",\"type\":\"patient.updated\","
             "\"object\":{\"id\":\"pat-1\"%s%s}}",
             *members ? "," : "", members);

    return runs(body);
}


#define CHECK_400(idm, msg, why)                                             \
    do {                                                                      \
        CHECK_INT(in.status, 400);                                            \
        CHECK_MEM(in.body.data, in.body.len,                                  \
                  "{\"errorMessage\":\"" msg "\",\"data\":{" idm "}}");       \
        CHECK_STR(in.reason, why);                                            \
        CHECK_INT(in.enqueue, 0);                                             \
        CHECK_INT(in.job.len, 0);                                             \
        CHECK_INT(in.notes.len, 0);                                           \
        CHECK_STR(in.job_type, NULL);                                         \
    } while (0)

#define EVT1  "\"id\":\"evt-1\""


static void
test_fixtures(void)
{
    char     *body;
    size_t    n;
    json_t   *job, *raw, *orig;

    body = fixture("patient.created.json", &n);

    CHECK_INT(run(body, n), 200);
    CHECK_MEM(in.body.data, in.body.len,
              "{\"received\":true,\"id\":\"evt-2QfX8c91\"}");
    CHECK_INT(in.enqueue, 1);
    CHECK_STR(in.reason, NULL);
    CHECK_STR(in.job_type, "hint.patient");
    CHECK_STR(in.idem_key, CREATED_KEY);
    CHECK_INT(in.notes.len, 0);
    CHECK_MEM(in.job.data, in.job.len, CREATED_JOB);

    /* with the raw copy: the body as sent, compact */
    conf.keep_raw = 1;
    CHECK_INT(run(body, n), 200);
    CHECK(in.job.len > sizeof(CREATED_JOB)
          && memcmp(in.job.data, CREATED_JOB, sizeof(CREATED_JOB) - 2) == 0);
    CHECK_MEM(in.job.data + sizeof(CREATED_JOB) - 2, 7, ",\"raw\":");
    job = json_loadb(in.job.data, in.job.len, JSON_REJECT_DUPLICATES, NULL);
    CHECK(job != NULL);
    raw = json_object_get(job, "raw");
    orig = json_loadb(body, n, 0, NULL);
    CHECK(json_equal(raw, orig));
    CHECK(json_object_get(job, "action") == NULL);
    json_decref(orig);
    json_decref(job);
    conf.keep_raw = 0;
    free(body);

    body = fixture("patient.updated.json", &n);
    CHECK_INT(run(body, n), 200);
    CHECK_MEM(in.body.data, in.body.len,
              "{\"received\":true,\"id\":\"evt-2QfX8u91\"}");
    CHECK_INT(in.enqueue, 1);
    CHECK_STR(in.idem_key, UPDATED_KEY);
    CHECK_CONTAINS(in.job.data, in.job.len,
                   "\"source\":{\"system\":\"hint\","
                   "\"event\":\"patient.updated\","
                   "\"event_id\":\"evt-2QfX8u91\",");
    CHECK_CONTAINS(in.job.data, in.job.len, "," FIXTURE_PATIENT "}");
    free(body);

    /* recognised, answered, not queued */
    body = fixture("membership.updated.json", &n);
    CHECK_INT(run(body, n), 200);
    CHECK_MEM(in.body.data, in.body.len,
              "{\"received\":true,\"id\":\"evt-2QfX8m77\"}");
    CHECK_INT(in.enqueue, 0);
    CHECK_INT(in.job.len, 0);
    CHECK_STR(in.job_type, "hint.ignored");
    CHECK_STR(in.idem_key, MEMBERSHIP_KEY);
    free(body);
}


static void
test_types(void)
{
    /* the four synced patient types */
    CHECK_INT(runs("{\"id\":\"e\",\"type\":\"patient.destroyed\","
                   "\"object\":{\"id\":\"pat-1\"}}"), 200);
    CHECK_INT(in.enqueue, 1);
    CHECK_CONTAINS(in.job.data, in.job.len,
                   "\"source\":{\"system\":\"hint\","
                   "\"event\":\"patient.destroyed\",\"event_id\":\"e\"},"
                   "\"patient\":{\"source_id\":\"pat-1\"}}");

    CHECK_INT(runs("{\"id\":\"e\",\"type\":\"patient.inactive\","
                   "\"object\":{\"id\":\"pat-1\"}}"), 200);
    CHECK_INT(in.enqueue, 1);
    CHECK_STR(in.job_type, "hint.patient");

    CHECK_INT(runs("{\"id\":\"e\",\"type\":\"patient.created\","
                   "\"object\":{\"id\":\"pat-1\"}}"), 200);
    CHECK_INT(in.enqueue, 1);

    /* another patient action: object.id still required, not queued */
    CHECK_INT(runs("{\"id\":\"e\",\"type\":\"patient.merged\","
                   "\"object\":{\"id\":\"pat-1\",\"first_name\":5}}"), 200);
    CHECK_INT(in.enqueue, 0);
    CHECK_STR(in.job_type, "hint.ignored");
    CHECK_MEM(in.body.data, in.body.len, "{\"received\":true,\"id\":\"e\"}");

    runs("{\"id\":\"e\",\"type\":\"patient.merged\",\"object\":{}}");
    CHECK_400("\"id\":\"e\"", "object.id is required", "missing_field");

    /* other resources: the object is theirs, not checked */
    CHECK_INT(runs("{\"id\":\"e\",\"type\":\"invoice.paid\","
                   "\"object\":{\"amount\":[1]}}"), 200);
    CHECK_INT(in.enqueue, 0);
    CHECK_INT(in.job.len, 0);

    /* types are exact: no case folding */
    CHECK_INT(runs("{\"id\":\"e\",\"type\":\"Patient.Created\","
                   "\"object\":{}}"), 200);
    CHECK_INT(in.enqueue, 0);
}


static void
test_required(void)
{
    runs("{}");
    CHECK_400("", "id is required", "missing_field");
    runs("{\"id\":null,\"type\":\"patient.created\",\"object\":{}}");
    CHECK_400("", "id is required", "missing_field");
    runs("{\"id\":\" \",\"type\":\"patient.created\",\"object\":{}}");
    CHECK_400("", "id is required", "missing_field");
    runs("{\"id\":7,\"type\":\"patient.created\",\"object\":{}}");
    CHECK_400("", "id must be a string", "wrong_type");
    runs("{\"id\":[\"evt-1\"],\"type\":\"patient.created\",\"object\":{}}");
    CHECK_400("", "id must be a string", "wrong_type");

    runs("{" EVT1 ",\"object\":{\"id\":\"pat-1\"}}");
    CHECK_400(EVT1, "type is required", "missing_field");
    runs("{" EVT1 ",\"type\":\"\",\"object\":{\"id\":\"pat-1\"}}");
    CHECK_400(EVT1, "type is required", "missing_field");
    runs("{" EVT1 ",\"type\":{},\"object\":{\"id\":\"pat-1\"}}");
    CHECK_400(EVT1, "type must be a string", "wrong_type");

    runs("{" EVT1 ",\"type\":\"patient.created\"}");
    CHECK_400(EVT1, "object is required", "missing_field");
    runs("{" EVT1 ",\"type\":\"patient.created\",\"object\":null}");
    CHECK_400(EVT1, "object is required", "missing_field");
    runs("{" EVT1 ",\"type\":\"patient.created\",\"object\":[]}");
    CHECK_400(EVT1, "object must be an object", "wrong_type");
    runs("{" EVT1 ",\"type\":\"membership.updated\",\"object\":\"x\"}");
    CHECK_400(EVT1, "object must be an object", "wrong_type");

    runs("{" EVT1 ",\"type\":\"patient.created\",\"object\":{}}");
    CHECK_400(EVT1, "object.id is required", "missing_field");
    runs("{" EVT1 ",\"type\":\"patient.destroyed\","
         "\"object\":{\"id\":\"\"}}");
    CHECK_400(EVT1, "object.id is required", "missing_field");
    runs("{" EVT1 ",\"type\":\"patient.updated\",\"object\":{\"id\":42}}");
    CHECK_400(EVT1, "object.id must be a string", "wrong_type");

    /* the first problem in order: id, type, object, object.id */
    runs("{\"type\":5,\"object\":5}");
    CHECK_400("", "id is required", "missing_field");
    runs("{" EVT1 ",\"type\":5,\"object\":5}");
    CHECK_400(EVT1, "type must be a string", "wrong_type");

    /* body-level: "data" stays empty */
    runs("{");
    CHECK_400("", "body is not valid JSON", "bad_json");
    runs("[]");
    CHECK_400("", "body must be a JSON object", "not_object");
    runs("{\"id\":\"a\",\"id\":\"b\"}");
    CHECK_400("", "body has a duplicate key", "duplicate_key");

    /* the echoed id is escaped */
    runs("{\"id\":\"e\\\"</\",\"object\":{}}");
    CHECK_400("\"id\":\"e\\\"</\"", "type is required", "missing_field");
}


static void
test_optional_types(void)
{
    /* envelope members */
    runs("{" EVT1 ",\"type\":\"patient.created\",\"created_at\":5,"
         "\"object\":{\"id\":\"p\"}}");
    CHECK_400(EVT1, "created_at must be a string", "wrong_type");
    runs("{" EVT1 ",\"type\":\"membership.updated\",\"practice_id\":{},"
         "\"object\":{}}");
    CHECK_400(EVT1, "practice_id must be a string", "wrong_type");

    patient("\"first_name\":5");
    CHECK_400(EVT1, "object.first_name must be a string", "wrong_type");
    patient("\"middle_name\":true");
    CHECK_400(EVT1, "object.middle_name must be a string", "wrong_type");
    patient("\"last_name\":[]");
    CHECK_400(EVT1, "object.last_name must be a string", "wrong_type");
    patient("\"title\":1");
    CHECK_400(EVT1, "object.title must be a string", "wrong_type");
    patient("\"suffix\":1");
    CHECK_400(EVT1, "object.suffix must be a string", "wrong_type");
    patient("\"dob\":\"1958-02-30\"");
    CHECK_400(EVT1, "object.dob must be a date", "bad_value");
    patient("\"dob\":\"12/04/1958\"");
    CHECK_400(EVT1, "object.dob must be a date", "bad_value");
    patient("\"dob\":true");
    CHECK_400(EVT1, "object.dob must be a date", "wrong_type");
    patient("\"sex\":1");
    CHECK_400(EVT1, "object.sex must be a string", "wrong_type");
    patient("\"gender\":{}");
    CHECK_400(EVT1, "object.gender must be a string", "wrong_type");
    patient("\"email\":1");
    CHECK_400(EVT1, "object.email must be a string", "wrong_type");
    patient("\"phones\":{}");
    CHECK_400(EVT1, "object.phones must be an array", "wrong_type");
    patient("\"phones\":[\"5035550143\"]");
    CHECK_400(EVT1, "object.phones[0] must be an object", "wrong_type");
    patient("\"phones\":[{\"number\":\"5035550143\"},{\"number\":5035550143}]");
    CHECK_400(EVT1, "object.phones[1].number must be a string", "wrong_type");
    patient("\"phones\":[{\"number\":\"5035550143\",\"type\":1}]");
    CHECK_400(EVT1, "object.phones[0].type must be a string", "wrong_type");
    patient("\"address_line1\":1");
    CHECK_400(EVT1, "object.address_line1 must be a string", "wrong_type");
    patient("\"address_line2\":1");
    CHECK_400(EVT1, "object.address_line2 must be a string", "wrong_type");
    patient("\"address_city\":1");
    CHECK_400(EVT1, "object.address_city must be a string", "wrong_type");
    patient("\"address_state\":1");
    CHECK_400(EVT1, "object.address_state must be a string", "wrong_type");
    patient("\"address_zip\":97209");
    CHECK_400(EVT1, "object.address_zip must be a string", "wrong_type");
    patient("\"address_country\":1");
    CHECK_400(EVT1, "object.address_country must be a string", "wrong_type");
    patient("\"practitioner\":\"pra-1\"");
    CHECK_400(EVT1, "object.practitioner must be an object", "wrong_type");
    patient("\"practitioner\":{\"id\":1}");
    CHECK_400(EVT1, "object.practitioner.id must be a string", "wrong_type");
    patient("\"practitioner\":{\"name\":[]}");
    CHECK_400(EVT1, "object.practitioner.name must be a string",
              "wrong_type");
    patient("\"health_insurance_payer_name\":1");
    CHECK_400(EVT1, "object.health_insurance_payer_name must be a string",
              "wrong_type");
    patient("\"health_insurance_payer_id\":60054");
    CHECK_400(EVT1, "object.health_insurance_payer_id must be a string",
              "wrong_type");
    patient("\"health_insurance_group_id\":1");
    CHECK_400(EVT1, "object.health_insurance_group_id must be a string",
              "wrong_type");
    patient("\"health_insurance_member_id\":1");
    CHECK_400(EVT1, "object.health_insurance_member_id must be a string",
              "wrong_type");
    patient("\"membership_status\":1");
    CHECK_400(EVT1, "object.membership_status must be a string",
              "wrong_type");
    patient("\"external_link_id\":1");
    CHECK_400(EVT1, "object.external_link_id must be a string",
              "wrong_type");

    /* first problem in document order */
    patient("\"email\":1,\"first_name\":2");
    CHECK_400(EVT1, "object.first_name must be a string", "wrong_type");

    /* null is absent; unknown members are ignored */
    CHECK_INT(patient("\"first_name\":null,\"dob\":null,\"phones\":null,"
                      "\"practitioner\":null,\"integration_record_id\":5,"
                      "\"whatever\":{\"x\":[1]}"), 200);
    CHECK_CONTAINS(in.job.data, in.job.len,
                   "\"patient\":{\"source_id\":\"pat-1\"}}");
}


/* PHI never reaches a 400 or the notes: only paths do. */
static void
test_no_phi(void)
{
    patient("\"first_name\":\"Maria\",\"last_name\":\"Lopez\","
            "\"dob\":\"1958-13-12\"");
    CHECK_400(EVT1, "object.dob must be a date", "bad_value");
    CHECK_NOT_CONTAINS(in.body.data, in.body.len, "Maria");
    CHECK_NOT_CONTAINS(in.body.data, in.body.len, "1958");

    CHECK_INT(patient("\"email\":\"maria at example\","
                      "\"phones\":[{\"number\":\"555-01\",\"type\":\"home\"}],"
                      "\"address_state\":\"Oregonia\","
                      "\"address_zip\":\"972\","
                      "\"address_country\":\"USA\""), 200);
    CHECK_MEM(in.notes.data, in.notes.len,
              "object.email: not an email address; "
              "object.phones[0].number: not a phone number; "
              "object.address_state: not a US state; "
              "object.address_zip: not a ZIP code; "
              "object.address_country: not an ISO country; ");
    CHECK_NOT_CONTAINS(in.job.data, in.job.len, "maria");
    CHECK_NOT_CONTAINS(in.job.data, in.job.len, "555");
    CHECK_NOT_CONTAINS(in.job.data, in.job.len, "address");

    /* an unreadable created_at is dropped, noted, not a 400 */
    CHECK_INT(runs("{" EVT1 ",\"type\":\"patient.created\","
                   "\"created_at\":\"yesterday\","
                   "\"object\":{\"id\":\"pat-1\"}}"), 200);
    CHECK_MEM(in.notes.data, in.notes.len, "created_at: not a date-time; ");
    CHECK_NOT_CONTAINS(in.job.data, in.job.len, "created_at");
}


static void
test_normalized(void)
{
    /* phones: E.164, types any case, unknown types "other" */
    CHECK_INT(patient("\"phones\":[{\"number\":\"(503) 555-0199\","
                      "\"type\":\"OFFICE\"},"
                      "{\"number\":\"+44 20 7946 0958\",\"type\":\"fax\"},"
                      "{\"number\":\"503.555.0143\"},"
                      "{\"number\":\"  \",\"type\":\"home\"},"
                      "{\"number\":\"5035550100\",\"type\":\" Mobile \"}]"),
              200);
    CHECK_CONTAINS(in.job.data, in.job.len,
                   "\"phones\":[{\"type\":\"office\","
                   "\"number\":\"+15035550199\"},"
                   "{\"type\":\"other\",\"number\":\"+442079460958\"},"
                   "{\"type\":\"other\",\"number\":\"+15035550143\"},"
                   "{\"type\":\"mobile\",\"number\":\"+15035550100\"}]");

    /* more phones than the patient holds: the rest noted */
    CHECK_INT(patient("\"phones\":[{\"number\":\"5035550101\"},"
                      "{\"number\":\"5035550102\"},"
                      "{\"number\":\"5035550103\"},"
                      "{\"number\":\"5035550104\"},"
                      "{\"number\":\"5035550105\"},"
                      "{\"number\":\"5035550106\"},"
                      "{\"number\":\"5035550107\"},"
                      "{\"number\":\"5035550108\"},"
                      "{\"number\":\"5035550109\"}]"), 200);
    CHECK_CONTAINS(in.job.data, in.job.len, "+15035550108");
    CHECK_NOT_CONTAINS(in.job.data, in.job.len, "+15035550109");
    CHECK_MEM(in.notes.data, in.notes.len,
              "object.phones[8].number: too many phones; ");

    /* gender: sex first, then gender; intersex is other */
    CHECK_INT(patient("\"sex\":\"intersex\",\"gender\":\"female\""), 200);
    CHECK_CONTAINS(in.job.data, in.job.len, "\"gender\":\"other\"");
    CHECK_INT(patient("\"sex\":null,\"gender\":\"Male\""), 200);
    CHECK_CONTAINS(in.job.data, in.job.len, "\"gender\":\"male\"");
    CHECK_INT(patient("\"sex\":\" \",\"gender\":\"F\""), 200);
    CHECK_CONTAINS(in.job.data, in.job.len, "\"gender\":\"female\"");
    CHECK_INT(patient("\"sex\":\"MALE\",\"gender\":\"woman\""), 200);
    CHECK_CONTAINS(in.job.data, in.job.len, "\"gender\":\"male\"");

    /* names trimmed and collapsed, email lower-cased, state and zip */
    CHECK_INT(patient("\"first_name\":\"  Mary   Ann \",\"title\":\"Dr.\","
                      "\"suffix\":\" Jr. \",\"email\":\" M.L@Example.ORG\","
                      "\"address_state\":\"oregon\","
                      "\"address_zip\":\"972091234\","
                      "\"address_country\":\"ca\","
                      "\"external_link_id\":\"003xx\","
                      "\"practitioner\":{\"id\":\"pra-1\"}"), 200);
    CHECK_CONTAINS(in.job.data, in.job.len,
                   "\"patient\":{\"source_id\":\"pat-1\","
                   "\"first_name\":\"Mary Ann\",\"prefix\":\"Dr.\","
                   "\"suffix\":\"Jr.\",\"email\":\"m.l@example.org\","
                   "\"address\":{\"state\":\"OR\",\"zip\":\"97209-1234\","
                   "\"country\":\"CA\"},"
                   "\"practitioner\":{\"id\":\"pra-1\"},"
                   "\"external_link_id\":\"003xx\"}}");

    /* a dob as a date-time keeps its date part as written */
    CHECK_INT(patient("\"dob\":\"1958-04-12T00:00:00-08:00\""), 200);
    CHECK_CONTAINS(in.job.data, in.job.len, "\"dob\":\"1958-04-12\"");
}


/* One cs_ingest_t across kinds and outcomes. */
static void
test_reuse(void)
{
    int      i, ok;
    char    *body, *ha;
    size_t   n, ha_len;

    body = fixture("patient.created.json", &n);
    ha = cs_t_read(CS_FIXTURES "/helparound/enrollment.json", &ha_len);
    ok = 1;

    for (i = 0; i < 60; i++) {
        switch (i % 3) {
        case 0:
            ok &= run(body, n) == 200 && in.enqueue == 1
                  && in.job.len == sizeof(CREATED_JOB) - 1;
            break;
        case 1:
            ok &= run(body, n - 5) == 400 && in.enqueue == 0
                  && in.job.len == 0 && in.idem_key[0] == '\0';
            break;
        default:
            ok &= runs("{\"id\":\"x\",\"type\":\"invoice.paid\","
                       "\"object\":{}}") == 200
                  && in.enqueue == 0 && in.job.len == 0;
        }

        /* HelpAround successes are queued too */
        in.now_ms = 1629708325123ULL;
        CHECK_INT(cs_ingest(CS_WEBHOOK_HELPAROUND_ENROLLMENT, &conf,
                            (const unsigned char *) ha, ha_len, &in), CS_OK);
        ok &= in.status == 200 && in.enqueue == 1 && in.job.len > 0;
    }

    CHECK(ok);
    free(body);
    free(ha);
}


int
main(void)
{
    cs_ingest_init(&in);

    test_fixtures();
    test_types();
    test_required();
    test_optional_types();
    test_no_phi();
    test_normalized();
    test_reuse();

    cs_ingest_free(&in);

    CS_TEST_DONE();
}
