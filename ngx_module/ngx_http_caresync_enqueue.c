/*
 * The job's way into Redis: one script, one round trip.
 *
 * A webhook's job is deduplicated and queued atomically: the dedupe mark
 * is set only together with the XADD, so a repeated delivery can never
 * find a mark without its job.  An action's job is queued together with
 * its first status record, so that its status URL answers from the start.
 * The stream is never trimmed here: only the worker knows what it has
 * acknowledged.
 */


#include "ngx_http_caresync.h"

#include "cs_id.h"
#include "cs_record.h"


static ngx_int_t ngx_http_caresync_enqueue_reply(ngx_http_request_t *r,
    redisReply *reply);


/*
 * KEYS[1] the dedupe mark, KEYS[2] the jobs stream, KEYS[3] (optional) the
 * mark of a signed sender message id;
 * ARGV[1] the dedupe window in ms, ARGV[2] the job id, ARGV[3] the job.
 * 1: queued; 0: this event, or this message, was queued before.
 */

static ngx_http_caresync_script_t  ngx_http_caresync_webhook_script = {
    ngx_string(
        "if KEYS[3] and redis.call('EXISTS', KEYS[3]) == 1 then "
        "return 0 "
        "end "
        "if redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', ARGV[1]) then "
        "if KEYS[3] then "
        "redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[1]) "
        "end "
        "redis.call('XADD', KEYS[2], '*', 'job', ARGV[3]) "
        "return 1 "
        "end "
        "return 0"),
    { 0 }
};


/*
 * KEYS[1] the status record, KEYS[2] the jobs stream;
 * ARGV[1] the job, ARGV[2…] field/value pairs of the queued record.
 */

static ngx_http_caresync_script_t  ngx_http_caresync_action_script = {
    ngx_string(
        "redis.call('HSET', KEYS[1], unpack(ARGV, 2)) "
        "redis.call('XADD', KEYS[2], '*', 'job', ARGV[1]) "
        "return 1"),
    { 0 }
};


ngx_int_t
ngx_http_caresync_enqueue_init(ngx_cycle_t *cycle)
{
    ngx_http_caresync_script_init(&ngx_http_caresync_webhook_script);
    ngx_http_caresync_script_init(&ngx_http_caresync_action_script);

    return NGX_OK;
}


ngx_int_t
ngx_http_caresync_enqueue(ngx_http_request_t *r, ngx_http_caresync_ctx_t *ctx,
    cs_ingest_t *in)
{
    u_char                        *p, *last;
    size_t                         len;
    cs_str_t                       id;
    char                           hex[CS_ID_SHA256_LEN + 1];
    cs_str_t                       parts[3];
    ngx_uint_t                     i, n;
    cs_record_t                   *rec;
    ngx_http_caresync_cmd_t       *cmd;
    ngx_http_caresync_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_caresync_module);
    cmd = &ctx->cmd;

    ctx->answer.data = (u_char *) in->body.data;
    ctx->answer.len = in->body.len;
    ctx->job_id.data = (u_char *) in->job_id;
    ctx->job_id.len = ngx_strlen(in->job_id);

    len = 3 * clcf->prefix.len + sizeof(":dedupe:") - 1
          + sizeof(in->idem_key) + sizeof(":jobs") - 1 + NGX_INT64_LEN
          + sizeof(":job:") - 1 + ctx->job_id.len
          + sizeof(":message:") - 1 + sizeof(in->idem_key);

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last = p + len;

    cmd->nkeys = 2;
    cmd->handler = ngx_http_caresync_enqueue_reply;

    if (clcf->api) {
        cmd->script = &ngx_http_caresync_action_script;

        n = ngx_snprintf(p, last - p, "%V:job:%V", &clcf->prefix,
                         &ctx->job_id) - p;
        ngx_http_caresync_cmd_arg(cmd, p, n);
        p += n;

        n = ngx_snprintf(p, last - p, "%V:jobs", &clcf->prefix) - p;
        ngx_http_caresync_cmd_arg(cmd, p, n);

        ngx_http_caresync_cmd_arg(cmd, in->job.data, in->job.len);

        /* in the pool: the arguments must stay for a NOSCRIPT retry */

        rec = ngx_palloc(r->pool, sizeof(cs_record_t));
        if (rec == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        id.data = in->job_id;
        id.len = ctx->job_id.len;
        cs_record_queued(rec, id, in->job_type, in->now_ms);

        for (i = 0; i < rec->n; i++) {
            ngx_http_caresync_cmd_arg(cmd, (void *) rec->fields[i].data,
                                      rec->fields[i].len);
            ngx_http_caresync_cmd_arg(cmd, (void *) rec->values[i].data,
                                      rec->values[i].len);
        }

        return ngx_http_caresync_command(r, ctx);
    }

    cmd->script = &ngx_http_caresync_webhook_script;

    /* its dedupe mark makes a second run answer for the first */
    cmd->idempotent = 1;

    n = ngx_snprintf(p, last - p, "%V:dedupe:%s", &clcf->prefix,
                     in->idem_key) - p;
    ngx_http_caresync_cmd_arg(cmd, p, n);
    p += n;

    n = ngx_snprintf(p, last - p, "%V:jobs", &clcf->prefix) - p;
    ngx_http_caresync_cmd_arg(cmd, p, n);
    p += n;

    if (ctx->message_id.len) {
        /* per job type: two endpoints may see the same sender's ids */
        parts[0].data = in->job_type;
        parts[0].len = ngx_strlen(in->job_type);
        parts[1].data = "\n";
        parts[1].len = 1;
        parts[2].data = (const char *) ctx->message_id.data;
        parts[2].len = ctx->message_id.len;

        if (cs_id_sha256_hex(parts, 3, hex) != 0) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        n = ngx_snprintf(p, last - p, "%V:message:%s", &clcf->prefix, hex)
            - p;
        ngx_http_caresync_cmd_arg(cmd, p, n);
        p += n;
        cmd->nkeys = 3;
    }

    n = ngx_snprintf(p, last - p, "%M", clcf->dedupe_ttl) - p;
    ngx_http_caresync_cmd_arg(cmd, p, n);

    ngx_http_caresync_cmd_arg(cmd, ctx->job_id.data, ctx->job_id.len);
    ngx_http_caresync_cmd_arg(cmd, in->job.data, in->job.len);

    return ngx_http_caresync_command(r, ctx);
}


static ngx_int_t
ngx_http_caresync_enqueue_reply(ngx_http_request_t *r, redisReply *reply)
{
    ngx_http_caresync_ctx_t       *ctx;
    ngx_http_caresync_loc_conf_t  *clcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_caresync_module);
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_caresync_module);

    if (reply->type != REDIS_REPLY_INTEGER) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "caresync: unexpected redis reply type %d",
                      reply->type);
        return ngx_http_caresync_reply_unavailable(r);
    }

    if (reply->integer == 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "caresync: duplicate delivery, job %V not queued",
                      &ctx->job_id);
        ngx_http_caresync_metrics_dedupe(r);

    } else {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "caresync: job %V queued", &ctx->job_id);
    }

    return ngx_http_caresync_reply(r, clcf->api ? NGX_HTTP_ACCEPTED
                                                : NGX_HTTP_OK,
                                   &ctx->answer);
}
