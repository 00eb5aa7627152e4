/*
 * cw-unit: the worker's pure functions, TAP output (run by
 * t/worker/005-unit.t): Retry-After, SOQL escaping and field names,
 * Salesforce date-times, the "write only what differs" diff, URL escaping,
 * the ids put into URL paths, the timeline's form of a URL.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crm/cw_crm.h"
#include "engine/cw_cluster.h"
#include "engine/cw_http.h"
#include "engine/cw_trace.h"
#include "maps/cw_map.h"
#include "crm/cw_salesforce.h"
#include "engine/cw_util.h"

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


/* cw_http_url_id: what may be one segment of a URL path */
static void
cw_url_id_unit(void)
{
    size_t       i;
    cs_buf_t     b;
    cw_err_t     err;
    char         long_id[CW_HTTP_ID_MAX + 2];
    static const char  *good[] = {
        "7b20a933-9292-41e4-91ea-59eba72f2221", "ha61236024160af",
        "003Hs00001AbCdEIAV", "pat-1a2b3c", "a_b", "x",
    };
    static const char  *bad[] = {
        "", ".", "..", "a/b", "../x", "%2e%2e", "a.b", "a b", "a?b=c",
        "a#b", "a\\b", "caf\xc3\xa9", "a\nb", "@evil",
    };

    cs_buf_init(&b);

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        cs_buf_puts(&b, "/p/");
        ok(cw_http_url_id(&b, good[i], "the id", &err) == 0
           && b.len == 3 + strlen(good[i])
           && memcmp(b.data + 3, good[i], strlen(good[i])) == 0,
           "a vendor's id is one path segment, as it is");
        cs_buf_reset(&b);
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cs_buf_puts(&b, "/p/");
        memset(&err, 0, sizeof(err));
        ok(cw_http_url_id(&b, bad[i], "the media id (signature)", &err) == -1
           && b.len == 3 && err.cls == CW_ERR_PERMANENT
           && err.code == CW_E_BAD_ID
           && strncmp(err.message, "the media id (signature) ", 25) == 0
           && (bad[i][0] == '\0' || strstr(err.message, bad[i]) == NULL),
           "refused: nothing appended, permanent, names the field, not "
           "the value");
        cs_buf_reset(&b);
    }

    ok(cw_http_url_id(&b, NULL, "x", &err) == -1 && b.len == 0,
       "no id refused");

    memset(long_id, 'a', sizeof(long_id) - 1);
    long_id[CW_HTTP_ID_MAX] = '\0';
    ok(cw_http_id_ok(long_id), "CW_HTTP_ID_MAX characters");
    long_id[CW_HTTP_ID_MAX] = 'a';
    long_id[CW_HTTP_ID_MAX + 1] = '\0';
    ok(!cw_http_id_ok(long_id), "one more refused");

    cs_buf_free(&b);
}


/* where the Salesforce token may go */
static void
cw_sf_where_unit(void)
{
    size_t       i;
    const char  *def = "salesforce.com, force.com";
    static const char  *good[] = {
        "https://example.my.salesforce.com",
        "https://EXAMPLE.my.Salesforce.COM/",
        "https://na1.salesforce.com", "https://x.sandbox.my.salesforce.com",
        "https://x.lightning.force.com", "https://salesforce.com:443",
    };
    static const char  *bad[] = {
        "http://example.my.salesforce.com", "https://evil.example",
        "https://example.my.salesforce.com.evil.example",
        "https://evilsalesforce.com", "https://salesforce.com.",
        "https://x.salesforce.com@evil.example",
        "https://evil.example#.salesforce.com",
        "https://evil.example/.salesforce.com",
        "https://evil.example?.salesforce.com",
        "https://x.salesforce.com/services", "https://x.salesforce.com:",
        "https://x.salesforce.com:99999999", "https://[::1]",
        "ftp://x.salesforce.com",
        "//x.salesforce.com", "x.salesforce.com", "https://", "",
        "http://127.0.0.1:8080",
    };

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ok(cw_sf_instance_ok(good[i], def), good[i]);
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ok(!cw_sf_instance_ok(bad[i], def), "instance_url refused");
    }

    ok(!cw_sf_instance_ok("https://x.salesforce.com", NULL),
       "no domains: nothing");
    ok(cw_sf_instance_ok("http://127.0.0.1:8080", "http://127.0.0.1")
       && cw_sf_instance_ok("https://127.0.0.1:8443", "http://127.0.0.1"),
       "an http:// entry opts in to plain http for that host");
    ok(!cw_sf_instance_ok("http://localhost:8080", "http://127.0.0.1")
       && !cw_sf_instance_ok("http://x.salesforce.com", "http://127.0.0.1, "
                             "salesforce.com"),
       "... that host only");
    ok(cw_sf_instance_ok("https://a.salesforce.mil", "*.salesforce.mil")
       && cw_sf_instance_ok("https://a.b.example.org",
                            "https://example.org"),
       "*. and https:// entries");

    ok(cw_sf_next_ok("/services/data/v60.0/query/01gD0000002HU6KIAW-2000"),
       "nextRecordsUrl as Salesforce writes it");
    ok(!cw_sf_next_ok("https://evil.example/services/data/v60.0/query/x")
       && !cw_sf_next_ok("//evil.example/services/data/v60.0/query/x")
       && !cw_sf_next_ok("/services/data//evil.example/x")
       && !cw_sf_next_ok("/services/data/../../x")
       && !cw_sf_next_ok("/services/data/v60.0/query/%2e%2e")
       && !cw_sf_next_ok("/services/data/v60.0/query/x?u=1")
       && !cw_sf_next_ok("/services/apexrest/x")
       && !cw_sf_next_ok("services/data/v60.0/query/x")
       && !cw_sf_next_ok(NULL),
       "nextRecordsUrl: absolute, //, .., odd characters refused");
}


/* cw_map: paths, conversions, overrides */
static void
cw_map_unit(void)
{
    char       err[256];
    json_t    *src, *out;
    cw_map_t   m;
    static const cw_map_entry_t  e[] = {
        { "mobile", "phones[type=mobile].number", "MobilePhone", CW_MAP_STR },
        { "street", "a.l1+a.l2", "MailingStreet", CW_MAP_STR },
        { "gender", "g", "GenderIdentity", CW_MAP_GENDER },
        { "ok", "c[name=x.y].value", "Ok__c", CW_MAP_BOOL },
        { "at", "c[name=x.y].at", "At__c", CW_MAP_DATETIME },
        { "dob", "dob", "Birthdate", CW_MAP_DATE },
        { "gone", "nothing.here", "Gone__c", CW_MAP_STR },
    };

    src = json_loads("{\"phones\":[{\"type\":\"home\",\"number\":\"1\"},"
                     "{\"type\":\"mobile\",\"number\":\"2\"}],"
                     "\"a\":{\"l1\":\"x\",\"l2\":\"\"},\"g\":\"unknown\","
                     "\"c\":[{\"name\":\"x.y\",\"value\":false,"
                     "\"at\":\"2021-03-01T00:00:00.000Z\"}],"
                     "\"dob\":\"03/01/2021\"}", 0, NULL);

    ok(cw_map_init(&m, e, 7, "gender=Gender__c, gone=", err, sizeof(err))
       == 0, "map: overrides accepted");
    out = cw_map_apply(&m, src);
    ok(strcmp(json_string_value(json_object_get(out, "MobilePhone")), "2")
       == 0, "map: [type=mobile] picks the mobile phone");
    ok(strcmp(json_string_value(json_object_get(out, "MailingStreet")), "x")
       == 0, "map: a+b joins the non-empty lines");
    ok(json_object_get(out, "Gender__c") == NULL
       && json_object_get(out, "GenderIdentity") == NULL,
       "map: renamed; `unknown` gender maps to nothing");
    ok(json_is_false(json_object_get(out, "Ok__c")),
       "map: false is a value (a dot inside [k=v] too)");
    ok(json_object_get(out, "At__c") != NULL, "map: a date-time kept");
    ok(json_object_get(out, "Birthdate") == NULL, "map: a bad date dropped");
    ok(json_object_size(out) == 4, "map: nothing else");
    ok(m.read[0] && strcmp(m.read[0], "Id") == 0 && m.read[6]
       && m.read[7] == NULL,
       "map: the fields to read: Id and the entries turned on");
    json_decref(out);
    cw_map_free(&m);

    ok(cw_map_init(&m, e, 7, "nope=X__c", err, sizeof(err)) != 0
       && strstr(err, "nope"), "map: an unknown entry is an error");
    cw_map_free(&m);
    ok(cw_map_init(&m, e, 7, "gender=Bad Name", err, sizeof(err)) != 0,
       "map: a field that is not an API name is an error");
    cw_map_free(&m);
    ok(cw_map_init(&m, cw_map_helparound, cw_map_helparound_n, NULL, err,
                   sizeof(err)) == 0
       && strcmp(cw_map_field(&m, "language"), "HelpAround_Language__c")
          == 0, "map: the HelpAround table resolves with its defaults");
    cw_map_free(&m);
    json_decref(src);
}


/* Redis Cluster's key slots (the vectors of the Cluster specification) */
static void
cw_cluster_unit(void)
{
    ok(cw_cluster_slot("123456789", 9) == 12739, "slot: CRC16 of 123456789");
    ok(cw_cluster_slot("{caresync}", 10) == 4401
       && cw_cluster_slot("{caresync}:jobs", 15) == 4401
       && cw_cluster_slot("{caresync}:job:01ABC", 20) == 4401,
       "slot: every key of {caresync} in one slot (4401)");
    ok(cw_cluster_slot("{user1000}.following", 20)
       == cw_cluster_slot("user1000", 8), "slot: the tag alone is hashed");
    ok(cw_cluster_slot("foo{}{bar}", 10) == cw_cluster_slot("foo{}{bar}", 10)
       && cw_cluster_slot("foo{}{bar}", 10)
          != cw_cluster_slot("bar", 3), "slot: an empty tag hashes it all");
    ok(cw_cluster_slot("foo{{bar}}zap", 13) == cw_cluster_slot("{bar", 4),
       "slot: the first { and the next }");
    {
        int   port = 0;
        char  host[16];

        ok(cw_cluster_moved("MOVED 4401 127.0.0.1:7001", host, sizeof(host),
                            &port) == 0
           && strcmp(host, "127.0.0.1") == 0 && port == 7001,
           "moved: the node it names");
        ok(cw_cluster_moved("MOVED 4401 ::1:7001", host, sizeof(host),
                            &port) == 0
           && strcmp(host, "::1") == 0, "moved: an IPv6 address");
        ok(cw_cluster_moved("MOVED 4401 127.0.0.1:0", host, sizeof(host),
                            &port) != 0
           && cw_cluster_moved("MOVED 4401 :7001", host, sizeof(host),
                               &port) != 0
           && cw_cluster_moved("MOVED 4401", host, sizeof(host), &port) != 0
           && cw_cluster_moved("MOVED 1 a-very-long-host-name:1", host,
                               sizeof(host), &port) != 0
           && cw_cluster_moved("ASK 1 h:1", host, sizeof(host), &port) != 0
           && cw_cluster_moved("MOVED 1 h:1x", host, sizeof(host), &port)
              != 0, "moved: anything else refused");
    }
    ok(cw_cluster_tagged("{caresync}") && cw_cluster_tagged("x{a}")
       && !cw_cluster_tagged("caresync") && !cw_cluster_tagged("{}x")
       && !cw_cluster_tagged("{open"), "tagged: a non-empty {tag} only");
}


/* cw_trace_where: host and path, ids and queries out (cw_trace.h) */
static void
cw_where_unit(void)
{
    char  w[CW_TRACE_WHERE];

    cw_trace_where(NULL, "https://x.my.salesforce.com/services/data/v60.0/"
                   "sobjects/Contact/003Ab00000XyZ12AAA?fields=Id", w,
                   sizeof(w));
    ok(strcmp(w, "x.my.salesforce.com/services/data/v60.0/sobjects/"
                 "Contact/{id}") == 0, "where: an id templated, query cut");
    cw_trace_where("http://127.0.0.1:9/base/", "/api/patients/pat-12ab3",
                   w, sizeof(w));
    ok(strcmp(w, "127.0.0.1:9/base/api/patients/{id}") == 0,
       "where: a path on the base");
    cw_trace_where(NULL, "https://user:pw@h.example/services/oauth2/token",
                   w, sizeof(w));
    ok(strcmp(w, "h.example/services/oauth2/token") == 0,
       "where: no userinfo; a word with one digit kept");
    cw_trace_where(NULL, "https://h/q/jane.doe@example.org/"
                   "4aadb997-e9fd-3909-a2f0-833b821544bd#frag", w, sizeof(w));
    ok(strcmp(w, "h/q/{id}/{id}") == 0, "where: an email, a uuid: out");
    cw_trace_where(NULL, "https://h/search?name=John%20Doe&dob=2021-03-01",
                   w, sizeof(w));
    ok(strcmp(w, "h/search") == 0, "where: the query, with its PHI, cut");
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
    ok(cw_crm_field_ok("HelpAround_Patient_Id__c"), "custom field ok");
    ok(!cw_crm_field_ok("Id, Name"), "list refused");
    ok(!cw_crm_field_ok("Id--"), "punctuation refused");
    ok(!cw_crm_field_ok("_x"), "leading underscore refused");
    ok(!cw_crm_field_ok(""), "empty refused");

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

    cw_map_unit();
    cw_url_id_unit();
    cw_where_unit();
    cw_sf_where_unit();
    cw_cluster_unit();

    cs_buf_free(&b);
    printf("1..%d\n", cw_n);
    return cw_failed ? 1 : 0;
}
