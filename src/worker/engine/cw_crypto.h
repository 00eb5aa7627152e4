/*
 * caresync-worker: the job key ring ([crypto]) and opening sealed jobs.
 *
 * The module seals each job's PHI (src/cs_seal.h) under the last key of
 * its caresync_job_key list; the worker opens it with the same keys:
 *
 *   [crypto]
 *   keys = k1:/etc/caresync/k1.key k2:/etc/caresync/k2.key
 *
 * Each file holds 64 hex characters (`openssl rand -hex 32`) and must be
 * a regular file of at most 4096 bytes that neither group nor others may
 * open; the files are read once, at configuration load, and any problem
 * is a configuration error naming the file (never what it holds).
 *
 * A job is opened right after it is read from the stream, into the same
 * plaintext envelope the module sealed; what is written back to Redis
 * (a retry, a parked job, a dead letter) is the job as queued, still
 * sealed.  Refused, with a message naming the key id and nothing else:
 *   - a job sealed under a key id that is not in the ring (add the key
 *     back and replay the dead letter),
 *   - a job that does not authenticate (tampered, or the id's key is not
 *     the one it was sealed with),
 *   - with keys configured, a job that carries "patient" or "raw" in the
 *     clear (queued by an edge without caresync_job_key, or by someone who
 *     can write to Redis), unless crypto.allow_clear is on: the
 *     authenticated seal is what says a job came from the edge.
 * A job the worker makes itself (an enrichment, a batch item) carries ids
 * only, and stays in the clear.
 */
#ifndef CW_CRYPTO_H
#define CW_CRYPTO_H

#include <stddef.h>

#include "cs_seal.h"
#include "engine/cw_config.h"
#include "engine/cw_redis.h"

/* Reads c->crypto.keys into c->crypto.ring; -1 with the errors in err. */
int cw_crypto_load(cw_conf_t *c, char *err, size_t errlen);
void cw_crypto_free(cw_conf_t *c);

/*
 * The envelope to parse for the job raw[0..len): *text is raw itself when
 * it was not sealed, else a new buffer holding it opened.  NULL, or why
 * the job is refused (a new string), *text then being raw (its readable
 * head names the job).
 */
char *cw_crypto_open(const cw_conf_t *c, char *raw, size_t len,
    char **text, size_t *text_len);

/* Wipes and frees what cw_crypto_open() opened (never raw itself). */
void cw_crypto_close(char *text, size_t text_len, const char *raw);

/*
 * Key rotation in the audit trail.  The ring's key ids, in order (the
 * last one is the newest), are recorded in {prefix}:crypto:ring; when
 * this ring is not the one recorded, it is recorded (GETSET: of workers
 * starting together with the same ring, one sees the change) and an
 * operator entry is appended: action `key rotation`, `actor` (NULL:
 * cw_audit_actor()), `by` (`worker start`, `crypto rotate`), `keys`,
 * `newest`, `added`, `retired` ("-" for none), `before` (the ring
 * recorded, "-" for none) and, when given, `protects` (the jobs each key
 * still protects, "id:count,..."). Key ids only: never a key, a file or
 * anything derived from a key.  1 recorded, 0 the ring is the one
 * recorded, -1 Redis failed (the record is put back, to be tried again).
 */
int cw_crypto_record(cw_redis_t *r, const cw_conf_t *c, const char *actor,
    const char *by, const char *protects);

/* The ring's key ids, space-separated, in order ("" without keys). */
#define CW_CRYPTO_IDS  ((CS_SEAL_KID_MAX + 1) * CS_SEAL_KEYS_MAX + 1)

void cw_crypto_ids(const cw_conf_t *c, char *out, size_t len);

/* The ring recorded ("" when none) into out; 0, or -1 Redis failed. */
int cw_crypto_recorded(cw_redis_t *r, const cw_conf_t *c, char *out,
    size_t len);

/* The words of `a` that are not in `b`, space-separated, into out. */
void cw_crypto_minus(const char *a, const char *b, char *out, size_t len);

#endif /* CW_CRYPTO_H */
