/*
 * caresync-worker: batches (sync-rules.md §B "Bulk", §C.7).
 *
 * Generic over the item's job type: a batch is a list of CRM contact ids,
 * each queued as a `batch.item` job whose action names the real handler
 * (`action.item`, e.g. "healthsherpa.sync"; Hint's crm-to-hint batch uses
 * the same machinery with its own item type).  The batch.item handler
 * checks the abort flag, then runs that handler with a hook that records
 * the item's final status.  Items go through the ordinary queue, so the
 * worker's concurrency and each target's caps (max_concurrency, rps) pace
 * a batch of thousands, and retries, dead letters and reclaims apply.
 *
 * Redis, all under the prefix's hash tag (one Cluster slot), expiring
 * worker.status_ttl_s after the batch is created:
 *
 *   {prefix}:batch:<id>          hash: kind, item, agent, total, ignored,
 *                                pending, matched, no_match, failed,
 *                                skipped, ... (one counter per status),
 *                                aborted, created_at
 *   {prefix}:batch:<id>:items    list: the contact ids, in input order
 *   {prefix}:batch:<id>:results  hash: item id (a contact id; hint-to-crm:
 *                                a patient id) -> "status\tjob\tmsg"
 *   {prefix}:batches             sorted set: batch ids by creation time
 *                                (ms), the newest CW_BATCH_LIST_MAX, for
 *                                the console's list
 */
#ifndef CW_BATCH_H
#define CW_BATCH_H

#include <stddef.h>

#include "engine/cw_config.h"
#include "engine/cw_redis.h"

#define CW_BATCH_ID_LEN  32
#define CW_BATCH_LIST_MAX  100

typedef struct {
    const char   *kind;         /* "healthsherpa" */
    const char   *item;         /* the item's job type */
    const char   *agent;        /* NULL when the kind needs none */
    size_t        ignored;      /* input rows that were not contact ids */
} cw_batch_spec_t;

/*
 * "b" + UTC yyyymmddHHMMSS + 6 hex digits from the CSPRNG (cs_id.h, as
 * job ids); 0, or -1 when there is no randomness (no id then).
 */
int cw_batch_new_id(char id[CW_BATCH_ID_LEN]);

/*
 * Records the batch and queues one job per id; 0, -1 (Redis), or -2 (no
 * randomness for its id: nothing queued).
 */
int cw_batch_create(cw_redis_t *r, const cw_conf_t *conf,
    const cw_batch_spec_t *spec, char **ids, size_t n,
    char id[CW_BATCH_ID_LEN]);

void cw_batch_key(const cw_conf_t *conf, const char *id, const char *sfx,
    char *out, size_t n);

/* The job id of item `i` of batch `id`. */
void cw_batch_item_id(const char *id, size_t i, char *out, size_t n);

#endif /* CW_BATCH_H */
