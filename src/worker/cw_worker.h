/*
 * caresync-worker: jobs from the Redis stream to Salesforce, Hint and
 * HealthSherpa.  One folder a layer; a layer uses the ones below it, never
 * one above (handlers and maps reach the CRM only through crm/cw_crm.h).
 *
 *   engine/cw_main.c          the command line: one table of commands
 *
 *   ops/cw_ops.c              jobs show, dlq, log, check (sync-rules §D)
 *   ops/cw_ops_batch.c        batch healthsherpa|status|abort|report, oauth
 *   ops/cw_ops_hint.c         batch hint-to-crm, batch crm-to-hint
 *   ops/cw_ops_replay.c       replay, and dlq replay's queueing: cw_replay()
 *   ops/cw_ops_erase.c        erase --patient: cw_erase()
 *   ops/cw_ops_audit.c        audit verify, audit export
 *   ops/cw_ops_crypto.c       crypto status: what each job key protects
 *
 *   jobs/cw_h_enrollment.c    helparound.enrollment (§A)
 *   jobs/cw_h_user_action.c   helparound.user_action, the tracker view (§A)
 *   jobs/cw_hacontact.c       the contact of a HelpAround patient (§A.1)
 *   jobs/cw_h_healthsherpa.c  healthsherpa.sync (§B); ops.hs_login,
 *                             ops.hs_exchange: the console's login
 *   jobs/cw_h_hint_patient.c  hint.patient, hint.batch_patient (§C.1, C.5)
 *   jobs/cw_h_contact_changed.c  crm.contact_changed (§C.2)
 *   jobs/cw_h_hint_sync.c     hint.sync, hint.batch_contact (§C.3, C.6)
 *   jobs/cw_h_hint_unlink.c   hint.unlink (§C.4)
 *   jobs/cw_hint_job.c        what the Hint jobs share: calls, merge, end
 *   jobs/cw_batch.c           batches and batch.item (§B Bulk, §C.7)
 *   jobs/cw_h_ops.c           ops.dlq_replay: what the console queues
 *
 *   maps/cw_map.c             the mapping engine; HelpAround -> CRM table
 *   maps/cw_hintmap.c         Hint patient <-> CRM contact table (§C)
 *
 *   crm/cw_crm.h              the CRM interface handlers and maps talk to
 *   crm/cw_crm.c              what every CRM shares: diff, exact equality
 *   crm/cw_salesforce.c       Salesforce REST + OAuth behind cw_crm_t
 *
 *   clients/cw_hint.c         Hint Health API
 *   clients/cw_healthsherpa.c HealthSherpa API v1/v2 and its OAuth tokens
 *   clients/cw_media.c        HelpAround media -> Salesforce Files
 *
 *   engine/cw_run.c           `run`: the loop, start-up, shutdown
 *   engine/cw_jobs.c          a job's life: start, handler, one end
 *   engine/cw_env.c           a job's envelope, parsed once (cs_json.h)
 *   engine/cw_lock.c          one job at a time per patient, in queue order
 *   engine/cw_queue.c         the stream, reclaims, retries, dead letters
 *   engine/cw_status.c        the status record {prefix}:job:<id>, and
 *                             the patient index {prefix}:patient:<key>
 *   engine/cw_retain.c        the archive; pruning by age and bound
 *   engine/cw_audit.c         the audit trail: hash chain, cw_audit_op()
 *   engine/cw_trace.c         the job's trace and timeline, OTLP export
 *   engine/cw_metrics.c       Prometheus metrics and their responder
 *   engine/cw_http.c          the one HTTP layer (libcurl multi), caps,
 *                             token cache, error classes, a client's call
 *   engine/cw_err.h           the one error type: code, class, message
 *   engine/cw_redis.c         one synchronous, pipelined Redis connection
 *   engine/cw_redis_io.c      its bytes: TCP or TLS (OpenSSL), bounded
 *                             waits, hiredis's reader for the protocol
 *   engine/cw_sentinel.c      the primary, as the Redis Sentinels say
 *   engine/cw_cluster.c       Redis Cluster: key slots, the slot map
 *   engine/cw_config.c        the configuration file and its table
 *   engine/cw_crypto.c        the job key ring, sealed jobs opened
 *   engine/cw_log.c           the sync log: stderr + {prefix}:log
 *   engine/cw_csv.c           CSV input (report exports)
 *   engine/cw_util.c          clocks, allocation, lists, escaping, JSON
 *                             read by cs_json.h copied into jansson
 *
 * Below this file: the running worker, shared by the loop and the jobs.
 */
#ifndef CW_WORKER_H
#define CW_WORKER_H

#include <stdint.h>

#include "engine/cw_audit.h"
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
    cw_audit_sink_t   audit;        /* where the HTTP layer's writes go */

    cw_job_t         *jobs;         /* in flight */
    int               njobs;
    int               stopping;     /* SIGTERM: no new jobs */
    int               abandon;      /* past the deadline: drop, don't ack */

    /* for the benchmark and the exit line */
    uint64_t          started, finished, retried, dead, parked, turns;
} cw_worker_t;

/* `run`: returns the exit status */
int cw_run(const cw_conf_t *conf);

#endif /* CW_WORKER_H */
