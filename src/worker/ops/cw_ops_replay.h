/*
 * caresync-worker: replaying processed and dead jobs
 * (docs/phi-and-retention.md "Replay").
 *
 * A job is queued again with the bytes it was first queued with (from
 * the archive or the dead-letter queue, never re-encoded: a sealed job
 * stays sealed), as a new stream entry with a readable `replay_of`
 * ("archive:<stream id>" or "dead:<stream id>"); its status record goes
 * back to `queued` with attempts 0, `replay_of` and a `replays` count.
 * It then runs as any job: its handler reads before it writes, so a
 * replay of a job already applied writes nothing.  A dead letter leaves
 * the dead-letter queue in the same MULTI/EXEC; an archived job stays in
 * the archive (it is history).
 *
 * cw_replay() is the one way to do it: the `replay` and `dlq replay`
 * commands call it, and so can a job that carries an operator's request;
 * it writes the audit entry itself (unless a dry run), so no caller can
 * forget it.
 */
#ifndef CW_OPS_REPLAY_H
#define CW_OPS_REPLAY_H

#include "engine/cw_config.h"
#include "engine/cw_redis.h"

#define CW_REPLAY_PAGE   200       /* entries read, and queued, a round */
#define CW_REPLAY_LIMIT  10000     /* jobs a run queues by default */

typedef struct {
    long long    since_ms;         /* stream time (archived, failed) */
    long long    until_ms;         /* 0: up to now */
    const char  *type;             /* NULL: any */
    const char  *source;           /* source.system, NULL: any */
    const char  *job_id;           /* NULL: any */
    int          archive;          /* look in the archive */
    int          dead;             /* look in the dead-letter queue */
    int          dry_run;          /* say what, queue nothing */
    long         limit;            /* at most; 0: CW_REPLAY_LIMIT */
    const char  *action;           /* audited as: "replay", "dlq replay" */
    const char  *actor;            /* who asked; NULL: cw_audit_actor() */
} cw_replay_spec_t;

typedef struct {
    long         queued;           /* or would be, dry run */
    int          more;             /* stopped at the limit */
    char         next[48];         /* then: the stream id to go on from */
} cw_replay_res_t;

/* each job (its id and "archive:<id>" / "dead:<id>"), as it is queued */
typedef void (*cw_replay_each_pt)(void *data, const char *job_id,
    const char *from);

/*
 * 0, or -1 when Redis failed (what was queued before stays queued), -2
 * when all was queued but the audit entry could not be written.
 */
int cw_replay(cw_redis_t *r, const cw_conf_t *c, const cw_replay_spec_t *s,
    cw_replay_each_pt each, void *data, cw_replay_res_t *res);

/* `replay --since T [--until T] [--type T] [--source S] [--dry-run]` */
int cw_ops_replay(const cw_conf_t *conf, int argc, char **argv);

#endif /* CW_OPS_REPLAY_H */
