/*
 * HelpAround webhooks through cs_ingest(): every rejection message, field
 * by field, for both webhooks, and the normalized values that reach the
 * job.  Bodies are the shared fixtures with one field changed.
 */

#include <jansson.h>

#include "cs_ingest.h"
#include "cs_test.h"

#define ENROLL  CS_WEBHOOK_HELPAROUND_ENROLLMENT
#define ACTION  CS_WEBHOOK_HELPAROUND_USER_ACTION

#define PID     "ha61236024160af"
#define DEL     ((json_t *) NULL)

/* python3: hashlib.sha256(b"<eventName>\n<programId>\n<id>\n<sendDate>") */
#define VIEWED_IDEM                                                           \
    "1c7ae25c8ad30ae15c3d2291e086dc83b03a39595499baab90be9fc9e729aa62"

static cs_ingest_t       in;
static cs_ingest_conf_t  conf = {
    .partner_source = "Partner", .partner_source_len = 7, .keep_raw = 1
};
static char              got[16384];
static char              want[512];
static json_t           *job;          /* the last 200's envelope, parsed */


static json_t *
J(const char *text)
{
    json_t  *v;

    v = json_loads(text, JSON_DECODE_ANY, NULL);
    if (v == NULL) {
        fprintf(stderr, "bad test JSON: %s\n", text);
        exit(2);
    }

    return v;
}


static json_t *
S(const char *s)
{
    return json_string(s);
}


static json_t *
fixture(const char *name)
{
    char     path[256];
    json_t  *v;

    snprintf(path, sizeof(path), "%s/helparound/%s", CS_FIXTURES, name);

    v = json_load_file(path, 0, NULL);
    if (v == NULL) {
        fprintf(stderr, "cannot load %s (run from the repository root)\n",
                path);
        exit(2);
    }

    return v;
}


/*
 * Sets the member at a dotted path ("event.patient.consents[1].value"),
 * creating objects on the way; v == NULL removes it.  Steals v.
 */
static void
jset(json_t *root, const char *path, json_t *v)
{
    char     buf[256], *seg, *next, *br;
    size_t   idx;
    json_t  *cur, *child;

    snprintf(buf, sizeof(buf), "%s", path);
    seg = buf;
    cur = root;

    for ( ;; ) {
        next = strchr(seg, '.');
        if (next) {
            *next++ = '\0';
        }

        br = strchr(seg, '[');
        idx = 0;
        if (br) {
            *br = '\0';
            idx = strtoul(br + 1, NULL, 10);
        }

        child = json_object_get(cur, seg);

        if (next == NULL) {
            if (br && v) {
                json_array_set_new(child, idx, v);
            } else if (br) {
                json_array_remove(child, idx);
            } else if (v) {
                json_object_set_new(cur, seg, v);
            } else {
                json_object_del(cur, seg);
            }
            return;
        }

        if (br) {
            child = json_array_get(child, idx);

        } else if (!json_is_object(child)) {
            child = json_object();
            json_object_set_new(cur, seg, child);
        }

        cur = child;
        seg = next;
    }
}


/* Runs one body; `got` gets the answer, `job` the envelope of a 200. */
static int
run(cs_webhook_t kind, const char *body, size_t len)
{
    size_t  n;

    json_decref(job);
    job = NULL;

    in.now_ms = 1629708325123ULL;
    memcpy(in.job_id, "01FDQ0Y5R2K8ZQ3G4V6W7X8Y9Z", 27);

    CHECK_INT(cs_ingest(kind, &conf, (const unsigned char *) body, len, &in),
              CS_OK);

    n = in.body.len < sizeof(got) - 1 ? in.body.len : sizeof(got) - 1;
    memcpy(got, in.body.data, n);
    got[n] = '\0';

    if (in.status == 400) {
        /* no PHI comes back, whatever was wrong */
        CHECK_NOT_CONTAINS(got, n, "John");
        CHECK_NOT_CONTAINS(got, n, "Doe");
        CHECK_NOT_CONTAINS(got, n, "2027953213");
        CHECK_NOT_CONTAINS(got, n, "gmail");
        CHECK_INT(in.job.len, 0);
        CHECK(in.reason != NULL);

    } else {
        job = json_loadb(in.job.data, in.job.len, JSON_REJECT_DUPLICATES,
                         NULL);
        CHECK(job != NULL);
    }

    return in.status;
}


/* `base` with `path` set to `v` (stolen; DEL removes), run. */
static const char *
mut(cs_webhook_t kind, json_t *base, const char *path, json_t *v)
{
    char    *s;
    json_t  *j;

    j = json_deep_copy(base);
    if (path) {
        jset(j, path, v);
    }

    s = json_dumps(j, JSON_COMPACT);
    run(kind, s, strlen(s));

    free(s);
    json_decref(j);

    return got;
}


/* Two changes at once. */
static const char *
mut2(cs_webhook_t kind, json_t *base, const char *p1, json_t *v1,
    const char *p2, json_t *v2)
{
    json_t  *j;

    j = json_deep_copy(base);
    jset(j, p1, v1);
    mut(kind, j, p2, v2);
    json_decref(j);

    return got;
}


static const char *
e400(const char *msg, const char *pid)
{
    if (pid) {
        snprintf(want, sizeof(want),
                 "{\"errorMessage\":\"%s\",\"data\":{\"patientId\":\"%s\"}}",
                 msg, pid);
    } else {
        snprintf(want, sizeof(want),
                 "{\"errorMessage\":\"%s\",\"data\":{}}", msg);
    }

    return want;
}


/* A string member of the last job, by dotted path; NULL when absent. */
static const char *
jget(const char *path)
{
    char     buf[256], *seg, *next, *br;
    json_t  *cur;

    snprintf(buf, sizeof(buf), "%s", path);
    cur = job;

    for (seg = buf; seg; seg = next) {
        next = strchr(seg, '.');
        if (next) {
            *next++ = '\0';
        }

        br = strchr(seg, '[');
        if (br) {
            *br = '\0';
        }

        cur = json_object_get(cur, seg);

        if (br) {
            cur = json_array_get(cur, strtoul(br + 1, NULL, 10));
        }
    }

    return json_string_value(cur);
}


static int
jhas(const char *path)
{
    char     buf[256], *dot;
    json_t  *cur;

    snprintf(buf, sizeof(buf), "%s", path);
    dot = strrchr(buf, '.');

    if (dot == NULL) {
        return json_object_get(job, buf) != NULL;
    }

    *dot = '\0';
    cur = json_object_get(job, "patient");
    if (strcmp(buf, "patient") != 0) {
        cur = json_object_get(cur, buf + sizeof("patient"));
    }

    return json_object_get(cur, dot + 1) != NULL;
}


/* Each required field of the enrollment: missing, null, blank, typed. */
static void
test_enrollment_required(json_t *en)
{
    size_t   i;
    json_t  *empty;

    static const char  *fields[] = {
        "event.supportProgramId", "event.sendDate",
        "event.patient.phoneNumber", "event.patient.firstName",
        "event.patient.lastName", "event.eventName",
    };
    char  msg[128];

    for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        snprintf(msg, sizeof(msg), "%s is required", fields[i]);

        CHECK_STR(mut(ENROLL, en, fields[i], DEL), e400(msg, PID));
        CHECK_STR(in.reason, "missing_field");
        CHECK_STR(mut(ENROLL, en, fields[i], json_null()), e400(msg, PID));
        CHECK_STR(mut(ENROLL, en, fields[i], S("")), e400(msg, PID));
        CHECK_STR(mut(ENROLL, en, fields[i], S(" \t\n")), e400(msg, PID));

        snprintf(msg, sizeof(msg), "%s must be a string", fields[i]);
        CHECK_STR(mut(ENROLL, en, fields[i], json_integer(5)),
                  e400(msg, PID));
        CHECK_STR(in.reason, "wrong_type");
        CHECK_STR(mut(ENROLL, en, fields[i], J("{}")), e400(msg, PID));
        CHECK_STR(mut(ENROLL, en, fields[i], json_true()), e400(msg, PID));
        CHECK_STR(mut(ENROLL, en, fields[i], J("[\"x\"]")), e400(msg, PID));
    }

    /* the patient id: same messages, no patientId to give back */
    CHECK_STR(mut(ENROLL, en, "event.patient.id", DEL),
              e400("event.patient.id is required", NULL));
    CHECK_STR(mut(ENROLL, en, "event.patient.id", json_null()),
              e400("event.patient.id is required", NULL));
    CHECK_STR(mut(ENROLL, en, "event.patient.id", S("")),
              e400("event.patient.id is required", NULL));
    CHECK_STR(mut(ENROLL, en, "event.patient.id", S("   ")),
              e400("event.patient.id is required", NULL));
    CHECK_STR(mut(ENROLL, en, "event.patient.id", json_integer(61236)),
              e400("event.patient.id must be a string", NULL));

    /* containers */
    CHECK_STR(mut(ENROLL, en, "event", DEL),
              e400("event.supportProgramId is required", NULL));
    CHECK_STR(mut(ENROLL, en, "event", S("x")),
              e400("event must be an object", NULL));
    CHECK_STR(mut(ENROLL, en, "event", J("[]")),
              e400("event must be an object", NULL));
    CHECK_STR(mut(ENROLL, en, "event.patient", DEL),
              e400("event.patient.id is required", NULL));
    CHECK_STR(mut(ENROLL, en, "event.patient", json_null()),
              e400("event.patient.id is required", NULL));
    CHECK_STR(mut(ENROLL, en, "event.patient", J("[1]")),
              e400("event.patient must be an object", NULL));
    empty = J("{}");
    CHECK_STR(mut(ENROLL, empty, NULL, NULL),
              e400("event.supportProgramId is required", NULL));
    json_decref(empty);

    /* values */
    CHECK_STR(mut(ENROLL, en, "event.sendDate", S("2021-08-23")),
              e400("event.sendDate must be an ISO-8601 UTC date-time", PID));
    CHECK_STR(in.reason, "bad_value");
    CHECK_STR(mut(ENROLL, en, "event.sendDate", S("2023-02-29T00:00:00Z")),
              e400("event.sendDate must be an ISO-8601 UTC date-time", PID));
    CHECK_STR(mut(ENROLL, en, "event.sendDate",
                  S("2021-08-23T08:45:24+00:00")),
              e400("event.sendDate must be an ISO-8601 UTC date-time", PID));
    CHECK_INT(atoi(mut(ENROLL, en, "event.sendDate",
                       S("2024-02-29T23:59:59.123456Z"))) == 0
              && in.status == 200, 1);

    CHECK_STR(mut(ENROLL, en, "event.patient.phoneNumber", S("555-0100")),
              e400("event.patient.phoneNumber must be a phone number with "
                   "country code", PID));
    CHECK_STR(mut(ENROLL, en, "event.patient.phoneNumber",
                  S("+1 202 CALL NOW")),
              e400("event.patient.phoneNumber must be a phone number with "
                   "country code", PID));

    CHECK_STR(mut(ENROLL, en, "event.eventName",
                  S("HelpAround.Patient.UserAction.ViewedTracker")),
              e400("event.eventName must be "
                   "HelpAround.Patient.CompleteEnrollment", PID));
    CHECK_STR(mut(ENROLL, en, "event.eventName",
                  S("helparound.patient.completeenrollment")),
              e400("event.eventName must be "
                   "HelpAround.Patient.CompleteEnrollment", PID));
}


/* Optional fields of the wrong type are rejected too. */
static void
test_enrollment_optional(json_t *en)
{
    size_t  i;
    char    msg[160];

    static const char  *strings[] = {
        "event.message", "event.status", "event.patient.gender",
        "event.patient.contact_method", "event.patient.pref_language",
        "event.patient.email", "event.patient.call_time",
        "event.patient.caregiver.name", "event.patient.caregiver.relationship",
        "event.patient.caregiver.phone", "event.patient.caregiver.email",
        "event.patient.address.street", "event.patient.address.apt",
        "event.patient.address.city", "event.patient.address.state",
        "event.patient.address.zip",
        "event.patient.insurance.primaryInsurance.carrier",
        "event.patient.insurance.primaryInsurance.member_id",
        "event.patient.insurance.primaryInsurance.group_num",
        "event.patient.insurance.primaryInsurance.cardname",
        "event.patient.insurance.primaryInsurance.front_picture_image",
        "event.patient.insurance.primaryInsurance.back_picture_image",
        "event.patient.insurance.secondaryInsurance.status",
        "event.patient.insurance.secondaryInsurance.carrier",
        "event.patient.signature.image",
        "event.patient.consents[1].name",
        "event.patient.externalIds[0].source",
        "event.patient.externalIds[0].sourceId",
        "event.sourceName",
    };

    static const char  *dates[] = {
        "event.patient.dob",
        "event.patient.insurance.primaryInsurance.card_dob",
        "event.patient.insurance.secondaryInsurance.card_dob",
        "event.patient.signature.timestamp",
        "event.patient.consents[0].timestamp",
    };

    static const char  *objects[] = {
        "event.patient.caregiver", "event.patient.address",
        "event.patient.insurance",
        "event.patient.insurance.primaryInsurance",
        "event.patient.insurance.secondaryInsurance",
        "event.patient.signature", "event.patient.consents[1]",
        "event.patient.externalIds[0]",
    };

    for (i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        snprintf(msg, sizeof(msg), "%s must be a string", strings[i]);
        CHECK_STR(mut(ENROLL, en, strings[i], json_integer(1)),
                  e400(msg, PID));
        CHECK_STR(mut(ENROLL, en, strings[i], json_false()), e400(msg, PID));

        /* absent, null and empty are fine */
        mut(ENROLL, en, strings[i], DEL);
        CHECK_INT(in.status, 200);
        mut(ENROLL, en, strings[i], json_null());
        CHECK_INT(in.status, 200);
        mut(ENROLL, en, strings[i], S(""));
        CHECK_INT(in.status, 200);
    }

    for (i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
        snprintf(msg, sizeof(msg), "%s must be a date", dates[i]);
        CHECK_STR(mut(ENROLL, en, dates[i], json_true()), e400(msg, PID));
        CHECK_STR(in.reason, "wrong_type");
        CHECK_STR(mut(ENROLL, en, dates[i], J("{}")), e400(msg, PID));
        CHECK_STR(mut(ENROLL, en, dates[i], S("01/03/2021")),
                  e400(msg, PID));
        CHECK_STR(in.reason, "bad_value");
        CHECK_STR(mut(ENROLL, en, dates[i], S("")), e400(msg, PID));
        CHECK_STR(mut(ENROLL, en, dates[i], json_real(1614556800000.5)),
                  e400(msg, PID));
        CHECK_STR(mut(ENROLL, en, dates[i], json_integer(1LL << 60)),
                  e400(msg, PID));

        mut(ENROLL, en, dates[i], json_null());
        CHECK_INT(in.status, 200);
        mut(ENROLL, en, dates[i], S("2021-03-01T10:00:00+01:00"));
        CHECK_INT(in.status, 200);
        mut(ENROLL, en, dates[i], json_real(1614556800000.0));
        CHECK_INT(in.status, 200);
    }

    for (i = 0; i < sizeof(objects) / sizeof(objects[0]); i++) {
        snprintf(msg, sizeof(msg), "%s must be an object", objects[i]);
        CHECK_STR(mut(ENROLL, en, objects[i], S("x")), e400(msg, PID));
        CHECK_STR(mut(ENROLL, en, objects[i], J("[]")), e400(msg, PID));
        CHECK_STR(mut(ENROLL, en, objects[i], json_integer(0)),
                  e400(msg, PID));
    }

    /* media ids go into a URL path: one segment, or a 400 */
    {
        size_t       j;
        static const char  *media[] = {
            "event.patient.insurance.primaryInsurance.front_picture_image",
            "event.patient.insurance.primaryInsurance.back_picture_image",
            "event.patient.insurance.secondaryInsurance.front_picture_image",
            "event.patient.insurance.secondaryInsurance.back_picture_image",
            "event.patient.signature.image",
        };
        static const char  *bad[] = {
            "..", ".", "../../x", "a/b", "%2e%2e", "a.b", "a?b", "a b",
        };

        for (i = 0; i < sizeof(media) / sizeof(media[0]); i++) {
            snprintf(msg, sizeof(msg), "%s must be a media id (letters, "
                     "digits, - and _)", media[i]);

            for (j = 0; j < sizeof(bad) / sizeof(bad[0]); j++) {
                CHECK_STR(mut(ENROLL, en, media[i], S(bad[j])),
                          e400(msg, PID));
                CHECK_STR(in.reason, "bad_value");
            }

            mut(ENROLL, en, media[i], S(" 7b20a933-9292-41e4-91ea_x "));
            CHECK_INT(in.status, 200);
        }

        mut(ENROLL, en, media[0],
            S("a123456789b123456789c123456789d123456789e123456789"
              "f123456789g123456789h123456789i123456789j123456789"
              "k123456789l123456789m1234567"));
        CHECK_INT(in.status, 200);
        mut(ENROLL, en, media[0],
            S("a123456789b123456789c123456789d123456789e123456789"
              "f123456789g123456789h123456789i123456789j123456789"
              "k123456789l123456789m12345678"));
        CHECK_INT(in.status, 400);
    }

    CHECK_STR(mut(ENROLL, en, "event.patient.consents[0].value", S("yes")),
              e400("event.patient.consents[0].value must be a boolean",
                   PID));
    CHECK_STR(mut(ENROLL, en, "event.patient.consents[1].value",
                  json_integer(1)),
              e400("event.patient.consents[1].value must be a boolean",
                   PID));
    CHECK_STR(mut(ENROLL, en, "event.patient.consents", J("{}")),
              e400("event.patient.consents must be an array", PID));
    CHECK_STR(mut(ENROLL, en, "event.patient.externalIds", S("x")),
              e400("event.patient.externalIds must be an array", PID));

    /* "consent" is checked when it is the one used */
    CHECK_STR(mut2(ENROLL, en, "event.patient.consents", DEL,
                   "event.patient.consent", J("[{\"value\":\"no\"}]")),
              e400("event.patient.consent[0].value must be a boolean",
                   PID));
    CHECK_STR(mut2(ENROLL, en, "event.patient.consents", DEL,
                   "event.patient.consent", S("x")),
              e400("event.patient.consent must be an array", PID));

    /* so is "apartment", which wins over "apt" */
    CHECK_STR(mut(ENROLL, en, "event.patient.address.apartment",
                  json_integer(12)),
              e400("event.patient.address.apartment must be a string", PID));
}


static void
test_order(json_t *en)
{
    /* required before optional, whatever their place in the body */
    CHECK_STR(mut2(ENROLL, en, "event.message", json_integer(1),
                   "event.eventName", DEL),
              e400("event.eventName is required", PID));
    CHECK_STR(mut2(ENROLL, en, "event.patient.dob", S("x"),
                   "event.patient.lastName", DEL),
              e400("event.patient.lastName is required", PID));

    /* required in the table's order */
    CHECK_STR(mut2(ENROLL, en, "event.patient.firstName", DEL,
                   "event.sendDate", DEL),
              e400("event.sendDate is required", PID));
    CHECK_STR(mut2(ENROLL, en, "event.patient.id", DEL,
                   "event.supportProgramId", json_integer(3)),
              e400("event.supportProgramId must be a string", NULL));

    /* optional in the seed's order */
    CHECK_STR(mut2(ENROLL, en, "event.sourceName", json_integer(1),
                   "event.patient.dob", S("x")),
              e400("event.patient.dob must be a date", PID));
    CHECK_STR(mut2(ENROLL, en, "event.patient.signature", S("x"),
                   "event.patient.address.zip", json_integer(1)),
              e400("event.patient.address.zip must be a string", PID));
}


static void
test_limits(json_t *en)
{
    int      i;
    char    *big;
    json_t  *a;

    big = malloc(4098);
    memset(big, 'a', 4097);
    big[4097] = '\0';

    CHECK_STR(mut(ENROLL, en, "event.patient.firstName", S(big)),
              e400("event.patient.firstName is too long", PID));
    CHECK_STR(in.reason, "too_long");
    CHECK_STR(mut(ENROLL, en, "event.patient.caregiver.relationship",
                  S(big)),
              e400("event.patient.caregiver.relationship is too long", PID));

    /* an id too long to give back is not given back */
    CHECK_STR(mut(ENROLL, en, "event.patient.id", S(big)),
              e400("event.patient.id is too long", NULL));

    big[4096] = '\0';
    mut(ENROLL, en, "event.patient.firstName", S(big));
    CHECK_INT(in.status, 200);

    a = json_array();
    for (i = 0; i < 100; i++) {
        json_array_append_new(a, J("{\"name\":\"c\",\"value\":false}"));
    }
    mut(ENROLL, en, "event.patient.consents", json_deep_copy(a));
    CHECK_INT(in.status, 200);
    CHECK_INT(json_array_size(json_object_get(json_object_get(job,
              "patient"), "consents")), 100);

    json_array_append_new(a, J("{}"));
    CHECK_STR(mut(ENROLL, en, "event.patient.consents", a),
              e400("event.patient.consents has too many entries", PID));
    CHECK_STR(in.reason, "too_many");

    free(big);
}


static void
test_normalized(json_t *en)
{
    /* names: trimmed, inner whitespace collapsed, case kept */
    mut(ENROLL, en, "event.patient.firstName", S("  mary \t ANN  "));
    CHECK_STR(jget("patient.first_name"), "mary ANN");
    mut(ENROLL, en, "event.patient.lastName", S("\nDe  la Cruz"));
    CHECK_STR(jget("patient.last_name"), "De la Cruz");

    /* dob */
    mut(ENROLL, en, "event.patient.dob", S("1950-06-15"));
    CHECK_STR(jget("patient.dob"), "1950-06-15");
    mut(ENROLL, en, "event.patient.dob", S("1980-01-31T23:00:00-05:00"));
    CHECK_STR(jget("patient.dob"), "1980-01-31");
    mut(ENROLL, en, "event.patient.dob", json_integer(-631152000000LL));
    CHECK_STR(jget("patient.dob"), "1950-01-01");
    mut(ENROLL, en, "event.patient.dob", DEL);
    CHECK(!jhas("patient.dob"));

    /* gender */
    mut(ENROLL, en, "event.patient.gender", S(" F "));
    CHECK_STR(jget("patient.gender"), "female");
    mut(ENROLL, en, "event.patient.gender", S("Prefer not to say"));
    CHECK_STR(jget("patient.gender"), "unknown");
    mut(ENROLL, en, "event.patient.gender", S("nonbinary"));
    CHECK_STR(jget("patient.gender"), "other");
    mut(ENROLL, en, "event.patient.gender", S("  "));
    CHECK(!jhas("patient.gender"));

    /* email */
    mut(ENROLL, en, "event.patient.email", S(" Test@GMAIL.com "));
    CHECK_STR(jget("patient.email"), "test@gmail.com");
    mut(ENROLL, en, "event.patient.email", S("test at gmail"));
    CHECK_INT(in.status, 200);
    CHECK(!jhas("patient.email"));
    CHECK_MEM(in.notes.data, in.notes.len,
              "event.patient.email: not an email address; ");

    /* state */
    mut(ENROLL, en, "event.patient.address.state", S("ca"));
    CHECK_STR(jget("patient.address.state"), "CA");
    mut(ENROLL, en, "event.patient.address.state", S(" new  mexico "));
    CHECK_STR(jget("patient.address.state"), "NM");
    mut(ENROLL, en, "event.patient.address.state", S("Narnia"));
    CHECK(!jhas("patient.address.state"));
    CHECK_STR(jget("patient.address.city"), "test");
    CHECK_MEM(in.notes.data, in.notes.len,
              "event.patient.address.state: not a US state; ");

    /* zip */
    mut(ENROLL, en, "event.patient.address.zip", S("123456789"));
    CHECK_STR(jget("patient.address.zip"), "12345-6789");
    mut(ENROLL, en, "event.patient.address.zip", S("12345-6789"));
    CHECK_STR(jget("patient.address.zip"), "12345-6789");
    mut(ENROLL, en, "event.patient.address.zip", S("1234"));
    CHECK(!jhas("patient.address.zip"));
    CHECK_MEM(in.notes.data, in.notes.len,
              "event.patient.address.zip: not a ZIP code; ");

    /* apartment wins over apt; either alone is line2 */
    mut(ENROLL, en, "event.patient.address.apartment", S("4B"));
    CHECK_STR(jget("patient.address.line2"), "4B");
    mut(ENROLL, en, "event.patient.address.apt", DEL);
    CHECK_STR(jget("patient.address.line2"), NULL);
    mut2(ENROLL, en, "event.patient.address.apt", DEL,
         "event.patient.address.apartment", S(" 7 "));
    CHECK_STR(jget("patient.address.line2"), "7");

    /* an address with nothing in it is left out, country or not */
    mut(ENROLL, en, "event.patient.address",
        J("{\"state\":\"ZZ\",\"country\":\"US\"}"));
    CHECK(!jhas("patient.address"));
    mut(ENROLL, en, "event.patient.address", J("{\"zip\":\"12345\","
                                               "\"country\":\"ca\"}"));
    CHECK_STR(jget("patient.address.zip"), "12345");
    CHECK_STR(jget("patient.address.country"), "CA");

    /* caregiver phone: E.164 or dropped */
    mut(ENROLL, en, "event.patient.caregiver.phone", S("(202) 795-3214"));
    CHECK_STR(jget("patient.caregiver.phone"), "+12027953214");
    mut(ENROLL, en, "event.patient.caregiver.phone", S("ask mom"));
    CHECK_INT(in.status, 200);
    CHECK(!jhas("patient.caregiver.phone"));
    CHECK_STR(jget("patient.caregiver.name"), "test");
    CHECK_MEM(in.notes.data, in.notes.len,
              "event.patient.caregiver.phone: not a phone number; ");
    mut(ENROLL, en, "event.patient.caregiver", J("{\"phone\":\"x\"}"));
    CHECK(!jhas("patient.caregiver"));

    /* the patient's phone, in every accepted form */
    mut(ENROLL, en, "event.patient.phoneNumber", S("(202) 795-3213"));
    CHECK_STR(jget("patient.phones[0].number"), "+12027953213");
    mut(ENROLL, en, "event.patient.phoneNumber", S("0044 20 7946 0958"));
    CHECK_STR(jget("patient.phones[0].number"), "+442079460958");
    CHECK_STR(jget("patient.phones[0].type"), "mobile");

    /* consents wins over consent; consent alone is used */
    mut(ENROLL, en, "event.patient.consent",
        J("[{\"name\":\"other\",\"value\":false}]"));
    CHECK_STR(jget("patient.consents[0].name"), "communication");
    mut2(ENROLL, en, "event.patient.consents", DEL, "event.patient.consent",
         J("[{\"name\":\" sms \",\"value\":false,"
           "\"timestamp\":\"2021-03-01T10:00:00+02:00\"}]"));
    CHECK_STR(jget("patient.consents[0].name"), "sms");
    CHECK_STR(jget("patient.consents[0].at"), "2021-03-01T08:00:00.000Z");
    CHECK(json_is_false(json_object_get(json_array_get(json_object_get(
          json_object_get(job, "patient"), "consents"), 0), "value")));
    mut(ENROLL, en, "event.patient.consents", J("[{},{\"name\":\"x\"}]"));
    CHECK_STR(jget("patient.consents[0].name"), "x");
    mut(ENROLL, en, "event.patient.consents", J("[]"));
    CHECK(!jhas("patient.consents"));

    /* insurance: a blank card is left out */
    mut(ENROLL, en, "event.patient.insurance.secondaryInsurance",
        J("{\"status\":\" \"}"));
    CHECK(!jhas("patient.insurance.secondary"));
    CHECK_STR(jget("patient.insurance.primary.carrier"), "test");
    mut(ENROLL, en, "event.patient.insurance", J("{}"));
    CHECK(!jhas("patient.insurance"));

    /* unknown fields are ignored, kept only in raw */
    mut(ENROLL, en, "event.patient.favoriteColor", J("[1,{\"a\":null}]"));
    CHECK_INT(in.status, 200);
    CHECK(!jhas("patient.favoriteColor"));
    CHECK_STR(jget("raw.event.patient.favoriteColor"), NULL);
    CHECK(json_is_array(json_object_get(json_object_get(json_object_get(
          json_object_get(job, "raw"), "event"), "patient"),
          "favoriteColor")));
}


static void
test_external_id(json_t *en)
{
    const char  *two = "[{\"source\":\"Other\",\"sourceId\":\"o-1\"},"
                       "{\"source\":\" pARTNER \",\"sourceId\":\"p-2\"}]";

    /* the partner's entry, trimmed and case-insensitive */
    mut(ENROLL, en, "event.patient.externalIds", J(two));
    CHECK_STR(got, "{\"success\":true,\"data\":{\"supportProgramId\":"
                   "\"78ef982b-00ea-39c2-a875-f549c40e92ad\",\"patientId\":"
                   "\"ha61236024160af\",\"externalId\":\"p-2\"}}");
    CHECK_STR(jget("patient.external_id"), "p-2");
    CHECK_STR(jget("patient.external_ids[1].source"), "pARTNER");
    CHECK_STR(jget("patient.external_ids[0].id"), "o-1");

    /* else the first entry */
    mut(ENROLL, en, "event.patient.externalIds",
        J("[{\"source\":\"Other\",\"sourceId\":\"o-1\"},"
          "{\"source\":\"Partners\",\"sourceId\":\"p-2\"}]"));
    CHECK_STR(jget("patient.external_id"), "o-1");

    /* entries without an id do not count */
    mut(ENROLL, en, "event.patient.externalIds",
        J("[{\"source\":\"Partner\"},{\"source\":\"x\",\"sourceId\":\" \"},"
          "{\"sourceId\":\"n-3\"}]"));
    CHECK_STR(jget("patient.external_id"), "n-3");
    CHECK_INT(json_array_size(json_object_get(json_object_get(job,
              "patient"), "external_ids")), 1);
    CHECK(json_object_get(json_array_get(json_object_get(json_object_get(
          job, "patient"), "external_ids"), 0), "source") == NULL);

    /*
     * else a UUIDv5 of "<supportProgramId>:<patient.id>"; expected value
     * from python3: uuid.uuid5(uuid.UUID(
     * "b9520bbc-f2ca-5174-b5ac-c4b5b4dd9b29"),
     * "78ef982b-00ea-39c2-a875-f549c40e92ad:ha61236024160af")
     */
    mut(ENROLL, en, "event.patient.externalIds", DEL);
    CHECK_STR(got, "{\"success\":true,\"data\":{\"supportProgramId\":"
                   "\"78ef982b-00ea-39c2-a875-f549c40e92ad\",\"patientId\":"
                   "\"ha61236024160af\",\"externalId\":"
                   "\"51235097-5b70-5540-8525-818530d337c1\"}}");
    CHECK(!jhas("patient.external_ids"));
    mut(ENROLL, en, "event.patient.externalIds", J("[{\"source\":\"a\"}]"));
    CHECK_STR(jget("patient.external_id"),
              "51235097-5b70-5540-8525-818530d337c1");

    /* python3: uuid.uuid5(ns, "prog-1:pat-1") */
    jset(en, "event.patient.id", S("pat-1"));
    mut2(ENROLL, en, "event.patient.externalIds", DEL,
         "event.supportProgramId", S("prog-1"));
    jset(en, "event.patient.id", S(PID));
    CHECK_STR(jget("patient.external_id"),
              "83f71537-7739-5138-a740-c77512310c94");

    /* a configured partner name */
    conf.partner_source = " source ";
    conf.partner_source_len = 8;
    mut(ENROLL, en, "event.patient.externalIds",
        J("[{\"source\":\"A\",\"sourceId\":\"a-1\"},"
          "{\"source\":\"Source \",\"sourceId\":\"s-2\"}]"));
    CHECK_STR(jget("patient.external_id"), "s-2");
    conf.partner_source = NULL;
    conf.partner_source_len = 0;
    mut(ENROLL, en, "event.patient.externalIds", J(two));
    CHECK_STR(jget("patient.external_id"), "p-2");
    conf.partner_source = "Partner";
    conf.partner_source_len = 7;
}


static void
test_user_action(json_t *ua, json_t *top)
{
    size_t  i;
    char    msg[160];

    static const char  *req[] = {
        "event.supportProgramId", "event.sendDate", "event.data.key",
        "event.data.value", "event.patient.phoneNumber", "event.eventName",
    };
    static const char  *req_top[] = {
        "event.supportProgramId", "event.sendDate", "event.data.key",
        "event.data.value", "patient.phoneNumber", "eventName",
    };

    /* both placements are accepted, with the same answer */
    mut(ACTION, ua, NULL, NULL);
    CHECK_INT(in.status, 200);
    CHECK_STR(got, "{\"success\":true,\"data\":{\"supportProgramId\":"
                   "\"78ef982b-00ea-39c2-a875-f549c40e92ad\",\"patientId\":"
                   "\"ha61236024160af\",\"externalId\":"
                   "\"4aadb997-e9fd-3909-a2f0-833b821544bd\"}}");
    CHECK_STR(in.job_type, "helparound.user_action");
    CHECK_STR(jget("type"), "helparound.user_action");
    CHECK_STR(jget("action.user_action"), "viewedTracker");
    CHECK_STR(jget("action.at"), "2021-08-23T08:45:24.000Z");
    CHECK_STR(jget("source.event"),
              "HelpAround.Patient.UserAction.ViewedTracker");
    CHECK_STR(jget("patient.source_id"), PID);
    CHECK_STR(jget("patient.phones[0].number"), "+12027953213");
    CHECK_STR(jget("idempotency_key"), VIEWED_IDEM);
    CHECK(!jhas("patient.first_name"));

    mut(ACTION, top, NULL, NULL);
    CHECK_INT(in.status, 200);
    CHECK_STR(got, "{\"success\":true,\"data\":{\"supportProgramId\":"
                   "\"78ef982b-00ea-39c2-a875-f549c40e92ad\",\"patientId\":"
                   "\"ha61236024160af\",\"externalId\":"
                   "\"4aadb997-e9fd-3909-a2f0-833b821544bd\"}}");
    CHECK_STR(jget("source.event"),
              "HelpAround.Patient.UserAction.ViewedTracker");
    CHECK_STR(jget("idempotency_key"), VIEWED_IDEM);

    /* the one under "event" wins */
    mut(ACTION, top, "event.patient",
        J("{\"id\":\"ev-1\",\"phoneNumber\":\"2025550100\"}"));
    CHECK_STR(jget("patient.source_id"), "ev-1");
    CHECK_STR(jget("patient.phones[0].number"), "+12025550100");
    mut(ACTION, top, "event.patient", J("{\"phoneNumber\":\"2025550100\"}"));
    CHECK_STR(got, e400("event.patient.id is required", NULL));
    mut(ACTION, top, "event.patient", S("x"));
    CHECK_STR(got, e400("event.patient must be an object", NULL));
    mut(ACTION, top, "event.patient", json_null());
    CHECK_INT(in.status, 200);
    mut(ACTION, top, "event.eventName", S("HelpAround.Patient.X"));
    CHECK_STR(got, e400("event.eventName must be "
                        "HelpAround.Patient.UserAction.ViewedTracker", PID));
    mut(ACTION, top, "eventName", S("HelpAround.Patient.X"));
    CHECK_STR(got, e400("eventName must be "
                        "HelpAround.Patient.UserAction.ViewedTracker", PID));
    mut(ACTION, ua, "eventName", S("HelpAround.Patient.X"));
    CHECK_INT(in.status, 200);
    mut(ACTION, top, "event.sourceName", json_integer(1));
    CHECK_STR(got, e400("event.sourceName must be a string", PID));
    mut(ACTION, top, "sourceName", json_integer(1));
    CHECK_STR(got, e400("sourceName must be a string", PID));
    mut(ACTION, top, "patient.externalIds", J("{}"));
    CHECK_STR(got, e400("patient.externalIds must be an array", PID));
    mut(ACTION, top, "patient", J("[]"));
    CHECK_STR(got, e400("patient must be an object", NULL));

    /* missing in both places: the event. path is named */
    mut(ACTION, top, "patient", DEL);
    CHECK_STR(got, e400("event.patient.id is required", NULL));
    mut(ACTION, top, "eventName", DEL);
    CHECK_STR(got, e400("event.eventName is required", PID));

    for (i = 0; i < sizeof(req) / sizeof(req[0]); i++) {
        snprintf(msg, sizeof(msg), "%s is required", req[i]);
        CHECK_STR(mut(ACTION, ua, req[i], DEL), e400(msg, PID));
        CHECK_STR(mut(ACTION, ua, req[i], json_null()), e400(msg, PID));
        CHECK_STR(mut(ACTION, ua, req[i], S(" ")), e400(msg, PID));
        snprintf(msg, sizeof(msg), "%s must be a string", req[i]);
        CHECK_STR(mut(ACTION, ua, req[i], json_integer(2)), e400(msg, PID));

        snprintf(msg, sizeof(msg), "%s is required", req_top[i]);
        CHECK_STR(mut(ACTION, top, req_top[i], S("")), e400(msg, PID));
        snprintf(msg, sizeof(msg), "%s must be a string", req_top[i]);
        CHECK_STR(mut(ACTION, top, req_top[i], json_false()),
                  e400(msg, PID));
    }

    CHECK_STR(mut(ACTION, ua, "event.patient.id", DEL),
              e400("event.patient.id is required", NULL));
    CHECK_STR(mut(ACTION, top, "patient.id", S("")),
              e400("patient.id is required", NULL));
    CHECK_STR(mut(ACTION, top, "patient.id", json_integer(1)),
              e400("patient.id must be a string", NULL));
    CHECK_STR(mut(ACTION, ua, "event.data", DEL),
              e400("event.data.key is required", PID));
    CHECK_STR(mut(ACTION, ua, "event.data", S("userAction")),
              e400("event.data must be an object", PID));
    CHECK_STR(mut(ACTION, ua, "event.data.key", S("userEvent")),
              e400("event.data.key must be userAction", PID));
    CHECK_STR(mut(ACTION, ua, "event.sendDate", S("2021-08-23T08:45:24")),
              e400("event.sendDate must be an ISO-8601 UTC date-time", PID));
    CHECK_STR(mut(ACTION, top, "patient.phoneNumber", S("12")),
              e400("patient.phoneNumber must be a phone number with "
                   "country code", PID));
    CHECK_STR(mut(ACTION, ua, "event", DEL),
              e400("event.supportProgramId is required", NULL));
    CHECK_STR(mut(ACTION, top, "event", DEL),
              e400("event.supportProgramId is required", PID));
    CHECK_STR(mut(ACTION, ua, "event.message", json_integer(1)),
              e400("event.message must be a string", PID));
    CHECK_STR(mut(ACTION, ua, "event.patient.externalIds[0].sourceId",
                  J("[]")),
              e400("event.patient.externalIds[0].sourceId must be a string",
                   PID));

    /* other actions: their own type, named by a safe value */
    mut2(ACTION, ua, "event.data.value", S("openedSms"),
         "event.eventName", S("HelpAround.Patient.UserAction.OpenedSms"));
    CHECK_INT(in.status, 200);
    CHECK_STR(in.job_type, "helparound.user_action.other");
    CHECK_STR(jget("type"), "helparound.user_action.other");
    CHECK_STR(jget("action.user_action"), "openedSms");

    CHECK_STR(mut2(ACTION, ua, "event.data.value", S("opened sms"),
                   "event.eventName",
                   S("HelpAround.Patient.UserAction.OpenedSms")),
              e400("event.data.value must be a user action name", PID));
    CHECK_STR(in.reason, "bad_value");
    mut(ACTION, ua, "event.data.value", S("a123456789b123456789c123456789"
                                          "d123456789e123456789f123456789"
                                          "g1234"));
    CHECK_STR(got, e400("event.data.value must be a user action name", PID));
    CHECK_STR(mut2(ACTION, ua, "event.data.value", S("openedSms"),
                   "event.eventName", S("HelpAround.Patient.OpenedSms")),
              e400("event.eventName must start with "
                   "HelpAround.Patient.UserAction.", PID));
    CHECK_STR(mut2(ACTION, ua, "event.data.value", S("openedSms"),
                   "event.eventName",
                   S("HelpAround.Patient.UserAction.ViewedTracker")),
              "{\"success\":true,\"data\":{\"supportProgramId\":"
              "\"78ef982b-00ea-39c2-a875-f549c40e92ad\",\"patientId\":"
              "\"ha61236024160af\",\"externalId\":"
              "\"4aadb997-e9fd-3909-a2f0-833b821544bd\"}}");
    CHECK_STR(in.job_type, "helparound.user_action.other");

    /* viewedTracker needs its own event name */
    CHECK_STR(mut(ACTION, ua, "event.eventName",
                  S("HelpAround.Patient.UserAction.OpenedSms")),
              e400("event.eventName must be "
                   "HelpAround.Patient.UserAction.ViewedTracker", PID));

    /* the enrollment endpoint does not take a user action */
    CHECK_STR(mut(ENROLL, ua, NULL, NULL),
              e400("event.patient.firstName is required", PID));
}


int
main(void)
{
    json_t  *en, *ua, *top;

    cs_ingest_init(&in);

    en = fixture("enrollment.json");
    ua = fixture("user-action.json");
    top = fixture("user-action.top-level.json");

    mut(ENROLL, en, NULL, NULL);
    CHECK_INT(in.status, 200);

    test_enrollment_required(en);
    test_enrollment_optional(en);
    test_order(en);
    test_limits(en);
    test_normalized(en);
    test_external_id(en);
    test_user_action(ua, top);

    json_decref(job);
    json_decref(en);
    json_decref(ua);
    json_decref(top);
    cs_ingest_free(&in);

    CS_TEST_DONE();
}
