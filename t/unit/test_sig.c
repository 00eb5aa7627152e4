/*
 * cs_sig: Hint-style and Standard Webhooks signatures against published
 * vectors and OpenSSL's one-shot HMAC(), key rotation, and key decoding.
 */

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "cs_id.h"
#include "cs_sig.h"
#include "cs_test.h"

/* RFC 4231-style well-known vector (Wikipedia's HMAC example). */
#define FOX       "The quick brown fox jumps over the lazy dog"
#define FOX_HEX                                                               \
    "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
#define FOX_B64   "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg="

/* The Standard Webhooks specification's example. */
#define SW_SECRET  "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define SW_ID      "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define SW_TS      "1614265330"
#define SW_BODY    "{\"test\": 2432232314}"
#define SW_SIG     "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

static const cs_sig_key_t  k_fox = { (const unsigned char *) "key", 3 };
static const cs_sig_key_t  k_other = { (const unsigned char *) "other", 5 };


static cs_sig_result_t
hint(const cs_sig_hmac_conf_t *conf, const char *header, const char *body)
{
    return cs_sig_hmac_verify(conf, header, header ? strlen(header) : 0,
                              body, strlen(body));
}


/* "sha256=" + hex of HMAC(key, body) via OpenSSL directly. */
static void
sign_hex(const char *key, const char *body, char *out)
{
    unsigned int   n;
    unsigned char  md[32];

    HMAC(EVP_sha256(), key, (int) strlen(key), (const unsigned char *) body,
         strlen(body), md, &n);
    strcpy(out, "sha256=");
    cs_id_hex(md, 32, out + 7);
}


static void
test_equal(void)
{
    CHECK(cs_sig_equal("abc", "abc", 3));
    CHECK(!cs_sig_equal("abc", "abd", 3));
    CHECK(!cs_sig_equal("xbc", "abc", 3));
    CHECK(cs_sig_equal("", "x", 0));
}


static void
test_hint_style(void)
{
    char                 h[128], *p, body[] = "{\"id\":\"evt-1\"}";
    cs_sig_key_t         both[2];
    cs_sig_hmac_conf_t   c;
    unsigned char        md[32];
    cs_str_t             part = cs_str_lit(FOX);

    memset(&c, 0, sizeof(c));
    c.keys = &k_fox;
    c.nkeys = 1;

    /* the library's MAC itself */
    CHECK_INT(cs_sig_hmac_sha256(&k_fox, &part, 1, md), 0);
    cs_id_hex(md, 32, h);
    CHECK_STR(h, FOX_HEX);

    CHECK_INT(hint(&c, "sha256=" FOX_HEX, FOX), CS_SIG_OK);
    CHECK_INT(hint(&c, "  sha256=" FOX_HEX " ", FOX), CS_SIG_OK);

    /* hex in either case, prefix in either case */
    strcpy(h, "sha256=" FOX_HEX);
    for (p = h + 7; *p; p++) {
        if (*p >= 'a' && *p <= 'f') {
            *p -= 'a' - 'A';
        }
    }
    CHECK_INT(hint(&c, h, FOX), CS_SIG_OK);
    CHECK_INT(hint(&c, "SHA256=" FOX_HEX, FOX), CS_SIG_OK);

    /* missing, blank */
    CHECK_INT(hint(&c, NULL, FOX), CS_SIG_MISSING);
    CHECK_INT(hint(&c, "", FOX), CS_SIG_MISSING);
    CHECK_INT(hint(&c, "   ", FOX), CS_SIG_MISSING);

    /* malformed: no prefix, short, long, not hex, base64 */
    CHECK_INT(hint(&c, FOX_HEX, FOX), CS_SIG_MALFORMED);
    CHECK_INT(hint(&c, "sha1=" FOX_HEX, FOX), CS_SIG_MALFORMED);
    CHECK_INT(hint(&c, "sha256=", FOX), CS_SIG_MALFORMED);
    CHECK_INT(hint(&c, "sha256=f7bc83f4", FOX), CS_SIG_MALFORMED);
    CHECK_INT(hint(&c, "sha256=" FOX_HEX "00", FOX), CS_SIG_MALFORMED);
    CHECK_INT(hint(&c, "sha256=" FOX_HEX "0", FOX), CS_SIG_MALFORMED);
    CHECK_INT(hint(&c, "sha256=g7bc83f430538424b13298e6aa6fb143ef4d59a1494617"
                       "5997479dbc2d1a3cd8", FOX), CS_SIG_MALFORMED);
    CHECK_INT(hint(&c, "sha256=" FOX_B64, FOX), CS_SIG_MALFORMED);

    /* mismatch: altered body, wrong key, another MAC */
    CHECK_INT(hint(&c, "sha256=" FOX_HEX, FOX "."), CS_SIG_MISMATCH);
    CHECK_INT(hint(&c, "sha256=" FOX_HEX, "the quick brown fox jumps over "
                                          "the lazy dog"), CS_SIG_MISMATCH);
    c.keys = &k_other;
    CHECK_INT(hint(&c, "sha256=" FOX_HEX, FOX), CS_SIG_MISMATCH);
    sign_hex("key", body, h);
    h[20] ^= 1;
    c.keys = &k_fox;
    CHECK_INT(hint(&c, h, body), CS_SIG_MISMATCH);

    /* no keys: nothing can match */
    c.nkeys = 0;
    CHECK_INT(hint(&c, "sha256=" FOX_HEX, FOX), CS_SIG_MISMATCH);

    /* rotation: either of two active keys */
    both[0] = k_other;
    both[1] = k_fox;
    c.keys = both;
    c.nkeys = 2;
    CHECK_INT(hint(&c, "sha256=" FOX_HEX, FOX), CS_SIG_OK);
    sign_hex("other", body, h);
    CHECK_INT(hint(&c, h, body), CS_SIG_OK);
    sign_hex("third", body, h);
    CHECK_INT(hint(&c, h, body), CS_SIG_MISMATCH);

    /* an empty key never matches, even HMAC under the empty key */
    both[1].len = 0;
    sign_hex("", body, h);
    CHECK_INT(hint(&c, h, body), CS_SIG_MISMATCH);
    both[1] = k_fox;

    /* base64, both alphabets, padding optional */
    c.encoding = CS_SIG_BASE64;
    CHECK_INT(hint(&c, "sha256=" FOX_B64, FOX), CS_SIG_OK);
    CHECK_INT(hint(&c, "sha256=97yD9DBThCSxMpjmqm-xQ-9NWaFJRhdZl0edvC0aPNg",
                   FOX), CS_SIG_OK);
    CHECK_INT(hint(&c, "sha256=97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg=",
                   FOX "!"), CS_SIG_MISMATCH);
    CHECK_INT(hint(&c, "sha256=97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg==",
                   FOX), CS_SIG_MALFORMED);
    CHECK_INT(hint(&c, "sha256=97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPN",
                   FOX), CS_SIG_MALFORMED);
    CHECK_INT(hint(&c, "sha256=97yD9DBThCSx Mpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg=",
                   FOX), CS_SIG_MALFORMED);
    CHECK_INT(hint(&c, "sha256=" FOX_HEX, FOX), CS_SIG_MALFORMED);

    /* an empty prefix: the bare encoding; a prefix then is malformed */
    c.prefix = "";
    c.prefix_len = 0;
    CHECK_INT(hint(&c, FOX_B64, FOX), CS_SIG_OK);
    CHECK_INT(hint(&c, "sha256=" FOX_B64, FOX), CS_SIG_MALFORMED);
    c.encoding = CS_SIG_HEX;
    CHECK_INT(hint(&c, FOX_HEX, FOX), CS_SIG_OK);
    CHECK_INT(hint(&c, "sha256=" FOX_HEX, FOX), CS_SIG_MALFORMED);

    /* another prefix */
    c.prefix = "v0=";
    c.prefix_len = 3;
    CHECK_INT(hint(&c, "v0=" FOX_HEX, FOX), CS_SIG_OK);
    CHECK_INT(hint(&c, "sha256=" FOX_HEX, FOX), CS_SIG_MALFORMED);

    /* an empty body is signed like any other */
    c.prefix = NULL;
    sign_hex("key", "", h);
    CHECK_INT(hint(&c, h, ""), CS_SIG_OK);
}


static cs_sig_result_t
stdwh(const cs_sig_key_t *keys, size_t nkeys, const char *id,
    const char *ts, const char *sig, const char *body, int64_t now,
    int64_t tol)
{
    cs_sig_stdwh_t  h;

    h.id.data = id;
    h.id.len = id ? strlen(id) : 0;
    h.timestamp.data = ts;
    h.timestamp.len = ts ? strlen(ts) : 0;
    h.signature.data = sig;
    h.signature.len = sig ? strlen(sig) : 0;

    return cs_sig_stdwh_verify(keys, nkeys, &h, body, strlen(body), now,
                               tol);
}


static void
test_standard_webhooks(void)
{
    size_t          n;
    int64_t         t = 1614265330;
    cs_sig_key_t    k, keys[2];
    unsigned char   kb[64];

    CHECK_INT(cs_sig_whsec_decode(SW_SECRET, strlen(SW_SECRET), kb, &n), 0);
    k.data = kb;
    k.len = n;

#define SW(sig, now)  stdwh(&k, 1, SW_ID, SW_TS, (sig), SW_BODY, (now), 0)

    CHECK_INT(SW(SW_SIG, t), CS_SIG_OK);

    /* tolerance: 300 s either way by default, inclusive */
    CHECK_INT(SW(SW_SIG, t + 300), CS_SIG_OK);
    CHECK_INT(SW(SW_SIG, t - 300), CS_SIG_OK);
    CHECK_INT(SW(SW_SIG, t + 301), CS_SIG_STALE);
    CHECK_INT(SW(SW_SIG, t - 301), CS_SIG_STALE);       /* from the future */
    CHECK_INT(SW(SW_SIG, t + 86400), CS_SIG_STALE);
    CHECK_INT(SW(SW_SIG, 0), CS_SIG_STALE);
    CHECK_INT(SW(SW_SIG, -1), CS_SIG_STALE);
    CHECK_INT(stdwh(&k, 1, SW_ID, SW_TS, SW_SIG, SW_BODY, t + 301, 600),
              CS_SIG_OK);
    CHECK_INT(stdwh(&k, 1, SW_ID, SW_TS, SW_SIG, SW_BODY, t + 61, 60),
              CS_SIG_STALE);

    /* several entries: any v1 may match; other versions ignored */
    CHECK_INT(SW("v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= " SW_SIG, t),
              CS_SIG_OK);
    CHECK_INT(SW("v1a,c29tZXRoaW5nIGVsc2U= " SW_SIG, t), CS_SIG_OK);
    CHECK_INT(SW(SW_SIG "  v2,abc", t), CS_SIG_OK);
    CHECK_INT(SW("v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", t),
              CS_SIG_MISMATCH);
    CHECK_INT(SW("v1a,c29tZXRoaW5nIGVsc2U=", t), CS_SIG_MISMATCH);

    /* mismatch: another MAC, altered body, id or timestamp */
    CHECK_INT(SW("v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", t),
              CS_SIG_MISMATCH);
    CHECK_INT(stdwh(&k, 1, SW_ID, SW_TS, SW_SIG, "{\"test\": 2432232315}", t,
                    0), CS_SIG_MISMATCH);
    CHECK_INT(stdwh(&k, 1, "msg_other", SW_TS, SW_SIG, SW_BODY, t, 0),
              CS_SIG_MISMATCH);
    CHECK_INT(stdwh(&k, 1, SW_ID, "1614265331", SW_SIG, SW_BODY, t, 0),
              CS_SIG_MISMATCH);

    /* rotation */
    keys[0].data = (const unsigned char *) "old";
    keys[0].len = 3;
    keys[1] = k;
    CHECK_INT(stdwh(keys, 2, SW_ID, SW_TS, SW_SIG, SW_BODY, t, 0), CS_SIG_OK);
    CHECK_INT(stdwh(keys, 1, SW_ID, SW_TS, SW_SIG, SW_BODY, t, 0),
              CS_SIG_MISMATCH);
    CHECK_INT(stdwh(keys, 0, SW_ID, SW_TS, SW_SIG, SW_BODY, t, 0),
              CS_SIG_MISMATCH);

    /* missing: any of the three headers absent or blank */
    CHECK_INT(stdwh(&k, 1, NULL, SW_TS, SW_SIG, SW_BODY, t, 0),
              CS_SIG_MISSING);
    CHECK_INT(stdwh(&k, 1, SW_ID, NULL, SW_SIG, SW_BODY, t, 0),
              CS_SIG_MISSING);
    CHECK_INT(stdwh(&k, 1, SW_ID, SW_TS, NULL, SW_BODY, t, 0),
              CS_SIG_MISSING);
    CHECK_INT(stdwh(&k, 1, " ", SW_TS, SW_SIG, SW_BODY, t, 0),
              CS_SIG_MISSING);
    CHECK_INT(SW("", t), CS_SIG_MISSING);

    /* malformed timestamp: not integer seconds */
    CHECK_INT(stdwh(&k, 1, SW_ID, "1614265330.5", SW_SIG, SW_BODY, t, 0),
              CS_SIG_MALFORMED);
    CHECK_INT(stdwh(&k, 1, SW_ID, "-1614265330", SW_SIG, SW_BODY, t, 0),
              CS_SIG_MALFORMED);
    CHECK_INT(stdwh(&k, 1, SW_ID, "2021-02-25T15:02:10Z", SW_SIG, SW_BODY, t,
                    0), CS_SIG_MALFORMED);
    CHECK_INT(stdwh(&k, 1, SW_ID, "1614265330000000000", SW_SIG, SW_BODY, t,
                    0), CS_SIG_MALFORMED);

    /* malformed signature header */
    CHECK_INT(SW("garbage", t), CS_SIG_MALFORMED);
    CHECK_INT(SW("g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", t),
              CS_SIG_MALFORMED);
    CHECK_INT(SW("v1,", t), CS_SIG_MALFORMED);
    CHECK_INT(SW("v1,!!!!", t), CS_SIG_MALFORMED);
    CHECK_INT(SW("v1,g0hM9SsE", t), CS_SIG_MALFORMED);
    CHECK_INT(SW(",abc", t), CS_SIG_MALFORMED);

    /* a well-formed entry beside garbage decides */
    CHECK_INT(SW("garbage " SW_SIG, t), CS_SIG_OK);

#undef SW
}


static void
test_keys(void)
{
    size_t         n;
    unsigned char  out[64], raw[24];
    const char    *s;

    /* whsec_: with or without the prefix */
    CHECK_INT(cs_sig_whsec_decode(SW_SECRET, strlen(SW_SECRET), out, &n), 0);
    CHECK_INT(n, 24);
    memcpy(raw, out, 24);
    CHECK(memcmp(out, "\x31\xf2\x90\xf6\xbf\x06\x29\x8a", 8) == 0);
    s = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    CHECK_INT(cs_sig_whsec_decode(s, strlen(s), out, &n), 0);
    CHECK_INT(n, 24);
    CHECK(memcmp(out, raw, 24) == 0);
    CHECK_INT(cs_sig_whsec_decode("whsec_", 6, out, &n), -1);
    CHECK_INT(cs_sig_whsec_decode("", 0, out, &n), -1);
    CHECK_INT(cs_sig_whsec_decode("whsec_!!!!", 10, out, &n), -1);
    CHECK_INT(cs_sig_whsec_decode("whsec_QUJDR", 11, out, &n), -1);

    /* the generic key text */
    CHECK_INT(cs_sig_key_decode("hex:414243", 10, out, &n), 0);
    CHECK_MEM(out, n, "ABC");
    CHECK_INT(cs_sig_key_decode("hex:4a4B", 8, out, &n), 0);
    CHECK_MEM(out, n, "JK");
    CHECK_INT(cs_sig_key_decode("hex:41424", 9, out, &n), -1);
    CHECK_INT(cs_sig_key_decode("hex:zz", 6, out, &n), -1);
    CHECK_INT(cs_sig_key_decode("hex:", 4, out, &n), -1);
    CHECK_INT(cs_sig_key_decode("base64:QUJD", 11, out, &n), 0);
    CHECK_MEM(out, n, "ABC");
    CHECK_INT(cs_sig_key_decode("base64:QUI", 10, out, &n), 0);
    CHECK_MEM(out, n, "AB");
    CHECK_INT(cs_sig_key_decode("base64:Q", 8, out, &n), -1);
    CHECK_INT(cs_sig_key_decode("base64:", 7, out, &n), -1);
    CHECK_INT(cs_sig_key_decode(SW_SECRET, strlen(SW_SECRET), out, &n), 0);
    CHECK_INT(n, 24);
    CHECK(memcmp(out, raw, 24) == 0);
    CHECK_INT(cs_sig_key_decode("s3cr3t key", 10, out, &n), 0);
    CHECK_MEM(out, n, "s3cr3t key");
    CHECK_INT(cs_sig_key_decode("", 0, out, &n), -1);

    CHECK_STR(cs_sig_result_name(CS_SIG_OK), "ok");
    CHECK_STR(cs_sig_result_name(CS_SIG_MISSING), "missing");
    CHECK_STR(cs_sig_result_name(CS_SIG_MALFORMED), "malformed");
    CHECK_STR(cs_sig_result_name(CS_SIG_MISMATCH), "mismatch");
    CHECK_STR(cs_sig_result_name(CS_SIG_STALE), "stale");
    CHECK_STR(cs_sig_result_name(CS_SIG_ERROR), "error");
}


int
main(void)
{
    test_equal();
    test_hint_style();
    test_standard_webhooks();
    test_keys();

    CS_TEST_DONE();
}
