/*
 * Every answer of a caresync location passes here: it is counted for the
 * metrics, and if nginx itself wrote it — a body over
 * client_max_body_size is refused while the location is being chosen,
 * and a 500 comes from nginx too — it is rewritten as JSON, so a sender
 * sees one format from us.
 */


#include "ngx_http_caresync.h"


static ngx_int_t ngx_http_caresync_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_caresync_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


ngx_int_t
ngx_http_caresync_error_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_caresync_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_caresync_body_filter;

    return NGX_OK;
}


static ngx_int_t
ngx_http_caresync_header_filter(ngx_http_request_t *r)
{
    u_char                        *p;
    const char                    *msg;
    ngx_http_caresync_ctx_t       *ctx;
    ngx_http_caresync_loc_conf_t  *clcf;

    if (r != r->main) {
        return ngx_http_next_header_filter(r);
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_caresync_module);
    if (clcf == NULL || clcf->endpoint == 0) {
        return ngx_http_next_header_filter(r);
    }

    ngx_http_caresync_metrics_request(r, r->headers_out.status);

    if (r->headers_out.status < NGX_HTTP_BAD_REQUEST) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_caresync_module);
    if (ctx && ctx->own_response) {
        return ngx_http_next_header_filter(r);
    }

    if (ctx == NULL) {
        /* nginx refused the request before our handler ran */
        ctx = ngx_http_caresync_ctx_create(r);
        if (ctx == NULL) {
            return NGX_ERROR;
        }
    }

    switch (r->headers_out.status) {
    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        msg = "request body too large";
        ngx_http_caresync_metrics_reject(r, CS_REASON_BODY_TOO_LARGE);
        break;
    case NGX_HTTP_REQUEST_TIME_OUT:
        msg = "request timed out";
        break;
    case NGX_HTTP_BAD_REQUEST:
        msg = "bad request";
        break;
    case NGX_HTTP_NOT_ALLOWED:
        msg = "method not allowed";
        break;
    default:
        msg = (r->headers_out.status >= NGX_HTTP_INTERNAL_SERVER_ERROR)
              ? "internal error" : "request refused";
    }

    ctx->error_body.len = sizeof("{\"errorMessage\":\"\"}") - 1
                          + ngx_strlen(msg);
    p = ngx_pnalloc(r->pool, ctx->error_body.len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(p, "{\"errorMessage\":\"%s\"}", msg);
    ctx->error_body.data = p;
    ctx->replace_body = 1;

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.charset.len = 0;
    r->headers_out.content_length_n = ctx->error_body.len;

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    ngx_http_clear_last_modified(r);
    ngx_http_clear_etag(r);

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_caresync_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_buf_t                *b;
    ngx_chain_t              *cl, out;
    ngx_http_caresync_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_caresync_module);

    if (ctx == NULL || !ctx->replace_body) {
        return ngx_http_next_body_filter(r, in);
    }

    /* nginx's HTML page is dropped: mark it sent */

    for (cl = in; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;
        cl->buf->file_pos = cl->buf->file_last;
    }

    if (ctx->body_sent) {
        return ngx_http_next_body_filter(r, NULL);
    }

    ctx->body_sent = 1;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = ctx->error_body.data;
    b->last = ctx->error_body.data + ctx->error_body.len;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}
