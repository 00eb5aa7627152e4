/*
 * caresync-worker: one synchronous Redis connection.
 *
 * Synchronous is enough here: Redis answers in microseconds on the
 * networks a worker runs on, and the loop batches its writes (append, then
 * one flush per turn) so that a job costs about one round trip, not one
 * per command.  A lost connection is re-established on the next call.
 */
#ifndef CW_REDIS_H
#define CW_REDIS_H

#include <stdint.h>

#include <hiredis/hiredis.h>

#include "engine/cw_err.h"

typedef struct cw_redis_s {
    redisContext  *ctx;
    char          *host;
    int            port;
    char          *password;
    long           db;
    long           timeout_ms;
    int            pending;          /* appended, replies not read yet */
    int            failed_flushes;
    uint64_t       retry_at;         /* no reconnect before (monotonic ms) */
    uint64_t       down_logged;      /* last "Redis down" line */
    int            down;
    uint64_t       roundtrips;       /* blocking waits for a reply */
    unsigned       gen;              /* this connection, among all */
    int            noscript;         /* Redis lost our scripts: reconnect */
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

void cw_redis_init(cw_redis_t *r, const char *host, int port,
    const char *password, long db, long timeout_ms);
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

#endif /* CW_REDIS_H */
