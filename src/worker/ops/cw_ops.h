/*
 * caresync-worker: the operator commands (sync-rules.md §D).
 * Each returns the process exit status: 0 ok, 1 failure, 2 usage.
 */
#ifndef CW_OPS_H
#define CW_OPS_H

#include "jobs/cw_batch.h"
#include "engine/cw_config.h"
#include "engine/cw_csv.h"
#include "engine/cw_http.h"
#include "engine/cw_redis.h"

int cw_ops_check(const cw_conf_t *conf);
int cw_ops_jobs(const cw_conf_t *conf, int argc, char **argv);
int cw_ops_dlq(const cw_conf_t *conf, int argc, char **argv);
int cw_ops_log(const cw_conf_t *conf, int argc, char **argv);

/*
 * What every command shares (cw_ops_batch.c, cw_ops_hint.c too): the
 * Redis connection (an error is printed), the [http] settings of a
 * command's own client (max_total 0: cw_http's default), and the contact
 * ids of a report export (an error is printed, `ids` freed; 0 or 1),
 * and queueing a batch's items (0, or -1 with what to do printed).
 */
int cw_ops_connect(const cw_conf_t *c, cw_redis_t *r);
void cw_ops_close(cw_redis_t *r);
void cw_ops_http_conf(const cw_conf_t *c, int max_total, cw_http_conf_t *hc);
int cw_ops_csv_ids(const char *csv, cw_csv_ids_t *ids);
/* the value of `field` in a stream entry's [f, v, f, v ...], or NULL */
const char *cw_ops_field(redisReply *fv, const char *field);
/* ISO-8601 or 90s / 15m / 2h / 1d back from now, to epoch ms; 0 or -1 */
int cw_ops_since(const char *s, long long *ms);
/*
 * The entries of stream `key` from `start` (an id, "-", or "(id": after
 * it) to `end` (an id or "+"), `page` at a time: `each` for every entry,
 * whose non-zero return stops the walk and is returned.  The pipeline is
 * flushed after each page, so what `each` appended goes a page at a time.
 * 0 at the end, -1 when Redis failed.
 */
typedef int (*cw_ops_entry_pt)(void *data, redisReply *entry);
int cw_ops_xrange(cw_redis_t *r, const char *key, const char *start,
    const char *end, int page, cw_ops_entry_pt each, void *data);
/*
 * The same over a SCAN of the keys matching `match` (key NULL) or a ZSCAN
 * of `key`: `each` gets every page's array (keys; member, score, ...).
 */
typedef int (*cw_ops_page_pt)(void *data, redisReply *items);
int cw_ops_scan(cw_redis_t *r, const char *key, const char *match,
    cw_ops_page_pt each, void *data);
int cw_ops_queue_batch(const cw_conf_t *c, const cw_batch_spec_t *spec,
    char **ids, size_t n, char id[CW_BATCH_ID_LEN]);

#endif /* CW_OPS_H */
