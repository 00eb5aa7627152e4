/*
 * caresync-worker: the status record {prefix}:job:<id> (spec/job.md).
 *
 * A hash: status (running, then a final one or `retrying`), type,
 * attempts, last_error, message, the linked ids, updated_at (ISO-8601),
 * and next_attempt_at while retrying.  It has no TTL while the job is
 * alive and expires status_ttl_s after the job ends.  Every write here is
 * appended to the Redis pipeline; the caller wraps it in MULTI/EXEC with
 * the queue operation that goes with it.
 */
#ifndef CW_STATUS_H
#define CW_STATUS_H

#include <stddef.h>

#include "engine/cw_redis.h"

#define CW_STATUS_KEY_MAX  256

void cw_status_key(const char *prefix, const char *id, char *out, size_t n);

/* running; `attempts` is incremented (HINCRBY: its reply is the count) */
void cw_status_running(cw_redis_t *r, const char *key, const char *type);

/*
 * The end of an attempt.  NULL values are left as they are; `ttl_s` > 0
 * sets the expiry (final statuses), 0 keeps the record (retrying).
 */
typedef struct {
    const char  *status;
    const char  *message;
    const char  *last_error;
    const char  *crm_contact_id;
    const char  *hint_patient_id;
    const char  *next_attempt_at;
    const char  *trace_id;          /* the job's trace (cw_trace.h) */
    long         ttl_s;
    int          retried;           /* an earlier attempt may have left
                                       next_attempt_at */
} cw_status_t;

void cw_status_write(cw_redis_t *r, const char *key, const cw_status_t *st);

/*
 * `queued` again (dlq replay, replay): attempts start over; `from`, when
 * not NULL, is where the job was replayed from ("archive:<stream id>",
 * "dead:<stream id>"), kept as `replay_of` with a `replays` count.
 */
void cw_status_requeued(cw_redis_t *r, const char *key, const char *from);

/*
 * The jobs about a patient, for erasure (docs/phi-and-retention.md
 * "Erasure"): {prefix}:patient:<key> is the set of the ids of the jobs
 * that held the patient key (cw_lock.h: "ha:<id>", "hint:<id>",
 * "crm:<contact id>") or linked the contact or Hint patient, expiring
 * `ttl_s` after the last one was added.  The ids are readable when the
 * envelope's patient is sealed.
 */
void cw_status_index_key(const char *prefix, const char *name, char *out,
    size_t n);
void cw_status_index(cw_redis_t *r, const char *prefix, const char *name,
    const char *job_id, long ttl_s);

#endif /* CW_STATUS_H */
