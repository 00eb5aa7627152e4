/*
 * caresync-worker: `crypto status`, what each job key still protects.
 */
#ifndef CW_OPS_CRYPTO_H
#define CW_OPS_CRYPTO_H

#include "engine/cw_config.h"

int cw_ops_crypto(const cw_conf_t *conf, int argc, char **argv);

#endif /* CW_OPS_CRYPTO_H */
