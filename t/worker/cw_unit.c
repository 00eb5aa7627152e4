/*
 * cw-unit: the worker's pure functions, TAP output (run by
 * t/worker/005-unit.t): Retry-After, SOQL escaping and field names,
 * Salesforce date-times, the "write only what differs" diff, URL escaping.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cw_crm.h"
#include "cw_http.h"
#include "cw_salesforce.h"
#include "cw_util.h"

static int  cw_n, cw_failed;


static void
ok(int cond, const char *name)
{
    cw_n++;
    if (!cond) {
        cw_failed++;
    }
    printf("%sok %d - %s\n", cond ? "" : "not ", cw_n, name);
}


static int
buf_is(cs_buf_t *b, const char *want)
{
    int  r = b->len == strlen(want) && memcmp(b->data, want, b->len) == 0;

    if (!r) {
        printf("# got: %.*s\n# want: %s\n", (int) b->len, b->data, want);
    }

    cs_buf_reset(b);
    return r;
}


int
main(void)
{
    char        date[64];
    int64_t     ms;
    time_t      t;
    json_t     *have, *want, *d;
    cs_buf_t    b;
    struct tm   tm;

    /* Retry-After */
    ok(cw_http_retry_after("120", 3) == 120000, "Retry-After seconds");
    ok(cw_http_retry_after(" 0 \r\n", 5) == 0, "Retry-After 0, spaces");
    ok(cw_http_retry_after("-1", 2) == -1, "negative refused");
    ok(cw_http_retry_after("soon", 4) == -1, "garbage refused");
    ok(cw_http_retry_after("99999999", 8) == -1, "absurd refused");
    t = time(NULL) + 30;
    gmtime_r(&t, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    ms = cw_http_retry_after(date, strlen(date));
    ok(ms >= 28000 && ms <= 31000, "Retry-After HTTP date");
    ok(cw_http_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 29) == 0,
       "a date in the past: now");

    /* SOQL */
    cs_buf_init(&b);
    cw_soql_escape(&b, "O'Brien");
    ok(buf_is(&b, "O\\'Brien"), "quote escaped");
    cw_soql_escape(&b, "a\\b\"c\nd\re\tf");
    ok(buf_is(&b, "a\\\\b\\\"c\\nd\\re\\tf"), "backslash, quote, controls");
    cw_soql_escape(&b, "x' OR Id != '");
    ok(buf_is(&b, "x\\' OR Id != \\'"), "injection neutralised");
    ok(cw_soql_field_ok("HelpAround_Patient_Id__c"), "custom field ok");
    ok(!cw_soql_field_ok("Id, Name"), "list refused");
    ok(!cw_soql_field_ok("Id--"), "punctuation refused");
    ok(!cw_soql_field_ok("_x"), "leading underscore refused");
    ok(!cw_soql_field_ok(""), "empty refused");

    /* URL */
    cw_url_escape(&b, "a b/c?d=é");
    ok(buf_is(&b, "a%20b%2Fc%3Fd%3D%C3%A9"), "URL component escaped");

    /* date-times as Salesforce writes them */
    ok(cw_parse_datetime("2026-11-21T10:00:00.123+0000", &ms) == 0
       && ms == 1795255200123LL, "+0000 offset");
    ok(cw_parse_datetime("2026-11-21T10:00:00.123Z", &ms) == 0
       && ms == 1795255200123LL, "Z");
    ok(cw_parse_datetime("2026-11-21T12:00:00.123+02:00", &ms) == 0
       && ms == 1795255200123LL, "+02:00");
    ok(cw_parse_datetime("2026-11-21T11:00:00+0100", &ms) == 0
       && ms == 1795255200000LL, "+0100");
    ok(cw_parse_datetime("yesterday", &ms) == -1, "garbage refused");
    ok(cw_parse_datetime("2026-13-01T00:00:00Z", &ms) == -1,
       "month 13 refused");

    /* the diff: only what differs, never blank from empty */
    have = json_pack("{s:s,s:s,s:n,s:s}", "A", "same",
                     "T", "2026-11-21T10:00:00.000+0000", "N", "E", "keep");
    want = json_pack("{s:s,s:s,s:s,s:s,s:n}", "A", "same",
                     "T", "2026-11-21T10:00:00Z", "N", "new", "E", "",
                     "X", NULL);
    d = cw_crm_diff(have, want);
    ok(d && json_object_size(d) == 1
       && strcmp(json_string_value(json_object_get(d, "N")), "new") == 0,
       "diff: same instant equal, empty and null never written");
    json_decref(d);
    json_object_set_new(want, "N", json_null());
    ok(cw_crm_diff(have, want) == NULL, "nothing differs: NULL");
    json_object_set_new(want, "T", json_string("2026-11-21T10:00:01Z"));
    d = cw_crm_diff(have, want);
    ok(d && json_object_get(d, "T"), "a different instant differs");
    json_decref(d);
    json_object_set_new(have, "D", json_string("2026-11-21"));
    json_object_set_new(want, "D", json_string("2026-11-21T00:00:00Z"));
    d = cw_crm_diff(have, want);
    ok(d && json_object_get(d, "D"), "a date is not a date-time");
    json_decref(d);
    json_decref(have);
    json_decref(want);

    cs_buf_free(&b);
    printf("1..%d\n", cw_n);
    return cw_failed ? 1 : 0;
}
