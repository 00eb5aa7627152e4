/*
 * The "Sync to Hint" search box of the actions API:
 *
 *     GET <location>…/hint/patients?q=<name>
 *
 * asks Hint's patient list through an internal location of the
 * operator's (caresync_hint_search: typically a proxy_pass to Hint with
 * the practice key set by nginx), in one in-memory subrequest, and
 * answers only id, names and birth date (cs_hint_search_trim()).  The
 * key never leaves nginx, and the bearer token of the API guards it.
 *
 * The name travels in query strings (ours, and Hint's list API takes it
 * so too): what this file logs goes to the cycle's log, without the
 * request line that nginx adds to a request's error lines.
 */


#include "ngx_http_caresync.h"

#include "cs_hint_search.h"


#define NGX_HTTP_CARESYNC_Q_MAX  100


static ngx_int_t ngx_http_caresync_search_done(ngx_http_request_t *r,
    void *data, ngx_int_t rc);
static void ngx_http_caresync_search_reply(ngx_http_request_t *r);
static ngx_int_t ngx_http_caresync_search_q(ngx_str_t *q);


ngx_int_t
ngx_http_caresync_search(ngx_http_request_t *r)
{
    u_char                        *p;
    size_t                         len;
    ngx_int_t                      rc;
    ngx_str_t                      raw, q, args;
    ngx_http_request_t            *sr;
    ngx_http_post_subrequest_t    *ps;
    ngx_http_caresync_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_caresync_module);

    if (clcf->hint_search.len == 0) {
        ngx_http_caresync_metrics_reject(r, "not_found");
        return ngx_http_caresync_reply_error(r, NGX_HTTP_NOT_FOUND,
                                             "not found");
    }

    if (ngx_http_arg(r, (u_char *) "q", 1, &raw) != NGX_OK) {
        ngx_str_null(&raw);
    }

    q.data = ngx_pnalloc(r->pool, raw.len + 1);
    if (q.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = q.data;
    ngx_unescape_uri(&p, &raw.data, raw.len, NGX_UNESCAPE_URI);
    q.len = p - q.data;

    /* the value goes to Hint: a name, nothing that could steer the query */

    if (ngx_http_caresync_search_q(&q) != NGX_OK) {
        ngx_http_caresync_metrics_reject(r, "bad_value");
        return ngx_http_caresync_reply_error(r, NGX_HTTP_BAD_REQUEST,
                         "q must be a name of 1 to 100 letters, spaces, "
                         "apostrophes, dots or hyphens");
    }

    len = clcf->hint_search_param.len + sizeof("=&limit=") - 1
          + 3 * q.len + NGX_INT_T_LEN;

    args.data = ngx_pnalloc(r->pool, len);
    if (args.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(args.data, clcf->hint_search_param.data,
                   clcf->hint_search_param.len);
    *p++ = '=';
    p = (u_char *) ngx_escape_uri(p, q.data, q.len, NGX_ESCAPE_ARGS);
    p = ngx_sprintf(p, "&limit=%ui", clcf->hint_search_limit);
    args.len = p - args.data;

    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    if (ps == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ps->handler = ngx_http_caresync_search_done;
    ps->data = NULL;

    rc = ngx_http_subrequest(r, &clcf->hint_search, &args, &sr, ps,
                             NGX_HTTP_SUBREQUEST_IN_MEMORY
                             |NGX_HTTP_SUBREQUEST_WAITED);
    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* held until the answer is sent, as an upstream would */
    r->main->count++;

    return NGX_DONE;
}


static ngx_int_t
ngx_http_caresync_search_q(ngx_str_t *q)
{
    u_char      c;
    ngx_uint_t  i;

    if (q->len == 0 || q->len > NGX_HTTP_CARESYNC_Q_MAX) {
        return NGX_DECLINED;
    }

    for (i = 0; i < q->len; i++) {
        c = q->data[i];

        /* UTF-8 letters pass as their bytes; controls and syntax do not */

        if (!(c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || c == ' ' || c == '\'' || c == '.' || c == '-'))
        {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/* The subrequest is over: remember its answer, then wake the parent. */

static ngx_int_t
ngx_http_caresync_search_done(ngx_http_request_t *r, void *data,
    ngx_int_t rc)
{
    ngx_http_request_t       *pr = r->parent;
    ngx_http_caresync_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(pr, ngx_http_caresync_module);

    ctx->search_status = (rc == NGX_OK || rc == NGX_DONE)
                         ? r->headers_out.status : NGX_HTTP_BAD_GATEWAY;

    if (r->out && r->out->buf) {
        ctx->search_body.data = r->out->buf->pos;
        ctx->search_body.len = r->out->buf->last - r->out->buf->pos;
    }

    pr->write_event_handler = ngx_http_caresync_search_reply;

    return rc;
}


static void
ngx_http_caresync_search_reply(ngx_http_request_t *r)
{
    int                       n;
    ngx_int_t                 rc;
    ngx_str_t                 body;
    cs_buf_t                  buf;
    ngx_http_caresync_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_caresync_module);

    if (ctx->search_status != NGX_HTTP_OK) {
        /* Hint's answer may name the patient: only its status is logged */
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "caresync: hint search answered %ui",
                      ctx->search_status);
        rc = ngx_http_caresync_reply_error(r, NGX_HTTP_BAD_GATEWAY,
                                           "Hint search failed");
        ngx_http_finalize_request(r, rc);
        return;
    }

    cs_buf_init(&buf);

    n = cs_hint_search_trim(ctx->search_body.data, ctx->search_body.len,
                            &buf);

    if (n != 0) {
        cs_buf_free(&buf);

        if (n < 0) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "caresync: hint search answer is not a patient list");
        rc = ngx_http_caresync_reply_error(r, NGX_HTTP_BAD_GATEWAY,
                                           "Hint search failed");
        ngx_http_finalize_request(r, rc);
        return;
    }

    body.data = ngx_pnalloc(r->pool, buf.len);
    if (body.data == NULL) {
        cs_buf_free(&buf);
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    body.len = buf.len;
    ngx_memcpy(body.data, buf.data, buf.len);
    cs_buf_free(&buf);

    rc = ngx_http_caresync_reply(r, NGX_HTTP_OK, &body);
    ngx_http_finalize_request(r, rc);
}
