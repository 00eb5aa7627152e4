/*
 * caresync core: turning one inbound webhook body into an answer and a job.
 *
 * The nginx module and the fuzzer call cs_ingest(); it validates the body,
 * normalizes the patient (spec/job.md), and leaves in `out`:
 *   - status 200 (webhooks) or 202 (CS_API_* actions): `body` is the exact
 *     answer; when `enqueue` is 1, `job` is the envelope to queue and
 *     `idem_key` the dedupe key (the job id's digest for actions, which
 *     are never duplicates).  A Hint event of a type that is not synced
 *     is a 200 with `enqueue` 0, `job` empty, job_type "hint.ignored";
 *   - status 400: `body` is the exact 400 answer, `reason` a short label.
 * A raw copy longer than `max_raw` is left out of the job, which then
 * says "raw_omitted":"too_large" where "raw" would be.  With a key ring
 * in the configuration, the job's "patient" and "raw" are sealed
 * (cs_seal.h); a ring that cannot seal (no randomness, out of memory)
 * makes cs_ingest() fail: a job is never queued in the clear by accident.
 * Nothing here knows nginx, Redis, or the clock: the caller passes the
 * time, the job id and the trace in.  No PHI value is ever copied into `body`,
 * `reason` or `notes`.
 */

#ifndef CS_INGEST_H
#define CS_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "cs_buf.h"
#include "cs_seal.h"

#define CS_INGEST_AGENT_MAX  254   /* bytes of an action's "agent" */

#define CS_OK         0
#define CS_ERROR     -1    /* out of memory; nothing else */

typedef enum {
    CS_WEBHOOK_HELPAROUND_ENROLLMENT = 1,
    CS_WEBHOOK_HELPAROUND_USER_ACTION,
    CS_WEBHOOK_HINT,                  /* §3 */
    CS_API_HEALTHSHERPA_SYNC,         /* §4, the CRM's buttons */
    CS_API_HINT_SYNC,
    CS_API_HINT_UNLINK,
    CS_API_CRM_CONTACT_CHANGED,
    CS_API_DLQ_REPLAY,                /* the console's (cs_action.h) */
    CS_API_HS_LOGIN,
    CS_API_HS_EXCHANGE                /* the OAuth callback's */
} cs_webhook_t;

typedef struct {
    const char  *partner_source;      /* externalIds source to prefer */
    size_t       partner_source_len;
    unsigned     max_depth;           /* JSON nesting limit, 0 = 32 */
    size_t       max_values;          /* JSON values in a body, 0 = 10000 */
    int          keep_raw;            /* copy the body into job.raw */
    size_t       max_raw;             /* a longer copy is left out and the
                                         job says so, 0 = 64 KiB */
    const char  *status_base;         /* actions: status_url = this + id */
    size_t       status_base_len;
    cs_seal_ring_t  *seal;            /* not NULL: the job's PHI members
                                         are sealed under its current key
                                         (cs_seal.h) */
    const char  *actor;               /* operator actions: who asked (the
                                         edge's name of its credential),
                                         action.actor; NULL: none */
    size_t       actor_len;
} cs_ingest_conf_t;

typedef struct {
    /* in: filled by the caller */
    uint64_t     now_ms;              /* becomes received_at */
    char         job_id[27];          /* ULID, NUL-terminated */
    char         traceparent[56];     /* the edge's span (cs_trace.h),
                                         NUL-terminated; "" for none */

    /* out */
    int          status;              /* 200, 202 or 400 */
    int          enqueue;             /* 1: queue `job` */
    const char  *reason;              /* static label, e.g. "bad_json" */
    const char  *job_type;            /* static, e.g. "helparound.enrollment" */
    char         idem_key[65];        /* hex SHA-256, NUL-terminated */
    cs_buf_t     body;                /* the HTTP answer, exact bytes */
    cs_buf_t     job;                 /* the envelope, compact JSON */
    cs_buf_t     notes;               /* "path: why; …" of dropped optional
                                         values, field paths only */
    size_t       raw_omitted;         /* keep_raw, but the copy of this
                                         many bytes was over max_raw */
    char         agent[CS_INGEST_AGENT_MAX + 1];
                                      /* a queued action's "agent" as the
                                         job carries it (trimmed), NUL-
                                         terminated; "" when it has none */
    size_t       agent_len;
} cs_ingest_t;

void cs_ingest_init(cs_ingest_t *in);
void cs_ingest_free(cs_ingest_t *in);

int cs_ingest(cs_webhook_t kind, const cs_ingest_conf_t *conf,
    const unsigned char *body, size_t len, cs_ingest_t *out);

/*
 * An action's 202 body, {"job_id":"…","status_url":"<status_base><id>"},
 * appended to `b`: what cs_ingest() answers for a job with that id, so
 * that a repeated request can be answered for its first job.
 */
void cs_ingest_answer_202(cs_buf_t *b, const char *status_base,
    size_t status_base_len, const char *job_id, size_t job_id_len);

#endif /* CS_INGEST_H */
