/*
 * caresync-worker: the running worker, shared by the loop and the jobs.
 */
#ifndef CW_WORKER_H
#define CW_WORKER_H

#include <stdint.h>

#include "engine/cw_config.h"
#include "crm/cw_crm.h"
#include "engine/cw_http.h"
#include "engine/cw_queue.h"
#include "engine/cw_redis.h"

typedef struct cw_job_s  cw_job_t;

typedef struct {
    const cw_conf_t  *conf;
    cw_redis_t        redis;
    cw_queue_t        queue;
    cw_http_t        *http;
    cw_crm_t         *crm;          /* NULL when no CRM is configured */

    cw_job_t         *jobs;         /* in flight */
    int               njobs;
    int               stopping;     /* SIGTERM: no new jobs */
    int               abandon;      /* past the deadline: drop, don't ack */

    /* for the benchmark and the exit line */
    uint64_t          started, finished, retried, dead, turns;
} cw_worker_t;

/* `run`: returns the exit status */
int cw_run(const cw_conf_t *conf);

#endif /* CW_WORKER_H */
