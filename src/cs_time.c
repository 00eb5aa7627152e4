/*
 * caresync core: ISO-8601 and epoch-ms dates (see cs_time.h).
 *
 * Calendar arithmetic is Howard Hinnant's days_from_civil/civil_from_days:
 * proleptic Gregorian, no tables, no libc time zone state.
 */

#include "cs_time.h"

#define CS_MS_PER_DAY  86400000LL


static int64_t
cs_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t   era;
    unsigned  yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned) (y - era * 400);
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + (int64_t) doe - 719468;
}


static void
cs_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t   era;
    unsigned  doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned) (z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;

    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t) yoe + era * 400 + (*m <= 2);
}


static int
cs_leap(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}


static unsigned
cs_month_days(unsigned y, unsigned m)
{
    static const unsigned char  days[] = {
        31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
    };

    return (m == 2 && cs_leap(y)) ? 29 : days[m - 1];
}


/* `k` decimal digits at s; -1 if any is not a digit. */
static int
cs_digits(const char *s, unsigned k)
{
    int  v;

    v = 0;

    while (k--) {
        if (*s < '0' || *s > '9') {
            return -1;
        }
        v = v * 10 + (*s++ - '0');
    }

    return v;
}


/* "YYYY-MM-DD" at s (10 bytes available); days since the epoch. */
static int
cs_parse_ymd(const char *s, int64_t *days)
{
    int  y, m, d;

    y = cs_digits(s, 4);
    m = cs_digits(s + 5, 2);
    d = cs_digits(s + 8, 2);

    if (y < 0 || m < 1 || m > 12 || d < 1 || s[4] != '-' || s[7] != '-'
        || (unsigned) d > cs_month_days((unsigned) y, (unsigned) m))
    {
        return -1;
    }

    *days = cs_days_from_civil(y, (unsigned) m, (unsigned) d);

    return 0;
}


/*
 * "Thh:mm:ss[.f{1,9}]" at s; returns the bytes used, -1 if malformed.
 * Fractions beyond milliseconds are truncated.
 */
static int
cs_parse_hms(const char *s, size_t n, int64_t *ms)
{
    int     h, mi, se, frac, k;
    size_t  i;

    if (n < 9 || s[0] != 'T' || s[3] != ':' || s[6] != ':') {
        return -1;
    }

    h = cs_digits(s + 1, 2);
    mi = cs_digits(s + 4, 2);
    se = cs_digits(s + 7, 2);

    if (h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 59) {
        return -1;
    }

    i = 9;
    frac = 0;

    if (i < n && s[i] == '.') {
        for (i++, k = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++, k++) {
            if (k < 3) {
                frac = frac * 10 + (s[i] - '0');
            }
        }

        if (k < 1 || k > 9) {
            return -1;
        }

        for ( /* void */ ; k < 3; k++) {
            frac *= 10;
        }
    }

    *ms = ((int64_t) h * 3600 + mi * 60 + se) * 1000 + frac;

    return (int) i;
}


int
cs_time_ms_valid(int64_t ms)
{
    return ms >= CS_TIME_MIN_MS && ms <= CS_TIME_MAX_MS;
}


int
cs_time_parse_utc(const char *s, size_t n, int64_t *ms)
{
    int      used;
    int64_t  days, tod;

    if (n < 20 || cs_parse_ymd(s, &days) != 0) {
        return -1;
    }

    used = cs_parse_hms(s + 10, n - 10, &tod);

    if (used < 0 || (size_t) used + 11 != n || s[n - 1] != 'Z') {
        return -1;
    }

    if (ms) {
        *ms = days * CS_MS_PER_DAY + tod;
    }

    return 0;
}


int
cs_time_parse_date(const char *s, size_t n, int64_t *ms,
    char date[CS_TIME_DATE_LEN + 1])
{
    int      used, oh, om;
    size_t   rest;
    int64_t  days, tod, t;
    const char  *z;

    if (n < CS_TIME_DATE_LEN || cs_parse_ymd(s, &days) != 0) {
        return -1;
    }

    t = days * CS_MS_PER_DAY;

    if (n > CS_TIME_DATE_LEN) {
        used = cs_parse_hms(s + 10, n - 10, &tod);
        if (used < 0) {
            return -1;
        }

        z = s + 10 + used;
        rest = n - 10 - used;
        t += tod;

        if (rest == 1 && z[0] == 'Z') {
            /* UTC */

        } else if (rest == 6 && (z[0] == '+' || z[0] == '-')
                   && z[3] == ':')
        {
            oh = cs_digits(z + 1, 2);
            om = cs_digits(z + 4, 2);

            if (oh < 0 || oh > 23 || om < 0 || om > 59) {
                return -1;
            }

            /* local = UTC + offset */
            tod = ((int64_t) oh * 60 + om) * 60000;
            t += z[0] == '+' ? -tod : tod;

        } else {
            return -1;
        }
    }

    if (!cs_time_ms_valid(t)) {
        return -1;
    }

    if (ms) {
        *ms = t;
    }

    if (date) {
        for (used = 0; used < CS_TIME_DATE_LEN; used++) {
            date[used] = s[used];
        }
        date[CS_TIME_DATE_LEN] = '\0';
    }

    return 0;
}


static void
cs_put_num(char *p, unsigned v, unsigned k)
{
    while (k--) {
        p[k] = (char) ('0' + v % 10);
        v /= 10;
    }
}


static void
cs_split(int64_t ms, int64_t *days, int64_t *rem)
{
    *days = ms / CS_MS_PER_DAY;
    *rem = ms % CS_MS_PER_DAY;

    if (*rem < 0) {
        *rem += CS_MS_PER_DAY;
        (*days)--;
    }
}


void
cs_time_format_date(int64_t ms, char out[CS_TIME_DATE_LEN + 1])
{
    int64_t   days, rem, y;
    unsigned  m, d;

    cs_split(ms, &days, &rem);
    cs_civil_from_days(days, &y, &m, &d);

    cs_put_num(out, (unsigned) y, 4);
    out[4] = '-';
    cs_put_num(out + 5, m, 2);
    out[7] = '-';
    cs_put_num(out + 8, d, 2);
    out[10] = '\0';
}


void
cs_time_format_iso(int64_t ms, char out[CS_TIME_ISO_LEN + 1])
{
    int64_t   days, rem;
    unsigned  r;

    cs_split(ms, &days, &rem);
    cs_time_format_date(ms, out);

    r = (unsigned) rem;

    out[10] = 'T';
    cs_put_num(out + 11, r / 3600000, 2);
    out[13] = ':';
    cs_put_num(out + 14, r / 60000 % 60, 2);
    out[16] = ':';
    cs_put_num(out + 17, r / 1000 % 60, 2);
    out[19] = '.';
    cs_put_num(out + 20, r % 1000, 3);
    out[23] = 'Z';
    out[24] = '\0';
}
