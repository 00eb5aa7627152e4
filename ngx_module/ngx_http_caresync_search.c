/*
 * The "Sync to Hint" search box of the actions API:
 *
 *     POST <location>…/hint/patients    {"q":"<name>"}
 *
 * asks Hint's patient list through an internal location of the
 * operator's (caresync_hint_search: typically a proxy_pass to Hint with
 * the practice key set by nginx), in one in-memory subrequest, and
 * answers only id, names and birth date (cs_hint_search_trim()).  The
 * key never leaves nginx, and the bearer token of the API guards it.
 *
 * The name is PHI and reaches no log, at any level:
 *
 *   - it travels in the body.  nginx writes a request line to the access
 *     log, and at debug level to the error log before any module runs:
 *     so no name in our URL, and a GET (a page from before) is refused;
 *   - Hint's list API takes it as a query parameter, so the subrequest's
 *     URL carries it, and nginx prints a request's upstream URL with its
 *     arguments in every error line about it: the main request gets a
 *     log handler that prints the same context without query strings;
 *   - at debug level nginx prints the subrequest's URL and the upstream
 *     request's header (and, of a chunked body, the first byte of every
 *     chunk): the connection's log is quiet (ngx_http_caresync_quiet())
 *     from the moment the body is read until the subrequest is over.  The
 *     subrequest's location does not undo it: nginx resets the
 *     connection's log only for main requests
 *     (ngx_http_update_location_config()).
 */


#include "ngx_http_caresync.h"

#include "cs_hint_search.h"


/* {"q":"…"} with a name of at most CS_HINT_SEARCH_Q_MAX bytes, escaped */
#define NGX_HTTP_CARESYNC_SEARCH_BODY_MAX  1024


static void ngx_http_caresync_search_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_caresync_search_ask(ngx_http_request_t *r,
    ngx_str_t *body);
static ngx_int_t ngx_http_caresync_search_done(ngx_http_request_t *r,
    void *data, ngx_int_t rc);
static void ngx_http_caresync_search_reply(ngx_http_request_t *r);
static u_char *ngx_http_caresync_search_log(ngx_http_request_t *r,
    ngx_http_request_t *sr, u_char *buf, size_t len);
static size_t ngx_http_caresync_search_path(ngx_str_t *url);


ngx_int_t
ngx_http_caresync_search(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_http_caresync_ctx_t       *ctx;
    ngx_http_caresync_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_caresync_module);

    if (clcf->hint_search.len == 0) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        ngx_http_caresync_metrics_reject(r, CS_REASON_NOT_FOUND);
        return ngx_http_caresync_reply_error(r, NGX_HTTP_NOT_FOUND,
                                             "not found");
    }

    if (r->method != NGX_HTTP_POST) {
        return ngx_http_caresync_reply_not_allowed(r, "POST");
    }

    if (r->args.len) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        ngx_http_caresync_metrics_reject(r, CS_REASON_BAD_VALUE);
        return ngx_http_caresync_reply_error(r, NGX_HTTP_BAD_REQUEST,
                             "no query string: the name goes in the body");
    }

    rc = ngx_http_caresync_check_json(r);

    if (rc == NGX_DECLINED) {
        return ngx_http_caresync_reply_not_json(r);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (r->headers_in.content_length_n > NGX_HTTP_CARESYNC_SEARCH_BODY_MAX) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        ngx_http_caresync_metrics_reject(r, CS_REASON_BODY_TOO_LARGE);
        return ngx_http_caresync_reply_error(r,
                                           NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                           "request body too large");
    }

    /* quiet from the body's first byte until Hint has answered */

    ctx = ngx_http_get_module_ctx(r, ngx_http_caresync_module);

    if (ngx_http_caresync_quiet(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->main->log_handler = ngx_http_caresync_search_log;

    return ngx_http_caresync_read_body(r, ngx_http_caresync_search_body);
}


static void
ngx_http_caresync_search_body(ngx_http_request_t *r)
{
    ngx_int_t  rc;
    ngx_str_t  body;

    if (ngx_http_caresync_body(r, &body) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rc = ngx_http_caresync_search_ask(r, &body);

    if (rc == NGX_DONE) {
        return;                 /* answered when the subrequest is over */
    }

    ngx_http_finalize_request(r, rc);
}


/* The name out of the body, and the subrequest that asks Hint for it. */

static ngx_int_t
ngx_http_caresync_search_ask(ngx_http_request_t *r, ngx_str_t *body)
{
    int                            n;
    u_char                        *p;
    size_t                         len, qlen;
    ngx_int_t                      rc;
    ngx_str_t                      args;
    ngx_http_request_t            *sr;
    ngx_http_request_body_t       *rb;
    ngx_http_post_subrequest_t    *ps;
    ngx_http_caresync_loc_conf_t  *clcf;
    u_char                         q[CS_HINT_SEARCH_Q_MAX];

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_caresync_module);

    /* a chunked body has no length until it is read */

    if (body->len > NGX_HTTP_CARESYNC_SEARCH_BODY_MAX) {
        ngx_http_caresync_metrics_reject(r, CS_REASON_BODY_TOO_LARGE);
        return ngx_http_caresync_reply_error(r,
                                           NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                           "request body too large");
    }

    n = cs_hint_search_query(body->data, body->len, (char *) q, &qlen);

    if (n < 0) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "caresync: out of memory while validating");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (n != 0) {
        ngx_http_caresync_metrics_reject(r, CS_REASON_BAD_VALUE);
        return ngx_http_caresync_reply_error(r, NGX_HTTP_BAD_REQUEST, n == 1
                     ? "body must be a JSON object with the name in q"
                     : "q must be a name of 1 to 100 letters, spaces, "
                       "apostrophes, dots or hyphens");
    }

    len = clcf->hint_search_param.len + sizeof("=&limit=") - 1
          + 3 * qlen + NGX_INT_T_LEN;

    args.data = ngx_pnalloc(r->pool, len);
    if (args.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(args.data, clcf->hint_search_param.data,
                   clcf->hint_search_param.len);
    *p++ = '=';
    p = (u_char *) ngx_escape_uri(p, q, qlen, NGX_ESCAPE_ARGS);
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

    /*
     * A GET without a body: the subrequest would otherwise pass the
     * browser's body (the name once more) and its length on to Hint.
     */

    rb = ngx_pcalloc(r->pool, sizeof(ngx_http_request_body_t));
    if (rb == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    sr->request_body = rb;
    sr->headers_in.content_length_n = -1;
    sr->headers_in.chunked = 0;

    /* the body's reference now holds the request until the answer */

    return NGX_DONE;
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

    /* nothing from here on carries the name */
    ngx_http_caresync_loud(ctx);

    if (ctx->search_status != NGX_HTTP_OK) {
        /* Hint's answer may name the patient: only its status is logged */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
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

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
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


/*
 * What nginx's own handler (ngx_http_log_error_handler()) adds to an
 * error line about the request, each URL without its query string: the
 * subrequest's upstream URL carries the name.
 */

static u_char *
ngx_http_caresync_search_log(ngx_http_request_t *r, ngx_http_request_t *sr,
    u_char *buf, size_t len)
{
    char                      *sep;
    u_char                    *p;
    size_t                     n;
    ngx_str_t                  url;
    ngx_http_upstream_t       *u;
    ngx_http_core_srv_conf_t  *cscf;

    cscf = ngx_http_get_module_srv_conf(r, ngx_http_core_module);

    p = ngx_snprintf(buf, len, ", server: %V", &cscf->server_name);
    len -= p - buf;
    buf = p;

    if (r->request_line.len) {
        url = r->request_line;
        n = ngx_http_caresync_search_path(&url);

        if (n == url.len) {
            p = ngx_snprintf(buf, len, ", request: \"%V\"", &url);

        } else {
            p = ngx_snprintf(buf, len, ", request: \"%*s %V\"",
                             n, url.data, &r->http_protocol);
        }

        len -= p - buf;
        buf = p;
    }

    if (r != sr) {
        p = ngx_snprintf(buf, len, ", subrequest: \"%V\"", &sr->uri);
        len -= p - buf;
        buf = p;
    }

    u = sr->upstream;

    if (u && u->peer.name) {
        sep = "";

#if (NGX_HAVE_UNIX_DOMAIN)
        if (u->peer.sockaddr && u->peer.sockaddr->sa_family == AF_UNIX) {
            sep = ":";
        }
#endif

        p = ngx_snprintf(buf, len, ", upstream: \"%V%V%s%*s\"",
                         &u->schema, u->peer.name, sep,
                         ngx_http_caresync_search_path(&u->uri),
                         u->uri.data);
        len -= p - buf;
        buf = p;
    }

    if (r->headers_in.host) {
        p = ngx_snprintf(buf, len, ", host: \"%V\"",
                         &r->headers_in.host->value);
        len -= p - buf;
        buf = p;
    }

    if (r->headers_in.referer) {
        url = r->headers_in.referer->value;
        p = ngx_snprintf(buf, len, ", referrer: \"%*s\"",
                         ngx_http_caresync_search_path(&url), url.data);
        buf = p;
    }

    return buf;
}


/* The length of a URL (or a request line) up to its query string. */

static size_t
ngx_http_caresync_search_path(ngx_str_t *url)
{
    u_char  *q;

    q = ngx_strlchr(url->data, url->data + url->len, '?');

    return q ? (size_t) (q - url->data) : url->len;
}
