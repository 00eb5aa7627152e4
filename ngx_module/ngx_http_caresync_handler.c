/*
 * The content handler of a `caresync_webhook` location: the HTTP checks
 * (method, authentication, content type), reading the body, and handing
 * it to the core; the reading and the core's verdict are shared with the
 * actions API.
 */


#include "ngx_http_caresync.h"


#include "cs_action.h"
#include "cs_id.h"
#include "cs_trace.h"


static void ngx_http_caresync_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_caresync_is_json(ngx_http_request_t *r);
static void ngx_http_caresync_ingest_cleanup(void *data);
static void ngx_http_caresync_loud_cleanup(void *data);


typedef struct {
    ngx_http_caresync_ctx_t   ctx;
    cs_ingest_t               in;
} ngx_http_caresync_state_t;


ngx_int_t
ngx_http_caresync_handler(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    if (ngx_http_caresync_ctx_create(r) == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (r->method != NGX_HTTP_POST) {
        return ngx_http_caresync_reply_not_allowed(r, "POST");
    }

    rc = ngx_http_caresync_auth_headers(r);

    if (rc == NGX_DECLINED) {
        return ngx_http_caresync_reply_refused(r);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_caresync_check_json(r);

    if (rc == NGX_DECLINED) {
        return ngx_http_caresync_reply_not_json(r);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_caresync_read_body(r, ngx_http_caresync_body_handler);
}


/* First thing: the error filter must know every answer from here is ours. */

ngx_http_caresync_ctx_t *
ngx_http_caresync_ctx_create(ngx_http_request_t *r)
{
    ngx_http_caresync_state_t  *st;

    st = ngx_pcalloc(r->pool, sizeof(ngx_http_caresync_state_t));
    if (st == NULL) {
        return NULL;
    }

    ngx_http_set_ctx(r, &st->ctx, ngx_http_caresync_module);

    /* whatever reads or discards a chunked body, nginx prints its bytes */

    if (r->headers_in.chunked
        && ngx_http_caresync_quiet(r, &st->ctx) != NGX_OK)
    {
        return NULL;
    }

    return &st->ctx;
}


/*
 * Until ngx_http_caresync_loud() or the request's end, the connection logs
 * nothing below info: at debug level nginx prints the first byte of every
 * chunk of a chunked body as it parses it (for the body read and for the
 * body discarded alike), and the search's subrequest prints its URL,
 * which carries the name searched for.
 */

ngx_int_t
ngx_http_caresync_quiet(ngx_http_request_t *r, ngx_http_caresync_ctx_t *ctx)
{
    ngx_log_t           *log;
    ngx_pool_cleanup_t  *cln;

    if (ctx->quiet) {
        return NGX_OK;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_caresync_loud_cleanup;
    cln->data = ctx;

    log = r->connection->log;

    ctx->quiet_log = log;
    ctx->quiet_level = log->log_level;
    ctx->quiet = 1;

    /*
     * Any debug bit makes log_level more than NGX_LOG_DEBUG, and so does
     * debug_connection's flag: info keeps every line that is not debug.
     */

    if (log->log_level > NGX_LOG_INFO) {
        log->log_level = NGX_LOG_INFO;
    }

    return NGX_OK;
}


void
ngx_http_caresync_loud(ngx_http_caresync_ctx_t *ctx)
{
    if (ctx->quiet) {
        ctx->quiet_log->log_level = ctx->quiet_level;
        ctx->quiet = 0;
    }
}


static void
ngx_http_caresync_loud_cleanup(void *data)
{
    ngx_http_caresync_loud(data);
}


/*
 * NGX_OK when the body is declared JSON; otherwise the body is discarded
 * and NGX_DECLINED returned: the caller answers 415.
 */

ngx_int_t
ngx_http_caresync_check_json(ngx_http_request_t *r)
{
    if (ngx_http_caresync_is_json(r)) {
        return NGX_OK;
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_caresync_metrics_reject(r, CS_REASON_CONTENT_TYPE);

    return NGX_DECLINED;
}


ngx_int_t
ngx_http_caresync_reply_not_json(ngx_http_request_t *r)
{
    return ngx_http_caresync_reply_error(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                      "Content-Type must be application/json");
}


ngx_int_t
ngx_http_caresync_read_body(ngx_http_request_t *r,
    ngx_http_client_body_handler_pt handler)
{
    ngx_int_t                   rc;
    ngx_pool_cleanup_t         *cln;
    ngx_http_caresync_state_t  *st;

    st = ngx_http_get_module_ctx(r, ngx_http_caresync_module);

    /* the core's buffers are malloc()ed: free them with the request */

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cs_ingest_init(&st->in);
    cln->handler = ngx_http_caresync_ingest_cleanup;
    cln->data = &st->in;

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_caresync_body_handler(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_http_caresync_ctx_t       *ctx;
    ngx_http_caresync_loc_conf_t  *clcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_caresync_module);
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_caresync_module);

    ngx_http_caresync_loud(ctx);

    rc = ngx_http_caresync_ingest(r, ctx, (cs_webhook_t) clcf->webhook,
                                  NULL);

    if (rc == NGX_DONE) {
        return;                 /* answered when Redis replies */
    }

    ngx_http_finalize_request(r, rc);
}


/*
 * The job's trace (cs_trace.h): the sender's when it sent exactly one
 * valid `traceparent`, else a new one; either way the job records this
 * hop's own span, so a vendor call's parent is the edge, not the sender.
 */
static ngx_int_t
ngx_http_caresync_trace(ngx_http_request_t *r, cs_ingest_t *in)
{
    ngx_uint_t        i, n = 0;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *tp = NULL;
    cs_trace_t        t;

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (h[i].key.len == sizeof("traceparent") - 1
                && ngx_strncasecmp(h[i].key.data, (u_char *) "traceparent",
                                   sizeof("traceparent") - 1) == 0)
            {
                tp = &h[i];
                n++;
            }
        }
    }

    if (n == 1 && cs_trace_parse(tp->value.data, tp->value.len, &t) == 0) {
        if (cs_trace_child(&t) != 0) {
            return NGX_ERROR;
        }

    } else {
        if (n) {
            /* the value is the sender's: never logged */
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "caresync: invalid traceparent, a new trace "
                          "started");
        }

        if (cs_trace_start(&t) != 0) {
            return NGX_ERROR;
        }
    }

    cs_trace_format(&t, in->traceparent);
    return NGX_OK;
}


/*
 * The body read, checked against the location's signatures, validated
 * and normalized by the core; then answered, or queued.
 */

ngx_int_t
ngx_http_caresync_ingest(ngx_http_request_t *r, ngx_http_caresync_ctx_t *ctx,
    cs_webhook_t kind, ngx_str_t *status_base)
{
    ngx_int_t                      rc;
    ngx_str_t                      body, answer, idem;
    ngx_time_t                    *tp;
    cs_ingest_t                   *in;
    cs_ingest_conf_t               conf;
    ngx_http_caresync_loc_conf_t  *clcf;
    u_char                         actor[NGX_HTTP_CARESYNC_ACTOR_LEN];

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_caresync_module);

    if (ngx_http_caresync_body(r, &body) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_null(&idem);

    rc = ngx_http_caresync_auth_body(r, &body, &idem);

    if (rc == NGX_DECLINED) {
        return ngx_http_caresync_reply_refused(r);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    in = &((ngx_http_caresync_state_t *) ctx)->in;

    ngx_memzero(&conf, sizeof(cs_ingest_conf_t));
    conf.partner_source = (const char *) clcf->partner_source.data;
    conf.partner_source_len = clcf->partner_source.len;
    conf.max_depth = (unsigned) clcf->max_depth;
    conf.max_values = (size_t) clcf->max_values;
    conf.keep_raw = clcf->keep_raw;
    conf.max_raw = clcf->max_raw;
    conf.seal = ((ngx_http_caresync_main_conf_t *)
                 ngx_http_get_module_main_conf(r, ngx_http_caresync_module))
                ->ring;

    /* an operator's action says which token asked (the audit trail) */
    if (cs_action_ops(kind)) {
        conf.actor = (const char *) actor;
        conf.actor_len = ngx_http_caresync_auth_actor(r, actor);
    }

    if (status_base) {
        conf.status_base = (const char *) status_base->data;
        conf.status_base_len = status_base->len;
    }


    tp = ngx_timeofday();
    in->now_ms = (uint64_t) tp->sec * 1000 + tp->msec;

    /* fresh random bits per id (cs_id.h): a job id cannot be guessed */
    if (cs_id_ulid_new(in->now_ms, in->job_id) != 0) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "caresync: no randomness for a job id");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_caresync_trace(r, in) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "caresync: no randomness for a trace id");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (cs_ingest(kind, &conf, body.data, body.len, in) != CS_OK) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "caresync: out of memory while validating");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    answer.data = (u_char *) in->body.data;
    answer.len = in->body.len;

    if (in->status == NGX_HTTP_BAD_REQUEST) {
        /* the reason is a fixed label: the body's values never reach logs */
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "caresync: request rejected: %s", in->reason);
        ngx_http_caresync_metrics_reject(r, cs_reason_find(in->reason));

        return ngx_http_caresync_reply(r, NGX_HTTP_BAD_REQUEST, &answer);
    }

    if (in->notes.len) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "caresync: job %s: optional values dropped: %*s",
                      in->job_id, in->notes.len, in->notes.data);
    }

    if (in->raw_omitted) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "caresync: job %s: raw copy of %uz bytes left out, "
                      "over caresync_max_raw", in->job_id, in->raw_omitted);
    }

    if (!in->enqueue) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "caresync: event of a type not synced, not queued");
        ngx_http_caresync_metrics_not_synced(r);

        return ngx_http_caresync_reply(r, NGX_HTTP_OK, &answer);
    }

    /* a token bound to agents acts for them only */

    if (ngx_http_caresync_auth_agent(r, in) == NGX_DECLINED) {
        return ngx_http_caresync_reply_error(r, NGX_HTTP_FORBIDDEN,
                                             ctx->refusal);
    }

    ctx->message_id = idem;
    ctx->body = body;

    return ngx_http_caresync_enqueue(r, ctx, in);
}


/* The body as one contiguous run of bytes (a temp file is read back). */

ngx_int_t
ngx_http_caresync_body(ngx_http_request_t *r, ngx_str_t *body)
{
    u_char       *p;
    size_t        len;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    ngx_str_set(body, "");

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_OK;
    }

    /* a chunked body ends with an empty buffer that has no memory at all */

    len = 0;
    b = NULL;
    n = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        if (ngx_buf_size(cl->buf) == 0) {
            continue;
        }

        b = cl->buf;
        len += ngx_buf_size(b);
        n++;
    }

    if (n == 0) {
        return NGX_OK;
    }

    if (n == 1 && !b->in_file) {
        body->data = b->pos;
        body->len = b->last - b->pos;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    body->data = p;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_size(b) == 0) {
            continue;
        }

        if (b->in_file) {
            n = ngx_read_file(b->file, p, b->file_last - b->file_pos,
                              b->file_pos);
            if (n != b->file_last - b->file_pos) {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "caresync: short read of the body file");
                return NGX_ERROR;
            }

            p += n;

        } else {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
        }
    }

    body->len = p - body->data;

    return NGX_OK;
}


/* application/json, any parameters, and any "+json" type. */

static ngx_int_t
ngx_http_caresync_is_json(ngx_http_request_t *r)
{
    u_char     *p, *last, *semi;
    ngx_str_t   type;

    if (r->headers_in.content_type == NULL) {
        return 0;
    }

    type = r->headers_in.content_type->value;
    p = type.data;
    last = type.data + type.len;

    semi = ngx_strlchr(p, last, ';');
    if (semi) {
        last = semi;
    }

    while (last > p && (last[-1] == ' ' || last[-1] == '\t')) {
        last--;
    }

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    type.data = p;
    type.len = last - p;

    if (type.len == sizeof("application/json") - 1
        && ngx_strncasecmp(type.data, (u_char *) "application/json",
                           type.len) == 0)
    {
        return 1;
    }

    return type.len > 5
           && ngx_strlchr(type.data, last, '/') != NULL
           && ngx_strncasecmp(last - 5, (u_char *) "+json", 5) == 0;
}


static void
ngx_http_caresync_ingest_cleanup(void *data)
{
    cs_ingest_free(data);
}
