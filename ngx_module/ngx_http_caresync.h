/*
 * ngx_http_caresync_module: the nginx side of caresync.
 *
 *   handler.c      method, content type, body; hands the body to the core
 *   enqueue.c      one request's trip to Redis: EVALSHA, timeout, answer
 *   redis.c        the per-worker hiredis connection on nginx's event loop
 *   reply.c        writing JSON answers
 *   error_filter.c nginx's own error pages (413, …) as JSON
 *   module.c       directives, configuration, process hooks
 *
 * Validation and normalization live in ../src (cs_*), which knows
 * nothing of nginx.
 */

#ifndef _NGX_HTTP_CARESYNC_H_INCLUDED_
#define _NGX_HTTP_CARESYNC_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "cs_ingest.h"


typedef struct {
    ngx_str_t                   host;        /* numeric, resolved at
                                                configuration time */
    ngx_int_t                   port;
    ngx_str_t                   unix_path;
    ngx_str_t                   password;
    ngx_int_t                   db;
    ngx_msec_t                  connect_timeout;
    ngx_msec_t                  timeout;
    ngx_uint_t                  configured;  /* unsigned */
} ngx_http_caresync_redis_conf_t;


typedef struct {
    ngx_http_caresync_redis_conf_t  redis;
    ngx_uint_t                      used;    /* some location enqueues */
} ngx_http_caresync_main_conf_t;


typedef struct {
    ngx_uint_t                  webhook;     /* cs_webhook_t, 0 = off */
    ngx_str_t                   prefix;
    ngx_str_t                   partner_source;
    ngx_msec_t                  dedupe_ttl;
    ngx_flag_t                  keep_raw;
    ngx_int_t                   max_depth;
    time_t                      retry_after;
} ngx_http_caresync_loc_conf_t;


typedef struct ngx_http_caresync_pending_s  ngx_http_caresync_pending_t;


/* Per-request state, in the request pool. */
typedef struct {
    ngx_http_caresync_pending_t  *pending;   /* in flight to Redis */

    /* the EVALSHA arguments, kept for the NOSCRIPT retry */
    ngx_str_t                     dedupe_key;
    ngx_str_t                     stream_key;
    ngx_str_t                     ttl;
    ngx_str_t                     job_id;
    ngx_str_t                     job;
    ngx_str_t                     answer;    /* the 200 body */

    unsigned                      own_response:1;  /* we wrote it */
    unsigned                      replace_body:1;  /* error filter */
    unsigned                      body_sent:1;
    ngx_str_t                     error_body;
} ngx_http_caresync_ctx_t;


/* redis.c: one connection per worker process */
ngx_int_t ngx_http_caresync_redis_init(ngx_cycle_t *cycle,
    ngx_http_caresync_redis_conf_t *rcf);
void ngx_http_caresync_redis_exit(void);
redisAsyncContext *ngx_http_caresync_redis_get(void);

/* enqueue.c */
ngx_int_t ngx_http_caresync_enqueue(ngx_http_request_t *r,
    ngx_http_caresync_ctx_t *ctx);
ngx_int_t ngx_http_caresync_enqueue_init(ngx_cycle_t *cycle);

/* reply.c */
ngx_int_t ngx_http_caresync_reply(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *body);
ngx_int_t ngx_http_caresync_reply_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *message);
ngx_int_t ngx_http_caresync_reply_unavailable(ngx_http_request_t *r);

/* handler.c */
ngx_int_t ngx_http_caresync_handler(ngx_http_request_t *r);

/* error_filter.c */
ngx_int_t ngx_http_caresync_error_filter_init(ngx_conf_t *cf);


extern ngx_module_t  ngx_http_caresync_module;


#endif /* _NGX_HTTP_CARESYNC_H_INCLUDED_ */
