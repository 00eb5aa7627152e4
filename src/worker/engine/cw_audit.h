/*
 * caresync-worker: the audit trail {prefix}:audit (docs/phi-and-retention.md
 * "Audit trail").
 *
 * An append-only stream.  Every entry is a list of (name, value) fields,
 * always beginning with `at` (ISO-8601, ms) and `kind`:
 *
 *   write   a CRM or vendor write a job made: job, target, record, fields
 *           (the NAMES of the fields written, comma-separated; never a value)
 *   op      an operator action: action, actor, then the action's own fields
 *   anchor  written by pruning: start (the `prev` of the first entry kept)
 *           and first (that entry's stream id)
 *
 * and ending with `prev` (the hash of the entry before, 64 zeros for the
 * first ever) and `hash`:
 *
 *   hash = hex SHA-256 of "caresync-audit-v1\n" prev "\n" and, for each
 *          field before prev in order, name "=" len(value) ":" value "\n"
 *
 * (len in decimal bytes).  Appending is a compare-and-append Lua script:
 * it reads the hash of the last entry and XADDs only when it is the
 * `prev` the entry was hashed with, else answers the current one and the
 * caller hashes again; so workers and operators appending at once make
 * one chain.  Redis's Lua has no SHA-256, hence the hash is made here.
 * One call may append several entries, chained in order.
 */
#ifndef CW_AUDIT_H
#define CW_AUDIT_H

#include "engine/cw_config.h"
#include "engine/cw_redis.h"

#define CW_AUDIT_HASH_LEN  64
#define CW_AUDIT_FIELDS    24     /* at most, per entry, prev/hash aside */

typedef struct {
    const char  *name;
    const char  *value;
} cw_audit_field_t;

/* The hash of an entry: `prev` and its fields in order, as above. */
void cw_audit_hash(const char *prev, const cw_audit_field_t *f, int n,
    char out[CW_AUDIT_HASH_LEN + 1]);

/*
 * Appends `kind` and the fields (after `at`) to the chain; 0, or -1 when
 * Redis failed (logged).  Synchronous: it flushes the pipeline.  At most
 * CW_AUDIT_FIELDS fields.
 */
int cw_audit_append(cw_redis_t *r, const cw_conf_t *c, const char *kind,
    const cw_audit_field_t *f, int n);

/*
 * An operator action, by whoever ran it: `actor` (NULL: cw_audit_actor())
 * then name, value pairs ending with NULL; a NULL value is left out.
 * The one call for every operator command (replay, erase, batch, OAuth,
 * key rotation); 0 or -1 as above.
 */
int cw_audit_op(cw_redis_t *r, const cw_conf_t *c, const char *actor,
    const char *action, ...) __attribute__((sentinel));

/* `--actor NAME` of the command line, else the OS user running us. */
void cw_audit_set_actor(const char *name);
const char *cw_audit_actor(void);

/*
 * A write a job made, for the HTTP layer's hook (cw_http_on_write(), data
 * a cw_audit_sink_t): noted, and appended with the others of the turn by
 * cw_audit_flush(), which `run` calls once a turn and before it exits
 * (one script call, not one round trip per write).  An operator's entry
 * (cw_audit_append()) flushes what was noted first: the chain keeps the
 * order things happened in.  Flush: 0, or -1 when Redis failed (logged;
 * those entries are lost).
 */
typedef struct {
    cw_redis_t        *redis;
    const cw_conf_t   *conf;
} cw_audit_sink_t;

void cw_audit_write(void *data, const char *job, const char *target,
    const char *record, const char *fields);
int cw_audit_flush(cw_redis_t *r, const cw_conf_t *c);

/*
 * Prunes the entries before stream id `first` (the first one kept): an
 * anchor recording where the chain now starts is appended first, then
 * XTRIM MINID.  The entries removed (0: nothing before `first`), -1
 * when Redis failed.
 */
long long cw_audit_prune(cw_redis_t *r, const cw_conf_t *c, const char *first);

#endif /* CW_AUDIT_H */
