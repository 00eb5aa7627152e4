/*
 * cs_normalize: one field at a time.
 */

#include "cs_normalize.h"
#include "cs_test.h"


static const char *
phone(const char *s)
{
    static char  out[CS_PHONE_LEN + 1];

    return cs_norm_phone(s, strlen(s), out) == 0 ? out : NULL;
}


static const char *
state(const char *s)
{
    static char  out[3];

    return cs_norm_state(s, strlen(s), out) == 0 ? out : NULL;
}


static const char *
zip(const char *s)
{
    static char  out[CS_ZIP_LEN + 1];

    return cs_norm_zip(s, strlen(s), out) == 0 ? out : NULL;
}


static const char *
email(const char *s)
{
    static char  out[CS_EMAIL_MAX + 1];

    return cs_norm_email(s, strlen(s), out) >= 0 ? out : NULL;
}


static const char *
gender(const char *s)
{
    return cs_norm_gender(s, strlen(s));
}


static void
test_phone(void)
{
    /* "+" and 8-15 digits: kept */
    CHECK_STR(phone("+12027953213"), "+12027953213");
    CHECK_STR(phone("+44 20 7946 0958"), "+442079460958");
    CHECK_STR(phone("+1 (202) 795-3213"), "+12027953213");
    CHECK_STR(phone("+12345678"), "+12345678");
    CHECK_STR(phone("+123456789012345"), "+123456789012345");
    CHECK_STR(phone("+1234567"), NULL);
    CHECK_STR(phone("+1234567890123456"), NULL);

    /* "00" and 8-15 digits: international prefix */
    CHECK_STR(phone("0044 20 7946 0958"), "+442079460958");
    CHECK_STR(phone("00123456789012345"), "+123456789012345");
    CHECK_STR(phone("001234567"), NULL);

    /* ten digits: US */
    CHECK_STR(phone("2027953213"), "+12027953213");
    CHECK_STR(phone("(202) 795-3213"), "+12027953213");
    CHECK_STR(phone("202.795.3213"), "+12027953213");

    /* eleven digits with a leading 1 */
    CHECK_STR(phone("1-202-795-3213"), "+12027953213");
    CHECK_STR(phone("12027953213"), "+12027953213");

    /* other 8-15 digit strings */
    CHECK_STR(phone("442079460958"), "+442079460958");
    CHECK_STR(phone("12345678"), "+12345678");

    /* rejections */
    CHECK_STR(phone(""), NULL);
    CHECK_STR(phone("   "), NULL);
    CHECK_STR(phone("1234567"), NULL);
    CHECK_STR(phone("1234567890123456"), NULL);
    CHECK_STR(phone("202-795-321A"), NULL);
    CHECK_STR(phone("call me"), NULL);
    CHECK_STR(phone("+1 202 795 3213 ext 4"), NULL);
    CHECK_STR(phone("12+02795321"), NULL);
    CHECK_STR(phone("++12027953213"), NULL);
    CHECK_STR(phone("+"), NULL);
    CHECK_STR(phone("2027953213/"), NULL);
}


static void
test_text(void)
{
    char        buf[64];
    size_t      n;
    cs_buf_t    b;
    cs_str_t    s = cs_str_lit("  \t a b \n"), t, none = cs_str_null;

    t = cs_norm_trim(s);
    CHECK_MEM(t.data, t.len, "a b");
    t = cs_norm_trim(none);
    CHECK(t.data == NULL);

    n = cs_norm_collapse(buf, "  Mary \t  Ann\n\nSmith  ", 22);
    CHECK_MEM(buf, n, "Mary Ann Smith");
    n = cs_norm_collapse(buf, " \t ", 3);
    CHECK_INT(n, 0);

    CHECK(cs_norm_ci_eq("Partner", 7, "pARTNER", 7));
    CHECK(!cs_norm_ci_eq("Partner", 7, "Partners", 8));

    cs_buf_init(&b);
    t.data = " Jean-Luc   \"JL\"  Picard ";
    t.len = strlen(t.data);
    cs_norm_put_name(&b, cs_norm_trim(t));
    CHECK_MEM(b.data, b.len, "\"Jean-Luc \\\"JL\\\" Picard\"");
    cs_buf_free(&b);
}


static void
test_state(void)
{
    CHECK_STR(state("AL"), "AL");
    CHECK_STR(state("al"), "AL");
    CHECK_STR(state(" ny "), "NY");
    CHECK_STR(state("Alabama"), "AL");
    CHECK_STR(state("new   YORK"), "NY");
    CHECK_STR(state("District of Columbia"), "DC");
    CHECK_STR(state("Puerto Rico"), "PR");
    CHECK_STR(state("gu"), "GU");
    CHECK_STR(state("AE"), "AE");
    CHECK_STR(state("XX"), NULL);
    CHECK_STR(state("A"), NULL);
    CHECK_STR(state("Alabam"), NULL);
    CHECK_STR(state("Ontario"), NULL);
    CHECK_STR(state(""), NULL);
    CHECK_STR(state("ALA"), NULL);
}


static void
test_zip(void)
{
    CHECK_STR(zip("12345"), "12345");
    CHECK_STR(zip(" 12345 "), "12345");
    CHECK_STR(zip("12345-6789"), "12345-6789");
    CHECK_STR(zip("123456789"), "12345-6789");
    CHECK_STR(zip("1234"), NULL);
    CHECK_STR(zip("123456"), NULL);
    CHECK_STR(zip("1234567890"), NULL);
    CHECK_STR(zip("12345 6789"), NULL);
    CHECK_STR(zip("1234a"), NULL);
    CHECK_STR(zip("SW1A 1AA"), NULL);
    CHECK_STR(zip(""), NULL);
}


static void
test_country(void)
{
    char  c[3];

    CHECK_INT(cs_norm_country(" us ", 4, c), 0);
    CHECK_STR(c, "US");
    CHECK_INT(cs_norm_country("USA", 3, c), -1);
    CHECK_INT(cs_norm_country("1A", 2, c), -1);
}


static void
test_gender(void)
{
    CHECK_STR(gender("male"), "male");
    CHECK_STR(gender("M"), "male");
    CHECK_STR(gender(" Man "), "male");
    CHECK_STR(gender("FEMALE"), "female");
    CHECK_STR(gender("f"), "female");
    CHECK_STR(gender("Woman"), "female");
    CHECK_STR(gender("u"), "unknown");
    CHECK_STR(gender("Unknown"), "unknown");
    CHECK_STR(gender("unspecified"), "unknown");
    CHECK_STR(gender("Undisclosed"), "unknown");
    CHECK_STR(gender("declined"), "unknown");
    CHECK_STR(gender("Prefer  not to say"), "unknown");
    CHECK_STR(gender("non-binary"), "other");
    CHECK_STR(gender("x"), "other");
    CHECK_STR(gender("a very long gender description that exceeds the "
                     "word table size by some margin"), "other");
    CHECK_STR(gender("  "), NULL);
    CHECK_STR(gender(""), NULL);
}


static void
test_email(void)
{
    CHECK_STR(email("test@gmail.com"), "test@gmail.com");
    CHECK_STR(email("  John.Doe@Example.COM "), "john.doe@example.com");
    CHECK_STR(email("a@b.c"), "a@b.c");
    CHECK_STR(email("@gmail.com"), NULL);
    CHECK_STR(email("test@"), NULL);
    CHECK_STR(email("test@localhost"), NULL);
    CHECK_STR(email("te st@gmail.com"), NULL);
    CHECK_STR(email("a@b@c.com"), NULL);
    CHECK_STR(email("test.gmail.com"), NULL);
    CHECK_STR(email("a\t@b.com"), NULL);
    CHECK_STR(email(""), NULL);
}


int
main(void)
{
    test_phone();
    test_text();
    test_state();
    test_zip();
    test_country();
    test_gender();
    test_email();

    CS_TEST_DONE();
}
