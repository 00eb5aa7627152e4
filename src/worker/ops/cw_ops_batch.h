/*
 * caresync-worker: the batch and oauth operator commands (sync-rules.md
 * §D): `batch <kind> --csv FILE | --where COND`, `batch status|abort|
 * report <id>`, `oauth healthsherpa url|exchange`.  Each returns the exit
 * status: 0 ok, 1 failure, 2 usage.
 */
#ifndef CW_OPS_BATCH_H
#define CW_OPS_BATCH_H

#include "engine/cw_config.h"

int cw_ops_batch(const cw_conf_t *conf, int argc, char **argv);
int cw_ops_oauth(const cw_conf_t *conf, int argc, char **argv);

#endif /* CW_OPS_BATCH_H */
