/*
 * caresync core: sealing and opening a job's PHI (see cs_seal.h).
 */

#define _GNU_SOURCE                 /* memrchr() */

#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "cs_b64.h"
#include "cs_id.h"
#include "cs_seal.h"

/* what follows the head; its comma is where the head ends */
#define CS_SEAL_OPEN_TAG   ",\"sealed\":{\"kid\":\""
#define CS_SEAL_IV_TAG     "\",\"iv\":\""
#define CS_SEAL_CT_TAG     "\",\"ct\":\""
#define CS_SEAL_END        "\"}}"

#define cs_seal_lit_len(s)  (sizeof(s) - 1)

/* base64 of the 12-byte iv: 16 characters, no padding needed */
#define CS_SEAL_IV_B64     16


void
cs_seal_ring_init(cs_seal_ring_t *ring)
{
    memset(ring, 0, sizeof(cs_seal_ring_t));
    cs_buf_init(&ring->scratch);
}


void
cs_seal_ring_free(cs_seal_ring_t *ring)
{
    EVP_CIPHER_CTX_free(ring->enc);
    EVP_CIPHER_CTX_free(ring->dec);
    cs_buf_free(&ring->scratch);
    OPENSSL_cleanse(ring->keys, sizeof(ring->keys));
    cs_seal_ring_init(ring);
}


int
cs_seal_kid_ok(const char *s, size_t n)
{
    size_t  i;

    if (n == 0 || n > CS_SEAL_KID_MAX) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        char  c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '.' || c == '_'
              || c == '-'))
        {
            return 0;
        }
    }

    return 1;
}


int
cs_seal_key_hex(const char *s, size_t n, unsigned char key[CS_SEAL_KEY_LEN])
{
    int            rc;
    unsigned char  k[CS_SEAL_KEY_LEN];

    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '
                 || s[n - 1] == '\t'))
    {
        n--;
    }

    rc = n == CS_SEAL_KEY_HEX ? cs_id_unhex(s, n, k) : -1;

    if (rc == 0) {
        memcpy(key, k, CS_SEAL_KEY_LEN);
    }

    OPENSSL_cleanse(k, sizeof(k));

    return rc;
}


int
cs_seal_ring_add(cs_seal_ring_t *ring, const char *id, size_t id_len,
    const unsigned char key[CS_SEAL_KEY_LEN])
{
    size_t          i;
    cs_seal_key_t  *k;

    if (!cs_seal_kid_ok(id, id_len)) {
        return CS_SEAL_BAD_ID;
    }

    for (i = 0; i < ring->n; i++) {
        k = &ring->keys[i];

        if ((k->id_len == id_len && memcmp(k->id, id, id_len) == 0)
            || CRYPTO_memcmp(k->key, key, CS_SEAL_KEY_LEN) == 0)
        {
            return CS_SEAL_DUPLICATE;
        }
    }

    if (ring->n == CS_SEAL_KEYS_MAX) {
        return CS_SEAL_FULL;
    }

    k = &ring->keys[ring->n++];
    memcpy(k->id, id, id_len);
    k->id[id_len] = '\0';
    k->id_len = id_len;
    memcpy(k->key, key, CS_SEAL_KEY_LEN);

    return CS_SEAL_OK;
}


const char *
cs_seal_ring_current(const cs_seal_ring_t *ring)
{
    return ring->n ? ring->keys[ring->n - 1].id : NULL;
}


/* The context `*ctx`, keyed with key number `idx` (0-based) for `enc`. */
static int
cs_seal_keyed(cs_seal_ring_t *ring, struct evp_cipher_ctx_st **ctx,
    size_t *held, size_t idx, int enc)
{
    if (*ctx == NULL) {
        *ctx = EVP_CIPHER_CTX_new();
        if (*ctx == NULL) {
            return -1;
        }
        *held = 0;
    }

    if (*held == idx + 1) {
        return 0;
    }

    *held = 0;

    if (EVP_CipherInit_ex(*ctx, EVP_aes_256_gcm(), NULL,
                          ring->keys[idx].key, NULL, enc) != 1)
    {
        return -1;
    }

    *held = idx + 1;
    return 0;
}


int
cs_seal_job(cs_seal_ring_t *ring, cs_buf_t *job, size_t split)
{
    int             len;
    size_t          n, b64;
    unsigned char   iv[CS_SEAL_IV_LEN];
    unsigned char  *ct;
    cs_seal_key_t  *k;

    if (job->oom || split == 0 || job->len < split + 1
        || job->data[job->len - 1] != '}')
    {
        goto fail;
    }

    if (ring->n == 0) {
        cs_buf_reset(job);
        return CS_SEAL_UNKNOWN_KEY;
    }

    k = &ring->keys[ring->n - 1];
    n = job->len - 1 - split;

    cs_buf_reset(&ring->scratch);
    if (cs_buf_reserve(&ring->scratch, n + CS_SEAL_TAG_LEN) != 0) {
        goto fail;
    }

    ct = (unsigned char *) ring->scratch.data;

    if (cs_id_random(iv, sizeof(iv)) != 0
        || cs_seal_keyed(ring, &ring->enc, &ring->enc_key, ring->n - 1, 1)
           != 0
        || EVP_EncryptInit_ex(ring->enc, NULL, NULL, NULL, iv) != 1
        || EVP_EncryptUpdate(ring->enc, NULL, &len,
                             (const unsigned char *) job->data,
                             (int) split) != 1
        || EVP_EncryptUpdate(ring->enc, ct, &len,
                             (const unsigned char *) job->data + split,
                             (int) n) != 1
        || EVP_EncryptFinal_ex(ring->enc, ct + len, &len) != 1
        || EVP_CIPHER_CTX_ctrl(ring->enc, EVP_CTRL_GCM_GET_TAG,
                               CS_SEAL_TAG_LEN, ct + n) != 1)
    {
        /* the context's state is unknown: key it again next time */
        ring->enc_key = 0;
        goto fail;
    }

    n += CS_SEAL_TAG_LEN;
    b64 = cs_b64_encoded_len(n);

    /* the plaintext's bytes are overwritten by what is longer than them */
    job->len = split;

    if (cs_buf_reserve(job, cs_seal_lit_len(CS_SEAL_OPEN_TAG) + k->id_len
                            + cs_seal_lit_len(CS_SEAL_IV_TAG)
                            + CS_SEAL_IV_B64
                            + cs_seal_lit_len(CS_SEAL_CT_TAG) + b64
                            + cs_seal_lit_len(CS_SEAL_END)) != 0)
    {
        goto fail;
    }

    cs_buf_put(job, CS_SEAL_OPEN_TAG, cs_seal_lit_len(CS_SEAL_OPEN_TAG));
    cs_buf_put(job, k->id, k->id_len);
    cs_buf_put(job, CS_SEAL_IV_TAG, cs_seal_lit_len(CS_SEAL_IV_TAG));
    job->len += cs_b64_encode(iv, sizeof(iv), job->data + job->len);
    cs_buf_put(job, CS_SEAL_CT_TAG, cs_seal_lit_len(CS_SEAL_CT_TAG));
    job->len += cs_b64_encode(ct, n, job->data + job->len);
    cs_buf_put(job, CS_SEAL_END, cs_seal_lit_len(CS_SEAL_END));

    return CS_SEAL_OK;

fail:

    if (job->data) {
        OPENSSL_cleanse(job->data, job->len);
    }

    cs_buf_reset(job);
    job->oom = 1;

    return CS_SEAL_NOMEM;
}


/* Where the "sealed" member's pieces are, in an envelope. */
typedef struct {
    size_t                head;     /* bytes of the head (AAD) */
    const unsigned char  *kid;
    size_t                kid_len;
    const unsigned char  *iv;       /* base64 */
    const unsigned char  *ct;       /* base64 */
    size_t                ct_len;
} cs_seal_parts_t;


/*
 * The last place lit[0..len) is found in p[0..n), or NULL; the places
 * its first byte is at are found with memrchr() (a sealed member holds
 * two commas after its start, the base64 none).
 */
static const unsigned char *
cs_seal_find_last(const unsigned char *p, size_t n, const char *lit,
    size_t len)
{
    size_t                m;
    const unsigned char  *q;

    if (n < len) {
        return NULL;
    }

    for (m = n - len + 1; m; m = (size_t) (q - p)) {
        q = memrchr(p, lit[0], m);
        if (q == NULL) {
            return NULL;
        }

        if (memcmp(q, lit, len) == 0) {
            return q;
        }
    }

    return NULL;
}


/*
 * The member as cs_seal_job() writes it, and nothing after it.  Nothing
 * the member holds after its start can look like its start (the key id,
 * the base64: no quote or comma among them), so the last
 * ,"sealed":{"kid":" is the member's, whatever the head holds.
 */
static int
cs_seal_parse(const unsigned char *p, size_t n, cs_seal_parts_t *s)
{
    const unsigned char  *q, *end, *kid;

    q = cs_seal_find_last(p, n, CS_SEAL_OPEN_TAG,
                          cs_seal_lit_len(CS_SEAL_OPEN_TAG));
    if (q == NULL) {
        return CS_SEAL_PLAIN;
    }

    memset(s, 0, sizeof(cs_seal_parts_t));

    if (p[0] != '{') {
        return CS_SEAL_MALFORMED;
    }

    s->head = (size_t) (q - p);
    end = p + n;
    q += cs_seal_lit_len(CS_SEAL_OPEN_TAG);

    for (kid = q; q < end && *q != '"'; q++) { /* void */ }

    if (q == end || !cs_seal_kid_ok((const char *) kid, (size_t) (q - kid))) {
        return CS_SEAL_MALFORMED;
    }

    s->kid = kid;
    s->kid_len = (size_t) (q - kid);

    if ((size_t) (end - q) < cs_seal_lit_len(CS_SEAL_IV_TAG) + CS_SEAL_IV_B64
                             + cs_seal_lit_len(CS_SEAL_CT_TAG)
                             + cs_seal_lit_len(CS_SEAL_END)
        || memcmp(q, CS_SEAL_IV_TAG, cs_seal_lit_len(CS_SEAL_IV_TAG)) != 0)
    {
        return CS_SEAL_MALFORMED;
    }

    q += cs_seal_lit_len(CS_SEAL_IV_TAG);
    s->iv = q;
    q += CS_SEAL_IV_B64;

    if (memcmp(q, CS_SEAL_CT_TAG, cs_seal_lit_len(CS_SEAL_CT_TAG)) != 0) {
        return CS_SEAL_MALFORMED;
    }

    q += cs_seal_lit_len(CS_SEAL_CT_TAG);
    s->ct = q;

    if ((size_t) (end - q) < cs_seal_lit_len(CS_SEAL_END)
        || memcmp(end - cs_seal_lit_len(CS_SEAL_END), CS_SEAL_END,
                  cs_seal_lit_len(CS_SEAL_END)) != 0)
    {
        return CS_SEAL_MALFORMED;
    }

    s->ct_len = (size_t) (end - cs_seal_lit_len(CS_SEAL_END) - q);

    return CS_SEAL_OK;
}


static void
cs_seal_copy_kid(const cs_seal_parts_t *s, char kid[CS_SEAL_KID_MAX + 1])
{
    if (kid) {
        memcpy(kid, s->kid, s->kid_len);
        kid[s->kid_len] = '\0';
    }
}


int
cs_seal_kid(const unsigned char *p, size_t n, char kid[CS_SEAL_KID_MAX + 1])
{
    int              rc;
    cs_seal_parts_t  s;

    if (kid) {
        kid[0] = '\0';
    }

    rc = cs_seal_parse(p, n, &s);

    if (rc == CS_SEAL_OK) {
        cs_seal_copy_kid(&s, kid);
    }

    return rc;
}


int
cs_seal_open(cs_seal_ring_t *ring, const unsigned char *p, size_t n,
    cs_buf_t *out, char kid[CS_SEAL_KID_MAX + 1])
{
    int              rc, len;
    size_t           i, pt, got;
    unsigned char    iv[CS_SEAL_IV_LEN + 3];
    unsigned char   *ct, *dst;
    cs_seal_parts_t  s;

    if (kid) {
        kid[0] = '\0';
    }

    rc = cs_seal_parse(p, n, &s);

    if (rc == CS_SEAL_PLAIN) {
        return rc;
    }

    cs_buf_reset(out);

    if (rc != CS_SEAL_OK) {
        return rc;
    }

    cs_seal_copy_kid(&s, kid);

    for (i = 0; i < ring->n; i++) {
        if (ring->keys[i].id_len == s.kid_len
            && memcmp(ring->keys[i].id, s.kid, s.kid_len) == 0)
        {
            break;
        }
    }

    if (i == ring->n) {
        return CS_SEAL_UNKNOWN_KEY;
    }

    if (cs_b64_decode((const char *) s.iv, CS_SEAL_IV_B64, CS_B64_STRICT,
                      iv, &got) != 0
        || got != CS_SEAL_IV_LEN
        || s.ct_len > (size_t) INT32_MAX)
    {
        return CS_SEAL_MALFORMED;
    }

    /* the ciphertext, decoded, then the plaintext beside it */
    cs_buf_reset(&ring->scratch);
    if (cs_buf_reserve(&ring->scratch, cs_b64_decoded_max(s.ct_len)) != 0) {
        return CS_SEAL_NOMEM;
    }

    ct = (unsigned char *) ring->scratch.data;

    if (cs_b64_decode((const char *) s.ct, s.ct_len, CS_B64_STRICT, ct,
                      &got) != 0
        || got < CS_SEAL_TAG_LEN)
    {
        return CS_SEAL_MALFORMED;
    }

    pt = got - CS_SEAL_TAG_LEN;

    if (cs_buf_reserve(out, s.head + pt + 1) != 0) {
        return CS_SEAL_NOMEM;
    }

    cs_buf_put(out, p, s.head);
    dst = (unsigned char *) out->data + out->len;

    if (cs_seal_keyed(ring, &ring->dec, &ring->dec_key, i, 0) != 0
        || EVP_DecryptInit_ex(ring->dec, NULL, NULL, NULL, iv) != 1
        || EVP_DecryptUpdate(ring->dec, NULL, &len, p, (int) s.head) != 1
        || EVP_DecryptUpdate(ring->dec, dst, &len, ct, (int) pt) != 1
        || EVP_CIPHER_CTX_ctrl(ring->dec, EVP_CTRL_GCM_SET_TAG,
                               CS_SEAL_TAG_LEN, ct + pt) != 1)
    {
        ring->dec_key = 0;
        OPENSSL_cleanse(out->data, out->len + pt);
        cs_buf_reset(out);
        return CS_SEAL_NOMEM;
    }

    if (EVP_DecryptFinal_ex(ring->dec, dst + len, &len) != 1) {
        OPENSSL_cleanse(out->data, out->len + pt);
        cs_buf_reset(out);
        return CS_SEAL_FORGED;
    }

    out->len += pt;
    cs_buf_putc(out, '}');

    return out->oom ? CS_SEAL_NOMEM : CS_SEAL_OK;
}
