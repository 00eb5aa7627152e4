/*
 * caresync-worker: one trace from the webhook to the CRM write.
 *
 * A job's trace comes from its envelope's `traceparent` (the edge's span,
 * cs_trace.h); a job queued without one (a batch item, a replay of an old
 * job) or with an invalid one starts a new trace.  Each attempt is a span
 * whose parent is the edge's; each request to a vendor is a child span of
 * the attempt, and the request carries it as `traceparent` (the HTTP
 * layer's observer, installed by cw_trace_install()).  While a job's code
 * runs its trace is current: log lines end with its trace id
 * (cw_log_trace()), and requests made then belong to it.
 *
 * The timeline: at the end of each attempt one JSON entry is appended to
 * the list {prefix}:timeline:<job id> (the attempt, when it was queued,
 * started and ended, its outcome, and its vendor calls: method, host and
 * path with every id-like segment replaced by {id} and no query string,
 * status, duration), at most CW_TRACE_ATTEMPTS entries of at most
 * CW_TRACE_CALLS calls each, expiring with the status record.  No value
 * of a job is in it: ids of vendors' records are replaced, queries (which
 * carry names and emails) are cut.
 *
 * OTLP: with [tracing] otlp_endpoint, the attempts' and calls' spans go
 * to a collector as OTLP/HTTP JSON, batched (a POST a second at most, one
 * in flight), bounded (tracing.otlp_max_spans buffered; more are dropped
 * and counted), never retried: an export never holds up or fails a job.
 */
#ifndef CW_TRACE_H
#define CW_TRACE_H

#include <stdint.h>

#include "engine/cw_config.h"
#include "engine/cw_err.h"
#include "engine/cw_http.h"
#include "engine/cw_redis.h"

#define CW_TRACE_ATTEMPTS  32
#define CW_TRACE_CALLS     24
#define CW_TRACE_WHERE     96       /* host + path template */

typedef struct cw_trace_s  cw_trace_t;

/* The observer of `http`, and the OTLP exporter when configured. */
void cw_trace_install(cw_http_t *http, const cw_conf_t *conf);

/*
 * A job's trace, from its envelope's traceparent (NULL or invalid: a new
 * trace) with a new span for this attempt.  The caller holds the one
 * reference; NULL without randomness (the job then runs untraced).
 */
cw_trace_t *cw_trace_new(const char *traceparent, const char *job_id,
    const char *type);
void cw_trace_drop(cw_trace_t *t);
const char *cw_trace_id(const cw_trace_t *t);

/* `t` current (NULL: none) until cw_trace_leave(the value returned). */
cw_trace_t *cw_trace_enter(cw_trace_t *t);
void cw_trace_leave(cw_trace_t *prev);

/* The end of an attempt: appended to the pipeline (a MULTI is open). */
typedef struct {
    long             attempt;
    const char      *status;        /* final, or "retrying" */
    const cw_err_t  *err;           /* NULL on success */
    const char      *stream_id;     /* of this attempt's entry */
    const char      *received_at;   /* the envelope's, or NULL */
    long             ttl_s;
} cw_trace_end_t;

void cw_trace_end(cw_trace_t *t, cw_redis_t *r, const cw_conf_t *conf,
    const char *job_id, const cw_trace_end_t *e);

/* {prefix}:timeline:<id> */
void cw_trace_key(const char *prefix, const char *id, char *out, size_t n);

/* "https://h:1/a/003Ab12/b?q=x" -> "h:1/a/{id}/b" (the timeline's form) */
void cw_trace_where(const char *base, const char *url, char *out, size_t n);

/* The loop's turn: sends the buffered spans when due.  `final`: now. */
void cw_trace_tick(int final);
int cw_trace_exporting(void);

#endif /* CW_TRACE_H */
