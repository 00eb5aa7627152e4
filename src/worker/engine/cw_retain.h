/*
 * caresync-worker: what a job leaves behind, and for how long
 * (docs/phi-and-retention.md "Retention and pruning").
 *
 *   {prefix}:archive   stream: one entry per processed job, written with
 *                      its final status in the same MULTI/EXEC: job_id,
 *                      type, status, job (the envelope's bytes exactly as
 *                      they were queued: sealed when the module seals);
 *                      MAXLEN retention.archive_max, pruned after
 *                      retention.archive_s (0: no archive)
 *   {prefix}:dead      the dead letters (cw_queue.h): pruned after
 *                      retention.dead_s, at most retention.dead_max
 *   {prefix}:audit     the audit trail (cw_audit.h): pruned after
 *                      retention.audit_s, at most retention.audit_max,
 *                      with an anchor that keeps it verifiable; at most
 *                      hourly ({prefix}:prune:audit), since each prune
 *                      adds an anchor entry
 *   {prefix}:job:<id>  status records: expire worker.status_ttl_s after
 *                      their job ends (cw_status.h)
 *
 * The work stream {prefix}:jobs is never trimmed by age or length: an
 * entry is deleted only when acknowledged (cw_queue_ack), so nothing a
 * worker has not finished is ever dropped.
 */
#ifndef CW_RETAIN_H
#define CW_RETAIN_H

#include "engine/cw_config.h"
#include "engine/cw_redis.h"

/* Appends the archive entry of a processed job to the pipeline. */
void cw_retain_archive(cw_redis_t *r, const cw_conf_t *c, const char *job_id,
    const char *type, const char *status, const char *job, size_t len);

typedef struct {
    long long  archive, dead, audit;     /* entries removed */
} cw_retain_pruned_t;

/*
 * One pass over the archive, the dead letters and the audit trail: what
 * is older than its retention or past its bound goes.  0, -1 (Redis).
 */
int cw_retain_prune(cw_redis_t *r, const cw_conf_t *c,
    cw_retain_pruned_t *out);

/*
 * `run`'s turn: a pass every retention.prune_interval_ms, by one worker
 * at a time ({prefix}:prune, SET NX PX), so that several workers do not
 * each anchor the audit trail.
 */
void cw_retain_tick(cw_redis_t *r, const cw_conf_t *c);

/* The longest any record of a job is kept, in s (its indexes last so long) */
long cw_retain_longest(const cw_conf_t *c);

#endif /* CW_RETAIN_H */
