/*
 * caresync core: webhook signatures (see cs_sig.h).
 *
 * Every check decodes the sender's signature into bytes and compares
 * bytes, so hex case and base64 alphabet do not matter, and the compare
 * is CRYPTO_memcmp over a fixed length.
 */

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "cs_b64.h"
#include "cs_id.h"
#include "cs_normalize.h"
#include "cs_sig.h"

/* Longest base64 text of a MAC worth decoding ("=" padded: 44). */
#define CS_SIG_B64_MAX  64

/* Seconds: 19 digits could overflow int64 once added to a tolerance. */
#define CS_SIG_TS_DIGITS  15


int
cs_sig_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}


const char *
cs_sig_result_name(cs_sig_result_t rc)
{
    switch (rc) {
    case CS_SIG_OK:        return "ok";
    case CS_SIG_MISSING:   return "missing";
    case CS_SIG_MALFORMED: return "malformed";
    case CS_SIG_MISMATCH:  return "mismatch";
    case CS_SIG_STALE:     return "stale";
    default:               return "error";
    }
}


static int
cs_sig_hex_decode(const char *s, size_t n, unsigned char *out,
    size_t *out_len)
{
    if (cs_id_unhex(s, n, out) != 0) {
        return -1;
    }

    *out_len = n / 2;

    return 0;
}


/* Base64 without whitespace; "=" padding optional, but whole if there. */
static int
cs_sig_b64_decode(const char *s, size_t n, unsigned char *out,
    size_t *out_len)
{
    /* both alphabets: senders differ */
    return cs_b64_decode(s, n, CS_B64_LENIENT, out, out_len);
}


/* One fetched HMAC-SHA256 per verification, shared by its keys. */
static int
cs_sig_mac(EVP_MAC *mac, const cs_sig_key_t *key, const cs_str_t *parts,
    size_t nparts, unsigned char out[CS_SIG_MAC_LEN])
{
    int           rc;
    char          digest[] = "SHA256";
    size_t        i, n;
    OSSL_PARAM    params[2];
    EVP_MAC_CTX  *ctx;

    ctx = EVP_MAC_CTX_new(mac);
    if (ctx == NULL) {
        return -1;
    }

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 digest, 0);
    params[1] = OSSL_PARAM_construct_end();

    rc = EVP_MAC_init(ctx, key->data, key->len, params);

    for (i = 0; rc && i < nparts; i++) {
        if (parts[i].len) {
            rc = EVP_MAC_update(ctx, (const unsigned char *) parts[i].data,
                                parts[i].len);
        }
    }

    if (rc) {
        rc = EVP_MAC_final(ctx, out, &n, CS_SIG_MAC_LEN) && n == CS_SIG_MAC_LEN;
    }

    EVP_MAC_CTX_free(ctx);

    return rc ? 0 : -1;
}


int
cs_sig_hmac_sha256(const cs_sig_key_t *key, const cs_str_t *parts,
    size_t nparts, unsigned char out[CS_SIG_MAC_LEN])
{
    int       rc;
    EVP_MAC  *mac;

    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL) {
        return -1;
    }

    rc = cs_sig_mac(mac, key, parts, nparts, out);

    EVP_MAC_free(mac);

    return rc;
}


/*
 * Whether `sig` is the MAC of the pieces under any key.  Every usable key
 * is tried, so the time taken does not tell which one matched.
 */
static cs_sig_result_t
cs_sig_match(const cs_sig_key_t *keys, size_t nkeys, const cs_str_t *parts,
    size_t nparts, const unsigned char *const *sigs, size_t nsigs)
{
    int              ok;
    size_t           i, j;
    EVP_MAC         *mac;
    unsigned char    md[CS_SIG_MAC_LEN];
    cs_sig_result_t  rc;

    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL) {
        return CS_SIG_ERROR;
    }

    ok = 0;
    rc = CS_SIG_MISMATCH;

    for (i = 0; i < nkeys; i++) {
        if (keys[i].len == 0) {
            continue;
        }

        if (cs_sig_mac(mac, &keys[i], parts, nparts, md) != 0) {
            rc = CS_SIG_ERROR;
            break;
        }

        for (j = 0; j < nsigs; j++) {
            ok |= cs_sig_equal(md, sigs[j], CS_SIG_MAC_LEN);
        }
    }

    EVP_MAC_free(mac);

    if (rc == CS_SIG_ERROR) {
        return rc;
    }

    return ok ? CS_SIG_OK : CS_SIG_MISMATCH;
}


cs_sig_result_t
cs_sig_hmac_verify(const cs_sig_hmac_conf_t *conf, const char *header,
    size_t header_len, const void *body, size_t len)
{
    size_t                n;
    cs_str_t              v, prefix;
    unsigned char         sig[CS_SIG_B64_MAX];
    const unsigned char  *sigs[1];
    cs_str_t              parts[1];

    if (header == NULL) {
        return CS_SIG_MISSING;
    }

    v.data = header;
    v.len = header_len;
    v = cs_norm_trim(v);

    if (v.len == 0) {
        return CS_SIG_MISSING;
    }

    prefix.data = conf->prefix ? conf->prefix : CS_SIG_DEFAULT_PREFIX;
    prefix.len = conf->prefix ? conf->prefix_len
                              : sizeof(CS_SIG_DEFAULT_PREFIX) - 1;

    if (v.len < prefix.len
        || !cs_norm_ci_eq(v.data, prefix.len, prefix.data, prefix.len))
    {
        return CS_SIG_MALFORMED;
    }

    v.data += prefix.len;
    v.len -= prefix.len;

    /* anything longer than a MAC's text cannot be one */
    if (v.len > CS_SIG_B64_MAX
        || (conf->encoding == CS_SIG_HEX
            ? cs_sig_hex_decode(v.data, v.len, sig, &n)
            : cs_sig_b64_decode(v.data, v.len, sig, &n)) != 0
        || n != CS_SIG_MAC_LEN)
    {
        return CS_SIG_MALFORMED;
    }

    parts[0].data = body;
    parts[0].len = len;
    sigs[0] = sig;

    return cs_sig_match(conf->keys, conf->nkeys, parts, 1, sigs, 1);
}


/* Integer seconds, digits only. */
static int
cs_sig_seconds(cs_str_t s, int64_t *out)
{
    size_t   i;
    int64_t  t;

    if (s.len == 0 || s.len > CS_SIG_TS_DIGITS) {
        return -1;
    }

    t = 0;

    for (i = 0; i < s.len; i++) {
        if (s.data[i] < '0' || s.data[i] > '9') {
            return -1;
        }

        t = t * 10 + (s.data[i] - '0');
    }

    *out = t;

    return 0;
}


/* The next space-separated token of s, from *pos on; 0 at the end. */
static int
cs_sig_token(cs_str_t s, size_t *pos, cs_str_t *tok)
{
    size_t  i = *pos;

    while (i < s.len && cs_norm_space((unsigned char) s.data[i])) {
        i++;
    }

    if (i == s.len) {
        return 0;
    }

    tok->data = s.data + i;

    while (i < s.len && !cs_norm_space((unsigned char) s.data[i])) {
        i++;
    }

    tok->len = (size_t) (s.data + i - tok->data);
    *pos = i;

    return 1;
}


#define CS_SIG_STDWH_MAX  16          /* v1 entries looked at */

cs_sig_result_t
cs_sig_stdwh_verify(const cs_sig_key_t *keys, size_t nkeys,
    const cs_sig_stdwh_t *h, const void *body, size_t len, int64_t now,
    int64_t tolerance)
{
    int                   bad, entries;
    size_t                pos, nsigs, n;
    int64_t               ts, d;
    cs_str_t              id, tsv, sigv, tok;
    const char           *comma;
    unsigned char         sig[CS_SIG_STDWH_MAX][CS_SIG_B64_MAX];
    const unsigned char  *sigs[CS_SIG_STDWH_MAX];

    id = cs_norm_trim(h->id);
    tsv = cs_norm_trim(h->timestamp);
    sigv = cs_norm_trim(h->signature);

    if (id.len == 0 || tsv.len == 0 || sigv.len == 0) {
        return CS_SIG_MISSING;
    }

    if (cs_sig_seconds(tsv, &ts) != 0) {
        return CS_SIG_MALFORMED;
    }

    if (now < 0) {
        return CS_SIG_STALE;                    /* no clock: trust nothing */
    }

    if (tolerance <= 0) {
        tolerance = CS_SIG_TOLERANCE;
    }

    d = now > ts ? now - ts : ts - now;

    if (d > tolerance) {
        return CS_SIG_STALE;                    /* too old or too new */
    }

    bad = 0;
    entries = 0;
    nsigs = 0;
    pos = 0;

    while (cs_sig_token(sigv, &pos, &tok)) {
        comma = memchr(tok.data, ',', tok.len);

        if (comma == NULL || comma == tok.data) {
            bad = 1;
            continue;
        }

        entries++;

        /* other versions (v1a: asymmetric …) are not ours to check */
        if (comma - tok.data != 2 || memcmp(tok.data, "v1", 2) != 0) {
            continue;
        }

        if (nsigs == CS_SIG_STDWH_MAX) {
            continue;                           /* enough to try */
        }

        n = tok.len - 3;

        if (n > CS_SIG_B64_MAX
            || cs_sig_b64_decode(comma + 1, n, sig[nsigs], &n) != 0
            || n != CS_SIG_MAC_LEN)
        {
            bad = 1;
            continue;
        }

        sigs[nsigs] = sig[nsigs];
        nsigs++;
    }

    if (nsigs == 0) {
        /* nothing checkable: garbage is malformed, other versions not */
        return (bad || entries == 0) ? CS_SIG_MALFORMED : CS_SIG_MISMATCH;
    }

    {
        cs_str_t  parts[] = {
            id, cs_str_lit("."), tsv, cs_str_lit("."), { body, len }
        };

        return cs_sig_match(keys, nkeys, parts, 5, sigs, nsigs);
    }
}


int
cs_sig_whsec_decode(const char *text, size_t len, unsigned char *out,
    size_t *out_len)
{
    cs_str_t  s = { text, len };

    s = cs_norm_trim(s);

    if (s.len >= 6 && memcmp(s.data, "whsec_", 6) == 0) {
        s.data += 6;
        s.len -= 6;
    }

    if (s.len == 0 || cs_sig_b64_decode(s.data, s.len, out, out_len) != 0
        || *out_len == 0)
    {
        return -1;
    }

    return 0;
}


int
cs_sig_key_decode(const char *text, size_t len, unsigned char *out,
    size_t *out_len)
{
    int  rc;

    if (len >= 4 && memcmp(text, "hex:", 4) == 0) {
        rc = cs_sig_hex_decode(text + 4, len - 4, out, out_len);

    } else if (len >= 7 && memcmp(text, "base64:", 7) == 0) {
        rc = cs_sig_b64_decode(text + 7, len - 7, out, out_len);

    } else if (len >= 6 && memcmp(text, "whsec_", 6) == 0) {
        rc = cs_sig_whsec_decode(text, len, out, out_len);

    } else {
        /* the text's own bytes, as Hint shows the key */
        if (len) {
            memcpy(out, text, len);
        }
        *out_len = len;
        rc = 0;
    }

    return (rc == 0 && *out_len) ? 0 : -1;
}
