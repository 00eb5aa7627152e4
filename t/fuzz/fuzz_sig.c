/*
 * cs_sig: webhook signature checks and key parsing (src/cs_sig.h).
 *
 * Input: one selector byte, then length-prefixed fields (one length byte,
 * then that many bytes; a field cut short by the end is what is left),
 * the last field being the rest of the input.
 *
 *   sel % 4 == 0   Hint-style: keys, header, body
 *       bits 2-3   prefix: default (NULL), "", "sha256=", "X-Sig "
 *       bit 4      base64 (else hex)
 *       bit 5      no header at all (NULL)
 *       bits 6-7   number of keys, 0-3
 *   sel % 4 == 1   Standard Webhooks: keys, id, timestamp, signature, body
 *       bits 2-7   now - timestamp, -32..31 seconds, times 10
 *   sel % 4 == 2   key texts: cs_sig_key_decode, cs_sig_whsec_decode
 *   sel % 4 == 3   cs_sig_equal, cs_sig_hmac_sha256 against OpenSSL
 *
 * Invariants:
 *   - Hint-style: the verdict equals a reference written here from the
 *     header's documented format (trim, case-insensitive prefix, hex or
 *     base64 of 32 bytes, HMAC-SHA256 under any non-empty key); a header
 *     built from the key (hex either case, base64 either alphabet, padded
 *     or not) verifies OK, the same with one bit flipped is MISMATCH;
 *   - Standard Webhooks: never an error; OK only if some "v1," entry
 *     decodes to the MAC of "id.timestamp.body" under a key; an entry
 *     built from the key verifies OK within the tolerance, STALE outside
 *     it, OK still among other entries (other versions, rotated keys),
 *     MISMATCH with one bit flipped;
 *   - keys: the decoded key fits the documented room (len bytes; ASan
 *     checks with a buffer of exactly that size), is never empty, and
 *     re-encoding it as hex:, base64:, whsec_ decodes back to it;
 *   - cs_sig_equal is memcmp() == 0; cs_sig_hmac_sha256 over pieces is
 *     OpenSSL's HMAC of their concatenation.
 */

#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "cs_sig.h"
#include "fuzz_common.h"

typedef struct {
    const uint8_t  *p;
    size_t          n;
} fz_in_t;


static cs_str_t
fz_field(fz_in_t *in)
{
    size_t    k;
    cs_str_t  s;

    if (in->n == 0) {
        s.data = (const char *) in->p;
        s.len = 0;
        return s;
    }

    k = in->p[0];
    in->p++;
    in->n--;

    k = k < in->n ? k : in->n;

    s.data = (const char *) in->p;
    s.len = k;
    in->p += k;
    in->n -= k;

    return s;
}


static cs_str_t
fz_rest(fz_in_t *in)
{
    cs_str_t  s = { (const char *) in->p, in->n };

    in->p += in->n;
    in->n = 0;

    return s;
}


static int
fz_blank(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}


static cs_str_t
fz_trim(cs_str_t s)
{
    while (s.len && fz_blank((unsigned char) s.data[0])) {
        s.data++;
        s.len--;
    }
    while (s.len && fz_blank((unsigned char) s.data[s.len - 1])) {
        s.len--;
    }
    return s;
}


static void
fz_mac(const cs_sig_key_t *key, const void *p, size_t n,
    unsigned char out[32])
{
    unsigned int  len = 32;
    static const unsigned char  empty;

    FZ_CHECK(HMAC(EVP_sha256(), key->data ? key->data : &empty,
                  (int) key->len, p, n, out, &len) != NULL && len == 32,
             "OpenSSL HMAC failed");
}


/* ---- reference decoders ------------------------------------------------ */

static int
ref_hex(const char *s, size_t n, unsigned char *out, size_t *out_len)
{
    size_t  i;
    int     v[2], j;

    if (n % 2) {
        return -1;
    }

    for (i = 0; i < n; i += 2) {
        for (j = 0; j < 2; j++) {
            char  c = s[i + j];

            v[j] = (c >= '0' && c <= '9') ? c - '0'
                 : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
            if (v[j] < 0) {
                return -1;
            }
        }
        out[i / 2] = (unsigned char) (v[0] * 16 + v[1]);
    }

    *out_len = n / 2;

    return 0;
}


static int
ref_b64(const char *s, size_t n, unsigned char *out, size_t *out_len)
{
    static const char  std[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    static const char  url[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t    i, pad, k, bits;
    uint32_t  acc;

    pad = 0;
    while (n && s[n - 1] == '=' && pad < 2) {
        n--;
        pad++;
    }

    if ((pad && (n + pad) % 4 != 0) || n % 4 == 1) {
        return -1;
    }

    acc = 0;
    bits = 0;
    k = 0;

    for (i = 0; i < n; i++) {
        const char  *p = s[i] ? strchr(std, s[i]) : NULL;

        if (p == NULL) {
            p = s[i] ? strchr(url, s[i]) : NULL;
            if (p == NULL) {
                return -1;
            }
            p = std + (p - url);
        }

        acc = (acc << 6) | (uint32_t) (p - std);
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            out[k++] = (unsigned char) (acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }

    *out_len = k;

    return 0;
}


static size_t
fz_b64_encode(const unsigned char *p, size_t n, char *out, int url, int pad)
{
    static const char  std[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    static const char  urls[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char  *a = url ? urls : std;
    size_t       i, k;
    uint32_t     v;

    for (i = 0, k = 0; i + 2 < n; i += 3) {
        v = (uint32_t) p[i] << 16 | (uint32_t) p[i + 1] << 8 | p[i + 2];
        out[k++] = a[v >> 18];
        out[k++] = a[(v >> 12) & 63];
        out[k++] = a[(v >> 6) & 63];
        out[k++] = a[v & 63];
    }

    if (n - i == 1) {
        v = (uint32_t) p[i] << 16;
        out[k++] = a[v >> 18];
        out[k++] = a[(v >> 12) & 63];
        if (pad) {
            out[k++] = '=';
            out[k++] = '=';
        }
    } else if (n - i == 2) {
        v = (uint32_t) p[i] << 16 | (uint32_t) p[i + 1] << 8;
        out[k++] = a[v >> 18];
        out[k++] = a[(v >> 12) & 63];
        out[k++] = a[(v >> 6) & 63];
        if (pad) {
            out[k++] = '=';
        }
    }

    out[k] = '\0';

    return k;
}


static size_t
fz_hex_encode(const unsigned char *p, size_t n, char *out, int upper)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        snprintf(out + 2 * i, 3, upper ? "%02X" : "%02x", p[i]);
    }

    return 2 * n;
}


/* ---- Hint-style -------------------------------------------------------- */

static const char *const  fz_prefixes[4] = { NULL, "", "sha256=", "X-Sig " };


static cs_sig_result_t
ref_hmac_verify(const cs_sig_hmac_conf_t *conf, const char *h, size_t hn,
    const void *body, size_t len)
{
    size_t          i, n, pn;
    cs_str_t        v = { h, hn };
    const char     *pre;
    unsigned char   sig[128], md[32];

    if (h == NULL) {
        return CS_SIG_MISSING;
    }

    v = fz_trim(v);

    if (v.len == 0) {
        return CS_SIG_MISSING;
    }

    pre = conf->prefix ? conf->prefix : "sha256=";
    pn = conf->prefix ? conf->prefix_len : 7;

    if (v.len < pn) {
        return CS_SIG_MALFORMED;
    }

    for (i = 0; i < pn; i++) {
        char  a = v.data[i], b = pre[i];

        a = (a >= 'A' && a <= 'Z') ? a + 32 : a;
        b = (b >= 'A' && b <= 'Z') ? b + 32 : b;
        if (a != b) {
            return CS_SIG_MALFORMED;
        }
    }

    v.data += pn;
    v.len -= pn;

    if (v.len > 64
        || (conf->encoding == CS_SIG_HEX ? ref_hex(v.data, v.len, sig, &n)
                                         : ref_b64(v.data, v.len, sig, &n))
        || n != 32)
    {
        return CS_SIG_MALFORMED;
    }

    for (i = 0; i < conf->nkeys; i++) {
        if (conf->keys[i].len == 0) {
            continue;
        }
        fz_mac(&conf->keys[i], body, len, md);
        if (memcmp(md, sig, 32) == 0) {
            return CS_SIG_OK;
        }
    }

    return CS_SIG_MISMATCH;
}


static void
fz_hint_style(uint8_t sel, fz_in_t *in)
{
    size_t              i, nkeys, hn, n;
    cs_str_t            header, body;
    cs_sig_key_t        keys[3];
    cs_sig_hmac_conf_t  conf;
    cs_sig_result_t     rc, want;
    unsigned char       md[32];
    char                h[128], *hp;
    const char         *pre;

    nkeys = sel >> 6;

    for (i = 0; i < nkeys; i++) {
        cs_str_t  k = fz_field(in);

        keys[i].data = (const unsigned char *) k.data;
        keys[i].len = k.len;
    }

    header = fz_field(in);
    body = fz_rest(in);

    memset(&conf, 0, sizeof(conf));
    conf.keys = keys;
    conf.nkeys = nkeys;
    pre = fz_prefixes[(sel >> 2) & 3];
    conf.prefix = pre;
    conf.prefix_len = pre ? strlen(pre) : 0;
    conf.encoding = (sel & 0x10) ? CS_SIG_BASE64 : CS_SIG_HEX;

    /* the fuzzed header, against the reference */
    hp = (sel & 0x20) ? NULL : (char *) header.data;
    rc = cs_sig_hmac_verify(&conf, hp, header.len, body.data, body.len);
    want = ref_hmac_verify(&conf, hp, header.len, body.data, body.len);

    FZ_CHECK(rc == want, "hmac_verify(\"%s\") = %s, reference %s",
             hp ? fz_show(hp, header.len) : "NULL", cs_sig_result_name(rc),
             cs_sig_result_name(want));

    /* a header made with each usable key verifies; a flipped bit does not */
    for (i = 0; i < nkeys; i++) {
        if (keys[i].len == 0) {
            continue;
        }

        fz_mac(&keys[i], body.data, body.len, md);

        hn = (size_t) snprintf(h, sizeof(h), " %s",
                               pre ? pre : CS_SIG_DEFAULT_PREFIX);

        /* the prefix in another case: matched case-insensitively */
        if (header.len && (header.data[0] & 1)) {
            for (n = 1; n < hn; n++) {
                if (h[n] >= 'a' && h[n] <= 'z') {
                    h[n] -= 32;
                }
            }
        }

        if (conf.encoding == CS_SIG_HEX) {
            hn += fz_hex_encode(md, 32, h + hn, header.len > 1
                                                && (header.data[1] & 1));
        } else {
            hn += fz_b64_encode(md, 32, h + hn, header.len > 1
                                                && (header.data[1] & 1),
                                header.len > 1 && (header.data[1] & 2));
        }

        h[hn++] = '\t';

        rc = cs_sig_hmac_verify(&conf, h, hn, body.data, body.len);
        FZ_CHECK(rc == CS_SIG_OK, "a good header \"%s\" for key %zu: %s",
                 fz_show(h, hn), i, cs_sig_result_name(rc));

        md[body.len % 32] ^= (unsigned char) (1u << (body.len % 8));
        hn = (size_t) snprintf(h, sizeof(h), "%s",
                               pre ? pre : CS_SIG_DEFAULT_PREFIX);
        hn += conf.encoding == CS_SIG_HEX
              ? fz_hex_encode(md, 32, h + hn, 0)
              : fz_b64_encode(md, 32, h + hn, 0, 1);

        rc = cs_sig_hmac_verify(&conf, h, hn, body.data, body.len);
        FZ_CHECK(rc == CS_SIG_MISMATCH || rc == CS_SIG_OK,
                 "a flipped header: %s", cs_sig_result_name(rc));

        /* OK only if another key happens to make that MAC: impossible */
        FZ_CHECK(rc == CS_SIG_MISMATCH, "a flipped bit verified");
    }
}


/* ---- Standard Webhooks ------------------------------------------------- */

/* Whether some "v1," entry of sig decodes to the MAC under some key. */
static int
ref_stdwh_ok(const cs_sig_key_t *keys, size_t nkeys, cs_str_t id,
    cs_str_t ts, cs_str_t sig, cs_str_t body)
{
    size_t          i, j, k, n, tn;
    unsigned char  *msg, md[32], dec[128];
    int             ok = 0;

    id = fz_trim(id);
    ts = fz_trim(ts);
    sig = fz_trim(sig);

    n = id.len + ts.len + body.len + 2;
    msg = malloc(n);
    memcpy(msg, id.data, id.len);
    msg[id.len] = '.';
    memcpy(msg + id.len + 1, ts.data, ts.len);
    msg[id.len + 1 + ts.len] = '.';
    if (body.len) {
        memcpy(msg + id.len + ts.len + 2, body.data, body.len);
    }

    for (i = 0; i < nkeys && !ok; i++) {
        if (keys[i].len == 0) {
            continue;
        }

        fz_mac(&keys[i], msg, n, md);

        for (j = 0; j < sig.len && !ok; j = k) {
            while (j < sig.len && fz_blank((unsigned char) sig.data[j])) {
                j++;
            }
            for (k = j; k < sig.len && !fz_blank((unsigned char) sig.data[k]);
                 k++)
            {
                /* void */
            }

            tn = k - j;

            if (tn > 3 && memcmp(sig.data + j, "v1,", 3) == 0
                && tn - 3 <= 64
                && ref_b64(sig.data + j + 3, tn - 3, dec, &n) == 0 && n == 32
                && memcmp(dec, md, 32) == 0)
            {
                ok = 1;
            }
        }

        n = id.len + ts.len + body.len + 2;
    }

    free(msg);

    return ok;
}


static void
fz_stdwh(uint8_t sel, fz_in_t *in)
{
    size_t           i, nkeys, n, sn;
    int64_t          now, ts, delta;
    cs_str_t         id, tsv, sig, body;
    cs_sig_key_t     keys[2];
    cs_sig_stdwh_t   h;
    cs_sig_result_t  rc;
    unsigned char    md[32], *msg;
    char             s[512], tsbuf[32];

    nkeys = 2;

    for (i = 0; i < nkeys; i++) {
        cs_str_t  k = fz_field(in);

        keys[i].data = (const unsigned char *) k.data;
        keys[i].len = k.len;
    }

    id = fz_field(in);
    tsv = fz_field(in);
    sig = fz_field(in);
    body = fz_rest(in);

    delta = ((int64_t) (sel >> 2) - 32) * 10;
    now = 1700000000 + delta;

    h.id = id;
    h.timestamp = tsv;
    h.signature = sig;

    /* the fuzzed headers */
    rc = cs_sig_stdwh_verify(keys, nkeys, &h, body.data, body.len, now, 0);

    FZ_CHECK(rc != CS_SIG_ERROR && rc <= CS_SIG_ERROR,
             "stdwh_verify returned %d", rc);

    if (rc == CS_SIG_OK) {
        FZ_CHECK(ref_stdwh_ok(keys, nkeys, id, tsv, sig, body),
                 "OK, but no v1 entry is the MAC: id \"%s\" sig \"%s\"",
                 fz_show(id.data, id.len), fz_show(sig.data, sig.len));
    }

    /* headers made with the second key, at a timestamp near now */
    if (keys[1].len == 0 || fz_trim(id).len == 0) {
        return;
    }

    ts = 1700000000;
    snprintf(tsbuf, sizeof(tsbuf), "%lld", (long long) ts);

    id = fz_trim(id);
    n = id.len + strlen(tsbuf) + body.len + 2;
    msg = malloc(n);
    memcpy(msg, id.data, id.len);
    msg[id.len] = '.';
    memcpy(msg + id.len + 1, tsbuf, strlen(tsbuf));
    msg[id.len + 1 + strlen(tsbuf)] = '.';
    if (body.len) {
        memcpy(msg + n - body.len, body.data, body.len);
    }
    fz_mac(&keys[1], msg, n, md);
    free(msg);

    /* another version's entry and a rotated-out key's entry first */
    sn = (size_t) snprintf(s, sizeof(s), "v1a,%s v1,", "AAAA");
    sn += fz_b64_encode(md, 32, s + sn, 0, 1);
    s[sn - 5] ^= 1;                             /* not the MAC any more */
    s[sn++] = ' ';
    memcpy(s + sn, "v1,", 3);
    sn += 3;
    sn += fz_b64_encode(md, 32, s + sn, sel & 1, sel & 2);

    h.id = id;
    h.timestamp.data = tsbuf;
    h.timestamp.len = strlen(tsbuf);
    h.signature.data = s;
    h.signature.len = sn;

    rc = cs_sig_stdwh_verify(keys, nkeys, &h, body.data, body.len, now, 0);

    if (delta > CS_SIG_TOLERANCE || delta < -CS_SIG_TOLERANCE) {
        FZ_CHECK(rc == CS_SIG_STALE, "%llds off, not stale: %s",
                 (long long) delta, cs_sig_result_name(rc));
    } else {
        FZ_CHECK(rc == CS_SIG_OK, "a good signature \"%s\": %s",
                 fz_show(s, sn), cs_sig_result_name(rc));
    }

    /* with a tight tolerance */
    rc = cs_sig_stdwh_verify(keys, nkeys, &h, body.data, body.len, now, 5);
    FZ_CHECK((delta >= -5 && delta <= 5) ? rc == CS_SIG_OK
                                         : rc == CS_SIG_STALE,
             "tolerance 5, %llds off: %s", (long long) delta,
             cs_sig_result_name(rc));

    /* one bit flipped in the good entry */
    md[0] ^= 0x80;
    sn = (size_t) snprintf(s, sizeof(s), "v1,");
    sn += fz_b64_encode(md, 32, s + sn, 0, 1);
    h.signature.len = sn;

    rc = cs_sig_stdwh_verify(keys, nkeys, &h, body.data, body.len, ts, 0);
    FZ_CHECK(rc == CS_SIG_MISMATCH, "a flipped bit: %s",
             cs_sig_result_name(rc));
}


/* ---- keys -------------------------------------------------------------- */

static void
fz_keys(fz_in_t *in)
{
    int             r, r2;
    size_t          n, n2, tn;
    cs_str_t        t = fz_rest(in);
    unsigned char  *out, *again, ref[256];
    char           *text;

    out = malloc(t.len ? t.len : 1);
    n = (size_t) -1;
    r = cs_sig_key_decode(t.data, t.len, out, &n);

    if (r == 0) {
        FZ_CHECK(n > 0 && n <= t.len, "key_decode(\"%s\"): %zu bytes",
                 fz_show(t.data, t.len), n);

        if (t.len >= 4 && memcmp(t.data, "hex:", 4) == 0) {
            FZ_CHECK(t.len - 4 <= 2 * sizeof(ref)
                     ? ref_hex(t.data + 4, t.len - 4, ref, &n2) == 0
                       && n2 == n && memcmp(ref, out, n) == 0
                     : 1,
                     "hex key \"%s\" decodes otherwise",
                     fz_show(t.data, t.len));
        }

        /* re-encoded, it decodes back */
        text = malloc(2 * n + 16);
        again = malloc(2 * n + 16);

        tn = (size_t) snprintf(text, 5, "hex:");
        tn += fz_hex_encode(out, n, text + tn, n & 1);
        r2 = cs_sig_key_decode(text, tn, again, &n2);
        FZ_CHECK(r2 == 0 && n2 == n && memcmp(again, out, n) == 0,
                 "hex: round trip");

        tn = (size_t) snprintf(text, 8, "base64:");
        tn += fz_b64_encode(out, n, text + tn, n & 1, n & 2);
        r2 = cs_sig_key_decode(text, tn, again, &n2);
        FZ_CHECK(r2 == 0 && n2 == n && memcmp(again, out, n) == 0,
                 "base64: round trip \"%s\"", fz_show(text, tn));

        tn = (size_t) snprintf(text, 7, "whsec_");
        tn += fz_b64_encode(out, n, text + tn, 0, 1);
        r2 = cs_sig_whsec_decode(text, tn, again, &n2);
        FZ_CHECK(r2 == 0 && n2 == n && memcmp(again, out, n) == 0,
                 "whsec_ round trip \"%s\"", fz_show(text, tn));

        free(text);
        free(again);
    } else {
        FZ_CHECK(r == -1, "key_decode returned %d", r);
    }

    n = (size_t) -1;
    r = cs_sig_whsec_decode(t.data, t.len, out, &n);

    if (r == 0) {
        FZ_CHECK(n > 0 && n <= t.len, "whsec_decode(\"%s\"): %zu bytes",
                 fz_show(t.data, t.len), n);
    }

    free(out);
}


/* ---- primitives -------------------------------------------------------- */

static void
fz_prims(fz_in_t *in)
{
    size_t         i, k;
    cs_str_t       a, b, key, rest, parts[8];
    cs_sig_key_t   sk;
    unsigned char  md[32], want[32];

    a = fz_field(in);
    b = fz_field(in);
    key = fz_field(in);
    rest = fz_rest(in);

    k = a.len < b.len ? a.len : b.len;
    FZ_CHECK(cs_sig_equal(a.data, b.data, k)
             == (k == 0 || memcmp(a.data, b.data, k) == 0),
             "cs_sig_equal disagrees with memcmp");

    /* the rest in up to 8 pieces, cut where a's bytes say */
    for (i = 0, k = 0; i < 7 && k < rest.len; i++) {
        size_t  len = a.len > i ? (unsigned char) a.data[i] : rest.len;

        len = len < rest.len - k ? len : rest.len - k;
        parts[i].data = rest.data + k;
        parts[i].len = len;
        k += len;
    }
    parts[i].data = rest.data + k;
    parts[i].len = rest.len - k;
    i++;

    sk.data = (const unsigned char *) key.data;
    sk.len = key.len;

    FZ_CHECK(cs_sig_hmac_sha256(&sk, parts, i, md) == 0, "hmac failed");
    fz_mac(&sk, rest.data, rest.len, want);
    FZ_CHECK(memcmp(md, want, 32) == 0, "HMAC over %zu pieces differs", i);
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in_t  in;

    if (size < 1) {
        return 0;
    }

    in.p = data + 1;
    in.n = size - 1;

    switch (data[0] & 3) {
    case 0: fz_hint_style(data[0], &in); break;
    case 1: fz_stdwh(data[0], &in); break;
    case 2: fz_keys(&in); break;
    default: fz_prims(&in); break;
    }

    return 0;
}
