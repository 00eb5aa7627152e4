/*
 * caresync core: UUIDv5, ULID, SHA-256 hex (see cs_id.h).
 */

#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cs_id.h"

const unsigned char  cs_id_ns_helparound[16] = {
    0xb9, 0x52, 0x0b, 0xbc, 0xf2, 0xca, 0x51, 0x74,
    0xb5, 0xac, 0xc4, 0xb5, 0xb4, 0xdd, 0x9b, 0x29
};


void
cs_id_hex(const unsigned char *p, size_t n, char *out)
{
    static const char  hex[] = "0123456789abcdef";

    while (n--) {
        *out++ = hex[*p >> 4];
        *out++ = hex[*p++ & 0xf];
    }

    *out = '\0';
}


static int
cs_id_hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;                                  /* either case */

    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}


int
cs_id_unhex(const char *s, size_t n, unsigned char *out)
{
    int     hi, lo;
    size_t  i;

    if (n % 2) {
        return -1;
    }

    for (i = 0; i < n; i += 2) {
        hi = cs_id_hexval((unsigned char) s[i]);
        lo = cs_id_hexval((unsigned char) s[i + 1]);

        if (hi < 0 || lo < 0) {
            return -1;
        }

        out[i / 2] = (unsigned char) (hi << 4 | lo);
    }

    return 0;
}


/*
 * The two digests and one context are fetched once and kept for the
 * process: fetching them for every digest cost OpenSSL more than the
 * hashing of a webhook's few hundred bytes (see cs_id.h).
 */
static EVP_MD      *cs_id_sha256_md;
static EVP_MD      *cs_id_sha1_md;
static EVP_MD_CTX  *cs_id_ctx;


/* One digest over an optional prefix and the pieces; md is large enough. */
static int
cs_id_digest(EVP_MD **type, const char *name, const unsigned char *prefix,
    size_t plen, const cs_str_t *parts, size_t nparts, unsigned char *md)
{
    int     rc;
    size_t  i;

    if (*type == NULL) {
        *type = EVP_MD_fetch(NULL, name, NULL);
        if (*type == NULL) {
            return -1;
        }
    }

    if (cs_id_ctx == NULL) {
        cs_id_ctx = EVP_MD_CTX_new();
        if (cs_id_ctx == NULL) {
            return -1;
        }
    }

    rc = EVP_DigestInit_ex(cs_id_ctx, *type, NULL);

    if (rc && plen) {
        rc = EVP_DigestUpdate(cs_id_ctx, prefix, plen);
    }

    for (i = 0; rc && i < nparts; i++) {
        if (parts[i].len) {
            rc = EVP_DigestUpdate(cs_id_ctx, parts[i].data, parts[i].len);
        }
    }

    if (rc) {
        rc = EVP_DigestFinal_ex(cs_id_ctx, md, NULL);
    }

    return rc ? 0 : -1;
}


int
cs_id_sha256_hex(const cs_str_t *parts, size_t nparts,
    char out[CS_ID_SHA256_LEN + 1])
{
    unsigned char  md[EVP_MAX_MD_SIZE];

    if (cs_id_digest(&cs_id_sha256_md, "SHA256", NULL, 0, parts, nparts, md)
        != 0)
    {
        return -1;
    }

    cs_id_hex(md, 32, out);

    return 0;
}


int
cs_id_uuid5(const unsigned char ns[16], const cs_str_t *parts,
    size_t nparts, char out[CS_ID_UUID_LEN + 1])
{
    char           hex[33];
    unsigned char  md[EVP_MAX_MD_SIZE];

    if (cs_id_digest(&cs_id_sha1_md, "SHA1", ns, 16, parts, nparts, md) != 0)
    {
        return -1;
    }

    md[6] = (md[6] & 0x0f) | 0x50;          /* version 5 */
    md[8] = (md[8] & 0x3f) | 0x80;          /* RFC 4122 variant */

    cs_id_hex(md, 16, hex);

    memcpy(out, hex, 8);
    out[8] = '-';
    memcpy(out + 9, hex + 8, 4);
    out[13] = '-';
    memcpy(out + 14, hex + 12, 4);
    out[18] = '-';
    memcpy(out + 19, hex + 16, 4);
    out[23] = '-';
    memcpy(out + 24, hex + 20, 12);
    out[36] = '\0';

    return 0;
}


void
cs_id_ulid(uint64_t ms, const unsigned char rnd[10],
    char out[CS_ID_ULID_LEN + 1])
{
    int                i, k;
    unsigned           acc, bits;
    static const char  b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

    /* 48-bit time in 10 chars; the first carries only 3 bits */
    for (i = 9; i >= 0; i--) {
        out[i] = b32[ms & 31];
        ms >>= 5;
    }

    /* 80 random bits in 16 chars; unsigned wrap drops used bits */
    acc = 0;
    bits = 0;
    k = 10;

    for (i = 0; i < 10; i++) {
        acc = (acc << 8) | rnd[i];
        bits += 8;

        while (bits >= 5) {
            bits -= 5;
            out[k++] = b32[(acc >> bits) & 31];
        }
    }

    out[CS_ID_ULID_LEN] = '\0';
}


static _Thread_local unsigned char  cs_id_pool[CS_ID_RANDOM_BATCH];
static _Thread_local size_t         cs_id_left;    /* unused, at the end */
static int                          cs_id_fork_hook;


/* In the child of a fork: the parent's bytes are the parent's. */
static void
cs_id_forked(void)
{
    OPENSSL_cleanse(cs_id_pool, sizeof(cs_id_pool));
    cs_id_left = 0;
}


int
cs_id_random(unsigned char *p, size_t n)
{
    unsigned char  *from;

    if (n > CS_ID_RANDOM_BATCH) {
        return -1;
    }

    if (!cs_id_fork_hook) {
        /* without the hook a forked child could repeat ids: none then */
        if (pthread_atfork(NULL, NULL, cs_id_forked) != 0) {
            return -1;
        }

        cs_id_fork_hook = 1;
    }

    if (cs_id_left < n) {
        cs_id_left = 0;

        if (RAND_bytes(cs_id_pool, sizeof(cs_id_pool)) != 1) {
            return -1;
        }

        cs_id_left = sizeof(cs_id_pool);
    }

    from = cs_id_pool + sizeof(cs_id_pool) - cs_id_left;
    memcpy(p, from, n);
    memset(from, 0, n);
    cs_id_left -= n;

    return 0;
}


int
cs_id_ulid_new(uint64_t ms, char out[CS_ID_ULID_LEN + 1])
{
    unsigned char  rnd[10];

    if (cs_id_random(rnd, sizeof(rnd)) != 0) {
        return -1;
    }

    cs_id_ulid(ms, rnd, out);

    return 0;
}
