/*
 * Writing caresync's answers: compact JSON, always application/json.
 */


#include "ngx_http_caresync.h"


static ngx_str_t  ngx_http_caresync_json_type =
    ngx_string("application/json");

static ngx_str_t  ngx_http_caresync_unavailable =
    ngx_string("{\"errorMessage\":\"temporarily unavailable\"}");


ngx_int_t
ngx_http_caresync_reply(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *body)
{
    r->headers_out.status = status;
    r->headers_out.content_type = ngx_http_caresync_json_type;
    r->headers_out.content_type_len = ngx_http_caresync_json_type.len;

    return ngx_http_caresync_reply_raw(r, body);
}


/* Status and content type are already set. */

ngx_int_t
ngx_http_caresync_reply_raw(ngx_http_request_t *r, ngx_str_t *body)
{
    ngx_int_t                 rc;
    ngx_buf_t                *b;
    ngx_chain_t               out;
    ngx_http_caresync_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_caresync_module);
    if (ctx) {
        ctx->own_response = 1;
    }

    r->headers_out.content_length_n = body->len;

    if (r->method == NGX_HTTP_HEAD || body->len == 0) {
        r->header_only = 1;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = body->data;
    b->last = body->data + body->len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* A JSON answer built in a cs_buf_t, which is freed. */

ngx_int_t
ngx_http_caresync_reply_buf(ngx_http_request_t *r, ngx_uint_t status,
    cs_buf_t *b)
{
    ngx_str_t  body;

    body.len = b->len;
    body.data = b->oom ? NULL : ngx_pnalloc(r->pool, b->len);

    if (body.data == NULL) {
        cs_buf_free(b);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(body.data, b->data, b->len);
    cs_buf_free(b);

    return ngx_http_caresync_reply(r, status, &body);
}


/* An error answer: {"errorMessage":"…"}; the message is ours, no PHI. */

ngx_int_t
ngx_http_caresync_reply_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *message)
{
    ngx_str_t  body;

    body.len = sizeof("{\"errorMessage\":\"\"}") - 1 + ngx_strlen(message);
    body.data = ngx_pnalloc(r->pool, body.len);
    if (body.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(body.data, "{\"errorMessage\":\"%s\"}", message);

    return ngx_http_caresync_reply(r, status, &body);
}


ngx_int_t
ngx_http_caresync_reply_unavailable(ngx_http_request_t *r)
{
    ngx_table_elt_t               *h;
    ngx_http_caresync_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_caresync_module);

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Retry-After");

    h->value.data = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
    if (h->value.data == NULL) {
        return NGX_ERROR;
    }

    h->value.len = ngx_sprintf(h->value.data, "%T", clcf->retry_after)
                   - h->value.data;

    return ngx_http_caresync_reply(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                   &ngx_http_caresync_unavailable);
}


/* 404 for a path the location does not serve; the body is discarded. */

ngx_int_t
ngx_http_caresync_reply_not_found(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    ngx_http_caresync_metrics_reject(r, CS_REASON_NOT_FOUND);

    return ngx_http_caresync_reply_error(r, NGX_HTTP_NOT_FOUND, "not found");
}


/* 405 with the Allow header; the body, if any, is discarded first. */

ngx_int_t
ngx_http_caresync_reply_not_allowed(ngx_http_request_t *r, char *allow)
{
    ngx_int_t         rc;
    ngx_table_elt_t  *h;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Allow");
    h->value.data = (u_char *) allow;
    h->value.len = ngx_strlen(allow);

    ngx_http_caresync_metrics_reject(r, CS_REASON_METHOD);

    return ngx_http_caresync_reply_error(r, NGX_HTTP_NOT_ALLOWED,
                                         "method not allowed");
}
