/*
 * The actions API of a `caresync_api` location, for the CRM's buttons and
 * for operators:
 *
 *     POST <location>…/actions/<name>    queue an action job  → 202
 *     GET  <location>…/jobs/<job id>     its status record    → 200 | 404
 *     POST <location>…/hint/patients     the search box (search.c)
 *
 * Every request carries a bearer token (caresync_api_token).
 */


#include "ngx_http_caresync.h"

#include "cs_action.h"


static void ngx_http_caresync_api_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_caresync_api_idempotency_key(ngx_http_request_t *r,
    ngx_http_caresync_ctx_t *ctx);


ngx_int_t
ngx_http_caresync_api_handler(ngx_http_request_t *r)
{
    u_char                        *p, *last, *seg;
    ngx_int_t                      rc;
    ngx_str_t                      rest;
    cs_webhook_t                   kind;
    ngx_http_caresync_ctx_t       *ctx;
    ngx_http_caresync_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_caresync_module);

    ctx = ngx_http_caresync_ctx_create(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_caresync_auth_headers(r);

    if (rc == NGX_DECLINED) {
        return ngx_http_caresync_reply_refused(r);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last = r->uri.data + r->uri.len;

    /* the last "/jobs/" or "/actions/" segment decides */

    for (p = last - 1; p > r->uri.data; p--) {
        if (*p != '/') {
            continue;
        }

        for (seg = p - 1; seg >= r->uri.data && *seg != '/'; seg--) {
            /* void */
        }

        if (seg < r->uri.data) {
            break;
        }

        rest.data = p + 1;
        rest.len = last - rest.data;

        if (p - seg == sizeof("/jobs") - 1
            && ngx_strncmp(seg, "/jobs", 5) == 0)
        {
            if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
                return ngx_http_caresync_reply_not_allowed(r, "GET");
            }

            rc = ngx_http_discard_request_body(r);
            if (rc != NGX_OK) {
                return rc;
            }

            return ngx_http_caresync_status(r, &rest);
        }

        if (p - seg == sizeof("/hint") - 1
            && ngx_strncmp(seg, "/hint", 5) == 0
            && rest.len == sizeof("patients") - 1
            && ngx_strncmp(rest.data, "patients", rest.len) == 0)
        {
            /* its methods and body are search.c's */
            return ngx_http_caresync_search(r);
        }

        if (p - seg == sizeof("/actions") - 1
            && ngx_strncmp(seg, "/actions", 8) == 0)
        {
            /* the actions and their names are the core's (cs_action.h) */
            kind = cs_action_find((const char *) rest.data, rest.len);

            /*
             * operators' actions are the console's (console.c); the code
             * of a login only comes through the callback (oauth.c)
             */
            if (kind == 0 || (cs_action_ops(kind) && !clcf->console)
                || kind == CS_API_HS_EXCHANGE)
            {
                break;
            }

            if (r->method != NGX_HTTP_POST) {
                return ngx_http_caresync_reply_not_allowed(r, "POST");
            }

            rc = ngx_http_caresync_check_json(r);

            if (rc == NGX_DECLINED) {
                return ngx_http_caresync_reply_not_json(r);
            }

            if (rc != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            rc = ngx_http_caresync_api_idempotency_key(r, ctx);

            if (rc == NGX_DECLINED) {
                return ngx_http_caresync_reply_error(r, NGX_HTTP_BAD_REQUEST,
                                          "Idempotency-Key must be 1 to 255 "
                                          "visible ASCII characters");
            }

            if (rc != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            ctx->kind = kind;

            /* status URLs share the prefix the action was posted under */

            ctx->status_base.len = seg - r->uri.data + sizeof("/jobs/") - 1;
            ctx->status_base.data = ngx_pnalloc(r->pool,
                                                ctx->status_base.len);
            if (ctx->status_base.data == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            ngx_memcpy(ngx_cpymem(ctx->status_base.data, r->uri.data,
                                  seg - r->uri.data),
                       "/jobs/", sizeof("/jobs/") - 1);

            return ngx_http_caresync_read_body(r,
                                           ngx_http_caresync_api_body_handler);
        }

        break;
    }

    return ngx_http_caresync_reply_not_found(r);
}


static void
ngx_http_caresync_api_body_handler(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_http_caresync_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_caresync_module);

    ngx_http_caresync_loud(ctx);

    rc = ngx_http_caresync_ingest(r, ctx, (cs_webhook_t) ctx->kind,
                                  &ctx->status_base);

    if (rc == NGX_DONE) {
        return;
    }

    ngx_http_finalize_request(r, rc);
}


/*
 * An optional Idempotency-Key: a caller that sends the same key again
 * (with the same token, to the same action) gets the first request's 202
 * and queues nothing (enqueue.c).  Any visible ASCII is taken as it is,
 * 1 to 255 bytes; it is only ever hashed, never logged.  NGX_DECLINED:
 * the body is discarded, the caller answers 400.
 */

static ngx_int_t
ngx_http_caresync_api_idempotency_key(ngx_http_request_t *r,
    ngx_http_caresync_ctx_t *ctx)
{
    ngx_uint_t        i;
    ngx_table_elt_t  *h;

    static ngx_str_t  name = ngx_string("Idempotency-Key");

    h = ngx_http_caresync_header(r, &name);

    if (h == NULL) {
        return NGX_OK;
    }

    for (i = 0; i < h->value.len; i++) {
        if (h->value.data[i] < 0x21 || h->value.data[i] > 0x7e) {
            break;
        }
    }

    if (h->value.len && h->value.len <= 255 && i == h->value.len) {
        ctx->idempotency_key = h->value;
        return NGX_OK;
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_caresync_metrics_reject(r, CS_REASON_IDEMPOTENCY_KEY);

    return NGX_DECLINED;
}
