/*
 * caresync core: the job's PHI, sealed with AES-256-GCM under a key ring.
 *
 * A job envelope (spec/job.md) has a readable head, which Redis tools,
 * operators and routing read: "v", "id", "type", "received_at",
 * "idempotency_key", "source", "action" (ids only) and "raw_omitted".
 * What follows it, "patient" and "raw", is the PHI; sealed, those members
 * become one last member:
 *
 *   {<head>,"sealed":{"kid":"<key id>","iv":"<base64>","ct":"<base64>"}}
 *
 * where ct is AES-256-GCM(key kid, iv, plaintext = the sealed members'
 * bytes as they stood, leading comma included) followed by its 16-byte
 * tag, and the additional data is the head's bytes, "{" up to the comma
 * before "sealed": a sealed part moved to another job, or a head changed
 * (id, type, source, action), does not authenticate.  The iv is 96 bits
 * from the CSPRNG (cs_id_random()), fresh for each job: at the volumes of
 * a webhook gateway a random nonce under one key stays far below the
 * 2^32 messages NIST SP 800-38D allows for it.
 *
 * Opening gives back exactly the envelope that was sealed, byte for byte,
 * so that what reads it (the worker) does not know sealing exists.
 *
 * A ring holds up to CS_SEAL_KEYS_MAX keys, each with an id of 1 to
 * CS_SEAL_KID_MAX characters [A-Za-z0-9._-]; the last one added seals,
 * every one opens (rotation: add the new key last, keep the old until
 * nothing sealed under it is left).  Key bytes are wiped when the ring is
 * freed.  The ring keeps its OpenSSL contexts from one job to the next
 * (one for sealing, keyed once; one for opening, re-keyed only when the
 * key id changes): not for concurrent use from threads.
 */

#ifndef CS_SEAL_H
#define CS_SEAL_H

#include <stddef.h>

#include "cs_buf.h"

#define CS_SEAL_KEY_LEN    32
#define CS_SEAL_KEY_HEX    64
#define CS_SEAL_IV_LEN     12
#define CS_SEAL_TAG_LEN    16
#define CS_SEAL_KID_MAX    32
#define CS_SEAL_KEYS_MAX   16

/* cs_seal_open() */
#define CS_SEAL_OK          0
#define CS_SEAL_NOMEM      -1
#define CS_SEAL_PLAIN       1   /* no "sealed" member: a job in the clear */
#define CS_SEAL_MALFORMED   2   /* a "sealed" member not as written here */
#define CS_SEAL_UNKNOWN_KEY 3   /* sealed under a key id not in the ring */
#define CS_SEAL_FORGED      4   /* does not authenticate: tampered, or
                                   the right id with the wrong key */

/* cs_seal_ring_add() */
#define CS_SEAL_BAD_ID     -2
#define CS_SEAL_DUPLICATE  -3
#define CS_SEAL_FULL       -4

struct evp_cipher_ctx_st;

typedef struct {
    char                       id[CS_SEAL_KID_MAX + 1];
    size_t                     id_len;
    unsigned char              key[CS_SEAL_KEY_LEN];
} cs_seal_key_t;

typedef struct {
    cs_seal_key_t              keys[CS_SEAL_KEYS_MAX];
    size_t                     n;
    struct evp_cipher_ctx_st  *enc;
    struct evp_cipher_ctx_st  *dec;
    size_t                     enc_key;    /* index + 1 the context holds */
    size_t                     dec_key;
    cs_buf_t                   scratch;    /* a ciphertext being written */
} cs_seal_ring_t;

void cs_seal_ring_init(cs_seal_ring_t *ring);
/* Wipes the keys, frees the contexts; the ring can be used again. */
void cs_seal_ring_free(cs_seal_ring_t *ring);

/* 1 when s[0..n) is a valid key id. */
int cs_seal_kid_ok(const char *s, size_t n);

/*
 * A key written as `openssl rand -hex 32` writes it: exactly 64 hex
 * digits, either case, trailing white space (the newline) ignored.
 * 0, or -1 (nothing written to key).
 */
int cs_seal_key_hex(const char *s, size_t n,
    unsigned char key[CS_SEAL_KEY_LEN]);

/*
 * Adds a key; it becomes the one that seals.  0, CS_SEAL_BAD_ID,
 * CS_SEAL_DUPLICATE (the id, or the same key bytes under another id: one
 * key, one name), CS_SEAL_FULL.
 */
int cs_seal_ring_add(cs_seal_ring_t *ring, const char *id, size_t id_len,
    const unsigned char key[CS_SEAL_KEY_LEN]);

/* The key id that seals, NULL for an empty ring. */
const char *cs_seal_ring_current(const cs_seal_ring_t *ring);

/*
 * Seals, in place, the members of job->data[split .. len - 1): what lies
 * between the head (job->data[0 .. split), starting with "{") and the
 * envelope's closing "}", which must be the buffer's last byte.  The
 * plaintext's bytes are overwritten.  CS_SEAL_OK, CS_SEAL_NOMEM (the
 * buffer's oom is set), or CS_SEAL_UNKNOWN_KEY for an empty ring; on an
 * OpenSSL or CSPRNG failure the buffer is emptied and marked oom: never
 * a job in the clear by accident.
 */
int cs_seal_job(cs_seal_ring_t *ring, cs_buf_t *job, size_t split);

/*
 * The envelope p[0..n): sealed, it is opened into `out` (reset first),
 * CS_SEAL_OK; in the clear, CS_SEAL_PLAIN and `out` is untouched; else
 * one of the refusals above, with `out` reset (no byte of a plaintext
 * that did not authenticate is left in it).  `kid`, when not NULL, gets
 * the key id the envelope names (NUL-terminated, "" when it names none
 * that is valid): safe to log, it is checked against the id alphabet.
 * Only the "sealed" member is parsed; the head is authenticated, not
 * read.
 */
int cs_seal_open(cs_seal_ring_t *ring, const unsigned char *p, size_t n,
    cs_buf_t *out, char kid[CS_SEAL_KID_MAX + 1]);

/*
 * Which key an envelope is sealed under, without opening it:
 * CS_SEAL_OK with kid filled, CS_SEAL_PLAIN or CS_SEAL_MALFORMED.
 */
int cs_seal_kid(const unsigned char *p, size_t n,
    char kid[CS_SEAL_KID_MAX + 1]);

#endif /* CS_SEAL_H */
