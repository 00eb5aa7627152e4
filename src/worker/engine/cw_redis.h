/*
 * caresync-worker: one synchronous Redis connection.
 *
 * Synchronous is enough here: Redis answers in microseconds on the
 * networks a worker runs on, and the loop batches its writes (append, then
 * one flush per turn) so that a job costs about one round trip, not one
 * per command.  A lost connection is re-established on the next call:
 * the name is resolved again, or the sentinels are asked again
 * (cw_sentinel.h), or the Cluster's slot map (cw_cluster.h), so a
 * failover or a resharding is followed.  The bytes go over TCP or
 * TLS (cw_redis_io.h).
 */
#ifndef CW_REDIS_H
#define CW_REDIS_H

#include <stdint.h>

#include <hiredis/hiredis.h>

#include "engine/cw_config.h"
#include "engine/cw_err.h"
#include "engine/cw_redis_io.h"
#include "engine/cw_sentinel.h"

/* WAITs whose replies are not read yet, at most (then a flush) */
#define CW_REDIS_WAITS  1024

typedef struct cw_redis_s {
    cw_rio_t      *ctx;              /* NULL: not connected */
    const cw_conf_t  *conf;          /* password, db, timeout, sentinels */
    cw_rio_tls_t  *tls;              /* NULL: plain TCP */
    char           host[256];        /* the node: configured or the primary */
    int            port;
    long           timeout_ms;
    cw_sentinel_t  sentinel;         /* with redis.sentinels */
    uint64_t       check_at;         /* next cw_redis_check() */
    int            tx;               /* inside MULTI ... EXEC */
    unsigned       tx_gen;           /* the connection its MULTI went to */
    int            pending;          /* appended, replies not read yet */
    int            failed_flushes;
    uint64_t       retry_at;         /* no reconnect before (monotonic ms) */
    uint64_t       down_logged;      /* last "Redis down" line */
    int            down;
    uint64_t       roundtrips;       /* blocking waits for a reply */
    unsigned       gen;              /* this connection, among all */
    int            noscript;         /* Redis lost our scripts: reconnect */
    int            stale;            /* READONLY, MOVED...: ask again */
    unsigned       slot;             /* the prefix's Cluster slot */
    char           moved_host[256];  /* where a MOVED pointed */
    int            moved_port;       /* 0: none */

    /* WAIT (redis.replicas): which replies are WAITs, and shortfalls */
    uint64_t       nsent, nread;     /* commands and replies, this link */
    struct {
        uint64_t   n;                /* the WAIT's number among nsent */
        char       job[48];          /* the job it confirms */
    }              waits[CW_REDIS_WAITS];   /* a ring */
    int            wait_head, nwaits;
    uint64_t       wait_short;       /* not yet logged */
    long long      wait_got;         /* the last short one: replicas */
    char           wait_job[48];     /* ... and its job */
    uint64_t       wait_shortfalls;  /* for the exit line */
} cw_redis_t;

/*
 * A Lua script, sent by its SHA-1 (EVALSHA) once the connection has seen
 * it: the first use on a connection sends it whole (EVAL, which also
 * caches it in Redis).  A NOSCRIPT answer (SCRIPT FLUSH, a failover)
 * makes the next command reconnect, and the script is sent whole again.
 */
typedef struct {
    const char  *src;
    char         sha[41];
    unsigned     gen;               /* the connection it was sent on */
} cw_script_t;

/*
 * argv[0] and argv[1] of a call of `s` ("EVALSHA", sha, or "EVAL", the
 * source); the caller appends numkeys, the keys and the arguments.
 */
void cw_redis_script(cw_redis_t *r, cw_script_t *s, const char **argv,
    size_t *lens);

/*
 * A connection as [redis] configures it (not connected yet); -1 with the
 * reason in err when the TLS files cannot be used.  cw_redis_free()
 * after cw_redis_close().
 */
int cw_redis_init(cw_redis_t *r, const cw_conf_t *c, char *err,
    size_t errlen);
void cw_redis_free(cw_redis_t *r);
/*
 * 0, or -1 with the reason in err: CW_E_REDIS_CONNECT when Redis cannot
 * be reached (worth waiting for), CW_E_REDIS_REFUSED when it answered no
 * (AUTH, SELECT: a person must fix the configuration).
 */
int cw_redis_connect(cw_redis_t *r, cw_err_t *err);
void cw_redis_close(cw_redis_t *r);

/*
 * A command now: flushes the pipeline first; NULL on a connection error
 * (logged, connection dropped).  An error reply is returned as is.
 * hiredis formats: %s and %b (pointer, size_t) are single arguments.
 */
redisReply *cw_redis_cmd(cw_redis_t *r, const char *fmt, ...);
redisReply *cw_redis_cmdv(cw_redis_t *r, int argc, const char **argv,
    const size_t *lens);
/* Queues a command on the pipeline; its reply is checked at flush. */
void cw_redis_append(cw_redis_t *r, const char *fmt, ...);
void cw_redis_appendv(cw_redis_t *r, int argc, const char **argv,
    const size_t *lens);
/*
 * The same for n C strings given as arguments: no format to parse, which
 * is most of what a small command costs hiredis (at most 16).
 */
void cw_redis_args(cw_redis_t *r, int n, ...);
/* The next reply of the pipeline (the caller frees it); NULL: link lost */
redisReply *cw_redis_next(cw_redis_t *r);
/*
 * Reads and checks the next n replies (what was appended before the
 * commands whose replies the caller wants): no round trip of its own.
 */
void cw_redis_skip(cw_redis_t *r, int n);
/* Sends the pipeline, reads and checks every reply; -1 on a lost link. */
int cw_redis_flush(cw_redis_t *r);
/*
 * The loop's halves of a flush: send without waiting for the replies, and
 * later consume the replies that have arrived, without blocking.  A turn
 * then costs no round trip of its own.
 */
int cw_redis_send(cw_redis_t *r);
int cw_redis_drain(cw_redis_t *r);

/*
 * After a job's end (its MULTI ... EXEC): with redis.replicas = N, a
 * WAIT N on the pipeline, bounded by half the command timeout so that a
 * read behind it still gets its answer in time.  Fewer replicas than N is
 * logged with the job's id; the end is on the primary all the same, and
 * if the primary dies before replicating it, the entry is still pending
 * on the new primary (the ack was in the same MULTI), so it is reclaimed
 * and done again (docs/decisions.md).
 */
void cw_redis_wait(cw_redis_t *r, const char *job_id);

/*
 * Between the loop's turns: logs the WAIT shortfalls seen; with
 * sentinels, at most every CW_SENTINEL_CHECK_MS, asks one sentinel whether
 * the primary is still this node, and drops the connection when it is
 * not (the next command connects to the new one).  A planned switch-over
 * is followed in about a second.
 */
void cw_redis_check(cw_redis_t *r);

#endif /* CW_REDIS_H */
