/*
 * cs_time: the ISO-8601 parsers and formatters (src/cs_time.h).
 *
 * Input: one byte choosing the operation (byte % 3), then its operand.
 *   0  cs_time_parse_utc(text)
 *   1  cs_time_parse_date(text)
 *   2  an instant: 8 bytes, little-endian int64 ms (folded into range)
 *
 * Invariants:
 *   - each parser agrees with a plain reference parser written here from
 *     the grammar in cs_time.h (accept/reject and the instant), the
 *     reference computing days with its own arithmetic;
 *   - NULL outputs change nothing;
 *   - parse then format round-trips: format_iso(parse_utc(s)) parses back
 *     to the same instant and starts with s's first 19 bytes; a bare date
 *     formats back to itself;
 *   - format then parse round-trips for every valid instant, and
 *     format_date gives the day of format_iso.
 */

#include <string.h>

#include "cs_time.h"
#include "fuzz_common.h"

#define MS_DAY  86400000LL


static int
ref_num(const char *s, size_t k, int *v)
{
    size_t  i;

    *v = 0;

    for (i = 0; i < k; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        *v = *v * 10 + (s[i] - '0');
    }

    return 0;
}


/* Days from 0000-01-01 by counting whole years and months. */
static int64_t
ref_days(int y, int m, int d)
{
    static const int  mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
                                  30, 31 };
    int64_t  days;
    int      i;

    /* years 0..y-1; year 0 is a leap year (proleptic Gregorian) */
    days = (int64_t) y * 365 + (y + 3) / 4 - (y + 99) / 100 + (y + 399) / 400;

    for (i = 1; i < m; i++) {
        days += mdays[i - 1];
        if (i == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) {
            days++;
        }
    }

    days += d - 1;

    /* 1970-01-01 is day 719528 counted from 0000-01-01 */
    return days - 719528;
}


static int
ref_ymd(const char *s, int64_t *days)
{
    int  y, m, d, ml;

    if (ref_num(s, 4, &y) || s[4] != '-' || ref_num(s + 5, 2, &m)
        || s[7] != '-' || ref_num(s + 8, 2, &d))
    {
        return -1;
    }

    if (m < 1 || m > 12 || d < 1) {
        return -1;
    }

    ml = (m == 4 || m == 6 || m == 9 || m == 11) ? 30 : 31;
    if (m == 2) {
        ml = ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0) ? 29 : 28;
    }

    if (d > ml) {
        return -1;
    }

    *days = ref_days(y, m, d);

    return 0;
}


/* "Thh:mm:ss[.f{1,9}]" of exactly n bytes. */
static int
ref_hms(const char *s, size_t n, int64_t *ms)
{
    int     h, mi, se, f;
    size_t  k, i;

    if (n < 9 || s[0] != 'T' || ref_num(s + 1, 2, &h) || s[3] != ':'
        || ref_num(s + 4, 2, &mi) || s[6] != ':' || ref_num(s + 7, 2, &se))
    {
        return -1;
    }

    if (h > 23 || mi > 59 || se > 59) {
        return -1;
    }

    f = 0;

    if (n > 9) {
        if (s[9] != '.') {
            return -1;
        }

        k = n - 10;

        if (k < 1 || k > 9) {
            return -1;
        }

        for (i = 0; i < k; i++) {
            if (s[10 + i] < '0' || s[10 + i] > '9') {
                return -1;
            }
            if (i < 3) {
                f += (s[10 + i] - '0') * (i == 0 ? 100 : i == 1 ? 10 : 1);
            }
        }
    }

    *ms = ((int64_t) h * 3600 + mi * 60 + se) * 1000 + f;

    return 0;
}


static int
ref_utc(const char *s, size_t n, int64_t *ms)
{
    int64_t  days, tod;

    if (n < 20 || s[n - 1] != 'Z' || ref_ymd(s, &days)
        || ref_hms(s + 10, n - 11, &tod))
    {
        return -1;
    }

    *ms = days * MS_DAY + tod;

    return 0;
}


static int
ref_date(const char *s, size_t n, int64_t *ms)
{
    int      oh, om;
    int64_t  days, tod, t;

    if (n < 10 || ref_ymd(s, &days)) {
        return -1;
    }

    t = days * MS_DAY;

    if (n == 10) {
        *ms = t;
        return 0;
    }

    if (s[n - 1] == 'Z') {
        if (ref_hms(s + 10, n - 11, &tod)) {
            return -1;
        }

    } else {
        if (n < 10 + 9 + 6 || (s[n - 6] != '+' && s[n - 6] != '-')
            || ref_num(s + n - 5, 2, &oh) || s[n - 3] != ':'
            || ref_num(s + n - 2, 2, &om) || oh > 23 || om > 59
            || ref_hms(s + 10, n - 16, &tod))
        {
            return -1;
        }

        tod -= (s[n - 6] == '+' ? 1 : -1) * ((int64_t) oh * 60 + om) * 60000;
    }

    t += tod;

    if (t < CS_TIME_MIN_MS || t > CS_TIME_MAX_MS) {
        return -1;
    }

    *ms = t;

    return 0;
}


static void
fz_roundtrip(int64_t ms)
{
    int64_t  back, day;
    char     iso[CS_TIME_ISO_LEN + 1], date[CS_TIME_DATE_LEN + 1];
    char     d2[CS_TIME_DATE_LEN + 1];

    FZ_CHECK(cs_time_ms_valid(ms), "%lld", (long long) ms);

    memset(iso, 'x', sizeof(iso));
    cs_time_format_iso(ms, iso);

    FZ_CHECK(strlen(iso) == CS_TIME_ISO_LEN, "format_iso(%lld) = \"%s\"",
             (long long) ms, fz_show(iso, sizeof(iso)));
    FZ_CHECK(cs_time_parse_utc(iso, CS_TIME_ISO_LEN, &back) == 0
             && back == ms,
             "format_iso(%lld) = \"%s\" parses back to %lld", (long long) ms,
             iso, (long long) back);
    FZ_CHECK(ref_utc(iso, CS_TIME_ISO_LEN, &back) == 0 && back == ms,
             "format_iso(%lld) = \"%s\": the reference reads %lld",
             (long long) ms, iso, (long long) back);

    memset(date, 'x', sizeof(date));
    cs_time_format_date(ms, date);

    FZ_CHECK(strlen(date) == CS_TIME_DATE_LEN && memcmp(date, iso, 10) == 0,
             "format_date(%lld) = \"%s\", format_iso \"%s\"", (long long) ms,
             fz_show(date, sizeof(date)), iso);

    day = ms - ((ms % MS_DAY) + MS_DAY) % MS_DAY;

    FZ_CHECK(cs_time_parse_date(date, CS_TIME_DATE_LEN, &back, d2) == 0
             && back == day && strcmp(d2, date) == 0,
             "format_date(%lld) = \"%s\" parses back to %lld", (long long) ms,
             date, (long long) back);
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int          r, rr;
    size_t       n;
    int64_t      ms, ms2, rms;
    uint64_t     u;
    const char  *s;
    char         date[CS_TIME_DATE_LEN + 1], iso[CS_TIME_ISO_LEN + 1];

    if (size < 1) {
        return 0;
    }

    s = (const char *) data + 1;
    n = size - 1;

    switch (data[0] % 3) {

    case 0:
        ms = 0x7eadbeef;
        r = cs_time_parse_utc(s, n, &ms);
        rr = ref_utc(s, n, &rms);

        FZ_CHECK(r == rr, "parse_utc(\"%s\") = %d, reference %d",
                 fz_show(s, n), r, rr);
        FZ_CHECK(cs_time_parse_utc(s, n, NULL) == r, "NULL ms changes it");

        if (r != 0) {
            FZ_CHECK(ms == 0x7eadbeef, "a failed parse wrote ms");
            break;
        }

        FZ_CHECK(ms == rms, "parse_utc(\"%s\") = %lld, reference %lld",
                 fz_show(s, n), (long long) ms, (long long) rms);
        FZ_CHECK(cs_time_ms_valid(ms), "out of range: %lld", (long long) ms);

        cs_time_format_iso(ms, iso);
        FZ_CHECK(memcmp(iso, s, 19) == 0, "\"%s\" formats as \"%s\"",
                 fz_show(s, n), iso);

        /* the date parser takes every UTC date-time too */
        FZ_CHECK(cs_time_parse_date(s, n, &ms2, date) == 0 && ms2 == ms
                 && memcmp(date, s, 10) == 0 && date[10] == '\0',
                 "parse_date disagrees on \"%s\"", fz_show(s, n));

        fz_roundtrip(ms);
        break;

    case 1:
        ms = 0x7eadbeef;
        memset(date, 'x', sizeof(date));
        r = cs_time_parse_date(s, n, &ms, date);
        rr = ref_date(s, n, &rms);

        FZ_CHECK(r == rr, "parse_date(\"%s\") = %d, reference %d",
                 fz_show(s, n), r, rr);
        FZ_CHECK(cs_time_parse_date(s, n, NULL, NULL) == r,
                 "NULL outputs change it");

        if (r != 0) {
            FZ_CHECK(ms == 0x7eadbeef, "a failed parse wrote ms");
            break;
        }

        FZ_CHECK(ms == rms, "parse_date(\"%s\") = %lld, reference %lld",
                 fz_show(s, n), (long long) ms, (long long) rms);
        FZ_CHECK(memcmp(date, s, 10) == 0 && date[10] == '\0',
                 "date \"%s\" is not the text's", fz_show(date, 11));

        if (n == CS_TIME_DATE_LEN) {
            cs_time_format_date(ms, iso);
            FZ_CHECK(memcmp(iso, s, 10) == 0, "\"%s\" formats as \"%s\"",
                     fz_show(s, n), iso);
        }

        if (s[n - 1] == 'Z') {
            FZ_CHECK(cs_time_parse_utc(s, n, &ms2) == 0 && ms2 == ms,
                     "parse_utc disagrees on \"%s\"", fz_show(s, n));
        }

        fz_roundtrip(ms);
        break;

    default:
        if (n < 8) {
            break;
        }

        memcpy(&u, s, 8);

        /* every valid instant, the edges often */
        ms = (int64_t) u;
        FZ_CHECK(cs_time_ms_valid(ms)
                 == (ms >= CS_TIME_MIN_MS && ms <= CS_TIME_MAX_MS),
                 "ms_valid(%lld)", (long long) ms);

        if (!cs_time_ms_valid(ms)) {
            u %= (uint64_t) (CS_TIME_MAX_MS - CS_TIME_MIN_MS + 1);
            ms = CS_TIME_MIN_MS + (int64_t) u;
        }

        fz_roundtrip(ms);
    }

    return 0;
}
