/*
 * cs_id: UUIDv5 and SHA-256 against Python's uuid/hashlib, ULID shape.
 */

#include "cs_id.h"
#include "cs_test.h"


static void
test_uuid5(void)
{
    char      out[37];
    cs_str_t  one[] = { cs_str_lit("python.org") };
    cs_str_t  pair[] = {
        cs_str_lit("78ef982b-00ea-39c2-a875-f549c40e92ad"), cs_str_lit(":"),
        cs_str_lit("ha61236024160af")
    };
    cs_str_t  ns_name[] = {
        cs_str_lit("urn:caresync:helparound:external-id")
    };

    /* uuid.NAMESPACE_DNS */
    static const unsigned char  dns[16] = {
        0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1,
        0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8
    };
    /* uuid.NAMESPACE_URL */
    static const unsigned char  url[16] = {
        0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1,
        0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8
    };

    /* python3 -c 'import uuid; print(uuid.uuid5(uuid.NAMESPACE_DNS,
     * "python.org"))' */
    CHECK_INT(cs_id_uuid5(dns, one, 1, out), 0);
    CHECK_STR(out, "886313e1-3b8a-5372-9b90-0c9aee199e5d");

    /* the namespace itself is uuid5(NAMESPACE_URL, its URN) */
    CHECK_INT(cs_id_uuid5(url, ns_name, 1, out), 0);
    CHECK_STR(out, "b9520bbc-f2ca-5174-b5ac-c4b5b4dd9b29");

    /* uuid.uuid5(uuid.UUID("b9520bbc-…"), "78ef…:ha6123…") */
    CHECK_INT(cs_id_uuid5(cs_id_ns_helparound, pair, 3, out), 0);
    CHECK_STR(out, "51235097-5b70-5540-8525-818530d337c1");
}


static void
test_sha256(void)
{
    char      out[65];
    cs_str_t  abc[] = { cs_str_lit("a"), cs_str_null, cs_str_lit("bc") };

    CHECK_INT(cs_id_sha256_hex(abc, 3, out), 0);
    CHECK_STR(out,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}


static void
test_ulid(void)
{
    int            i, ok;
    char           a[27], b[27];
    unsigned char  zero[10] = { 0 }, ones[10];

    memset(ones, 0xff, sizeof(ones));

    cs_id_ulid(0, zero, a);
    CHECK_STR(a, "00000000000000000000000000");

    cs_id_ulid(0xffffffffffffULL, ones, a);
    CHECK_STR(a, "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");

    /* the ULID spec's example time prefix */
    cs_id_ulid(1469918176385ULL, zero, a);
    CHECK_MEM(a, 10, "01ARYZ6S41");

    CHECK_INT(cs_id_ulid_new(1629708324000ULL, a), 0);
    CHECK_INT(cs_id_ulid_new(1629708324000ULL, b), 0);
    CHECK_INT(strlen(a), 26);
    CHECK(memcmp(a, b, 10) == 0 && strcmp(a, b) != 0);

    ok = 1;
    for (i = 0; i < 26; i++) {
        ok &= strchr("0123456789ABCDEFGHJKMNPQRSTVWXYZ", a[i]) != NULL;
    }
    CHECK(ok);
}


int
main(void)
{
    test_uuid5();
    test_sha256();
    test_ulid();

    CS_TEST_DONE();
}
