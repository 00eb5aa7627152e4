/*
 * cs_seal: sealing a job's PHI and opening it again, refusals, rotation;
 * and cs_ingest() with a key ring (no PHI value of the fixture is left
 * readable, the readable head is what it was).
 */

#include <stdint.h>

#include "cs_ingest.h"
#include "cs_seal.h"
#include "cs_test.h"

#define HEAD  "{\"v\":1,\"id\":\"01J0000000000000000000000A\"," \
              "\"type\":\"helparound.enrollment\"," \
              "\"source\":{\"system\":\"helparound\"}"
#define TAIL  ",\"patient\":{\"first_name\":\"Quentin\"," \
              "\"phones\":[{\"number\":\"+14155550172\"}]}"
#define JOB   HEAD TAIL "}"

static const char  key1_hex[] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
static const char  key2_hex[] =
    "F0E1D2C3B4A5968778695A4B3C2D1E0F00112233445566778899AABBCCDDEEFF";


static void
ring_with(cs_seal_ring_t *ring, const char *id, const char *hex)
{
    unsigned char  key[CS_SEAL_KEY_LEN];

    CHECK_INT(cs_seal_key_hex(hex, strlen(hex), key), 0);
    CHECK_INT(cs_seal_ring_add(ring, id, strlen(id), key), CS_SEAL_OK);
}


/* JOB sealed under the ring's current key into `b`. */
static void
seal(cs_seal_ring_t *ring, cs_buf_t *b)
{
    cs_buf_reset(b);
    cs_buf_puts(b, JOB);
    CHECK_INT(cs_seal_job(ring, b, strlen(HEAD)), CS_SEAL_OK);
}


static int
open_rc(cs_seal_ring_t *ring, const cs_buf_t *b, cs_buf_t *out, char *kid)
{
    return cs_seal_open(ring, (const unsigned char *) b->data, b->len, out,
                        kid);
}


static void
test_keys(void)
{
    unsigned char   key[CS_SEAL_KEY_LEN];
    cs_seal_ring_t  ring;

    CHECK_INT(cs_seal_key_hex(key1_hex, strlen(key1_hex), key), 0);
    CHECK_INT(key[0], 0);
    CHECK_INT(key[31], 0x1f);
    CHECK_INT(cs_seal_key_hex(key2_hex, 64, key), 0);
    CHECK_INT(key[0], 0xf0);

    /* short, long, not hex, empty */
    CHECK_INT(cs_seal_key_hex(key1_hex, 62, key), -1);
    CHECK_INT(cs_seal_key_hex("00" "000102030405060708090a0b0c0d0e0f"
                              "101112131415161718191a1b1c1d1e1f", 66, key),
              -1);
    CHECK_INT(cs_seal_key_hex("zz0102030405060708090a0b0c0d0e0f"
                              "101112131415161718191a1b1c1d1e1f", 64, key),
              -1);
    CHECK_INT(cs_seal_key_hex("", 0, key), -1);

    cs_seal_ring_init(&ring);
    CHECK(cs_seal_ring_current(&ring) == NULL);
    CHECK_INT(cs_seal_kid_ok("k-2026.01_a", 11), 1);
    CHECK_INT(cs_seal_kid_ok("k 1", 3), 0);
    CHECK_INT(cs_seal_kid_ok("k\"", 2), 0);
    CHECK_INT(cs_seal_kid_ok("", 0), 0);
    CHECK_INT(cs_seal_kid_ok("0123456789012345678901234567890123", 33), 0);

    (void) cs_seal_key_hex(key1_hex, strlen(key1_hex), key);
    CHECK_INT(cs_seal_ring_add(&ring, "k1", 2, key), CS_SEAL_OK);
    CHECK_INT(cs_seal_ring_add(&ring, "k1", 2, key), CS_SEAL_DUPLICATE);
    CHECK_INT(cs_seal_ring_add(&ring, "k2", 2, key), CS_SEAL_DUPLICATE);
    CHECK_INT(cs_seal_ring_add(&ring, "bad id", 6, key), CS_SEAL_BAD_ID);
    CHECK_STR(cs_seal_ring_current(&ring), "k1");
    cs_seal_ring_free(&ring);
    CHECK_INT((long long) ring.n, 0);
}


static void
test_round_trip(void)
{
    char            kid[CS_SEAL_KID_MAX + 1];
    cs_buf_t        b, out, again;
    cs_seal_ring_t  ring;

    cs_seal_ring_init(&ring);
    cs_buf_init(&b);
    cs_buf_init(&out);
    cs_buf_init(&again);

    /* an empty ring seals nothing, and leaves nothing */
    cs_buf_puts(&b, JOB);
    CHECK_INT(cs_seal_job(&ring, &b, strlen(HEAD)), CS_SEAL_UNKNOWN_KEY);
    CHECK_INT((long long) b.len, 0);

    ring_with(&ring, "k1", key1_hex);
    seal(&ring, &b);

    CHECK(strncmp(b.data, HEAD ",\"sealed\":{\"kid\":\"k1\",\"iv\":\"",
                  strlen(HEAD) + 28) == 0);
    CHECK_NOT_CONTAINS(b.data, b.len, "Quentin");
    CHECK_NOT_CONTAINS(b.data, b.len, "4155550172");
    CHECK_CONTAINS(b.data, b.len, "\"ct\":\"");
    CHECK_INT(b.data[b.len - 1], '}');

    CHECK_INT(open_rc(&ring, &b, &out, kid), CS_SEAL_OK);
    CHECK_MEM(out.data, out.len, JOB);
    CHECK_STR(kid, "k1");
    CHECK_INT(cs_seal_kid((const unsigned char *) b.data, b.len, kid),
              CS_SEAL_OK);
    CHECK_STR(kid, "k1");

    /* a fresh iv each time */
    cs_buf_puts(&again, JOB);
    CHECK_INT(cs_seal_job(&ring, &again, strlen(HEAD)), CS_SEAL_OK);
    CHECK_INT((long long) again.len, (long long) b.len);
    CHECK(memcmp(again.data, b.data, b.len) != 0);

    /* in the clear: left alone */
    out.len = 0;
    cs_buf_puts(&out, "untouched");
    CHECK_INT(cs_seal_open(&ring, (const unsigned char *) JOB, strlen(JOB),
                           &out, kid), CS_SEAL_PLAIN);
    CHECK_MEM(out.data, out.len, "untouched");
    CHECK_STR(kid, "");

    /* nothing to seal but the head: still sealed, and opens */
    cs_buf_reset(&b);
    cs_buf_puts(&b, HEAD "}");
    CHECK_INT(cs_seal_job(&ring, &b, strlen(HEAD)), CS_SEAL_OK);
    CHECK_INT(open_rc(&ring, &b, &out, kid), CS_SEAL_OK);
    CHECK_MEM(out.data, out.len, HEAD "}");

    cs_buf_free(&b);
    cs_buf_free(&out);
    cs_buf_free(&again);
    cs_seal_ring_free(&ring);
}


static void
test_refusals(void)
{
    char            kid[CS_SEAL_KID_MAX + 1];
    char           *ct;
    size_t          i, head;
    cs_buf_t        b, out, moved;
    cs_seal_ring_t  ring, other, wrong;

    cs_seal_ring_init(&ring);
    cs_seal_ring_init(&other);
    cs_seal_ring_init(&wrong);
    cs_buf_init(&b);
    cs_buf_init(&out);
    cs_buf_init(&moved);

    ring_with(&ring, "k1", key1_hex);
    ring_with(&other, "k2", key2_hex);
    ring_with(&wrong, "k1", key2_hex);
    seal(&ring, &b);

    /* a key the ring does not have: named, not opened */
    CHECK_INT(open_rc(&other, &b, &out, kid), CS_SEAL_UNKNOWN_KEY);
    CHECK_STR(kid, "k1");
    CHECK_INT((long long) out.len, 0);

    /* the id right, the key not */
    CHECK_INT(open_rc(&wrong, &b, &out, kid), CS_SEAL_FORGED);
    CHECK_INT((long long) out.len, 0);

    /* every byte of the head and of the ciphertext is authenticated */
    ct = strstr(b.data, "\"ct\":\"") + 6;
    head = strlen(HEAD);

    for (i = 1; i < b.len - 3; i++) {
        int  rc;
        char c = b.data[i];

        if (i >= head && b.data + i < ct) {
            continue;               /* the member's own syntax, below */
        }

        /* another character of the same class, so that it still parses */
        b.data[i] = (char) (c == 'A' ? 'B' : c == '"' ? '"' : 'A');
        if (b.data[i] == c) {
            continue;
        }

        rc = open_rc(&ring, &b, &out, kid);
        CS_T_RESULT(rc == CS_SEAL_FORGED || rc == CS_SEAL_MALFORMED,
                    "byte %zu changed: %d", i, rc);
        CHECK_INT((long long) out.len, 0);
        b.data[i] = c;
    }

    CHECK_INT(open_rc(&ring, &b, &out, kid), CS_SEAL_OK);

    /* the sealed part moved to another job's head */
    cs_buf_puts(&moved, "{\"v\":1,\"id\":\"01J0000000000000000000000B\"");
    cs_buf_put(&moved, b.data + head, b.len - head);
    CHECK_INT(cs_seal_open(&ring, (const unsigned char *) moved.data,
                           moved.len, &out, kid), CS_SEAL_FORGED);

    /* the member's syntax */
    {
        static const char  *bad[] = {
            "{\"a\":1,\"sealed\":{\"kid\":\"k1\"}}",
            "{\"a\":1,\"sealed\":{\"kid\":\"k 1\",\"iv\":\"AAAAAAAAAAAAAAAA\","
                "\"ct\":\"AAAAAAAAAAAAAAAAAAAAAAAA\"}}",
            "{\"a\":1,\"sealed\":{\"kid\":\"k1\",\"iv\":\"AAAAAAAAAAAAAAA\","
                "\"ct\":\"AAAAAAAAAAAAAAAAAAAAAAAA\"}}",
            "{\"a\":1,\"sealed\":{\"kid\":\"k1\",\"iv\":\"AAAAAAAAAAAAAAAA\","
                "\"ct\":\"AAAA\"}}",
            "{\"a\":1,\"sealed\":{\"kid\":\"k1\",\"iv\":\"AAAAAAAAAAAAAAAA\","
                "\"ct\":\"AAAAAAAAAAAAAAAAAAAAAAAA\"}},",
            "{\"a\":1,\"sealed\":{\"kid\":\"k1\",\"iv\":\"AAAAAAAAAAAAAAAA\","
                "\"ct\":\"AAAAAAAAAAAAAAAAAAAAAA*A\"}}",
            "x,\"sealed\":{\"kid\":\"k1\",\"iv\":\"AAAAAAAAAAAAAAAA\","
                "\"ct\":\"AAAAAAAAAAAAAAAAAAAAAAAA\"}}",
            ",\"sealed\":{\"kid\":\"",
        };

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            CS_T_RESULT(cs_seal_open(&ring, (const unsigned char *) bad[i],
                                     strlen(bad[i]), &out, kid)
                        == CS_SEAL_MALFORMED, "bad[%zu]", i);
        }

        /* well-formed, wrong tag */
        static const char  forged[] =
            "{\"a\":1,\"sealed\":{\"kid\":\"k1\",\"iv\":\"AAAAAAAAAAAAAAAA\","
            "\"ct\":\"AAAAAAAAAAAAAAAAAAAAAAAA\"}}";

        CHECK_INT(cs_seal_open(&ring, (const unsigned char *) forged,
                               strlen(forged), &out, kid), CS_SEAL_FORGED);
    }

    cs_buf_free(&b);
    cs_buf_free(&out);
    cs_buf_free(&moved);
    cs_seal_ring_free(&ring);
    cs_seal_ring_free(&other);
    cs_seal_ring_free(&wrong);
}


static void
test_rotation(void)
{
    char            kid[CS_SEAL_KID_MAX + 1];
    cs_buf_t        old, cur, out;
    cs_seal_ring_t  ring;

    cs_seal_ring_init(&ring);
    cs_buf_init(&old);
    cs_buf_init(&cur);
    cs_buf_init(&out);

    ring_with(&ring, "k1", key1_hex);
    seal(&ring, &old);
    ring_with(&ring, "k2", key2_hex);
    CHECK_STR(cs_seal_ring_current(&ring), "k2");
    seal(&ring, &cur);

    CHECK_CONTAINS(cur.data, cur.len, "\"kid\":\"k2\"");
    CHECK_INT(open_rc(&ring, &old, &out, kid), CS_SEAL_OK);
    CHECK_MEM(out.data, out.len, JOB);
    CHECK_STR(kid, "k1");
    CHECK_INT(open_rc(&ring, &cur, &out, kid), CS_SEAL_OK);
    CHECK_MEM(out.data, out.len, JOB);
    CHECK_INT(open_rc(&ring, &old, &out, kid), CS_SEAL_OK);
    CHECK_STR(kid, "k1");

    cs_buf_free(&old);
    cs_buf_free(&cur);
    cs_buf_free(&out);
    cs_seal_ring_free(&ring);
}


/* Sizes 0..200 of plaintext: base64's three tails, and then some. */
static void
test_lengths(void)
{
    size_t          n, i;
    cs_buf_t        b, out, want;
    cs_seal_ring_t  ring;

    cs_seal_ring_init(&ring);
    cs_buf_init(&b);
    cs_buf_init(&out);
    cs_buf_init(&want);
    ring_with(&ring, "k1", key1_hex);

    for (n = 0; n < 200; n++) {
        cs_buf_reset(&want);
        cs_buf_puts(&want, HEAD);
        for (i = 0; i < n; i++) {
            cs_buf_putc(&want, (char) ('a' + i % 26));
        }
        cs_buf_putc(&want, '}');

        cs_buf_reset(&b);
        cs_buf_put(&b, want.data, want.len);
        CHECK_INT(cs_seal_job(&ring, &b, strlen(HEAD)), CS_SEAL_OK);
        CHECK_INT(open_rc(&ring, &b, &out, NULL), CS_SEAL_OK);
        CS_T_RESULT(out.len == want.len
                    && memcmp(out.data, want.data, want.len) == 0,
                    "length %zu", n);
    }

    cs_buf_free(&b);
    cs_buf_free(&out);
    cs_buf_free(&want);
    cs_seal_ring_free(&ring);
}


/* The enrollment through cs_ingest(): the same job, its PHI sealed. */
static void
test_ingest(void)
{
    char              *body;
    size_t             len;
    cs_buf_t           out;
    cs_ingest_t        plain, sealed;
    cs_seal_ring_t     ring;
    cs_ingest_conf_t   conf;

    static const char  *phi[] = {
        "John", "Doe", "+12027953213", "test@gmail.com", "2021-03-01",
        "ds43", "234234", "hg89", "7b20a933", "85219935",
        "ha61236024160af"
    };
    size_t             i;

    body = cs_t_read(CS_FIXTURES "/helparound/enrollment.json", &len);
    CHECK(body != NULL);
    if (body == NULL) {
        return;
    }

    cs_seal_ring_init(&ring);
    ring_with(&ring, "k1", key1_hex);
    cs_ingest_init(&plain);
    cs_ingest_init(&sealed);
    cs_buf_init(&out);

    memset(&conf, 0, sizeof(conf));
    conf.keep_raw = 1;
    plain.now_ms = sealed.now_ms = 1629708325123ULL;
    memcpy(plain.job_id, "01FDQ0Y5R2K8ZQ3G4V6W7X8Y9Z", 27);
    memcpy(sealed.job_id, plain.job_id, 27);

    CHECK_INT(cs_ingest(CS_WEBHOOK_HELPAROUND_ENROLLMENT, &conf,
                        (const unsigned char *) body, len, &plain), CS_OK);
    conf.seal = &ring;
    CHECK_INT(cs_ingest(CS_WEBHOOK_HELPAROUND_ENROLLMENT, &conf,
                        (const unsigned char *) body, len, &sealed), CS_OK);

    CHECK_INT(sealed.enqueue, 1);
    CHECK(sealed.body.len == plain.body.len
          && memcmp(sealed.body.data, plain.body.data, plain.body.len) == 0);
    CHECK_CONTAINS(sealed.job.data, sealed.job.len,
                   "\"id\":\"01FDQ0Y5R2K8ZQ3G4V6W7X8Y9Z\"");
    CHECK_CONTAINS(sealed.job.data, sealed.job.len,
                   "\"type\":\"helparound.enrollment\"");
    CHECK_CONTAINS(sealed.job.data, sealed.job.len, "\"idempotency_key\":");
    CHECK_CONTAINS(sealed.job.data, sealed.job.len, "\"sealed\":{");
    CHECK_NOT_CONTAINS(sealed.job.data, sealed.job.len, "\"patient\"");
    CHECK_NOT_CONTAINS(sealed.job.data, sealed.job.len, "\"raw\"");

    for (i = 0; i < sizeof(phi) / sizeof(phi[0]); i++) {
        CHECK_NOT_CONTAINS(sealed.job.data, sealed.job.len, phi[i]);
        /* the same search finds it in the job in the clear */
        CHECK_CONTAINS(plain.job.data, plain.job.len, phi[i]);
    }

    CHECK_INT(cs_seal_open(&ring, (const unsigned char *) sealed.job.data,
                           sealed.job.len, &out, NULL), CS_SEAL_OK);
    CS_T_RESULT(out.len == plain.job.len
                && memcmp(out.data, plain.job.data, out.len) == 0,
                "opened job is the job in the clear");

    cs_buf_free(&out);
    cs_ingest_free(&plain);
    cs_ingest_free(&sealed);
    cs_seal_ring_free(&ring);
    free(body);
}


int
main(void)
{
    test_keys();
    test_round_trip();
    test_refusals();
    test_rotation();
    test_lengths();
    test_ingest();

    CS_TEST_DONE();
}
