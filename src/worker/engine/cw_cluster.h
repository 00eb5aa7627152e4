/*
 * caresync-worker: where the queue lives in a Redis Cluster.
 *
 * Every key of the worker shares the prefix's hash tag (`{caresync}`), so
 * the whole queue is in one slot, on one primary: the worker needs one
 * connection, to that primary.  With [redis] cluster = on it asks a node
 * (the configured one: a configuration endpoint, or any node) for the
 * slot map (CLUSTER SLOTS), connects to the primary that serves the
 * prefix's slot, and asks again when a node answers MOVED (the slot moved:
 * a resharding or a failover), ASK / TRYAGAIN (the slot is moving) or
 * CLUSTERDOWN.  Only the entry of our slot is kept of the map.
 */
#ifndef CW_CLUSTER_H
#define CW_CLUSTER_H

#include <stddef.h>

#include <hiredis/hiredis.h>

/* Redis Cluster's slot of a key: CRC16 of its hash tag, mod 16384 */
unsigned cw_cluster_slot(const char *key, size_t len);

/* 1: the key has a non-empty hash tag (then all its keys share a slot) */
int cw_cluster_tagged(const char *key);

/*
 * The primary serving `slot`, from a CLUSTER SLOTS reply: 0 with its
 * address (an empty host means the node that answered), -1 when no entry
 * covers the slot or the reply is not a slot map.
 */
int cw_cluster_owner(const redisReply *slots, unsigned slot, char *host,
    size_t hostlen, int *port);

/*
 * The node of a "MOVED <slot> <host>:<port>" error: 0 with its address,
 * -1 when the text is not one (nothing written then).
 */
int cw_cluster_moved(const char *err, char *host, size_t hostlen,
    int *port);

#endif /* CW_CLUSTER_H */
