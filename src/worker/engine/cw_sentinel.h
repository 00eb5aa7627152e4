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
 * connection to the one that answered is kept and asked first next time.
 *
 * A planned switch-over (SENTINEL FAILOVER, a managed service's
 * maintenance) leaves the old primary up and writable until the
 * sentinels reconfigure it, seconds later: so the running worker also asks
 * every CW_SENTINEL_CHECK_MS whether the primary is still the one it
 * writes to (cw_redis_check()), and moves when it is not.
 */
#ifndef CW_SENTINEL_H
#define CW_SENTINEL_H

#include <stddef.h>

#include "engine/cw_config.h"
#include "engine/cw_redis_io.h"

#define CW_SENTINEL_TIMEOUT_MS  1000
#define CW_SENTINEL_CHECK_MS    1000

typedef struct {
    cw_rio_t    *io;                 /* to sentinel `next`, or NULL */
    int          next;               /* the one to ask first */
} cw_sentinel_t;

/*
 * The primary's address into host/port; 0, or -1 with every sentinel's
 * reason in err.  `one`: the kept connection, else a single sentinel (the
 * next in turn), so that a periodic check costs one bounded wait at most.
 */
int cw_sentinel_primary(const cw_conf_t *c, cw_rio_tls_t *tls,
    cw_sentinel_t *s, int one, char *host, size_t hostlen, int *port,
    char *err, size_t errlen);
void cw_sentinel_close(cw_sentinel_t *s);

#endif /* CW_SENTINEL_H */
