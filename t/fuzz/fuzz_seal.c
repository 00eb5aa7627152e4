/*
 * cs_seal: opening sealed jobs (src/cs_seal.h), and sealing.
 *
 * Input: one selector byte, then the data.
 *
 *   sel % 2 == 0   cs_seal_open() and cs_seal_kid() over the data as it
 *                  is, with a ring of two keys (ids "k1", "k2"), the
 *                  ring's state carried from one input to the next
 *   sel % 2 == 1   the data as an envelope's members: "{" + data[0..h)
 *                  is the head, data[h..) the sealed part (h from the
 *                  second byte), sealed under the ring's current key
 *                  (bit 1 of sel: "k1", else "k2"); then opened, and
 *                  opened again with one byte changed (its place and
 *                  value from the third and fourth bytes)
 *
 * Invariants:
 *   - open never returns anything but the codes of cs_seal.h; refused,
 *     `out` is empty; in the clear, `out` is untouched; a key id it
 *     reports is of the id alphabet, and cs_seal_kid() agrees with open
 *     about which key (and about in the clear / malformed);
 *   - opened, the result is the input's head, then what was sealed, then
 *     "}": its first bytes are the input's up to the member;
 *   - sealed then opened gives back exactly the envelope; the sealed
 *     text is printable ASCII and none of the sealed part's 12-byte
 *     pieces (at offsets 0, 12, 24 …) is in its ciphertext; with any one byte changed it does not
 *     open (never CS_SEAL_OK), and leaves nothing in `out`.
 */

#define _GNU_SOURCE                 /* memmem() */

#include <string.h>

#include "cs_seal.h"
#include "fuzz_common.h"

static cs_seal_ring_t  fz_ring;
static int             fz_ready;


static void
fz_init(void)
{
    static const unsigned char  k1[CS_SEAL_KEY_LEN] = { 0x11, 0x22, 0x33 };
    static const unsigned char  k2[CS_SEAL_KEY_LEN] = { 0x44, 0x55, 0x66 };

    if (fz_ready) {
        return;
    }

    cs_seal_ring_init(&fz_ring);
    FZ_CHECK(cs_seal_ring_add(&fz_ring, "k1", 2, k1) == CS_SEAL_OK, "k1");
    FZ_CHECK(cs_seal_ring_add(&fz_ring, "k2", 2, k2) == CS_SEAL_OK, "k2");
    fz_ready = 1;
}


static void
fz_open(const uint8_t *p, size_t n)
{
    int       rc, krc;
    char      kid[CS_SEAL_KID_MAX + 1], kid2[CS_SEAL_KID_MAX + 1];
    cs_buf_t  out;

    cs_buf_init(&out);
    cs_buf_puts(&out, "before");

    rc = cs_seal_open(&fz_ring, p, n, &out, kid);
    krc = cs_seal_kid(p, n, kid2);

    FZ_CHECK(rc == CS_SEAL_OK || rc == CS_SEAL_PLAIN
             || rc == CS_SEAL_MALFORMED || rc == CS_SEAL_UNKNOWN_KEY
             || rc == CS_SEAL_FORGED || rc == CS_SEAL_NOMEM,
             "open returned %d", rc);

    if (rc == CS_SEAL_PLAIN) {
        FZ_CHECK(krc == CS_SEAL_PLAIN, "kid says %d", krc);
        FZ_CHECK(out.len == 6 && memcmp(out.data, "before", 6) == 0,
                 "in the clear, out changed: %s", fz_show(out.data, out.len));
        FZ_CHECK(kid[0] == '\0', "a kid for a job in the clear");

    } else if (rc == CS_SEAL_MALFORMED) {
        FZ_CHECK(krc == CS_SEAL_MALFORMED || krc == CS_SEAL_OK,
                 "kid says %d", krc);
        FZ_CHECK(out.len == 0, "malformed, out not empty");

    } else {
        FZ_CHECK(krc == CS_SEAL_OK, "open %d, kid says %d", rc, krc);
        FZ_CHECK(strcmp(kid, kid2) == 0, "kids differ: %s / %s", kid,
                 kid2);
        FZ_CHECK(cs_seal_kid_ok(kid, strlen(kid)), "kid %s", kid);
    }

    if (rc == CS_SEAL_OK) {
        const uint8_t  *tag;

        /* the head is the input's bytes before the (last) member */
        tag = NULL;
        for (size_t i = 0; i + 18 <= n; i++) {
            if (memcmp(p + i, ",\"sealed\":{\"kid\":\"", 18) == 0) {
                tag = p + i;
            }
        }

        FZ_CHECK(tag != NULL, "opened without a member");
        FZ_CHECK(out.len > (size_t) (tag - p)
                 && memcmp(out.data, p, (size_t) (tag - p)) == 0
                 && out.data[out.len - 1] == '}',
                 "opened is not head + sealed + }: %s",
                 fz_show(out.data, out.len));

    } else if (rc != CS_SEAL_PLAIN) {
        FZ_CHECK(out.len == 0, "refused (%d), out not empty", rc);
    }

    cs_buf_free(&out);
}


static void
fz_seal(uint8_t sel, const uint8_t *p, size_t n)
{
    int             rc;
    size_t          h, at, i;
    cs_buf_t        job, orig, out;
    const char     *ct;
    unsigned char   flip;
    cs_seal_ring_t  one;
    static const unsigned char  k1[CS_SEAL_KEY_LEN] = { 0x11, 0x22, 0x33 };
    static const unsigned char  k2[CS_SEAL_KEY_LEN] = { 0x44, 0x55, 0x66 };

    if (n < 3) {
        return;
    }

    h = p[0] % n;
    at = p[1];
    flip = p[2] ? p[2] : 1;
    p += 3;
    n -= 3;
    h = h > n ? n : h;

    /* the sealing ring: one key, so the id that seals is chosen */
    cs_seal_ring_init(&one);
    if (sel & 2) {
        (void) cs_seal_ring_add(&one, "k1", 2, k1);
    } else {
        (void) cs_seal_ring_add(&one, "k2", 2, k2);
    }

    cs_buf_init(&job);
    cs_buf_init(&orig);
    cs_buf_init(&out);

    cs_buf_putc(&orig, '{');
    cs_buf_put(&orig, p, h);
    cs_buf_put(&orig, p + h, n - h);
    cs_buf_putc(&orig, '}');

    cs_buf_put(&job, orig.data, orig.len);
    rc = cs_seal_job(&one, &job, 1 + h);
    FZ_CHECK(rc == CS_SEAL_OK || rc == CS_SEAL_NOMEM, "seal %d", rc);

    if (rc == CS_SEAL_OK) {
        /* printable, and none of the sealed bytes left readable */
        for (i = 1 + h; i < job.len; i++) {
            FZ_CHECK(job.data[i] >= 0x20 && job.data[i] < 0x7f,
                     "byte %zu of the sealed job: %02x", i,
                     (unsigned char) job.data[i]);
        }

        /* no 12 bytes of the sealed part are in the ciphertext's text */
        ct = NULL;
        for (i = 1 + h; i + 6 <= job.len; i++) {
            if (memcmp(job.data + i, "\"ct\":\"", 6) == 0) {
                ct = job.data + i + 6;
            }
        }

        FZ_CHECK(ct != NULL, "no ct");

        /* every 12 bytes of the sealed part, in steps of 12 */
        for (i = 0; n - h >= 12 && i + 12 <= n - h; i += 12) {
            FZ_CHECK(memmem(ct, (size_t) (job.data + job.len - ct),
                            p + h + i, 12) == NULL,
                     "sealed bytes %zu.. readable in the ciphertext", i);
        }

        rc = cs_seal_open(&fz_ring, (const unsigned char *) job.data,
                          job.len, &out, NULL);
        FZ_CHECK(rc == CS_SEAL_OK, "the sealed job does not open: %d", rc);
        FZ_CHECK(out.len == orig.len
                 && memcmp(out.data, orig.data, orig.len) == 0,
                 "opened differs: %s", fz_show(out.data, out.len));

        /* any one byte changed: it does not open */
        at %= job.len;
        job.data[at] ^= (char) flip;
        rc = cs_seal_open(&fz_ring, (const unsigned char *) job.data,
                          job.len, &out, NULL);
        FZ_CHECK(rc != CS_SEAL_OK, "opened with byte %zu changed", at);
        FZ_CHECK(rc == CS_SEAL_PLAIN || out.len == 0,
                 "refused with bytes left");
    }

    cs_buf_free(&job);
    cs_buf_free(&orig);
    cs_buf_free(&out);
    cs_seal_ring_free(&one);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_init();

    if (size == 0) {
        return 0;
    }

    if (data[0] % 2 == 0) {
        fz_open(data + 1, size - 1);

    } else {
        fz_seal(data[0], data + 1, size - 1);
    }

    return 0;
}
