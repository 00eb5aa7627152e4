/*
 * caresync-worker: Prometheus metrics of `run` ([metrics] listen).
 *
 * Counters and histograms live in this process (each worker has its own;
 * Prometheus sums them), the queue's gauges are read from Redis when
 * scraped, at most once a second.  Every label value comes from a fixed
 * set: a job type a handler is registered for ("unknown" else), a final
 * status of spec/job.md ("other" else), a target's name, a status class.
 * No id, no value from a job: nothing unbounded and no PHI.
 *
 * The responder is as small as the job: GET /metrics only, a request of
 * at most CW_METRICS_REQ_MAX bytes, CW_METRICS_CONNS connections at once,
 * each closed after its answer or after 2 s; its sockets are non-blocking
 * and served once per turn of the loop, so a scrape never holds a job up
 * (and waits at most one turn, a few hundred ms, for its answer).
 */
#ifndef CW_METRICS_H
#define CW_METRICS_H

#include <stdint.h>

#include "cs_buf.h"
#include "engine/cw_config.h"

#define CW_METRICS_REQ_MAX  2048
#define CW_METRICS_CONNS    4

struct cw_redis_s;

/* The listener, when [metrics] listen is set; -1 with a reason in err. */
int cw_metrics_open(const cw_conf_t *conf, char *err, size_t n);
/* One turn: accept, read and answer what is ready; never blocks. */
void cw_metrics_serve(struct cw_redis_s *redis, const cw_conf_t *conf,
    int in_flight);
void cw_metrics_close(void);

/* "127.0.0.1:9187" -> host, port; -1 when it is not that shape. */
int cw_metrics_parse_listen(const char *s, char *host, size_t n, int *port);

/* What the jobs and the HTTP layer report */
void cw_metrics_attempt(const char *type);
void cw_metrics_job_end(const char *type, const char *status, uint64_t ms,
    int batch_item);
void cw_metrics_retry(const char *type);
void cw_metrics_dead(const char *type);
void cw_metrics_call(const char *vendor, long status, uint64_t ms,
    long retry_after_ms);
void cw_metrics_oauth(const char *vendor, int ok);
void cw_metrics_otlp(const char *result, uint64_t spans);

/* The text exposition, appended to `out`. */
void cw_metrics_render(cs_buf_t *out, int in_flight);

#endif /* CW_METRICS_H */
