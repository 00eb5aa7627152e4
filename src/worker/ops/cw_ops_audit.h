/*
 * caresync-worker: `audit verify` and `audit export --since T` over the
 * audit trail (engine/cw_audit.h defines its entries and their hash).
 */
#ifndef CW_OPS_AUDIT_H
#define CW_OPS_AUDIT_H

#include "engine/cw_config.h"

int cw_ops_audit(const cw_conf_t *conf, int argc, char **argv);

#endif /* CW_OPS_AUDIT_H */
