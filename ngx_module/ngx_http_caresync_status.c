/*
 * GET of a job's status record ({prefix}:job:<id>, spec/job.md), through
 * the same non-blocking Redis connection as the jobs themselves.
 */


#include "ngx_http_caresync.h"

#include "cs_record.h"


static ngx_int_t ngx_http_caresync_status_reply(ngx_http_request_t *r,
    redisReply *reply);


/*
 * Job ids are ULIDs, or a batch item's "<batch id>-<6 digits>"
 * (cw_batch.h): anything else cannot exist, and is not put in a key.
 */

ngx_uint_t
ngx_http_caresync_job_id(ngx_str_t *job_id)
{
    ngx_uint_t  i;

    if (job_id->len == 0 || job_id->len > 64) {
        return 0;
    }

    for (i = 0; i < job_id->len; i++) {
        if (!((job_id->data[i] >= '0' && job_id->data[i] <= '9')
              || (job_id->data[i] >= 'A' && job_id->data[i] <= 'Z')))
        {
            return ngx_http_caresync_batch_item_id(job_id);
        }
    }

    return 1;
}


ngx_int_t
ngx_http_caresync_status(ngx_http_request_t *r, ngx_str_t *job_id)
{
    ngx_http_caresync_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_caresync_module);

    if (!ngx_http_caresync_job_id(job_id)) {
        ngx_http_caresync_metrics_reject(r, CS_REASON_NOT_FOUND);
        return ngx_http_caresync_reply_error(r, NGX_HTTP_NOT_FOUND,
                                             "unknown job");
    }

    ctx->job_id = *job_id;

    if (ngx_http_caresync_status_read(r, "HGETALL", job_id,
                                      ngx_http_caresync_status_reply)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* a GET: no body was read (api.c) */
    return ngx_http_caresync_command_held(r, ctx);
}


/*
 * The request's command becomes `<cmd> {prefix}:job:<id>` (HGETALL, or
 * HMGET with the fields the caller adds), answered by `handler`; a read,
 * so it may be sent again after a reconnect.  `job_id` was checked by the
 * caller.  NGX_OK or NGX_ERROR.
 */

ngx_int_t
ngx_http_caresync_status_read(ngx_http_request_t *r, const char *cmd,
    ngx_str_t *job_id, ngx_http_caresync_reply_pt handler)
{
    u_char                        *p;
    ngx_http_caresync_ctx_t       *ctx;
    ngx_http_caresync_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_caresync_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_caresync_module);

    p = ngx_pnalloc(r->pool, clcf->prefix.len + sizeof(":job:") - 1
                             + job_id->len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ctx->cmd.handler = handler;
    ctx->cmd.idempotent = 1;
    ngx_http_caresync_cmd_arg(&ctx->cmd, (void *) cmd, ngx_strlen(cmd));
    ngx_http_caresync_cmd_arg(&ctx->cmd, p,
                              ngx_sprintf(p, "%V:job:%V", &clcf->prefix,
                                          job_id)
                              - p);
    return NGX_OK;
}


static ngx_int_t
ngx_http_caresync_status_reply(ngx_http_request_t *r, redisReply *reply)
{
    size_t       i, n;
    cs_buf_t     buf;
    cs_str_t    *fields, *values;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements % 2) {
        return ngx_http_caresync_reply_unavailable(r);
    }

    if (reply->elements == 0) {
        ngx_http_caresync_metrics_reject(r, CS_REASON_NOT_FOUND);
        return ngx_http_caresync_reply_error(r, NGX_HTTP_NOT_FOUND,
                                             "unknown job");
    }

    n = reply->elements / 2;

    fields = ngx_palloc(r->pool, 2 * n * sizeof(cs_str_t));
    if (fields == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    values = fields + n;

    for (i = 0; i < n; i++) {
        fields[i].data = reply->element[2 * i]->str;
        fields[i].len = reply->element[2 * i]->len;
        values[i].data = reply->element[2 * i + 1]->str;
        values[i].len = reply->element[2 * i + 1]->len;
    }

    cs_buf_init(&buf);

    if (cs_record_json(fields, values, n, &buf) != 0) {
        cs_buf_free(&buf);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_caresync_reply_buf(r, NGX_HTTP_OK, &buf);
}
