/*
 * caresync-worker: the Redis side of the queue.
 *
 * {prefix}:jobs is a stream read by the consumer group `workers`; an entry
 * stays pending (unacknowledged) until its job's final status is written,
 * so a crashed worker's jobs are taken over with XAUTOCLAIM once idle.
 * An acknowledged entry is deleted at once (XACK + XDEL in one MULTI):
 * that is the stream's trimming, and it can never drop a pending entry.
 * Retries wait in the sorted set {prefix}:retry (member = the job's order
 * (cw_lock.h), a tab and the envelope; score = due time in ms) and are
 * moved back into the stream, with their order, by a Lua script,
 * atomically, by whichever worker gets there first.
 */
#ifndef CW_QUEUE_H
#define CW_QUEUE_H

#include <stddef.h>

#include "engine/cw_config.h"
#include "engine/cw_redis.h"

#define CW_QUEUE_GROUP  "workers"

typedef struct {
    cw_redis_t       *redis;
    const cw_conf_t  *conf;
    char              claim_cursor[64];
} cw_queue_t;

/*
 * One stream entry: the stream id, the `job` field (the envelope), and
 * the `order` field of a job put back (NULL: it is the stream id's).
 */
typedef void (*cw_queue_entry_pt)(void *data, const char *stream_id,
    const char *order, const char *job, size_t len);

void cw_queue_init(cw_queue_t *q, cw_redis_t *redis, const cw_conf_t *conf);
/* Creates the group (and the stream) when missing; 0 when it exists. */
int cw_queue_ensure_group(cw_queue_t *q, cw_err_t *err);
/* XREADGROUP of up to `count` new entries; returns how many, -1 on error */
int cw_queue_read(cw_queue_t *q, int count, long block_ms,
    cw_queue_entry_pt cb, void *data);
/* XAUTOCLAIM of entries idle past claim_idle_ms; count or -1 */
int cw_queue_reclaim(cw_queue_t *q, int count, cw_queue_entry_pt cb,
    void *data);
/* Resets the idle time of entries this worker still works on. */
void cw_queue_touch(cw_queue_t *q, const char **ids, int n);
/* Moves due retries back into the stream; count moved or -1 */
int cw_queue_promote(cw_queue_t *q, int max);

/*
 * The pipelined tails of a job, each opened and closed by the caller's
 * MULTI/EXEC (see cw_jobs.c): ack+delete, schedule a retry, dead-letter.
 */
void cw_queue_ack(cw_queue_t *q, const char *stream_id);
void cw_queue_retry(cw_queue_t *q, const char *order, const char *job,
    size_t len, long long due_ms);
void cw_queue_dead(cw_queue_t *q, const char *job, size_t len,
    const char *job_id, const char *type, const char *error, long attempts);

#endif /* CW_QUEUE_H */
