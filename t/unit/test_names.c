/*
 * cs_names: every reason the core returns has its own metrics label, the
 * tables have no gaps or twins, and the actions are found by name.
 */

#include "cs_action.h"
#include "cs_ingest.h"
#include "cs_names.h"
#include "cs_test.h"

#define SF18  "003Ab00000XyZ12AAA"

static cs_ingest_t       in;
static cs_ingest_conf_t  conf = {
    .max_depth = 3, .max_values = 8,
    .status_base = "/caresync/jobs/", .status_base_len = 15
};


/* the core refuses `body` with `want`, a label of its own */
static void
refused(int line, cs_webhook_t kind, const char *body, size_t len,
    cs_reason_t want)
{
    in.now_ms = 1629708325123ULL;
    memcpy(in.job_id, "01FDQ0Y5R2K8ZQ3G4V6W7X8Y9Z", 27);

    if (cs_ingest(kind, &conf, (const unsigned char *) body, len, &in)
        != CS_OK)
    {
        fprintf(stderr, "line %d: out of memory\n", line);
        cs_t_failed++;
        return;
    }

    CHECK_INT(in.status, 400);
    CHECK_INT(cs_reason_find(in.reason), want);

    if (cs_reason_find(in.reason) != want) {
        fprintf(stderr, "  (line %d: reason %s)\n", line,
                in.reason ? in.reason : "(null)");
    }
}

#define REFUSED(kind, body, want)                                             \
    refused(__LINE__, kind, body, sizeof(body) - 1, want)


static void
test_core_reasons(void)
{
    char  agent[CS_ACTION_AGENT_MAX + 64];
    char  body[sizeof(agent) + 64];

    REFUSED(CS_API_HINT_UNLINK, "{", CS_REASON_BAD_JSON);
    REFUSED(CS_API_HINT_UNLINK, "{\"a\":\"\xff\"}", CS_REASON_BAD_UTF8);
    REFUSED(CS_API_HINT_UNLINK, "{\"a\":\"\\u0000\"}", CS_REASON_NUL);
    REFUSED(CS_API_HINT_UNLINK, "{\"a\":1,\"a\":2}",
            CS_REASON_DUPLICATE_KEY);
    REFUSED(CS_API_HINT_UNLINK, "{\"a\":{\"b\":{\"c\":{\"d\":1}}}}",
            CS_REASON_TOO_DEEP);
    REFUSED(CS_API_HINT_UNLINK, "{\"a\":[1,2,3,4,5,6,7,8,9]}",
            CS_REASON_TOO_MANY_VALUES);
    REFUSED(CS_API_HINT_UNLINK, "[1]", CS_REASON_NOT_OBJECT);
    REFUSED(CS_API_HINT_UNLINK, "{}", CS_REASON_MISSING_FIELD);
    REFUSED(CS_API_HINT_UNLINK, "{\"contact_id\":5}", CS_REASON_WRONG_TYPE);
    REFUSED(CS_API_HINT_UNLINK, "{\"contact_id\":\"x\"}",
            CS_REASON_BAD_VALUE);

    memset(agent, 'a', sizeof(agent) - 1);
    agent[sizeof(agent) - 1] = '\0';
    snprintf(body, sizeof(body), "{\"contact_id\":\"" SF18 "\","
             "\"agent\":\"%s\"}", agent);
    refused(__LINE__, CS_API_HEALTHSHERPA_SYNC, body, strlen(body),
            CS_REASON_TOO_LONG);

    /* a kind the core has no rules for: the caller's mistake */
    REFUSED((cs_webhook_t) 99, "{\"contact_id\":\"" SF18 "\"}",
            CS_REASON_BAD_KIND);
}


static void
test_tables(void)
{
    int  i, j;

    for (i = 0; i < CS_REASON_N; i++) {
        CHECK(cs_reason_names[i] != NULL && cs_reason_names[i][0] != '\0');
        CHECK_INT(cs_reason_find(cs_reason_names[i]), i);

        for (j = 0; j < i; j++) {
            CHECK(strcmp(cs_reason_names[i], cs_reason_names[j]) != 0);
        }
    }

    CHECK_STR(cs_reason_names[CS_REASON_OTHER], "other");
    CHECK_INT(cs_reason_find(NULL), CS_REASON_OTHER);
    CHECK_INT(cs_reason_find("no_such_reason"), CS_REASON_OTHER);

    CHECK_STR(cs_endpoint_names[CS_ENDPOINT_NONE], "");

    for (i = 1; i < CS_ENDPOINT_N; i++) {
        CHECK(cs_endpoint_names[i] != NULL && cs_endpoint_names[i][0] != '\0');

        for (j = 1; j < i; j++) {
            CHECK(strcmp(cs_endpoint_names[i], cs_endpoint_names[j]) != 0);
        }
    }
}


static void
test_action_find(void)
{
    CHECK_INT(cs_action_find("healthsherpa-sync", 17),
              CS_API_HEALTHSHERPA_SYNC);
    CHECK_INT(cs_action_find("hint-sync", 9), CS_API_HINT_SYNC);
    CHECK_INT(cs_action_find("hint-unlink", 11), CS_API_HINT_UNLINK);
    CHECK_INT(cs_action_find("crm-contact-changed", 19),
              CS_API_CRM_CONTACT_CHANGED);

    /* the whole segment, exactly */
    CHECK_INT(cs_action_find("hint", 4), 0);
    CHECK_INT(cs_action_find("hint-syncs", 10), 0);
    CHECK_INT(cs_action_find("Hint-sync", 9), 0);
    CHECK_INT(cs_action_find("", 0), 0);
}


int
main(void)
{
    cs_ingest_init(&in);

    test_core_reasons();
    test_tables();
    test_action_find();

    cs_ingest_free(&in);

    CS_TEST_DONE();
}
