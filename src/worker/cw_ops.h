/*
 * caresync-worker: the operator commands (sync-rules.md §D).
 * Each returns the process exit status: 0 ok, 1 failure, 2 usage.
 */
#ifndef CW_OPS_H
#define CW_OPS_H

#include "cw_config.h"

int cw_ops_check(const cw_conf_t *conf);
int cw_ops_jobs(const cw_conf_t *conf, int argc, char **argv);
int cw_ops_dlq(const cw_conf_t *conf, int argc, char **argv);
int cw_ops_log(const cw_conf_t *conf, int argc, char **argv);

#endif /* CW_OPS_H */
