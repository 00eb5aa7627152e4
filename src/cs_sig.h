/*
 * caresync core: webhook signatures (spec/inbound.md §3, §5).
 *
 * Two schemes, both HMAC-SHA256 over the raw body bytes, checked before
 * the body is parsed and compared in constant time:
 *
 *   Hint-style   one header, `<prefix><hex or base64 of the MAC>`; the
 *                prefix is configurable ("sha256=" by default, matched
 *                case-insensitively, may be empty); hex in either case.
 *   Standard     Standard Webhooks (standardwebhooks.com): headers
 *   Webhooks     webhook-id, webhook-timestamp, webhook-signature; the
 *                MAC is over "<id>.<timestamp>.<body>"; the signature
 *                header holds space-separated "v1,<base64>" entries, other
 *                versions are ignored; the timestamp is integer seconds
 *                within ±tolerance of `now`.  Replays of an id are the
 *                caller's to reject (that needs Redis).
 *
 * Both take several keys, for rotation: any key matching is enough.
 * Nothing here keeps state or reads the clock; the caller passes `now`.
 */

#ifndef CS_SIG_H
#define CS_SIG_H

#include <stddef.h>
#include <stdint.h>

#include "cs_str.h"

#define CS_SIG_MAC_LEN         32     /* HMAC-SHA256 */
#define CS_SIG_KEYS_MAX        4      /* a suggestion for configurations */
#define CS_SIG_DEFAULT_PREFIX  "sha256="
#define CS_SIG_TOLERANCE       300    /* seconds, Standard Webhooks */

typedef enum {
    CS_SIG_OK = 0,
    CS_SIG_MISSING,       /* a header absent or blank */
    CS_SIG_MALFORMED,     /* not the documented format */
    CS_SIG_MISMATCH,      /* well-formed, made with none of the keys */
    CS_SIG_STALE,         /* Standard Webhooks: timestamp out of tolerance */
    CS_SIG_ERROR          /* OpenSSL failed (out of memory) */
} cs_sig_result_t;

typedef enum {
    CS_SIG_HEX = 0,
    CS_SIG_BASE64         /* standard or URL-safe alphabet, "=" optional */
} cs_sig_encoding_t;

typedef struct {
    const unsigned char  *data;
    size_t                len;        /* 0: never matches */
} cs_sig_key_t;

typedef struct {
    const cs_sig_key_t   *keys;
    size_t                nkeys;
    const char           *prefix;     /* NULL: CS_SIG_DEFAULT_PREFIX */
    size_t                prefix_len;
    cs_sig_encoding_t     encoding;
} cs_sig_hmac_conf_t;

/* The three Standard Webhooks header values; a NULL view is absent. */
typedef struct {
    cs_str_t              id;
    cs_str_t              timestamp;
    cs_str_t              signature;
} cs_sig_stdwh_t;

/* 1 when the n bytes are equal, in time independent of where they differ. */
int cs_sig_equal(const void *a, const void *b, size_t n);

/* HMAC-SHA256 of the concatenated pieces; 0, or -1 when OpenSSL fails. */
int cs_sig_hmac_sha256(const cs_sig_key_t *key, const cs_str_t *parts,
    size_t nparts, unsigned char out[CS_SIG_MAC_LEN]);

/* The Hint-style header value (NULL when absent) against the body. */
cs_sig_result_t cs_sig_hmac_verify(const cs_sig_hmac_conf_t *conf,
    const char *header, size_t header_len, const void *body, size_t len);

/* Standard Webhooks; `tolerance` in seconds, 0 for CS_SIG_TOLERANCE. */
cs_sig_result_t cs_sig_stdwh_verify(const cs_sig_key_t *keys, size_t nkeys,
    const cs_sig_stdwh_t *h, const void *body, size_t len, int64_t now,
    int64_t tolerance);

/*
 * A key as configured: "hex:<hex>", "base64:<base64>", "whsec_<base64>",
 * or else the text's own bytes.  `out` needs room for `len` bytes (a
 * decoded key is never longer than its text).  0, or -1 when the text is
 * empty or does not decode.
 */
int cs_sig_key_decode(const char *text, size_t len, unsigned char *out,
    size_t *out_len);

/* A Standard Webhooks secret: "whsec_<base64>" or the bare base64. */
int cs_sig_whsec_decode(const char *text, size_t len, unsigned char *out,
    size_t *out_len);

/* Short label for logs and metrics: "ok", "missing", "stale" … */
const char *cs_sig_result_name(cs_sig_result_t rc);

#endif /* CS_SIG_H */
