/*
 * caresync-worker: one job at a time per patient, in the order queued.
 *
 * Two events about one patient must not interleave their read-compare-
 * write (a newer write overtaken by an older one lands last), across all
 * workers.  Each handler names the patient a job is about (a "patient
 * key": "hint:<patient id>", "crm:<contact id>", "ha:<HelpAround id>"),
 * and the job runs only while it holds that key:
 *
 *   {prefix}:lock:<key>   the holder's order (below), SET NX PX; the PX is
 *                         worker.claim_idle_ms, refreshed with the job's
 *                         stream entry, so a dead worker's hold ends when
 *                         its entry could be reclaimed anyway
 *   {prefix}:wait:<key>   the jobs parked behind it: a sorted set, score 0,
 *                         member "<order>\t<kind>\t<job id>\t<envelope>",
 *                         so that the first member is the oldest job
 *   {prefix}:waiting      the keys that have parked jobs (for the sweep)
 *   {prefix}:last:<key>   kind -> "<order>\t<job id>" of the newest job of
 *                         each kind that held the key
 *
 * A job's order is the stream id it was first queued with, zero-padded so
 * that order compares as text; it travels with the job when it is parked
 * (the stream entry's `order` field) and while it waits for a retry (the
 * retry member's prefix).
 *
 * Starting (cw_jobs.c): one script takes the key and marks the job
 * running; when the key is held, or an older job waits for it, the job is
 * parked instead (its stream entry acknowledged, status `queued`): it
 * holds no concurrency slot.  Ending: the key goes to the oldest parked
 * job, which is put back on the stream with its order (a handoff: no
 * newer job can take the key in between).  A job that waits for a retry
 * keeps the key until its retry is due, so what was queued after it waits.
 *
 * Kinds: jobs whose outcome depends only on the state they read (a Hint
 * patient.updated reads the patient, crm.contact_changed the contact; a
 * tracker view writes the newest time) name a kind.  Such a job ends
 * `skipped`, "superseded by job <id>", when a newer job of its kind for
 * the same patient is parked behind it or already held the key: the newer
 * one reads, or has read, the newer state.
 */
#ifndef CW_LOCK_H
#define CW_LOCK_H

#include <stddef.h>

#include "engine/cw_config.h"
#include "engine/cw_redis.h"

#define CW_LOCK_NAME_MAX  160      /* "hint:pat-…": kind ":" id */
/*
 * 40 digits (ms, then the sequence, 20 each): Lua compares strings with
 * strcoll(), which under some locales skips punctuation; digits of one
 * width compare the same in every locale.
 */
#define CW_ORDER_DIGITS   40
#define CW_ORDER_LEN      (CW_ORDER_DIGITS + 1)
#define CW_LOCK_MAX       2        /* a job holds at most two keys */

/* What a handler says about a job (cw_handler_t.patient). */
typedef struct {
    char         name[CW_LOCK_NAME_MAX];   /* "hint:pat-1" */
    const char  *kind;                     /* NULL: never superseded */
} cw_patient_t;

/*
 * "<what>:<id>" into p->name; -1 (no key) when the id is missing or not
 * of the safe alphabet of job ids.
 */
int cw_patient_key(cw_patient_t *p, const char *what, const char *id);

/* A stream id "1700000000000-5" as an order; -1 when it is not one. */
int cw_order_of(const char *stream_id, char order[CW_ORDER_LEN]);
/* 1 when `s` is an order (the field of a job put back). */
int cw_order_ok(const char *s);

typedef enum {
    CW_TURN_OURS = 1,               /* held: run */
    CW_TURN_PARKED = 0,             /* parked, acknowledged: drop the job */
    CW_TURN_SUPERSEDED = 2,         /* a newer job of the kind already ran */
    CW_TURN_SUPERSEDED_HELD = 3,    /* held, but a newer one of the kind
                                       is parked behind: end `skipped` */
    CW_TURN_ERROR = -1              /* no reply (Redis): leave pending */
} cw_turn_e;

/*
 * The arguments of a start: the status record's key and the values the
 * script writes, the job's ids, and where its stream entry is.
 */
typedef struct {
    const char          *status_key;
    const char          *type;
    const char          *job_id;
    const char          *order;
    const char          *stream_id;
    const char          *env;
    size_t               env_len;
    const cw_patient_t  *patient;
} cw_lock_start_t;

/*
 * Appends the start script (take + `running` + attempts, or park) to the
 * pipeline; its reply is read with cw_lock_start_reply().
 */
void cw_lock_start(cw_redis_t *r, const cw_conf_t *c,
    const cw_lock_start_t *s);
/* *attempts and, when superseded, the newer job's id (by) */
cw_turn_e cw_lock_start_reply(redisReply *rep, long *attempts, char *by,
    size_t bylen);

/*
 * A second key in the middle of a job (the contact a patient event found):
 * 1 taken (or ours already), 0 busy, -1 Redis.  Never waits.
 */
int cw_lock_take(cw_redis_t *r, const cw_conf_t *c, const char *name,
    const char *order);

/*
 * Appends the release of a held key: to the oldest parked job (back on
 * the stream with its order), or deleted.  keep_ms > 0 keeps it that much
 * longer instead (a retry keeps its turn).
 */
void cw_lock_release(cw_redis_t *r, const cw_conf_t *c, const char *name,
    const char *order, long long keep_ms);

/* Appends a refresh of the key's PX while its job runs. */
void cw_lock_touch(cw_redis_t *r, const cw_conf_t *c, const char *name,
    const char *order);

/*
 * Hands the keys whose holder vanished (a release lost with Redis, every
 * worker gone) to their oldest parked job; at most `max` keys a call.
 */
int cw_lock_sweep(cw_redis_t *r, const cw_conf_t *c, int max);

#endif /* CW_LOCK_H */
