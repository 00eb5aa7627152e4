/*
 * cs_time: the strict sendDate parser, the lenient date parser, formats.
 */

#include "cs_test.h"
#include "cs_time.h"


static int
utc(const char *s, int64_t *ms)
{
    return cs_time_parse_utc(s, strlen(s), ms);
}


static int
date(const char *s, int64_t *ms, char *d)
{
    return cs_time_parse_date(s, strlen(s), ms, d);
}


static void
test_utc(void)
{
    int64_t  ms;

    CHECK_INT(utc("2021-08-23T08:45:24.000Z", &ms), 0);
    CHECK_INT(ms, 1629708324000LL);
    CHECK_INT(utc("2021-08-23T08:45:24Z", &ms), 0);
    CHECK_INT(ms, 1629708324000LL);
    CHECK_INT(utc("2021-08-23T08:45:24.1Z", &ms), 0);
    CHECK_INT(ms, 1629708324100LL);
    CHECK_INT(utc("2021-08-23T08:45:24.123456789Z", &ms), 0);
    CHECK_INT(ms, 1629708324123LL);
    CHECK_INT(utc("1970-01-01T00:00:00Z", &ms), 0);
    CHECK_INT(ms, 0);
    CHECK_INT(utc("1969-12-31T23:59:59.999Z", &ms), 0);
    CHECK_INT(ms, -1);
    CHECK_INT(utc("2024-02-29T12:00:00Z", NULL), 0);
    CHECK_INT(utc("2000-02-29T12:00:00Z", NULL), 0);
    CHECK_INT(utc("2021-12-31T23:59:59.999Z", NULL), 0);

    CHECK_INT(utc("2023-02-29T12:00:00Z", NULL), -1);     /* not leap */
    CHECK_INT(utc("1900-02-29T12:00:00Z", NULL), -1);
    CHECK_INT(utc("2021-04-31T12:00:00Z", NULL), -1);
    CHECK_INT(utc("2021-13-01T12:00:00Z", NULL), -1);
    CHECK_INT(utc("2021-00-01T12:00:00Z", NULL), -1);
    CHECK_INT(utc("2021-01-00T12:00:00Z", NULL), -1);
    CHECK_INT(utc("2021-08-23T24:00:00Z", NULL), -1);
    CHECK_INT(utc("2021-08-23T23:60:00Z", NULL), -1);
    CHECK_INT(utc("2021-08-23T23:59:60Z", NULL), -1);     /* leap second */
    CHECK_INT(utc("2021-08-23T08:45:24.000", NULL), -1);  /* no Z */
    CHECK_INT(utc("2021-08-23T08:45:24.000+00:00", NULL), -1);
    CHECK_INT(utc("2021-08-23T08:45:24.Z", NULL), -1);
    CHECK_INT(utc("2021-08-23T08:45:24.1234567890Z", NULL), -1);
    CHECK_INT(utc("2021-08-23 08:45:24Z", NULL), -1);
    CHECK_INT(utc("2021-08-23T08:45Z", NULL), -1);
    CHECK_INT(utc("2021-08-23", NULL), -1);
    CHECK_INT(utc("2021-8-23T08:45:24Z", NULL), -1);
    CHECK_INT(utc("2021-08-23T08:45:24zZ", NULL), -1);
    CHECK_INT(utc("2021-08-23T08:45:24.000Zx", NULL), -1);
    CHECK_INT(utc(" 2021-08-23T08:45:24Z", NULL), -1);
    CHECK_INT(utc("", NULL), -1);
    CHECK_INT(utc("2021-08-23T08:45:-4Z", NULL), -1);
}


static void
test_date(void)
{
    char     d[11];
    int64_t  ms;

    CHECK_INT(date("2021-03-01", &ms, d), 0);
    CHECK_STR(d, "2021-03-01");
    CHECK_INT(ms, 1614556800000LL);

    CHECK_INT(date("2021-03-01T00:00:00Z", &ms, d), 0);
    CHECK_INT(ms, 1614556800000LL);

    /* the date as written, the instant in UTC */
    CHECK_INT(date("2021-03-01T23:30:00.5-05:00", &ms, d), 0);
    CHECK_STR(d, "2021-03-01");
    CHECK_INT(ms, 1614659400500LL);
    CHECK_INT(date("2021-03-01T01:00:00+02:00", &ms, d), 0);
    CHECK_STR(d, "2021-03-01");
    CHECK_INT(ms, 1614556800000LL - 3600000);

    CHECK_INT(date("1950-06-15", &ms, d), 0);
    CHECK(ms < 0);

    CHECK_INT(date("2021-02-29", &ms, d), -1);
    CHECK_INT(date("2021-03-01T00:00:00", &ms, d), -1);
    CHECK_INT(date("2021-03-01T00:00:00+5:00", &ms, d), -1);
    CHECK_INT(date("2021-03-01T00:00:00+05:60", &ms, d), -1);
    CHECK_INT(date("2021-03-01T00:00:00+24:00", &ms, d), -1);
    CHECK_INT(date("2021-03-01x", &ms, d), -1);
    CHECK_INT(date("03/01/2021", &ms, d), -1);
    CHECK_INT(date("tomorrow", &ms, d), -1);
    CHECK_INT(date("", &ms, d), -1);
    CHECK_INT(date("0000-01-01T00:00:00+01:00", &ms, d), -1);
}


static void
test_format(void)
{
    char  d[11], iso[25];

    cs_time_format_date(1614556800000LL, d);
    CHECK_STR(d, "2021-03-01");
    cs_time_format_iso(1614556800000LL, iso);
    CHECK_STR(iso, "2021-03-01T00:00:00.000Z");
    cs_time_format_iso(1629708324123LL, iso);
    CHECK_STR(iso, "2021-08-23T08:45:24.123Z");

    cs_time_format_iso(-1, iso);
    CHECK_STR(iso, "1969-12-31T23:59:59.999Z");
    cs_time_format_date(-86400000LL, d);
    CHECK_STR(d, "1969-12-31");
    cs_time_format_date(-86400001LL, d);
    CHECK_STR(d, "1969-12-30");

    cs_time_format_iso(CS_TIME_MAX_MS, iso);
    CHECK_STR(iso, "9999-12-31T23:59:59.999Z");
    cs_time_format_iso(CS_TIME_MIN_MS, iso);
    CHECK_STR(iso, "0000-01-01T00:00:00.000Z");
    cs_time_format_date(951782400000LL, d);          /* 2000-02-29 */
    CHECK_STR(d, "2000-02-29");

    CHECK(cs_time_ms_valid(0));
    CHECK(!cs_time_ms_valid(CS_TIME_MAX_MS + 1));
    CHECK(!cs_time_ms_valid(CS_TIME_MIN_MS - 1));
}


int
main(void)
{
    test_utc();
    test_date();
    test_format();

    CS_TEST_DONE();
}
