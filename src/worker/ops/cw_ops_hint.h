/*
 * caresync-worker: the Hint batch commands (sync-rules.md §C.5-7):
 *
 *   batch hint-to-crm                every Hint patient, 100 a page
 *   batch crm-to-hint --csv FILE     a Salesforce contacts report export
 *
 * Both queue a batch (cw_batch.c), so that `batch status|abort|
 * report <id>` work on them as on any other.  Returns the exit status.
 */
#ifndef CW_OPS_HINT_H
#define CW_OPS_HINT_H

#include "engine/cw_config.h"

/* Whether `kind` is one of these commands. */
int cw_ops_hint_kind(const char *kind);
int cw_ops_hint_batch(const cw_conf_t *conf, int argc, char **argv);

#endif /* CW_OPS_HINT_H */
