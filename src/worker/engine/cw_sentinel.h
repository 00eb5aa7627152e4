/*
 * caresync-worker: the primary, as the Redis Sentinels say.
 *
 * With [redis] sentinels, the worker does not connect to a fixed address:
 * on every (re)connect it asks the sentinels, one after the other, for
 * the primary of `master_name` (SENTINEL get-master-addr-by-name), and
 * cw_redis.c then checks with ROLE that the node is a primary.  A lost
 * connection, a READONLY / LOADING / MASTERDOWN answer or a node that
 * turned replica makes the next command ask again: that is how a
 * failover is followed without a restart.
 *
 * Bounds: at most CW_SENTINELS_MAX sentinels, each given at most
 * min(timeout_ms, CW_SENTINEL_TIMEOUT_MS) to connect and answer, so one
 * round over dead sentinels costs at most their number times that.  The
 * one that answered last is asked first next time.
 */
#ifndef CW_SENTINEL_H
#define CW_SENTINEL_H

#include <stddef.h>

#include "engine/cw_config.h"
#include "engine/cw_redis_io.h"

#define CW_SENTINEL_TIMEOUT_MS  1000

/*
 * The primary's address into host/port; 0, or -1 with every sentinel's
 * reason in err.  *next: the sentinel to ask first (updated).
 */
int cw_sentinel_primary(const cw_conf_t *c, cw_rio_tls_t *tls, int *next,
    char *host, size_t hostlen, int *port, char *err, size_t errlen);

#endif /* CW_SENTINEL_H */
