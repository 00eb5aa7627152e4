/*
 * cs_b64: the encoder (each of its paths) against OpenSSL's, for every
 * length up to 300 and every start alignment; the strict decoder's
 * refusals; the lenient one's alphabets and optional padding.
 */

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cs_b64.h"
#include "cs_test.h"


static void
test_encode(void)
{
    size_t          n, off, got, dn;
    char            mine[512], theirs[512];
    unsigned char   data[320], back[400];
    int             bad = 0;

    CHECK_INT(RAND_bytes(data, sizeof(data)), 1);

    for (off = 0; off < 8; off++) {
        for (n = 0; n + off <= 300; n++) {
            memset(mine, '#', sizeof(mine));
            got = cs_b64_encode(data + off, n, mine);
            EVP_EncodeBlock((unsigned char *) theirs, data + off, (int) n);

            if (got != cs_b64_encoded_len(n) || got != strlen(theirs)
                || memcmp(mine, theirs, got) != 0 || mine[got] != '#')
            {
                if (bad++ < 5) {
                    CS_T_RESULT(0, "length %zu at offset %zu: %.*s", n, off,
                                (int) got, mine);
                }
                continue;
            }

            if (cs_b64_decode(mine, got, CS_B64_STRICT, back, &dn) != 0
                || dn != n || memcmp(back, data + off, n) != 0)
            {
                if (bad++ < 5) {
                    CS_T_RESULT(0, "decode of length %zu", n);
                }
            }
        }
    }

    CHECK_INT(bad, 0);

    /* each character of the alphabet, in each place of a group */
    memset(data, 0xff, 3);
    got = cs_b64_encode(data, 3, mine);
    CHECK_MEM(mine, got, "////");
    memset(data, 0xfb, 48);
    got = cs_b64_encode(data, 48, mine);
    CHECK_MEM(mine, 8, "+/v7+/v7");
}


static int
dec(const char *s, int mode, size_t *n)
{
    unsigned char  out[64];

    return cs_b64_decode(s, strlen(s), mode, out, n);
}


static void
test_decode(void)
{
    size_t  n;

    CHECK_INT(dec("", CS_B64_STRICT, &n), 0);
    CHECK_INT((long long) n, 0);
    CHECK_INT(dec("QUJD", CS_B64_STRICT, &n), 0);
    CHECK_INT((long long) n, 3);
    CHECK_INT(dec("QUI=", CS_B64_STRICT, &n), 0);
    CHECK_INT((long long) n, 2);
    CHECK_INT(dec("QQ==", CS_B64_STRICT, &n), 0);
    CHECK_INT((long long) n, 1);

    /* strict: padding whole, the alphabet standard, spare bits 0 */
    CHECK_INT(dec("QUI", CS_B64_STRICT, &n), -1);
    CHECK_INT(dec("QQ", CS_B64_STRICT, &n), -1);
    CHECK_INT(dec("QQ=", CS_B64_STRICT, &n), -1);
    CHECK_INT(dec("Q===", CS_B64_STRICT, &n), -1);
    CHECK_INT(dec("QUJ-", CS_B64_STRICT, &n), -1);
    CHECK_INT(dec("QUJ_", CS_B64_STRICT, &n), -1);
    CHECK_INT(dec("QUJD QUJD", CS_B64_STRICT, &n), -1);
    CHECK_INT(dec("QR==", CS_B64_STRICT, &n), -1);
    CHECK_INT(dec("QUJ=", CS_B64_STRICT, &n), -1);
    CHECK_INT(dec("QU=D", CS_B64_STRICT, &n), -1);

    /* lenient: both alphabets, padding optional, whole if there */
    CHECK_INT(dec("QUI", CS_B64_LENIENT, &n), 0);
    CHECK_INT((long long) n, 2);
    CHECK_INT(dec("QQ", CS_B64_LENIENT, &n), 0);
    CHECK_INT((long long) n, 1);
    CHECK_INT(dec("-_-_", CS_B64_LENIENT, &n), 0);
    CHECK_INT((long long) n, 3);
    CHECK_INT(dec("QQ=", CS_B64_LENIENT, &n), -1);
    CHECK_INT(dec("Q", CS_B64_LENIENT, &n), -1);
    CHECK_INT(dec("QUJD=", CS_B64_LENIENT, &n), -1);
}


int
main(void)
{
    int          st;
    pid_t        pid;
    size_t       i;
    const char  *paths[] = { "scalar", "ssse3" };

    /* each path the CPU could take, in a child of its own (chosen once) */
    for (i = 0; i < 2; i++) {
        pid = fork();
        if (pid == 0) {
            setenv("CS_B64_PATH", paths[i], 1);
            test_encode();
            exit(cs_t_failed ? 1 : 0);
        }

        CS_T_RESULT(pid > 0 && waitpid(pid, &st, 0) == pid
                    && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                    "the %s path", paths[i]);
    }

    test_encode();
    test_decode();

    CS_TEST_DONE();
}
