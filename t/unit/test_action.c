/*
 * cs_ingest(CS_API_*): the CRM's action bodies, their 202 answers and
 * envelopes, and every rule of spec/inbound.md §4.
 */

#include <jansson.h>

#include "cs_action.h"
#include "cs_ingest.h"
#include "cs_test.h"

#define JOB_ID  "01FDQ0Y5R2K8ZQ3G4V6W7X8Y9Z"
#define SF15    "003Ab00000XyZ12"
#define SF18    "003Ab00000XyZ12AAA"

/* python3: hashlib.sha256(b"01FDQ0Y5R2K8ZQ3G4V6W7X8Y9Z").hexdigest() */
#define JOB_KEY                                                               \
    "d49fd6b1785f1b472b9e8a3aa6600d6d033fcc015b4731ae508e571b38867897"

#define ANSWER_202                                                            \
    "{\"job_id\":\"" JOB_ID "\","                                             \
    "\"status_url\":\"/caresync/jobs/" JOB_ID "\"}"

#define JOB_HEAD(type)                                                        \
    "{\"v\":1,\"id\":\"" JOB_ID "\",\"type\":\"" type "\","                   \
    "\"received_at\":\"2021-08-23T08:45:25.123Z\","                          \
    "\"idempotency_key\":\"" JOB_KEY "\","

static cs_ingest_t       in;
static cs_ingest_conf_t  conf = {
    .status_base = "/caresync/jobs/", .status_base_len = 15
};


static int
runs(cs_webhook_t kind, const char *body)
{
    in.now_ms = 1629708325123ULL;
    memcpy(in.job_id, JOB_ID, 27);

    CHECK_INT(cs_ingest(kind, &conf, (const unsigned char *) body,
                        strlen(body), &in), CS_OK);

    return in.status;
}


#define CHECK_400(msg, why)                                                   \
    do {                                                                      \
        CHECK_INT(in.status, 400);                                            \
        CHECK_MEM(in.body.data, in.body.len,                                  \
                  "{\"errorMessage\":\"" msg "\"}");                        \
        CHECK_STR(in.reason, why);                                            \
        CHECK_INT(in.enqueue, 0);                                             \
        CHECK_INT(in.job.len, 0);                                             \
        CHECK_STR(in.job_type, NULL);                                         \
    } while (0)

#define CHECK_202(type)                                                       \
    do {                                                                      \
        CHECK_INT(in.status, 202);                                            \
        CHECK_MEM(in.body.data, in.body.len, ANSWER_202);                     \
        CHECK_INT(in.enqueue, 1);                                             \
        CHECK_STR(in.job_type, type);                                         \
        CHECK_STR(in.idem_key, JOB_KEY);                                      \
    } while (0)


static void
test_valid(void)
{
    json_t  *job;

    runs(CS_API_HEALTHSHERPA_SYNC,
         "{\"contact_id\":\"" SF18 "\",\"agent\":\"ana@example.org\"}");
    CHECK_202("healthsherpa.sync");
    CHECK_MEM(in.job.data, in.job.len,
              JOB_HEAD("healthsherpa.sync")
              "\"source\":{\"system\":\"crm\","
              "\"event\":\"healthsherpa-sync\"},"
              "\"action\":{\"contact_id\":\"" SF18 "\","
              "\"agent\":\"ana@example.org\"}}");

    runs(CS_API_HINT_SYNC, "{\"contact_id\":\"" SF15 "\"}");
    CHECK_202("hint.sync");
    CHECK_MEM(in.job.data, in.job.len,
              JOB_HEAD("hint.sync")
              "\"source\":{\"system\":\"crm\",\"event\":\"hint-sync\"},"
              "\"action\":{\"contact_id\":\"" SF15 "\"}}");

    runs(CS_API_HINT_SYNC, "{\"contact_id\":\"" SF15 "\","
         "\"patient_id\":\"pat-8Kd02LmQz1\",\"create\":false}");
    CHECK_202("hint.sync");
    CHECK_CONTAINS(in.job.data, in.job.len,
                   "\"action\":{\"contact_id\":\"" SF15 "\","
                   "\"patient_id\":\"pat-8Kd02LmQz1\",\"create\":false}}");

    runs(CS_API_HINT_SYNC, "{\"contact_id\":\"" SF15 "\",\"create\":true,"
         "\"patient_id\":null}");
    CHECK_202("hint.sync");
    CHECK_CONTAINS(in.job.data, in.job.len,
                   "\"action\":{\"contact_id\":\"" SF15 "\","
                   "\"create\":true}}");

    runs(CS_API_HINT_UNLINK, "{\"contact_id\":\"" SF18 "\"}");
    CHECK_202("hint.unlink");
    CHECK_MEM(in.job.data, in.job.len,
              JOB_HEAD("hint.unlink")
              "\"source\":{\"system\":\"crm\",\"event\":\"hint-unlink\"},"
              "\"action\":{\"contact_id\":\"" SF18 "\"}}");

    runs(CS_API_CRM_CONTACT_CHANGED, "{\"contact_id\":\"" SF18 "\"}");
    CHECK_202("crm.contact_changed");
    CHECK_MEM(in.job.data, in.job.len,
              JOB_HEAD("crm.contact_changed")
              "\"source\":{\"system\":\"crm\","
              "\"event\":\"crm-contact-changed\"},"
              "\"action\":{\"contact_id\":\"" SF18 "\"}}");

    /* others ignore unknown members, even ones another action knows */
    runs(CS_API_HINT_UNLINK, "{\"contact_id\":\"" SF18 "\",\"agent\":5,"
         "\"create\":\"x\",\"patient_id\":[],\"extra\":{}}");
    CHECK_202("hint.unlink");
    CHECK_CONTAINS(in.job.data, in.job.len,
                   "\"action\":{\"contact_id\":\"" SF18 "\"}}");
    runs(CS_API_CRM_CONTACT_CHANGED, "{\"contact_id\":\"" SF18 "\","
         "\"agent\":5}");
    CHECK_202("crm.contact_changed");

    /* trimmed; no patient; raw when configured */
    conf.keep_raw = 1;
    runs(CS_API_HEALTHSHERPA_SYNC,
         "{\"contact_id\":\" " SF15 " \",\"agent\":\" 005xx0000012345 \"}");
    CHECK_202("healthsherpa.sync");
    job = json_loadb(in.job.data, in.job.len, JSON_REJECT_DUPLICATES, NULL);
    CHECK(job != NULL);
    CHECK(json_object_get(job, "patient") == NULL);
    CHECK_STR(json_string_value(json_object_get(json_object_get(job,
              "action"), "contact_id")), SF15);
    CHECK_STR(json_string_value(json_object_get(json_object_get(job,
              "action"), "agent")), "005xx0000012345");
    CHECK_STR(json_string_value(json_object_get(json_object_get(job, "raw"),
              "agent")), " 005xx0000012345 ");
    json_decref(job);
    conf.keep_raw = 0;

    /* status_url: the configured base, escaped; none configured */
    conf.status_base = "/jobs\"/";
    conf.status_base_len = 7;
    runs(CS_API_HINT_UNLINK, "{\"contact_id\":\"" SF18 "\"}");
    CHECK_MEM(in.body.data, in.body.len,
              "{\"job_id\":\"" JOB_ID "\","
              "\"status_url\":\"/jobs\\\"/" JOB_ID "\"}");
    conf.status_base = NULL;
    conf.status_base_len = 0;
    runs(CS_API_HINT_UNLINK, "{\"contact_id\":\"" SF18 "\"}");
    CHECK_MEM(in.body.data, in.body.len,
              "{\"job_id\":\"" JOB_ID "\",\"status_url\":\"" JOB_ID "\"}");
    conf.status_base = "/caresync/jobs/";
    conf.status_base_len = 15;
}


static void
test_contact_id(void)
{
    int            i;
    cs_webhook_t   kinds[] = {
        CS_API_HEALTHSHERPA_SYNC, CS_API_HINT_SYNC, CS_API_HINT_UNLINK,
        CS_API_CRM_CONTACT_CHANGED
    };

    for (i = 0; i < 4; i++) {
        runs(kinds[i], "{}");
        CHECK_400("contact_id is required", "missing_field");
        runs(kinds[i], "{\"contact_id\":null,\"agent\":\"a\"}");
        CHECK_400("contact_id is required", "missing_field");
        runs(kinds[i], "{\"contact_id\":\"  \"}");
        CHECK_400("contact_id is required", "missing_field");
        runs(kinds[i], "{\"contact_id\":3}");
        CHECK_400("contact_id must be a string", "wrong_type");
        runs(kinds[i], "{\"contact_id\":[\"" SF18 "\"]}");
        CHECK_400("contact_id must be a string", "wrong_type");
        runs(kinds[i], "{\"contact_id\":\"003Ab00000XyZ1\"}");       /* 14 */
        CHECK_400("contact_id must be a 15- or 18-character Salesforce id",
                  "bad_value");
        runs(kinds[i], "{\"contact_id\":\"003Ab00000XyZ12A\"}");     /* 16 */
        CHECK_400("contact_id must be a 15- or 18-character Salesforce id",
                  "bad_value");
        runs(kinds[i], "{\"contact_id\":\"003Ab00000XyZ12AAAA\"}");  /* 19 */
        CHECK_400("contact_id must be a 15- or 18-character Salesforce id",
                  "bad_value");
        runs(kinds[i], "{\"contact_id\":\"003Ab00000-yZ12\"}");
        CHECK_400("contact_id must be a 15- or 18-character Salesforce id",
                  "bad_value");
        runs(kinds[i], "{\"contact_id\":\"003Ab00000 yZ12\"}");
        CHECK_400("contact_id must be a 15- or 18-character Salesforce id",
                  "bad_value");
        runs(kinds[i], "{\"contact_id\":\"003Ab00000\\u00e9yZ1\"}");
        CHECK_400("contact_id must be a 15- or 18-character Salesforce id",
                  "bad_value");

        /* body-level: no "data" for actions */
        runs(kinds[i], "{");
        CHECK_400("body is not valid JSON", "bad_json");
        runs(kinds[i], "[\"" SF18 "\"]");
        CHECK_400("body must be a JSON object", "not_object");
        runs(kinds[i], "{\"contact_id\":\"" SF18 "\","
                       "\"contact_id\":\"" SF15 "\"}");
        CHECK_400("body has a duplicate key", "duplicate_key");
    }
}


static void
test_agent(void)
{
    char  body[512];

    runs(CS_API_HEALTHSHERPA_SYNC, "{\"contact_id\":\"" SF18 "\"}");
    CHECK_400("agent is required", "missing_field");
    runs(CS_API_HEALTHSHERPA_SYNC,
         "{\"contact_id\":\"" SF18 "\",\"agent\":\"\"}");
    CHECK_400("agent is required", "missing_field");
    runs(CS_API_HEALTHSHERPA_SYNC,
         "{\"contact_id\":\"" SF18 "\",\"agent\":null}");
    CHECK_400("agent is required", "missing_field");
    runs(CS_API_HEALTHSHERPA_SYNC,
         "{\"contact_id\":\"" SF18 "\",\"agent\":42}");
    CHECK_400("agent must be a string", "wrong_type");

    /* contact_id is checked first */
    runs(CS_API_HEALTHSHERPA_SYNC, "{\"agent\":42}");
    CHECK_400("contact_id is required", "missing_field");

    /* 254 bytes pass, 255 do not */
    snprintf(body, sizeof(body), "{\"contact_id\":\"" SF18 "\","
             "\"agent\":\"%0254d\"}", 0);
    runs(CS_API_HEALTHSHERPA_SYNC, body);
    CHECK_202("healthsherpa.sync");
    CHECK_INT(in.agent_len, 254);
    snprintf(body, sizeof(body), "{\"contact_id\":\"" SF18 "\","
             "\"agent\":\"%0255d\"}", 0);
    runs(CS_API_HEALTHSHERPA_SYNC, body);
    CHECK_400("agent is too long", "too_long");
    CHECK_INT(in.agent_len, 0);

    /* the agent the job carries, for the edge's check: trimmed, decoded */
    runs(CS_API_HEALTHSHERPA_SYNC, "{\"contact_id\":\"" SF18 "\","
         "\"agent\":\" Ana\\u0040Example.org \"}");
    CHECK_202("healthsherpa.sync");
    CHECK_MEM(in.agent, in.agent_len, "Ana@Example.org");
    CHECK_INT(in.agent[in.agent_len], '\0');

    /* other actions act for no agent, whatever their body says */
    runs(CS_API_HINT_SYNC, "{\"contact_id\":\"" SF18 "\","
         "\"agent\":\"ana@example.org\"}");
    CHECK_202("hint.sync");
    CHECK_INT(in.agent_len, 0);
    CHECK_STR(in.agent, "");
}


/* The 202 of a repeated request, for the first request's job id. */
static void
test_answer_202(void)
{
    cs_buf_t  b;

    cs_buf_init(&b);
    cs_ingest_answer_202(&b, "/ops/caresync/jobs/", 19, JOB_ID, 26);
    CHECK_MEM(b.data, b.len, "{\"job_id\":\"" JOB_ID "\","
              "\"status_url\":\"/ops/caresync/jobs/" JOB_ID "\"}");

    /* the same bytes cs_ingest() answers */
    runs(CS_API_HINT_UNLINK, "{\"contact_id\":\"" SF18 "\"}");
    cs_buf_reset(&b);
    cs_ingest_answer_202(&b, conf.status_base, conf.status_base_len,
                         JOB_ID, 26);
    CHECK_MEM(b.data, b.len, ANSWER_202);
    CHECK_MEM(in.body.data, in.body.len, ANSWER_202);
    cs_buf_free(&b);
}


static void
test_hint_sync(void)
{
    runs(CS_API_HINT_SYNC, "{\"contact_id\":\"" SF18 "\",\"patient_id\":5}");
    CHECK_400("patient_id must be a string", "wrong_type");
    runs(CS_API_HINT_SYNC,
         "{\"contact_id\":\"" SF18 "\",\"patient_id\":\"8Kd02LmQz1\"}");
    CHECK_400("patient_id must be a Hint patient id", "bad_value");
    runs(CS_API_HINT_SYNC,
         "{\"contact_id\":\"" SF18 "\",\"patient_id\":\"pat-\"}");
    CHECK_400("patient_id must be a Hint patient id", "bad_value");
    runs(CS_API_HINT_SYNC,
         "{\"contact_id\":\"" SF18 "\",\"patient_id\":\"pat-a/b\"}");
    CHECK_400("patient_id must be a Hint patient id", "bad_value");
    runs(CS_API_HINT_SYNC,
         "{\"contact_id\":\"" SF18 "\",\"create\":\"true\"}");
    CHECK_400("create must be a boolean", "wrong_type");
    runs(CS_API_HINT_SYNC,
         "{\"contact_id\":\"" SF18 "\",\"create\":1}");
    CHECK_400("create must be a boolean", "wrong_type");

    /* blank patient_id is absent */
    runs(CS_API_HINT_SYNC,
         "{\"contact_id\":\"" SF18 "\",\"patient_id\":\" \"}");
    CHECK_202("hint.sync");
    CHECK_NOT_CONTAINS(in.job.data, in.job.len, "patient_id");
}


/* the console's replay: a dead letter's id, who asked; no contact */
static void
test_dlq_replay(void)
{
    conf.actor = "token-0123abcd";
    conf.actor_len = 14;

    runs(CS_API_DLQ_REPLAY, "{\"dead_id\":\" 1700000000000-3 \"}");
    CHECK_202("ops.dlq_replay");
    CHECK_MEM(in.job.data, in.job.len,
              JOB_HEAD("ops.dlq_replay")
              "\"source\":{\"system\":\"crm\",\"event\":\"dlq-replay\"},"
              "\"action\":{\"dead_id\":\"1700000000000-3\","
              "\"actor\":\"token-0123abcd\"}}");

    /* an actor is only ever the edge's, and only for operators */
    runs(CS_API_HINT_UNLINK, "{\"contact_id\":\"" SF18 "\"}");
    CHECK_CONTAINS(in.job.data, in.job.len,
                   "\"action\":{\"contact_id\":\"" SF18 "\"}}");
    runs(CS_API_DLQ_REPLAY, "{\"dead_id\":\"1-0\",\"actor\":\"me\"}");
    CHECK_CONTAINS(in.job.data, in.job.len, "\"actor\":\"token-0123abcd\"");

    runs(CS_API_DLQ_REPLAY, "{}");
    CHECK_400("dead_id is required", "missing_field");
    runs(CS_API_DLQ_REPLAY, "{\"dead_id\":5}");
    CHECK_400("dead_id must be a string", "wrong_type");

    {
        size_t       i;
        const char  *bad[] = {
            "{\"dead_id\":\"1700000000000\"}",
            "{\"dead_id\":\"-1\"}",
            "{\"dead_id\":\"1-\"}",
            "{\"dead_id\":\"1-2-3\"}",
            "{\"dead_id\":\"1-a\"}",
            "{\"dead_id\":\"+\"}",
            "{\"dead_id\":\"1-0 OR 1\"}",
            "{\"dead_id\":\"123456789012345678901-12345678901234567890\"}",
        };

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            runs(CS_API_DLQ_REPLAY, bad[i]);
            CHECK_400("dead_id must be a dead letter's id", "bad_value");
        }
    }

    /* the console's login, and the callback's code */
    runs(CS_API_HS_LOGIN, "{\"agent\":\" a@example.org \"}");
    CHECK_202("ops.hs_login");
    CHECK_CONTAINS(in.job.data, in.job.len,
                   "\"action\":{\"agent\":\"a@example.org\","
                   "\"actor\":\"token-0123abcd\"}}");
    runs(CS_API_HS_LOGIN, "{}");
    CHECK_400("agent is required", "missing_field");

    runs(CS_API_HS_EXCHANGE, "{\"state\":\"0123456789abcdef0123456789abcdef\","
         "\"code\":\"fake-code-a@example.org\"}");
    CHECK_202("ops.hs_exchange");
    CHECK_CONTAINS(in.job.data, in.job.len,
                   "\"action\":{\"state\":\"0123456789abcdef0123456789abcdef\","
                   "\"code\":\"fake-code-a@example.org\",");
    runs(CS_API_HS_EXCHANGE, "{\"state\":\"0123456789ABCDEF0123456789abcdef\","
         "\"code\":\"x\"}");
    CHECK_400("state must be a login's state", "bad_value");
    runs(CS_API_HS_EXCHANGE, "{\"state\":\"0123456789abcdef0123456789abcde\","
         "\"code\":\"x\"}");
    CHECK_400("state must be a login's state", "bad_value");
    runs(CS_API_HS_EXCHANGE, "{\"state\":\"0123456789abcdef0123456789abcdef\","
         "\"code\":\"a b\"}");
    CHECK_400("code must be an authorization code", "bad_value");
    runs(CS_API_HS_EXCHANGE, "{\"state\":\"0123456789abcdef0123456789abcdef\","
         "\"code\":\"a\\u0000b\"}");
    CHECK_INT(in.status, 400);
    runs(CS_API_HS_EXCHANGE, "{\"state\":\"0123456789abcdef0123456789abcdef\"}");
    CHECK_400("code is required", "missing_field");

    CHECK_INT(cs_action_ops(CS_API_HS_LOGIN), 1);
    CHECK_INT(cs_action_ops(CS_API_HS_EXCHANGE), 1);
    CHECK_INT(cs_action_ops(CS_API_DLQ_REPLAY), 1);
    CHECK_INT(cs_action_ops(CS_API_HINT_SYNC), 0);
    CHECK_INT(cs_action_find("dlq-replay", 10), CS_API_DLQ_REPLAY);

    conf.actor = NULL;
    conf.actor_len = 0;
}


int
main(void)
{
    cs_ingest_init(&in);

    test_valid();
    test_contact_id();
    test_agent();
    test_hint_sync();
    test_answer_202();
    test_dlq_replay();

    cs_ingest_free(&in);

    CS_TEST_DONE();
}
