/*
 * cs_ingest(): body-level rejections, the exact answers for the shared
 * fixtures, the envelope, and reuse of one cs_ingest_t.
 */

#include <jansson.h>

#include "cs_ingest.h"
#include "cs_test.h"

#define ENROLL  CS_WEBHOOK_HELPAROUND_ENROLLMENT
#define ACTION  CS_WEBHOOK_HELPAROUND_USER_ACTION

#define ANSWER_200                                                            \
    "{\"success\":true,\"data\":{"                                            \
    "\"supportProgramId\":\"78ef982b-00ea-39c2-a875-f549c40e92ad\","          \
    "\"patientId\":\"ha61236024160af\","                                      \
    "\"externalId\":\"4aadb997-e9fd-3909-a2f0-833b821544bd\"}}"

/* The fixture's envelope up to "raw", keys in spec order. */
#define ENROLL_JOB                                                            \
    "{\"v\":1,\"id\":\"01FDQ0Y5R2K8ZQ3G4V6W7X8Y9Z\","                         \
    "\"type\":\"helparound.enrollment\","                                     \
    "\"received_at\":\"2021-08-23T08:45:25.123Z\","                           \
    "\"idempotency_key\":"                                                    \
    "\"c6d28ab105becad9ecf6ac70b8574d7128c260f9831049a532c9ca5f4b820ab2\","   \
    "\"source\":{\"system\":\"helparound\","                                  \
    "\"event\":\"HelpAround.Patient.CompleteEnrollment\","                    \
    "\"program_id\":\"78ef982b-00ea-39c2-a875-f549c40e92ad\","                \
    "\"sent_at\":\"2021-08-23T08:45:24.000Z\"},"                              \
    "\"patient\":{\"source_id\":\"ha61236024160af\","                         \
    "\"external_id\":\"4aadb997-e9fd-3909-a2f0-833b821544bd\","               \
    "\"external_ids\":[{\"source\":\"Source\","                               \
    "\"id\":\"4aadb997-e9fd-3909-a2f0-833b821544bd\"}],"                      \
    "\"first_name\":\"John\",\"last_name\":\"Doe\",\"dob\":\"2021-03-01\","   \
    "\"gender\":\"male\",\"email\":\"test@gmail.com\","                       \
    "\"phones\":[{\"type\":\"mobile\",\"number\":\"+12027953213\"}],"         \
    "\"address\":{\"line1\":\"test\",\"line2\":\"12\",\"city\":\"test\","     \
    "\"state\":\"AL\",\"zip\":\"12345\",\"country\":\"US\"},"                 \
    "\"language\":\"English\",\"contact_method\":\"Phone\","                  \
    "\"call_time\":\"Morning\","                                              \
    "\"caregiver\":{\"name\":\"test\",\"relationship\":\"Parent\","           \
    "\"phone\":\"+12027953213\",\"email\":\"test@gmail.com\"},"               \
    "\"insurance\":{\"primary\":{\"carrier\":\"test\",\"member_id\":\"123\"," \
    "\"group_num\":\"ds43\",\"card_name\":\"test\","                          \
    "\"card_dob\":\"2021-03-01\","                                            \
    "\"front_image_id\":\"7b20a933-9292-41e4-91ea-59eba72f2221\","            \
    "\"back_image_id\":\"eb6f8886-11e0-4339-801a-ee645351042b\"},"            \
    "\"secondary\":{\"carrier\":\"test2\",\"member_id\":\"234234\","          \
    "\"group_num\":\"hg89\",\"card_name\":\"test2\","                         \
    "\"card_dob\":\"2021-03-01\","                                            \
    "\"front_image_id\":\"fc497e96-9f09-4c2a-a964-89c6f7473f4d\","            \
    "\"back_image_id\":\"5405ec11-c9d0-4279-82db-2f70f959b904\","             \
    "\"status\":\"active\"}},"                                                \
    "\"consents\":[{\"name\":\"communication\",\"value\":true,"               \
    "\"at\":\"2021-03-01T00:00:00.000Z\"},{\"name\":\"sharePHI\","            \
    "\"value\":true,\"at\":\"2021-03-01T00:00:00.000Z\"}],"                   \
    "\"signature\":{\"at\":\"2021-03-01T00:00:00.000Z\","                     \
    "\"image_id\":\"85219935-52b6-41a4-82ca-2f32ed709e5c\"}}"

static cs_ingest_t       in;
static cs_ingest_conf_t  conf = {
    .partner_source = "Partner", .partner_source_len = 7, .keep_raw = 1
};


static int
run(cs_webhook_t kind, const void *body, size_t len)
{
    in.now_ms = 1629708325123ULL;
    memcpy(in.job_id, "01FDQ0Y5R2K8ZQ3G4V6W7X8Y9Z", 27);

    CHECK_INT(cs_ingest(kind, &conf, body, len, &in), CS_OK);

    return in.status;
}


static int
runs(cs_webhook_t kind, const char *body)
{
    return run(kind, body, strlen(body));
}


static char *
fixture(const char *name, size_t *len)
{
    char  path[256];

    snprintf(path, sizeof(path), "%s/helparound/%s", CS_FIXTURES, name);

    return cs_t_read(path, len);
}


#define CHECK_400(msg, why)                                                   \
    do {                                                                      \
        CHECK_INT(in.status, 400);                                            \
        CHECK_MEM(in.body.data, in.body.len,                                  \
                  "{\"errorMessage\":\"" msg "\",\"data\":{}}");              \
        CHECK_STR(in.reason, why);                                            \
        CHECK_INT(in.job.len, 0);                                             \
    } while (0)


static void
test_body_errors(void)
{
    int      i;
    char     deep[256];
    char    *seed;
    size_t   n;

    runs(ENROLL, "{");
    CHECK_400("body is not valid JSON", "bad_json");
    runs(ENROLL, "hello");
    CHECK_400("body is not valid JSON", "bad_json");
    runs(ENROLL, "");
    CHECK_400("body is not valid JSON", "bad_json");
    runs(ENROLL, "   ");
    CHECK_400("body is not valid JSON", "bad_json");
    runs(ENROLL, "{\"a\":1}{}");
    CHECK_400("body is not valid JSON", "bad_json");
    runs(ENROLL, "{\"a\":1 2}");
    CHECK_400("body is not valid JSON", "bad_json");
    runs(ENROLL, "{\"a\":tr ue}");
    CHECK_400("body is not valid JSON", "bad_json");
    runs(ENROLL, "{\"a\":1e999}");
    CHECK_400("body is not valid JSON", "bad_json");
    runs(ENROLL, "{\"a\":\"\\ud800\"}");
    CHECK_400("body is not valid JSON", "bad_json");
    runs(ENROLL, "{\"a\":\"x\ny\"}");
    CHECK_400("body is not valid JSON", "bad_json");

    /* the seed's user action, as printed: one brace too many */
    seed = fixture("user-action.seed-as-printed.txt", &n);
    run(ACTION, seed, n);
    CHECK_400("body is not valid JSON", "bad_json");
    free(seed);

    runs(ENROLL, "{\"a\":\"caf\xc3\"}");
    CHECK_400("body is not valid UTF-8", "bad_utf8");
    runs(ENROLL, "{\"a\":\"\xff\"}");
    CHECK_400("body is not valid UTF-8", "bad_utf8");
    runs(ENROLL, "{\"a\":\"\xc0\x80\"}");                /* overlong NUL */
    CHECK_400("body is not valid UTF-8", "bad_utf8");
    runs(ENROLL, "{\"a\":\"\xed\xa0\x80\"}");            /* a surrogate */
    CHECK_400("body is not valid UTF-8", "bad_utf8");

    run(ENROLL, "{\"a\":\"x\0\"}", 9);
    CHECK_400("body contains a NUL character", "nul");
    run(ENROLL, "{\"a\":1}\0", 8);
    CHECK_400("body contains a NUL character", "nul");
    runs(ENROLL, "{\"a\":\"x\\u0000\"}");
    CHECK_400("body contains a NUL character", "nul");
    runs(ENROLL, "{\"a\\u0000\":1}");
    CHECK_400("body contains a NUL character", "nul");

    runs(ENROLL, "{\"a\":1,\"a\":1}");
    CHECK_400("body has a duplicate key", "duplicate_key");
    runs(ENROLL, "{\"event\":{\"patient\":{\"id\":\"x\",\"id\":\"y\"}}}");
    CHECK_400("body has a duplicate key", "duplicate_key");
    runs(ENROLL, "{\"a\":1,\"\\u0061\":2}");
    CHECK_400("body has a duplicate key", "duplicate_key");

    runs(ENROLL, "[]");
    CHECK_400("body must be a JSON object", "not_object");
    runs(ENROLL, "[{\"event\":{}}]");
    CHECK_400("body must be a JSON object", "not_object");
    runs(ENROLL, "\"event\"");
    CHECK_400("body must be a JSON object", "not_object");
    runs(ENROLL, " 42 ");
    CHECK_400("body must be a JSON object", "not_object");
    runs(ENROLL, "null");
    CHECK_400("body must be a JSON object", "not_object");

    /* depth: the object and 31 arrays is 32 levels, one more is 33 */
    strcpy(deep, "{\"a\":");
    for (i = 0; i < 31; i++) {
        strcat(deep, "[");
    }
    for (i = 0; i < 31; i++) {
        strcat(deep, "]");
    }
    strcat(deep, "}");
    runs(ENROLL, deep);
    CHECK_400("event.supportProgramId is required", "missing_field");

    deep[5] = '\0';
    for (i = 0; i < 32; i++) {
        strcat(deep, "[");
    }
    for (i = 0; i < 32; i++) {
        strcat(deep, "]");
    }
    strcat(deep, "}");
    runs(ENROLL, deep);
    CHECK_400("body is nested deeper than 32 levels", "too_deep");

    /* the configured number */
    conf.max_depth = 3;
    runs(ENROLL, "{\"a\":[[1]]}");
    CHECK_400("event.supportProgramId is required", "missing_field");
    runs(ENROLL, "{\"a\":[[[1]]]}");
    CHECK_400("body is nested deeper than 3 levels", "too_deep");
    runs(ENROLL, "{\"a\":\"[[[[[[\"}");
    CHECK_400("event.supportProgramId is required", "missing_field");

    /* above jansson's own limit, its refusal is reported the same way */
    conf.max_depth = 5000;
    {
        char  *p = malloc(2 * 3000 + 3);

        memset(p, '[', 3000);
        memset(p + 3000, ']', 3000);
        p[6000] = '\0';
        runs(ENROLL, p);
        CHECK_400("body is nested deeper than 5000 levels", "too_deep");
        free(p);
    }
    conf.max_depth = 0;

    /* values: the default, 10000, then the configured number */
    {
        size_t  k;
        char   *p = malloc(2 * 10000 + 16), *e;

        e = p + sprintf(p, "{\"a\":[1");
        for (k = 1; k < 9998; k++) {
            memcpy(e, ",1", 2);
            e += 2;
        }
        strcpy(e, "]}");
        runs(ENROLL, p);            /* the object, the array, 9998 ones */
        CHECK_400("event.supportProgramId is required", "missing_field");

        strcpy(e, ",1]}");
        runs(ENROLL, p);
        CHECK_400("body has more than 10000 values", "too_many_values");
        free(p);
    }

    conf.max_values = 3;
    runs(ENROLL, "{\"a\":{\"b\":\"c\"}}");
    CHECK_400("event.supportProgramId is required", "missing_field");
    runs(ENROLL, "{\"a\":{\"b\":[]}}");
    CHECK_400("event.supportProgramId is required", "missing_field");
    runs(ENROLL, "{\"a\":{\"b\":[1]}}");
    CHECK_400("body has more than 3 values", "too_many_values");

    /* before the parser: what it would refuse is refused for this first */
    runs(ENROLL, "[1,2,3,4,5 6");
    CHECK_400("body has more than 3 values", "too_many_values");
    conf.max_values = 0;
}


static void
test_enrollment(void)
{
    char     *body;
    size_t    n;
    json_t   *job, *raw, *orig;

    body = fixture("enrollment.json", &n);

    CHECK_INT(run(ENROLL, body, n), 200);
    CHECK_MEM(in.body.data, in.body.len, ANSWER_200);
    CHECK_STR(in.reason, NULL);
    CHECK_STR(in.job_type, "helparound.enrollment");
    CHECK_STR(in.idem_key,
        "c6d28ab105becad9ecf6ac70b8574d7128c260f9831049a532c9ca5f4b820ab2");
    CHECK_INT(in.notes.len, 0);

    /* the envelope, byte for byte up to the raw copy */
    CHECK(in.job.len > sizeof(ENROLL_JOB) + 8);
    CHECK_MEM(in.job.data, sizeof(ENROLL_JOB) - 1, ENROLL_JOB);
    CHECK_MEM(in.job.data + sizeof(ENROLL_JOB) - 1, 7, ",\"raw\":");

    /* and as JSON */
    job = json_loadb(in.job.data, in.job.len, JSON_REJECT_DUPLICATES, NULL);
    CHECK(job != NULL);
    CHECK_STR(json_string_value(json_object_get(json_object_get(job,
              "patient"), "dob")), "2021-03-01");
    CHECK_STR(json_string_value(json_object_get(json_array_get(
              json_object_get(json_object_get(job, "patient"), "phones"), 0),
              "number")), "+12027953213");
    CHECK_STR(json_string_value(json_object_get(json_object_get(
              json_object_get(job, "patient"), "address"), "line2")), "12");
    CHECK(json_object_get(job, "action") == NULL);

    /* raw: the body as sent, compact */
    raw = json_object_get(job, "raw");
    orig = json_loadb(body, n, 0, NULL);
    CHECK(json_equal(raw, orig));
    CHECK_NOT_CONTAINS(in.job.data, in.job.len, "\n");
    CHECK_NOT_CONTAINS(in.job.data, in.job.len, "\": ");
    CHECK_CONTAINS(in.job.data, in.job.len, "\"source\":\"Source \"");
    json_decref(orig);
    json_decref(job);

    CHECK_INT(in.raw_omitted, 0);

    /* raw only when asked for */
    conf.keep_raw = 0;
    CHECK_INT(run(ENROLL, body, n), 200);
    CHECK_MEM(in.job.data, in.job.len, ENROLL_JOB "}");
    CHECK_INT(in.raw_omitted, 0);
    conf.keep_raw = 1;

    /* and only up to max_raw bytes of it: the compact copy is 1486 */
    conf.max_raw = 1486;
    CHECK_INT(run(ENROLL, body, n), 200);
    CHECK_MEM(in.job.data + sizeof(ENROLL_JOB) - 1, 7, ",\"raw\":");
    CHECK_INT(in.raw_omitted, 0);

    conf.max_raw = 1485;
    CHECK_INT(run(ENROLL, body, n), 200);
    CHECK_MEM(in.body.data, in.body.len, ANSWER_200);
    /* the marker is read with the ids, before the PHI (cs_seal.h) */
    CHECK_CONTAINS(in.job.data, in.job.len,
                   "\"sent_at\":\"2021-08-23T08:45:24.000Z\"},"
                   "\"raw_omitted\":\"too_large\",\"patient\":{");
    CHECK_INT((long long) in.job.len,
              (long long) strlen(ENROLL_JOB ",\"raw_omitted\":\"too_large\"}"));
    CHECK_INT(in.raw_omitted, 1486);

    /* the marker says a copy was asked for: none without keep_raw */
    conf.keep_raw = 0;
    CHECK_INT(run(ENROLL, body, n), 200);
    CHECK_MEM(in.job.data, in.job.len, ENROLL_JOB "}");
    CHECK_INT(in.raw_omitted, 0);
    conf.keep_raw = 1;
    conf.max_raw = 0;

    free(body);
}


static void
test_user_action(void)
{
    char    *body;
    size_t   n;
    json_t  *job;

    body = fixture("user-action.json", &n);
    CHECK_INT(run(ACTION, body, n), 200);
    CHECK_MEM(in.body.data, in.body.len, ANSWER_200);
    CHECK_STR(in.job_type, "helparound.user_action");
    CHECK_STR(in.idem_key,
        "1c7ae25c8ad30ae15c3d2291e086dc83b03a39595499baab90be9fc9e729aa62");
    /* the action's ids are read before the PHI (cs_seal.h) */
    CHECK_CONTAINS(in.job.data, in.job.len,
                   "\"action\":{\"user_action\":\"viewedTracker\","
                   "\"at\":\"2021-08-23T08:45:24.000Z\"},"
                   "\"patient\":{\"source_id\":\"ha61236024160af\","
                   "\"external_id\":\"4aadb997-e9fd-3909-a2f0-833b821544bd\","
                   "\"external_ids\":[{\"source\":\"partner\","
                   "\"id\":\"4aadb997-e9fd-3909-a2f0-833b821544bd\"}],"
                   "\"phones\":[{\"type\":\"mobile\","
                   "\"number\":\"+12027953213\"}]},\"raw\":{");
    free(body);

    body = fixture("user-action.top-level.json", &n);
    CHECK_INT(run(ACTION, body, n), 200);
    CHECK_MEM(in.body.data, in.body.len, ANSWER_200);
    job = json_loadb(in.job.data, in.job.len, 0, NULL);
    CHECK_STR(json_string_value(json_object_get(json_object_get(job,
              "source"), "event")),
              "HelpAround.Patient.UserAction.ViewedTracker");
    json_decref(job);
    free(body);
}


/* Escapes in what comes back; no PHI in a 400. */
static void
test_escaping(void)
{
    runs(ENROLL, "{\"event\":{\"supportProgramId\":\"p\\\"1\","
                 "\"sendDate\":\"2021-08-23T08:45:24Z\",\"patient\":"
                 "{\"id\":\"a\\u00e9\\\\\",\"phoneNumber\":\"2027953213\","
                 "\"firstName\":\"John\",\"lastName\":\"Doe\"},"
                 "\"eventName\":\"HelpAround.Patient.CompleteEnrollment\"}}");
    CHECK_MEM(in.body.data, in.body.len,
              "{\"success\":true,\"data\":{\"supportProgramId\":\"p\\\"1\","
              "\"patientId\":\"a\xc3\xa9\\\\\","
              /* python3: uuid.uuid5(ns, 'p"1:a\xe9\\') */
              "\"externalId\":\"35d1c3d8-9417-579a-993f-a478662d53f3\"}}");

    runs(ENROLL, "{\"event\":{\"sendDate\":\"x\",\"patient\":"
                 "{\"id\":\"p\\\"</\",\"firstName\":\"John\"}}}");
    CHECK_MEM(in.body.data, in.body.len,
              "{\"errorMessage\":\"event.supportProgramId is required\","
              "\"data\":{\"patientId\":\"p\\\"</\"}}");
    CHECK_NOT_CONTAINS(in.body.data, in.body.len, "John");
}


/* One cs_ingest_t, many calls, with and without free/init between. */
static void
test_reuse(void)
{
    int      i, ok;
    char    *body;
    size_t   n;

    body = fixture("enrollment.json", &n);
    ok = 1;

    for (i = 0; i < 200; i++) {
        if (i % 3 == 0) {
            cs_ingest_free(&in);
            cs_ingest_init(&in);
        }

        if (i % 2) {
            ok &= run(ENROLL, body, n) == 200
                  && in.body.len == sizeof(ANSWER_200) - 1
                  && memcmp(in.body.data, ANSWER_200, in.body.len) == 0
                  && in.reason == NULL;
        } else {
            ok &= run(ENROLL, body, n - 10) == 400
                  && in.job.len == 0 && in.notes.len == 0
                  && in.idem_key[0] == '\0' && in.job_type == NULL;
        }
    }

    CHECK(ok);
    free(body);
}


/*
 * A body whose tree outgrows the arena spills to malloc(): the answer is
 * the same, and (under ASan) nothing leaks; the next request is back in
 * the arena.
 */

static void
test_arena_spill(void)
{
    char      *body, *big, *p;
    size_t     n, i;

    body = fixture("enrollment.json", &n);

    /* an unknown field holding 40 000 small strings: ~2.5 MB of nodes */
    big = malloc(n + 40000 * 6 + 64);
    p = big;
    p += sprintf(p, "{\"pad\":[");
    for (i = 0; i < 40000; i++) {
        p += sprintf(p, "%s\"ab\"", i ? "," : "");
    }
    p += sprintf(p, "],");
    memcpy(p, body + 1, n - 1);     /* the fixture without its "{" */
    p += n - 1;

    /* 40 001 values: more than the default allows */
    CHECK_INT(run(ENROLL, big, p - big), 400);
    CHECK_STR(in.reason, "too_many_values");

    conf.max_values = 50000;
    CHECK_INT(run(ENROLL, big, p - big), 200);
    CHECK_MEM(in.body.data, in.body.len, ANSWER_200);
    conf.max_values = 0;

    CHECK_INT(run(ENROLL, body, n), 200);
    CHECK_MEM(in.body.data, in.body.len, ANSWER_200);

    free(big);
    free(body);
}


int
main(void)
{
    cs_ingest_init(&in);

    test_body_errors();
    test_enrollment();
    test_user_action();
    test_escaping();
    test_reuse();
    test_arena_spill();

    cs_ingest_free(&in);

    CS_TEST_DONE();
}
