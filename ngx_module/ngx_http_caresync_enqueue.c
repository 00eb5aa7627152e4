/*
 * One request's trip to Redis.
 *
 * The dedupe mark and the XADD are one Lua script, sent as EVALSHA; a
 * NOSCRIPT answer (a flushed or failed-over Redis) is retried once as
 * EVAL, which loads the script again.  The script's reply is the only
 * thing that turns into a 200: a timeout, an error or a lost connection
 * is a 503, so a 200 always means the job is in the stream.
 *
 * A pending command may outlive its request (client gone, timeout), so
 * its bookkeeping lives outside the request pool, in a per-worker free
 * list; the request's cleanup handler detaches it, and the reply
 * callback, which always comes (hiredis calls it with NULL on
 * disconnect), returns it to the list.
 */


#include "ngx_http_caresync.h"

#include <openssl/sha.h>


struct ngx_http_caresync_pending_s {
    ngx_http_request_t           *r;        /* NULL once detached */
    ngx_http_caresync_ctx_t      *ctx;
    ngx_event_t                   timer;
    ngx_msec_t                    started;
    ngx_uint_t                    retried;  /* EVAL after NOSCRIPT */
    ngx_http_caresync_pending_t  *next;     /* free list */
};


static ngx_http_caresync_pending_t *ngx_http_caresync_pending_get(void);
static void ngx_http_caresync_pending_put(ngx_http_caresync_pending_t *p);
static ngx_int_t ngx_http_caresync_send(redisAsyncContext *ac,
    ngx_http_caresync_pending_t *p, ngx_uint_t eval);
static void ngx_http_caresync_reply_handler(redisAsyncContext *ac,
    void *reply, void *data);
static void ngx_http_caresync_timeout_handler(ngx_event_t *ev);
static void ngx_http_caresync_request_cleanup(void *data);
static void ngx_http_caresync_finish(ngx_http_caresync_pending_t *p,
    ngx_int_t queued);


/*
 * KEYS[1] the dedupe mark, KEYS[2] the jobs stream;
 * ARGV[1] the dedupe window in ms, ARGV[2] the job id, ARGV[3] the job.
 * Returns 1 when queued, 0 when the event was already queued.
 */

static ngx_str_t  ngx_http_caresync_script = ngx_string(
    "if redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', ARGV[1]) then "
    "redis.call('XADD', KEYS[2], '*', 'job', ARGV[3]) "
    "return 1 "
    "end "
    "return 0");

static u_char  ngx_http_caresync_script_sha[SHA_DIGEST_LENGTH * 2];

static ngx_http_caresync_pending_t  *ngx_http_caresync_free;


ngx_int_t
ngx_http_caresync_enqueue_init(ngx_cycle_t *cycle)
{
    u_char  digest[SHA_DIGEST_LENGTH];

    SHA1(ngx_http_caresync_script.data, ngx_http_caresync_script.len,
         digest);
    ngx_hex_dump(ngx_http_caresync_script_sha, digest, SHA_DIGEST_LENGTH);

    return NGX_OK;
}


ngx_int_t
ngx_http_caresync_enqueue(ngx_http_request_t *r, ngx_http_caresync_ctx_t *ctx)
{
    redisAsyncContext             *ac;
    ngx_http_cleanup_t            *cln;
    ngx_http_caresync_pending_t   *p;
    ngx_http_caresync_main_conf_t *cmcf;

    ac = ngx_http_caresync_redis_get();
    if (ac == NULL) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "caresync: redis not connected, job not queued");
        return ngx_http_caresync_reply_unavailable(r);
    }

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_http_caresync_pending_get();
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p->r = r;
    p->ctx = ctx;
    p->started = ngx_current_msec;

    if (ngx_http_caresync_send(ac, p, 0) != NGX_OK) {
        ngx_http_caresync_pending_put(p);
        return ngx_http_caresync_reply_unavailable(r);
    }

    ctx->pending = p;
    cln->handler = ngx_http_caresync_request_cleanup;
    cln->data = ctx;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_caresync_module);
    ngx_add_timer(&p->timer, cmcf->redis.timeout);

    /* notice a client that goes away while we wait */
    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_request_empty_handler;

    return NGX_DONE;
}


static ngx_int_t
ngx_http_caresync_send(redisAsyncContext *ac, ngx_http_caresync_pending_t *p,
    ngx_uint_t eval)
{
    ngx_http_caresync_ctx_t  *ctx = p->ctx;

    const char  *argv[8];
    size_t       lens[8];

    argv[0] = eval ? "EVAL" : "EVALSHA";
    lens[0] = eval ? 4 : 7;

    if (eval) {
        argv[1] = (const char *) ngx_http_caresync_script.data;
        lens[1] = ngx_http_caresync_script.len;

    } else {
        argv[1] = (const char *) ngx_http_caresync_script_sha;
        lens[1] = sizeof(ngx_http_caresync_script_sha);
    }

    argv[2] = "2";
    lens[2] = 1;
    argv[3] = (const char *) ctx->dedupe_key.data;
    lens[3] = ctx->dedupe_key.len;
    argv[4] = (const char *) ctx->stream_key.data;
    lens[4] = ctx->stream_key.len;
    argv[5] = (const char *) ctx->ttl.data;
    lens[5] = ctx->ttl.len;
    argv[6] = (const char *) ctx->job_id.data;
    lens[6] = ctx->job_id.len;
    argv[7] = (const char *) ctx->job.data;
    lens[7] = ctx->job.len;

    /* hiredis copies the arguments into its output buffer right away */

    if (redisAsyncCommandArgv(ac, ngx_http_caresync_reply_handler, p, 8,
                              argv, lens)
        != REDIS_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_caresync_reply_handler(redisAsyncContext *ac, void *reply,
    void *data)
{
    ngx_http_caresync_pending_t  *p = data;

    redisReply          *rr = reply;
    ngx_http_request_t  *r = p->r;

    if (r == NULL) {
        /* the request is gone; the job may still have been queued */
        ngx_http_caresync_pending_put(p);
        return;
    }

    if (rr == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "caresync: redis connection lost, job not queued");
        ngx_http_caresync_finish(p, NGX_ERROR);
        return;
    }

    if (rr->type == REDIS_REPLY_ERROR) {

        if (!p->retried
            && rr->len >= 8
            && ngx_strncmp(rr->str, "NOSCRIPT", 8) == 0)
        {
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "caresync: script not cached, sending EVAL");

            p->retried = 1;

            if (ngx_http_caresync_send(ac, p, 1) == NGX_OK) {
                return;
            }
        }

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "caresync: redis error, job not queued: %*s",
                      (size_t) rr->len, rr->str);
        ngx_http_caresync_finish(p, NGX_ERROR);
        return;
    }

    if (rr->type != REDIS_REPLY_INTEGER) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "caresync: unexpected redis reply type %d",
                      rr->type);
        ngx_http_caresync_finish(p, NGX_ERROR);
        return;
    }

    if (rr->integer == 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "caresync: duplicate delivery, job %V not queued",
                      &p->ctx->job_id);

    } else {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "caresync: job %V queued", &p->ctx->job_id);
    }

    ngx_http_caresync_finish(p, NGX_OK);
}


static void
ngx_http_caresync_timeout_handler(ngx_event_t *ev)
{
    ngx_http_caresync_pending_t  *p = ev->data;

    ngx_log_error(NGX_LOG_ERR, p->r->connection->log, NGX_ETIMEDOUT,
                  "caresync: redis timed out, job %V may not be queued",
                  &p->ctx->job_id);

    /* the reply may still come: leave p to the reply callback */
    ngx_http_caresync_finish(p, NGX_ERROR);
}


/* Answer the request and detach it from the pending command. */

static void
ngx_http_caresync_finish(ngx_http_caresync_pending_t *p, ngx_int_t queued)
{
    ngx_int_t                 rc;
    ngx_http_request_t       *r = p->r;
    ngx_http_caresync_ctx_t  *ctx = p->ctx;

    if (p->timer.timer_set) {
        ngx_del_timer(&p->timer);
    }

    p->r = NULL;
    p->ctx = NULL;
    ctx->pending = NULL;

    if (!p->timer.timedout) {
        ngx_http_caresync_pending_put(p);
    }

    if (queued == NGX_OK) {
        rc = ngx_http_caresync_reply(r, NGX_HTTP_OK, &ctx->answer);

    } else {
        rc = ngx_http_caresync_reply_unavailable(r);
    }

    ngx_http_finalize_request(r, rc);
}


static void
ngx_http_caresync_request_cleanup(void *data)
{
    ngx_http_caresync_ctx_t  *ctx = data;

    ngx_http_caresync_pending_t  *p = ctx->pending;

    if (p == NULL) {
        return;
    }

    /* the client went away: the reply callback will find nobody */

    if (p->timer.timer_set) {
        ngx_del_timer(&p->timer);
    }

    p->r = NULL;
    p->ctx = NULL;
    ctx->pending = NULL;
}


static ngx_http_caresync_pending_t *
ngx_http_caresync_pending_get(void)
{
    ngx_http_caresync_pending_t  *p = ngx_http_caresync_free;

    if (p) {
        ngx_http_caresync_free = p->next;

    } else {
        p = ngx_alloc(sizeof(ngx_http_caresync_pending_t), ngx_cycle->log);
        if (p == NULL) {
            return NULL;
        }
    }

    ngx_memzero(p, sizeof(ngx_http_caresync_pending_t));

    p->timer.handler = ngx_http_caresync_timeout_handler;
    p->timer.data = p;
    p->timer.log = ngx_cycle->log;

    return p;
}


static void
ngx_http_caresync_pending_put(ngx_http_caresync_pending_t *p)
{
    p->next = ngx_http_caresync_free;
    ngx_http_caresync_free = p;
}
