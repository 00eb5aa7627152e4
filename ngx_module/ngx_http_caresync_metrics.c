/*
 * Counters in shared memory, so that every worker adds to the same
 * figures, served as Prometheus text by a `caresync_metrics` location.
 *
 * The label sets are fixed and small (status codes, and the endpoints
 * and reasons of cs_names.h), so the counters are plain arrays of atomics:
 * no allocation and no lock on the request path, and no label can ever
 * carry a value from a request.  The zone survives reloads.
 */


#include "ngx_http_caresync.h"


static ngx_uint_t  ngx_http_caresync_statuses[] = {
    200, 202, 400, 401, 403, 404, 405, 413, 415, 422, 500, 503, 0
};

#define NGX_HTTP_CARESYNC_STATUS_N                                           \
    (sizeof(ngx_http_caresync_statuses) / sizeof(ngx_uint_t))

/* upper bounds of the latency buckets, in milliseconds */
static ngx_msec_t  ngx_http_caresync_buckets[] = {
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500
};

#define NGX_HTTP_CARESYNC_BUCKET_N                                           \
    (sizeof(ngx_http_caresync_buckets) / sizeof(ngx_msec_t))


typedef struct {
    ngx_atomic_t  requests[CS_ENDPOINT_N][NGX_HTTP_CARESYNC_STATUS_N];
    ngx_atomic_t  rejects[CS_ENDPOINT_N][CS_REASON_N];
    ngx_atomic_t  dedupe[CS_ENDPOINT_N];
    ngx_atomic_t  not_synced[CS_ENDPOINT_N];
    ngx_atomic_t  latency[CS_ENDPOINT_N][NGX_HTTP_CARESYNC_BUCKET_N
                                                  + 1];
    ngx_atomic_t  latency_sum_ms[CS_ENDPOINT_N];
    ngx_atomic_t  redis_errors;
    ngx_atomic_t  redis_reconnects;
} ngx_http_caresync_counters_t;


static ngx_int_t ngx_http_caresync_metrics_init_zone(ngx_shm_zone_t *zone,
    void *data);
static ngx_uint_t ngx_http_caresync_metrics_ep(ngx_http_request_t *r);


static ngx_http_caresync_counters_t  *ngx_http_caresync_counters;


ngx_int_t
ngx_http_caresync_metrics_init_conf(ngx_conf_t *cf)
{
    ngx_str_t        name = ngx_string("caresync_metrics");
    ngx_shm_zone_t  *zone;

    zone = ngx_shared_memory_add(cf, &name,
                                 ngx_align(sizeof(ngx_http_caresync_counters_t),
                                           ngx_pagesize)
                                 + 8 * ngx_pagesize,
                                 &ngx_http_caresync_module);
    if (zone == NULL) {
        return NGX_ERROR;
    }

    zone->init = ngx_http_caresync_metrics_init_zone;

    return NGX_OK;
}


static ngx_int_t
ngx_http_caresync_metrics_init_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_slab_pool_t  *shpool;

    if (data) {
        /* a reload: keep counting where the old cycle left off */
        zone->data = data;
        ngx_http_caresync_counters = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (zone->shm.exists) {
        zone->data = shpool->data;
        ngx_http_caresync_counters = shpool->data;
        return NGX_OK;
    }

    ngx_http_caresync_counters = ngx_slab_calloc(shpool,
                                         sizeof(ngx_http_caresync_counters_t));
    if (ngx_http_caresync_counters == NULL) {
        return NGX_ERROR;
    }

    shpool->data = ngx_http_caresync_counters;
    zone->data = ngx_http_caresync_counters;

    return NGX_OK;
}


static ngx_uint_t
ngx_http_caresync_metrics_ep(ngx_http_request_t *r)
{
    ngx_http_caresync_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_caresync_module);

    return clcf->endpoint < CS_ENDPOINT_N
           ? clcf->endpoint : CS_ENDPOINT_NONE;
}


void
ngx_http_caresync_metrics_request(ngx_http_request_t *r, ngx_uint_t status)
{
    ngx_uint_t  i;

    if (ngx_http_caresync_counters == NULL) {
        return;
    }

    for (i = 0; i < NGX_HTTP_CARESYNC_STATUS_N - 1; i++) {
        if (ngx_http_caresync_statuses[i] == status) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(
        &ngx_http_caresync_counters->requests[ngx_http_caresync_metrics_ep(r)]
                                             [i], 1);
}


void
ngx_http_caresync_metrics_reject(ngx_http_request_t *r, cs_reason_t reason)
{
    if (ngx_http_caresync_counters == NULL) {
        return;
    }

    if ((ngx_uint_t) reason >= CS_REASON_N) {
        reason = CS_REASON_OTHER;
    }

    (void) ngx_atomic_fetch_add(
        &ngx_http_caresync_counters->rejects[ngx_http_caresync_metrics_ep(r)]
                                            [reason], 1);
}


void
ngx_http_caresync_metrics_dedupe(ngx_http_request_t *r)
{
    if (ngx_http_caresync_counters) {
        (void) ngx_atomic_fetch_add(
            &ngx_http_caresync_counters->dedupe[ngx_http_caresync_metrics_ep(r)],
            1);
    }
}


void
ngx_http_caresync_metrics_not_synced(ngx_http_request_t *r)
{
    if (ngx_http_caresync_counters) {
        (void) ngx_atomic_fetch_add(
            &ngx_http_caresync_counters->not_synced
                [ngx_http_caresync_metrics_ep(r)], 1);
    }
}


void
ngx_http_caresync_metrics_redis(ngx_uint_t reconnect)
{
    if (ngx_http_caresync_counters == NULL) {
        return;
    }

    (void) ngx_atomic_fetch_add(reconnect
                                ? &ngx_http_caresync_counters->redis_reconnects
                                : &ngx_http_caresync_counters->redis_errors,
                                1);
}


void
ngx_http_caresync_metrics_command_start(ngx_http_request_t *r)
{
    ngx_http_caresync_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_caresync_module);
    ctx->started = ngx_current_msec;
}


void
ngx_http_caresync_metrics_command_done(ngx_http_request_t *r, ngx_uint_t ok)
{
    ngx_uint_t                ep, i;
    ngx_msec_t                ms;
    ngx_http_caresync_ctx_t  *ctx;

    if (ngx_http_caresync_counters == NULL) {
        return;
    }

    if (!ok) {
        ngx_http_caresync_metrics_redis(0);
        return;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_caresync_module);
    ms = ngx_current_msec - ctx->started;
    ep = ngx_http_caresync_metrics_ep(r);

    for (i = 0; i < NGX_HTTP_CARESYNC_BUCKET_N; i++) {
        if (ms <= ngx_http_caresync_buckets[i]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&ngx_http_caresync_counters->latency[ep][i],
                                1);
    (void) ngx_atomic_fetch_add(
                          &ngx_http_caresync_counters->latency_sum_ms[ep], ms);
}


/* GET on a `caresync_metrics` location: the Prometheus text format. */

ngx_int_t
ngx_http_caresync_metrics_handler(ngx_http_request_t *r)
{
    u_char                        *p, *last;
    size_t                         size;
    ngx_int_t                      rc;
    ngx_str_t                      body;
    ngx_uint_t                     ep, i;
    ngx_table_elt_t               *h;
    ngx_atomic_uint_t              v, cum;
    ngx_http_caresync_counters_t  *c = ngx_http_caresync_counters;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Allow");
        ngx_str_set(&h->value, "GET, HEAD");

        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (c == NULL) {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    size = 4096 + CS_ENDPOINT_N
                  * (NGX_HTTP_CARESYNC_STATUS_N + CS_REASON_N
                     + NGX_HTTP_CARESYNC_BUCKET_N + 8) * 128;

    p = ngx_pnalloc(r->pool, size);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    body.data = p;
    last = p + size;

    p = ngx_slprintf(p, last,
        "# HELP caresync_requests_total Answers by endpoint and status.\n"
        "# TYPE caresync_requests_total counter\n");

    for (ep = 1; ep < CS_ENDPOINT_N; ep++) {
        for (i = 0; i < NGX_HTTP_CARESYNC_STATUS_N; i++) {
            v = c->requests[ep][i];
            if (v == 0) {
                continue;
            }

            if (ngx_http_caresync_statuses[i]) {
                p = ngx_slprintf(p, last, "caresync_requests_total"
                                 "{endpoint=\"%s\",status=\"%ui\"} %uA\n",
                                 cs_endpoint_names[ep],
                                 ngx_http_caresync_statuses[i], v);
            } else {
                p = ngx_slprintf(p, last, "caresync_requests_total"
                                 "{endpoint=\"%s\",status=\"other\"} %uA\n",
                                 cs_endpoint_names[ep], v);
            }
        }
    }

    p = ngx_slprintf(p, last,
        "# HELP caresync_rejects_total Refused requests by reason.\n"
        "# TYPE caresync_rejects_total counter\n");

    for (ep = 1; ep < CS_ENDPOINT_N; ep++) {
        for (i = 0; i < CS_REASON_N; i++) {
            v = c->rejects[ep][i];
            if (v) {
                p = ngx_slprintf(p, last, "caresync_rejects_total"
                                 "{endpoint=\"%s\",reason=\"%s\"} %uA\n",
                                 cs_endpoint_names[ep],
                                 cs_reason_names[i], v);
            }
        }
    }

    p = ngx_slprintf(p, last,
        "# HELP caresync_dedupe_hits_total Repeated deliveries not queued "
        "again.\n"
        "# TYPE caresync_dedupe_hits_total counter\n");

    for (ep = 1; ep < CS_ENDPOINT_N; ep++) {
        p = ngx_slprintf(p, last,
                         "caresync_dedupe_hits_total{endpoint=\"%s\"} %uA\n",
                         cs_endpoint_names[ep], c->dedupe[ep]);
    }

    p = ngx_slprintf(p, last,
        "# HELP caresync_not_synced_total Events accepted but of a type "
        "this deployment does not sync.\n"
        "# TYPE caresync_not_synced_total counter\n");

    for (ep = 1; ep < CS_ENDPOINT_N; ep++) {
        p = ngx_slprintf(p, last,
                         "caresync_not_synced_total{endpoint=\"%s\"} %uA\n",
                         cs_endpoint_names[ep], c->not_synced[ep]);
    }

    p = ngx_slprintf(p, last,
        "# HELP caresync_redis_errors_total Redis commands that failed, "
        "timed out or lost their connection.\n"
        "# TYPE caresync_redis_errors_total counter\n"
        "caresync_redis_errors_total %uA\n"
        "# HELP caresync_redis_reconnects_total Connections re-established "
        "after a loss.\n"
        "# TYPE caresync_redis_reconnects_total counter\n"
        "caresync_redis_reconnects_total %uA\n",
        c->redis_errors, c->redis_reconnects);

    p = ngx_slprintf(p, last,
        "# HELP caresync_enqueue_seconds Time from sending a request's "
        "Redis command to its reply.\n"
        "# TYPE caresync_enqueue_seconds histogram\n");

    for (ep = 1; ep < CS_ENDPOINT_N; ep++) {
        cum = 0;

        for (i = 0; i < NGX_HTTP_CARESYNC_BUCKET_N; i++) {
            cum += c->latency[ep][i];
            p = ngx_slprintf(p, last, "caresync_enqueue_seconds_bucket"
                             "{endpoint=\"%s\",le=\"%.3f\"} %uA\n",
                             cs_endpoint_names[ep],
                             (double) ngx_http_caresync_buckets[i] / 1000,
                             cum);
        }

        cum += c->latency[ep][i];
        p = ngx_slprintf(p, last, "caresync_enqueue_seconds_bucket"
                         "{endpoint=\"%s\",le=\"+Inf\"} %uA\n"
                         "caresync_enqueue_seconds_sum{endpoint=\"%s\"} %.3f\n"
                         "caresync_enqueue_seconds_count{endpoint=\"%s\"} "
                         "%uA\n",
                         cs_endpoint_names[ep], cum,
                         cs_endpoint_names[ep],
                         (double) c->latency_sum_ms[ep] / 1000,
                         cs_endpoint_names[ep], cum);
    }

    body.len = p - body.data;

    r->headers_out.status = NGX_HTTP_OK;
    ngx_str_set(&r->headers_out.content_type, "text/plain; version=0.0.4");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_length_n = body.len;

    return ngx_http_caresync_reply_raw(r, &body);
}
