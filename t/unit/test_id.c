/*
 * cs_id: UUIDv5 and SHA-256 against Python's uuid/hashlib, ULID shape,
 * and job ids that cannot be guessed from one another.
 */

/* a failing CSPRNG is set up through the (deprecated) method table */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <stdint.h>
#include <unistd.h>
#include <sys/wait.h>

#include <openssl/rand.h>

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


/* the 80 random bits of a ULID, from its last 16 characters */
static void
ulid_bits(const char *id, unsigned char bits[80])
{
    int          i, j, v;
    const char  *p;
    static const char  b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

    for (i = 0; i < 16; i++) {
        p = strchr(b32, id[10 + i]);
        v = p ? (int) (p - b32) : 0;

        for (j = 0; j < 5; j++) {
            bits[i * 5 + j] = (unsigned char) ((v >> (4 - j)) & 1);
        }
    }
}


static void
test_unguessable(void)
{
    int            i, j, d, worst = 80, tail_only = 0, same_step = 1;
    long           total = 0;
    char           ids[1000][27];
    unsigned char  a[80], b[80];
    uint64_t       lo_prev = 0, lo, step = 0;

    /* one millisecond, 1000 ids: what a busy edge makes */
    for (i = 0; i < 1000; i++) {
        CHECK_INT(cs_id_ulid_new(1629708324000ULL, ids[i]), 0);
    }

    for (i = 1; i < 1000; i++) {
        CHECK(memcmp(ids[i], ids[0], 10) == 0);     /* the same time */

        ulid_bits(ids[i - 1], a);
        ulid_bits(ids[i], b);

        for (d = 0, j = 0; j < 80; j++) {
            d += a[j] != b[j];
        }

        total += d;
        worst = d < worst ? d : worst;

        /* a counter changes the last characters only */
        if (memcmp(ids[i - 1], ids[i], 23) == 0) {
            tail_only++;
        }

        /* an arithmetic progression: the same step every time */
        for (lo = 0, j = 16; j < 80; j++) {
            lo = lo << 1 | b[j];
        }

        if (i >= 2 && lo - lo_prev != step) {
            same_step = 0;
        }

        step = lo - lo_prev;
        lo_prev = lo;
    }

    CHECK_INT(tail_only, 0);
    CHECK_INT(same_step, 0);
    /* 80 independent bits differ in 40 on average (sd 4.5): far from 1 */
    CHECK(worst >= 12);
    CHECK(total / 999 >= 36 && total / 999 <= 44);

    for (i = 0; i < 1000; i++) {
        for (j = i + 1; j < 1000; j++) {
            if (strcmp(ids[i], ids[j]) == 0) {
                break;
            }
        }
        if (j < 1000) {
            break;
        }
    }
    CHECK_INT(i, 1000);                             /* all distinct */

    /* ordered by time at millisecond granularity, whatever the bits */
    for (i = 0; i < 200; i++) {
        CHECK_INT(cs_id_ulid_new(1629708324000ULL + (uint64_t) i, ids[0]), 0);
        CHECK_INT(cs_id_ulid_new(1629708324001ULL + (uint64_t) i, ids[1]), 0);
        CHECK(strcmp(ids[0], ids[1]) < 0);
    }

    /* far more than one buffer's worth: refills go on */
    for (i = 0; i < 3 * CS_ID_RANDOM_BATCH / 10; i++) {
        if (cs_id_ulid_new(1629708324000ULL, ids[0]) != 0) {
            break;
        }
    }
    CHECK_INT(i, 3 * CS_ID_RANDOM_BATCH / 10);
    CHECK_INT(cs_id_random(a, CS_ID_RANDOM_BATCH + 1), -1);
}


/* after a fork, parent and child never hand out the same bits */
static void
test_fork(void)
{
    int    fd[2], st;
    char   mine[27], theirs[27] = "";
    pid_t  pid;

    CHECK_INT(cs_id_ulid_new(1629708324000ULL, mine), 0);  /* buffer full */
    CHECK_INT(pipe(fd), 0);

    pid = fork();
    if (pid == 0) {
        close(fd[0]);
        if (cs_id_ulid_new(1629708324000ULL, mine) == 0) {
            (void) !write(fd[1], mine, 26);
        }
        _exit(0);
    }

    close(fd[1]);
    CHECK_INT(cs_id_ulid_new(1629708324000ULL, mine), 0);
    CHECK_INT(read(fd[0], theirs, 26), 26);
    close(fd[0]);
    waitpid(pid, &st, 0);

    CHECK(memcmp(mine, theirs, 26) != 0);
}


static int
fail_bytes(unsigned char *p, int n)
{
    return 0;
}


static int
fail_status(void)
{
    return 0;
}


/* no CSPRNG, no id: never a weaker one */
static void
test_fail_closed(void)
{
    int           i, rc = 0;
    char          out[27];
    static RAND_METHOD  failing = { NULL, fail_bytes, NULL, NULL,
                                    fail_bytes, fail_status };

    CHECK_INT(RAND_set_rand_method(&failing), 1);

    /* what is left of the buffer is spent, then the refill fails */
    for (i = 0; i <= CS_ID_RANDOM_BATCH / 10 && rc == 0; i++) {
        rc = cs_id_ulid_new(1629708324000ULL, out);
    }

    CHECK_INT(rc, -1);
    CHECK_INT(cs_id_ulid_new(1629708324000ULL, out), -1);
    CHECK_INT(cs_id_ulid_new(1629708324000ULL, out), -1);

    /* OpenSSL's own generator again */
    CHECK_INT(RAND_set_rand_method(NULL), 1);
    CHECK_INT(cs_id_ulid_new(1629708324000ULL, out), 0);
}


int
main(void)
{
    test_uuid5();
    test_sha256();
    test_ulid();
    test_unguessable();
    test_fork();
    test_fail_closed();

    CS_TEST_DONE();
}
